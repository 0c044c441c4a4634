// The table the native heartbeat engine (native/src/cluster_beat.h) shares
// with the control thread: a SharedArrayBuffer of BEAT_TABLE_BYTES.
//
//   i32 words   0 SEQ        last sequence number taken (engine and control thread both take from it)
//               1 EVENTS     1: a peer went silent past the timeout (the engine sets, we clear)
//               2 SENT  3 CONSUMED  4 DROPPED_REPLAY  5 FORWARDED  6 EXCUSED   (engine's counters)
//               7 SILENT     bit i: the engine judged peer i silent (cleared when it is heard)
//   from byte 64, per peer i (config order), 8 float64 at 64 + 64 i:
//               0 id  1 incarnation  2 last heard (CLOCK_MONOTONIC ms; or a later moment at
//                 which this node's port lost frames, within cluster.lossGraceMs)  3 state  4 version   (engine writes)
//               5 ack incarnation  6 ack state  7 ack version                          (control thread writes)
// The engine ends a heartbeat itself only while it matches the ack: every
// change of a peer's incarnation, state or version reaches the control thread.
export const BEAT_TABLE_BYTES = 64 + 32 * 64;
export const BEAT_SEQ = 0;
export const BEAT_EVENTS = 1;
export const BEAT_SENT = 2;
export const BEAT_CONSUMED = 3;
export const BEAT_DROPPED_REPLAY = 4;
export const BEAT_FORWARDED = 5;
export const BEAT_EXCUSED = 6;
export const BEAT_SILENT = 7;

const PEER_BASE = 8; // in float64 units: byte 64
const PEER_STRIDE = 8;
const P_ID = 0;
const P_INCARNATION = 1;
const P_LAST_HEARD = 2;
const P_ACK_INCARNATION = 5;
const P_ACK_STATE = 6;
const P_ACK_VERSION = 7;

export interface PeerBeat {
  readonly id: number;
  readonly incarnation: number;
  /** CLOCK_MONOTONIC ms of the last accepted heartbeat; 0: none yet. */
  readonly lastHeardMono: number;
}

export class BeatTable {
  readonly sab = new SharedArrayBuffer(BEAT_TABLE_BYTES);
  readonly bytes = new Uint8Array(this.sab);
  readonly words = new Int32Array(this.sab, 0, 16);
  private readonly f64 = new Float64Array(this.sab);
  readonly peers: readonly number[];

  constructor(peers: readonly number[]) {
    this.peers = peers;
  }

  /** The next sequence number (shared with the engine's heartbeats). */
  nextSeq(): number {
    return (Atomics.add(this.words, BEAT_SEQ, 1) + 1) >>> 0;
  }

  /** Whether the engine judges peer `node` silent now (it read what the port held first, and allowed for the port's own losses). */
  silent(node: number): boolean {
    const i = this.peers.indexOf(node);
    return i >= 0 && (Atomics.load(this.words, BEAT_SILENT) & (1 << i)) !== 0;
  }

  /** True (once) when the engine flagged a silent peer since the last call. */
  takeEvents(): boolean {
    return Atomics.exchange(this.words, BEAT_EVENTS, 0) !== 0;
  }

  counter(word: number): number {
    return Atomics.load(this.words, word) >>> 0;
  }

  peer(i: number): PeerBeat {
    const b = PEER_BASE + i * PEER_STRIDE;
    return { id: this.f64[b + P_ID]!, incarnation: this.f64[b + P_INCARNATION]!, lastHeardMono: this.f64[b + P_LAST_HEARD]! };
  }

  /** What the control thread knows of peer i: heartbeats that repeat it end in the engine. */
  ack(i: number, incarnation: number, state: number, version: number): void {
    const b = PEER_BASE + i * PEER_STRIDE;
    this.f64[b + P_ACK_INCARNATION] = incarnation;
    this.f64[b + P_ACK_STATE] = state;
    this.f64[b + P_ACK_VERSION] = version;
  }
}
