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
// (a full-sized segment, or a large one: TAP offload) is sent re-addressed
// instead (its Ethernet addresses replaced): the shadow takes only the
// client's MAC from the connection's SYN, which always fits.
//
// With offloads (port.offload) a frame may be large (DESC_FLAG_GSO) and its
// TCP checksum partial (the pseudo-header sum only). A re-addressed copy
// keeps both: the device cuts and finishes it as it does the original (a
// backup's TAP with offload takes it whole, and trusts it). A wrapped copy
// hides its headers from the device, so its checksum is finished here (only
// frames within one MTU are wrapped: a few hundred ns each).
//
// Mirror frames are not authenticated: anyone on the segment can already
// send the primary forged segments, and the backup checks everything a
// mirror frame claims against the connection the same way as snooped frames.
import type { EndpointIo } from './endpoint.js';
import { DESC_FLAG_CSUM_PARTIAL, DESC_FLAG_GSO, SLOT_HEADROOM, SLOT_MAX_FRAME } from '../shm/layout.js';
import { copyBytes } from './net/copy.js';
import { finishChecksum, l4Offsets } from './net/segment.js';
import { SnoopRole, type SnoopTable } from './snoop-table.js';
import { REPAIR_BYTES, REPAIR_HAVE, REPAIR_RECORD, Stat, type TcpStack } from './tcp/stack.js';
import { IPV4_FLAG_DF, IP_PROTO_TCP, writeIpv4Header } from './net/ipv4.js';
import { TCP_FLAG_ACK, TCP_FLAG_PSH, TCP_FLAG_SYN, tcpChecksumFill, writeTcpHeader, writeTcpOptions } from './net/tcp.js';
import { readU16, readU32, writeU16, writeU32 } from './net/byte-order.js';
import { writeMac } from './tcp/record.js';

export const MIRROR_ETHERTYPE = 0x88b7;
/**
 * Copies small enough to wrap, batched: the copies of one worker pass to one
 * backup go in one frame, [mirror header with this type] then records of
 * [u16 length][frame], within MAX_FRAME; the poller steers it by the first
 * record (native/src/steer.h). Header-only copies of the primary's output
 * and the client's ACKs are most of a download's copies: one frame each cost
 * both nodes a system call (a writev on the primary, a readv on the backup).
 */
export const MIRROR_BATCH_ETHERTYPE = 0x88b9;
/** Inside a mirror frame: a gap repair request (backup → primary), an IPv4 + TCP header naming the connection and the range. */
export const REPAIR_ETHERTYPE = 0x88b8;
/** TCP flags of a repair request that asks for a copy of the whole record. */
export const REPAIR_FLAG_RECORD = TCP_FLAG_PSH;
/** TCP flags of a confirmation (withheld ACK): the backup holds every client byte below seq. */
export const REPAIR_FLAG_HAVE = TCP_FLAG_ACK;
/**
 * Confirmations per frame: a backup's worker sends those of one pass in one
 * frame per primary address (the first in the header, the rest 12 bytes each
 * behind it: client address, client port, local port, seq), not one frame
 * per connection — with 1,000 connections streaming they were a third of
 * the frames the primary received. The primary steers the frame by its first
 * connection; the others reach the same worker where both nodes run as many
 * workers (the flow hash picks it); any other goes unconfirmed and its bytes
 * are pushed, as for a lost confirmation.
 */
export const HAVE_BATCH = 100;
/** Payload bytes per repair segment: the wrapped frame stays within MAX_FRAME. */
export const REPAIR_CHUNK = 1400;
/** Largest Ethernet frame (less FCS) at MTU 1500. */
export const MAX_FRAME = 1514;
const HDR = 14;
/** Wire MTU a received large frame's segment size is derived from (its sender's is not carried). */
const WIRE_MTU = 1500;

export class Mirror {
  private readonly stats: Float64Array;
  private readonly io: EndpointIo;
  private readonly table: SnoopTable;
  private readonly mac: Uint8Array;
  /** Mirror-mode services' local port ranges: [lo, hi, lo, hi, …]. */
  private readonly ports: Uint16Array;
  /** The batch being filled (MIRROR_BATCH_ETHERTYPE): its slot (-1: none), length, tx poller and backup (table index). */
  private batchSlot = -1;
  private batchLen = 0;
  private batchPoller = 0;
  private batchTo = -1;

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
   * backup right now. Sent on `poller`'s tx ring. `flags`: the frame's
   * descriptor flags (received) or those it is sent with; a large frame's
   * segment size is `gsoSize` when known (sent), else derived from the MTU.
   * `keep` < `len`: only the frame's first `keep` bytes (its headers) go, its
   * IP total length unchanged — the backup takes the segment's sequence
   * space from the headers (ACCEPT_TRIMMED) and compares nothing of it.
   */
  copy(poller: number, start: number, len: number, localIp: number, localPort: number, flags = 0, gsoSize = 0, keep = len): void {
    if (!this.served(localPort)) return;
    const t = this.table;
    const k = t.find(localIp, SnoopRole.MIRROR_TO);
    if (k < 0) return;
    const io = this.io;
    const trimmed = keep < len;
    if (trimmed) {
      len = keep;
      flags = 0;
    }
    if ((flags & DESC_FLAG_GSO) === 0 && len + HDR + 2 <= MAX_FRAME) {
      this.batch(poller, k, start, len, (flags & DESC_FLAG_CSUM_PARTIAL) !== 0);
      return;
    }
    const large = len > SLOT_MAX_FRAME;
    let slot = large ? io.allocLarge() : io.stack.pop();
    if (slot < 0 && !large && io.refill() > 0) slot = io.stack.pop();
    if (slot < 0) {
      this.stats[Stat.MIRROR_NO_SLOT]! += 1;
      return;
    }
    const b = io.bytes;
    const o = io.pool.slotBase(slot) + SLOT_HEADROOM;
    const wrap = (flags & DESC_FLAG_GSO) === 0 && len + HDR <= MAX_FRAME;
    // Copies go out in the order they were made: a batch is sent before any copy that is not in it.
    this.flush();
    const body = wrap ? o + HDR : o;
    copyBytes(b, body, b, start, len);
    writeMac(b, o, t.macHi[k]!, t.macLo[k]!);
    b.set(this.mac, o + 6);
    let out = 0;
    let gso = 0;
    if (wrap) {
      b[o + 12] = MIRROR_ETHERTYPE >>> 8;
      b[o + 13] = MIRROR_ETHERTYPE & 0xff;
      if ((flags & DESC_FLAG_CSUM_PARTIAL) !== 0 && !trimmed) finishChecksum(b, body, len);
    } else {
      out = flags & (DESC_FLAG_CSUM_PARTIAL | DESC_FLAG_GSO);
      if ((out & DESC_FLAG_GSO) !== 0) {
        gso = gsoSize;
        const l = gso === 0 ? l4Offsets(b, o, len) : null;
        if (l !== null) gso = WIRE_MTU - (l.l4 - l.l3) - (b[o + l.l4 + 12]! >>> 4) * 4;
        // A large frame with no TCP header to cut by goes as it is (the device would drop it).
        if (gso <= 0) out &= ~DESC_FLAG_GSO;
      }
    }
    io.send(poller, slot, SLOT_HEADROOM, wrap ? len + HDR : len, out, gso);
    this.stats[Stat.MIRRORED]! += 1;
  }

  /** Adds the copy of bytes[start, start+len) to the batch for backup `k` (table index) on `poller`. */
  private batch(poller: number, k: number, start: number, len: number, finish: boolean): void {
    const io = this.io;
    if (this.batchSlot >= 0 && (this.batchPoller !== poller || this.batchTo !== k || this.batchLen + 2 + len > MAX_FRAME)) this.flush();
    const b = io.bytes;
    if (this.batchSlot < 0) {
      let slot = io.stack.pop();
      if (slot < 0 && io.refill() > 0) slot = io.stack.pop();
      if (slot < 0) {
        this.stats[Stat.MIRROR_NO_SLOT]! += 1;
        return;
      }
      const o = io.pool.slotBase(slot) + SLOT_HEADROOM;
      writeMac(b, o, this.table.macHi[k]!, this.table.macLo[k]!);
      b.set(this.mac, o + 6);
      b[o + 12] = MIRROR_BATCH_ETHERTYPE >>> 8;
      b[o + 13] = MIRROR_BATCH_ETHERTYPE & 0xff;
      this.batchSlot = slot;
      this.batchLen = HDR;
      this.batchPoller = poller;
      this.batchTo = k;
    }
    const at = io.pool.slotBase(this.batchSlot) + SLOT_HEADROOM + this.batchLen;
    writeU16(b, at, len);
    copyBytes(b, at + 2, b, start, len);
    // Inside the batch its headers are hidden from the device: a partial checksum is finished here.
    if (finish) finishChecksum(b, at + 2, len);
    this.batchLen += 2 + len;
    this.stats[Stat.MIRRORED]! += 1;
  }

  /** Sends the batch being filled (the worker calls it at the end of every pass, before its tx ring is flushed). */
  flush(): void {
    if (this.batchSlot < 0) return;
    this.io.send(this.batchPoller, this.batchSlot, SLOT_HEADROOM, this.batchLen, 0, 0);
    this.batchSlot = -1;
  }
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
 * A confirmation (seed 003's withheld ACK, TcpStack "withheld ACK"): the same
 * header with TCP flags REPAIR_FLAG_HAVE and seq = the shadow's RCV_NXT; the
 * primary may then acknowledge the client's bytes below it. A primary whose
 * backup lags pushes the withheld bytes to it unasked, as repair segments.
 * A record copy: the same request with TCP flags REPAIR_FLAG_RECORD and the
 * asking node's id in the window field; the primary answers with a copy of
 * the connection's record over the transfer channel (dataplane/handoff, flag
 * COPY), which the backup installs as an exact shadow. A backup asks for one
 * when it sees segments of a connection it has no shadow of (its SYN was
 * lost, or the backup came up or took the role later: failback) or when its
 * shadow diverged; the primary sends one unasked when a gap's bytes are gone
 * from its receive buffer. So a shadow that cannot be repaired byte by byte
 * is replaced whole while the primary lives.
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
  /** Backup: confirmations of this pass for address haveLocal: client address, client port << 16 | local port, seq. */
  private readonly haves = new Uint32Array(HAVE_BATCH * 3);
  private haveCount = 0;
  private haveLocal = 0;
  /**
   * Primary: sends a copy of connection `id`'s record to node `node` (MAC
   * `mac`); false when it cannot now. Set by the worker (its Handoff).
   */
  copier: ((id: number, node: number, mac: Uint8Array) => boolean) | null = null;
  private readonly asker = new Uint8Array(6);

  /** `node`: this node's id (a record copy is sent to the node that asks). */
  constructor(io: EndpointIo, table: SnoopTable, mac: Uint8Array, stats: Float64Array, private readonly node: number) {
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

  /**
   * Backup: asks the holder of `localIp` for client bytes [from, to) of one
   * connection (kind REPAIR_BYTES; from = to: its handshake), or for a copy of
   * its record (REPAIR_RECORD).
   */
  ask(localIp: number, localPort: number, remoteIp: number, remotePort: number, from: number, to: number, kind: number): void {
    if (kind === REPAIR_HAVE) {
      this.have(localIp >>> 0, localPort, remoteIp >>> 0, remotePort, from);
      return;
    }
    const slot = this.repairFrame(localIp);
    if (slot < 0) return;
    const b = this.io.bytes;
    const o = this.io.pool.slotBase(slot) + SLOT_HEADROOM;
    writeIpv4Header(b, o + 28, 0, 40, 0, IPV4_FLAG_DF, 64, IP_PROTO_TCP, remoteIp, localIp);
    const record = kind === REPAIR_RECORD;
    writeTcpHeader(b, o + 48, remotePort, localPort, from, to, 20, record ? REPAIR_FLAG_RECORD : 0, record ? this.node : 0, 0);
    this.io.send(0, slot, SLOT_HEADROOM, 68, 0);
    if (kind === REPAIR_BYTES) this.stats[Stat.REPAIRS_ASKED]! += 1;
  }

  /**
   * Backup: a slot holding the start of a repair frame to the holder of
   * `localIp` (both Ethernet headers; IP and TCP headers zeroed), or -1 when
   * this node shadows no such address or has no slot.
   */
  private repairFrame(localIp: number): number {
    const t = this.table;
    const k = t.find(localIp, SnoopRole.SHADOW);
    if (k < 0) return -1;
    const slot = this.slot();
    if (slot < 0) return -1;
    const b = this.io.bytes;
    const o = this.io.pool.slotBase(slot) + SLOT_HEADROOM;
    b.fill(0, o, o + 68);
    writeMac(b, o, t.macHi[k]!, t.macLo[k]!);
    b.set(this.mac, o + 6);
    b[o + 12] = MIRROR_ETHERTYPE >>> 8;
    b[o + 13] = MIRROR_ETHERTYPE & 0xff;
    b.copyWithin(o + 14, o, o + 12);
    b[o + 26] = REPAIR_ETHERTYPE >>> 8;
    b[o + 27] = REPAIR_ETHERTYPE & 0xff;
    return slot;
  }

  /** Backup: a confirmation to send with the others of this pass (flushHaves). */
  private have(localIp: number, localPort: number, remoteIp: number, remotePort: number, seq: number): void {
    if (this.haveCount > 0 && (localIp !== this.haveLocal || this.haveCount === HAVE_BATCH)) this.flushHaves();
    const h = this.haves;
    const o = this.haveCount++ * 3;
    this.haveLocal = localIp;
    h[o] = remoteIp;
    h[o + 1] = ((remotePort << 16) | localPort) >>> 0;
    h[o + 2] = seq;
  }

  /** Backup: sends the confirmations gathered since the last call, in as few frames as HAVE_BATCH allows. */
  flushHaves(): void {
    const n = this.haveCount;
    if (n === 0) return;
    this.haveCount = 0;
    const localIp = this.haveLocal;
    const slot = this.repairFrame(localIp);
    if (slot < 0) return;
    const io = this.io;
    const b = io.bytes;
    const h = this.haves;
    const o = io.pool.slotBase(slot) + SLOT_HEADROOM;
    const extra = (n - 1) * 12;
    writeIpv4Header(b, o + 28, 0, 40 + extra, 0, IPV4_FLAG_DF, 64, IP_PROTO_TCP, h[0]!, localIp);
    writeTcpHeader(b, o + 48, h[1]! >>> 16, h[1]! & 0xffff, h[2]!, 0, 20, REPAIR_FLAG_HAVE, 0, 0);
    for (let i = 1, p = o + 68; i < n; i++, p += 12) {
      writeU32(b, p, h[i * 3]!);
      writeU16(b, p + 4, h[i * 3 + 1]! >>> 16);
      writeU16(b, p + 6, h[i * 3 + 1]! & 0xffff);
      writeU32(b, p + 8, h[i * 3 + 2]!);
    }
    io.send(0, slot, SLOT_HEADROOM, 68 + extra, 0);
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
    const clientPort = readU16(b, start + 48);
    const localPort = readU16(b, start + 50);
    const from = readU32(b, start + 52);
    const to = readU32(b, start + 56);
    const asker = this.asker;
    asker.set(b.subarray(start + 6, start + 12));
    const flags = b[start + 28 + 20 + 13]!;
    if ((flags & REPAIR_FLAG_HAVE) !== 0) {
      const now = performance.now();
      let ok = tcp.backupHave(local, localPort, client, clientPort, from, now);
      // A batch (HAVE_BATCH): more confirmations behind the header, within the inner IPv4 length.
      const end = Math.min(start + len, start + 28 + readU16(b, start + 30));
      for (let p = start + 68; p + 12 <= end; p += 12) ok = tcp.backupHave(local, readU16(b, p + 6), readU32(b, p), readU16(b, p + 4), readU32(b, p + 8), now) || ok;
      return ok;
    }
    if ((flags & REPAIR_FLAG_RECORD) !== 0) return this.serveRecord(tcp, local, localPort, client, clientPort, readU16(b, start + 48 + 14), asker);
    if (from === to) return this.serveHandshake(tcp, poller, asker, local, localPort, client, clientPort);
    if (this.sendClientBytes(tcp, poller, asker, local, localPort, client, clientPort, from, to)) return true;
    // The bytes are gone (overwritten in the receive buffer): the whole record then, to the node this address's shadows are.
    const k = this.table.find(local, SnoopRole.MIRROR_TO);
    return k >= 0 && this.serveRecord(tcp, local, localPort, client, clientPort, this.table.node[k]!, asker);
  }

  /**
   * Primary: pushes client bytes [from, to) of one of its connections to the
   * address's backup (its ACK waits for them: withheld ACK). False when there
   * is no backup or the bytes are gone.
   */
  push(tcp: TcpStack, local: number, localPort: number, client: number, clientPort: number, from: number, to: number): boolean {
    const t = this.table;
    const k = t.find(local, SnoopRole.MIRROR_TO);
    if (k < 0) return false;
    writeMac(this.asker, 0, t.macHi[k]!, t.macLo[k]!);
    const id = tcp.find(local, localPort, client, clientPort);
    const sent = id >= 0 && this.sendClientBytes(tcp, tcp.pollerOf(id), this.asker, local, localPort, client, clientPort, from, to);
    tcp.trace?.(`push ${from}-${to}${sent ? '' : ' not sent'}`, id);
    return sent;
  }

  /** Client bytes [from, to) of a connection, as client segments wrapped in mirror frames, to `mac`. */
  private sendClientBytes(tcp: TcpStack, poller: number, mac: Uint8Array, local: number, localPort: number, client: number, clientPort: number,
    from: number, to: number): boolean {
    const info = this.info;
    const io = this.io;
    const asker = mac;
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
      writeMac(bb, o + 20, info[0]!, info[1]!);
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

  /** A copy of one connection's record for node `node` (its MAC `mac`). */
  private serveRecord(tcp: TcpStack, local: number, localPort: number, client: number, clientPort: number, node: number, mac: Uint8Array): boolean {
    const id = tcp.find(local, localPort, client, clientPort);
    tcp.trace?.(`record-asked ${clientPort} by ${node}${id < 0 ? ' (none)' : ''}`, id);
    if (id < 0 || tcp.isShadow(id) || this.copier === null || node === 0) return false;
    return this.copier(id, node, mac);
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
    writeMac(bb, o + 14, h[8]!, h[9]!);
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
