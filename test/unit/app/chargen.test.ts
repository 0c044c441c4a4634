// chargen: the RFC 864 pattern as a pure, seekable function of the stream
// offset; bounded writes under backpressure; resume from the offset in state.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chargen, chargenByte, chargenFill } from '../../../dataplane/app/chargen.js';
import { AppConfigError } from '../../../dataplane/app/api.js';
import { SeededRandom, testSeed, withSeed } from '../net/seeded-random.js';
import { LoopSocket } from './loop-socket.js';

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');

function expected(from: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = chargenByte(from + i);
  return b;
}

test('lines are 72 printable characters rotating by one, then CRLF (RFC 864)', () => {
  const b = new Uint8Array(74 * 3);
  chargenFill(b, 0);
  const text = Buffer.from(b).toString('latin1');
  assert.is(text.slice(0, 74), `${PRINTABLE.slice(0, 72)}\r\n`);
  assert.is(text.slice(74, 148), `${PRINTABLE.slice(1, 73)}\r\n`);
  assert.is(text.slice(148, 222), `${PRINTABLE.slice(2, 74)}\r\n`);
  // Line 30 wraps around the end of the ring.
  const l30 = new Uint8Array(72);
  chargenFill(l30, 30 * 74);
  assert.is(Buffer.from(l30).toString('latin1'), (PRINTABLE + PRINTABLE).slice(30, 102));
  // The ring repeats every 95 lines.
  assert.is(chargenByte(95 * 74 + 5), chargenByte(5));
});

test('chargenFill equals chargenByte over random ranges, including far offsets', () => {
  withSeed('chargen ranges', testSeed(), (r: SeededRandom) => {
    for (let i = 0; i < 200; i++) {
      const from = i % 2 === 0 ? r.int(100_000) : r.int(2 ** 32) * 4096 + r.int(4096);
      const n = r.int(600);
      const b = new Uint8Array(n);
      chargenFill(b, from);
      assert.equal(b, expected(from, n), `offset ${from} length ${n}`);
    }
  });
});

test('bytes: N sends exactly N bytes of the pattern, in bounded writes, then ends', () => {
  const s = new LoopSocket({ sendBuffer: 4096, readPerStep: 1000 });
  chargen({ bytes: 100_000, chunkBytes: 1500 }).accept(s);
  s.run();
  assert.equal(s.received(), expected(0, 100_000));
  assert.ok(s.ended);
  assert.ok(s.maxQueued <= 4096 + 1500, `queued ${s.maxQueued}`);
});

test('without a byte budget it streams until the client half-closes', () => {
  const s = new LoopSocket({ sendBuffer: 2048, readPerStep: 512 });
  chargen({}).accept(s);
  s.run(100);
  assert.not.ok(s.ended);
  s.fin().run();
  assert.ok(s.ended);
  const got = s.received();
  assert.ok(got.length > 10_000);
  assert.equal(got, expected(0, got.length));
});

test('a half-closed client still gets the whole byte budget', () => {
  const s = new LoopSocket({ sendBuffer: 1000, readPerStep: 300 });
  chargen({ bytes: 5000 }).accept(s);
  s.fin().run();
  assert.equal(s.received(), expected(0, 5000));
});

test('resumed from state on a fresh instance, the stream continues at the next offset', () => {
  withSeed('chargen resume', testSeed(), (r: SeededRandom) => {
    const opts = { sendBuffer: 3000, readPerStep: 701 };
    const a = new LoopSocket(opts);
    chargen({ bytes: 250_000, chunkBytes: 4096 }).accept(a);
    a.run(1 + r.int(200));
    const b = a.handoff();
    chargen({ bytes: 250_000, chunkBytes: 4096 }).resume(b);
    b.run();
    assert.equal(new Uint8Array([...a.written(), ...b.written()]), expected(0, 250_000));
    assert.ok(b.ended);
  });
});

test('options are validated with the key', () => {
  for (const [opts, key] of [[{ bytes: -1 }, 'bytes'], [{ bytes: 1.5 }, 'bytes'], [{ chunkBytes: 0 }, 'chunkBytes'], [{ lines: 3 }, 'lines']] as const) {
    try {
      chargen(opts);
      assert.unreachable(`accepted ${JSON.stringify(opts)}`);
    } catch (e) {
      assert.instance(e, AppConfigError);
      assert.is((e as AppConfigError).key, key);
    }
  }
});

test.run();
