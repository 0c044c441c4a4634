import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRandom, testSeed, withSeed } from '../net/seeded-random.js';
import { FlowTable } from '../../../dataplane/flow-table.js';
import { flowHash } from '../../../dataplane/net/flow-hash.js';

interface Tuple { s: number; d: number; sp: number; dp: number; p: number }
const h = (t: Tuple): number => flowHash(t.s, t.d, t.sp, t.dp, t.p);

test('both directions of a flow find one entry; direction is reported', () => {
  const ft = new FlowTable(8);
  const id = ft.lookupOrInsert(flowHash(5, 9, 1000, 80, 6), 5, 9, 1000, 80, 6);
  assert.is(ft.forward, true);
  assert.is(ft.lookup(flowHash(9, 5, 80, 1000, 6), 9, 5, 80, 1000, 6), id);
  assert.is(ft.forward, false);
  assert.is(ft.lookup(flowHash(5, 9, 1000, 80, 17), 5, 9, 1000, 80, 17), -1, 'protocol is part of the key');
});

test('a full table refuses new flows and keeps the old ones', () => {
  const ft = new FlowTable(4);
  for (let i = 0; i < 4; i++) assert.ok(ft.lookupOrInsert(flowHash(1, 2, i, 9, 17), 1, 2, i, 9, 17) >= 0);
  assert.is(ft.lookupOrInsert(flowHash(1, 2, 99, 9, 17), 1, 2, 99, 9, 17), -1);
  assert.is(ft.size, 4);
});

test('idLimit: every id in use is below it, and reused ids keep it at the peak', () => {
  const ft = new FlowTable(64);
  assert.is(ft.idLimit, 0);
  const ids: number[] = [];
  for (let i = 0; i < 10; i++) ids.push(ft.lookupOrInsert(flowHash(1, 2, i, 9, 6), 1, 2, i, 9, 6));
  assert.is(ft.idLimit, 10);
  for (let i = 0; i < 10; i++) ft.remove(flowHash(1, 2, i, 9, 6), 1, 2, i, 9, 6);
  for (let i = 100; i < 105; i++) assert.ok(ft.lookupOrInsert(flowHash(1, 2, i, 9, 6), 1, 2, i, 9, 6) < 10);
  assert.is(ft.idLimit, 10);
  for (const id of ids) assert.ok(id < ft.idLimit);
});

test('random insert/remove churn matches a Map model', () => {
  withSeed('flow table churn', testSeed(), (r: SeededRandom) => churn(() => r.u32()));
});

function churn(rnd: () => number): void {
  const ft = new FlowTable(2000);
  const model = new Map<string, number>();
  const pool: Tuple[] = [];
  for (let i = 0; i < 3000; i++) pool.push({ s: rnd() & 0xff, d: rnd() & 0xff, sp: rnd() & 0x3f, dp: 80, p: 6 });
  const key = (t: Tuple): string => {
    const fwd = t.s < t.d || (t.s === t.d && t.sp <= t.dp);
    return fwd ? `${t.s},${t.d},${t.sp},${t.dp}` : `${t.d},${t.s},${t.dp},${t.sp}`;
  };
  for (let step = 0; step < 100_000; step++) {
    const t = pool[rnd() % pool.length]!;
    const k = key(t);
    if (rnd() % 3 === 0) {
      const id = ft.remove(h(t), t.s, t.d, t.sp, t.dp, t.p);
      assert.is(id, model.get(k) ?? -1, `step ${step}: remove`);
      model.delete(k);
    } else {
      const id = ft.lookupOrInsert(h(t), t.s, t.d, t.sp, t.dp, t.p);
      if (model.has(k)) assert.is(id, model.get(k), `step ${step}: lookup`);
      else if (id >= 0) model.set(k, id);
      else assert.is(model.size, 2000, 'refused only when full');
    }
    assert.is(ft.size, model.size);
  }
  for (const [k, id] of model) {
    const [s, d, sp, dp] = k.split(',').map(Number) as [number, number, number, number];
    assert.is(ft.lookup(flowHash(s, d, sp, dp, 6), s, d, sp, dp, 6), id);
  }
}

test.run();
