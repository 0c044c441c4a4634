// The native heartbeat engine's MAC (native/src/sha256.cc) must equal
// node:crypto's HMAC-SHA256 bit for bit: JS seals and opens the same frames.
import { createHmac } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../../native/addon.js';
import { SeededRandom, testSeed, withSeed } from '../net/seeded-random.js';

test('native HMAC-SHA256 equals node:crypto for keys of 1..100 bytes and messages of 0..300 bytes', () => {
  withSeed('hmac C vs node', testSeed(), (rnd: SeededRandom) => {
    for (let i = 0; i < 2000; i++) {
      const key = Uint8Array.from({ length: 1 + (rnd.u32() % 100) }, () => rnd.u32() & 0xff);
      const data = Uint8Array.from({ length: rnd.u32() % 301 }, () => rnd.u32() & 0xff);
      const want = new Uint8Array(createHmac('sha256', key).update(data).digest());
      assert.equal(native.hmacSha256(key, data), want, `key ${key.length} B, data ${data.length} B`);
    }
  });
});

test('RFC 4231 test case 2 (key "Jefe")', () => {
  const mac = native.hmacSha256(new TextEncoder().encode('Jefe'), new TextEncoder().encode('what do ya want for nothing?'));
  assert.is(Buffer.from(mac).toString('hex'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
});

test('monotonicMs is CLOCK_MONOTONIC in ms (the clock of process.hrtime)', () => {
  const [s, ns] = process.hrtime();
  const d = native.monotonicMs() - (s * 1000 + ns / 1e6);
  assert.ok(d >= 0 && d < 50, `differs by ${d} ms`);
});

test.run();
