// Which address changes start a worker's quiet period (no RST to segments of
// unknown connections): a takeover, and a failback of a restarted node's own
// address — not the boot of a node that holds its address at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { quietOnGain } from '../../../dataplane/worker.js';

const A = 0xc6120001;
const B = 0xc6120002;

test('boot: a home address held at the first look is no takeover; nothing gained is quiet neither', () => {
  assert.not.ok(quietOnGain([A], [], [A], true));
  assert.not.ok(quietOnGain([], [], [A], true));
  assert.not.ok(quietOnGain([A], [A], [A], false));
});

test('takeover: another node’s address gained is quiet, at any look', () => {
  assert.ok(quietOnGain([A, B], [A], [A], false));
  assert.ok(quietOnGain([B], [], [A], true));
});

test('failback: a restarted node’s home address gained after its first look is quiet (the backup’s records are still coming)', () => {
  assert.ok(quietOnGain([A], [], [A], false));
});

test.run();
