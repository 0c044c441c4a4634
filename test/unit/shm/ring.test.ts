import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  RingConsumer,
  RingProducer,
  formatRing,
  readRingFormat,
  resetRing,
  ringBytes,
  ringInFlight,
  ringWord0s,
} from '../../../shm/ring.js';
import {
  DESC_FLAG_CSUM_OK,
  DESC_FLAG_HASH_VALID,
  FRAME_DESC_WORDS,
  RING_HDR_HEAD,
  RING_HDR_TAIL,
  RING_HEADER_BYTES,
  descData,
  descFlags,
  descLength,
  descMeta,
  descOffset,
  descPort,
} from '../../../shm/layout.js';
import { ShmLayoutError } from '../../../shm/errors.js';
import { runWorkers } from './run-workers.js';
import type { SeqJob, SeqResult } from './ring-worker.js';

function ring(capacity: number, descWords = FRAME_DESC_WORDS, start = 0): { sab: SharedArrayBuffer; p: RingProducer; c: RingConsumer } {
  const sab = new SharedArrayBuffer(ringBytes(capacity, descWords));
  formatRing(sab, 0, { capacity, descWords });
  if (start !== 0) resetRing(sab, 0, start);
  return { sab, p: new RingProducer(sab, 0), c: new RingConsumer(sab, 0) };
}

function layoutError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ShmLayoutError);
    assert.is((err as ShmLayoutError).code, 'BATON_ERR_SHM_LAYOUT');
    return;
  }
  assert.unreachable('expected a ShmLayoutError');
}

function headerWord(sab: SharedArrayBuffer, word: number): number {
  return new Uint32Array(sab, 0, RING_HEADER_BYTES / 4)[word]!;
}

test('capacity that is not a power of two is rejected', () => {
  for (const capacity of [0, 1, 3, 6, 1000, 2 ** 25, 2.5, -4]) {
    const sab = new SharedArrayBuffer(1 << 16);
    layoutError(() => formatRing(sab, 0, { capacity, descWords: 4 }));
  }
});

test('descriptor words other than 1, 2 or 4, misaligned offsets and overruns are rejected', () => {
  const sab = new SharedArrayBuffer(ringBytes(8, 4) + 128);
  layoutError(() => formatRing(sab, 0, { capacity: 8, descWords: 3 }));
  layoutError(() => formatRing(sab, 64, { capacity: 8, descWords: 4 }));
  layoutError(() => formatRing(sab, 256, { capacity: 8, descWords: 4 }));
});

test('attaching to bytes that are not a ring header fails with a layout error', () => {
  const sab = new SharedArrayBuffer(4096);
  layoutError(() => new RingProducer(sab, 0));
  layoutError(() => new RingConsumer(sab, 0));
});

test('formatRing records the config line', () => {
  const sab = new SharedArrayBuffer(ringBytes(16, 1));
  formatRing(sab, 0, { capacity: 16, descWords: 1, kind: 3, poller: 2, endpoint: 5, id: 77 });
  assert.equal(readRingFormat(sab, 0), { capacity: 16, descWords: 1, kind: 3, poller: 2, endpoint: 5, id: 77 });
});

test('an empty ring has nothing available and all of its capacity free', () => {
  const { p, c } = ring(8);
  assert.is(c.available(32), 0);
  assert.is(c.popWord(), -1);
  assert.not.ok(c.pop(new Uint32Array(4)));
  assert.is(p.reserve(32), 8);
  assert.is(p.reserve(5), 5);
  assert.is(p.inFlight(), 0);
});

test('a full ring reserves nothing until the consumer releases', () => {
  const { p, c } = ring(8);
  assert.is(p.reserve(100), 8);
  p.commit(8);
  assert.is(p.reserve(1), 0);
  assert.not.ok(p.push(1, 2, 3, 4));
  assert.is(c.available(100), 8);
  c.release(3);
  assert.is(p.reserve(100), 3);
  assert.is(p.inFlight(), 5);
});

test('batch reserve is partial when fewer slots are free', () => {
  const { p, c } = ring(8);
  assert.is(p.reserve(5), 5);
  p.commit(5);
  assert.is(p.reserve(32), 3);
  assert.is(c.available(2), 2);
  c.release(2);
  assert.is(p.reserve(32), 5);
  assert.is(c.available(32), 3);
});

test('descriptors come out in order with all four words across many laps', () => {
  const { p, c } = ring(8);
  const out = new Uint32Array(4);
  let next = 0;
  let expect = 0;
  for (let round = 0; round < 100; round++) {
    const n = p.reserve((round % 7) + 1);
    for (let i = 0; i < n; i++) {
      const x = p.index(i);
      p.desc[x] = next;
      p.desc[x + 1] = next + 1;
      p.desc[x + 2] = next + 2;
      p.desc[x + 3] = 0xffff_ffff - next;
      next++;
    }
    p.commit(n);
    const m = c.available((round % 5) + 1);
    for (let i = 0; i < m; i++) {
      const x = c.index(i);
      assert.equal([c.desc[x], c.desc[x + 1], c.desc[x + 2], c.desc[x + 3]], [expect, expect + 1, expect + 2, 0xffff_ffff - expect]);
      expect++;
    }
    c.release(m);
  }
  while (c.pop(out)) {
    assert.equal(Array.from(out), [expect, expect + 1, expect + 2, 0xffff_ffff - expect]);
    expect++;
  }
  assert.is(expect, next);
});

test('push and popWord on a one-word ring', () => {
  const { p, c } = ring(4, 1);
  assert.ok(p.push(11));
  assert.ok(p.push(0xffff_ffff));
  assert.is(c.popWord(), 11);
  assert.is(c.popWord(), 0xffff_ffff);
  assert.is(c.popWord(), -1);
});

test('two-word descriptors', () => {
  const { p, c } = ring(4, 2);
  const out = new Uint32Array(2);
  assert.ok(p.push(7, 8, 99, 99));
  assert.ok(c.pop(out));
  assert.equal(Array.from(out), [7, 8]);
});

test('the u32 head and tail wrap past 2^32', () => {
  const start = 0xffff_fff0;
  const { sab, p, c } = ring(16, 4, start);
  let next = 0;
  let expect = 0;
  for (let round = 0; round < 20; round++) {
    const n = p.reserve(5);
    for (let i = 0; i < n; i++) p.desc[p.index(i)] = next++;
    p.commit(n);
    assert.is(ringInFlight(sab, 0), next - expect);
    const m = c.available(3);
    for (let i = 0; i < m; i++) assert.is(c.desc[c.index(i)], expect++);
    c.release(m);
  }
  assert.ok(next > 16, 'crossed 2^32');
  assert.is(headerWord(sab, RING_HDR_HEAD), (start + next) % 2 ** 32);
  assert.is(headerWord(sab, RING_HDR_TAIL), (start + expect) % 2 ** 32);
  assert.ok(headerWord(sab, RING_HDR_HEAD) < 100, 'head wrapped to a small number');
  // Full and empty are still told apart right at the wrap.
  const free = p.reserve(100);
  p.commit(free);
  assert.is(p.reserve(1), 0);
  assert.is(c.available(100), 16);
  assert.is(ringWord0s(sab, 0).length, 16);
});

test('commit beyond the reservation and release beyond what is available throw', () => {
  const { p, c } = ring(4);
  p.commit(p.reserve(4));
  assert.throws(() => p.commit(1), RangeError);
  assert.is(c.available(2), 2);
  c.release(4); // fine: available() refreshed the cached head, which has seen all four
  assert.throws(() => c.release(1), RangeError);
});

test('a consumer attached later sees what was already published', () => {
  const { sab, p } = ring(8);
  p.push(41);
  p.push(42);
  const late = new RingConsumer(sab, 0);
  assert.is(late.available(8), 2);
  assert.is(late.popWord(), 41);
  const again = new RingConsumer(sab, 0);
  assert.is(again.popWord(), 42);
});

test('a head more than capacity ahead is reported as corruption', () => {
  const { sab, c } = ring(8);
  new Int32Array(sab, 0, RING_HEADER_BYTES / 4)[RING_HDR_HEAD] = 100;
  layoutError(() => c.available(1));
});

test('ringWord0s lists word 0 of what is in flight, oldest first', () => {
  const { sab, p, c } = ring(4, 1);
  for (const w of [5, 6, 7]) p.push(w);
  c.popWord();
  p.push(8);
  p.push(9);
  assert.equal(ringWord0s(sab, 0), [6, 7, 8, 9]);
});

test('descriptor fields pack and unpack at their limits', () => {
  const meta = descMeta(0xffff, 0xff, 0xff);
  assert.is(meta, 0xffff_ffff);
  assert.is(descLength(meta), 0xffff);
  assert.is(descPort(meta), 0xff);
  assert.is(descFlags(meta), 0xff);
  const m2 = descMeta(1514, 3, DESC_FLAG_CSUM_OK | DESC_FLAG_HASH_VALID);
  assert.is(descLength(m2), 1514);
  assert.is(descPort(m2), 3);
  assert.is(descFlags(m2), DESC_FLAG_CSUM_OK | DESC_FLAG_HASH_VALID);
  // Out-of-range inputs are truncated to their field, never bleed into the next.
  assert.is(descMeta(0x1_0005, 0x102, 0), descMeta(5, 2, 0));
  assert.is(descOffset(descData(112)), 112);
  assert.is(descData(0x1_0001), 1);
});

test('worker threads move 24 M descriptors in bursts of 32 in strict sequence across the u32 wrap', async () => {
  const capacity = 4096;
  const sab = new SharedArrayBuffer(ringBytes(capacity, FRAME_DESC_WORDS));
  formatRing(sab, 0, { capacity, descWords: FRAME_DESC_WORDS });
  resetRing(sab, 0, 0xffff_0000);
  const total = 24_000_000;
  const deadline = Date.now() + 60_000;
  const base = { sab, offset: 0, total, bursts: [32], deadline };
  const results = await runWorkers<SeqResult>(
    [{ ...base, role: 'seq-consumer' } satisfies SeqJob, { ...base, role: 'seq-producer' } satisfies SeqJob],
    60_000,
  );
  assert.equal(results.map((r) => r.items), [total, total]);
  assert.is(ringInFlight(sab, 0), 0);
  assert.is(headerWord(sab, RING_HDR_HEAD), (0xffff_0000 + total) % 2 ** 32);
});

test('worker threads through a tiny ring with uneven bursts keep the sequence', async () => {
  const sab = new SharedArrayBuffer(ringBytes(16, FRAME_DESC_WORDS));
  formatRing(sab, 0, { capacity: 16, descWords: FRAME_DESC_WORDS });
  resetRing(sab, 0, -5);
  const total = 300_000;
  const deadline = Date.now() + 60_000;
  const results = await runWorkers<SeqResult>(
    [
      { sab, offset: 0, total, bursts: [3, 1, 13], deadline, role: 'seq-consumer' } satisfies SeqJob,
      { sab, offset: 0, total, bursts: [7, 2, 32, 1], deadline, role: 'seq-producer' } satisfies SeqJob,
    ],
    60_000,
  );
  assert.equal(results.map((r) => r.items), [total, total]);
});

test.run();
