// echo and discard on the in-memory socket: nothing lost or repeated under
// backpressure, and a moved connection continues from `state` alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { echo } from '../../../dataplane/app/echo.js';
import { discard } from '../../../dataplane/app/discard.js';
import { AppConfigError } from '../../../dataplane/app/api.js';
import { SeededRandom, testSeed, withSeed } from '../net/seeded-random.js';
import { LoopSocket } from './loop-socket.js';

test('echo writes back every byte and closes after the peer does', () => {
  const s = new LoopSocket();
  echo({}).accept(s);
  s.send('hello, ').send('world').fin().run();
  assert.is(Buffer.from(s.received()).toString(), 'hello, world');
  assert.ok(s.ended);
  assert.ok(s.isClosed);
});

test('echo under backpressure loses and duplicates nothing, and pauses instead of buffering', () => {
  withSeed('echo backpressure', testSeed(), (r: SeededRandom) => {
    const s = new LoopSocket({ sendBuffer: 64, chunk: 1 + r.int(200), readPerStep: 1 + r.int(30) });
    echo({}).accept(s);
    const input = r.bytes(20_000);
    for (let o = 0; o < input.length; ) {
      const n = 1 + r.int(500);
      s.send(input.subarray(o, o + n));
      o += n;
    }
    s.fin().run();
    assert.equal(s.received(), input);
    assert.ok(s.maxQueued <= 64 + s.chunk, `send buffer grew to ${s.maxQueued}`);
    assert.ok(s.ended);
  });
});

test('echo resumed from state mid-stream (paused on a full send buffer) continues exactly', () => {
  withSeed('echo resume', testSeed(), (r: SeededRandom) => {
    const input = r.bytes(30_000);
    const opts = { sendBuffer: 100, chunk: 333, readPerStep: 17 };
    const a = new LoopSocket(opts);
    echo({}).accept(a);
    a.send(input).fin();
    a.run(50 + r.int(500));
    assert.ok(a.unconsumed > 0, 'moved mid-stream');
    const b = a.handoff();
    echo({}).resume(b);
    b.run();
    const out = new Uint8Array([...a.written(), ...b.written()]);
    assert.equal(out, input);
    assert.ok(b.ended);
  });
});

test('discard reads and drops everything, then ends when the peer does', () => {
  const s = new LoopSocket({ chunk: 10 });
  discard({}).accept(s);
  s.send(new Uint8Array(1000)).fin().run();
  assert.is(s.written().length, 0);
  assert.is(s.dataEvents, 100);
  assert.ok(s.ended && s.isClosed);
});

test('echo and discard take no options', () => {
  for (const f of [echo, discard]) {
    try {
      f({ bytes: 1 });
      assert.unreachable('accepted an unknown option');
    } catch (e) {
      assert.instance(e, AppConfigError);
      assert.is((e as AppConfigError).key, 'bytes');
    }
  }
});

test.run();
