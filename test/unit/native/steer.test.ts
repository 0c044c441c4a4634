// The native poller steers by the same symmetric flow hash the workers key
// their flow tables by: the C port (native/src/steer.h) must agree with
// dataplane/net/flow-hash.ts bit for bit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRandom, testSeed, withSeed } from '../net/seeded-random.js';
import { native } from '../../../native/addon.js';
import { flowHash, FLOW_HASH_SEED } from '../../../dataplane/net/flow-hash.js';
import { MIRROR_ETHERTYPE } from '../../../dataplane/mirror.js';

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

/** An Ethernet + IPv4 + TCP header for a tuple (enough for the classifier). */
function tcpFrame(src: number, dst: number, sp: number, dp: number, ethertype = 0x0800): Uint8Array {
  const f = new Uint8Array(54);
  f[12] = ethertype >>> 8;
  f[13] = ethertype & 0xff;
  f[14] = 0x45;
  f[23] = 6;
  new DataView(f.buffer).setUint32(26, src);
  new DataView(f.buffer).setUint32(30, dst);
  new DataView(f.buffer).setUint16(34, sp);
  new DataView(f.buffer).setUint16(36, dp);
  return f;
}

function mirror(inner: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + inner.length);
  f[12] = MIRROR_ETHERTYPE >>> 8;
  f[13] = MIRROR_ETHERTYPE & 0xff;
  f.set(inner, 14);
  return f;
}

test('a mirror frame is steered by its inner frame’s flow hash (to the worker holding the shadow); nested or non-IPv4 inner frames are dropped', () => {
  const a = 0xc6120001;
  const b = 0xc6120065;
  const plain = native.steerClassify(tcpFrame(b, a, 40000, 80), FLOW_HASH_SEED);
  assert.equal(plain, [0, flowHash(b, a, 40000, 80, 6)]);
  assert.equal(native.steerClassify(mirror(tcpFrame(b, a, 40000, 80)), FLOW_HASH_SEED), plain);
  // The other direction of the same connection lands on the same worker.
  assert.equal(native.steerClassify(mirror(tcpFrame(a, b, 80, 40000)), FLOW_HASH_SEED)[1], plain[1]);
  assert.is(native.steerClassify(mirror(mirror(tcpFrame(b, a, 40000, 80))), FLOW_HASH_SEED)[0], 2);
  assert.is(native.steerClassify(mirror(tcpFrame(b, a, 1, 2, 0x0806)), FLOW_HASH_SEED)[0], 2, 'no ARP through a mirror');
  assert.is(native.steerClassify(mirror(new Uint8Array(10)), FLOW_HASH_SEED)[0], 2, 'truncated');
});

test.run();
