import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameMeta, VERIFY_ALL, parseFrame } from '../../../dataplane/net/frame.js';
import {
  ICMP_DEST_UNREACHABLE, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, icmpChecksumField, icmpChecksumFill, icmpChecksumOk,
  icmpCode, icmpEchoId, icmpEchoReplyInPlace, icmpEchoSeq, icmpType,
} from '../../../dataplane/net/icmp.js';
import { ipv4ChecksumField, ipv4HeaderChecksum } from '../../../dataplane/net/ipv4.js';
import { macToString } from '../../../dataplane/net/ethernet.js';
import { CLIENT, L3, L4, MAC_A, MAC_B, SERVER, buildIcmpEchoFrame, ip } from './frame-builder.js';
import { expectMeta, parseOk } from './meta-checker.js';

test('echo request accessors', () => {
  const f = buildIcmpEchoFrame({ src: CLIENT, dst: SERVER, id: 0xabcd, seq: 0x0102, payload: 'abc' });
  assert.is(icmpType(f, L4), ICMP_ECHO_REQUEST);
  assert.is(icmpCode(f, L4), 0);
  assert.is(icmpEchoId(f, L4), 0xabcd);
  assert.is(icmpEchoSeq(f, L4), 0x0102);
  assert.ok(icmpChecksumOk(f, L4, 11));
});

test('icmpEchoReplyInPlace: swapped addresses, type 0, new TTL, both checksums as if recomputed', () => {
  const f = buildIcmpEchoFrame({ src: CLIENT, dst: SERVER, id: 7, seq: 42, ttl: 3, payload: 'odd-length payload!' });
  const m = parseOk(f, VERIFY_ALL);
  icmpEchoReplyInPlace(f, m.l2Off, m.l3Off, m.l4Off, 64);
  const r = parseOk(f, VERIFY_ALL, new FrameMeta());
  expectMeta(r, { srcIp: ip(SERVER), dstIp: ip(CLIENT), ttl: 64, icmpType: ICMP_ECHO_REPLY, icmpId: 7, icmpSeq: 42, payloadLen: 19 });
  assert.is(macToString(f, 0), MAC_A);
  assert.is(macToString(f, 6), MAC_B);
  // Incremental updates give exactly what a full recomputation would store.
  assert.is(ipv4ChecksumField(f, L3), ipv4HeaderChecksum(f, L3, 20));
  const incremental = icmpChecksumField(f, L4);
  icmpChecksumFill(f, L4, 8 + 19);
  assert.is(icmpChecksumField(f, L4), incremental);
});

test('other ICMP types parse for type and code, with id and seq 0', () => {
  const f = buildIcmpEchoFrame({ src: CLIENT, dst: SERVER, type: ICMP_DEST_UNREACHABLE, id: 0, seq: 1500, payload: 'orig hdr' });
  f[L4 + 1] = 4; // fragmentation needed
  icmpChecksumFill(f, L4, 16);
  const m = new FrameMeta();
  assert.is(parseFrame(f, 0, f.length, m, VERIFY_ALL), 0);
  expectMeta(m, { icmpType: ICMP_DEST_UNREACHABLE, icmpCode: 4, icmpId: 0, icmpSeq: 0, payloadLen: 8 });
});

test.run();
