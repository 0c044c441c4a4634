// ICMP (RFC 792), echo request/reply in detail; other types are parsed for
// type and code only.
//
//   0        8        16               31
//   | type   | code   | checksum         |
//   | identifier      | sequence number  |   (echo and echo reply)
//   | data …                             |

import type { FrameMeta } from './frame.js';
import { Reason } from './reason.js';
import { VERIFY_L4_CSUM, checksumAdjust16, onesSum } from './checksum.js';
import { readU16, writeU16 } from './byte-order.js';
import { swapEthAddresses } from './ethernet.js';
import { IPV4_CHECKSUM, IPV4_PROTO, IPV4_TTL, swapIpv4Addresses } from './ipv4.js';

export const ICMP_TYPE = 0;
export const ICMP_CODE = 1;
export const ICMP_CHECKSUM = 2;
export const ICMP_ECHO_ID = 4;
export const ICMP_ECHO_SEQ = 6;
export const ICMP_HEADER_LEN = 8;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;

export function icmpType(b: Uint8Array, off: number): number {
  return b[off + ICMP_TYPE];
}
export function icmpCode(b: Uint8Array, off: number): number {
  return b[off + ICMP_CODE];
}
export function icmpChecksumField(b: Uint8Array, off: number): number {
  return readU16(b, off + ICMP_CHECKSUM);
}
export function icmpEchoId(b: Uint8Array, off: number): number {
  return readU16(b, off + ICMP_ECHO_ID);
}
export function icmpEchoSeq(b: Uint8Array, off: number): number {
  return readU16(b, off + ICMP_ECHO_SEQ);
}

// --- checksum: the whole message, no pseudo-header ------------------------------------

export function icmpChecksumOk(b: Uint8Array, off: number, len: number): boolean {
  return onesSum(b, off, len, 0) === 0xffff;
}

export function icmpChecksumFill(b: Uint8Array, off: number, len: number): void {
  b[off + ICMP_CHECKSUM] = 0;
  b[off + ICMP_CHECKSUM + 1] = 0;
  writeU16(b, off + ICMP_CHECKSUM, ~onesSum(b, off, len, 0) & 0xffff);
}

// --- builders ---------------------------------------------------------------------------

/**
 * Write an echo request or reply header before `dataLen` bytes of data that
 * are already in place at off+8, and fill the checksum. Returns 8.
 */
export function writeIcmpEcho(b: Uint8Array, off: number, type: number, id: number, seq: number, dataLen: number): number {
  b[off + ICMP_TYPE] = type;
  b[off + ICMP_CODE] = 0;
  writeU16(b, off + ICMP_ECHO_ID, id);
  writeU16(b, off + ICMP_ECHO_SEQ, seq);
  icmpChecksumFill(b, off, ICMP_HEADER_LEN + dataLen);
  return ICMP_HEADER_LEN;
}

/**
 * Turn a parsed echo request frame into its reply where it lies: swap MACs and
 * IP addresses, set the TTL, make it type 0. Both checksums are updated
 * incrementally (RFC 1624) instead of re-summed; swapping addresses leaves the
 * IP checksum as it was, since the sum commutes.
 */
export function icmpEchoReplyInPlace(b: Uint8Array, l2Off: number, l3Off: number, l4Off: number, ttl: number): void {
  swapEthAddresses(b, l2Off);
  swapIpv4Addresses(b, l3Off);
  const proto = b[l3Off + IPV4_PROTO];
  const oldTtlWord = (b[l3Off + IPV4_TTL] << 8) | proto;
  const ipSum = readU16(b, l3Off + IPV4_CHECKSUM);
  b[l3Off + IPV4_TTL] = ttl;
  writeU16(b, l3Off + IPV4_CHECKSUM, checksumAdjust16(ipSum, oldTtlWord, ((ttl & 0xff) << 8) | proto));
  const oldTypeWord = (b[l4Off + ICMP_TYPE] << 8) | b[l4Off + ICMP_CODE];
  const icmpSum = readU16(b, l4Off + ICMP_CHECKSUM);
  b[l4Off + ICMP_TYPE] = ICMP_ECHO_REPLY;
  writeU16(b, l4Off + ICMP_CHECKSUM, checksumAdjust16(icmpSum, oldTypeWord, (ICMP_ECHO_REPLY << 8) | b[l4Off + ICMP_CODE]));
}

// --- checked parse ---------------------------------------------------------------------

/**
 * Check and read the ICMP message of `len` bytes (the IP payload) at `off`.
 * Fills icmpType, icmpCode, icmpId/icmpSeq (echo and echo reply only, else 0)
 * and payloadOff/payloadLen (what follows the 8-byte header).
 */
export function parseIcmpMessage(b: Uint8Array, off: number, len: number, meta: FrameMeta, verify: number): number {
  if (len < ICMP_HEADER_LEN) return Reason.ICMP_TRUNCATED;
  if ((verify & VERIFY_L4_CSUM) !== 0 && onesSum(b, off, len, 0) !== 0xffff) return Reason.ICMP_BAD_CHECKSUM;
  const type = b[off + ICMP_TYPE];
  meta.icmpType = type;
  meta.icmpCode = b[off + ICMP_CODE];
  if (type === ICMP_ECHO_REQUEST || type === ICMP_ECHO_REPLY) {
    meta.icmpId = (b[off + ICMP_ECHO_ID] << 8) | b[off + ICMP_ECHO_ID + 1];
    meta.icmpSeq = (b[off + ICMP_ECHO_SEQ] << 8) | b[off + ICMP_ECHO_SEQ + 1];
  } else {
    meta.icmpId = 0;
    meta.icmpSeq = 0;
  }
  meta.payloadOff = off + ICMP_HEADER_LEN;
  meta.payloadLen = len - ICMP_HEADER_LEN;
  return Reason.OK;
}
