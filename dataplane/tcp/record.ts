// The movable connection record — the TCB codec of ARCHITECTURE.md.
//
// Every connection's state lives in one fixed-layout record of RECORD_WORDS
// 32-bit words inside a per-worker table (one ArrayBuffer, so memory is
// bounded by the table's capacity): sequence space, windows and scale
// factors, MSS, timestamp offset and last values, SACK scoreboard,
// reassembly ranges, congestion and RTT state, timer deadlines, buffer
// positions, and APP_STATE_BYTES of opaque application state. Times are
// float64 milliseconds in the second half of the record (the same bytes seen
// through a Float64Array).
//
// The same words are what moves between workers and nodes:
//   serializeConnection → bytes (record + unacknowledged send bytes +
//     received-not-consumed bytes, out-of-order ones included)
//   restoreConnection   ← bytes, on another table, another node
//   diffRecord / applyRecordDelta: the words that changed since a base copy
//     (a bitmap and the new values), for streaming deltas to a standby.
// Stream bytes are addressed by sequence number (buffer index = seq & mask),
// so a restored buffer needs no translation.
import { APP_STATE_BYTES } from '../app/api.js';

/** RFC 9293 §3.3.2 state names. */
export const enum State {
  CLOSED = 0,
  LISTEN = 1,
  SYN_SENT = 2,
  SYN_RECEIVED = 3,
  ESTABLISHED = 4,
  FIN_WAIT_1 = 5,
  FIN_WAIT_2 = 6,
  CLOSE_WAIT = 7,
  CLOSING = 8,
  LAST_ACK = 9,
  TIME_WAIT = 10,
}

export const STATE_NAMES = [
  'CLOSED', 'LISTEN', 'SYN-SENT', 'SYN-RECEIVED', 'ESTABLISHED', 'FIN-WAIT-1',
  'FIN-WAIT-2', 'CLOSE-WAIT', 'CLOSING', 'LAST-ACK', 'TIME-WAIT',
] as const;

/** Bits of W.FLAGS. */
export const enum Flag {
  /** Timestamps negotiated (RFC 7323 §3.2). */
  TS_OK = 1 << 0,
  /** SACK negotiated (RFC 2018 §2). */
  SACK_OK = 1 << 1,
  /** Window scaling negotiated (RFC 7323 §2.2). */
  WS_OK = 1 << 2,
  /** The application called end(): a FIN follows the last byte written. */
  FIN_QUEUED = 1 << 3,
  /** Our FIN has been sent at least once (it sits at SND_END). */
  FIN_SENT = 1 << 4,
  /** The peer's FIN arrived in order (at RCV_NXT - 1). */
  FIN_RCVD = 1 << 5,
  /** The peer's FIN arrived out of order; its sequence number is W.FIN_SEQ. */
  FIN_PENDING = 1 << 6,
  /** Send an ACK at the next output, not later. */
  ACK_NOW = 1 << 7,
  /** In fast recovery (RFC 6582) until SND_UNA passes W.RECOVER. */
  IN_RECOVERY = 1 << 8,
  /** Opened by a SYN to a listener (passive open). */
  PASSIVE = 1 << 9,
  /** The application paused reading. */
  PAUSED = 1 << 10,
  /** The application was told about the peer's FIN. */
  END_DELIVERED = 1 << 11,
  /** Retransmission timer backed off (Karn: no RTT samples from retransmitted data). */
  RTX_PENDING = 1 << 12,
  /** The connection was restored from a record (failover, handoff): the app resumes. */
  RESUMED = 1 << 13,
  /** The peer advertised a zero window and the persist timer runs. */
  PERSIST = 1 << 14,
  /** A window update should go out (the application freed receive space). */
  WINDOW_UPDATE = 1 << 15,
  /** Opened from a valid SYN cookie: no SYN-RECEIVED record ever existed. */
  FROM_COOKIE = 1 << 16,
  /**
   * A shadow (service mode snoop): this node's copy of a connection another
   * node serves, built from the segments it observes. Nothing is sent for it
   * until a takeover promotes it.
   */
  SHADOW = 1 << 17,
  /** The shadow cannot reproduce the primary exactly (bytes differ, handshake unseen): reset at takeover. */
  DIVERGED = 1 << 18,
  /**
   * Promoted from a shadow at a takeover: the client may acknowledge output
   * the old primary sent and this node never saw sent; its application
   * produces the same bytes, so the output catches up to that ACK instead of
   * refusing it (TcpStack.catchUpOutput).
   */
  PROMOTED = 1 << 19,
}

/** Word offsets inside a record. u32 fields, then f64 fields (F_*), then blocks. */
export const enum W {
  STATE = 0,
  FLAGS = 1,
  LOCAL_IP = 2,
  REMOTE_IP = 3,
  LOCAL_PORT = 4,
  REMOTE_PORT = 5,
  /** MAC addresses: bytes 0–3 big-endian in _HI, bytes 4–5 in the low half of _LO. */
  LOCAL_MAC_HI = 6,
  LOCAL_MAC_LO = 7,
  REMOTE_MAC_HI = 8,
  REMOTE_MAC_LO = 9,
  /** The port queue (poller) the connection's frames arrive on and leave by. */
  POLLER = 10,
  /** Send sequence space (RFC 9293 §3.3.1). */
  ISS = 11,
  SND_UNA = 12,
  SND_NXT = 13,
  /** Highest sequence number sent so far (SND_NXT moves back on retransmission). */
  SND_MAX = 14,
  /** Peer's window in bytes (already scaled). */
  SND_WND = 15,
  SND_WL1 = 16,
  SND_WL2 = 17,
  /** Shift the peer applies to its windows (ours to apply when reading them). */
  SND_SHIFT = 18,
  /** Shift we apply to the windows we advertise. */
  RCV_SHIFT = 19,
  /** Largest payload we send (peer's MSS less options we always send). */
  SND_MSS = 20,
  /** MSS we announced. */
  RCV_MSS = 21,
  IRS = 22,
  RCV_NXT = 23,
  /** Right edge of the window last advertised (never moves left, RFC 9293 §3.8.6.2.1). */
  RCV_ADV = 24,
  /** First received byte the application has not consumed: the receive buffer's start. */
  RCV_READ = 25,
  /** Sequence number just past the last byte the application wrote: the send buffer's end. */
  SND_END = 26,
  /** Added to the clock (ms) to make TSval (RFC 7323 §5.4: a random offset per connection). */
  TS_OFFSET = 27,
  /** RFC 7323 §4.3 TS.Recent. */
  TS_RECENT = 28,
  LAST_ACK_SENT = 29,
  /** Congestion window and slow-start threshold, bytes (RFC 5681). */
  CWND = 30,
  SSTHRESH = 31,
  /** RFC 6582 recover. */
  RECOVER = 32,
  DUPACKS = 33,
  /** Consecutive retransmission timeouts (the RTO backoff exponent). */
  RTX_COUNT = 34,
  /** Next hole to retransmit in SACK-based recovery. */
  RTX_NEXT = 35,
  KEEPALIVE_PROBES = 36,
  /** Blocks in the SACK scoreboard (what the peer told us it holds). */
  SACK_COUNT = 37,
  /** Ranges of out-of-order data we hold beyond RCV_NXT. */
  OOO_COUNT = 38,
  /** Sequence number being timed when timestamps are off (Karn's algorithm). */
  RTT_SEQ = 39,
  SND_BUF_BYTES = 40,
  RCV_BUF_BYTES = 41,
  /** Index of the service (listener) the connection belongs to. */
  SERVICE = 42,
  /** CUBIC W_max, bytes (RFC 9438 §4.1). */
  CUBIC_WMAX = 43,
  /** The peer's FIN sequence number when it arrived out of order. */
  FIN_SEQ = 44,
  /** Index into OOO ranges of the most recently changed one (RFC 2018 §4: reported first). */
  OOO_LAST = 45,
  /** Largest window the peer ever advertised (RFC 5961 §5.2 MAX.SND.WND). */
  MAX_SND_WND = 46,
  /** Bytes in the scoreboard (sum of SACK block lengths). */
  SACKED_BYTES = 47,
  // --- float64 fields: word offset 48 onwards, two words each (F_* = f64 index from the record start)
  F_BASE = 48,
  SACK_BASE = 80,
  OOO_BASE = 96,
  APP_BASE = 112,
}

/** Float64 fields: index = record f64 base + F.X. */
export const enum F {
  SRTT = 24,
  RTTVAR = 25,
  RTO = 26,
  /** When TS_RECENT was set (RFC 7323 §5.5: PAWS invalidates it after 24 days). */
  TS_RECENT_AGE = 27,
  /** When RTT_SEQ was sent. */
  RTT_TIME = 28,
  /** Timer deadlines; 0 = not armed. */
  T_RTO = 29,
  T_DELACK = 30,
  T_PERSIST = 31,
  T_KEEPALIVE = 32,
  /** 2MSL in TIME-WAIT; also the SYN-RECEIVED / FIN-WAIT-2 lifetimes. */
  T_LINGER = 33,
  /** CUBIC epoch start (RFC 9438 §4.2); 0 = no epoch. */
  CUBIC_EPOCH = 34,
  /** CUBIC K, seconds. */
  CUBIC_K = 35,
  /** CUBIC's Reno-friendly estimate W_est, bytes. */
  CUBIC_WEST = 36,
  /** Last segment received (keepalive idle time). */
  LAST_RECV = 37,
  /** Connection opened. */
  CREATED = 38,
  /** Persist/keepalive backoff base. */
  PROBE_BACKOFF = 39,
}

export const SACK_BLOCKS = 8;
export const OOO_RANGES = 8;
export const RECORD_WORDS = W.APP_BASE + APP_STATE_BYTES / 4;
export const RECORD_BYTES = RECORD_WORDS * 4;
/** Serialized form: magic, version, words, send bytes, receive bytes, then the record and the bytes. */
export const RECORD_MAGIC = 0x42544342; // 'BTCB'
export const RECORD_VERSION = 2;
/**
 * Header words: magic, version, record words, send bytes, receive bytes, and
 * the output skip — application bytes the peer has acknowledged already that
 * the application has not written yet (a promoted shadow's: TcpStack
 * shadowSkip): the importer drops that many of its next writes, or they would
 * go out a second time behind SND_END.
 */
const HEADER_WORDS = 6;

/** Fixed-capacity table of connection records; ids are indexes. */
export class TcbTable {
  readonly capacity: number;
  readonly buffer: ArrayBuffer;
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
  readonly bytes: Uint8Array;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.buffer = new ArrayBuffer(capacity * RECORD_BYTES);
    this.u32 = new Uint32Array(this.buffer);
    this.f64 = new Float64Array(this.buffer);
    this.bytes = new Uint8Array(this.buffer);
  }

  /** Zeroes record `id`. */
  clear(id: number): void {
    this.u32.fill(0, id * RECORD_WORDS, (id + 1) * RECORD_WORDS);
  }

  /** The application-state bytes of record `id` (a view into the table). */
  appState(id: number): Uint8Array {
    return new Uint8Array(this.buffer, (id * RECORD_WORDS + W.APP_BASE) * 4, APP_STATE_BYTES);
  }
}

/** Word index of record `id`'s first word. */
export function recordBase(id: number): number {
  return id * RECORD_WORDS;
}

/** Float64 index of record `id`'s start (add an F.* offset). */
export function recordF64(id: number): number {
  return (id * RECORD_WORDS) >> 1;
}

/** Stream bytes a serialized connection carries (for sizing). */
export function streamBytes(t: TcbTable, id: number): { send: number; receive: number } {
  const b = id * RECORD_WORDS;
  const u = t.u32;
  // Our FIN, once acknowledged, puts SND_UNA one past SND_END: it occupies no byte of the buffer (FIN-WAIT-2 moves too).
  const d = (u[b + W.SND_END]! - u[b + W.SND_UNA]!) | 0;
  return { send: d > 0 ? d : 0, receive: (receiveEnd(t, id) - u[b + W.RCV_READ]!) | 0 };
}

/** Sequence number just past the last received byte held (in order or not). */
function receiveEnd(t: TcbTable, id: number): number {
  const b = id * RECORD_WORDS;
  const u = t.u32;
  let end = u[b + W.RCV_NXT]!;
  // RCV_NXT counts the peer's FIN; the FIN occupies no buffer byte.
  if ((u[b + W.FLAGS]! & Flag.FIN_RCVD) !== 0) end = (end - 1) >>> 0;
  const n = u[b + W.OOO_COUNT]!;
  for (let i = 0; i < n; i++) {
    const e = u[b + W.OOO_BASE + 2 * i + 1]!;
    if (((e - end) | 0) > 0) end = e;
  }
  return end;
}

function copyOut(ring: Uint8Array, seq: number, len: number, out: Uint8Array, at: number): void {
  const mask = ring.length - 1;
  for (let done = 0; done < len;) {
    const i = (seq + done) & mask;
    const n = Math.min(len - done, ring.length - i);
    out.set(ring.subarray(i, i + n), at + done);
    done += n;
  }
}

function copyIn(ring: Uint8Array, seq: number, src: Uint8Array, at: number, len: number): void {
  const mask = ring.length - 1;
  for (let done = 0; done < len;) {
    const i = (seq + done) & mask;
    const n = Math.min(len - done, ring.length - i);
    ring.set(src.subarray(at + done, at + done + n), i);
    done += n;
  }
}

/**
 * Serializes connection `id`: its record, the send bytes from SND_UNA to
 * SND_END (unacknowledged and not yet sent) and the received bytes from
 * RCV_READ onwards (not yet consumed, and out-of-order ones). `snd` and `rcv`
 * are the connection's buffers (power-of-two rings indexed by seq & mask).
 */
export function serializeConnection(t: TcbTable, id: number, snd: Uint8Array, rcv: Uint8Array, skip = 0): Uint8Array {
  const b = id * RECORD_WORDS;
  const { send, receive } = streamBytes(t, id);
  const out = new Uint8Array((HEADER_WORDS + RECORD_WORDS) * 4 + send + receive);
  const head = new Uint32Array(out.buffer, 0, HEADER_WORDS + RECORD_WORDS);
  head[0] = RECORD_MAGIC;
  head[1] = RECORD_VERSION;
  head[2] = RECORD_WORDS;
  head[3] = send;
  head[4] = receive;
  head[5] = skip;
  head.set(t.u32.subarray(b, b + RECORD_WORDS), HEADER_WORDS);
  const at = (HEADER_WORDS + RECORD_WORDS) * 4;
  copyOut(snd, t.u32[b + W.SND_UNA]!, send, out, at);
  copyOut(rcv, t.u32[b + W.RCV_READ]!, receive, out, at + send);
  return out;
}

export class RecordError extends Error {
  readonly code = 'BATON_TCP_RECORD';
  constructor(message: string) {
    super(message);
    this.name = 'RecordError';
  }
}

/** Reads the header of a serialized connection; throws RecordError when it is not one. */
export function inspectSerialized(bytes: Uint8Array): { send: number; receive: number; skip: number; words: Uint32Array } {
  if (bytes.byteLength < (HEADER_WORDS + RECORD_WORDS) * 4) throw new RecordError(`record too short: ${bytes.byteLength} bytes`);
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes); // a copy (Buffer.slice would be a view, as unaligned)
  const head = new Uint32Array(aligned.buffer, aligned.byteOffset, HEADER_WORDS + RECORD_WORDS);
  if (head[0] !== RECORD_MAGIC) throw new RecordError('not a connection record (bad magic)');
  if (head[1] !== RECORD_VERSION || head[2] !== RECORD_WORDS) {
    throw new RecordError(`record version ${head[1]}/${head[2]} words, this build reads ${RECORD_VERSION}/${RECORD_WORDS}`);
  }
  const send = head[3]!;
  const receive = head[4]!;
  if (bytes.byteLength !== (HEADER_WORDS + RECORD_WORDS) * 4 + send + receive) {
    throw new RecordError(`record length ${bytes.byteLength} does not match its ${send}+${receive} stream bytes`);
  }
  return { send, receive, skip: head[5]!, words: head.subarray(HEADER_WORDS) };
}

/**
 * Restores a serialized connection into record `id` and the given buffers
 * (which must be at least as large as the record's SND_BUF_BYTES and
 * RCV_BUF_BYTES). Timer deadlines are kept as they were: the caller rebases
 * them on its own clock with rebaseTimers.
 */
export function restoreConnection(t: TcbTable, id: number, bytes: Uint8Array, snd: Uint8Array, rcv: Uint8Array): void {
  const { send, receive, words } = inspectSerialized(bytes);
  if (send > snd.length || receive > rcv.length) throw new RecordError(`buffers too small for ${send}/${receive} stream bytes`);
  const b = id * RECORD_WORDS;
  t.u32.set(words, b);
  t.u32[b + W.SND_BUF_BYTES] = snd.length;
  t.u32[b + W.RCV_BUF_BYTES] = rcv.length;
  const at = (HEADER_WORDS + RECORD_WORDS) * 4;
  copyIn(snd, t.u32[b + W.SND_UNA]!, bytes, at, send);
  copyIn(rcv, t.u32[b + W.RCV_READ]!, bytes, at + send, receive);
}

/**
 * A serialized connection that also carries `queued`: bytes its application
 * wrote beyond the send buffer (TcpSocket.pending), appended after SND_END as
 * if the buffer had held them, with SND_BUF_BYTES grown to the next power of
 * two that fits (the importer allocates that). `finAfter`: the application
 * called end() behind them, so the FIN is queued too (RFC 9293 §3.10.4).
 * A record moves with everything the application has written, so it moves
 * whenever it is asked to, not only when the application is idle.
 */
export function withQueuedWrites(serialized: Uint8Array, queued: readonly Uint8Array[], finAfter: boolean): Uint8Array {
  const { send, receive, skip, words } = inspectSerialized(serialized);
  let total = 0;
  for (const q of queued) total += q.length;
  // The output skip applies to the oldest queued bytes first (as TcpStack moves them into the buffer).
  let drop = Math.min(skip, total);
  const extra = total - drop;
  const at = (HEADER_WORDS + RECORD_WORDS) * 4;
  const out = new Uint8Array(serialized.length + extra);
  out.set(serialized.subarray(0, at + send), 0);
  let o = at + send;
  for (const q of queued) {
    const k = Math.min(drop, q.length);
    drop -= k;
    out.set(k === 0 ? q : q.subarray(k), o);
    o += q.length - k;
  }
  out.set(serialized.subarray(at + send, at + send + receive), o);
  const head = new Uint32Array(out.buffer, 0, HEADER_WORDS + RECORD_WORDS);
  head[3] = send + extra;
  head[5] = skip - (total - extra);
  const w = head.subarray(HEADER_WORDS);
  w[W.SND_END] = (words[W.SND_END]! + extra) >>> 0;
  let cap = Math.max(words[W.SND_BUF_BYTES]!, 4096);
  while (cap < send + extra) cap *= 2;
  w[W.SND_BUF_BYTES] = cap;
  if (finAfter && (w[W.FLAGS]! & Flag.FIN_QUEUED) === 0) {
    w[W.FLAGS] = w[W.FLAGS]! | Flag.FIN_QUEUED;
    if (w[W.STATE] === State.ESTABLISHED) w[W.STATE] = State.FIN_WAIT_1;
    else if (w[W.STATE] === State.CLOSE_WAIT) w[W.STATE] = State.LAST_ACK;
  }
  return out;
}

/** Every float64 field that is a point in time (shifted together when a record changes clocks). */
const TIME_FIELDS = [F.TS_RECENT_AGE, F.RTT_TIME, F.T_RTO, F.T_DELACK, F.T_PERSIST, F.T_KEEPALIVE, F.T_LINGER, F.CUBIC_EPOCH, F.LAST_RECV, F.CREATED] as const;

/**
 * Moves every time in record `id` by `delta` ms (another node's clock to
 * ours); armed timers stay armed, 0 stays 0. TSval continuity is kept by
 * adjusting TS_OFFSET by the same amount.
 */
export function rebaseTimers(t: TcbTable, id: number, delta: number): void {
  const fb = (id * RECORD_WORDS) >> 1;
  for (const k of TIME_FIELDS) if (t.f64[fb + k] !== 0) t.f64[fb + k] = t.f64[fb + k]! + delta;
  const b = id * RECORD_WORDS;
  t.u32[b + W.TS_OFFSET] = (t.u32[b + W.TS_OFFSET]! - Math.round(delta)) >>> 0;
}

/** Words of a delta: a bitmap of changed words, then their new values. */
export const DELTA_BITMAP_WORDS = Math.ceil(RECORD_WORDS / 32);
export const DELTA_MAX_WORDS = DELTA_BITMAP_WORDS + RECORD_WORDS;

/**
 * Writes into `out` the words of `cur` (record at curBase) that differ from
 * `base` (record at baseBase): a bitmap then the values, and returns how many
 * words of `out` were used. Unchanged records give a delta of
 * DELTA_BITMAP_WORDS zero words; the caller sends nothing then.
 */
export function diffRecord(cur: Uint32Array, curBase: number, base: Uint32Array, baseBase: number, out: Uint32Array): number {
  let n = DELTA_BITMAP_WORDS;
  for (let i = 0; i < DELTA_BITMAP_WORDS; i++) out[i] = 0;
  for (let w = 0; w < RECORD_WORDS; w++) {
    const v = cur[curBase + w]!;
    if (v !== base[baseBase + w]) {
      out[w >>> 5] = (out[w >>> 5]! | (1 << (w & 31))) >>> 0;
      out[n++] = v;
    }
  }
  return n;
}

/** Applies a delta made by diffRecord to the record at `base`; returns the words it read, or -1 if malformed. */
export function applyRecordDelta(rec: Uint32Array, base: number, delta: Uint32Array, len: number): number {
  if (len < DELTA_BITMAP_WORDS) return -1;
  let n = DELTA_BITMAP_WORDS;
  for (let w = 0; w < RECORD_WORDS; w++) {
    if ((delta[w >>> 5]! & (1 << (w & 31))) === 0) continue;
    if (n >= len) return -1;
    rec[base + w] = delta[n++]!;
  }
  return n;
}

/** MAC helpers: the record keeps MACs as two words. */
export function macHi(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}
export function macLo(b: Uint8Array, off: number): number {
  return (b[off + 4]! << 8) | b[off + 5]!;
}
export function writeMac(b: Uint8Array, off: number, hi: number, lo: number): void {
  b[off] = hi >>> 24;
  b[off + 1] = hi >>> 16;
  b[off + 2] = hi >>> 8;
  b[off + 3] = hi;
  b[off + 4] = lo >>> 8;
  b[off + 5] = lo;
}
