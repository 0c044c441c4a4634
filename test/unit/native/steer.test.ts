// The native poller steers by the same symmetric flow hash the workers key
// their flow tables by: the C port (native/src/steer.h) must agree with
// dataplane/net/flow-hash.ts bit for bit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../../native/addon.js';
import { flowHash, FLOW_HASH_SEED } from '../../../dataplane/net/flow-hash.js';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

test('C flow hash equals the TypeScript flow hash on 20,000 random tuples, both directions', () => {
  const seed = Number(process.env['BATON_TEST_SEED'] ?? 0x5eed);
  const rnd = mulberry32(seed);
  for (let i = 0; i < 20_000; i++) {
    const a = rnd();
    const b = i % 7 === 0 ? a : rnd(); // equal addresses exercise the port tie-break
    const sp = rnd() & 0xffff;
    const dp = rnd() & 0xffff;
    const proto = [1, 6, 17][i % 3]!;
    const ts = flowHash(a, b, sp, dp, proto);
    const c = native.flowHash(a, b, sp, dp, proto, FLOW_HASH_SEED);
    if (c !== ts) assert.unreachable(`seed ${seed} tuple ${a},${b},${sp},${dp},${proto}: C ${c} TS ${ts}`);
    assert.is(native.flowHash(b, a, dp, sp, proto, FLOW_HASH_SEED), c);
  }
});

test.run();
