// An endpoint's side of the arena (a worker's, or the control thread's): its
// four rings towards every poller, its home slots, its counters, and the
// parking protocol that lets it sleep with ~0 % CPU and be woken by the
// native poller.
//
// Parking (the poller half is native/src/poller.cc publish_rx()):
//   endpoint                                  poller
//   store PARKED=1 on every rx ring           commit HEAD (release)
//   seen = load WAKE (rx ring of poller 0)    fence (seq_cst)
//   re-check every rx ring                    if PARKED: WAKE += 1; futex_wake
//   futex_wait(WAKE, seen)
//   store PARKED=0
// Either the endpoint's re-check sees the new HEAD, or the poller sees PARKED
// and bumps WAKE, making futex_wait return at once: no lost wake-up.
// The control endpoint cannot sleep (it is the main thread); the poller
// clears its PARKED flag and calls it back through a threadsafe function.
import type { Arena, EndpointRings } from '../shm/arena.js';
import type { EndpointCounters } from '../shm/counters.js';
import type { PacketPool } from '../shm/pool.js';
import { SlotStack } from '../shm/pool.js';
import {
  DESC_DATA,
  DESC_HASH,
  DESC_META,
  LARGE_RUN_SLOTS,
  DESC_SLOT,
  RING_HDR_CONSUMER_PARKED,
  RING_HDR_CONSUMER_WAKE,
  RING_KIND_RX,
  RING_HEADER_BYTES,
  descMeta,
} from '../shm/layout.js';
import { EndpointCounter } from '../shm/counters.js';
import type { FaultInjector } from './fault.js';

/** What an endpoint needs to wake a poller; the native addon in production, a fake in unit tests. */
export interface PollerKick {
  kickPoller(poller: number): void;
}

/** Staged tx frames published at once when a burst gets this long. */
const TX_BATCH = 32;

export class EndpointIo {
  readonly endpoint: number;
  readonly pollers: number;
  readonly rings: EndpointRings[] = [];
  readonly pool: PacketPool;
  readonly bytes: Uint8Array;
  readonly stack: SlotStack;
  readonly counters: EndpointCounters;
  /** Poller p has frames published by us that it has not been told about. */
  private readonly txPending: Int32Array;
  /** Frames written to poller p's tx ring and not yet published: flush() publishes them with one store. */
  private readonly txStaged: Int32Array;
  /** tx frames and bytes since the last flush (counted once per flush). */
  private txFrames = 0;
  private txBytes = 0;
  private readonly kicker: PollerKick;
  readonly homeFirst: number;
  readonly homeCount: number;
  /** Large buffers homed here (shm/layout.ts "Large buffers"): first slot of the area, how many, and the free ones. */
  readonly largeFirst: number;
  readonly largeCount: number;
  readonly largeStack: SlotStack;
  /** Send-side fault injector (config `faults.tx`); null, the normal case, costs one check per frame. */
  txFault: FaultInjector | null = null;

  constructor(arena: Arena, endpoint: number, kicker: PollerKick) {
    this.endpoint = endpoint;
    this.pollers = arena.plan.pollers;
    this.pool = arena.pool;
    this.bytes = this.pool.bytes;
    this.kicker = kicker;
    for (let p = 0; p < this.pollers; p++) {
      this.rings.push(arena.endpointRings(endpoint, p));
    }
    this.txPending = new Int32Array(this.pollers);
    this.txStaged = new Int32Array(this.pollers);
    const owner = arena.plan.ownerSlots[arena.ownerOfEndpoint(endpoint)]!;
    this.homeFirst = owner.firstSlot;
    this.homeCount = owner.slotCount;
    this.stack = new SlotStack(owner.slotCount);
    this.largeFirst = owner.largeFirst;
    this.largeCount = owner.largeCount;
    this.largeStack = new SlotStack(owner.largeCount);
    this.counters = arena.endpointCounters(endpoint);
  }

  /** True when `slot` is one of this endpoint's large buffers. */
  isOwnLarge(slot: number): boolean {
    const k = slot - this.largeFirst;
    return k >= 0 && k < this.largeCount * LARGE_RUN_SLOTS;
  }

  /** A free large buffer (its slot index), or -1. */
  allocLarge(): number {
    const s = this.largeStack.pop();
    if (s >= 0) return s;
    return this.refill() > 0 ? this.largeStack.pop() : -1;
  }

  /**
   * Fills the stack with the home slots that are not elsewhere right now.
   * A first start owns them all; a restarted endpoint (its thread died) must
   * leave out the home slots still in flight in its tx rings (the poller will
   * send them and return them through the free rings).
   */
  claimHomeSlots(): void {
    const away = new Uint8Array(this.homeCount);
    const largeAway = new Uint8Array(this.largeCount);
    const mark = (slot: number): void => {
      const k = slot - this.homeFirst;
      if (k >= 0 && k < this.homeCount) away[k] = 1;
      else if (this.isOwnLarge(slot)) largeAway[((slot - this.largeFirst) / LARGE_RUN_SLOTS) | 0] = 1;
    };
    for (let p = 0; p < this.pollers; p++) {
      const { tx, freeFromPoller } = this.rings[p]!;
      // In flight in the tx ring: the n descriptors just below our head.
      const n = tx.inFlight();
      for (let i = 0; i < n; i++) mark(tx.desc[tx.index(i - n)]!);
      // On their way home: refill() will push these.
      const m = freeFromPoller.available(freeFromPoller.capacity);
      for (let i = 0; i < m; i++) mark(freeFromPoller.desc[freeFromPoller.index(i)]!);
    }
    // A slot the poller holds between sending it and refunding it is missed
    // here; that window is a few instructions wide and only matters after a crash.
    for (let k = this.homeCount - 1; k >= 0; k--) if (away[k] === 0) this.stack.push(this.homeFirst + k);
    for (let k = this.largeCount - 1; k >= 0; k--) if (largeAway[k] === 0) this.largeStack.push(this.largeFirst + k * LARGE_RUN_SLOTS);
  }

  /** Returns home-slot refunds from every poller to the stack (large buffers to theirs). */
  refill(): number {
    let n = 0;
    if (this.largeCount === 0) {
      for (let p = 0; p < this.pollers; p++) n += this.stack.refillFrom(this.rings[p]!.freeFromPoller, 1 << 30);
      return n;
    }
    for (let p = 0; p < this.pollers; p++) {
      const ring = this.rings[p]!.freeFromPoller;
      const m = ring.available(ring.capacity);
      const d = ring.desc;
      for (let i = 0; i < m; i++) {
        const slot = d[ring.index(i)]!;
        if (this.isOwnLarge(slot)) this.largeStack.push(slot);
        else this.stack.push(slot);
      }
      ring.release(m);
      n += m;
    }
    return n;
  }

  /** Gives a slot (or large buffer) back to its home: our stacks, or the poller it came from. */
  freeSlot(slot: number, fromPoller: number): void {
    if (slot - this.homeFirst >= 0 && slot - this.homeFirst < this.homeCount) {
      this.stack.push(slot);
      return;
    }
    if (this.largeCount > 0 && this.isOwnLarge(slot)) {
      this.largeStack.push(slot);
      return;
    }
    const ring = this.rings[fromPoller]!.freeToPoller;
    if (ring.reserve(1) === 1) {
      ring.desc[ring.index(0)] = slot;
      ring.commit(1);
    } else {
      // A free ring holds every slot its home owns: full means a slot was freed twice.
      this.counters.inc(EndpointCounter.free_ring_full);
    }
  }

  /**
   * Queues one frame for poller p: the frame is bytes[slotBase + offset, + len).
   * Returns false (and frees the slot) when the tx ring is full.
   */
  send(poller: number, slot: number, offset: number, len: number, flags: number, gsoSize = 0): boolean {
    if (this.txFault !== null) {
      // The injector owns the frame now: it frees, holds, or passes it to faultDeliver()
      // (a large or checksum-partial frame is cut into finished wire segments first).
      this.txFault.process(poller, slot, offset, len, flags, gsoSize);
      return true;
    }
    return this.enqueueTx(poller, slot, offset, len, flags, gsoSize);
  }

  /** FaultSink: a frame that passed the send-side injector goes on the tx ring. */
  faultDeliver(poller: number, slot: number, offset: number, len: number, flags: number): void {
    this.enqueueTx(poller, slot, offset, len, flags, 0);
  }

  // Frames are staged on the tx ring and published in batches (flush(), or
  // every TX_BATCH frames so the poller can start on a long burst): one
  // Atomics.store of HEAD per batch instead of one per frame.
  // DESC_FLAG_GSO frames carry their segment size in DESC_HASH (shm/layout.ts).
  private enqueueTx(poller: number, slot: number, offset: number, len: number, flags: number, gsoSize: number): boolean {
    const tx = this.rings[poller]!.tx;
    const k = this.txStaged[poller]!;
    if (tx.reserve(k + 1) !== k + 1) {
      this.counters.inc(EndpointCounter.tx_drop_ring_full);
      this.freeSlot(slot, poller);
      return false;
    }
    const d = tx.desc;
    const i = tx.index(k);
    d[i + DESC_SLOT] = slot;
    d[i + DESC_META] = descMeta(len, 0, flags);
    d[i + DESC_HASH] = gsoSize;
    d[i + DESC_DATA] = offset;
    this.txFrames++;
    this.txBytes += len;
    this.txStaged[poller] = k + 1;
    if (k + 1 === TX_BATCH) this.publishTx(poller);
    return true;
  }

  private publishTx(poller: number): void {
    this.rings[poller]!.tx.commit(this.txStaged[poller]!);
    this.txStaged[poller] = 0;
    this.txPending[poller] = 1;
  }

  /** After a burst: publishes staged frames and wakes every poller that has new frames to send and sleeps. */
  flush(): void {
    this.counters.set(EndpointCounter.slots_free, this.stack.size + this.largeStack.size);
    if (this.txFrames !== 0) {
      this.counters.add(EndpointCounter.tx_frames, this.txFrames);
      this.counters.add(EndpointCounter.tx_bytes, this.txBytes);
      this.txFrames = 0;
      this.txBytes = 0;
    }
    for (let p = 0; p < this.pollers; p++) {
      if (this.txStaged[p] !== 0) this.publishTx(p);
      if (this.txPending[p] === 0) continue;
      this.txPending[p] = 0;
      if (Atomics.load(this.rings[p]!.tx.ctl, RING_HDR_CONSUMER_PARKED) !== 0) {
        this.kicker.kickPoller(p);
        this.counters.inc(EndpointCounter.wakeups_sent);
      }
    }
  }

  /** Marks every rx ring parked and returns the wake word's value to sleep on (see the header). */
  prepareToPark(): number {
    for (let p = 0; p < this.pollers; p++) Atomics.store(this.rings[p]!.rx.ctl, RING_HDR_CONSUMER_PARKED, 1);
    return Atomics.load(this.rings[0]!.rx.ctl, RING_HDR_CONSUMER_WAKE);
  }

  unpark(): void {
    for (let p = 0; p < this.pollers; p++) Atomics.store(this.rings[p]!.rx.ctl, RING_HDR_CONSUMER_PARKED, 0);
  }

  /** True when any rx ring has frames (the re-check after prepareToPark). */
  rxPending(): boolean {
    for (let p = 0; p < this.pollers; p++) if (this.rings[p]!.rx.available(1) > 0) return true;
    return false;
  }

  /** The futex word (Int32Array, index) this endpoint sleeps on. */
  wakeWord(): Int32Array {
    return this.rings[0]!.rx.ctl;
  }

  /** Bumps the wake word and returns it, so another thread can wake this endpoint (stop, mailbox). */
  static bumpWake(arena: Arena, endpoint: number): Int32Array {
    const ctl = new Int32Array(arena.sab, arena.ringOffset(RING_KIND_RX, 0, endpoint), RING_HEADER_BYTES >> 2);
    Atomics.add(ctl, RING_HDR_CONSUMER_WAKE, 1);
    return ctl;
  }
}

export const WAKE_INDEX = RING_HDR_CONSUMER_WAKE;
