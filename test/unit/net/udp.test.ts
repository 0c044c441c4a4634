import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameMeta, VERIFY_ALL } from '../../../dataplane/net/frame.js';
import {
  parseUdpDatagram, udpChecksumField, udpChecksumOk, udpDstPort, udpLength, udpSrcPort, writeUdpHeader,
} from '../../../dataplane/net/udp.js';
import { Reason } from '../../../dataplane/net/reason.js';
import { writeU16 } from '../../../dataplane/net/byte-order.js';
import { CLIENT, L4, SERVER, buildUdpFrame, ip } from './frame-builder.js';
import { expectMeta, parseOk } from './meta-checker.js';

test('writeUdpHeader and the accessors agree; checksum 0 (none)', () => {
  const b = new Uint8Array(8);
  assert.is(writeUdpHeader(b, 0, 68, 67, 300), 8);
  assert.is(udpSrcPort(b, 0), 68);
  assert.is(udpDstPort(b, 0), 67);
  assert.is(udpLength(b, 0), 300);
  assert.is(udpChecksumField(b, 0), 0);
});

test('built datagrams carry a valid checksum', () => {
  const f = buildUdpFrame({ src: CLIENT, dst: SERVER, sport: 1000, dport: 2000, payload: 'odd' });
  assert.ok(udpChecksumField(f, L4) !== 0);
  assert.ok(udpChecksumOk(f, L4, 11, ip(CLIENT), ip(SERVER)));
});

test('an empty datagram parses with zero payload', () => {
  expectMeta(parseOk(buildUdpFrame({ src: CLIENT, dst: SERVER, sport: 1, dport: 2 }), VERIFY_ALL), { l4Len: 8, payloadLen: 0, payloadOff: 42 });
});

test('a UDP length shorter than the IP payload: the payload ends at the UDP length', () => {
  const f = buildUdpFrame({ src: CLIENT, dst: SERVER, sport: 1, dport: 2, payload: 'abcdef', noChecksum: true });
  writeU16(f, L4 + 4, 8 + 4); // the last two bytes are trailing IP payload
  const m = parseOk(f, VERIFY_ALL);
  expectMeta(m, { l4Len: 12, payloadLen: 4 });
});

test('parseUdpDatagram alone reads ports, length and payload bounds', () => {
  const f = buildUdpFrame({ src: CLIENT, dst: SERVER, sport: 4789, dport: 4790, payload: 'vxlan' });
  const m = new FrameMeta();
  m.srcIp = ip(CLIENT);
  m.dstIp = ip(SERVER);
  assert.is(parseUdpDatagram(f, L4, 13, m, VERIFY_ALL), Reason.OK);
  expectMeta(m, { srcPort: 4789, dstPort: 4790, l4Len: 13, payloadOff: L4 + 8, payloadLen: 5 });
});

test.run();
