// Single-producer / single-consumer descriptor ring over a SharedArrayBuffer.
// The header layout (and which side writes each word) is drawn in layout.ts;
// in short:
//
//   config line     capacity, mask, desc words ...    read-only after format
//   producer line   HEAD   PRODUCER_PARKED PRODUCER_WAKE
//   consumer line   TAIL   CONSUMER_PARKED CONSUMER_WAKE
//   descriptors     [0] [1] ... [capacity-1]            u32 words, plain access
//
//        tail (consumer)         head (producer)
//          v                       v
//   ... | d | d | d | d | d | d | . | . | . | ...       (indices & mask)
//          '---- published ------' '---- free -----'
//
// HEAD and TAIL are free-running u32 counters: HEAD counts descriptors ever
// published, TAIL counts descriptors ever released. In flight is
// (head - tail) mod 2^32, a slot is index & mask, and the counters wrap past
// 2^32 without special cases because capacity ≤ 2^24. This file keeps them as
// int32 (`| 0`): Node builds V8 without pointer compression, so every int32 is
// a small integer and the fields never turn into heap numbers; the bits are
// the same as the u32 the C side sees.
//
// Usage is batched, gVisor sharedmem/pipe style:
//   producer: n = reserve(32); write words at desc[index(i)] for i < n; commit(n)
//   consumer: n = available(32); read words at desc[index(i)] for i < n; release(n)
// Each side keeps a private copy of its own index and a cached copy of the
// other side's, and touches the other side's cache line (one Atomics.load)
// only when its cached copy cannot satisfy the request: the producer when the
// ring looks full, the consumer when it looks empty (or shorter than asked).
// Each commit/release is one Atomics.store.
//
// Memory ordering. Descriptor words are plain typed-array accesses; only HEAD
// and TAIL use Atomics. JS Atomics are sequentially consistent, and in the
// ECMAScript memory model a SeqCst store that a SeqCst load reads from
// synchronises with it, so everything the producer wrote before
// Atomics.store(HEAD) happens-before everything the consumer does after the
// Atomics.load(HEAD) that saw it: published descriptors (and the packet bytes
// of the slots they name) are visible. Symmetrically, the consumer's reads of
// a descriptor happen before its Atomics.store(TAIL), and the producer only
// overwrites that descriptor after an Atomics.load(TAIL) that saw the
// release, so it never overwrites a descriptor still being read.
// The native side (C/C++, same machine) must use the same pairing: HEAD/TAIL
// stores with release semantics and loads with acquire semantics
// (std::atomic<uint32_t>, or the __atomic builtins in baton_shm.h). V8 maps
// Atomics.store/load onto the standard C++11 SeqCst mappings (x86: xchg/mov;
// arm64: stlr/ldar), which pair correctly with C++ release/acquire.
//
// Parking (the futex issue implements it; the words are reserved now). A side
// that finds nothing to do spins, then sleeps:
//   sleeper:  w = load(MY_WAKE); store(MY_PARKED, 1) [seq_cst];
//             re-check the other index; if still nothing: futex_wait(&MY_WAKE, w);
//             store(MY_PARKED, 0)
//   waker:    store(MY_INDEX) [release]; fence(seq_cst); if load(OTHER_PARKED):
//             fetch_add(OTHER_WAKE, 1); futex_wake(&OTHER_WAKE)
// The seq_cst store/fence pair is what stops both sides missing each other
// (a store→load order the release/acquire pair alone does not give); in JS
// the Atomics.store of commit()/release() is already seq_cst.
// Atomics.wait cannot be woken by a native futex_wake (V8 emulates it), so a
// JS side that waits for native code goes through the addon.
import {
  CACHE_LINE,
  RING_ALIGN,
  RING_HDR_CAPACITY,
  RING_HDR_DESC_OFFSET,
  RING_HDR_DESC_SHIFT,
  RING_HDR_DESC_WORDS,
  RING_HDR_ENDPOINT,
  RING_HDR_HEAD,
  RING_HDR_ID,
  RING_HDR_KIND,
  RING_HDR_MAGIC,
  RING_HDR_MASK,
  RING_HDR_POLLER,
  RING_HDR_TAIL,
  RING_HEADER_BYTES,
  RING_MAGIC,
  RING_MAX_CAPACITY,
  RING_MIN_CAPACITY,
} from './layout.js';
import { ShmLayoutError } from './errors.js';

/** What a ring header records about the ring; kind/poller/endpoint/id are labels only. */
export interface RingFormat {
  readonly capacity: number;
  readonly descWords: number;
  readonly kind?: number;
  readonly poller?: number;
  readonly endpoint?: number;
  readonly id?: number;
}

const HEADER_WORDS = RING_HEADER_BYTES >>> 2;

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Throws unless `capacity` is a power of two within RING_MIN/MAX_CAPACITY. */
export function checkRingCapacity(capacity: number, what: string): void {
  if (!isPowerOfTwo(capacity) || capacity < RING_MIN_CAPACITY || capacity > RING_MAX_CAPACITY) {
    throw new ShmLayoutError(
      `${what}: ring capacity must be a power of two in [${RING_MIN_CAPACITY}, ${RING_MAX_CAPACITY}], got ${capacity}`,
    );
  }
}

function checkDescWords(descWords: number, what: string): void {
  if (descWords !== 1 && descWords !== 2 && descWords !== 4) {
    throw new ShmLayoutError(`${what}: descriptor words must be 1, 2 or 4, got ${descWords}`);
  }
}

/** Bytes a ring occupies: header plus descriptors, rounded to a cache line. */
export function ringBytes(capacity: number, descWords: number): number {
  return RING_HEADER_BYTES + Math.ceil((capacity * descWords * 4) / CACHE_LINE) * CACHE_LINE;
}

function checkPlace(sab: SharedArrayBuffer, byteOffset: number, bytes: number, what: string): void {
  if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % RING_ALIGN !== 0) {
    throw new ShmLayoutError(`${what}: ring offset ${byteOffset} is not ${RING_ALIGN}-byte aligned`);
  }
  if (byteOffset + bytes > sab.byteLength) {
    throw new ShmLayoutError(`${what}: ring at ${byteOffset} (${bytes} bytes) overruns a ${sab.byteLength}-byte buffer`);
  }
}

/**
 * Writes an empty ring header at `byteOffset`. Only while no producer or
 * consumer is attached (createArena does it before the arena is shared).
 */
export function formatRing(sab: SharedArrayBuffer, byteOffset: number, format: RingFormat): void {
  checkRingCapacity(format.capacity, 'formatRing');
  checkDescWords(format.descWords, 'formatRing');
  const bytes = ringBytes(format.capacity, format.descWords);
  checkPlace(sab, byteOffset, bytes, 'formatRing');
  new Uint8Array(sab, byteOffset, bytes).fill(0);
  const h = new Uint32Array(sab, byteOffset, HEADER_WORDS);
  h[RING_HDR_MAGIC] = RING_MAGIC;
  h[RING_HDR_CAPACITY] = format.capacity;
  h[RING_HDR_MASK] = format.capacity - 1;
  h[RING_HDR_DESC_WORDS] = format.descWords;
  h[RING_HDR_DESC_SHIFT] = Math.log2(format.descWords);
  h[RING_HDR_KIND] = format.kind ?? 0;
  h[RING_HDR_POLLER] = format.poller ?? 0;
  h[RING_HDR_ENDPOINT] = format.endpoint ?? 0;
  h[RING_HDR_ID] = format.id ?? 0;
  h[RING_HDR_DESC_OFFSET] = RING_HEADER_BYTES;
}

/**
 * Sets HEAD = TAIL = `index` (an empty ring). Rings start at 0; tests use
 * this to start near 2^32 and cross the wrap. Only while nothing is attached.
 */
export function resetRing(sab: SharedArrayBuffer, byteOffset: number, index = 0): void {
  const ctl = ringControl(sab, byteOffset, 'resetRing');
  Atomics.store(ctl, RING_HDR_HEAD, index | 0);
  Atomics.store(ctl, RING_HDR_TAIL, index | 0);
}

/** The validated config line of the ring at `byteOffset`. */
export function readRingFormat(sab: SharedArrayBuffer, byteOffset: number): Required<RingFormat> {
  const ctl = ringControl(sab, byteOffset, 'readRingFormat');
  return {
    capacity: ctl[RING_HDR_CAPACITY]!,
    descWords: ctl[RING_HDR_DESC_WORDS]!,
    kind: ctl[RING_HDR_KIND]! >>> 0,
    poller: ctl[RING_HDR_POLLER]! >>> 0,
    endpoint: ctl[RING_HDR_ENDPOINT]! >>> 0,
    id: ctl[RING_HDR_ID]! >>> 0,
  };
}

/** Descriptors published and not yet released, as seen now from any thread. */
export function ringInFlight(sab: SharedArrayBuffer, byteOffset: number): number {
  const ctl = ringControl(sab, byteOffset, 'ringInFlight');
  return (Atomics.load(ctl, RING_HDR_HEAD) - Atomics.load(ctl, RING_HDR_TAIL)) >>> 0;
}

/**
 * Word 0 of every descriptor in flight, oldest first (for slot censuses in
 * tests and leak checks). Only meaningful while both sides are quiescent.
 */
export function ringWord0s(sab: SharedArrayBuffer, byteOffset: number): number[] {
  const ctl = ringControl(sab, byteOffset, 'ringWord0s');
  const mask = ctl[RING_HDR_MASK]!;
  const shift = ctl[RING_HDR_DESC_SHIFT]!;
  const desc = new Uint32Array(sab, byteOffset + RING_HEADER_BYTES, (mask + 1) << shift);
  const tail = Atomics.load(ctl, RING_HDR_TAIL);
  const n = (Atomics.load(ctl, RING_HDR_HEAD) - tail) >>> 0;
  if (n > mask + 1) throw new ShmLayoutError(`ringWord0s: ring at ${byteOffset} has ${n} in flight, capacity ${mask + 1}`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(desc[((tail + i) & mask) << shift]!);
  return out;
}

/** A validated Int32Array view over a ring header (Atomics need Int32Array for wait/notify). */
function ringControl(sab: SharedArrayBuffer, byteOffset: number, what: string): Int32Array {
  checkPlace(sab, byteOffset, RING_HEADER_BYTES, what);
  const ctl = new Int32Array(sab, byteOffset, HEADER_WORDS);
  const capacity = ctl[RING_HDR_CAPACITY]!;
  const descWords = ctl[RING_HDR_DESC_WORDS]!;
  if (ctl[RING_HDR_MAGIC]! >>> 0 !== RING_MAGIC) {
    throw new ShmLayoutError(`${what}: no ring header at offset ${byteOffset}`);
  }
  checkRingCapacity(capacity, what);
  checkDescWords(descWords, what);
  if (
    ctl[RING_HDR_MASK] !== capacity - 1 ||
    ctl[RING_HDR_DESC_SHIFT] !== Math.log2(descWords) ||
    ctl[RING_HDR_DESC_OFFSET] !== RING_HEADER_BYTES
  ) {
    throw new ShmLayoutError(`${what}: inconsistent ring header at offset ${byteOffset}`);
  }
  checkPlace(sab, byteOffset, ringBytes(capacity, descWords), what);
  return ctl;
}

function misuse(what: string, n: number): never {
  throw new RangeError(`ring ${what}(${n}) goes past what was reserved/available`);
}

function corrupt(what: string, distance: number, capacity: number): never {
  throw new ShmLayoutError(`ring ${what}: the other side's index is ${distance} away, capacity ${capacity} (corrupt ring or two producers/consumers)`);
}

/** The only writer of a ring's descriptors and HEAD. Exactly one per ring. */
export class RingProducer {
  readonly capacity: number;
  readonly mask: number;
  readonly descWords: number;
  /** Descriptor words; descriptor i of the current reservation starts at desc[index(i)]. */
  readonly desc: Uint32Array;
  private readonly shift: number;
  /** The ring header's words, for the parking words (RING_HDR_*_PARKED / _WAKE); never write HEAD or TAIL through it. */
  readonly ctl: Int32Array;
  private head: number;
  private tailCache: number;

  constructor(sab: SharedArrayBuffer, byteOffset: number) {
    const ctl = ringControl(sab, byteOffset, 'RingProducer');
    this.capacity = ctl[RING_HDR_CAPACITY]!;
    this.mask = this.capacity - 1;
    this.descWords = ctl[RING_HDR_DESC_WORDS]!;
    this.shift = ctl[RING_HDR_DESC_SHIFT]!;
    this.desc = new Uint32Array(sab, byteOffset + RING_HEADER_BYTES, this.capacity * this.descWords);
    this.ctl = ctl;
    this.head = Atomics.load(ctl, RING_HDR_HEAD);
    this.tailCache = Atomics.load(ctl, RING_HDR_TAIL);
  }

  /** How many of the next `n` descriptors may be written now (0..n). Does not publish anything. */
  reserve(n: number): number {
    let free = this.capacity - ((this.head - this.tailCache) | 0);
    if (free < n) {
      this.tailCache = Atomics.load(this.ctl, RING_HDR_TAIL);
      free = this.capacity - ((this.head - this.tailCache) | 0);
      if (free > this.capacity || free < 0) corrupt('reserve', free, this.capacity);
    }
    return free < n ? free : n;
  }

  /** Word index in `desc` of reserved descriptor i (0 ≤ i < reserved). */
  index(i: number): number {
    return ((this.head + i) & this.mask) << this.shift;
  }

  /** Publishes the first `n` reserved descriptors with one Atomics.store of HEAD. */
  commit(n: number): void {
    const head = (this.head + n) | 0;
    if ((head - this.tailCache) >>> 0 > this.capacity) misuse('commit', n);
    this.head = head;
    Atomics.store(this.ctl, RING_HDR_HEAD, head);
  }

  /** Single descriptor; words beyond descWords are ignored. False when full. */
  push(w0: number, w1 = 0, w2 = 0, w3 = 0): boolean {
    if (this.reserve(1) === 0) return false;
    const d = this.desc;
    const i = this.index(0);
    d[i] = w0;
    if (this.descWords !== 1) {
      d[i + 1] = w1;
      if (this.descWords === 4) {
        d[i + 2] = w2;
        d[i + 3] = w3;
      }
    }
    this.commit(1);
    return true;
  }

  /** Published and not yet released, as far as this side knows right now. */
  inFlight(): number {
    return (this.head - Atomics.load(this.ctl, RING_HDR_TAIL)) >>> 0;
  }
}

/** The only reader of a ring's descriptors and writer of TAIL. Exactly one per ring. */
export class RingConsumer {
  readonly capacity: number;
  readonly mask: number;
  readonly descWords: number;
  /** Descriptor words; available descriptor i starts at desc[index(i)]. */
  readonly desc: Uint32Array;
  private readonly shift: number;
  /** The ring header's words, for the parking words (RING_HDR_*_PARKED / _WAKE); never write HEAD or TAIL through it. */
  readonly ctl: Int32Array;
  private tail: number;
  private headCache: number;

  constructor(sab: SharedArrayBuffer, byteOffset: number) {
    const ctl = ringControl(sab, byteOffset, 'RingConsumer');
    this.capacity = ctl[RING_HDR_CAPACITY]!;
    this.mask = this.capacity - 1;
    this.descWords = ctl[RING_HDR_DESC_WORDS]!;
    this.shift = ctl[RING_HDR_DESC_SHIFT]!;
    this.desc = new Uint32Array(sab, byteOffset + RING_HEADER_BYTES, this.capacity * this.descWords);
    this.ctl = ctl;
    this.tail = Atomics.load(ctl, RING_HDR_TAIL);
    this.headCache = Atomics.load(ctl, RING_HDR_HEAD);
  }

  /** How many published descriptors may be read now (0..max). Does not release anything. */
  available(max: number): number {
    let n = (this.headCache - this.tail) | 0;
    if (n < max) {
      this.headCache = Atomics.load(this.ctl, RING_HDR_HEAD);
      n = (this.headCache - this.tail) | 0;
      if (n > this.capacity || n < 0) corrupt('available', n, this.capacity);
    }
    return n < max ? n : max;
  }

  /** Word index in `desc` of available descriptor i (0 ≤ i < available). */
  index(i: number): number {
    return ((this.tail + i) & this.mask) << this.shift;
  }

  /** Hands the first `n` available descriptors back with one Atomics.store of TAIL. */
  release(n: number): void {
    const tail = (this.tail + n) | 0;
    if ((this.headCache - tail) >>> 0 > this.capacity) misuse('release', n);
    this.tail = tail;
    Atomics.store(this.ctl, RING_HDR_TAIL, tail);
  }

  /** Copies one descriptor into `out[0..descWords)` and releases it. False when empty. */
  pop(out: Uint32Array): boolean {
    if (this.available(1) === 0) return false;
    const d = this.desc;
    const i = this.index(0);
    for (let w = 0; w < this.descWords; w++) out[w] = d[i + w]!;
    this.release(1);
    return true;
  }

  /** Word 0 of one descriptor (a slot index, for free rings), released; -1 when empty. */
  popWord(): number {
    if (this.available(1) === 0) return -1;
    const w = this.desc[this.index(0)]!;
    this.release(1);
    return w;
  }

  /** Published and not yet released, as seen now. */
  inFlight(): number {
    return (Atomics.load(this.ctl, RING_HDR_HEAD) - this.tail) >>> 0;
  }
}
