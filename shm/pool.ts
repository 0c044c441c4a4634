// The packet buffer pool: POOL_SLOTS fixed-size slots in one region of the
// arena, referenced by index. No locks and no shared free list: every slot
// has a *home* (one owner, fixed by the plan's owner table) and free slots
// travel home through SPSC free rings.
//
//   pool region (POOL_OFFSET, POOL_ALIGN aligned)
//   +--------------------------+--------------------------+-----
//   | slot 0                   | slot 1                   | ...
//   +----------+---------------+----------+---------------+-----
//   | headroom | frame ...     | headroom | frame ...     |
//   '- 128 B --'                '- 128 B --'
//   '---------- SLOT_SIZE = 2048 --------'
//
//   owners: endpoints 0..E-1 (workers, then control), pollers E..E+P-1;
//   owner o's home slots are [FIRST_SLOT, FIRST_SLOT + SLOT_COUNT).
//
// Ownership protocol (who may touch a slot when):
// 1. At any moment a slot has exactly one holder: an owner that has it on its
//    local SlotStack or in hand, or a ring it is in flight in. Only the
//    holder reads or writes the slot's bytes; there is no sharing.
// 2. Handing a slot over is writing its index into a descriptor and
//    committing it. The producer finishes every byte write before commit()
//    and never touches the slot afterwards; the consumer owns it once
//    available() has shown the descriptor (the ring's release/acquire pair
//    makes the bytes visible, see ring.ts). Releasing the ring entry does not
//    give the slot back: the consumer copied the index out and still holds it.
// 3. Slots move only between a poller and an endpoint (rx, tx, free rings);
//    endpoints never pass slots to each other. A slot homed at poller p may
//    only be sent to poller p (reply in place on the rx queue's poller);
//    endpoint-homed slots may go to any poller.
// 4. Freeing: if the freeing owner is the slot's home it pushes the slot on
//    its own SlotStack; otherwise it pushes the index into the free ring
//    towards the home (endpoint → poller: RING_KIND_FREE_TO_POLLER, poller →
//    endpoint: RING_KIND_FREE_TO_ENDPOINT). Each free ring holds at least
//    every slot its home owns, so a free-ring push never finds it full.
// 5. The home drains its incoming free rings into its SlotStack when it
//    needs slots. Nothing is ever lost: slots held = stacks + in hand +
//    in flight in rings = POOL_SLOTS at every quiescent point (censusSlots).
import {
  LARGE_RUN_SLOTS, OWNER_ENTRY_FIRST_SLOT, OWNER_ENTRY_LARGE_COUNT, OWNER_ENTRY_LARGE_FIRST, OWNER_ENTRY_SLOT_COUNT, OWNER_ENTRY_WORDS,
  SLOT_HEADROOM, SLOT_SIZE,
} from './layout.js';
import type { RingConsumer, RingProducer } from './ring.js';

const SLOT_SHIFT = Math.log2(SLOT_SIZE);

export class PacketPool {
  readonly slotCount: number;
  readonly slotSize = SLOT_SIZE;
  readonly headroom = SLOT_HEADROOM;
  /** Every byte of the pool; slot i's data is at bytes[slotOffset(i)]. */
  readonly bytes: Uint8Array;
  /** Same bytes, for multi-byte big-endian wire fields. */
  readonly view: DataView;
  private readonly homeFirst: Int32Array;
  private readonly homeCount: Int32Array;
  private readonly largeFirst: Int32Array;
  /** Slots (not runs) of each owner's large area. */
  private readonly largeSpan: Int32Array;

  /** `ownerTable` is the arena's owner table (OWNER_ENTRY_WORDS words per owner). */
  constructor(sab: SharedArrayBuffer, poolOffset: number, slotCount: number, ownerTable: Uint32Array) {
    this.slotCount = slotCount;
    this.bytes = new Uint8Array(sab, poolOffset, slotCount * SLOT_SIZE);
    this.view = new DataView(sab, poolOffset, slotCount * SLOT_SIZE);
    const owners = ownerTable.length / OWNER_ENTRY_WORDS;
    this.homeFirst = new Int32Array(owners);
    this.homeCount = new Int32Array(owners);
    this.largeFirst = new Int32Array(owners);
    this.largeSpan = new Int32Array(owners);
    for (let o = 0; o < owners; o++) {
      this.homeFirst[o] = ownerTable[o * OWNER_ENTRY_WORDS + OWNER_ENTRY_FIRST_SLOT]!;
      this.homeCount[o] = ownerTable[o * OWNER_ENTRY_WORDS + OWNER_ENTRY_SLOT_COUNT]!;
      this.largeFirst[o] = ownerTable[o * OWNER_ENTRY_WORDS + OWNER_ENTRY_LARGE_FIRST]!;
      this.largeSpan[o] = ownerTable[o * OWNER_ENTRY_WORDS + OWNER_ENTRY_LARGE_COUNT]! * LARGE_RUN_SLOTS;
    }
  }

  /** Byte offset in `bytes` of slot i's first byte (its headroom). */
  slotBase(index: number): number {
    return index << SLOT_SHIFT;
  }

  /** Byte offset in `bytes` where slot i's frame starts by default (after the headroom). */
  slotOffset(index: number): number {
    return (index << SLOT_SHIFT) + SLOT_HEADROOM;
  }

  /** The owner whose home slot (or large buffer) this is; -1 when out of range. */
  homeOf(index: number): number {
    for (let o = 0; o < this.homeFirst.length; o++) {
      if ((index - this.homeFirst[o]!) >>> 0 < this.homeCount[o]!) return o;
      if ((index - this.largeFirst[o]!) >>> 0 < this.largeSpan[o]!) return o;
    }
    return -1;
  }

  /** True when owner `owner` is the home of slot (or large buffer) `index`. */
  isHome(index: number, owner: number): boolean {
    return (index - this.homeFirst[owner]!) >>> 0 < this.homeCount[owner]! || (index - this.largeFirst[owner]!) >>> 0 < this.largeSpan[owner]!;
  }

  /** First slot of owner's large area; its large buffers are largeFirstOf + k × LARGE_RUN_SLOTS. */
  largeFirstOf(owner: number): number {
    return this.largeFirst[owner]!;
  }

  largeCountOf(owner: number): number {
    return this.largeSpan[owner]! / LARGE_RUN_SLOTS;
  }

  firstSlotOf(owner: number): number {
    return this.homeFirst[owner]!;
  }

  slotCountOf(owner: number): number {
    return this.homeCount[owner]!;
  }
}

/**
 * An owner's private LIFO of free slot indices (not shared; LIFO keeps
 * recently used slots warm in cache). Pushing beyond capacity means a slot
 * was freed twice, and throws.
 */
export class SlotStack {
  private readonly slots: Int32Array;
  private top = 0;

  constructor(capacity: number) {
    this.slots = new Int32Array(capacity);
  }

  get size(): number {
    return this.top;
  }

  get capacity(): number {
    return this.slots.length;
  }

  push(slot: number): void {
    if (this.top === this.slots.length) overflow(slot);
    this.slots[this.top++] = slot;
  }

  /** A free slot index, or -1 when empty. */
  pop(): number {
    return this.top === 0 ? -1 : this.slots[--this.top]!;
  }

  /** Pushes slots [first, first + count), e.g. an owner's home range at start-up. */
  pushRange(first: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) this.push(first + i);
  }

  /** Drains up to `max` entries of a free ring (1-word descriptors) onto the stack; returns how many. */
  refillFrom(ring: RingConsumer, max: number): number {
    const room = this.slots.length - this.top;
    const n = ring.available(max < room ? max : room);
    if (n === 0) return 0;
    const d = ring.desc;
    for (let i = 0; i < n; i++) this.slots[this.top++] = d[ring.index(i)]!;
    ring.release(n);
    return n;
  }

  /** Moves up to `max` slots from the stack into a free ring in one commit; returns how many. */
  drainTo(ring: RingProducer, max: number): number {
    const n = ring.reserve(max < this.top ? max : this.top);
    if (n === 0) return 0;
    const d = ring.desc;
    for (let i = 0; i < n; i++) d[ring.index(i)] = this.slots[--this.top]!;
    ring.commit(n);
    return n;
  }

  /** A copy of the held indices (for censuses). */
  toArray(): number[] {
    return Array.from(this.slots.subarray(0, this.top));
  }
}

function overflow(slot: number): never {
  throw new RangeError(`SlotStack overflow pushing slot ${slot}: a slot was freed twice`);
}

export interface SlotCensus {
  /** Slot indices seen across all holdings. */
  readonly seen: number;
  /** Slots nobody holds: leaked. */
  readonly missing: number[];
  /** Slots held more than once: freed twice or handed over without giving up. */
  readonly duplicated: number[];
  /** Indices outside [0, slotCount). */
  readonly invalid: number[];
}

/**
 * Leak accounting for tests and shutdown checks: given every holding of slot
 * indices at a quiescent point (each owner's SlotStack.toArray(), slots in
 * hand, ringWord0s() of every ring that carries slots), checks that each of
 * the pool's slots is held exactly once.
 */
export function censusSlots(slotCount: number, holdings: Iterable<ArrayLike<number>>): SlotCensus {
  const times = new Uint8Array(slotCount);
  const invalid: number[] = [];
  let seen = 0;
  for (const h of holdings) {
    for (let i = 0; i < h.length; i++) {
      const s = h[i]!;
      seen++;
      if (!Number.isInteger(s) || s < 0 || s >= slotCount) invalid.push(s);
      else if (times[s]! < 255) times[s] = times[s]! + 1;
    }
  }
  const missing: number[] = [];
  const duplicated: number[] = [];
  for (let s = 0; s < slotCount; s++) {
    if (times[s] === 0) missing.push(s);
    else if (times[s]! > 1) duplicated.push(s);
  }
  return { seen, missing, duplicated, invalid };
}
