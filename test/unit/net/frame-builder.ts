// Builds whole frames from plain field objects, for tests: the net tests
// parse what was built and compare fields exactly, and corrupt built frames
// byte by byte to make each malformed case. Not hot path: allocates freely.
//
// Fixtures are templates with overrides, smoltcp-style:
//   buildTcpFrame({ ...SYN, seq: 1000, options: { mss: 1460 } })

import { ETHERTYPE_ARP, ETHERTYPE_IPV4, parseMac, writeEthernet, writeEthernetVlan } from '../../../dataplane/net/ethernet.js';
import {
  IPV4_FLAG_DF, IPV4_VER_IHL, IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP,
  ipv4HeaderChecksumFill, parseIpv4, setIpv4TotalLen, writeIpv4Header,
} from '../../../dataplane/net/ipv4.js';
import { tcpChecksumFill, writeTcpHeader, writeTcpOptions } from '../../../dataplane/net/tcp.js';
import { udpChecksumFill, writeUdpHeader } from '../../../dataplane/net/udp.js';
import { ICMP_ECHO_REQUEST, writeIcmpEcho } from '../../../dataplane/net/icmp.js';
import { ARP_OP_REQUEST, writeArpPacket } from '../../../dataplane/net/arp.js';

export interface EthSpec {
  readonly srcMac?: string;
  readonly dstMac?: string;
  /** 802.1Q VLAN id; absent = untagged. */
  readonly vlan?: number;
  readonly pcp?: number;
}

export interface Ipv4Spec extends EthSpec {
  readonly src: string;
  readonly dst: string;
  readonly ttl?: number;
  readonly tos?: number;
  readonly ident?: number;
  /** Don't Fragment; default true. */
  readonly df?: boolean;
  /** Raw IPv4 option bytes (padded with EOL to a multiple of 4). */
  readonly ipOptions?: readonly number[];
  /** Pad the frame with zero bytes to this length (Ethernet minimum 60). */
  readonly padTo?: number;
}

export interface TcpOptionsSpec {
  readonly mss?: number;
  readonly wscale?: number;
  readonly sackPermitted?: boolean;
  readonly ts?: { readonly val: number; readonly ecr: number };
  readonly sack?: readonly (readonly [number, number])[];
}

export interface TcpFrameSpec extends Ipv4Spec {
  readonly sport: number;
  readonly dport: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  readonly urgent?: number;
  readonly options?: TcpOptionsSpec;
  /** Raw option bytes instead of `options` (padded with EOL to a multiple of 4). */
  readonly rawOptions?: readonly number[];
  readonly payload?: Uint8Array | string;
}

export interface UdpFrameSpec extends Ipv4Spec {
  readonly sport: number;
  readonly dport: number;
  readonly payload?: Uint8Array | string;
  /** Leave the checksum 0 ("none"). */
  readonly noChecksum?: boolean;
}

export interface IcmpEchoSpec extends Ipv4Spec {
  readonly type?: number;
  readonly id: number;
  readonly seq: number;
  readonly payload?: Uint8Array | string;
}

export interface ArpSpec {
  readonly op?: number;
  readonly srcMac?: string;
  readonly dstMac?: string;
  readonly senderMac: string;
  readonly senderIp: string;
  readonly targetMac: string;
  readonly targetIp: string;
  readonly vlan?: number;
}

export const MAC_A = '02:00:00:00:00:0a';
export const MAC_B = '02:00:00:00:00:0b';

export function mac(text: string): Uint8Array {
  const out = new Uint8Array(6);
  if (!parseMac(text, out, 0)) throw new Error(`bad MAC in test: ${text}`);
  return out;
}

export function ip(text: string): number {
  const v = parseIpv4(text);
  if (v < 0) throw new Error(`bad IPv4 address in test: ${text}`);
  return v;
}

function bytesOf(p: Uint8Array | string | undefined): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  return typeof p === 'string' ? new TextEncoder().encode(p) : p;
}

function padded(raw: readonly number[]): number[] {
  const out = raw.slice();
  while (out.length % 4 !== 0) out.push(0);
  return out;
}

function l2Len(spec: EthSpec): number {
  return spec.vlan === undefined ? 14 : 18;
}

function writeL2(b: Uint8Array, spec: EthSpec, etherType: number): number {
  const src = mac(spec.srcMac ?? MAC_A);
  const dst = mac(spec.dstMac ?? MAC_B);
  if (spec.vlan === undefined) return writeEthernet(b, 0, dst, 0, src, 0, etherType);
  return writeEthernetVlan(b, 0, dst, 0, src, 0, spec.vlan, spec.pcp ?? 0, etherType);
}

/** Ethernet + IPv4 (with options if asked) for `l4Len` bytes of `proto`; returns the buffer and offsets. */
function buildIpv4(spec: Ipv4Spec, proto: number, l4Len: number): { frame: Uint8Array; l3: number; l4: number } {
  const ipOpts = padded(spec.ipOptions ?? []);
  const l2 = l2Len(spec);
  const ihl = 20 + ipOpts.length;
  const len = l2 + ihl + l4Len;
  const frame = new Uint8Array(Math.max(len, spec.padTo ?? 0));
  writeL2(frame, spec, ETHERTYPE_IPV4);
  writeIpv4Header(
    frame, l2, spec.tos ?? 0, ihl + l4Len, spec.ident ?? 0x1234, spec.df === false ? 0 : IPV4_FLAG_DF,
    spec.ttl ?? 64, proto, ip(spec.src), ip(spec.dst),
  );
  if (ipOpts.length > 0) {
    // writeIpv4Header writes a 20-byte header; widen it for the options.
    frame[l2 + IPV4_VER_IHL] = 0x40 | (ihl >>> 2);
    frame.set(ipOpts, l2 + 20);
    setIpv4TotalLen(frame, l2, ihl + l4Len);
    ipv4HeaderChecksumFill(frame, l2, ihl);
  }
  return { frame, l3: l2, l4: l2 + ihl };
}

export function buildTcpFrame(spec: TcpFrameSpec): Uint8Array {
  const payload = bytesOf(spec.payload);
  const opts = new Uint8Array(40);
  let optLen: number;
  if (spec.rawOptions !== undefined) {
    const raw = padded(spec.rawOptions);
    opts.set(raw, 0);
    optLen = raw.length;
  } else {
    const o = spec.options ?? {};
    const sack = o.sack ?? [];
    const blocks = new Uint32Array(8);
    sack.forEach(([l, r], i) => { blocks[2 * i] = l; blocks[2 * i + 1] = r; });
    optLen = writeTcpOptions(
      opts, 0, o.mss ?? 0, o.wscale ?? -1, o.sackPermitted === true ? 1 : 0,
      o.ts?.val ?? 0, o.ts?.ecr ?? 0, o.ts === undefined ? 0 : 1, blocks, sack.length,
    );
  }
  const tcpLen = 20 + optLen + payload.length;
  const { frame, l4 } = buildIpv4(spec, IP_PROTO_TCP, tcpLen);
  writeTcpHeader(frame, l4, spec.sport, spec.dport, spec.seq, spec.ack, 20 + optLen, spec.flags, spec.window, spec.urgent ?? 0);
  frame.set(opts.subarray(0, optLen), l4 + 20);
  frame.set(payload, l4 + 20 + optLen);
  tcpChecksumFill(frame, l4, tcpLen, ip(spec.src), ip(spec.dst));
  return frame;
}

export function buildUdpFrame(spec: UdpFrameSpec): Uint8Array {
  const payload = bytesOf(spec.payload);
  const udpLen = 8 + payload.length;
  const { frame, l4 } = buildIpv4(spec, IP_PROTO_UDP, udpLen);
  writeUdpHeader(frame, l4, spec.sport, spec.dport, udpLen);
  frame.set(payload, l4 + 8);
  if (spec.noChecksum !== true) udpChecksumFill(frame, l4, udpLen, ip(spec.src), ip(spec.dst));
  return frame;
}

export function buildIcmpEchoFrame(spec: IcmpEchoSpec): Uint8Array {
  const payload = bytesOf(spec.payload);
  const { frame, l4 } = buildIpv4(spec, IP_PROTO_ICMP, 8 + payload.length);
  frame.set(payload, l4 + 8);
  writeIcmpEcho(frame, l4, spec.type ?? ICMP_ECHO_REQUEST, spec.id, spec.seq, payload.length);
  return frame;
}

export function buildArpFrame(spec: ArpSpec): Uint8Array {
  const l2 = l2Len(spec);
  const frame = new Uint8Array(l2 + 28);
  writeL2(frame, { srcMac: spec.srcMac ?? spec.senderMac, dstMac: spec.dstMac ?? 'ff:ff:ff:ff:ff:ff', ...(spec.vlan === undefined ? {} : { vlan: spec.vlan }) }, ETHERTYPE_ARP);
  writeArpPacket(
    frame, l2, spec.op ?? ARP_OP_REQUEST, mac(spec.senderMac), 0, ip(spec.senderIp),
    mac(spec.targetMac), 0, ip(spec.targetIp),
  );
  return frame;
}

/** Copy `frame` into a larger buffer at `off`, the rest filled with `fill` (garbage that must never be read). */
export function placeAt(frame: Uint8Array, off: number, total = off + frame.length + 64, fill = 0xa5): Uint8Array {
  const b = new Uint8Array(total).fill(fill);
  b.set(frame, off);
  return b;
}

/** Offsets inside a frame built without VLAN or IP options. */
export const L3 = 14;
export const L4 = 34;

// --- templates ---------------------------------------------------------------------

export const CLIENT = '198.18.0.1';
export const SERVER = '198.19.0.80';

export const TCP_TEMPLATE: TcpFrameSpec = {
  src: CLIENT, dst: SERVER, sport: 40000, dport: 80,
  seq: 0x01020304, ack: 0xa0b0c0d0, flags: 0x10, window: 64240,
};
