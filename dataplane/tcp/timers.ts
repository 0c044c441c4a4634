// Timers: a hashed timing wheel holding each connection once, at its
// earliest deadline, plus the RFC 6298 retransmission-timeout estimator.
//
// A connection has several deadlines in its record (RTO, delayed ACK,
// persist, keepalive, linger); the stack schedules the earliest of them here.
// When it fires the stack handles whichever deadlines passed and schedules
// the next. Buckets are TICK_MS wide; a deadline beyond the wheel's span sits
// in the bucket it wraps to and is put back when visited early — so advancing
// costs one bucket per tick elapsed, whatever the number of connections.
import { F, W, recordBase, recordF64 } from './record.js';

export const TICK_MS = 1;
const BUCKETS = 4096;
const MASK = BUCKETS - 1;

export interface TimerSink {
  /** Deadline for connection `id` reached (at or before `now`). */
  onTimer(id: number, now: number): void;
}

export class TimerWheel {
  private readonly head = new Int32Array(BUCKETS).fill(-1);
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** Bucket the id is in, or -1. */
  private readonly bucketOf: Int32Array;
  private readonly due: Float64Array;
  /** Ticks below this have been processed. */
  private tick = -1;
  private count = 0;

  constructor(capacity: number) {
    this.next = new Int32Array(capacity).fill(-1);
    this.prev = new Int32Array(capacity).fill(-1);
    this.bucketOf = new Int32Array(capacity).fill(-1);
    this.due = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** The earliest deadline scheduled, or Infinity (a scan; for parking decisions). */
  earliest(): number {
    if (this.count === 0) return Infinity;
    let best = Infinity;
    for (let b = 0; b < BUCKETS; b++) {
      for (let id = this.head[b]!; id >= 0; id = this.next[id]!) if (this.due[id]! < best) best = this.due[id]!;
    }
    return best;
  }

  deadline(id: number): number {
    return this.bucketOf[id]! < 0 ? 0 : this.due[id]!;
  }

  /** Puts `id` at `deadline`; `now` starts the wheel's clock on first use. */
  schedule(id: number, deadline: number, now: number): void {
    if (this.bucketOf[id]! >= 0) {
      if (this.due[id] === deadline) return;
      this.unlink(id);
    }
    // The tick at which now ≥ deadline: its bucket is visited exactly then.
    let t = Math.ceil(deadline / TICK_MS);
    // A deadline already behind the wheel goes in the next bucket visited.
    if (this.tick < 0) this.tick = Math.floor(now / TICK_MS);
    if (t < this.tick) t = this.tick;
    const b = t & MASK;
    this.due[id] = deadline;
    this.bucketOf[id] = b;
    this.prev[id] = -1;
    const h = this.head[b]!;
    this.next[id] = h;
    if (h >= 0) this.prev[h] = id;
    this.head[b] = id;
    this.count++;
  }

  cancel(id: number): void {
    if (this.bucketOf[id]! >= 0) this.unlink(id);
  }

  private unlink(id: number): void {
    const b = this.bucketOf[id]!;
    const p = this.prev[id]!;
    const n = this.next[id]!;
    if (p >= 0) this.next[p] = n;
    else this.head[b] = n;
    if (n >= 0) this.prev[n] = p;
    this.bucketOf[id] = -1;
    this.next[id] = -1;
    this.prev[id] = -1;
    this.count--;
  }

  /** Fires every deadline ≤ now, in tick order. */
  advance(now: number, sink: TimerSink): void {
    const end = Math.floor(now / TICK_MS);
    if (this.count === 0) {
      this.tick = end + 1;
      return;
    }
    // More than a whole turn behind: one pass over every bucket is enough.
    let from = this.tick;
    if (end - from >= BUCKETS) from = end - BUCKETS + 1;
    for (let t = from; t <= end; t++) {
      const b = t & MASK;
      let id = this.head[b]!;
      while (id >= 0) {
        const nx = this.next[id]!;
        if (this.due[id]! <= now) {
          this.unlink(id);
          sink.onTimer(id, now);
        }
        id = nx;
      }
      if (this.count === 0) break;
    }
    this.tick = end + 1;
  }
}

/** RFC 6298 §2: update SRTT, RTTVAR and RTO from one measurement `r` (ms). */
export function rttSample(f: Float64Array, id: number, r: number, rtoMin: number, rtoMax: number): void {
  const fb = recordF64(id);
  if (r < 0) return;
  if (f[fb + F.SRTT] === 0) {
    // §2.2: first measurement.
    f[fb + F.SRTT] = r;
    f[fb + F.RTTVAR] = r / 2;
  } else {
    // §2.3: beta = 1/4, alpha = 1/8.
    const srtt = f[fb + F.SRTT]!;
    f[fb + F.RTTVAR] = 0.75 * f[fb + F.RTTVAR]! + 0.25 * Math.abs(srtt - r);
    f[fb + F.SRTT] = 0.875 * srtt + 0.125 * r;
  }
  // §2.3: RTO = SRTT + max(G, K*RTTVAR), clock granularity G = 1 ms; §2.4/2.5 bounds.
  let rto = f[fb + F.SRTT]! + Math.max(TICK_MS, 4 * f[fb + F.RTTVAR]!);
  if (rto < rtoMin) rto = rtoMin;
  if (rto > rtoMax) rto = rtoMax;
  f[fb + F.RTO] = rto;
}

/** The RTO with exponential backoff applied (§5.5), bounded by rtoMax. */
export function backedOffRto(u: Uint32Array, f: Float64Array, id: number, rtoMax: number): number {
  const n = u[recordBase(id) + W.RTX_COUNT]!;
  const rto = f[recordF64(id) + F.RTO]! * 2 ** Math.min(n, 16);
  return rto > rtoMax ? rtoMax : rto;
}
