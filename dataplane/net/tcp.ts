// TCP header and options (RFC 9293 §3.1, options from RFC 9293 §3.2, RFC 7323
// window scale and timestamps, RFC 2018 SACK).
//
//   0                16               31
//   | source port    | dest port       |
//   | sequence number                  |
//   | acknowledgment number            |
//   | doff:4 rsv:4 | flags:8 | window  |
//   | checksum       | urgent pointer  |
//   | options (doff > 5) …             |
//
// Option layout written by writeTcpOptions is Linux's (tcp_options_write), so
// captures look familiar: MSS, [SACK-permitted|NOP NOP] TS, NOP WS, NOP NOP SACK.

import type { FrameMeta } from './frame.js';
import { Reason } from './reason.js';
import { VERIFY_L4_CSUM, onesAdd, onesSum, pseudoHeaderSum } from './checksum.js';
import { readI32, readU16, readU32, writeU16, writeU32 } from './byte-order.js';
import { IP_PROTO_TCP } from './ipv4.js';

export const TCP_SRC_PORT = 0;
export const TCP_DST_PORT = 2;
export const TCP_SEQ_NUM = 4;
export const TCP_ACK_NUM = 8;
/** High nibble: header length in 32-bit words. */
export const TCP_DATA_OFF = 12;
export const TCP_FLAGS = 13;
export const TCP_WINDOW = 14;
export const TCP_CHECKSUM = 16;
export const TCP_URGENT = 18;
export const TCP_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;
export const TCP_MAX_OPTIONS_LEN = 40;

export const TCP_FLAG_FIN = 0x01;
export const TCP_FLAG_SYN = 0x02;
export const TCP_FLAG_RST = 0x04;
export const TCP_FLAG_PSH = 0x08;
export const TCP_FLAG_ACK = 0x10;
export const TCP_FLAG_URG = 0x20;
export const TCP_FLAG_ECE = 0x40;
export const TCP_FLAG_CWR = 0x80;

export const TCP_OPT_EOL = 0;
export const TCP_OPT_NOP = 1;
export const TCP_OPT_MSS = 2;
export const TCP_OPT_WS = 3;
export const TCP_OPT_SACK_PERM = 4;
export const TCP_OPT_SACK = 5;
export const TCP_OPT_TS = 8;

export const TCP_OPT_MSS_LEN = 4;
export const TCP_OPT_WS_LEN = 3;
export const TCP_OPT_SACK_PERM_LEN = 2;
export const TCP_OPT_TS_LEN = 10;
/** RFC 7323 §2.3: a shift above 14 is used as 14. */
export const TCP_MAX_WSCALE = 14;
/** 2 + 8*4 = 34 bytes: the most the 40-byte option space can carry. */
export const TCP_MAX_SACK_BLOCKS = 4;

// --- accessors ------------------------------------------------------------------

export function tcpSrcPort(b: Uint8Array, off: number): number {
  return readU16(b, off + TCP_SRC_PORT);
}
export function tcpDstPort(b: Uint8Array, off: number): number {
  return readU16(b, off + TCP_DST_PORT);
}
export function tcpSeq(b: Uint8Array, off: number): number {
  return readU32(b, off + TCP_SEQ_NUM);
}
export function tcpAck(b: Uint8Array, off: number): number {
  return readU32(b, off + TCP_ACK_NUM);
}
/** Header length in bytes (data offset * 4). */
export function tcpHeaderLen(b: Uint8Array, off: number): number {
  return (b[off + TCP_DATA_OFF] >>> 4) << 2;
}
export function tcpFlags(b: Uint8Array, off: number): number {
  return b[off + TCP_FLAGS];
}
export function tcpWindow(b: Uint8Array, off: number): number {
  return readU16(b, off + TCP_WINDOW);
}
export function tcpChecksumField(b: Uint8Array, off: number): number {
  return readU16(b, off + TCP_CHECKSUM);
}
export function tcpUrgent(b: Uint8Array, off: number): number {
  return readU16(b, off + TCP_URGENT);
}

// --- setters (the caller fixes the checksum) -------------------------------------

export function setTcpSrcPort(b: Uint8Array, off: number, v: number): void {
  writeU16(b, off + TCP_SRC_PORT, v);
}
export function setTcpDstPort(b: Uint8Array, off: number, v: number): void {
  writeU16(b, off + TCP_DST_PORT, v);
}
export function setTcpSeq(b: Uint8Array, off: number, v: number): void {
  writeU32(b, off + TCP_SEQ_NUM, v);
}
export function setTcpAck(b: Uint8Array, off: number, v: number): void {
  writeU32(b, off + TCP_ACK_NUM, v);
}
export function setTcpFlags(b: Uint8Array, off: number, v: number): void {
  b[off + TCP_FLAGS] = v;
}
export function setTcpWindow(b: Uint8Array, off: number, v: number): void {
  writeU16(b, off + TCP_WINDOW, v);
}
export function setTcpChecksumField(b: Uint8Array, off: number, v: number): void {
  writeU16(b, off + TCP_CHECKSUM, v);
}

// --- checksum (pseudo-header: RFC 9293 §3.1) ---------------------------------------

/**
 * Checksum to store in the TCP segment of `len` (≥ 18) bytes at `off`, for
 * addresses `src`/`dst`, whatever its checksum field holds now.
 */
export function tcpChecksum(b: Uint8Array, off: number, len: number, src: number, dst: number): number {
  const field = readU16(b, off + TCP_CHECKSUM);
  const s = onesSum(b, off, len, pseudoHeaderSum(src, dst, IP_PROTO_TCP, len));
  return ~onesAdd(s, ~field & 0xffff) & 0xffff;
}

export function tcpChecksumOk(b: Uint8Array, off: number, len: number, src: number, dst: number): boolean {
  return onesSum(b, off, len, pseudoHeaderSum(src, dst, IP_PROTO_TCP, len)) === 0xffff;
}

/** Compute and store the checksum of the `len`-byte segment (header, options, payload). */
export function tcpChecksumFill(b: Uint8Array, off: number, len: number, src: number, dst: number): void {
  b[off + TCP_CHECKSUM] = 0;
  b[off + TCP_CHECKSUM + 1] = 0;
  writeU16(b, off + TCP_CHECKSUM, ~onesSum(b, off, len, pseudoHeaderSum(src, dst, IP_PROTO_TCP, len)) & 0xffff);
}

// --- builders ---------------------------------------------------------------------

/**
 * Write the fixed 20-byte TCP header in field order with a zero checksum
 * (fill it with tcpChecksumFill once options and payload are in place).
 * `headerLen` is 20 + the options length, a multiple of 4. Returns 20.
 */
export function writeTcpHeader(
  b: Uint8Array, off: number,
  srcPort: number, dstPort: number, seq: number, ack: number,
  headerLen: number, flags: number, window: number, urgent: number,
): number {
  writeU16(b, off + TCP_SRC_PORT, srcPort);
  writeU16(b, off + TCP_DST_PORT, dstPort);
  writeU32(b, off + TCP_SEQ_NUM, seq);
  writeU32(b, off + TCP_ACK_NUM, ack);
  b[off + TCP_DATA_OFF] = (headerLen >>> 2) << 4;
  b[off + TCP_FLAGS] = flags;
  writeU16(b, off + TCP_WINDOW, window);
  b[off + TCP_CHECKSUM] = 0;
  b[off + TCP_CHECKSUM + 1] = 0;
  writeU16(b, off + TCP_URGENT, urgent);
  return TCP_HEADER_LEN;
}

/**
 * Write options at `off` (just after the fixed header) and return their
 * length, a multiple of 4 and at most 40. mss 0 = leave out; wscale -1 = leave
 * out; sackPermitted/tsPresent 0 or 1; sackBlocks holds left,right pairs and
 * as many of the `sackCount` blocks are written as still fit (RFC 2018 §3:
 * three with timestamps).
 */
export function writeTcpOptions(
  b: Uint8Array, off: number,
  mss: number, wscale: number, sackPermitted: number,
  tsVal: number, tsEcr: number, tsPresent: number,
  sackBlocks: Uint32Array, sackCount: number,
): number {
  let p = off;
  if (mss > 0) {
    b[p] = TCP_OPT_MSS;
    b[p + 1] = TCP_OPT_MSS_LEN;
    writeU16(b, p + 2, mss);
    p += 4;
  }
  if (tsPresent !== 0) {
    if (sackPermitted !== 0) {
      b[p] = TCP_OPT_SACK_PERM;
      b[p + 1] = TCP_OPT_SACK_PERM_LEN;
    } else {
      b[p] = TCP_OPT_NOP;
      b[p + 1] = TCP_OPT_NOP;
    }
    b[p + 2] = TCP_OPT_TS;
    b[p + 3] = TCP_OPT_TS_LEN;
    writeU32(b, p + 4, tsVal);
    writeU32(b, p + 8, tsEcr);
    p += 12;
  } else if (sackPermitted !== 0) {
    b[p] = TCP_OPT_NOP;
    b[p + 1] = TCP_OPT_NOP;
    b[p + 2] = TCP_OPT_SACK_PERM;
    b[p + 3] = TCP_OPT_SACK_PERM_LEN;
    p += 4;
  }
  if (wscale >= 0) {
    b[p] = TCP_OPT_NOP;
    b[p + 1] = TCP_OPT_WS;
    b[p + 2] = TCP_OPT_WS_LEN;
    b[p + 3] = wscale > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : wscale;
    p += 4;
  }
  let n = sackCount;
  if (n > TCP_MAX_SACK_BLOCKS) n = TCP_MAX_SACK_BLOCKS;
  if (n > sackBlocks.length >>> 1) n = sackBlocks.length >>> 1;
  const room = (TCP_MAX_OPTIONS_LEN - (p - off) - 4) >> 3;
  if (n > room) n = room;
  if (n > 0) {
    b[p] = TCP_OPT_NOP;
    b[p + 1] = TCP_OPT_NOP;
    b[p + 2] = TCP_OPT_SACK;
    b[p + 3] = 2 + 8 * n;
    p += 4;
    for (let i = 0; i < n; i++) {
      writeU32(b, p, sackBlocks[2 * i]);
      writeU32(b, p + 4, sackBlocks[2 * i + 1]);
      p += 8;
    }
  }
  return p - off;
}

// --- checked parse ------------------------------------------------------------------

/**
 * Parse the options in b[off..end) into meta: mss (0 = absent), wscale (-1 =
 * absent, clamped to 14), sackPermitted, tsPresent/tsVal/tsEcr, sackCount and
 * sackBlocks. Unknown kinds with a sane length are skipped (RFC 9293 MUST-6);
 * an illegal length is refused rather than guessed at (RFC 9293 §3.1 "MUST be
 * prepared to handle an illegal option length"; smoltcp does the same).
 */
export function parseTcpOptions(b: Uint8Array, off: number, end: number, meta: FrameMeta): number {
  meta.mss = 0;
  meta.wscale = -1;
  meta.sackPermitted = 0;
  meta.tsPresent = 0;
  meta.tsVal = 0;
  meta.tsEcr = 0;
  meta.sackCount = 0;
  let i = off;
  while (i < end) {
    const kind = b[i];
    if (kind === TCP_OPT_EOL) break;
    if (kind === TCP_OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return Reason.TCP_OPT_OVERRUN;
    const olen = b[i + 1];
    if (olen < 2) return Reason.TCP_OPT_BAD_LEN;
    if (i + olen > end) return Reason.TCP_OPT_OVERRUN;
    switch (kind) {
      case TCP_OPT_MSS:
        if (olen !== TCP_OPT_MSS_LEN) return Reason.TCP_OPT_BAD_LEN;
        meta.mss = (b[i + 2] << 8) | b[i + 3];
        break;
      case TCP_OPT_WS: {
        if (olen !== TCP_OPT_WS_LEN) return Reason.TCP_OPT_BAD_LEN;
        const shift = b[i + 2];
        meta.wscale = shift > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : shift;
        break;
      }
      case TCP_OPT_SACK_PERM:
        if (olen !== TCP_OPT_SACK_PERM_LEN) return Reason.TCP_OPT_BAD_LEN;
        meta.sackPermitted = 1;
        break;
      case TCP_OPT_SACK: {
        const n = (olen - 2) >>> 3;
        if (n === 0 || n > TCP_MAX_SACK_BLOCKS || 2 + 8 * n !== olen) return Reason.TCP_OPT_BAD_LEN;
        const blocks = meta.sackBlocks;
        for (let k = 0, p = i + 2; k < n; k++, p += 8) {
          blocks[2 * k] = readI32(b, p);
          blocks[2 * k + 1] = readI32(b, p + 4);
        }
        meta.sackCount = n;
        break;
      }
      case TCP_OPT_TS:
        if (olen !== TCP_OPT_TS_LEN) return Reason.TCP_OPT_BAD_LEN;
        meta.tsPresent = 1;
        meta.tsVal = readI32(b, i + 2) >>> 0;
        meta.tsEcr = readI32(b, i + 6) >>> 0;
        break;
      default:
        break;
    }
    i += olen;
  }
  return Reason.OK;
}

/**
 * Check and read the TCP segment of `len` bytes (the IP payload) at `off`.
 * meta.srcIp/dstIp must already hold the addresses (for the pseudo-header
 * checksum, checked only when `verify & VERIFY_L4_CSUM`). Fills ports, seq,
 * ack, flags, window, urgent, dataOffset (bytes), payloadOff/payloadLen and
 * the options.
 */
export function parseTcpSegment(b: Uint8Array, off: number, len: number, meta: FrameMeta, verify: number): number {
  if (len < TCP_HEADER_LEN) return Reason.TCP_TRUNCATED;
  const hlen = (b[off + TCP_DATA_OFF] >>> 4) << 2;
  if (hlen < TCP_HEADER_LEN || hlen > len) return Reason.TCP_BAD_DATA_OFFSET;
  if ((verify & VERIFY_L4_CSUM) !== 0 && !tcpChecksumOk(b, off, len, meta.srcIp | 0, meta.dstIp | 0)) {
    return Reason.TCP_BAD_CHECKSUM;
  }
  meta.srcPort = (b[off + TCP_SRC_PORT] << 8) | b[off + TCP_SRC_PORT + 1];
  meta.dstPort = (b[off + TCP_DST_PORT] << 8) | b[off + TCP_DST_PORT + 1];
  meta.seq = readI32(b, off + TCP_SEQ_NUM) >>> 0;
  meta.ack = readI32(b, off + TCP_ACK_NUM) >>> 0;
  meta.dataOffset = hlen;
  meta.tcpFlags = b[off + TCP_FLAGS];
  meta.window = (b[off + TCP_WINDOW] << 8) | b[off + TCP_WINDOW + 1];
  meta.urgent = (b[off + TCP_URGENT] << 8) | b[off + TCP_URGENT + 1];
  meta.payloadOff = off + hlen;
  meta.payloadLen = len - hlen;
  // Fast path for the layout nearly every established-state segment carries:
  // NOP NOP TS (RFC 7323 Appendix A; Linux's tcp_fast_parse_options).
  const o = off + TCP_HEADER_LEN;
  if (hlen === TCP_HEADER_LEN + 12 && b[o] === TCP_OPT_NOP && b[o + 1] === TCP_OPT_NOP &&
      b[o + 2] === TCP_OPT_TS && b[o + 3] === TCP_OPT_TS_LEN) {
    meta.mss = 0;
    meta.wscale = -1;
    meta.sackPermitted = 0;
    meta.sackCount = 0;
    meta.tsPresent = 1;
    meta.tsVal = readI32(b, o + 4) >>> 0;
    meta.tsEcr = readI32(b, o + 8) >>> 0;
    return Reason.OK;
  }
  return parseTcpOptions(b, o, off + hlen, meta);
}

// --- text form (not hot path) ---------------------------------------------------------

const FLAG_NAMES = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'];

/** "SYN|ACK" for 0x12; "" for 0. */
export function tcpFlagsToString(flags: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) if ((flags & (1 << i)) !== 0) parts.push(FLAG_NAMES[i]);
  return parts.join('|');
}
