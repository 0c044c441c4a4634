// Software segmentation (dataplane/net/segment.ts): a large IPv4 TCP frame
// cut as the kernel's tcp_gso_segment cuts it, and partial checksums finished.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { finishChecksum, segmentTcpFrame, type SegmentSink } from '../../../dataplane/net/segment.js';
import { FrameMeta, parseFrame, VERIFY_ALL } from '../../../dataplane/net/frame.js';
import { Reason } from '../../../dataplane/net/reason.js';
import { ETHERTYPE_IPV4, writeEthernet, writeEthernetVlan } from '../../../dataplane/net/ethernet.js';
import { IP_PROTO_TCP, IP_PROTO_UDP, IPV4_FLAG_DF, writeIpv4Header } from '../../../dataplane/net/ipv4.js';
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_HEADER_LEN, writeTcpHeader, writeTcpOptions } from '../../../dataplane/net/tcp.js';
import { pseudoHeaderSum } from '../../../dataplane/net/checksum.js';
import { readU16, writeU16 } from '../../../dataplane/net/byte-order.js';

const SRC = 0xc6120065;
const DST = 0xc6120001;
const MAC_A = Uint8Array.from([2, 0, 0, 0, 0, 1]);
const MAC_B = Uint8Array.from([2, 0, 0, 0, 0, 2]);
const CWR = 0x80;

/** A large TCP frame at `at` whose checksum field holds the pseudo-header sum (as the stack sends it with offload). */
function largeFrame(b: Uint8Array, at: number, payload: Uint8Array, flags: number, opts = true, vlan = false): number {
  const l3 = at + (vlan ? writeEthernetVlan(b, at, MAC_B, 0, MAC_A, 0, 5, 0, ETHERTYPE_IPV4) : writeEthernet(b, at, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV4));
  const l4 = l3 + 20;
  const optLen = opts ? writeTcpOptions(b, l4 + TCP_HEADER_LEN, 0, -1, 0, 12345, 678, 1, new Uint32Array(8), 0) : 0;
  const hlen = TCP_HEADER_LEN + optLen;
  writeTcpHeader(b, l4, 80, 40000, 0xfffff000, 77, hlen, flags, 1000, 0);
  b.set(payload, l4 + hlen);
  const tcpLen = hlen + payload.length;
  writeIpv4Header(b, l3, 0, 20 + tcpLen, 0xfffe, IPV4_FLAG_DF, 64, IP_PROTO_TCP, SRC, DST);
  writeU16(b, l4 + 16, pseudoHeaderSum(SRC, DST, IP_PROTO_TCP, tcpLen));
  return l4 + tcpLen - at;
}

function pattern(n: number): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (i * 31 + (i >>> 8)) & 0xff;
  return p;
}

/** A sink with 64 slots of 2048 bytes from byte 100,000 of the frame's buffer, recording what it gets. */
function sink(_b: Uint8Array, slots = 64): SegmentSink & { got: { at: number; len: number }[] } {
  const free: number[] = [];
  for (let i = slots - 1; i >= 0; i--) free.push(i);
  const got: { at: number; len: number }[] = [];
  return {
    got,
    allocSlot: () => free.pop() ?? -1,
    frameStart: (s) => 100_000 + s * 2048 + 128,
    deliver: (s, len) => got.push({ at: 100_000 + s * 2048 + 128, len }),
  };
}

test('segmentTcpFrame: a 20,000-byte segment becomes MSS segments, each parsing with valid checksums, the payload intact', () => {
  const b = new Uint8Array(300_000);
  const data = pattern(20_000);
  const len = largeFrame(b, 0, data, TCP_FLAG_ACK | TCP_FLAG_PSH | TCP_FLAG_FIN | CWR);
  const s = sink(b);
  assert.is(segmentTcpFrame(b, 0, len, 1448, s), 14);
  const m = new FrameMeta();
  const joined: number[] = [];
  s.got.forEach(({ at, len: n }, k) => {
    assert.is(parseFrame(b, at, n, m, VERIFY_ALL), Reason.OK, `segment ${k} parses with both checksums`);
    assert.is(m.seq, (0xfffff000 + k * 1448) >>> 0, 'sequence (wraps)');
    assert.is(m.ack, 77);
    assert.is(m.payloadLen, k < 13 ? 1448 : 20_000 - 13 * 1448);
    assert.is(readU16(b, at + 18), (0xfffe + k) & 0xffff, 'IP id counts up');
    assert.is(m.tsPresent, 1, 'options copied to every segment');
    assert.is(m.tsVal, 12345);
    const last = k === 13;
    assert.is((m.tcpFlags & (TCP_FLAG_FIN | TCP_FLAG_PSH)) !== 0, last, 'FIN and PSH on the last only');
    assert.is((m.tcpFlags & CWR) !== 0, k === 0, 'CWR on the first only');
    for (let i = 0; i < m.payloadLen; i++) joined.push(b[m.payloadOff + i]!);
  });
  assert.equal(Uint8Array.from(joined), data);
});

test('segmentTcpFrame: VLAN-tagged frames, a payload of exact multiples, and a frame with no payload', () => {
  const b = new Uint8Array(300_000);
  let len = largeFrame(b, 0, pattern(3000), TCP_FLAG_ACK, false, true);
  let s = sink(b);
  assert.is(segmentTcpFrame(b, 0, len, 1000, s), 3);
  const m = new FrameMeta();
  for (const g of s.got) {
    assert.is(parseFrame(b, g.at, g.len, m, VERIFY_ALL), Reason.OK);
    assert.is(m.vlan, 5);
    assert.is(m.payloadLen, 1000);
  }
  len = largeFrame(b, 0, new Uint8Array(0), TCP_FLAG_ACK);
  s = sink(b);
  assert.is(segmentTcpFrame(b, 0, len, 1000, s), 1);
  assert.is(parseFrame(b, s.got[0]!.at, s.got[0]!.len, m, VERIFY_ALL), Reason.OK);
  assert.is(m.payloadLen, 0);
});

test('segmentTcpFrame: out of slots, it stops and says how many it delivered; not TCP: -1', () => {
  const b = new Uint8Array(300_000);
  const len = largeFrame(b, 0, pattern(10_000), TCP_FLAG_ACK);
  assert.is(segmentTcpFrame(b, 0, len, 1000, sink(b, 4)), 4);
  b[23] = IP_PROTO_UDP;
  assert.is(segmentTcpFrame(b, 0, len, 1000, sink(b)), -1);
});

test('finishChecksum: a frame with the pseudo-header sum in its checksum field gets the real checksum (TCP and UDP)', () => {
  const b = new Uint8Array(4000);
  const len = largeFrame(b, 0, pattern(1000), TCP_FLAG_ACK);
  const m = new FrameMeta();
  assert.is(parseFrame(b, 0, len, m, VERIFY_ALL), Reason.TCP_BAD_CHECKSUM, 'partial: not yet valid');
  assert.ok(finishChecksum(b, 0, len));
  assert.is(parseFrame(b, 0, len, m, VERIFY_ALL), Reason.OK);
  // UDP: 8-byte header + 100 bytes, checksum field at l4 + 6.
  const l3 = writeEthernet(b, 0, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV4);
  writeIpv4Header(b, l3, 0, 20 + 108, 1, IPV4_FLAG_DF, 64, IP_PROTO_UDP, SRC, DST);
  const l4 = l3 + 20;
  writeU16(b, l4, 5000);
  writeU16(b, l4 + 2, 7);
  writeU16(b, l4 + 4, 108);
  b.set(pattern(100), l4 + 8);
  writeU16(b, l4 + 6, pseudoHeaderSum(SRC, DST, IP_PROTO_UDP, 108));
  assert.ok(finishChecksum(b, 0, l4 + 108));
  assert.is(parseFrame(b, 0, l4 + 108, m, VERIFY_ALL), Reason.OK);
  b[13] = 0x06; // not IPv4
  assert.not.ok(finishChecksum(b, 0, l4 + 108));
});

test.run();
