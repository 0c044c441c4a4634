// Planning, creating and attaching an arena: the one SharedArrayBuffer that
// holds the directory, counters, rings and packet pool drawn in layout.ts.
//
// planArena(options) is a pure function of its options, so every thread (and
// attachArena) recomputes the same plan; createArena writes the directory,
// ring table, owner table and ring headers once, before the buffer is shared;
// attachArena validates a received buffer word by word against the plan its
// own directory describes and hands out ring ends, the pool and counters.
// The directory stores the *resolved* options (defaults filled in), so the
// native side reads offsets from it rather than recomputing anything.
import * as layout from './layout.js';
import {
  ARENA_MAGIC,
  ARENA_VERSION,
  CACHE_LINE,
  DIR_FIXED_BYTES,
  FALSE_SHARING_SPAN,
  FRAME_DESC_WORDS,
  FREE_DESC_WORDS,
  MAX_ARENA_BYTES,
  MAX_POLLERS,
  MAX_WORKERS,
  OWNER_ENTRY_FIRST_SLOT,
  OWNER_ENTRY_INDEX,
  OWNER_ENTRY_KIND,
  OWNER_ENTRY_LARGE_COUNT,
  OWNER_ENTRY_LARGE_FIRST,
  OWNER_ENTRY_SLOT_COUNT,
  OWNER_ENTRY_WORDS,
  OWNER_KIND_ENDPOINT,
  OWNER_KIND_POLLER,
  POOL_ALIGN,
  RING_ALIGN,
  RING_ENTRY_CAPACITY,
  RING_ENTRY_DESC_WORDS,
  RING_ENTRY_ENDPOINT,
  RING_ENTRY_KIND,
  RING_ENTRY_OFFSET,
  RING_ENTRY_POLLER,
  RING_ENTRY_WORDS,
  RING_HEADER_BYTES,
  RING_KINDS,
  RING_KIND_FREE_TO_ENDPOINT,
  RING_KIND_FREE_TO_POLLER,
  RING_KIND_RX,
  RING_KIND_TX,
  RING_MAX_CAPACITY,
  RING_MIN_CAPACITY,
  SLOT_HEADROOM,
  SLOT_SIZE,
  LARGE_RUN_SLOTS,
} from './layout.js';
import { LAYOUT_FINGERPRINT } from './layout-table.js';
import { ENDPOINT_COUNTER_NAMES, EndpointCounters, POLLER_COUNTER_NAMES, PollerCounters, counterBlockBytes } from './counters.js';
import { RingConsumer, RingProducer, checkRingCapacity, formatRing, readRingFormat, ringBytes } from './ring.js';
import { PacketPool } from './pool.js';
import { ShmLayoutError } from './errors.js';

export interface ArenaOptions {
  /** Worker threads (endpoints 0..workers-1). */
  readonly workers: number;
  /** Native poller threads; default 1. */
  readonly pollers?: number;
  /** Descriptors per worker rx ring (power of two). */
  readonly rxRingCapacity: number;
  /** Descriptors per worker tx ring (power of two). */
  readonly txRingCapacity: number;
  /** Descriptors per control-thread rx / tx ring (power of two); default 256. */
  readonly controlRingCapacity?: number;
  /** Packet slots in the pool. */
  readonly poolSlots: number;
  /** Slots homed at the control thread; default min(256, poolSlots / 8). */
  readonly controlSlots?: number;
  /** Slots homed at each poller; default half of the rest, split between pollers. Workers share what remains. */
  readonly pollerSlots?: number;
  /** Large buffers (layout.ts "Large buffers") homed at each worker; default 0. */
  readonly workerLarge?: number;
  /** Large buffers homed at each poller; default 0. */
  readonly pollerLarge?: number;
}

export interface RingPlan {
  readonly id: number;
  readonly kind: number;
  readonly poller: number;
  readonly endpoint: number;
  readonly offset: number;
  readonly capacity: number;
  readonly descWords: number;
  readonly bytes: number;
}

export interface OwnerPlan {
  readonly owner: number;
  readonly kind: number;
  /** Endpoint or poller index. */
  readonly index: number;
  readonly firstSlot: number;
  readonly slotCount: number;
  /** First slot of the owner's large area (runs of LARGE_RUN_SLOTS slots), and how many runs. */
  readonly largeFirst: number;
  readonly largeCount: number;
}

export interface ArenaPlan {
  readonly workers: number;
  readonly pollers: number;
  readonly endpoints: number;
  readonly controlEndpoint: number;
  readonly owners: number;
  readonly rxRingCapacity: number;
  readonly txRingCapacity: number;
  readonly controlRingCapacity: number;
  /** Every slot index of the pool: the ordinary slots, then the large areas. */
  readonly poolSlots: number;
  /** Ordinary slots (the poolSlots option). */
  readonly smallSlots: number;
  readonly workerLarge: number;
  readonly pollerLarge: number;
  /** What circulates: ordinary slots plus large buffers (each counted once), for slot accounting. */
  readonly slotUnits: number;
  readonly controlSlots: number;
  readonly pollerSlots: number;
  readonly ringTableOffset: number;
  readonly ownerTableOffset: number;
  readonly directoryBytes: number;
  readonly countersOffset: number;
  readonly counterBlockBytes: number;
  readonly counterBlocks: number;
  readonly ringsOffset: number;
  readonly ringsBytes: number;
  readonly poolOffset: number;
  readonly poolBytes: number;
  readonly totalBytes: number;
  /** Indexed by ring id. */
  readonly rings: readonly RingPlan[];
  /** Indexed by owner id. */
  readonly ownerSlots: readonly OwnerPlan[];
}

const DEFAULT_CONTROL_RING_CAPACITY = 256;
const DEFAULT_CONTROL_SLOTS = 256;

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function nextPowerOfTwo(n: number): number {
  let p = RING_MIN_CAPACITY;
  while (p < n) p *= 2;
  return p;
}

function intOption(value: unknown, key: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ShmLayoutError(`arena option ${key} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/** Ring id of (kind, poller, endpoint): rings are laid out in this order. */
export function ringIdOf(endpoints: number, kind: number, poller: number, endpoint: number): number {
  return (poller * endpoints + endpoint) * RING_KINDS + kind;
}

/** Computes every offset of an arena from its options. Deterministic; throws ShmLayoutError on bad options. */
export function planArena(options: ArenaOptions): ArenaPlan {
  const workers = intOption(options.workers, 'workers', 1, MAX_WORKERS);
  const pollers = intOption(options.pollers ?? 1, 'pollers', 1, MAX_POLLERS);
  checkRingCapacity(options.rxRingCapacity, 'arena option rxRingCapacity');
  checkRingCapacity(options.txRingCapacity, 'arena option txRingCapacity');
  const controlRingCapacity = options.controlRingCapacity ?? DEFAULT_CONTROL_RING_CAPACITY;
  checkRingCapacity(controlRingCapacity, 'arena option controlRingCapacity');
  const smallSlots = intOption(options.poolSlots, 'poolSlots', 1, Math.floor(MAX_ARENA_BYTES / SLOT_SIZE));
  const poolSlots = smallSlots;
  const maxRuns = Math.floor(MAX_ARENA_BYTES / SLOT_SIZE / LARGE_RUN_SLOTS);
  const workerLarge = intOption(options.workerLarge ?? 0, 'workerLarge', 0, maxRuns);
  const pollerLarge = intOption(options.pollerLarge ?? 0, 'pollerLarge', 0, maxRuns);
  const endpoints = workers + 1;
  const controlEndpoint = workers;
  const owners = endpoints + pollers;

  // Slot homes: workers, then control, then pollers, in owner order.
  const controlSlots = intOption(
    options.controlSlots ?? Math.max(1, Math.min(DEFAULT_CONTROL_SLOTS, Math.floor(poolSlots / 8))),
    'controlSlots', 1, poolSlots,
  );
  const pollerSlots = intOption(
    options.pollerSlots ?? Math.max(1, Math.floor((poolSlots - controlSlots) / (2 * pollers))),
    'pollerSlots', 1, poolSlots,
  );
  const workerTotal = poolSlots - controlSlots - pollers * pollerSlots;
  const perWorker = Math.floor(workerTotal / workers);
  if (perWorker < 1) {
    throw new ShmLayoutError(
      `arena option poolSlots (${poolSlots}) leaves no slot per worker after ${controlSlots} control and ${pollers} x ${pollerSlots} poller slots`,
    );
  }
  const ownerSlots: OwnerPlan[] = [];
  let first = 0;
  // Large areas follow every ordinary slot, in owner order (the control endpoint has none).
  let largeCursor = smallSlots;
  for (let o = 0; o < owners; o++) {
    let count: number;
    let kind = OWNER_KIND_ENDPOINT;
    let index = o;
    if (o < workers) count = o === workers - 1 ? workerTotal - perWorker * (workers - 1) : perWorker;
    else if (o === controlEndpoint) count = controlSlots;
    else {
      kind = OWNER_KIND_POLLER;
      index = o - endpoints;
      count = pollerSlots;
    }
    const large = o < workers ? workerLarge : o === controlEndpoint ? 0 : pollerLarge;
    if (nextPowerOfTwo(count + large) > RING_MAX_CAPACITY) {
      throw new ShmLayoutError(`arena: owner ${o} has ${count} home slots and ${large} large buffers, more than a free ring can hold`);
    }
    ownerSlots.push({ owner: o, kind, index, firstSlot: first, slotCount: count, largeFirst: large > 0 ? largeCursor : 0, largeCount: large });
    first += count;
    largeCursor += large * LARGE_RUN_SLOTS;
  }
  const allSlots = largeCursor;
  const largeTotal = workers * workerLarge + pollers * pollerLarge;

  const ringCount = pollers * endpoints * RING_KINDS;
  const ringTableOffset = DIR_FIXED_BYTES;
  const ownerTableOffset = roundUp(ringTableOffset + ringCount * RING_ENTRY_WORDS * 4, CACHE_LINE);
  const directoryBytes = roundUp(ownerTableOffset + owners * OWNER_ENTRY_WORDS * 4, CACHE_LINE);
  const countersOffset = roundUp(directoryBytes, FALSE_SHARING_SPAN);
  const blockBytes = counterBlockBytes(CACHE_LINE, FALSE_SHARING_SPAN);
  const ringsOffset = roundUp(countersOffset + owners * blockBytes, RING_ALIGN);

  const rings: RingPlan[] = [];
  let cursor = ringsOffset;
  for (let p = 0; p < pollers; p++) {
    for (let e = 0; e < endpoints; e++) {
      for (let kind = 0; kind < RING_KINDS; kind++) {
        let capacity: number;
        let descWords = FRAME_DESC_WORDS;
        if (kind === RING_KIND_RX) capacity = e === controlEndpoint ? controlRingCapacity : options.rxRingCapacity;
        else if (kind === RING_KIND_TX) capacity = e === controlEndpoint ? controlRingCapacity : options.txRingCapacity;
        else {
          // A free ring can hold every slot of its home, so returning a slot never finds it full.
          const home = kind === RING_KIND_FREE_TO_POLLER ? endpoints + p : e;
          capacity = nextPowerOfTwo(ownerSlots[home]!.slotCount + ownerSlots[home]!.largeCount);
          descWords = FREE_DESC_WORDS;
        }
        const offset = roundUp(cursor, RING_ALIGN);
        const bytes = ringBytes(capacity, descWords);
        rings.push({ id: ringIdOf(endpoints, kind, p, e), kind, poller: p, endpoint: e, offset, capacity, descWords, bytes });
        cursor = offset + bytes;
      }
    }
  }
  const ringsBytes = cursor - ringsOffset;
  const poolOffset = roundUp(cursor, POOL_ALIGN);
  const poolBytes = allSlots * SLOT_SIZE;
  const totalBytes = roundUp(poolOffset + poolBytes, POOL_ALIGN);
  if (totalBytes > MAX_ARENA_BYTES) {
    throw new ShmLayoutError(`arena of ${totalBytes} bytes exceeds the ${MAX_ARENA_BYTES}-byte limit of u32 offsets`);
  }
  return {
    workers, pollers, endpoints, controlEndpoint, owners,
    rxRingCapacity: options.rxRingCapacity, txRingCapacity: options.txRingCapacity, controlRingCapacity,
    poolSlots: allSlots, smallSlots: poolSlots, workerLarge, pollerLarge, slotUnits: poolSlots + largeTotal, controlSlots, pollerSlots,
    ringTableOffset, ownerTableOffset, directoryBytes,
    countersOffset, counterBlockBytes: blockBytes, counterBlocks: owners,
    ringsOffset, ringsBytes, poolOffset, poolBytes, totalBytes,
    rings, ownerSlots,
  };
}

/** The directory (fixed words, ring table, owner table) exactly as createArena writes it. */
export function renderDirectory(plan: ArenaPlan): Uint32Array {
  const d = new Uint32Array(plan.directoryBytes / 4);
  d[layout.DIR_MAGIC] = ARENA_MAGIC;
  d[layout.DIR_VERSION] = ARENA_VERSION;
  d[layout.DIR_FINGERPRINT] = LAYOUT_FINGERPRINT;
  d[layout.DIR_ARENA_BYTES] = plan.totalBytes;
  d[layout.DIR_DIRECTORY_BYTES] = plan.directoryBytes;
  d[layout.DIR_CACHE_LINE] = CACHE_LINE;
  d[layout.DIR_WORKERS] = plan.workers;
  d[layout.DIR_ENDPOINTS] = plan.endpoints;
  d[layout.DIR_CONTROL_ENDPOINT] = plan.controlEndpoint;
  d[layout.DIR_POLLERS] = plan.pollers;
  d[layout.DIR_OWNERS] = plan.owners;
  d[layout.DIR_RING_KINDS] = RING_KINDS;
  d[layout.DIR_RING_COUNT] = plan.rings.length;
  d[layout.DIR_RING_TABLE_OFFSET] = plan.ringTableOffset;
  d[layout.DIR_RING_ENTRY_WORDS] = RING_ENTRY_WORDS;
  d[layout.DIR_RING_HEADER_BYTES] = RING_HEADER_BYTES;
  d[layout.DIR_FRAME_DESC_WORDS] = FRAME_DESC_WORDS;
  d[layout.DIR_FREE_DESC_WORDS] = FREE_DESC_WORDS;
  d[layout.DIR_RX_RING_CAPACITY] = plan.rxRingCapacity;
  d[layout.DIR_TX_RING_CAPACITY] = plan.txRingCapacity;
  d[layout.DIR_CONTROL_RING_CAPACITY] = plan.controlRingCapacity;
  d[layout.DIR_RINGS_OFFSET] = plan.ringsOffset;
  d[layout.DIR_RINGS_BYTES] = plan.ringsBytes;
  d[layout.DIR_POOL_OFFSET] = plan.poolOffset;
  d[layout.DIR_POOL_BYTES] = plan.poolBytes;
  d[layout.DIR_POOL_SLOTS] = plan.poolSlots;
  d[layout.DIR_SLOT_SIZE] = SLOT_SIZE;
  d[layout.DIR_SLOT_HEADROOM] = SLOT_HEADROOM;
  d[layout.DIR_CONTROL_SLOTS] = plan.controlSlots;
  d[layout.DIR_POLLER_SLOTS] = plan.pollerSlots;
  d[layout.DIR_OWNER_TABLE_OFFSET] = plan.ownerTableOffset;
  d[layout.DIR_OWNER_ENTRY_WORDS] = OWNER_ENTRY_WORDS;
  d[layout.DIR_COUNTERS_OFFSET] = plan.countersOffset;
  d[layout.DIR_COUNTER_BLOCK_BYTES] = plan.counterBlockBytes;
  d[layout.DIR_COUNTER_BLOCKS] = plan.counterBlocks;
  d[layout.DIR_ENDPOINT_COUNTERS] = ENDPOINT_COUNTER_NAMES.length;
  d[layout.DIR_POLLER_COUNTERS] = POLLER_COUNTER_NAMES.length;
  d[layout.DIR_LARGE_RUN_SLOTS] = LARGE_RUN_SLOTS;
  d[layout.DIR_WORKER_LARGE] = plan.workerLarge;
  d[layout.DIR_POLLER_LARGE] = plan.pollerLarge;
  d[layout.DIR_SMALL_SLOTS] = plan.smallSlots;
  for (const r of plan.rings) {
    const w = (plan.ringTableOffset >>> 2) + r.id * RING_ENTRY_WORDS;
    d[w + RING_ENTRY_OFFSET] = r.offset;
    d[w + RING_ENTRY_CAPACITY] = r.capacity;
    d[w + RING_ENTRY_DESC_WORDS] = r.descWords;
    d[w + RING_ENTRY_KIND] = r.kind;
    d[w + RING_ENTRY_POLLER] = r.poller;
    d[w + RING_ENTRY_ENDPOINT] = r.endpoint;
  }
  for (const o of plan.ownerSlots) {
    const w = (plan.ownerTableOffset >>> 2) + o.owner * OWNER_ENTRY_WORDS;
    d[w + OWNER_ENTRY_FIRST_SLOT] = o.firstSlot;
    d[w + OWNER_ENTRY_SLOT_COUNT] = o.slotCount;
    d[w + OWNER_ENTRY_KIND] = o.kind;
    d[w + OWNER_ENTRY_INDEX] = o.index;
    d[w + OWNER_ENTRY_LARGE_FIRST] = o.largeFirst;
    d[w + OWNER_ENTRY_LARGE_COUNT] = o.largeCount;
  }
  return d;
}

/** The options that reproduce `plan` (all defaults resolved). */
export function planOptions(plan: ArenaPlan): ArenaOptions {
  return {
    workers: plan.workers,
    pollers: plan.pollers,
    rxRingCapacity: plan.rxRingCapacity,
    txRingCapacity: plan.txRingCapacity,
    controlRingCapacity: plan.controlRingCapacity,
    poolSlots: plan.smallSlots,
    controlSlots: plan.controlSlots,
    pollerSlots: plan.pollerSlots,
    workerLarge: plan.workerLarge,
    pollerLarge: plan.pollerLarge,
  };
}

/**
 * Creates the arena for `plan` and writes its directory and ring headers.
 * `memory` lets the caller supply the buffer (e.g. page-aligned memory the
 * addon allocated and wrapped as a SharedArrayBuffer); it must be exactly
 * plan.totalBytes long and is zeroed.
 */
export function createArena(plan: ArenaPlan, memory?: SharedArrayBuffer): SharedArrayBuffer {
  const p = planArena(planOptions(plan)); // never trust a hand-edited plan object
  let sab: SharedArrayBuffer;
  if (memory === undefined) sab = new SharedArrayBuffer(p.totalBytes);
  else {
    if (memory.byteLength !== p.totalBytes) {
      throw new ShmLayoutError(`createArena: supplied memory is ${memory.byteLength} bytes, the plan needs ${p.totalBytes}`);
    }
    new Uint8Array(memory).fill(0);
    sab = memory;
  }
  new Uint32Array(sab, 0, p.directoryBytes / 4).set(renderDirectory(p));
  for (const r of p.rings) {
    formatRing(sab, r.offset, { capacity: r.capacity, descWords: r.descWords, kind: r.kind, poller: r.poller, endpoint: r.endpoint, id: r.id });
  }
  return sab;
}

const DIR_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [name, value] of Object.entries(layout)) {
    if (name.startsWith('DIR_') && typeof value === 'number' && value < layout.DIR_WORDS && name !== 'DIR_WORDS') names[value] = name;
  }
  return names;
})();

function describeDirectoryWord(plan: ArenaPlan, word: number): string {
  if (word < DIR_FIXED_BYTES / 4) return DIR_NAMES[word] ?? `directory word ${word}`;
  const ringWord = word - plan.ringTableOffset / 4;
  if (ringWord < plan.rings.length * RING_ENTRY_WORDS) {
    return `ring table entry ${Math.floor(ringWord / RING_ENTRY_WORDS)} word ${ringWord % RING_ENTRY_WORDS}`;
  }
  const ownerWord = word - plan.ownerTableOffset / 4;
  return `owner table entry ${Math.floor(ownerWord / OWNER_ENTRY_WORDS)} word ${ownerWord % OWNER_ENTRY_WORDS}`;
}

/** Validates an arena made by createArena (in any thread, or by the addon) and returns its views. */
export function attachArena(sab: SharedArrayBuffer): Arena {
  if (!(sab instanceof SharedArrayBuffer)) throw new ShmLayoutError('attachArena: not a SharedArrayBuffer');
  if (sab.byteLength < DIR_FIXED_BYTES) throw new ShmLayoutError(`attachArena: ${sab.byteLength} bytes is smaller than a directory`);
  const d = new Uint32Array(sab, 0, DIR_FIXED_BYTES / 4);
  const word = (i: number): number => d[i]!;
  if (word(layout.DIR_MAGIC) !== ARENA_MAGIC) {
    throw new ShmLayoutError(`attachArena: bad magic 0x${word(layout.DIR_MAGIC).toString(16)}, expected 0x${ARENA_MAGIC.toString(16)}`);
  }
  if (word(layout.DIR_VERSION) !== ARENA_VERSION) {
    throw new ShmLayoutError(`attachArena: arena version ${word(layout.DIR_VERSION)}, this build speaks ${ARENA_VERSION}`);
  }
  if (word(layout.DIR_FINGERPRINT) !== LAYOUT_FINGERPRINT) {
    throw new ShmLayoutError(
      `attachArena: layout fingerprint 0x${word(layout.DIR_FINGERPRINT).toString(16)} differs from this build's 0x${LAYOUT_FINGERPRINT.toString(16)}`,
    );
  }
  if (word(layout.DIR_ARENA_BYTES) !== sab.byteLength) {
    throw new ShmLayoutError(`attachArena: directory says ${word(layout.DIR_ARENA_BYTES)} bytes, buffer has ${sab.byteLength}`);
  }
  let plan: ArenaPlan;
  try {
    plan = planArena({
      workers: word(layout.DIR_WORKERS),
      pollers: word(layout.DIR_POLLERS),
      rxRingCapacity: word(layout.DIR_RX_RING_CAPACITY),
      txRingCapacity: word(layout.DIR_TX_RING_CAPACITY),
      controlRingCapacity: word(layout.DIR_CONTROL_RING_CAPACITY),
      poolSlots: word(layout.DIR_SMALL_SLOTS),
      controlSlots: word(layout.DIR_CONTROL_SLOTS),
      pollerSlots: word(layout.DIR_POLLER_SLOTS),
      workerLarge: word(layout.DIR_WORKER_LARGE),
      pollerLarge: word(layout.DIR_POLLER_LARGE),
    });
  } catch (err) {
    throw new ShmLayoutError(`attachArena: directory options are invalid: ${(err as Error).message}`);
  }
  const expected = renderDirectory(plan);
  if (plan.totalBytes !== sab.byteLength) {
    throw new ShmLayoutError(`attachArena: plan needs ${plan.totalBytes} bytes, buffer has ${sab.byteLength}`);
  }
  const actual = new Uint32Array(sab, 0, expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      throw new ShmLayoutError(`attachArena: ${describeDirectoryWord(plan, i)} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
  for (const r of plan.rings) {
    const f = readRingFormat(sab, r.offset);
    if (f.capacity !== r.capacity || f.descWords !== r.descWords || f.kind !== r.kind || f.poller !== r.poller || f.endpoint !== r.endpoint || f.id !== r.id) {
      throw new ShmLayoutError(`attachArena: ring ${r.id} header does not match the directory`);
    }
  }
  return new Arena(sab, plan);
}

/** An endpoint's (worker's or control thread's) ends of its four rings towards one poller. */
export interface EndpointRings {
  readonly rx: RingConsumer;
  readonly tx: RingProducer;
  readonly freeToPoller: RingProducer;
  readonly freeFromPoller: RingConsumer;
}

/** A poller's ends of its four rings towards one endpoint (for a poller written in JS: tests, benches). */
export interface PollerRings {
  readonly rx: RingProducer;
  readonly tx: RingConsumer;
  readonly freeToEndpoint: RingProducer;
  readonly freeFromEndpoint: RingConsumer;
}

/** A validated arena. Cheap to make per thread; not for the per-packet path (use the objects it hands out). */
export class Arena {
  readonly sab: SharedArrayBuffer;
  readonly plan: ArenaPlan;
  private poolView: PacketPool | undefined;

  constructor(sab: SharedArrayBuffer, plan: ArenaPlan) {
    this.sab = sab;
    this.plan = plan;
  }

  ring(kind: number, poller: number, endpoint: number): RingPlan {
    const p = this.plan;
    if (!(kind >= 0 && kind < RING_KINDS && poller >= 0 && poller < p.pollers && endpoint >= 0 && endpoint < p.endpoints)) {
      throw new RangeError(`no ring kind ${kind} poller ${poller} endpoint ${endpoint} in this arena`);
    }
    return p.rings[ringIdOf(p.endpoints, kind, poller, endpoint)]!;
  }

  ringOffset(kind: number, poller: number, endpoint: number): number {
    return this.ring(kind, poller, endpoint).offset;
  }

  /** Attach as the producer of one ring. Exactly one producer per ring, ever at a time. */
  producer(kind: number, poller: number, endpoint: number): RingProducer {
    return new RingProducer(this.sab, this.ringOffset(kind, poller, endpoint));
  }

  /** Attach as the consumer of one ring. Exactly one consumer per ring, ever at a time. */
  consumer(kind: number, poller: number, endpoint: number): RingConsumer {
    return new RingConsumer(this.sab, this.ringOffset(kind, poller, endpoint));
  }

  endpointRings(endpoint: number, poller: number): EndpointRings {
    return {
      rx: this.consumer(RING_KIND_RX, poller, endpoint),
      tx: this.producer(RING_KIND_TX, poller, endpoint),
      freeToPoller: this.producer(RING_KIND_FREE_TO_POLLER, poller, endpoint),
      freeFromPoller: this.consumer(RING_KIND_FREE_TO_ENDPOINT, poller, endpoint),
    };
  }

  pollerRings(poller: number, endpoint: number): PollerRings {
    return {
      rx: this.producer(RING_KIND_RX, poller, endpoint),
      tx: this.consumer(RING_KIND_TX, poller, endpoint),
      freeToEndpoint: this.producer(RING_KIND_FREE_TO_ENDPOINT, poller, endpoint),
      freeFromEndpoint: this.consumer(RING_KIND_FREE_TO_POLLER, poller, endpoint),
    };
  }

  get pool(): PacketPool {
    if (this.poolView === undefined) {
      const p = this.plan;
      const table = new Uint32Array(this.sab, p.ownerTableOffset, p.owners * OWNER_ENTRY_WORDS);
      this.poolView = new PacketPool(this.sab, p.poolOffset, p.poolSlots, table);
    }
    return this.poolView;
  }

  /** Owner id of endpoint e (worker e, or the control endpoint). */
  ownerOfEndpoint(endpoint: number): number {
    if (!(endpoint >= 0 && endpoint < this.plan.endpoints)) throw new RangeError(`no endpoint ${endpoint}`);
    return endpoint;
  }

  ownerOfPoller(poller: number): number {
    if (!(poller >= 0 && poller < this.plan.pollers)) throw new RangeError(`no poller ${poller}`);
    return this.plan.endpoints + poller;
  }

  /** Byte offset of an owner's counter block. */
  counterOffset(owner: number): number {
    if (!(owner >= 0 && owner < this.plan.owners)) throw new RangeError(`no owner ${owner}`);
    return this.plan.countersOffset + owner * this.plan.counterBlockBytes;
  }

  endpointCounters(endpoint: number): EndpointCounters {
    return new EndpointCounters(this.sab, this.counterOffset(this.ownerOfEndpoint(endpoint)));
  }

  pollerCounters(poller: number): PollerCounters {
    return new PollerCounters(this.sab, this.counterOffset(this.ownerOfPoller(poller)));
  }
}
