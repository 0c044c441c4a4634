import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ETHERTYPE_IPV4, ETH_HEADER_LEN, VLAN_HEADER_LEN, copyMac, ethType, isBroadcastMac, isMulticastMac, macEquals,
  macToString, parseMac, swapEthAddresses, vlanId, vlanPcp, writeEthernet, writeEthernetVlan,
} from '../../../dataplane/net/ethernet.js';
import { mac } from './frame-builder.js';

test('writeEthernet lays out dst, src, EtherType', () => {
  const b = new Uint8Array(20);
  assert.is(writeEthernet(b, 2, mac('02:00:00:00:00:0b'), 0, mac('02:00:00:00:00:0a'), 0, ETHERTYPE_IPV4), ETH_HEADER_LEN);
  assert.equal(Array.from(b.subarray(2, 16)), [2, 0, 0, 0, 0, 0x0b, 2, 0, 0, 0, 0, 0x0a, 0x08, 0x00]);
  assert.is(ethType(b, 2), ETHERTYPE_IPV4);
});

test('writeEthernetVlan writes TPID 0x8100, TCI = PCP:3 DEI:1 VID:12, inner type', () => {
  const b = new Uint8Array(18);
  assert.is(writeEthernetVlan(b, 0, mac('ff:ff:ff:ff:ff:ff'), 0, mac('02:00:00:00:00:0a'), 0, 0xabc, 5, ETHERTYPE_IPV4), VLAN_HEADER_LEN);
  assert.equal(Array.from(b.subarray(12, 18)), [0x81, 0x00, 0xaa, 0xbc, 0x08, 0x00]);
  assert.is(vlanId(b, 0), 0xabc);
  assert.is(vlanPcp(b, 0), 5);
});

test('macToString and parseMac round-trip; parseMac accepts - and upper case', () => {
  const b = new Uint8Array(8);
  assert.ok(parseMac('0A:1b:2C:3d:4E:5f', b, 1));
  assert.is(macToString(b, 1), '0a:1b:2c:3d:4e:5f');
  assert.ok(parseMac('00-11-22-33-44-55', b, 0));
  assert.is(macToString(b, 0), '00:11:22:33:44:55');
});

test('parseMac refuses malformed text and leaves the output untouched', () => {
  const b = new Uint8Array(6).fill(9);
  for (const bad of ['', '00:11:22:33:44', '00:11:22:33:44:55:66', '00:11-22:33:44:55', 'g0:11:22:33:44:55', '0:11:22:33:44:55']) {
    assert.not.ok(parseMac(bad, b, 0), bad);
  }
  assert.equal(Array.from(b), [9, 9, 9, 9, 9, 9]);
});

test('copyMac, macEquals, broadcast and multicast bits', () => {
  const a = mac('01:00:5e:00:00:01');
  const b = new Uint8Array(10);
  copyMac(b, 3, a, 0);
  assert.ok(macEquals(a, 0, b, 3));
  b[8] ^= 1;
  assert.not.ok(macEquals(a, 0, b, 3));
  assert.ok(isMulticastMac(a, 0));
  assert.not.ok(isBroadcastMac(a, 0));
  assert.ok(isBroadcastMac(mac('ff:ff:ff:ff:ff:ff'), 0));
  assert.not.ok(isMulticastMac(mac('02:00:00:00:00:01'), 0));
});

test('swapEthAddresses exchanges destination and source', () => {
  const b = new Uint8Array(14);
  writeEthernet(b, 0, mac('02:00:00:00:00:0b'), 0, mac('02:00:00:00:00:0a'), 0, ETHERTYPE_IPV4);
  swapEthAddresses(b, 0);
  assert.is(macToString(b, 0), '02:00:00:00:00:0a');
  assert.is(macToString(b, 6), '02:00:00:00:00:0b');
  assert.is(ethType(b, 0), ETHERTYPE_IPV4);
});

test.run();
