// Timers: a hierarchical timing wheel holding each connection once, at its
// earliest deadline, plus the RFC 6298 retransmission-timeout estimator.
//
// A connection has several deadlines in its record (RTO, delayed ACK,
// persist, keepalive, linger); the stack schedules the earliest of them here.
// When it fires the stack handles whichever deadlines passed and schedules
// the next.
//
// Two levels, as in the Linux and Varghese–Lauck wheels:
//
//   near: NEAR buckets of TICK_MS for the current turn (the NEAR ticks that
//         share tick >> NEAR_BITS); bucket t & NEAR_MASK holds the deadlines
//         of tick t and nothing else
//   far:  FAR buckets of one turn each, for the turns after the current one;
//         bucket k & FAR_MASK holds deadlines of turn k and, wrapped, of
//         turns k + FAR·n; a far bucket is moved into the near level when the
//         wheel enters its turn (entries of a later lap go back where they were)
//
// Advancing costs one bucket per tick elapsed plus the entries that move,
// whatever the number of connections. A bitmap of non-empty buckets finds the
// earliest deadline (the worker's park timeout) without walking entries: a
// server keeps thousands of TIME-WAIT records whose 2MSL deadlines all sit in
// the far level, and walking them on every park cost more than serving.
import { F, W, recordBase, recordF64 } from './record.js';

export const TICK_MS = 1;
const NEAR_BITS = 12;
const NEAR = 1 << NEAR_BITS;
const NEAR_MASK = NEAR - 1;
const FAR = 512;
const FAR_MASK = FAR - 1;
const BUCKETS = NEAR + FAR;
const BITMAP_WORDS = BUCKETS >>> 5;

export interface TimerSink {
  /** Deadline for connection `id` reached (at or before `now`). */
  onTimer(id: number, now: number): void;
}

/** Index of the lowest set bit of a non-zero 32-bit word. */
function lowestBit(x: number): number {
  return 31 - Math.clz32(x & -x);
}

export class TimerWheel {
  /** Bucket heads: near buckets 0…NEAR-1, far buckets NEAR…NEAR+FAR-1. */
  private readonly head = new Int32Array(BUCKETS).fill(-1);
  /** One bit per bucket, set while the bucket is not empty. */
  private readonly occupied = new Uint32Array(BITMAP_WORDS);
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** Bucket the id is in, or -1. */
  private readonly bucketOf: Int32Array;
  private readonly due: Float64Array;
  /** Scratch for moving entries between buckets. */
  private readonly moving: Int32Array;
  /** Ticks below this have been processed. */
  private tick = -1;
  /** The turn whose far bucket has been moved to the near level (syncTurn). */
  private turn = -1;
  private count = 0;

  constructor(capacity: number) {
    this.next = new Int32Array(capacity).fill(-1);
    this.prev = new Int32Array(capacity).fill(-1);
    this.bucketOf = new Int32Array(capacity).fill(-1);
    this.due = new Float64Array(capacity);
    this.moving = new Int32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** The earliest deadline scheduled, or Infinity (for parking decisions). */
  earliest(): number {
    if (this.count === 0) return Infinity;
    // Near buckets from the current tick to the end of its turn hold ticks in
    // order: the first one that is not empty holds the earliest deadline.
    const from = this.tick < 0 ? 0 : this.tick;
    const b = this.firstNear(from & NEAR_MASK);
    if (b >= 0) return this.minIn(b);
    // Nothing within a near turn: the far level, turn by turn from the next one.
    const turn = (from >>> NEAR_BITS) + 1;
    let best = Infinity;
    for (let i = 0; i < FAR; i++) {
      const k = (turn + i) & FAR_MASK;
      if (!this.isOccupied(NEAR + k)) continue;
      for (let id = this.head[NEAR + k]!; id >= 0; id = this.next[id]!) {
        const d = this.due[id]!;
        if (d < best) best = d;
      }
      // An entry of turn + i itself (not of a later lap) is earlier than
      // anything in the buckets after this one: done.
      if (best <= (turn + i + 1) * NEAR * TICK_MS) return best;
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
    if (this.tick < 0) {
      this.tick = Math.floor(now / TICK_MS);
      this.turn = this.tick >>> NEAR_BITS;
    }
    this.due[id] = deadline;
    this.place(id);
  }

  cancel(id: number): void {
    if (this.bucketOf[id]! >= 0) this.unlink(id);
  }

  /** Links `id` (due[id] set, in no bucket) into the bucket for its deadline. */
  private place(id: number): void {
    // The tick at which now ≥ deadline: its bucket is visited exactly then.
    let t = Math.ceil(this.due[id]! / TICK_MS);
    // A deadline already behind the wheel goes in the next bucket visited.
    if (t < this.tick) t = this.tick;
    const turn = t >>> NEAR_BITS;
    const b = turn === this.tick >>> NEAR_BITS ? t & NEAR_MASK : NEAR + (turn & FAR_MASK);
    this.link(id, b);
  }

  private link(id: number, b: number): void {
    this.bucketOf[id] = b;
    this.prev[id] = -1;
    const h = this.head[b]!;
    this.next[id] = h;
    if (h >= 0) this.prev[h] = id;
    else this.occupied[b >>> 5] |= 1 << (b & 31);
    this.head[b] = id;
    this.count++;
  }

  private unlink(id: number): void {
    const b = this.bucketOf[id]!;
    const p = this.prev[id]!;
    const n = this.next[id]!;
    if (p >= 0) this.next[p] = n;
    else {
      this.head[b] = n;
      if (n < 0) this.occupied[b >>> 5] &= ~(1 << (b & 31));
    }
    if (n >= 0) this.prev[n] = p;
    this.bucketOf[id] = -1;
    this.next[id] = -1;
    this.prev[id] = -1;
    this.count--;
  }

  private isOccupied(b: number): boolean {
    return (this.occupied[b >>> 5]! & (1 << (b & 31))) !== 0;
  }

  /** The first non-empty near bucket from `from` to the end of the turn, or -1. */
  private firstNear(from: number): number {
    let w = from >>> 5;
    let word = this.occupied[w]! & (0xffffffff << (from & 31));
    for (;;) {
      if (word !== 0) return (w << 5) + lowestBit(word);
      if (++w === NEAR >>> 5) return -1;
      word = this.occupied[w]!;
    }
  }

  private minIn(b: number): number {
    let best = Infinity;
    for (let id = this.head[b]!; id >= 0; id = this.next[id]!) if (this.due[id]! < best) best = this.due[id]!;
    return best;
  }

  /** Once the tick is in a new turn: that turn's far bucket moves to the near level. */
  private syncTurn(): void {
    const turn = this.tick >>> NEAR_BITS;
    if (turn === this.turn) return;
    this.turn = turn;
    const fb = NEAR + (turn & FAR_MASK);
    if (this.head[fb]! >= 0) this.redistribute(fb);
  }

  /** Moves every entry of bucket `b` to where its deadline belongs now. */
  private redistribute(b: number): void {
    const m = this.moving;
    let n = 0;
    for (let id = this.head[b]!; id >= 0; id = this.next[id]!) m[n++] = id;
    for (let i = 0; i < n; i++) this.unlink(m[i]!);
    for (let i = 0; i < n; i++) this.place(m[i]!);
  }

  /** Fires every deadline ≤ now, in tick order. */
  advance(now: number, sink: TimerSink): void {
    const end = Math.floor(now / TICK_MS);
    if (this.count === 0) {
      this.tick = end + 1;
      this.turn = this.tick >>> NEAR_BITS;
      return;
    }
    if (end - this.tick >= NEAR) {
      // More than a whole turn behind: every entry is put where it belongs
      // as of tick `end` (the overdue ones in its bucket), then that one bucket fires.
      const m = this.moving;
      let n = 0;
      for (let b = 0; b < BUCKETS; b++) for (let id = this.head[b]!; id >= 0; id = this.next[id]!) m[n++] = id;
      for (let i = 0; i < n; i++) this.unlink(m[i]!);
      this.tick = end;
      this.turn = end >>> NEAR_BITS;
      for (let i = 0; i < n; i++) this.place(m[i]!);
    }
    for (let t = this.tick; t <= end; t++) {
      // Entering a new turn: its far bucket moves down first.
      this.tick = t;
      this.syncTurn();
      // Ticks up to t are being processed: a deadline scheduled at or before
      // t from a handler goes in the bucket of t + 1.
      this.tick = t + 1;
      const b = t & NEAR_MASK;
      // Start again from the head after each handler: it may cancel or
      // reschedule other entries of this bucket.
      let id = this.head[b]!;
      while (id >= 0) {
        if (this.due[id]! <= now) {
          this.unlink(id);
          sink.onTimer(id, now);
          id = this.head[b]!;
        } else {
          id = this.next[id]!;
        }
      }
      if (this.count === 0) break;
    }
    this.tick = end + 1;
    this.syncTurn();
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
  // 1 << n, not 2 ** n: an integer shift, not a call into Math.pow on every send.
  const rto = f[recordF64(id) + F.RTO]! * (1 << Math.min(n, 16));
  return rto > rtoMax ? rtoMax : rto;
}
