// A seeded fault injector in the I/O layer (smoltcp's phy/FaultInjector idea):
// netem is not in this kernel, so impairments are Baton's own. One injector
// per worker and direction sits between the rings and the code: on receive,
// frames pass through it after they are dequeued and before the worker
// handles them; on send, EndpointIo.send() hands it every frame any handler
// queues. With no faults configured there is no injector (one null check).
//
// Per frame, in this order (each draw only when its probability is > 0, so a
// given config and seed always consume the same random stream):
//   loss      → the slot is freed, the frame never seen again
//   corrupt   → one uniformly chosen bit of the frame is flipped (checksums
//               downstream are meant to catch it)
//   duplicate → the frame is copied into a fresh home slot and both copies
//               continue below; no free slot → the duplicate is skipped
//   reorder   → the frame is held until `reorderGap` later frames entered the
//               injector, or `reorderHoldMs` passed, whichever comes first
//   delay     → the frame is held for delayMs + uniform[0, jitterMs)
//               (jitter reorders frames too, as on a real path)
//   otherwise → delivered at once.
// Held frames keep their slot; tick(now) releases what is due, and
// nextDue() tells the worker how long it may park.
//
// Offloads (TAP, port.offload): the injector acts per wire segment, as a real
// path would. A frame longer than one segment (a large TCP segment the stack
// sends, or one the kernel hands us uncut) is first cut into MSS segments in
// fresh home slots (net/segment.ts, counted `cut`; no slot: the rest is lost,
// counted `cut_no_slot`), each with its checksum finished; a frame whose
// checksum was left partial gets it finished in place. So corruption is
// always caught downstream, and loss, duplication and reordering hit single
// segments. A corrupted frame also loses DESC_FLAG_CSUM_OK: it is checked again.
//
// No allocation per frame: held frames live in fixed typed-array tables (a
// binary min-heap for delayed frames, a FIFO for reordered ones). When a table
// is full the frame is delivered at once and counted (hold_full).
import type { SlotStack } from '../shm/pool.js';
import { DESC_FLAG_CSUM_OK, DESC_FLAG_CSUM_PARTIAL, DESC_FLAG_GSO, SLOT_MAX_FRAME } from '../shm/layout.js';
import { finishChecksum, l4Offsets, segmentTcpFrame, type SegmentSink } from './net/segment.js';
import { readU16 } from './net/byte-order.js';

/** Wire MTU the cut segments are sized for when the frame does not say (received large frames). */
const WIRE_MTU = 1500;

/** One direction's impairments, as validated from the config (`faults.rx`, `faults.tx`). */
export interface FaultParams {
  /** Probabilities in [0, 1]. */
  readonly loss: number;
  readonly duplicate: number;
  readonly reorder: number;
  readonly corrupt: number;
  /** Fixed delay and uniform jitter added to it, in milliseconds. */
  readonly delayMs: number;
  readonly jitterMs: number;
  /** A reordered frame is released after this many later frames… */
  readonly reorderGap: number;
  /** …or after this many milliseconds, whichever comes first. */
  readonly reorderHoldMs: number;
}

export interface FaultConfig {
  readonly seed: number;
  /** null: that direction is not impaired (and costs nothing). */
  readonly rx: FaultParams | null;
  readonly tx: FaultParams | null;
}

export const FAULT_DEFAULTS: FaultParams = Object.freeze({
  loss: 0,
  duplicate: 0,
  reorder: 0,
  corrupt: 0,
  delayMs: 0,
  jitterMs: 0,
  reorderGap: 3,
  reorderHoldMs: 10,
});

/** Upper bound on delayMs + jitterMs and reorderHoldMs: held frames hold packet slots. */
export const FAULT_MAX_DELAY_MS = 10_000;

/** True when these parameters change anything. */
export function faultsActive(p: FaultParams): boolean {
  return p.loss > 0 || p.duplicate > 0 || p.reorder > 0 || p.corrupt > 0 || p.delayMs > 0 || p.jitterMs > 0;
}

export const FAULT_DIR_RX = 0;
export const FAULT_DIR_TX = 1;

/** Events counted per direction; the endpoint counters hold them as fault_<dir>_<event>. */
export const FaultEvent = {
  LOSS: 0,
  DUPLICATE: 1,
  /** A duplicate skipped because no home slot was free. */
  DUP_NO_SLOT: 2,
  REORDER: 3,
  CORRUPT: 4,
  DELAY: 5,
  /** A frame that should have been held but the hold table was full: delivered at once. */
  HOLD_FULL: 6,
  /** A large frame cut into wire segments before the faults (offloads). */
  CUT: 7,
  /** Segments of a cut frame lost because no home slot was free. */
  CUT_NO_SLOT: 8,
} as const;
export const FAULT_EVENT_NAMES = ['loss', 'duplicate', 'dup_no_slot', 'reorder', 'corrupt', 'delay', 'hold_full', 'cut', 'cut_no_slot'] as const;

/** splitmix32 finaliser: a well-mixed u32 from any u32. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** The seed of one worker's stream in one direction: distinct streams from one configured seed. */
export function deriveFaultSeed(seed: number, worker: number, direction: number): number {
  return mix32(mix32(seed >>> 0) ^ Math.imul(worker * 2 + direction + 1, 0x27d4eb2d));
}

/** xoshiro128** (Blackman & Vigna): four u32 words of state, no allocation per draw. */
export class Xoshiro128 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // splitmix32 expands the seed; mix32 is a bijection, so the four words differ and are never all zero.
    this.a = mix32(seed);
    this.b = mix32(seed + 1);
    this.c = mix32(seed + 2);
    this.d = mix32(seed + 3);
  }

  /** Uniform u32. */
  next(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A probability as a u32 threshold: `next() < threshold` happens with probability p (p = 1: always). */
function threshold(p: number): number {
  return Math.floor(p * 4294967296);
}

/** Where frames that pass the injector go: the worker's handler (rx) or the tx ring (tx). */
export interface FaultSink {
  faultDeliver(poller: number, slot: number, offset: number, len: number, flags: number): void;
}

/** What the injector needs from its endpoint: EndpointIo satisfies it. */
export interface FaultHost {
  readonly bytes: Uint8Array;
  readonly pool: { slotBase(slot: number): number };
  readonly stack: SlotStack;
  freeSlot(slot: number, fromPoller: number): void;
  /** Brings refunded home slots back onto `stack`. */
  refill(): number;
}

/** Where the injector counts: `inc(base + FaultEvent.X)`. EndpointCounters satisfies it. */
export interface FaultCounters {
  inc(index: number): void;
}

/** Frames each hold table (delay heap, reorder FIFO) keeps at most. */
export const FAULT_HOLD_CAPACITY = 4096;

export class FaultInjector implements SegmentSink {
  readonly params: FaultParams;
  private readonly rng: Xoshiro128;
  private readonly host: FaultHost;
  private readonly sink: FaultSink;
  private readonly counters: FaultCounters;
  private readonly base: number;
  private readonly lossT: number;
  private readonly dupT: number;
  private readonly reorderT: number;
  private readonly corruptT: number;
  private readonly delayMs: number;
  private readonly jitterMs: number;
  private readonly holds: boolean;
  private readonly reorderGap: number;
  private readonly reorderHoldMs: number;
  /** The time of the latest tick(); frames entering now are held relative to it. */
  private now = 0;
  /** Frames that entered the injector (the reorder gap is measured in these). */
  private entered = 0;
  /** Tie-breaker so frames due at the same time leave in arrival order. */
  private seq = 0;

  // Held frames: entry e's fields in parallel tables. Entries 0..cap-1 are delayed
  // frames (the heap orders their indices), cap..2cap-1 the reorder FIFO's.
  private readonly cap: number;
  private readonly hPoller: Int32Array;
  private readonly hSlot: Int32Array;
  private readonly hOffset: Int32Array;
  private readonly hLen: Int32Array;
  private readonly hFlags: Int32Array;
  /** Release time (ms). */
  private readonly hTime: Float64Array;
  /** Delayed: arrival sequence; reordered: `entered` count at which to release. */
  private readonly hKey: Float64Array;
  private readonly heap: Int32Array;
  private heapSize = 0;
  /** Free delayed-entry indices. */
  private readonly freeEntries: Int32Array;
  private freeTop = 0;
  private fifoHead = 0;
  private fifoSize = 0;

  constructor(params: FaultParams, seed: number, host: FaultHost, sink: FaultSink, counters: FaultCounters, counterBase: number, capacity = FAULT_HOLD_CAPACITY) {
    this.params = params;
    this.rng = new Xoshiro128(seed);
    this.host = host;
    this.sink = sink;
    this.counters = counters;
    this.base = counterBase;
    this.lossT = threshold(params.loss);
    this.dupT = threshold(params.duplicate);
    this.reorderT = threshold(params.reorder);
    this.corruptT = threshold(params.corrupt);
    this.delayMs = params.delayMs;
    this.jitterMs = params.jitterMs;
    this.holds = params.delayMs > 0 || params.jitterMs > 0;
    this.reorderGap = params.reorderGap;
    this.reorderHoldMs = params.reorderHoldMs;
    this.cap = capacity;
    this.hPoller = new Int32Array(2 * capacity);
    this.hSlot = new Int32Array(2 * capacity);
    this.hOffset = new Int32Array(2 * capacity);
    this.hLen = new Int32Array(2 * capacity);
    this.hFlags = new Int32Array(2 * capacity);
    this.hTime = new Float64Array(2 * capacity);
    this.hKey = new Float64Array(2 * capacity);
    this.heap = new Int32Array(capacity);
    this.freeEntries = new Int32Array(capacity);
    for (let i = capacity - 1; i >= 0; i--) this.freeEntries[this.freeTop++] = i;
  }

  /** Frames held right now (delayed + reordered). */
  get held(): number {
    return this.heapSize + this.fifoSize;
  }

  /** The earliest time a held frame is due (ms), or Infinity when none is held. */
  nextDue(): number {
    let t = Infinity;
    if (this.heapSize > 0) t = this.hTime[this.heap[0]!]!;
    if (this.fifoSize > 0) {
      const f = this.hTime[this.cap + this.fifoHead]!;
      if (f < t) t = f;
    }
    return t;
  }

  /** Advances the injector's clock and delivers every held frame due by `now`. */
  tick(now: number): void {
    this.now = now;
    while (this.fifoSize > 0 && this.hTime[this.cap + this.fifoHead]! <= now) this.releaseReordered();
    while (this.heapSize > 0 && this.hTime[this.heap[0]!]! <= now) this.releaseDelayed();
  }

  /** The frame being cut (segment(): SegmentSink calls carry no context). */
  private cutPoller = 0;
  private cutOffset = 0;
  private cutFlags = 0;

  /**
   * One frame enters the injector; it is freed, held, or delivered (maybe
   * twice). A large or checksum-partial frame is made into finished wire
   * segments first (see the header); `gsoSize` is a large frame's segment
   * size when the sender knows it (tx), else one is derived from the MTU.
   */
  process(poller: number, slot: number, offset: number, len: number, flags: number, gsoSize = 0): void {
    if ((flags & (DESC_FLAG_GSO | DESC_FLAG_CSUM_PARTIAL)) !== 0 || len > SLOT_MAX_FRAME) {
      const b = this.host.bytes;
      const start = this.host.pool.slotBase(slot) + offset;
      const o = l4Offsets(b, start, len);
      let mss = gsoSize;
      if (mss === 0 && o !== null && o.proto === 6) mss = WIRE_MTU - (o.l4 - o.l3) - (b[start + o.l4 + 12]! >>> 4) * 4;
      const rest = flags & ~(DESC_FLAG_GSO | DESC_FLAG_CSUM_PARTIAL | DESC_FLAG_CSUM_OK);
      if (o !== null && o.proto === 6 && o.l3 + readU16(b, start + o.l3 + 2) > len) {
        // Cut after its headers (a snooping backup's TAP filter): nothing to segment or sum, one frame as it is.
        this.processOne(poller, slot, offset, len, rest);
        return;
      }
      if (o !== null && o.proto === 6 && mss > 0 && readU16(b, start + o.l3 + 2) - (o.l4 - o.l3) - (b[start + o.l4 + 12]! >>> 4) * 4 > mss) {
        this.cutPoller = poller;
        this.cutOffset = offset;
        this.cutFlags = rest;
        const want = Math.ceil((len - o.l4 - (b[start + o.l4 + 12]! >>> 4) * 4) / mss);
        const got = segmentTcpFrame(b, start, len, mss, this);
        this.counters.inc(this.base + FaultEvent.CUT);
        for (let i = got; i < want; i++) this.counters.inc(this.base + FaultEvent.CUT_NO_SLOT);
        this.host.freeSlot(slot, poller);
        return;
      }
      if ((flags & DESC_FLAG_CSUM_PARTIAL) !== 0) finishChecksum(b, start, len);
      this.processOne(poller, slot, offset, len, rest);
      return;
    }
    this.processOne(poller, slot, offset, len, flags);
  }

  /** SegmentSink: a home slot for the next cut segment. */
  allocSlot(): number {
    const host = this.host;
    const s = host.stack.pop();
    if (s >= 0) return s;
    return host.refill() > 0 ? host.stack.pop() : -1;
  }

  frameStart(slot: number): number {
    return this.host.pool.slotBase(slot) + this.cutOffset;
  }

  /** SegmentSink: each cut segment goes through the faults as a frame of its own. */
  deliver(slot: number, len: number): void {
    this.processOne(this.cutPoller, slot, this.cutOffset, len, this.cutFlags);
  }

  private processOne(poller: number, slot: number, offset: number, len: number, flags: number): void {
    const rng = this.rng;
    this.entered++;
    if (this.lossT !== 0 && rng.next() < this.lossT) {
      this.counters.inc(this.base + FaultEvent.LOSS);
      this.host.freeSlot(slot, poller);
      this.releaseReorderedByCount();
      return;
    }
    const start = this.host.pool.slotBase(slot) + offset;
    if (this.corruptT !== 0 && rng.next() < this.corruptT && len > 0) {
      const bit = Math.floor((rng.next() / 4294967296) * len * 8);
      this.host.bytes[start + (bit >>> 3)]! ^= 1 << (bit & 7);
      this.counters.inc(this.base + FaultEvent.CORRUPT);
      flags &= ~DESC_FLAG_CSUM_OK;
    }
    let copy = -1;
    if (this.dupT !== 0 && rng.next() < this.dupT) {
      const host = this.host;
      copy = host.stack.pop();
      if (copy < 0 && host.refill() > 0) copy = host.stack.pop();
      if (copy < 0) {
        this.counters.inc(this.base + FaultEvent.DUP_NO_SLOT);
      } else {
        const to = host.pool.slotBase(copy) + offset;
        host.bytes.copyWithin(to, start, start + len);
        this.counters.inc(this.base + FaultEvent.DUPLICATE);
      }
    }
    this.schedule(poller, slot, offset, len, flags);
    if (copy >= 0) this.schedule(poller, copy, offset, len, flags);
    this.releaseReorderedByCount();
  }

  /** Reorder, delay or deliver one frame that survived. */
  private schedule(poller: number, slot: number, offset: number, len: number, flags: number): void {
    if (this.reorderT !== 0 && this.rng.next() < this.reorderT) {
      if (this.fifoSize < this.cap) {
        const e = this.cap + ((this.fifoHead + this.fifoSize) % this.cap);
        this.fifoSize++;
        this.store(e, poller, slot, offset, len, flags, this.now + this.reorderHoldMs, this.entered + this.reorderGap);
        this.counters.inc(this.base + FaultEvent.REORDER);
        return;
      }
      this.counters.inc(this.base + FaultEvent.HOLD_FULL);
    }
    if (this.holds) {
      let t = this.now + this.delayMs;
      if (this.jitterMs > 0) t += (this.rng.next() / 4294967296) * this.jitterMs;
      if (this.freeTop > 0) {
        const e = this.freeEntries[--this.freeTop]!;
        this.store(e, poller, slot, offset, len, flags, t, this.seq++);
        this.heapPush(e);
        this.counters.inc(this.base + FaultEvent.DELAY);
        return;
      }
      this.counters.inc(this.base + FaultEvent.HOLD_FULL);
    }
    this.sink.faultDeliver(poller, slot, offset, len, flags);
  }

  private store(e: number, poller: number, slot: number, offset: number, len: number, flags: number, time: number, key: number): void {
    this.hPoller[e] = poller;
    this.hSlot[e] = slot;
    this.hOffset[e] = offset;
    this.hLen[e] = len;
    this.hFlags[e] = flags;
    this.hTime[e] = time;
    this.hKey[e] = key;
  }

  /** Releases reordered frames whose gap of later frames has passed (FIFO: keys only grow). */
  private releaseReorderedByCount(): void {
    while (this.fifoSize > 0 && this.hKey[this.cap + this.fifoHead]! <= this.entered) this.releaseReordered();
  }

  private releaseReordered(): void {
    const e = this.cap + this.fifoHead;
    this.fifoHead = (this.fifoHead + 1) % this.cap;
    this.fifoSize--;
    this.sink.faultDeliver(this.hPoller[e]!, this.hSlot[e]!, this.hOffset[e]!, this.hLen[e]!, this.hFlags[e]!);
  }

  private releaseDelayed(): void {
    const e = this.heap[0]!;
    const last = this.heap[--this.heapSize]!;
    if (this.heapSize > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    this.freeEntries[this.freeTop++] = e;
    this.sink.faultDeliver(this.hPoller[e]!, this.hSlot[e]!, this.hOffset[e]!, this.hLen[e]!, this.hFlags[e]!);
  }

  /** a is due before b: earlier time, then earlier arrival. */
  private before(a: number, b: number): boolean {
    const ta = this.hTime[a]!;
    const tb = this.hTime[b]!;
    return ta < tb || (ta === tb && this.hKey[a]! < this.hKey[b]!);
  }

  private heapPush(e: number): void {
    const h = this.heap;
    let i = this.heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(e, h[parent]!)) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = e;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = this.heapSize;
    const e = h[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.before(h[c + 1]!, h[c]!)) c++;
      if (!this.before(h[c]!, e)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = e;
  }

  /** Frees every held frame (the worker is stopping): slots go home, nothing is delivered. */
  discardHeld(): void {
    while (this.fifoSize > 0) {
      const e = this.cap + this.fifoHead;
      this.fifoHead = (this.fifoHead + 1) % this.cap;
      this.fifoSize--;
      this.host.freeSlot(this.hSlot[e]!, this.hPoller[e]!);
    }
    while (this.heapSize > 0) {
      const e = this.heap[--this.heapSize]!;
      this.freeEntries[this.freeTop++] = e;
      this.host.freeSlot(this.hSlot[e]!, this.hPoller[e]!);
    }
  }
}
