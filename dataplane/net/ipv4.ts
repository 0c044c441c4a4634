// IPv4 header (RFC 791).
//
//   0        4        8                16       19                        31
//   | ver:4  | ihl:4  | tos:8          | total length:16                    |
//   | identification:16                | flags:3 | fragment offset:13       |
//   | ttl:8           | protocol:8     | header checksum:16                 |
//   | source address:32                                                     |
//   | destination address:32                                                |
//   | options (ihl > 5) …                                                   |
//
// Addresses are unsigned 32-bit numbers in the order of the dotted form
// (198.18.0.1 = 0xC6120001), always `>>> 0`.

import type { FrameMeta } from './frame.js';
import { Reason } from './reason.js';
import { ACCEPT_TRIMMED, VERIFY_IP_CSUM, onesAdd, onesSum } from './checksum.js';
import { readI32, readU32, writeU32 } from './byte-order.js';

export const IPV4_VER_IHL = 0;
export const IPV4_TOS = 1;
export const IPV4_TOTAL_LEN = 2;
export const IPV4_IDENT = 4;
export const IPV4_FLAGS_FRAG = 6;
export const IPV4_TTL = 8;
export const IPV4_PROTO = 9;
export const IPV4_CHECKSUM = 10;
export const IPV4_SRC = 12;
export const IPV4_DST = 16;
export const IPV4_HEADER_LEN = 20;
/** IHL is 4 bits of 32-bit words. */
export const IPV4_MAX_HEADER_LEN = 60;

/** Flag bits as returned by ipv4Flags (the top 3 bits of byte 6). */
export const IPV4_FLAG_MF = 1;
export const IPV4_FLAG_DF = 2;

export const IP_PROTO_ICMP = 1;
export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;

// --- accessors ------------------------------------------------------------------

export function ipv4Version(b: Uint8Array, off: number): number {
  return b[off + IPV4_VER_IHL] >>> 4;
}
/** Header length in bytes (IHL * 4). */
export function ipv4HeaderLen(b: Uint8Array, off: number): number {
  return (b[off + IPV4_VER_IHL] & 0x0f) << 2;
}
export function ipv4Tos(b: Uint8Array, off: number): number {
  return b[off + IPV4_TOS];
}
export function ipv4TotalLen(b: Uint8Array, off: number): number {
  return (b[off + IPV4_TOTAL_LEN] << 8) | b[off + IPV4_TOTAL_LEN + 1];
}
export function ipv4Ident(b: Uint8Array, off: number): number {
  return (b[off + IPV4_IDENT] << 8) | b[off + IPV4_IDENT + 1];
}
/** IPV4_FLAG_DF | IPV4_FLAG_MF bits. */
export function ipv4Flags(b: Uint8Array, off: number): number {
  return b[off + IPV4_FLAGS_FRAG] >>> 5;
}
/** Fragment offset in 8-byte units. */
export function ipv4FragOffset(b: Uint8Array, off: number): number {
  return ((b[off + IPV4_FLAGS_FRAG] & 0x1f) << 8) | b[off + IPV4_FLAGS_FRAG + 1];
}
export function ipv4Ttl(b: Uint8Array, off: number): number {
  return b[off + IPV4_TTL];
}
export function ipv4Proto(b: Uint8Array, off: number): number {
  return b[off + IPV4_PROTO];
}
export function ipv4ChecksumField(b: Uint8Array, off: number): number {
  return (b[off + IPV4_CHECKSUM] << 8) | b[off + IPV4_CHECKSUM + 1];
}
export function ipv4Src(b: Uint8Array, off: number): number {
  return readU32(b, off + IPV4_SRC);
}
export function ipv4Dst(b: Uint8Array, off: number): number {
  return readU32(b, off + IPV4_DST);
}

// --- setters (the caller fixes the checksum: fill or checksumAdjust16/32) ---------

export function setIpv4TotalLen(b: Uint8Array, off: number, v: number): void {
  b[off + IPV4_TOTAL_LEN] = v >>> 8;
  b[off + IPV4_TOTAL_LEN + 1] = v;
}
export function setIpv4Ttl(b: Uint8Array, off: number, v: number): void {
  b[off + IPV4_TTL] = v;
}
export function setIpv4ChecksumField(b: Uint8Array, off: number, v: number): void {
  b[off + IPV4_CHECKSUM] = v >>> 8;
  b[off + IPV4_CHECKSUM + 1] = v;
}
export function setIpv4Src(b: Uint8Array, off: number, v: number): void {
  writeU32(b, off + IPV4_SRC, v);
}
export function setIpv4Dst(b: Uint8Array, off: number, v: number): void {
  writeU32(b, off + IPV4_DST, v);
}

/** Exchange source and destination in place; the header checksum is unchanged (the sum commutes). */
export function swapIpv4Addresses(b: Uint8Array, off: number): void {
  const src = readU32(b, off + IPV4_SRC);
  writeU32(b, off + IPV4_SRC, readU32(b, off + IPV4_DST));
  writeU32(b, off + IPV4_DST, src);
}

// --- checksum ------------------------------------------------------------------

/** Checksum to store in the IPv4 header of `hlen` bytes at `off`, whatever its field holds now. */
export function ipv4HeaderChecksum(b: Uint8Array, off: number, hlen: number): number {
  const field = (b[off + IPV4_CHECKSUM] << 8) | b[off + IPV4_CHECKSUM + 1];
  // Adding ~field cancels the field's own contribution (x + ~x = -0).
  return ~onesAdd(onesSum(b, off, hlen, 0), ~field & 0xffff) & 0xffff;
}

/** RFC 1071: the sum over the header, checksum included, is 0xffff. */
export function ipv4HeaderChecksumOk(b: Uint8Array, off: number, hlen: number): boolean {
  return onesSum(b, off, hlen, 0) === 0xffff;
}

/** Compute and store the IPv4 header checksum. */
export function ipv4HeaderChecksumFill(b: Uint8Array, off: number, hlen: number): void {
  b[off + IPV4_CHECKSUM] = 0;
  b[off + IPV4_CHECKSUM + 1] = 0;
  const c = ~onesSum(b, off, hlen, 0) & 0xffff;
  b[off + IPV4_CHECKSUM] = c >>> 8;
  b[off + IPV4_CHECKSUM + 1] = c;
}

// --- builder --------------------------------------------------------------------

/**
 * Write a 20-byte IPv4 header (no options) in field order, with its checksum;
 * `flags` is IPV4_FLAG_DF or 0. Returns the header length (20).
 */
export function writeIpv4Header(
  b: Uint8Array, off: number,
  tos: number, totalLen: number, ident: number, flags: number, ttl: number, proto: number,
  src: number, dst: number,
): number {
  b[off + IPV4_VER_IHL] = 0x45;
  b[off + IPV4_TOS] = tos;
  b[off + IPV4_TOTAL_LEN] = totalLen >>> 8;
  b[off + IPV4_TOTAL_LEN + 1] = totalLen;
  b[off + IPV4_IDENT] = ident >>> 8;
  b[off + IPV4_IDENT + 1] = ident;
  b[off + IPV4_FLAGS_FRAG] = (flags & 7) << 5;
  b[off + IPV4_FLAGS_FRAG + 1] = 0;
  b[off + IPV4_TTL] = ttl;
  b[off + IPV4_PROTO] = proto;
  writeU32(b, off + IPV4_SRC, src);
  writeU32(b, off + IPV4_DST, dst);
  ipv4HeaderChecksumFill(b, off, IPV4_HEADER_LEN);
  return IPV4_HEADER_LEN;
}

// --- checked parse ----------------------------------------------------------------

/**
 * Check and read the IPv4 header at `off`, `len` bytes being available (the
 * rest of the frame, Ethernet padding included). Fills the L3 fields of
 * `meta` and l4Off/l4Len from the *total length*, so padding never reaches L4.
 * Options are skipped. Checks in order: size, version, IHL, total length,
 * checksum (if `verify & VERIFY_IP_CSUM`), then fragments (RFC 791: MF set or
 * offset ≠ 0 → IPV4_FRAGMENT; we do not reassemble).
 */
export function parseIpv4Header(b: Uint8Array, off: number, len: number, meta: FrameMeta, verify: number): number {
  if (len < IPV4_HEADER_LEN) return Reason.IPV4_TRUNCATED;
  const verIhl = b[off + IPV4_VER_IHL];
  if (verIhl >>> 4 !== 4) return Reason.IPV4_BAD_VERSION;
  const hlen = (verIhl & 0x0f) << 2;
  if (hlen < IPV4_HEADER_LEN || hlen > len) return Reason.IPV4_BAD_IHL;
  const total = (b[off + IPV4_TOTAL_LEN] << 8) | b[off + IPV4_TOTAL_LEN + 1];
  if (total < hlen) return Reason.IPV4_BAD_TOTAL_LEN;
  if (total > len) {
    // A copy cut after its headers (ACCEPT_TRIMMED): TCP only, checked in parseFrame.
    if ((verify & ACCEPT_TRIMMED) === 0 || b[off + IPV4_PROTO] !== IP_PROTO_TCP) return Reason.IPV4_BAD_TOTAL_LEN;
    meta.trimmed = total - len;
  }
  if ((verify & VERIFY_IP_CSUM) !== 0 && !ipv4HeaderChecksumOk(b, off, hlen)) return Reason.IPV4_BAD_CHECKSUM;
  meta.l3Off = off;
  meta.l3Len = total;
  meta.tos = b[off + IPV4_TOS];
  meta.ipId = (b[off + IPV4_IDENT] << 8) | b[off + IPV4_IDENT + 1];
  const ff = (b[off + IPV4_FLAGS_FRAG] << 8) | b[off + IPV4_FLAGS_FRAG + 1];
  meta.ipFlags = ff >>> 13;
  meta.fragOffset = ff & 0x1fff;
  meta.ttl = b[off + IPV4_TTL];
  meta.ipProto = b[off + IPV4_PROTO];
  meta.srcIp = readI32(b, off + IPV4_SRC) >>> 0;
  meta.dstIp = readI32(b, off + IPV4_DST) >>> 0;
  meta.l4Off = off + hlen;
  meta.l4Len = total - hlen;
  if ((ff & 0x3fff) !== 0) return Reason.IPV4_FRAGMENT;
  return Reason.OK;
}

// --- text forms (not hot path) -------------------------------------------------------

/** "198.18.0.1" for 0xC6120001. */
export function ipv4ToString(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/** 0xC6120001 for "198.18.0.1"; -1 when the text is not a dotted-quad address. */
export function parseIpv4(text: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null) return -1;
  let ip = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i];
    // No leading zeros: "010" is octal to some parsers and decimal to others.
    if (part.length > 1 && part[0] === '0') return -1;
    const v = Number(part);
    if (v > 255) return -1;
    ip = ip * 256 + v;
  }
  return ip;
}
