// The connection-transfer frame (seed 004 "connection transfer message"; seed
// 000 claim 10): one Ethernet frame of ethertype 0x88b6 per fragment of a
// serialized connection record, and the target's answers, exchanged between
// the workers of two nodes over the data-plane segment.
//
//   offset  size  field
//   0       2     magic 0x4278 ('Bx')
//   2       1     version (1)
//   3       1     type: DATA, ACK, ACCEPT, REJECT, ABORT
//   4       4     local IP  ┐ the connection's 4-tuple, at a fixed offset:
//   8       4     remote IP │ native/src/steer.h hashes it so every frame of a
//   12      2     local port│ transfer lands on the worker the connection's own
//   14      2     remote port┘ segments land on, on both nodes
//   16      4     cluster id
//   20      2     origin node (the node the connection moves from)
//   22      2     target node (the node it moves to)
//   24      2     origin endpoint (the sending worker)
//   26      1     reason (REJECT), else 0
//   27      1     flags: bit 0 COPY (DATA of a shadow copy: the origin keeps the
//                 connection; the target imports it as a shadow, see handoff.ts)
//   28      8     origin incarnation (f64, ms; higher after every worker start)
//   36      4     transfer id (per origin incarnation, increasing)
//   40      4     total record bytes
//   44      4     DATA: fragment index       ACK: fragments received in order
//   48      4     DATA: fragment length      ACK: bitmap of the next 32 fragments
//   52      8     DATA: origin clock at export (f64 ms, the origin worker's clock)
//   60      n     DATA: fragment bytes (n ≤ FRAGMENT_BYTES)
//   60+n    32    HMAC-SHA256(cluster key, bytes 0 .. 60+n)
//
// The MAC covers every field, so a frame without the cluster key is refused
// before anything in it is believed; replays are the receiver's transfer-id
// window (receiver.ts). Every fragment but the last carries FRAGMENT_BYTES.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ETHERTYPE_HANDOFF, HANDOFF_TUPLE_OFFSET } from '../../shm/layout.js';

export { ETHERTYPE_HANDOFF, HANDOFF_TUPLE_OFFSET };

export const HANDOFF_MAGIC = 0x4278;
export const HANDOFF_VERSION = 1;
export const HEADER_LEN = 60;
export const HMAC_LEN = 32;
/** Payload bytes per DATA frame: header + fragment + MAC fit a 1500-byte MTU. */
export const FRAGMENT_BYTES = 1400;
/** The largest serialized record accepted (bounds reassembly memory per transfer). */
export const MAX_RECORD_BYTES = 4 << 20;
export const MAX_FRAGMENTS = Math.ceil(MAX_RECORD_BYTES / FRAGMENT_BYTES);

export const enum MsgType {
  DATA = 1,
  /** Fragments received so far (cumulative count and a bitmap of the next 32). */
  ACK = 2,
  /** The target imported the connection: it answers for it from now on. */
  ACCEPT = 3,
  /** The target did not and never will import this transfer (reason code). */
  REJECT = 4,
  /** The origin gives up sending: "answer now; if not imported, never import". */
  ABORT = 5,
}

/** Why a target refuses a connection (REJECT's reason byte; a counter each). */
export const RejectReason = {
  /** No service listens on the connection's local address and port. */
  NO_SERVICE: 1,
  /** The connection table is full. */
  TABLE_FULL: 2,
  /** The record does not parse, or does not match the frame's 4-tuple. */
  MALFORMED: 3,
  /** The connection's local address is not one this node or its cluster serves. */
  NOT_OUR_ADDRESS: 4,
  /** A connection with this 4-tuple already lives here. */
  DUPLICATE: 5,
  /** Reassembly memory is exhausted right now (try again later). */
  BUSY: 6,
  /** The origin aborted before the record was complete. */
  ABORTED: 7,
  /** The application refused to resume (its resume() threw). */
  APP_REFUSED: 8,
  /** The record is larger than MAX_RECORD_BYTES. */
  TOO_LARGE: 9,
  /** Reassembly stalled for too long: the partial record was discarded. */
  EXPIRED: 10,
  /** The transfer id is older than the receiver's window: never imported. */
  STALE: 11,
  /**
   * Never on the wire: the cluster declared the target failed before its
   * verdict came, and a dead node answers for nothing — the origin takes
   * the connection back (Handoff.targetFailed).
   */
  TARGET_FAILED: 12,
} as const;
export type RejectReasonName = keyof typeof RejectReason;
export const REJECT_REASON_NAMES = Object.keys(RejectReason) as RejectReasonName[];

export function rejectReasonName(code: number): string {
  for (const [k, v] of Object.entries(RejectReason)) if (v === code) return k.toLowerCase();
  return `reason_${code}`;
}

// Field offsets (from the start of the transfer header, after Ethernet).
export const O_MAGIC = 0;
export const O_VERSION = 2;
export const O_TYPE = 3;
export const O_LOCAL_IP = HANDOFF_TUPLE_OFFSET;
export const O_REMOTE_IP = HANDOFF_TUPLE_OFFSET + 4;
export const O_LOCAL_PORT = HANDOFF_TUPLE_OFFSET + 8;
export const O_REMOTE_PORT = HANDOFF_TUPLE_OFFSET + 10;
export const O_CLUSTER = 16;
export const O_ORIGIN = 20;
export const O_TARGET = 22;
export const O_ENDPOINT = 24;
export const O_REASON = 26;
export const O_FLAGS = 27;

/** Flags bit: a shadow copy (service modes snoop and mirror), not a move. */
export const FLAG_COPY = 1;
export const O_INCARNATION = 28;
export const O_XID = 36;
export const O_TOTAL = 40;
export const O_INDEX = 44;
export const O_LENGTH = 48;
export const O_CLOCK = 52;

/** A transfer frame's header as fields (what encode writes and decode fills). */
export class HandoffHeader {
  type = 0;
  localIp = 0;
  remoteIp = 0;
  localPort = 0;
  remotePort = 0;
  cluster = 0;
  origin = 0;
  target = 0;
  endpoint = 0;
  reason = 0;
  /** FLAG_COPY, or 0. */
  flags = 0;
  incarnation = 0;
  xid = 0;
  total = 0;
  /** DATA: fragment index; ACK: fragments received in order. */
  index = 0;
  /** DATA: fragment length; ACK: bitmap of fragments index+1 … index+32. */
  length = 0;
  /** DATA: the origin's clock at export. */
  clock = 0;
  /** After decode: where the payload starts in the buffer. */
  payloadOff = 0;
}

export type DecodeFailure = 'malformed' | 'bad_version' | 'bad_auth';

/**
 * Writes header `h`, then `payload[pOff, pOff + h.length)` for DATA, then the
 * MAC, at b[off…]; returns the bytes written (HEADER_LEN + payload + HMAC_LEN).
 */
export function encodeHandoff(key: Uint8Array, b: Uint8Array, off: number, h: HandoffHeader, payload: Uint8Array | null, pOff: number): number {
  const v = new DataView(b.buffer, b.byteOffset + off, HEADER_LEN);
  v.setUint16(O_MAGIC, HANDOFF_MAGIC);
  v.setUint8(O_VERSION, HANDOFF_VERSION);
  v.setUint8(O_TYPE, h.type);
  v.setUint32(O_LOCAL_IP, h.localIp >>> 0);
  v.setUint32(O_REMOTE_IP, h.remoteIp >>> 0);
  v.setUint16(O_LOCAL_PORT, h.localPort);
  v.setUint16(O_REMOTE_PORT, h.remotePort);
  v.setUint32(O_CLUSTER, h.cluster >>> 0);
  v.setUint16(O_ORIGIN, h.origin);
  v.setUint16(O_TARGET, h.target);
  v.setUint16(O_ENDPOINT, h.endpoint);
  v.setUint8(O_REASON, h.reason);
  v.setUint8(O_FLAGS, h.flags);
  v.setFloat64(O_INCARNATION, h.incarnation);
  v.setUint32(O_XID, h.xid >>> 0);
  v.setUint32(O_TOTAL, h.total >>> 0);
  v.setUint32(O_INDEX, h.index >>> 0);
  v.setUint32(O_LENGTH, h.length >>> 0);
  v.setFloat64(O_CLOCK, h.clock);
  let n = HEADER_LEN;
  if (h.type === MsgType.DATA && payload !== null) {
    b.set(payload.subarray(pOff, pOff + h.length), off + n);
    n += h.length;
  }
  const mac = createHmac('sha256', key).update(b.subarray(off, off + n)).digest();
  b.set(mac, off + n);
  return n + HMAC_LEN;
}

/**
 * Authenticates and reads a transfer frame's payload b[off, off + len)
 * (Ethernet padding after the MAC allowed) into `h`. Never throws.
 */
export function decodeHandoff(key: Uint8Array, b: Uint8Array, off: number, len: number, h: HandoffHeader): DecodeFailure | null {
  if (len < HEADER_LEN + HMAC_LEN) return 'malformed';
  const v = new DataView(b.buffer, b.byteOffset + off, HEADER_LEN);
  if (v.getUint16(O_MAGIC) !== HANDOFF_MAGIC) return 'malformed';
  if (v.getUint8(O_VERSION) !== HANDOFF_VERSION) return 'bad_version';
  const type = v.getUint8(O_TYPE);
  const flen = v.getUint32(O_LENGTH);
  const body = type === MsgType.DATA ? HEADER_LEN + flen : HEADER_LEN;
  if (type === MsgType.DATA && flen > FRAGMENT_BYTES) return 'malformed';
  if (body + HMAC_LEN > len) return 'malformed';
  const want = createHmac('sha256', key).update(b.subarray(off, off + body)).digest();
  if (!timingSafeEqual(want, b.subarray(off + body, off + body + HMAC_LEN))) return 'bad_auth';
  if (type < MsgType.DATA || type > MsgType.ABORT) return 'malformed';
  h.type = type;
  h.localIp = v.getUint32(O_LOCAL_IP);
  h.remoteIp = v.getUint32(O_REMOTE_IP);
  h.localPort = v.getUint16(O_LOCAL_PORT);
  h.remotePort = v.getUint16(O_REMOTE_PORT);
  h.cluster = v.getUint32(O_CLUSTER);
  h.origin = v.getUint16(O_ORIGIN);
  h.target = v.getUint16(O_TARGET);
  h.endpoint = v.getUint16(O_ENDPOINT);
  h.reason = v.getUint8(O_REASON);
  h.flags = v.getUint8(O_FLAGS);
  h.incarnation = v.getFloat64(O_INCARNATION);
  h.xid = v.getUint32(O_XID);
  h.total = v.getUint32(O_TOTAL);
  h.index = v.getUint32(O_INDEX);
  h.length = flen;
  h.clock = v.getFloat64(O_CLOCK);
  h.payloadOff = off + HEADER_LEN;
  if (!Number.isFinite(h.incarnation) || !Number.isFinite(h.clock)) return 'malformed';
  return null;
}

/** Fragments of a record of `total` bytes. */
export function fragmentCount(total: number): number {
  return Math.max(1, Math.ceil(total / FRAGMENT_BYTES));
}
