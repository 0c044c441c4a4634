// Service mode mirror — seed 002's apparatus on the primary: for every frame
// of a mirror-mode service's connections, received or sent, a copy goes to
// the backup that would take the address over (dataplane/snoop-table.ts
// MIRROR_TO), queued on the same tx ring as the node's own frames, so the
// backup sees each connection's frames in the order the primary handled them.
//
// A copy is the original frame whole behind a header of its own:
//   [dst = backup MAC][src = this node's MAC][MIRROR_ETHERTYPE][original frame]
// so the backup learns the client's MAC too (it needs it to take over), and
// the segment's switches learn nothing wrong. The native poller steers a
// mirror frame by its inner flow hash (native/src/steer.h), to the worker
// that holds the shadow. A frame too large to wrap within the segment's MTU
// (a full-sized segment) is sent re-addressed instead (its Ethernet
// addresses replaced): the shadow takes only the client's MAC from the
// connection's SYN, which always fits.
//
// Mirror frames are not authenticated: anyone on the segment can already
// send the primary forged segments, and the backup checks everything a
// mirror frame claims against the connection the same way as snooped frames.
import type { EndpointIo } from './endpoint.js';
import { SLOT_HEADROOM } from '../shm/layout.js';
import { SnoopRole, type SnoopTable } from './snoop-table.js';
import { Stat, type TcpStack } from './tcp/stack.js';
import { IPV4_FLAG_DF, IP_PROTO_TCP, writeIpv4Header } from './net/ipv4.js';
import { TCP_FLAG_ACK, TCP_FLAG_PSH, TCP_FLAG_SYN, tcpChecksumFill, writeTcpHeader, writeTcpOptions } from './net/tcp.js';

export const MIRROR_ETHERTYPE = 0x88b7;
/** Inside a mirror frame: a gap repair request (backup → primary), an IPv4 + TCP header naming the connection and the range. */
export const REPAIR_ETHERTYPE = 0x88b8;
/** Payload bytes per repair segment: the wrapped frame stays within MAX_FRAME. */
export const REPAIR_CHUNK = 1400;
/** Largest Ethernet frame (less FCS) at MTU 1500. */
export const MAX_FRAME = 1514;
const HDR = 14;

export class Mirror {
  private readonly stats: Float64Array;
  private readonly io: EndpointIo;
  private readonly table: SnoopTable;
  private readonly mac: Uint8Array;
  /** Mirror-mode services' local port ranges: [lo, hi, lo, hi, …]. */
  private readonly ports: Uint16Array;

  /** `stats`: the worker's TCP counters (Stat.MIRRORED, Stat.MIRROR_NO_SLOT). */
  constructor(io: EndpointIo, table: SnoopTable, mac: Uint8Array, ports: readonly number[], stats: Float64Array) {
    this.io = io;
    this.stats = stats;
    this.table = table;
    this.mac = mac;
    this.ports = Uint16Array.from(ports);
  }

  private served(port: number): boolean {
    const r = this.ports;
    for (let i = 0; i < r.length; i += 2) if (port >= r[i]! && port <= r[i + 1]!) return true;
    return false;
  }

  /**
   * Copies the frame at bytes[start, start+len) to the backup of `localIp`
   * when `localPort` belongs to a mirror-mode service and the address has a
   * backup right now. Sent on `poller`'s tx ring.
   */
  copy(poller: number, start: number, len: number, localIp: number, localPort: number): void {
    if (!this.served(localPort)) return;
    const t = this.table;
    const k = t.find(localIp, SnoopRole.MIRROR_TO);
    if (k < 0) return;
    const io = this.io;
    let slot = io.stack.pop();
    if (slot < 0 && io.refill() > 0) slot = io.stack.pop();
    if (slot < 0) {
      this.stats[Stat.MIRROR_NO_SLOT]! += 1;
      return;
    }
    const b = io.bytes;
    const o = io.pool.slotBase(slot) + SLOT_HEADROOM;
    const wrap = len + HDR <= MAX_FRAME;
    const body = wrap ? o + HDR : o;
    b.copyWithin(body, start, start + len);
    const hi = t.macHi[k]!;
    const lo = t.macLo[k]!;
    b[o] = hi >>> 24;
    b[o + 1] = (hi >>> 16) & 0xff;
    b[o + 2] = (hi >>> 8) & 0xff;
    b[o + 3] = hi & 0xff;
    b[o + 4] = (lo >>> 8) & 0xff;
    b[o + 5] = lo & 0xff;
    b.set(this.mac, o + 6);
    if (wrap) {
      b[o + 12] = MIRROR_ETHERTYPE >>> 8;
      b[o + 13] = MIRROR_ETHERTYPE & 0xff;
    }
    io.send(poller, slot, SLOT_HEADROOM, wrap ? len + HDR : len, 0);
    this.stats[Stat.MIRRORED]! += 1;
  }
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function writeMacWords(b: Uint8Array, o: number, hi: number, lo: number): void {
  b[o] = hi >>> 24;
  b[o + 1] = (hi >>> 16) & 0xff;
  b[o + 2] = (hi >>> 8) & 0xff;
  b[o + 3] = hi & 0xff;
  b[o + 4] = (lo >>> 8) & 0xff;
  b[o + 5] = lo & 0xff;
}

/**
 * Gap repair between a backup and its primary, carried in mirror frames
 * (steered by the connection's flow hash on both sides):
 *   backup → primary: [mirror hdr][inner: REPAIR_ETHERTYPE, IPv4+TCP header of
 *     the client's direction, seq = first missing byte, ack = end of the gap]
 *   primary → backup: the client's bytes again, as client → primary segments
 *     (real checksums) wrapped like mirror copies, built from the primary's
 *     receive buffer (bytes it consumed stay there until newer ones overwrite
 *     them). The backup's shadow takes them as it takes any snooped segment.
 * A primary that no longer holds the bytes does not answer; the shadow stays
 * inexact and is reset (counted) if a takeover comes first.
 */
export class Repair {
  private readonly io: EndpointIo;
  private readonly table: SnoopTable;
  private readonly mac: Uint8Array;
  private readonly stats: Float64Array;
  private readonly info = new Uint32Array(5);
  private readonly hs = new Int32Array(11);
  private readonly noSack = new Uint32Array(8);
  private ident = 0;

  constructor(io: EndpointIo, table: SnoopTable, mac: Uint8Array, stats: Float64Array) {
    this.io = io;
    this.table = table;
    this.mac = mac;
    this.stats = stats;
  }

  private slot(): number {
    const io = this.io;
    let slot = io.stack.pop();
    if (slot < 0 && io.refill() > 0) slot = io.stack.pop();
    if (slot < 0) this.stats[Stat.MIRROR_NO_SLOT]! += 1;
    return slot;
  }

  /** Backup: asks the holder of `localIp` for client bytes [from, to) of one connection. */
  ask(localIp: number, localPort: number, remoteIp: number, remotePort: number, from: number, to: number): void {
    const t = this.table;
    const k = t.find(localIp, SnoopRole.SHADOW);
    if (k < 0) return;
    const slot = this.slot();
    if (slot < 0) return;
    const io = this.io;
    const b = io.bytes;
    const o = io.pool.slotBase(slot) + SLOT_HEADROOM;
    b.fill(0, o, o + 68);
    writeMacWords(b, o, t.macHi[k]!, t.macLo[k]!);
    b.set(this.mac, o + 6);
    b[o + 12] = MIRROR_ETHERTYPE >>> 8;
    b[o + 13] = MIRROR_ETHERTYPE & 0xff;
    b.copyWithin(o + 14, o, o + 12);
    b[o + 26] = REPAIR_ETHERTYPE >>> 8;
    b[o + 27] = REPAIR_ETHERTYPE & 0xff;
    writeIpv4Header(b, o + 28, 0, 40, 0, IPV4_FLAG_DF, 64, IP_PROTO_TCP, remoteIp, localIp);
    writeTcpHeader(b, o + 48, remotePort, localPort, from, to, 20, 0, 0, 0);
    io.send(0, slot, SLOT_HEADROOM, 68, 0);
    this.stats[Stat.REPAIRS_ASKED]! += 1;
  }

  /**
   * Primary: a repair request arrived (the mirror frame at bytes[start,
   * start+len) whose inner ethertype is REPAIR_ETHERTYPE). Answers with the
   * bytes it still holds; returns false when it cannot.
   */
  serve(tcp: TcpStack, poller: number, start: number, len: number): boolean {
    if (len < 68) return false;
    const b = this.io.bytes;
    const client = readU32(b, start + 40);
    const local = readU32(b, start + 44);
    const clientPort = (b[start + 48]! << 8) | b[start + 49]!;
    const localPort = (b[start + 50]! << 8) | b[start + 51]!;
    const from = readU32(b, start + 52);
    const to = readU32(b, start + 56);
    const asker = b.slice(start + 6, start + 12);
    const info = this.info;
    const io = this.io;
    if (from === to) return this.serveHandshake(tcp, poller, asker, local, localPort, client, clientPort);
    const id = tcp.repairSource(local, localPort, client, clientPort, from, to, REPAIR_CHUNK, info, (ring, index, seq, n) => {
      const slot = this.slot();
      if (slot < 0) return;
      const o = io.pool.slotBase(slot) + SLOT_HEADROOM;
      const bb = io.bytes;
      bb.set(asker, o);
      bb.set(this.mac, o + 6);
      bb[o + 12] = MIRROR_ETHERTYPE >>> 8;
      bb[o + 13] = MIRROR_ETHERTYPE & 0xff;
      // The client's segment as it reached this node.
      bb.set(this.mac, o + 14);
      writeMacWords(bb, o + 20, info[0]!, info[1]!);
      bb[o + 26] = 0x08;
      bb[o + 27] = 0x00;
      const l3 = o + 28;
      const l4 = l3 + 20;
      this.ident = (this.ident + 1) & 0xffff;
      writeIpv4Header(bb, l3, 0, 40 + n, this.ident, IPV4_FLAG_DF, 64, IP_PROTO_TCP, client, local);
      writeTcpHeader(bb, l4, clientPort, localPort, seq, info[2]!, 20, TCP_FLAG_ACK | TCP_FLAG_PSH, info[3]!, 0);
      bb.set(ring.subarray(index, index + n), l4 + 20);
      tcpChecksumFill(bb, l4, 20 + n, client, local);
      io.send(poller, slot, SLOT_HEADROOM, 14 + 14 + 40 + n, 0);
    });
    return id >= 0;
  }

  /** A handshake repair: the SYN-ACK this node sent, again, for a backup that missed it. */
  private serveHandshake(tcp: TcpStack, poller: number, asker: Uint8Array, local: number, localPort: number, client: number, clientPort: number): boolean {
    const h = this.hs;
    if (!tcp.handshakeSource(local, localPort, client, clientPort, performance.now(), h)) return false;
    const slot = this.slot();
    if (slot < 0) return false;
    const io = this.io;
    const bb = io.bytes;
    const o = io.pool.slotBase(slot) + SLOT_HEADROOM;
    bb.set(asker, o);
    bb.set(this.mac, o + 6);
    bb[o + 12] = MIRROR_ETHERTYPE >>> 8;
    bb[o + 13] = MIRROR_ETHERTYPE & 0xff;
    writeMacWords(bb, o + 14, h[8]!, h[9]!);
    bb.set(this.mac, o + 20);
    bb[o + 26] = 0x08;
    bb[o + 27] = 0x00;
    const l3 = o + 28;
    const l4 = l3 + 20;
    const optLen = writeTcpOptions(bb, l4 + 20, h[2]!, h[3]!, h[4]!, h[6]! >>> 0, h[7]! >>> 0, h[5]!, this.noSack, 0);
    const hlen = 20 + optLen;
    this.ident = (this.ident + 1) & 0xffff;
    writeIpv4Header(bb, l3, 0, 20 + hlen, this.ident, IPV4_FLAG_DF, 64, IP_PROTO_TCP, local, client);
    writeTcpHeader(bb, l4, localPort, clientPort, h[0]! >>> 0, ((h[1]! >>> 0) + 1) >>> 0, hlen, TCP_FLAG_SYN | TCP_FLAG_ACK, 0xffff, 0);
    tcpChecksumFill(bb, l4, hlen, local, client);
    io.send(poller, slot, SLOT_HEADROOM, 14 + 14 + 20 + hlen, 0);
    return true;
  }
}
