import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SlotStack, censusSlots } from '../../../shm/pool.js';
import { RingConsumer, RingProducer, formatRing, ringBytes, ringWord0s } from '../../../shm/ring.js';
import { attachArena, createArena, planArena } from '../../../shm/arena.js';
import { RING_KIND_FREE_TO_ENDPOINT, RING_KIND_FREE_TO_POLLER, RING_KIND_RX, RING_KIND_TX } from '../../../shm/layout.js';
import { EndpointCounter, PollerCounter } from '../../../shm/counters.js';
import { runWorkers } from './run-workers.js';
import type { PoolJob, PoolResult } from './ring-worker.js';

test('SlotStack is a LIFO that refuses a double free', () => {
  const s = new SlotStack(3);
  assert.is(s.pop(), -1);
  s.pushRange(10, 3);
  assert.is(s.size, 3);
  assert.is(s.pop(), 10, 'pushRange leaves the first slot on top');
  s.push(10);
  assert.throws(() => s.push(99), /freed twice/);
  assert.equal(s.toArray().sort(), [10, 11, 12]);
});

test('SlotStack drains to and refills from a free ring in batches', () => {
  const sab = new SharedArrayBuffer(ringBytes(8, 1));
  formatRing(sab, 0, { capacity: 8, descWords: 1 });
  const p = new RingProducer(sab, 0);
  const c = new RingConsumer(sab, 0);
  const a = new SlotStack(16);
  const b = new SlotStack(16);
  a.pushRange(0, 12);
  assert.is(a.drainTo(p, 100), 8, 'limited by the ring');
  assert.is(a.size, 4);
  assert.is(a.drainTo(p, 100), 0);
  assert.is(b.refillFrom(c, 5), 5);
  assert.is(b.refillFrom(c, 100), 3);
  assert.is(b.refillFrom(c, 100), 0);
  assert.equal(censusSlots(12, [a.toArray(), b.toArray(), ringWord0s(sab, 0)]).missing, []);
  const tight = new SlotStack(2);
  a.drainTo(p, 4);
  assert.is(tight.refillFrom(c, 100), 2, 'limited by the stack');
});

test('censusSlots finds leaks, double holdings and bad indices', () => {
  const ok = censusSlots(6, [[0, 1], [2, 3, 4], [5]]);
  assert.equal(ok, { seen: 6, missing: [], duplicated: [], invalid: [] });
  const bad = censusSlots(6, [[0, 1, 1], [3, 7, -1]]);
  assert.equal(bad.missing, [2, 4, 5]);
  assert.equal(bad.duplicated, [1]);
  assert.equal(bad.invalid, [7, -1]);
});

test('worker threads pass slots both ways with payload checks and leak nothing', async () => {
  // Small homes so slots are recycled thousands of times.
  const plan = planArena({ workers: 1, pollers: 1, rxRingCapacity: 64, txRingCapacity: 64, poolSlots: 512, controlSlots: 32, pollerSlots: 128 });
  const sab = createArena(plan);
  const frames = 400_000;
  const deadline = Date.now() + 60_000;
  const base = { sab, frames, endpoint: 0, poller: 0, deadline };
  const [ep, poller] = await runWorkers<PoolResult>(
    [{ ...base, role: 'pool-endpoint' } satisfies PoolJob, { ...base, role: 'pool-poller' } satisfies PoolJob],
    60_000,
  );
  assert.is(ep!.frames, frames);
  assert.is(poller!.frames, frames);

  const arena = attachArena(sab);
  const ring = (kind: number) => ringWord0s(sab, arena.ringOffset(kind, 0, 0));
  assert.equal(ring(RING_KIND_RX), [], 'rx ring drained');
  assert.equal(ring(RING_KIND_TX), [], 'tx ring drained');
  // The control endpoint took no part: its home slots are still its own.
  const ctl = arena.ownerOfEndpoint(plan.controlEndpoint);
  const control = Array.from({ length: arena.pool.slotCountOf(ctl) }, (_, i) => arena.pool.firstSlotOf(ctl) + i);
  const census = censusSlots(plan.poolSlots, [
    ep!.stack,
    poller!.stack,
    control,
    ring(RING_KIND_FREE_TO_POLLER),
    ring(RING_KIND_FREE_TO_ENDPOINT),
  ]);
  assert.equal(census, { seen: plan.poolSlots, missing: [], duplicated: [], invalid: [] });
  assert.is(arena.endpointCounters(0).get(EndpointCounter.rx_frames), frames);
  assert.is(arena.endpointCounters(0).get(EndpointCounter.tx_frames), frames);
  assert.is(arena.pollerCounters(0).get(PollerCounter.rx_frames), frames);
  assert.is(arena.pollerCounters(0).get(PollerCounter.tx_frames), frames);
});

test.run();
