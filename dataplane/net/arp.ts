// ARP for IPv4 over Ethernet (RFC 826), with RFC 5227 announcements.
//
//   0       2       4    5    6       8            14           18           24        28
//   | htype | ptype | hlen plen | oper | sender MAC | sender IP | target MAC | target IP |
//
// Only htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4 is accepted.

import type { FrameMeta } from './frame.js';
import { Reason } from './reason.js';
import { readI32, readU16, readU32, writeU16, writeU32 } from './byte-order.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETH_HEADER_LEN, MAC_LEN, copyMac, writeEthernet } from './ethernet.js';

export const ARP_HTYPE = 0;
export const ARP_PTYPE = 2;
export const ARP_HLEN = 4;
export const ARP_PLEN = 5;
export const ARP_OPER = 6;
export const ARP_SHA = 8;
export const ARP_SPA = 14;
export const ARP_THA = 18;
export const ARP_TPA = 24;
export const ARP_PACKET_LEN = 28;
/** 14-byte Ethernet header + 28-byte ARP packet (before any padding to 60). */
export const ARP_FRAME_LEN = 42;

export const ARP_HTYPE_ETHERNET = 1;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const ZERO_MAC = new Uint8Array(MAC_LEN);

export function arpOper(b: Uint8Array, off: number): number {
  return readU16(b, off + ARP_OPER);
}
export function arpSenderIp(b: Uint8Array, off: number): number {
  return readU32(b, off + ARP_SPA);
}
export function arpTargetIp(b: Uint8Array, off: number): number {
  return readU32(b, off + ARP_TPA);
}
/** Offset of the sender MAC (6 bytes) in `b`. */
export function arpSenderMacOff(off: number): number {
  return off + ARP_SHA;
}
/** Offset of the target MAC (6 bytes) in `b`. */
export function arpTargetMacOff(off: number): number {
  return off + ARP_THA;
}

/** Write a 28-byte Ethernet/IPv4 ARP packet at `off`. Returns 28. */
export function writeArpPacket(
  b: Uint8Array, off: number, oper: number,
  senderMac: Uint8Array, senderMacOff: number, senderIp: number,
  targetMac: Uint8Array, targetMacOff: number, targetIp: number,
): number {
  writeU16(b, off + ARP_HTYPE, ARP_HTYPE_ETHERNET);
  writeU16(b, off + ARP_PTYPE, ETHERTYPE_IPV4);
  b[off + ARP_HLEN] = MAC_LEN;
  b[off + ARP_PLEN] = 4;
  writeU16(b, off + ARP_OPER, oper);
  copyMac(b, off + ARP_SHA, senderMac, senderMacOff);
  writeU32(b, off + ARP_SPA, senderIp);
  copyMac(b, off + ARP_THA, targetMac, targetMacOff);
  writeU32(b, off + ARP_TPA, targetIp);
  return ARP_PACKET_LEN;
}

/** Broadcast "who has targetIp? tell ourIp" frame (target MAC zero). Returns 42. */
export function writeArpRequestFrame(
  b: Uint8Array, off: number, ourMac: Uint8Array, ourMacOff: number, ourIp: number, targetIp: number,
): number {
  writeEthernet(b, off, BROADCAST_MAC, 0, ourMac, ourMacOff, ETHERTYPE_ARP);
  writeArpPacket(b, off + ETH_HEADER_LEN, ARP_OP_REQUEST, ourMac, ourMacOff, ourIp, ZERO_MAC, 0, targetIp);
  return ARP_FRAME_LEN;
}

/** Unicast "ourIp is at ourMac" to the asker. Returns 42. */
export function writeArpReplyFrame(
  b: Uint8Array, off: number, ourMac: Uint8Array, ourMacOff: number, ourIp: number,
  peerMac: Uint8Array, peerMacOff: number, peerIp: number,
): number {
  writeEthernet(b, off, peerMac, peerMacOff, ourMac, ourMacOff, ETHERTYPE_ARP);
  writeArpPacket(b, off + ETH_HEADER_LEN, ARP_OP_REPLY, ourMac, ourMacOff, ourIp, peerMac, peerMacOff, peerIp);
  return ARP_FRAME_LEN;
}

/**
 * Gratuitous ARP announcing that `ip` is now at `mac` (takeover): an RFC 5227
 * §2.3 ARP Announcement, a broadcast request with sender IP = target IP and a
 * zero target MAC, which updates every neighbour cache holding `ip`. Returns 42.
 */
export function writeGratuitousArpFrame(b: Uint8Array, off: number, mac: Uint8Array, macOff: number, ip: number): number {
  writeEthernet(b, off, BROADCAST_MAC, 0, mac, macOff, ETHERTYPE_ARP);
  writeArpPacket(b, off + ETH_HEADER_LEN, ARP_OP_REQUEST, mac, macOff, ip, ZERO_MAC, 0, ip);
  return ARP_FRAME_LEN;
}

/**
 * Check and read the ARP packet of `len` bytes at `off`. Fills l3Off, l3Len
 * (28), arpOp, srcIp (sender) and dstIp (target); the MACs stay in the buffer
 * at arpSenderMacOff(off) and arpTargetMacOff(off).
 */
export function parseArpPacket(b: Uint8Array, off: number, len: number, meta: FrameMeta): number {
  if (len < ARP_PACKET_LEN) return Reason.ARP_TRUNCATED;
  if (
    ((b[off + ARP_HTYPE] << 8) | b[off + ARP_HTYPE + 1]) !== ARP_HTYPE_ETHERNET ||
    ((b[off + ARP_PTYPE] << 8) | b[off + ARP_PTYPE + 1]) !== ETHERTYPE_IPV4 ||
    b[off + ARP_HLEN] !== MAC_LEN || b[off + ARP_PLEN] !== 4
  ) {
    return Reason.ARP_UNSUPPORTED;
  }
  const op = (b[off + ARP_OPER] << 8) | b[off + ARP_OPER + 1];
  if (op !== ARP_OP_REQUEST && op !== ARP_OP_REPLY) return Reason.ARP_BAD_OP;
  meta.l3Off = off;
  meta.l3Len = ARP_PACKET_LEN;
  meta.arpOp = op;
  meta.srcIp = readI32(b, off + ARP_SPA) >>> 0;
  meta.dstIp = readI32(b, off + ARP_TPA) >>> 0;
  return Reason.OK;
}
