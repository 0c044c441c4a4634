import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameMeta, VERIFY_ALL } from '../../../dataplane/net/frame.js';
import {
  ARP_FRAME_LEN, ARP_OP_REPLY, ARP_OP_REQUEST, arpOper, arpSenderIp, arpSenderMacOff, arpTargetIp, arpTargetMacOff,
  parseArpPacket, writeArpReplyFrame, writeArpRequestFrame, writeGratuitousArpFrame,
} from '../../../dataplane/net/arp.js';
import { ETHERTYPE_ARP, ethType, isBroadcastMac, macToString } from '../../../dataplane/net/ethernet.js';
import { Reason } from '../../../dataplane/net/reason.js';
import { CLIENT, MAC_A, MAC_B, SERVER, buildArpFrame, ip, mac } from './frame-builder.js';
import { expectMeta, parseOk } from './meta-checker.js';

const L3 = 14;

test('writeArpRequestFrame: broadcast "who has target? tell sender", target MAC zero', () => {
  const b = new Uint8Array(64);
  assert.is(writeArpRequestFrame(b, 0, mac(MAC_A), 0, ip(CLIENT), ip(SERVER)), ARP_FRAME_LEN);
  assert.ok(isBroadcastMac(b, 0));
  assert.is(macToString(b, 6), MAC_A);
  assert.is(ethType(b, 0), ETHERTYPE_ARP);
  const m = parseOk(b, VERIFY_ALL, new FrameMeta(), 0, ARP_FRAME_LEN);
  expectMeta(m, { arpOp: ARP_OP_REQUEST, srcIp: ip(CLIENT), dstIp: ip(SERVER) });
  assert.is(macToString(b, arpSenderMacOff(L3)), MAC_A);
  assert.is(macToString(b, arpTargetMacOff(L3)), '00:00:00:00:00:00');
});

test('writeArpReplyFrame: unicast to the asker with our MAC as sender', () => {
  const b = new Uint8Array(ARP_FRAME_LEN);
  writeArpReplyFrame(b, 0, mac(MAC_B), 0, ip(SERVER), mac(MAC_A), 0, ip(CLIENT));
  assert.is(macToString(b, 0), MAC_A);
  assert.is(macToString(b, 6), MAC_B);
  assert.is(arpOper(b, L3), ARP_OP_REPLY);
  assert.is(arpSenderIp(b, L3), ip(SERVER));
  assert.is(arpTargetIp(b, L3), ip(CLIENT));
  assert.is(macToString(b, arpSenderMacOff(L3)), MAC_B);
  assert.is(macToString(b, arpTargetMacOff(L3)), MAC_A);
});

test('writeGratuitousArpFrame: RFC 5227 announcement, sender IP = target IP, broadcast request', () => {
  const b = new Uint8Array(ARP_FRAME_LEN);
  writeGratuitousArpFrame(b, 0, mac(MAC_B), 0, ip(SERVER));
  assert.ok(isBroadcastMac(b, 0));
  const m = parseOk(b, VERIFY_ALL);
  expectMeta(m, { arpOp: ARP_OP_REQUEST, srcIp: ip(SERVER), dstIp: ip(SERVER) });
  assert.is(macToString(b, arpSenderMacOff(L3)), MAC_B);
  assert.is(macToString(b, arpTargetMacOff(L3)), '00:00:00:00:00:00');
});

test('ARP inside an 802.1Q tag parses', () => {
  const f = buildArpFrame({ senderMac: MAC_A, senderIp: CLIENT, targetMac: MAC_B, targetIp: SERVER, op: ARP_OP_REPLY, vlan: 12 });
  expectMeta(parseOk(f, VERIFY_ALL), { vlan: 12, l3Off: 18, arpOp: ARP_OP_REPLY });
});

test('parseArpPacket alone accepts a padded 60-byte frame body', () => {
  const b = new Uint8Array(60);
  writeArpRequestFrame(b, 0, mac(MAC_A), 0, ip(CLIENT), ip(SERVER));
  assert.is(parseArpPacket(b, L3, 46, new FrameMeta()), Reason.OK);
});

test.run();
