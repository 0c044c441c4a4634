// The timing wheel: every deadline fires once, at the first advance whose
// tick has reached it, in tick order, whether it sits in the near level, the
// far level or beyond the far level's span; earliest() is exact at all times.
// A seeded random workload is checked against a plain list of deadlines.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TimerWheel, type TimerSink } from '../../../dataplane/tcp/timers.js';

class Recorder implements TimerSink {
  fired: { id: number; now: number }[] = [];
  onTimer(id: number, now: number): void {
    this.fired.push({ id, now });
  }
}

/** xorshift32: reproducible. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

test('near, far and beyond-far deadlines fire at their tick, in order', () => {
  const w = new TimerWheel(16);
  const r = new Recorder();
  const dues = [5, 4095, 4096, 4097, 9000, 70_000, 2_200_000, 2_200_001, 7_200_000];
  dues.forEach((d, i) => w.schedule(i, d, 0));
  assert.is(w.size, dues.length);
  assert.is(w.earliest(), 5);
  let now = 0;
  while (w.size > 0) {
    now += 997;
    w.advance(now, r);
  }
  assert.equal(r.fired.map((f) => f.id), dues.map((_, i) => i));
  for (const f of r.fired) assert.ok(f.now >= dues[f.id]! && f.now - dues[f.id]! < 997, `id ${f.id} fired at ${f.now}`);
});

test('earliest() finds a far deadline behind wrapped later laps', () => {
  const w = new TimerWheel(8);
  const turnMs = 4096;
  const lapMs = 512 * turnMs;
  // Same far bucket: one lap later first, the proper one second.
  w.schedule(0, 3 * turnMs + 10 + lapMs, 0);
  w.schedule(1, 5 * turnMs + 1, 0);
  w.schedule(2, 3 * turnMs + 20, 0);
  assert.is(w.earliest(), 3 * turnMs + 20);
  w.cancel(2);
  assert.is(w.earliest(), 5 * turnMs + 1);
  w.cancel(1);
  assert.is(w.earliest(), 3 * turnMs + 10 + lapMs);
  w.cancel(0);
  assert.is(w.earliest(), Infinity);
});

test('a handler that schedules at or before now fires in the same advance, never a turn late', () => {
  const w = new TimerWheel(4);
  const again = new (class implements TimerSink {
    fired: number[] = [];
    onTimer(id: number, now: number): void {
      this.fired.push(id);
      if (id === 0) w.schedule(1, now - 3, now);
      if (id === 1 && this.fired.length < 3) w.schedule(2, Math.floor(now), now);
    }
  })();
  w.schedule(0, 10, 0);
  w.advance(12.5, again);
  w.advance(13, again);
  assert.equal(again.fired, [0, 1, 2]);
  assert.is(w.size, 0);
});

test('an advance more than a turn late fires everything overdue once and keeps the rest', () => {
  const w = new TimerWheel(8);
  const r = new Recorder();
  w.schedule(0, 100, 0);
  w.schedule(1, 5000, 0);
  w.schedule(2, 20_000, 0);
  w.schedule(3, 30_000, 0);
  w.advance(25_000, r);
  assert.equal(r.fired.map((f) => f.id).sort((a, b) => a - b), [0, 1, 2]);
  assert.is(w.earliest(), 30_000);
  w.advance(29_999, r);
  assert.is(r.fired.length, 3);
  w.advance(30_000, r);
  assert.is(r.fired[3]!.id, 3);
});

test('random schedule/cancel/advance against a plain list: exact firing and earliest()', () => {
  const N = 300;
  for (const seed of [1, 7, 42, 1234]) {
    const rand = rng(seed);
    const w = new TimerWheel(N);
    const due = new Map<number, number>();
    let now = 1000;
    const sink = new (class implements TimerSink {
      onTimer(id: number, at: number): void {
        const d = due.get(id);
        assert.ok(d !== undefined, `seed ${seed}: id ${id} fired but was not scheduled`);
        assert.ok(Math.ceil(d!) <= Math.floor(at), `seed ${seed}: id ${id} due ${d} fired early at ${at}`);
        due.delete(id);
      }
    })();
    for (let step = 0; step < 20_000; step++) {
      const op = rand();
      const id = Math.floor(rand() * N);
      if (op < 0.5) {
        // Deadlines from 1 ms to 2 hours out, most of them short.
        const r = rand();
        const ahead = r < 0.6 ? 1 + rand() * 300 : r < 0.85 ? 1 + rand() * 10_000 : r < 0.97 ? 60_000 : 1 + rand() * 7_200_000;
        const d = now + ahead;
        w.schedule(id, d, now);
        due.set(id, d);
      } else if (op < 0.65) {
        w.cancel(id);
        due.delete(id);
      } else {
        const r = rand();
        now += r < 0.9 ? rand() * 5 : r < 0.99 ? rand() * 5000 : rand() * 100_000;
        w.advance(now, sink);
        for (const [i, d] of due) assert.ok(Math.ceil(d) > Math.floor(now), `seed ${seed}: id ${i} due ${d} not fired by ${now}`);
      }
      let min = Infinity;
      for (const d of due.values()) if (d < min) min = d;
      assert.is(w.earliest(), min, `seed ${seed} step ${step}`);
      assert.is(w.size, due.size);
    }
  }
});

test.run();
