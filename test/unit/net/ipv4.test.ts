import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameMeta, VERIFY_ALL, VERIFY_NONE } from '../../../dataplane/net/frame.js';
import {
  IPV4_FLAG_DF, IP_PROTO_UDP, ipv4ChecksumField, ipv4Dst, ipv4Flags, ipv4FragOffset, ipv4HeaderChecksumOk, ipv4HeaderLen,
  ipv4Ident, ipv4Proto, ipv4Src, ipv4ToString, ipv4TotalLen, ipv4Tos, ipv4Ttl, ipv4Version, parseIpv4, parseIpv4Header,
  setIpv4Dst, setIpv4Src, setIpv4Ttl, swapIpv4Addresses, writeIpv4Header,
} from '../../../dataplane/net/ipv4.js';
import { Reason, reasonName } from '../../../dataplane/net/reason.js';
import { expectMeta } from './meta-checker.js';

test('writeIpv4Header and the accessors agree, checksum valid', () => {
  const b = new Uint8Array(24);
  assert.is(writeIpv4Header(b, 4, 0xb8, 1500, 0xfffe, IPV4_FLAG_DF, 1, IP_PROTO_UDP, 0xc6120001, 0xffffffff), 20);
  assert.is(ipv4Version(b, 4), 4);
  assert.is(ipv4HeaderLen(b, 4), 20);
  assert.is(ipv4Tos(b, 4), 0xb8);
  assert.is(ipv4TotalLen(b, 4), 1500);
  assert.is(ipv4Ident(b, 4), 0xfffe);
  assert.is(ipv4Flags(b, 4), IPV4_FLAG_DF);
  assert.is(ipv4FragOffset(b, 4), 0);
  assert.is(ipv4Ttl(b, 4), 1);
  assert.is(ipv4Proto(b, 4), IP_PROTO_UDP);
  assert.is(ipv4Src(b, 4), 0xc6120001);
  assert.is(ipv4Dst(b, 4), 0xffffffff);
  assert.ok(ipv4HeaderChecksumOk(b, 4, 20));
  assert.ok(ipv4ChecksumField(b, 4) !== 0);
});

test('addresses are unsigned numbers in dotted order', () => {
  assert.is(parseIpv4('198.18.0.1'), 0xc6120001);
  assert.is(parseIpv4('255.255.255.255'), 0xffffffff);
  assert.is(parseIpv4('0.0.0.0'), 0);
  assert.is(ipv4ToString(0xc6120001), '198.18.0.1');
  assert.is(ipv4ToString(0xffffffff), '255.255.255.255');
  assert.is(ipv4ToString(0xc6120001 | 0), '198.18.0.1', 'int32 form prints the same');
});

test('parseIpv4 refuses what is not a dotted quad', () => {
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4/24', 'a.b.c.d']) {
    assert.is(parseIpv4(bad), -1, bad);
  }
});

test('setters and swapIpv4Addresses; swapping keeps the checksum valid', () => {
  const b = new Uint8Array(20);
  writeIpv4Header(b, 0, 0, 40, 1, 0, 64, 6, 0x0a000001, 0x0a000002);
  swapIpv4Addresses(b, 0);
  assert.is(ipv4Src(b, 0), 0x0a000002);
  assert.is(ipv4Dst(b, 0), 0x0a000001);
  assert.ok(ipv4HeaderChecksumOk(b, 0, 20));
  setIpv4Src(b, 0, 0x80000000);
  setIpv4Dst(b, 0, 0x7fffffff);
  setIpv4Ttl(b, 0, 9);
  assert.is(ipv4Src(b, 0), 0x80000000);
  assert.is(ipv4Dst(b, 0), 0x7fffffff);
  assert.is(ipv4Ttl(b, 0), 9);
  assert.not.ok(ipv4HeaderChecksumOk(b, 0, 20));
});

test('parseIpv4Header alone: fills L3 fields and L4 bounds from the total length', () => {
  const b = new Uint8Array(64);
  writeIpv4Header(b, 0, 0, 48, 0x77, 0, 200, 6, 0xc6120001, 0xc6130050);
  const m = new FrameMeta();
  assert.is(parseIpv4Header(b, 0, 64, m, VERIFY_ALL), Reason.OK);
  expectMeta(m, { l3Off: 0, l3Len: 48, ttl: 200, ipId: 0x77, ipFlags: 0, srcIp: 0xc6120001, dstIp: 0xc6130050, l4Off: 20, l4Len: 28 });
});

test('parseIpv4Header: the DF flag alone is not a fragment', () => {
  const b = new Uint8Array(20);
  writeIpv4Header(b, 0, 0, 20, 0, IPV4_FLAG_DF, 64, 6, 1, 2);
  assert.is(reasonName(parseIpv4Header(b, 0, 20, new FrameMeta(), VERIFY_ALL)), 'OK');
});

test('parseIpv4Header: a header-only datagram has an empty L4', () => {
  const b = new Uint8Array(20);
  writeIpv4Header(b, 0, 0, 20, 0, 0, 64, 6, 1, 2);
  const m = new FrameMeta();
  assert.is(parseIpv4Header(b, 0, 20, m, VERIFY_NONE), Reason.OK);
  expectMeta(m, { l4Off: 20, l4Len: 0 });
});

test.run();
