// The owned-address table: what the control thread writes is what readers
// see, a reader refreshes only when the version moved, and port ranges count.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createOwnedTable, OwnedAddresses, writeOwned, OWNED_VERSION } from '../../../dataplane/owned.js';

const IP = (n: number): number => (0xc6120000 | n) >>> 0;

test('readers see every rewrite, by address and by port', () => {
  const sab = createOwnedTable();
  const r = new OwnedAddresses(sab);
  assert.not.ok(r.holds(IP(1)));
  writeOwned(sab, [{ ip: IP(1), lo: 0, hi: 65535 }, { ip: IP(2), lo: 1024, hi: 2047 }]);
  assert.ok(r.holds(IP(1)));
  assert.ok(r.holds(IP(2)));
  assert.ok(r.holdsPort(IP(2), 1024) && r.holdsPort(IP(2), 2047));
  assert.not.ok(r.holdsPort(IP(2), 80));
  assert.equal(r.list(), [{ ip: IP(1), lo: 0, hi: 65535, draining: false }, { ip: IP(2), lo: 1024, hi: 2047, draining: false }]);
  writeOwned(sab, [{ ip: IP(2), lo: 0, hi: 65535 }]);
  assert.not.ok(r.holds(IP(1)), 'a yielded address is gone at the next lookup');
  assert.ok(r.holds(IP(2)));
  writeOwned(sab, []);
  assert.not.ok(r.holds(IP(2)));
});

test('a draining address is still held (its connections are served) and says it drains; the next rewrite decides again', () => {
  const sab = createOwnedTable();
  const r = new OwnedAddresses(sab);
  writeOwned(sab, [{ ip: IP(1), lo: 0, hi: 65535, draining: true }, { ip: IP(2), lo: 0, hi: 65535 }]);
  assert.ok(r.holds(IP(1)) && r.holdsPort(IP(1), 80));
  assert.ok(r.draining(IP(1)));
  assert.not.ok(r.draining(IP(2)));
  assert.not.ok(r.draining(IP(3)), 'not held: not draining either');
  writeOwned(sab, [{ ip: IP(1), lo: 0, hi: 65535 }]);
  assert.not.ok(r.draining(IP(1)));
});

test('the version is even between writes (the seqlock is closed)', () => {
  const sab = createOwnedTable();
  for (let i = 0; i < 5; i++) writeOwned(sab, [{ ip: IP(i), lo: 0, hi: 65535 }]);
  assert.is(Atomics.load(new Int32Array(sab), OWNED_VERSION), 10);
});

test.run();
