import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ArenaOptions, type ArenaPlan, attachArena, createArena, planArena, renderDirectory } from '../../../shm/arena.js';
import {
  ARENA_VERSION,
  CACHE_LINE,
  DIR_FINGERPRINT,
  DIR_MAGIC,
  DIR_RX_RING_CAPACITY,
  DIR_VERSION,
  FALSE_SHARING_SPAN,
  FREE_DESC_WORDS,
  FRAME_DESC_WORDS,
  OWNER_KIND_ENDPOINT,
  OWNER_KIND_POLLER,
  POOL_ALIGN,
  RING_ALIGN,
  RING_ENTRY_CAPACITY,
  RING_HDR_CAPACITY,
  RING_HDR_MAGIC,
  RING_KINDS,
  RING_KIND_FREE_TO_ENDPOINT,
  RING_KIND_FREE_TO_POLLER,
  RING_KIND_RX,
  RING_KIND_TX,
  SLOT_HEADROOM,
  SLOT_SIZE,
  LARGE_MAX_FRAME,
  LARGE_RUN_SLOTS,
} from '../../../shm/layout.js';
import { LAYOUT_CONSTANTS, LAYOUT_FINGERPRINT } from '../../../shm/layout-table.js';
import { ENDPOINT_COUNTER_NAMES, EndpointCounter, POLLER_COUNTER_NAMES, PollerCounter } from '../../../shm/counters.js';
import { ShmLayoutError } from '../../../shm/errors.js';
import { BatonError } from '../../../control/errors.js';

const OPTIONS: ArenaOptions = { workers: 2, pollers: 2, rxRingCapacity: 1024, txRingCapacity: 512, poolSlots: 4096 };

function layoutError(fn: () => unknown, match?: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ShmLayoutError);
    assert.instance(err, BatonError);
    assert.is((err as ShmLayoutError).code, 'BATON_ERR_SHM_LAYOUT');
    if (match !== undefined) assert.match((err as Error).message, match);
    return;
  }
  assert.unreachable('expected a ShmLayoutError');
}

/** [start, end) byte ranges of every region and ring, for overlap checks. */
function regions(plan: ArenaPlan): Array<[number, number, string]> {
  const out: Array<[number, number, string]> = [
    [0, plan.directoryBytes, 'directory'],
    [plan.countersOffset, plan.countersOffset + plan.counterBlocks * plan.counterBlockBytes, 'counters'],
    [plan.poolOffset, plan.poolOffset + plan.poolBytes, 'pool'],
  ];
  for (const r of plan.rings) out.push([r.offset, r.offset + r.bytes, `ring ${r.id}`]);
  return out.sort((a, b) => a[0] - b[0]);
}

test('planArena is deterministic and lays regions out without overlap, aligned', () => {
  const plan = planArena(OPTIONS);
  assert.equal(planArena(OPTIONS), plan);
  const rs = regions(plan);
  for (let i = 1; i < rs.length; i++) assert.ok(rs[i]![0] >= rs[i - 1]![1], `${rs[i]![2]} overlaps ${rs[i - 1]![2]}`);
  assert.ok(rs[rs.length - 1]![1] <= plan.totalBytes);
  assert.is(plan.poolOffset % POOL_ALIGN, 0);
  assert.is(plan.countersOffset % FALSE_SHARING_SPAN, 0);
  assert.is(plan.counterBlockBytes % FALSE_SHARING_SPAN, 0);
  assert.ok(plan.counterBlockBytes >= Math.max(ENDPOINT_COUNTER_NAMES.length, POLLER_COUNTER_NAMES.length) * 8 + CACHE_LINE);
  for (const r of plan.rings) assert.is(r.offset % RING_ALIGN, 0);
});

test('planArena numbers endpoints, owners and rings as the directory documents', () => {
  const plan = planArena(OPTIONS);
  assert.is(plan.endpoints, 3);
  assert.is(plan.controlEndpoint, 2);
  assert.is(plan.owners, 5);
  assert.is(plan.rings.length, 2 * 3 * RING_KINDS);
  plan.rings.forEach((r, id) => {
    assert.is(r.id, id);
    assert.is(id, (r.poller * plan.endpoints + r.endpoint) * RING_KINDS + r.kind);
  });
  const ring = (kind: number, p: number, e: number) => plan.rings[(p * plan.endpoints + e) * RING_KINDS + kind]!;
  assert.is(ring(RING_KIND_RX, 1, 0).capacity, 1024);
  assert.is(ring(RING_KIND_TX, 1, 1).capacity, 512);
  assert.is(ring(RING_KIND_RX, 0, 2).capacity, 256, 'control rx ring');
  assert.is(ring(RING_KIND_TX, 0, 0).descWords, FRAME_DESC_WORDS);
  assert.is(ring(RING_KIND_FREE_TO_POLLER, 0, 0).descWords, FREE_DESC_WORDS);
  assert.is(plan.ownerSlots[3]!.kind, OWNER_KIND_POLLER);
  assert.is(plan.ownerSlots[3]!.index, 0);
  assert.is(plan.ownerSlots[2]!.kind, OWNER_KIND_ENDPOINT);
});

test('every slot has exactly one home and every free ring can hold all of its home', () => {
  for (const options of [OPTIONS, { ...OPTIONS, workers: 3, pollers: 1, poolSlots: 1001 }, { ...OPTIONS, poolSlots: 64 }]) {
    const plan = planArena(options);
    let next = 0;
    for (const o of plan.ownerSlots) {
      assert.is(o.firstSlot, next);
      assert.ok(o.slotCount >= 1);
      next += o.slotCount;
    }
    assert.is(next, plan.poolSlots);
    for (const r of plan.rings) {
      if (r.kind === RING_KIND_FREE_TO_POLLER) assert.ok(r.capacity >= plan.ownerSlots[plan.endpoints + r.poller]!.slotCount);
      if (r.kind === RING_KIND_FREE_TO_ENDPOINT) assert.ok(r.capacity >= plan.ownerSlots[r.endpoint]!.slotCount);
    }
  }
});

test('large buffers: runs after the ordinary slots, homed per worker and poller, found by the pool and the free rings', () => {
  const plan = planArena({ ...OPTIONS, workerLarge: 3, pollerLarge: 2 });
  assert.is(plan.smallSlots, OPTIONS.poolSlots);
  assert.is(plan.poolSlots, OPTIONS.poolSlots + (2 * 3 + 2 * 2) * LARGE_RUN_SLOTS);
  assert.is(plan.slotUnits, OPTIONS.poolSlots + 2 * 3 + 2 * 2);
  assert.is(plan.poolBytes, plan.poolSlots * SLOT_SIZE);
  assert.ok(LARGE_RUN_SLOTS * SLOT_SIZE - SLOT_HEADROOM >= LARGE_MAX_FRAME);
  let next = plan.smallSlots;
  for (const o of plan.ownerSlots) {
    const want = o.owner === plan.controlEndpoint ? 0 : o.kind === OWNER_KIND_POLLER ? 2 : 3;
    assert.is(o.largeCount, want, `owner ${o.owner}`);
    if (want > 0) {
      assert.is(o.largeFirst, next);
      next += want * LARGE_RUN_SLOTS;
    }
  }
  assert.is(next, plan.poolSlots);
  for (const r of plan.rings) {
    if (r.kind === RING_KIND_FREE_TO_POLLER) assert.ok(r.capacity >= plan.ownerSlots[plan.endpoints + r.poller]!.slotCount + 2);
    if (r.kind === RING_KIND_FREE_TO_ENDPOINT) assert.ok(r.capacity >= plan.ownerSlots[r.endpoint]!.slotCount + plan.ownerSlots[r.endpoint]!.largeCount);
  }
  const arena = attachArena(createArena(plan));
  assert.is(arena.plan.workerLarge, 3);
  const pool = arena.pool;
  for (const o of plan.ownerSlots) {
    for (let k = 0; k < o.largeCount; k++) {
      assert.is(pool.homeOf(o.largeFirst + k * LARGE_RUN_SLOTS), o.owner);
      assert.ok(pool.isHome(o.largeFirst + k * LARGE_RUN_SLOTS, o.owner));
    }
    assert.is(pool.largeFirstOf(o.owner), o.largeFirst);
    assert.is(pool.largeCountOf(o.owner), o.largeCount);
  }
  assert.is(pool.homeOf(plan.poolSlots), -1);
  // Without large buffers the plan is what it always was.
  const plain = planArena(OPTIONS);
  assert.is(plain.poolSlots, OPTIONS.poolSlots);
  assert.ok(plain.ownerSlots.every((o) => o.largeCount === 0));
});

test('planArena rejects bad options with the option name', () => {
  layoutError(() => planArena({ ...OPTIONS, workers: 0 }), /workers/);
  layoutError(() => planArena({ ...OPTIONS, pollers: 1.5 }), /pollers/);
  layoutError(() => planArena({ ...OPTIONS, rxRingCapacity: 1000 }), /rxRingCapacity/);
  layoutError(() => planArena({ ...OPTIONS, txRingCapacity: 1 }), /txRingCapacity/);
  layoutError(() => planArena({ ...OPTIONS, controlRingCapacity: 3 }), /controlRingCapacity/);
  layoutError(() => planArena({ ...OPTIONS, poolSlots: 4 }), /poolSlots/);
  layoutError(() => planArena({ ...OPTIONS, poolSlots: 3_000_000 }), /poolSlots/);
  layoutError(() => planArena({ ...OPTIONS, pollerSlots: 5000 }), /pollerSlots/);
});

test('createArena writes a directory that attachArena accepts in full', () => {
  const plan = planArena(OPTIONS);
  const sab = createArena(plan);
  assert.is(sab.byteLength, plan.totalBytes);
  const arena = attachArena(sab);
  assert.equal(arena.plan, plan);
  assert.equal(Array.from(new Uint32Array(sab, 0, plan.directoryBytes / 4)), Array.from(renderDirectory(plan)));
  assert.is(new Uint32Array(sab)[DIR_FINGERPRINT], LAYOUT_FINGERPRINT);
  for (const r of plan.rings) {
    const h = new Uint32Array(sab, r.offset, 16);
    assert.is(h[RING_HDR_CAPACITY], r.capacity);
  }
});

test('createArena over supplied memory checks its size and zeroes it', () => {
  const plan = planArena(OPTIONS);
  layoutError(() => createArena(plan, new SharedArrayBuffer(plan.totalBytes - 4096)), /needs/);
  const memory = new SharedArrayBuffer(plan.totalBytes);
  new Uint8Array(memory).fill(0xa5);
  const sab = createArena(plan, memory);
  assert.is(sab, memory);
  const arena = attachArena(sab);
  assert.is(arena.pool.bytes[0], 0);
  assert.is(arena.endpointCounters(0).get(0), 0);
});

test('attachArena refuses foreign, stale or damaged arenas', () => {
  const plan = planArena(OPTIONS);
  const damaged = (edit: (u32: Uint32Array) => void): SharedArrayBuffer => {
    const sab = createArena(plan);
    edit(new Uint32Array(sab));
    return sab;
  };
  layoutError(() => attachArena(new SharedArrayBuffer(16)), /smaller/);
  layoutError(() => attachArena(new ArrayBuffer(4096) as unknown as SharedArrayBuffer), /SharedArrayBuffer/);
  layoutError(() => attachArena(damaged((d) => (d[DIR_MAGIC] = 0))), /magic/);
  layoutError(() => attachArena(damaged((d) => (d[DIR_VERSION] = ARENA_VERSION + 1))), /version/);
  layoutError(() => attachArena(damaged((d) => (d[DIR_FINGERPRINT] ^= 1))), /fingerprint/);
  layoutError(() => attachArena(damaged((d) => (d[DIR_RX_RING_CAPACITY] = 2048))), /bytes/);
  layoutError(() => attachArena(damaged((d) => (d[DIR_RX_RING_CAPACITY] = 1000))), /invalid/);
  layoutError(() => attachArena(damaged((d) => (d[plan.ringTableOffset / 4 + 5 * 8 + RING_ENTRY_CAPACITY] = 64))), /ring table entry 5/);
  layoutError(() => attachArena(damaged((d) => (d[plan.rings[7]!.offset / 4 + RING_HDR_MAGIC] = 0))), /no ring header/);
  layoutError(() => attachArena(damaged((d) => (d[plan.rings[7]!.offset / 4 + 8] = 99))), /ring 7/);
  // Same plan, but a buffer of a different length.
  const longer = new SharedArrayBuffer(plan.totalBytes + 4096);
  new Uint8Array(longer).set(new Uint8Array(createArena(plan)));
  layoutError(() => attachArena(longer), /buffer has/);
});

test('ring ends handed out by the arena talk to each other', () => {
  const arena = attachArena(createArena(planArena(OPTIONS)));
  const ep = arena.endpointRings(1, 1);
  const pr = arena.pollerRings(1, 1);
  assert.ok(pr.rx.push(1, 2, 3, 4));
  const out = new Uint32Array(4);
  assert.ok(ep.rx.pop(out));
  assert.equal(Array.from(out), [1, 2, 3, 4]);
  assert.ok(ep.tx.push(5, 6, 7, 8));
  assert.ok(pr.tx.pop(out));
  assert.is(out[0], 5);
  assert.ok(ep.freeToPoller.push(9));
  assert.is(pr.freeFromEndpoint.popWord(), 9);
  assert.ok(pr.freeToEndpoint.push(10));
  assert.is(ep.freeFromPoller.popWord(), 10);
  // Other pairs are untouched.
  assert.is(arena.endpointRings(1, 0).rx.available(1), 0);
  assert.throws(() => arena.ring(RING_KINDS, 0, 0), RangeError);
  assert.throws(() => arena.ring(RING_KIND_RX, 2, 0), RangeError);
  assert.throws(() => arena.ring(RING_KIND_RX, 0, 3), RangeError);
});

test('the pool maps slots to bytes and to their homes', () => {
  const arena = attachArena(createArena(planArena(OPTIONS)));
  const pool = arena.pool;
  const plan = arena.plan;
  assert.is(pool.slotCount, plan.poolSlots);
  assert.is(pool.bytes.byteOffset, plan.poolOffset);
  assert.is(pool.bytes.length, plan.poolSlots * SLOT_SIZE);
  assert.is(pool.slotBase(3), 3 * SLOT_SIZE);
  assert.is(pool.slotOffset(3), 3 * SLOT_SIZE + SLOT_HEADROOM);
  for (const o of plan.ownerSlots) {
    assert.is(pool.homeOf(o.firstSlot), o.owner);
    assert.is(pool.homeOf(o.firstSlot + o.slotCount - 1), o.owner);
    assert.ok(pool.isHome(o.firstSlot, o.owner));
    assert.not.ok(pool.isHome(o.firstSlot + o.slotCount, o.owner));
    assert.is(pool.firstSlotOf(o.owner), o.firstSlot);
    assert.is(pool.slotCountOf(o.owner), o.slotCount);
  }
  assert.is(pool.homeOf(plan.poolSlots), -1);
  assert.is(pool.homeOf(-1), -1);
  assert.is(arena.ownerOfPoller(1), plan.endpoints + 1);
});

test('counters: endpoint float64 and poller uint64 blocks, by name, without overlap', () => {
  const arena = attachArena(createArena(planArena(OPTIONS)));
  const e0 = arena.endpointCounters(0);
  const e2 = arena.endpointCounters(2);
  const p1 = arena.pollerCounters(1);
  e0.inc(EndpointCounter.rx_frames);
  e0.add(EndpointCounter.rx_bytes, 1514);
  e0.add(EndpointCounter.rx_bytes, 2 ** 40);
  p1.add(PollerCounter.rx_drop_ring_full, 3);
  p1.add(PollerCounter.rx_bytes, 2 ** 52);
  assert.is(e0.get(EndpointCounter.rx_frames), 1);
  assert.is(e0.snapshot().rx_bytes, 2 ** 40 + 1514);
  assert.is(e2.get(EndpointCounter.rx_frames), 0);
  assert.is(p1.snapshot().rx_drop_ring_full, 3);
  assert.is(p1.get(PollerCounter.rx_bytes), 2 ** 52);
  assert.is(arena.pollerCounters(0).get(PollerCounter.rx_drop_ring_full), 0);
  assert.equal(Object.keys(e0.snapshot()), [...ENDPOINT_COUNTER_NAMES]);
  // Blocks are consecutive owners, a whole stride apart.
  assert.is(arena.counterOffset(1) - arena.counterOffset(0), arena.plan.counterBlockBytes);
});

test('the layout table holds every constant once and the fingerprint follows it', () => {
  const names = LAYOUT_CONSTANTS.map((c) => c.name);
  assert.is(new Set(names).size, names.length);
  for (const n of ['ARENA_MAGIC', 'DIR_POOL_OFFSET', 'RING_HDR_TAIL', 'DESC_FLAGS_SHIFT', 'SLOT_HEADROOM', 'ENDPOINT_CTR_RX_FRAMES', 'POLLER_CTR_TX_BYTES']) {
    assert.ok(names.includes(n), n);
  }
  assert.ok(LAYOUT_FINGERPRINT > 0);
});

test.run();
