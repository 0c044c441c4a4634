// UDP header (RFC 768).
//
//   0                16               31
//   | source port    | dest port       |
//   | length         | checksum        |   length counts header + data; checksum 0 = none

import type { FrameMeta } from './frame.js';
import { Reason } from './reason.js';
import { VERIFY_L4_CSUM, onesAdd, onesSum, pseudoHeaderSum } from './checksum.js';
import { readU16, writeU16 } from './byte-order.js';
import { IP_PROTO_UDP } from './ipv4.js';

export const UDP_SRC_PORT = 0;
export const UDP_DST_PORT = 2;
export const UDP_LENGTH = 4;
export const UDP_CHECKSUM = 6;
export const UDP_HEADER_LEN = 8;

export function udpSrcPort(b: Uint8Array, off: number): number {
  return readU16(b, off + UDP_SRC_PORT);
}
export function udpDstPort(b: Uint8Array, off: number): number {
  return readU16(b, off + UDP_DST_PORT);
}
export function udpLength(b: Uint8Array, off: number): number {
  return readU16(b, off + UDP_LENGTH);
}
export function udpChecksumField(b: Uint8Array, off: number): number {
  return readU16(b, off + UDP_CHECKSUM);
}

/** Write the 8-byte header with checksum 0 ("none"); `length` = 8 + payload. Returns 8. */
export function writeUdpHeader(b: Uint8Array, off: number, srcPort: number, dstPort: number, length: number): number {
  writeU16(b, off + UDP_SRC_PORT, srcPort);
  writeU16(b, off + UDP_DST_PORT, dstPort);
  writeU16(b, off + UDP_LENGTH, length);
  b[off + UDP_CHECKSUM] = 0;
  b[off + UDP_CHECKSUM + 1] = 0;
  return UDP_HEADER_LEN;
}

// --- checksum (pseudo-header as TCP's, protocol 17) ----------------------------------

/**
 * Checksum to store in the `len`-byte datagram at `off`, whatever its field
 * holds now. A computed 0 is sent as 0xffff, since 0 means "none" (RFC 768).
 */
export function udpChecksum(b: Uint8Array, off: number, len: number, src: number, dst: number): number {
  const field = readU16(b, off + UDP_CHECKSUM);
  const s = onesSum(b, off, len, pseudoHeaderSum(src, dst, IP_PROTO_UDP, len));
  const c = ~onesAdd(s, ~field & 0xffff) & 0xffff;
  return c === 0 ? 0xffff : c;
}

/** True when the checksum is right, or absent (field 0). */
export function udpChecksumOk(b: Uint8Array, off: number, len: number, src: number, dst: number): boolean {
  if (b[off + UDP_CHECKSUM] === 0 && b[off + UDP_CHECKSUM + 1] === 0) return true;
  return onesSum(b, off, len, pseudoHeaderSum(src, dst, IP_PROTO_UDP, len)) === 0xffff;
}

export function udpChecksumFill(b: Uint8Array, off: number, len: number, src: number, dst: number): void {
  b[off + UDP_CHECKSUM] = 0;
  b[off + UDP_CHECKSUM + 1] = 0;
  const c = ~onesSum(b, off, len, pseudoHeaderSum(src, dst, IP_PROTO_UDP, len)) & 0xffff;
  writeU16(b, off + UDP_CHECKSUM, c === 0 ? 0xffff : c);
}

// --- checked parse ----------------------------------------------------------------------

/**
 * Check and read the UDP datagram at `off`, `len` being the IP payload length.
 * The UDP length must lie in 8..len; bytes past it (IP-level padding) are not
 * payload. meta.srcIp/dstIp must hold the addresses for VERIFY_L4_CSUM.
 */
export function parseUdpDatagram(b: Uint8Array, off: number, len: number, meta: FrameMeta, verify: number): number {
  if (len < UDP_HEADER_LEN) return Reason.UDP_TRUNCATED;
  const ulen = (b[off + UDP_LENGTH] << 8) | b[off + UDP_LENGTH + 1];
  if (ulen < UDP_HEADER_LEN || ulen > len) return Reason.UDP_BAD_LEN;
  if ((verify & VERIFY_L4_CSUM) !== 0 && !udpChecksumOk(b, off, ulen, meta.srcIp | 0, meta.dstIp | 0)) {
    return Reason.UDP_BAD_CHECKSUM;
  }
  meta.srcPort = (b[off + UDP_SRC_PORT] << 8) | b[off + UDP_SRC_PORT + 1];
  meta.dstPort = (b[off + UDP_DST_PORT] << 8) | b[off + UDP_DST_PORT + 1];
  meta.l4Len = ulen;
  meta.payloadOff = off + UDP_HEADER_LEN;
  meta.payloadLen = ulen - UDP_HEADER_LEN;
  return Reason.OK;
}
