import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameMeta, VERIFY_ALL } from '../../../dataplane/net/frame.js';
import {
  TCP_FLAG_ACK, TCP_FLAG_SYN, TCP_MAX_OPTIONS_LEN, parseTcpOptions, writeTcpOptions,
} from '../../../dataplane/net/tcp.js';
import { Reason, reasonName } from '../../../dataplane/net/reason.js';
import { L4, TCP_TEMPLATE, buildTcpFrame } from './frame-builder.js';
import { expectMeta, parseOk } from './meta-checker.js';
import { testSeed, withSeed } from './seeded-random.js';

const SYN = { ...TCP_TEMPLATE, flags: TCP_FLAG_SYN, ack: 0 };
const ACK = { ...TCP_TEMPLATE, flags: TCP_FLAG_ACK };

function optionBytes(frame: Uint8Array): number[] {
  const hlen = (frame[L4 + 12]! >>> 4) * 4;
  return Array.from(frame.subarray(L4 + 20, L4 + hlen));
}

const write = suite('tcp options: writeTcpOptions layouts (as Linux sends them)');

write('SYN: MSS, SACK-permitted, TS, NOP, WS in 20 bytes', () => {
  const f = buildTcpFrame({ ...SYN, options: { mss: 1460, sackPermitted: true, ts: { val: 0x01020304, ecr: 0 }, wscale: 7 } });
  assert.equal(optionBytes(f), [2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7]);
});

write('SYN without timestamps: MSS, NOP NOP SACK-permitted, NOP WS', () => {
  const f = buildTcpFrame({ ...SYN, options: { mss: 1400, sackPermitted: true, wscale: 2 } });
  assert.equal(optionBytes(f), [2, 4, 0x05, 0x78, 1, 1, 4, 2, 1, 3, 3, 2]);
});

write('established ACK: NOP NOP TS', () => {
  const f = buildTcpFrame({ ...ACK, options: { ts: { val: 0xfffffffe, ecr: 0x80000001 } } });
  assert.equal(optionBytes(f), [1, 1, 8, 10, 0xff, 0xff, 0xff, 0xfe, 0x80, 0, 0, 1]);
});

write('ACK with TS and two SACK blocks: NOP NOP TS NOP NOP SACK(18)', () => {
  const f = buildTcpFrame({ ...ACK, options: { ts: { val: 1, ecr: 2 }, sack: [[0x100, 0x200], [0x300, 0x400]] } });
  assert.equal(optionBytes(f), [
    1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2,
    1, 1, 5, 18, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0,
  ]);
});

write('with timestamps only three SACK blocks fit (RFC 2018 §3); without, four', () => {
  const blocks = new Uint32Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const b = new Uint8Array(64);
  assert.is(writeTcpOptions(b, 0, 0, -1, 0, 9, 9, 1, blocks, 4), 12 + 4 + 24);
  assert.is(b[15], 2 + 8 * 3);
  assert.is(writeTcpOptions(b, 0, 0, -1, 0, 0, 0, 0, blocks, 4), 4 + 32);
  assert.is(b[3], 2 + 8 * 4);
});

write('never more than 40 bytes, always a multiple of 4', () => {
  withSeed('option sizes', testSeed(), (rnd) => {
    const b = new Uint8Array(64);
    const blocks = new Uint32Array(8);
    for (let i = 0; i < 2000; i++) {
      const n = writeTcpOptions(
        b, 0, rnd.int(2) === 0 ? 0 : rnd.range(1, 65535), rnd.range(-1, 20), rnd.int(2),
        rnd.u32(), rnd.u32(), rnd.int(2), blocks, rnd.int(6),
      );
      assert.ok(n <= TCP_MAX_OPTIONS_LEN && n % 4 === 0, `length ${n}`);
    }
  });
});

write('wscale above 14 is written as 14', () => {
  const b = new Uint8Array(8);
  writeTcpOptions(b, 0, 0, 20, 0, 0, 0, 0, new Uint32Array(8), 0);
  assert.equal(Array.from(b.subarray(0, 4)), [1, 3, 3, 14]);
});

const parse = suite('tcp options: parse what was built');

parse('SYN options round-trip exactly', () => {
  const m = parseOk(buildTcpFrame({ ...SYN, options: { mss: 1460, sackPermitted: true, ts: { val: 0xdeadbeef, ecr: 0 }, wscale: 7 } }), VERIFY_ALL);
  expectMeta(m, { mss: 1460, wscale: 7, sackPermitted: 1, tsPresent: 1, tsVal: 0xdeadbeef, tsEcr: 0, sackCount: 0, dataOffset: 40 });
});

parse('four SACK blocks without timestamps round-trip', () => {
  const sack = [[0xfffffff0, 0x10], [0x20, 0x30], [0x80000000, 0x80001000], [1, 2]] as const;
  const m = parseOk(buildTcpFrame({ ...ACK, options: { sack } }), VERIFY_ALL);
  expectMeta(m, { tsPresent: 0, mss: 0, wscale: -1, sack });
});

parse('TS with three SACK blocks fills the 40-byte option space', () => {
  const sack = [[1, 2], [3, 4], [5, 6]] as const;
  const m = parseOk(buildTcpFrame({ ...ACK, options: { ts: { val: 7, ecr: 8 }, sack } }), VERIFY_ALL);
  expectMeta(m, { dataOffset: 60, tsPresent: 1, tsVal: 7, tsEcr: 8, sack });
});

parse('no options: everything absent', () => {
  const m = parseOk(buildTcpFrame(ACK), VERIFY_ALL);
  expectMeta(m, { dataOffset: 20, mss: 0, wscale: -1, sackPermitted: 0, tsPresent: 0, sackCount: 0 });
});

parse('fields from a previous segment do not leak into the next', () => {
  const m = new FrameMeta();
  parseOk(buildTcpFrame({ ...SYN, options: { mss: 1460, sackPermitted: true, ts: { val: 1, ecr: 2 }, wscale: 7 } }), VERIFY_ALL, m);
  parseOk(buildTcpFrame({ ...ACK, options: { sack: [[5, 6]] } }), VERIFY_ALL, m);
  expectMeta(m, { mss: 0, wscale: -1, sackPermitted: 0, tsPresent: 0, tsVal: 0, tsEcr: 0, sackCount: 1 });
  parseOk(buildTcpFrame({ ...ACK, options: { ts: { val: 3, ecr: 4 } } }), VERIFY_ALL, m);
  expectMeta(m, { tsPresent: 1, tsVal: 3, tsEcr: 4, sackCount: 0 });
});

parse('unknown kinds with a sane length are skipped (RFC 9293 MUST-6)', () => {
  // MPTCP (30) and TCP-AO (29)-like options around an MSS.
  const m = parseOk(buildTcpFrame({ ...SYN, rawOptions: [30, 4, 0xaa, 0xbb, 2, 4, 0x05, 0xb4, 29, 6, 1, 2, 3, 4] }), VERIFY_ALL);
  expectMeta(m, { mss: 1460, wscale: -1 });
});

parse('EOL ends the list: bytes after it are padding, even if they look malformed', () => {
  const m = parseOk(buildTcpFrame({ ...SYN, rawOptions: [2, 4, 0x05, 0xb4, 0, 0xff, 0x00, 0x01] }), VERIFY_ALL);
  expectMeta(m, { mss: 1460 });
});

parse('options need no alignment: MSS at an odd offset after NOPs', () => {
  const m = parseOk(buildTcpFrame({ ...SYN, rawOptions: [1, 2, 4, 0x02, 0x18, 1, 1, 1] }), VERIFY_ALL);
  expectMeta(m, { mss: 536 });
});

parse('a window scale above 14 is used as 14 (RFC 7323 §2.3)', () => {
  const m = parseOk(buildTcpFrame({ ...SYN, rawOptions: [3, 3, 15, 1] }), VERIFY_ALL);
  expectMeta(m, { wscale: 14 });
});

parse('the NOP NOP TS fast path and the general loop read the same values', () => {
  withSeed('ts fast path', testSeed(), (rnd) => {
    for (let i = 0; i < 200; i++) {
      const val = rnd.u32();
      const ecr = rnd.u32();
      const fast = parseOk(buildTcpFrame({ ...ACK, options: { ts: { val, ecr } } }), VERIFY_ALL);
      // Same option, laid out as TS NOP NOP so the fast path does not apply.
      const slow = parseOk(buildTcpFrame({
        ...ACK, rawOptions: [8, 10, val >>> 24, (val >>> 16) & 255, (val >>> 8) & 255, val & 255, ecr >>> 24, (ecr >>> 16) & 255, (ecr >>> 8) & 255, ecr & 255, 1, 1],
      }), VERIFY_ALL);
      expectMeta(slow, { tsPresent: 1, tsVal: fast.tsVal, tsEcr: fast.tsEcr, mss: fast.mss, wscale: fast.wscale, sackCount: 0 });
      assert.is(fast.tsVal, val);
      assert.is(fast.tsEcr, ecr);
    }
  });
});

parse('parseTcpOptions on an empty range is OK and clears every option', () => {
  const m = new FrameMeta();
  m.mss = 9; m.wscale = 3; m.tsPresent = 1; m.sackCount = 2; m.sackPermitted = 1;
  assert.is(parseTcpOptions(new Uint8Array(4), 0, 0, m), Reason.OK);
  expectMeta(m, { mss: 0, wscale: -1, tsPresent: 0, sackCount: 0, sackPermitted: 0 });
  assert.is(reasonName(parseTcpOptions(new Uint8Array([1, 1, 1, 1]), 0, 4, m)), 'OK');
});

write.run();
parse.run();
