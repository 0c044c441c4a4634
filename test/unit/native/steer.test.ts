// The native poller steers by the same symmetric flow hash the workers key
// their flow tables by: the C port (native/src/steer.h) must agree with
// dataplane/net/flow-hash.ts bit for bit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRandom, testSeed, withSeed } from '../net/seeded-random.js';
import { native } from '../../../native/addon.js';
import { flowHash, FLOW_HASH_SEED } from '../../../dataplane/net/flow-hash.js';

test('C flow hash equals the TypeScript flow hash on 20,000 random tuples, both directions', () => {
  withSeed('flow hash C vs TS', testSeed(), (rnd: SeededRandom) => {
    for (let i = 0; i < 20_000; i++) {
      const a = rnd.u32();
      const b = i % 7 === 0 ? a : rnd.u32(); // equal addresses exercise the port tie-break
      const sp = rnd.u32() & 0xffff;
      const dp = rnd.u32() & 0xffff;
      const proto = [1, 6, 17][i % 3]!;
      const c = native.flowHash(a, b, sp, dp, proto, FLOW_HASH_SEED);
      assert.is(c, flowHash(a, b, sp, dp, proto), `tuple ${a},${b},${sp},${dp},${proto}`);
      assert.is(native.flowHash(b, a, dp, sp, proto, FLOW_HASH_SEED), c);
    }
  });
});

test.run();
