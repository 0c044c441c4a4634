import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REASON_COUNT, Reason, reasonName } from '../../../dataplane/net/reason.js';

test('codes are dense 0..REASON_COUNT-1 and unique, OK is 0', () => {
  const codes = Object.values(Reason).sort((a, b) => a - b);
  assert.equal(codes, Array.from({ length: codes.length }, (_, i) => i));
  assert.is(REASON_COUNT, codes.length);
  assert.is(Reason.OK, 0);
});

test('reasonName names every code after its key, UNKNOWN otherwise', () => {
  for (const [key, code] of Object.entries(Reason)) assert.is(reasonName(code), key);
  assert.is(reasonName(REASON_COUNT), 'UNKNOWN');
  assert.is(reasonName(-1), 'UNKNOWN');
  assert.is(reasonName(1.5), 'UNKNOWN');
});

test.run();
