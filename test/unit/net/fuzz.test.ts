// Robustness: parseFrame on mutated and truncated frames never throws, never
// reads outside buf[off, off+len), returns a known reason, and never reports
// an offset or length outside the frame. Out-of-range reads are caught by a
// guarded Proxy over the buffer that throws on any index outside the frame.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameMeta, VERIFY_ALL, VERIFY_NONE, parseFrame } from '../../../dataplane/net/frame.js';
import { REASON_COUNT, Reason, reasonName } from '../../../dataplane/net/reason.js';
import { TCP_FLAG_SYN } from '../../../dataplane/net/tcp.js';
import {
  CLIENT, MAC_A, SERVER, TCP_TEMPLATE, buildArpFrame, buildIcmpEchoFrame, buildTcpFrame, buildUdpFrame,
} from './frame-builder.js';
import { SeededRandom, testSeed, withSeed } from './seeded-random.js';

function templates(): Uint8Array[] {
  return [
    buildTcpFrame({ ...TCP_TEMPLATE, flags: TCP_FLAG_SYN, options: { mss: 1460, sackPermitted: true, ts: { val: 1, ecr: 0 }, wscale: 7 } }),
    buildTcpFrame({ ...TCP_TEMPLATE, options: { ts: { val: 5, ecr: 6 }, sack: [[1, 2], [3, 4], [5, 6]] }, payload: 'data' }),
    buildTcpFrame({ ...TCP_TEMPLATE, options: { ts: { val: 5, ecr: 6 } }, payload: 'x'.repeat(100) }),
    buildTcpFrame({ ...TCP_TEMPLATE, vlan: 7, ipOptions: [1, 1, 1, 0], options: { sack: [[9, 10]] } }),
    buildTcpFrame({ ...TCP_TEMPLATE, rawOptions: [30, 6, 1, 2, 3, 4, 1, 0] }),
    buildUdpFrame({ src: CLIENT, dst: SERVER, sport: 53, dport: 5353, payload: 'answer' }),
    buildUdpFrame({ src: CLIENT, dst: SERVER, sport: 1, dport: 2, padTo: 60 }),
    buildIcmpEchoFrame({ src: CLIENT, dst: SERVER, id: 1, seq: 2, payload: 'ping' }),
    buildArpFrame({ senderMac: MAC_A, senderIp: CLIENT, targetMac: '00:00:00:00:00:00', targetIp: SERVER }),
  ];
}

/** A Uint8Array stand-in that throws on any element read outside [lo, hi) or at a non-integer index. */
function guarded(b: Uint8Array, lo: number, hi: number): Uint8Array {
  return new Proxy(b, {
    get(target, prop) {
      // Typed arrays treat every canonical numeric string as an element index.
      if (typeof prop === 'string' && (/^-?(\d|Infinity)/.test(prop) || prop === 'NaN')) {
        const i = Number(prop);
        if (!Number.isInteger(i) || i < lo || i >= hi) throw new RangeError(`read at index ${prop} outside [${lo}, ${hi})`);
        return target[i];
      }
      return (target as unknown as Record<string | symbol, unknown>)[prop];
    },
  });
}

/** Offsets and lengths in `m` are -1 (layer not reached) or inside [off, off + len]. */
function checkBounds(m: FrameMeta, off: number, len: number, r: number): void {
  const end = off + len;
  const spans: [string, number, number][] = [
    ['l3', m.l3Off, m.l3Len], ['l4', m.l4Off, m.l4Len], ['payload', m.payloadOff, m.payloadLen],
  ];
  assert.is(m.l2Off, off);
  for (const [name, o, l] of spans) {
    if (o === -1) continue;
    assert.ok(Number.isInteger(o) && Number.isInteger(l) && o >= off && l >= 0 && o + l <= end,
      `${name} [${o}, +${l}) outside frame [${off}, ${end}) with reason ${reasonName(r)}`);
  }
  if (r === Reason.OK) {
    assert.ok(m.l3Off >= off + m.l2Len, 'OK frames have L3');
    assert.ok(m.sackCount >= 0 && m.sackCount <= 4);
  }
}

function parseChecked(rnd: SeededRandom, buf: Uint8Array, off: number, len: number, m: FrameMeta, guard: boolean): number {
  const verify = rnd.int(2) === 0 ? VERIFY_ALL : VERIFY_NONE;
  const r = parseFrame(guard ? guarded(buf, off, off + len) : buf, off, len, m, verify);
  assert.ok(Number.isInteger(r) && r >= 0 && r < REASON_COUNT, `reason ${r}`);
  checkBounds(m, off, len, r);
  return r;
}

const fuzz = suite('fuzz: parseFrame on hostile input');

fuzz('the guard itself throws on reads outside the frame and passes reads inside', () => {
  const g = guarded(new Uint8Array(200).fill(3), 100, 110);
  assert.is(g[100], 3);
  assert.is(g[109], 3);
  assert.is(g.length, 200);
  for (const i of [99, 110, 150, -1, 1.5, NaN]) assert.throws(() => g[i], RangeError, String(i));
});

fuzz('every truncation of every template, at an odd offset, reads nothing outside the frame', () => {
  withSeed('truncations', testSeed(), (rnd) => {
    const m = new FrameMeta();
    for (const t of templates()) {
      const b = new Uint8Array(t.length + 11).fill(0xee);
      b.set(t, 5);
      for (let len = 0; len <= t.length; len++) parseChecked(rnd, b, 5, len, m, true);
    }
  });
});

fuzz('100k random mutations of valid frames: no throw, known reason, offsets inside the frame', () => {
  withSeed('mutations', testSeed(), (rnd) => {
    const ts = templates();
    const m = new FrameMeta();
    const counts = new Uint32Array(REASON_COUNT);
    for (let i = 0; i < 100_000; i++) {
      const t = ts[rnd.int(ts.length)]!;
      const off = rnd.int(4);
      const b = new Uint8Array(off + t.length + 4).fill(0xcc);
      b.set(t, off);
      // 1..4 mutations: random byte, flipped bit, or a header-ish byte set to an edge value.
      const n = 1 + rnd.int(4);
      for (let k = 0; k < n; k++) {
        const at = off + rnd.int(t.length);
        switch (rnd.int(3)) {
          case 0: b[at] = rnd.u32() & 0xff; break;
          case 1: b[at]! ^= 1 << rnd.int(8); break;
          default: b[at] = [0, 1, 2, 4, 5, 0x0f, 0x40, 0x45, 0x4f, 0x7f, 0x80, 0xff][rnd.int(12)]!; break;
        }
      }
      let len = t.length;
      if (rnd.int(4) === 0) len = rnd.int(t.length + 1);
      // Every 10th case through the guarded proxy (slow) to catch stray reads.
      counts[parseChecked(rnd, b, off, len, m, i % 10 === 0)]! += 1;
    }
    // The mutations reach deep: many distinct reasons, and still some OK frames.
    let distinct = 0;
    for (const c of counts) if (c > 0) distinct++;
    assert.ok(counts[Reason.OK]! > 1000, `only ${counts[Reason.OK]} OK`);
    assert.ok(distinct >= 15, `only ${distinct} distinct reasons`);
  });
});

fuzz('random garbage of every length 0..128 never throws', () => {
  withSeed('garbage', testSeed(), (rnd) => {
    const m = new FrameMeta();
    for (let len = 0; len <= 128; len++) {
      for (let k = 0; k < 50; k++) {
        const b = rnd.bytes(len);
        if (len >= 14 && rnd.int(2) === 0) { b[12] = 0x08; b[13] = rnd.int(2) === 0 ? 0x00 : 0x06; }
        if (len >= 15 && rnd.int(2) === 0) b[14] = 0x45;
        parseChecked(rnd, b, 0, len, m, k % 5 === 0);
      }
    }
  });
});

fuzz.run();
