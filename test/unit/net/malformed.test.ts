// One test per way a frame can be malformed: build a valid frame, break one
// thing, and check parseFrame names exactly that reason (never throws). Where
// the broken field sits under a checksum the checksum is re-filled, so the
// test proves the intended check fires, not an earlier checksum check.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ACCEPT_TRIMMED, FrameMeta, VERIFY_ALL, VERIFY_NONE, parseFrame } from '../../../dataplane/net/frame.js';
import { Reason, reasonName } from '../../../dataplane/net/reason.js';
import { ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_VLAN } from '../../../dataplane/net/ethernet.js';
import { IPV4_FLAGS_FRAG, IPV4_PROTO, IPV4_TOTAL_LEN, IPV4_VER_IHL, ipv4HeaderChecksumFill } from '../../../dataplane/net/ipv4.js';
import { TCP_DATA_OFF, TCP_FLAG_SYN, parseTcpOptions } from '../../../dataplane/net/tcp.js';
import { UDP_LENGTH } from '../../../dataplane/net/udp.js';
import { ARP_HLEN, ARP_HTYPE, ARP_OPER, ARP_PLEN, ARP_PTYPE } from '../../../dataplane/net/arp.js';
import { readU16, writeU16 } from '../../../dataplane/net/byte-order.js';
import {
  CLIENT, L3, L4, MAC_A, SERVER, TCP_TEMPLATE, buildArpFrame, buildIcmpEchoFrame, buildTcpFrame, buildUdpFrame, ip,
} from './frame-builder.js';
import { expectReason } from './meta-checker.js';

const tcp = (): Uint8Array => buildTcpFrame({ ...TCP_TEMPLATE, payload: 'hello', options: { ts: { val: 1, ecr: 2 } } });
const udp = (): Uint8Array => buildUdpFrame({ src: CLIENT, dst: SERVER, sport: 5353, dport: 53, payload: 'query' });
const icmp = (): Uint8Array => buildIcmpEchoFrame({ src: CLIENT, dst: SERVER, id: 7, seq: 1 });
const arp = (): Uint8Array => buildArpFrame({ senderMac: MAC_A, senderIp: CLIENT, targetMac: '00:00:00:00:00:00', targetIp: SERVER });
const synWith = (rawOptions: number[]): Uint8Array =>
  buildTcpFrame({ ...TCP_TEMPLATE, flags: TCP_FLAG_SYN, ack: 0, rawOptions });

/** Re-fill the 20-byte IPv4 header checksum after editing the header. */
function fixIp(f: Uint8Array): Uint8Array {
  ipv4HeaderChecksumFill(f, L3, 20);
  return f;
}

/** Shrink the IPv4 total length by `by` bytes (the frame keeps its length), checksum re-filled. */
function shortenIp(f: Uint8Array, by: number): Uint8Array {
  writeU16(f, L3 + IPV4_TOTAL_LEN, readU16(f, L3 + IPV4_TOTAL_LEN) - by);
  return fixIp(f);
}

// A malformed frame must fail the same way with and without checksum verification
// (unless the case is a checksum), and never throw.
function expectBoth(f: Uint8Array, want: number): void {
  expectReason(f, VERIFY_ALL, want);
  expectReason(f, VERIFY_NONE, want);
}

const frame = suite('malformed: frame bounds');

frame('offset before the buffer', () => {
  const f = tcp();
  assert.is(reasonName(parseFrame(f, -1, f.length, new FrameMeta(), VERIFY_ALL)), 'FRAME_BAD_BOUNDS');
});

frame('length past the end of the buffer', () => {
  const f = tcp();
  assert.is(reasonName(parseFrame(f, 1, f.length, new FrameMeta(), VERIFY_ALL)), 'FRAME_BAD_BOUNDS');
});

frame('NaN offset or length', () => {
  const f = tcp();
  assert.is(reasonName(parseFrame(f, NaN, 60, new FrameMeta(), VERIFY_ALL)), 'FRAME_BAD_BOUNDS');
  assert.is(reasonName(parseFrame(f, 0, NaN, new FrameMeta(), VERIFY_ALL)), 'FRAME_BAD_BOUNDS');
});

frame('negative length', () => {
  const f = tcp();
  assert.is(reasonName(parseFrame(f, 10, -4, new FrameMeta(), VERIFY_ALL)), 'FRAME_BAD_BOUNDS');
});

const eth = suite('malformed: Ethernet');

eth('frame shorter than 14 bytes', () => {
  expectBoth(tcp().slice(0, 13), Reason.ETH_TRUNCATED);
  expectBoth(new Uint8Array(0), Reason.ETH_TRUNCATED);
});

eth('802.1Q tag cut short (17 bytes)', () => {
  const f = buildTcpFrame({ ...TCP_TEMPLATE, vlan: 100 });
  expectBoth(f.slice(0, 17), Reason.ETH_TRUNCATED);
});

eth('802.1ad (QinQ) outer tag', () => {
  const f = tcp();
  writeU16(f, 12, ETHERTYPE_QINQ);
  expectBoth(f, Reason.ETH_QINQ);
});

eth('a second 802.1Q tag inside the first', () => {
  const f = buildTcpFrame({ ...TCP_TEMPLATE, vlan: 100 });
  writeU16(f, 16, ETHERTYPE_VLAN);
  expectBoth(f, Reason.ETH_QINQ);
});

eth('IPv6 EtherType is not handled', () => {
  const f = tcp();
  writeU16(f, 12, ETHERTYPE_IPV6);
  expectBoth(f, Reason.ETH_UNSUPPORTED_TYPE);
});

const arpCases = suite('malformed: ARP');

arpCases('fewer than 28 bytes', () => {
  expectBoth(arp().slice(0, 14 + 27), Reason.ARP_TRUNCATED);
});

arpCases('hardware type not Ethernet (6 = IEEE 802)', () => {
  const f = arp();
  writeU16(f, L3 + ARP_HTYPE, 6);
  expectBoth(f, Reason.ARP_UNSUPPORTED);
});

arpCases('protocol type not IPv4', () => {
  const f = arp();
  writeU16(f, L3 + ARP_PTYPE, ETHERTYPE_IPV6);
  expectBoth(f, Reason.ARP_UNSUPPORTED);
});

arpCases('hardware length not 6', () => {
  const f = arp();
  f[L3 + ARP_HLEN] = 8;
  expectBoth(f, Reason.ARP_UNSUPPORTED);
});

arpCases('protocol length not 4', () => {
  const f = arp();
  f[L3 + ARP_PLEN] = 16;
  expectBoth(f, Reason.ARP_UNSUPPORTED);
});

arpCases('opcode neither request nor reply (RARP 3)', () => {
  const f = arp();
  writeU16(f, L3 + ARP_OPER, 3);
  expectBoth(f, Reason.ARP_BAD_OP);
});

const ipv4 = suite('malformed: IPv4');

ipv4('fewer than 20 bytes after the Ethernet header', () => {
  expectBoth(tcp().slice(0, 14 + 19), Reason.IPV4_TRUNCATED);
});

ipv4('version 6 under the IPv4 EtherType', () => {
  const f = tcp();
  f[L3 + IPV4_VER_IHL] = 0x65;
  expectBoth(fixIp(f), Reason.IPV4_BAD_VERSION);
});

ipv4('IHL below 5', () => {
  const f = tcp();
  f[L3 + IPV4_VER_IHL] = 0x44;
  expectBoth(fixIp(f), Reason.IPV4_BAD_IHL);
});

ipv4('IHL beyond the frame', () => {
  const f = tcp().slice(0, 14 + 40);
  f[L3 + IPV4_VER_IHL] = 0x4f; // 60-byte header, 40 bytes present
  expectBoth(fixIp(f), Reason.IPV4_BAD_IHL);
});

ipv4('total length below the header length', () => {
  const f = tcp();
  writeU16(f, L3 + IPV4_TOTAL_LEN, 19);
  expectBoth(fixIp(f), Reason.IPV4_BAD_TOTAL_LEN);
});

ipv4('total length beyond the frame (frame truncated)', () => {
  const f = tcp();
  expectBoth(f.slice(0, f.length - 1), Reason.IPV4_BAD_TOTAL_LEN);
});

ipv4('a TCP segment cut after its headers (a copy for a shadow): accepted only with ACCEPT_TRIMMED, its length from the IP header, no TCP checksum checked; never a cut header or another protocol', () => {
  const whole = buildTcpFrame({ ...TCP_TEMPLATE, payload: 'x'.repeat(1000), options: { ts: { val: 1, ecr: 2 } } });
  const hdr = 14 + 20 + 32;
  const f = whole.slice(0, hdr);
  expectBoth(f, Reason.IPV4_BAD_TOTAL_LEN);
  const m = new FrameMeta();
  assert.is(parseFrame(f, 0, f.length, m, VERIFY_ALL | ACCEPT_TRIMMED), Reason.OK);
  assert.is(m.payloadLen, 1000);
  assert.is(m.trimmed, 1000);
  assert.is(m.payloadOff, hdr);
  assert.is(m.tsVal, 1);
  assert.is(parseFrame(whole, 0, whole.length, m, VERIFY_ALL | ACCEPT_TRIMMED), Reason.OK);
  assert.is(m.trimmed, 0, 'a whole frame is not trimmed');
  assert.is(parseFrame(whole.slice(0, hdr - 4), 0, hdr - 4, m, VERIFY_ALL | ACCEPT_TRIMMED), Reason.TCP_BAD_DATA_OFFSET, 'TCP header cut');
  const u = buildUdpFrame({ src: CLIENT, dst: SERVER, sport: 5353, dport: 53, payload: 'q'.repeat(100) });
  assert.is(parseFrame(u.slice(0, 42), 0, 42, m, VERIFY_ALL | ACCEPT_TRIMMED), Reason.IPV4_BAD_TOTAL_LEN, 'UDP');
});

ipv4('wrong header checksum', () => {
  const f = tcp();
  f[L3 + 8] -= 1; // TTL changed, checksum left alone
  expectReason(f, VERIFY_ALL, Reason.IPV4_BAD_CHECKSUM);
  expectReason(f, VERIFY_NONE, Reason.OK);
});

ipv4('more-fragments flag set (first fragment)', () => {
  const f = tcp();
  f[L3 + IPV4_FLAGS_FRAG] = 0x20;
  expectBoth(fixIp(f), Reason.IPV4_FRAGMENT);
});

ipv4('non-zero fragment offset (last fragment)', () => {
  const f = tcp();
  writeU16(f, L3 + IPV4_FLAGS_FRAG, 0x00b9); // MF clear, offset 185*8
  const m = expectReason(fixIp(f), VERIFY_ALL, Reason.IPV4_FRAGMENT);
  assert.is(m.fragOffset, 0xb9);
});

ipv4('protocol other than ICMP, TCP, UDP (GRE)', () => {
  const f = tcp();
  f[L3 + IPV4_PROTO] = 47;
  expectBoth(fixIp(f), Reason.IPV4_UNSUPPORTED_PROTO);
});

const icmpCases = suite('malformed: ICMP');

icmpCases('fewer than 8 bytes of ICMP', () => {
  expectBoth(shortenIp(icmp(), 1), Reason.ICMP_TRUNCATED);
});

icmpCases('wrong checksum', () => {
  const f = icmp();
  f[L4 + 7] ^= 0x01; // sequence number
  expectReason(f, VERIFY_ALL, Reason.ICMP_BAD_CHECKSUM);
  expectReason(f, VERIFY_NONE, Reason.OK);
});

const udpCases = suite('malformed: UDP');

udpCases('fewer than 8 bytes of UDP', () => {
  const f = udp();
  expectBoth(shortenIp(f, readU16(f, L3 + IPV4_TOTAL_LEN) - 20 - 7), Reason.UDP_TRUNCATED);
});

udpCases('length field below 8', () => {
  const f = udp();
  writeU16(f, L4 + UDP_LENGTH, 7);
  expectBoth(f, Reason.UDP_BAD_LEN);
});

udpCases('length field beyond the IP payload', () => {
  const f = udp();
  writeU16(f, L4 + UDP_LENGTH, readU16(f, L4 + UDP_LENGTH) + 1);
  expectBoth(f, Reason.UDP_BAD_LEN);
});

udpCases('wrong checksum', () => {
  const f = udp();
  f[f.length - 1] ^= 0x40;
  expectReason(f, VERIFY_ALL, Reason.UDP_BAD_CHECKSUM);
  expectReason(f, VERIFY_NONE, Reason.OK);
});

const tcpCases = suite('malformed: TCP');

tcpCases('fewer than 20 bytes of TCP', () => {
  const f = buildTcpFrame(TCP_TEMPLATE);
  expectBoth(shortenIp(f, 1), Reason.TCP_TRUNCATED);
});

tcpCases('data offset below 5 words', () => {
  const f = tcp();
  f[L4 + TCP_DATA_OFF] = 4 << 4;
  expectBoth(f, Reason.TCP_BAD_DATA_OFFSET);
});

tcpCases('data offset beyond the segment', () => {
  const f = buildTcpFrame(TCP_TEMPLATE); // 20-byte segment, no payload
  f[L4 + TCP_DATA_OFF] = 6 << 4;
  expectBoth(f, Reason.TCP_BAD_DATA_OFFSET);
});

tcpCases('wrong checksum (payload bit flipped)', () => {
  const f = tcp();
  f[f.length - 2] ^= 0x08;
  expectReason(f, VERIFY_ALL, Reason.TCP_BAD_CHECKSUM);
  expectReason(f, VERIFY_NONE, Reason.OK);
});

tcpCases('wrong checksum for the pseudo-header (segment re-addressed, IP checksum fixed)', () => {
  const f = tcp();
  writeU16(f, L3 + 18, (ip(SERVER) & 0xffff) ^ 1);
  fixIp(f);
  expectReason(f, VERIFY_ALL, Reason.TCP_BAD_CHECKSUM);
});

const opts = suite('malformed: TCP options');

opts('zero-length option', () => {
  expectBoth(synWith([2, 4, 5, 180, 30, 0, 0, 0]), Reason.TCP_OPT_BAD_LEN);
});

opts('option length 1', () => {
  expectBoth(synWith([30, 1, 1, 1]), Reason.TCP_OPT_BAD_LEN);
});

opts('MSS with length 3', () => {
  expectBoth(synWith([2, 3, 5, 1]), Reason.TCP_OPT_BAD_LEN);
});

opts('window scale with length 4', () => {
  expectBoth(synWith([3, 4, 7, 0]), Reason.TCP_OPT_BAD_LEN);
});

opts('SACK-permitted with length 3', () => {
  expectBoth(synWith([4, 3, 0, 1]), Reason.TCP_OPT_BAD_LEN);
});

opts('SACK with no blocks (length 2)', () => {
  expectBoth(synWith([1, 1, 5, 2]), Reason.TCP_OPT_BAD_LEN);
});

opts('SACK length not 2 + 8n (length 14)', () => {
  expectBoth(synWith([5, 14, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 1]), Reason.TCP_OPT_BAD_LEN);
});

opts('SACK with five blocks (length 42, checked on a wider range)', () => {
  const b = new Uint8Array(44);
  b[0] = 5;
  b[1] = 42;
  const m = new FrameMeta();
  m.sackBlocks.fill(7);
  assert.is(reasonName(parseTcpOptions(b, 0, 44, m)), 'TCP_OPT_BAD_LEN');
  assert.equal(Array.from(m.sackBlocks), [7, 7, 7, 7, 7, 7, 7, 7]);
});

opts('timestamps with length 8', () => {
  expectBoth(synWith([8, 8, 0, 0, 0, 1, 0, 0]), Reason.TCP_OPT_BAD_LEN);
});

opts('option length runs past the data offset', () => {
  expectBoth(synWith([1, 1, 8, 10, 0, 0, 0, 1]), Reason.TCP_OPT_OVERRUN);
});

opts('kind in the last option byte with no room for its length', () => {
  expectBoth(synWith([1, 1, 1, 2]), Reason.TCP_OPT_OVERRUN);
});

opts('unknown kind running past the data offset', () => {
  expectBoth(synWith([99, 40, 0, 0]), Reason.TCP_OPT_OVERRUN);
});

frame.run();
eth.run();
arpCases.run();
ipv4.run();
icmpCases.run();
udpCases.run();
tcpCases.run();
opts.run();
