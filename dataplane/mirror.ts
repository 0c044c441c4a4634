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
import { Stat } from './tcp/stack.js';

export const MIRROR_ETHERTYPE = 0x88b7;
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
