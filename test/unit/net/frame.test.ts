import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameMeta, VERIFY_ALL, VERIFY_IP_CSUM, VERIFY_L4_CSUM, VERIFY_NONE, parseFrame } from '../../../dataplane/net/frame.js';
import { Reason, reasonName } from '../../../dataplane/net/reason.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4 } from '../../../dataplane/net/ethernet.js';
import { IPV4_FLAG_DF, IPV4_FLAG_MF, IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP } from '../../../dataplane/net/ipv4.js';
import { TCP_FLAG_ACK, TCP_FLAG_PSH, TCP_FLAG_SYN } from '../../../dataplane/net/tcp.js';
import { flowHash } from '../../../dataplane/net/flow-hash.js';
import { readU16 } from '../../../dataplane/net/byte-order.js';
import {
  CLIENT, MAC_A, MAC_B, SERVER, TCP_TEMPLATE, buildArpFrame, buildIcmpEchoFrame, buildTcpFrame, buildUdpFrame, ip, placeAt,
} from './frame-builder.js';
import { expectMeta, parseOk } from './meta-checker.js';
import { referenceOnesSum, referencePseudoSum } from './reference-checksum.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((h) => parseInt(h, 16)));

const golden = suite('frame: golden bytes written by hand from the RFC layouts');

// A Linux-style SYN: 198.18.0.1:40000 → 198.19.0.80:80, MSS 1460, SACK-permitted,
// TS 1/0, WS 7. Checksums are computed here by the byte-wise reference, so
// neither the layout nor the checksum depends on the code under test.
function goldenSyn(): Uint8Array {
  const f = hex(`
    0200 0000 000b 0200 0000 000a 0800
    4500 003c 1234 4000 4006 0000 c612 0001 c613 0050
    9c40 0050 0102 0304 0000 0000 a002 faf0 0000 0000
    0204 05b4 0402 080a 0000 0001 0000 0000 0103 0307`);
  const ipSum = ~referenceOnesSum(f, 14, 20) & 0xffff;
  f[24] = ipSum >>> 8;
  f[25] = ipSum & 0xff;
  const tcpSum = ~referenceOnesSum(f, 34, 40, referencePseudoSum(0xc6120001, 0xc6130050, 6, 40)) & 0xffff;
  f[50] = tcpSum >>> 8;
  f[51] = tcpSum & 0xff;
  return f;
}

golden('the hand-written SYN parses into exactly its fields', () => {
  const m = parseOk(goldenSyn(), VERIFY_ALL);
  expectMeta(m, {
    l2Off: 0, l2Len: 14, vlan: -1, etherType: ETHERTYPE_IPV4,
    l3Off: 14, l3Len: 60, tos: 0, ipId: 0x1234, ipFlags: IPV4_FLAG_DF, fragOffset: 0, ttl: 64, ipProto: IP_PROTO_TCP,
    srcIp: 0xc6120001, dstIp: 0xc6130050, l4Off: 34, l4Len: 40,
    srcPort: 40000, dstPort: 80, seq: 0x01020304, ack: 0, dataOffset: 40, tcpFlags: TCP_FLAG_SYN, window: 64240, urgent: 0,
    payloadOff: 74, payloadLen: 0,
    mss: 1460, sackPermitted: 1, tsPresent: 1, tsVal: 1, tsEcr: 0, wscale: 7, sackCount: 0,
    hash: flowHash(0xc6120001, 0xc6130050, 40000, 80, 6),
  });
});

golden('the builders write the same bytes as the hand-written SYN', () => {
  const built = buildTcpFrame({
    ...TCP_TEMPLATE, flags: TCP_FLAG_SYN, seq: 0x01020304, ack: 0, window: 64240,
    options: { mss: 1460, sackPermitted: true, ts: { val: 1, ecr: 0 }, wscale: 7 },
  });
  assert.equal(Array.from(built), Array.from(goldenSyn()));
});

const trip = suite('frame: parse what the builders built');

trip('TCP data segment with payload: every field, payload offset and length', () => {
  const payload = 'GET / HTTP/1.1\r\n\r\n';
  const f = buildTcpFrame({
    ...TCP_TEMPLATE, seq: 0xfffffff0, ack: 0x80000000, flags: TCP_FLAG_ACK | TCP_FLAG_PSH, window: 501, urgent: 0,
    ttl: 61, tos: 0x10, ident: 0xbeef, options: { ts: { val: 0x11223344, ecr: 0x55667788 } }, payload,
  });
  const m = parseOk(f, VERIFY_ALL);
  expectMeta(m, {
    ttl: 61, tos: 0x10, ipId: 0xbeef, srcIp: ip(CLIENT), dstIp: ip(SERVER), srcPort: 40000, dstPort: 80,
    seq: 0xfffffff0, ack: 0x80000000, tcpFlags: TCP_FLAG_ACK | TCP_FLAG_PSH, window: 501,
    dataOffset: 32, payloadOff: 34 + 32, payloadLen: payload.length, l3Len: 20 + 32 + payload.length,
    tsPresent: 1, tsVal: 0x11223344, tsEcr: 0x55667788,
  });
  assert.is(new TextDecoder().decode(f.subarray(m.payloadOff, m.payloadOff + m.payloadLen)), payload);
});

trip('802.1Q-tagged TCP: VLAN id, PCP, inner EtherType, shifted offsets', () => {
  const m = parseOk(buildTcpFrame({ ...TCP_TEMPLATE, vlan: 4094, pcp: 5, payload: 'x' }), VERIFY_ALL);
  expectMeta(m, { l2Len: 18, vlan: 4094, vlanPcp: 5, etherType: ETHERTYPE_IPV4, l3Off: 18, l4Off: 38, payloadOff: 58, payloadLen: 1 });
});

trip('VLAN 0 (priority tag only) is reported as VLAN 0, not untagged', () => {
  const m = parseOk(buildTcpFrame({ ...TCP_TEMPLATE, vlan: 0, pcp: 6 }), VERIFY_ALL);
  expectMeta(m, { vlan: 0, vlanPcp: 6, l2Len: 18 });
});

trip('IPv4 options are skipped: L4 starts after IHL*4', () => {
  // Record Route (7) with room for one address, then EOL padding.
  const m = parseOk(buildTcpFrame({ ...TCP_TEMPLATE, ipOptions: [7, 7, 4, 0, 0, 0, 0], payload: 'abc' }), VERIFY_ALL);
  expectMeta(m, { l3Len: 28 + 20 + 3, l4Off: 14 + 28, l4Len: 23, srcPort: 40000, payloadLen: 3 });
});

trip('Ethernet padding is not payload: lengths come from the IPv4 total length', () => {
  const f = buildTcpFrame({ ...TCP_TEMPLATE, padTo: 60 });
  assert.is(f.length, 60);
  const m = parseOk(f, VERIFY_ALL);
  expectMeta(m, { l3Len: 40, l4Len: 20, payloadLen: 0, payloadOff: 54 });
});

trip('UDP datagram: ports, length, payload', () => {
  const m = parseOk(buildUdpFrame({ src: CLIENT, dst: SERVER, sport: 5353, dport: 53, payload: 'abcdef' }), VERIFY_ALL);
  expectMeta(m, {
    ipProto: IP_PROTO_UDP, srcPort: 5353, dstPort: 53, l4Off: 34, l4Len: 14, payloadOff: 42, payloadLen: 6,
    hash: flowHash(ip(CLIENT), ip(SERVER), 5353, 53, 17),
  });
});

trip('ICMP echo request: type, code, id, seq; ports 0 in the hash', () => {
  const m = parseOk(buildIcmpEchoFrame({ src: CLIENT, dst: SERVER, id: 0x4242, seq: 9, payload: 'ping' }), VERIFY_ALL);
  expectMeta(m, {
    ipProto: IP_PROTO_ICMP, icmpType: 8, icmpCode: 0, icmpId: 0x4242, icmpSeq: 9, srcPort: 0, dstPort: 0,
    payloadOff: 42, payloadLen: 4, hash: flowHash(ip(CLIENT), ip(SERVER), 0, 0, 1),
  });
});

trip('ARP request: opcode, sender and target addresses, no L4, hash 0', () => {
  const m = parseOk(buildArpFrame({ senderMac: MAC_A, senderIp: CLIENT, targetMac: '00:00:00:00:00:00', targetIp: SERVER }), VERIFY_ALL);
  expectMeta(m, { etherType: ETHERTYPE_ARP, arpOp: 1, srcIp: ip(CLIENT), dstIp: ip(SERVER), l3Off: 14, l3Len: 28, l4Off: -1, payloadOff: -1, hash: 0 });
});

trip('a frame inside a larger buffer, at an odd offset, parses with absolute offsets', () => {
  const f = buildTcpFrame({ ...TCP_TEMPLATE, payload: 'zz', options: { ts: { val: 5, ecr: 6 } } });
  const b = placeAt(f, 2049);
  const m = parseOk(b, VERIFY_ALL, new FrameMeta(), 2049, f.length);
  expectMeta(m, { l2Off: 2049, l3Off: 2063, l4Off: 2083, payloadOff: 2083 + 32, payloadLen: 2, tsVal: 5 });
});

trip('a frame in a SharedArrayBuffer view with a non-zero byteOffset parses and verifies', () => {
  const f = buildTcpFrame({ ...TCP_TEMPLATE, payload: new Uint8Array(1000).fill(0x5a) });
  const sab = new SharedArrayBuffer(8192);
  const view = new Uint8Array(sab, 1027, 4096);
  view.set(f, 101);
  const m = parseOk(view, VERIFY_ALL, new FrameMeta(), 101, f.length);
  expectMeta(m, { payloadLen: 1000, l4Off: 101 + 34 });
});

trip('one FrameMeta reused across TCP, ARP, UDP keeps no stale offsets', () => {
  const m = new FrameMeta();
  parseOk(buildTcpFrame({ ...TCP_TEMPLATE, payload: 'abc' }), VERIFY_ALL, m);
  parseOk(buildArpFrame({ senderMac: MAC_B, senderIp: SERVER, targetMac: MAC_A, targetIp: CLIENT, op: 2 }), VERIFY_ALL, m);
  expectMeta(m, { arpOp: 2, l4Off: -1, l4Len: 0, payloadOff: -1, payloadLen: 0, hash: 0 });
  parseOk(buildUdpFrame({ src: CLIENT, dst: SERVER, sport: 1, dport: 2 }), VERIFY_ALL, m);
  expectMeta(m, { arpOp: 0, l4Off: 34, payloadLen: 0 });
});

trip('both directions of a flow get the same meta.hash', () => {
  const a = parseOk(buildTcpFrame({ ...TCP_TEMPLATE }), VERIFY_ALL).hash;
  const b = parseOk(buildTcpFrame({ ...TCP_TEMPLATE, src: SERVER, dst: CLIENT, sport: 80, dport: 40000 }), VERIFY_ALL).hash;
  assert.is(a, b);
  assert.ok(a !== 0);
});

const verify = suite('frame: the verify mask');

verify('VERIFY_IP_CSUM checks only the IP header; VERIFY_L4_CSUM only L4', () => {
  const badL4 = buildTcpFrame({ ...TCP_TEMPLATE, payload: 'abcd' });
  badL4[badL4.length - 1] ^= 1;
  const m = new FrameMeta();
  assert.is(reasonName(parseFrame(badL4, 0, badL4.length, m, VERIFY_IP_CSUM)), 'OK');
  assert.is(reasonName(parseFrame(badL4, 0, badL4.length, m, VERIFY_L4_CSUM)), 'TCP_BAD_CHECKSUM');
  const badIp = buildTcpFrame(TCP_TEMPLATE);
  badIp[14 + 5] ^= 1; // identification
  assert.is(reasonName(parseFrame(badIp, 0, badIp.length, m, VERIFY_L4_CSUM)), 'OK');
  assert.is(reasonName(parseFrame(badIp, 0, badIp.length, m, VERIFY_IP_CSUM)), 'IPV4_BAD_CHECKSUM');
  assert.is(reasonName(parseFrame(badIp, 0, badIp.length, m, VERIFY_NONE)), 'OK');
});

verify('a UDP datagram sent without a checksum passes VERIFY_L4_CSUM', () => {
  const f = buildUdpFrame({ src: CLIENT, dst: SERVER, sport: 9, dport: 9, payload: 'x', noChecksum: true });
  assert.is(readU16(f, 34 + 6), 0);
  parseOk(f, VERIFY_ALL);
});

verify('fragments are refused after the header checksum is checked', () => {
  const f = buildTcpFrame({ ...TCP_TEMPLATE, df: false });
  f[14 + 6] |= 0x20; // MF, checksum now wrong
  const m = new FrameMeta();
  assert.is(parseFrame(f, 0, f.length, m, VERIFY_ALL), Reason.IPV4_BAD_CHECKSUM);
  assert.is(parseFrame(f, 0, f.length, m, VERIFY_NONE), Reason.IPV4_FRAGMENT);
  expectMeta(m, { ipFlags: IPV4_FLAG_MF, fragOffset: 0 });
});

golden.run();
trip.run();
verify.run();
