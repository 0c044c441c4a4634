// The target side of a connection transfer: reassembly of a record's
// fragments, one verdict per transfer, and the replay window that makes the
// verdict final.
//
// Per origin (node, worker) the target keeps the origin's incarnation and a
// window of its last ORIGIN_WINDOW transfer ids. Inside the window each id
// maps to either a reassembly in progress or a verdict (0 = imported, else a
// RejectReason). So:
//   - a retransmitted fragment of a finished transfer gets the verdict again
//     (the origin's ACCEPT or REJECT was lost) and never a second import;
//   - a replayed transfer, however complete, is answered from the window or,
//     older than the window or from a previous incarnation, ignored;
//   - ABORT turns a transfer that is not imported yet into REJECT(ABORTED)
//     for good: after that answer the target never imports it.
// Memory is bounded: MAX_ORIGINS windows, MAX_REASSEMBLIES transfers in
// progress and MAX_REASSEMBLY_BYTES of record bytes per worker; a transfer
// that does not fit is refused (BUSY) rather than queued, and one that stalls
// for REASSEMBLY_IDLE_MS is discarded (EXPIRED).
import { FLAG_COPY, FRAGMENT_BYTES, HandoffHeader, MAX_RECORD_BYTES, MsgType, RejectReason, fragmentCount } from './wire.js';
import { XS, reasonStat } from './command.js';

export const ORIGIN_WINDOW = 64;
export const MAX_ORIGINS = 256;
export const MAX_REASSEMBLIES = 16;
export const MAX_REASSEMBLY_BYTES = 8 << 20;
export const REASSEMBLY_IDLE_MS = 3000;
/** Clock skew tolerated between an origin's and this worker's wall clocks (see the constructor). */
export const STALE_MARGIN_MS = 1000;

/** What the target needs from its worker. */
export interface TargetHost {
  /** Installs a complete record; 0 when imported, else a RejectReason. */
  importRecord(record: Uint8Array, h: HandoffHeader, poller: number, now: number): number;
  /** Answers the origin: `type` for the transfer of `h`, to the MAC at b[macOff]. */
  reply(h: HandoffHeader, type: MsgType, reason: number, index: number, bitmap: number, b: Uint8Array, macOff: number, poller: number): void;
}

class Reassembly {
  readonly buf: Uint8Array;
  readonly got: Uint8Array;
  gotCount = 0;
  /** Fragments received in order from the start. */
  cum = 0;
  constructor(readonly total: number, readonly frags: number, public lastMs: number) {
    this.buf = new Uint8Array(total);
    this.got = new Uint8Array(frags);
  }
}

class OriginWindow {
  top = -1;
  readonly entries = new Map<number, Reassembly | number>();
  constructor(public incarnation: number) {}
}

export class TransferTarget {
  private readonly origins = new Map<number, OriginWindow>();
  private reassemblies = 0;
  private bytes = 0;

  /**
   * `startedWall`: wall-clock ms when this worker started. A transfer exported
   * before it (origin incarnation + origin clock, both wall-based) cannot be
   * one this worker took part in: it is refused as STALE, which also closes
   * the replay window a restart would otherwise open (windows live in memory).
   */
  constructor(private readonly host: TargetHost, private readonly stats: Float64Array, private readonly startedWall: number) {}

  get inProgress(): number {
    return this.reassemblies;
  }

  /** A DATA or ABORT frame, authenticated and addressed to this node; the origin's MAC is at b[macOff]. */
  receive(h: HandoffHeader, b: Uint8Array, macOff: number, poller: number, now: number): void {
    const s = this.stats;
    const key = h.origin * 65536 + h.endpoint;
    let w = this.origins.get(key);
    if (w === undefined) {
      // Windows are never evicted: a forgotten window would let a replayed transfer in.
      if (this.origins.size >= MAX_ORIGINS) {
        s[XS.rx_origins_full]! += 1;
        return;
      }
      w = new OriginWindow(h.incarnation);
      this.origins.set(key, w);
    }
    if (h.incarnation < w.incarnation) {
      s[XS.rx_stale]! += 1;
      return;
    }
    if (h.incarnation > w.incarnation) {
      // The origin worker restarted: its earlier transfers are over.
      this.clearWindow(w);
      w.incarnation = h.incarnation;
    }
    const xid = h.xid;
    if ((w.top >= 0 && xid + ORIGIN_WINDOW <= w.top) || h.incarnation + h.clock < this.startedWall - STALE_MARGIN_MS) {
      // Older than anything we remember: never imported here. The origin
      // keeps XID_SPAN < ORIGIN_WINDOW, so a live transfer never falls out.
      s[XS.rx_stale]! += 1;
      this.host.reply(h, MsgType.REJECT, RejectReason.STALE, 0, 0, b, macOff, poller);
      return;
    }
    const e = w.entries.get(xid);
    if (typeof e === 'number') {
      s[XS.verdicts_resent]! += 1;
      this.answer(h, e, b, macOff, poller);
      return;
    }
    if (h.type === MsgType.ABORT) {
      if (e !== undefined) this.free(e);
      else this.note(w, xid);
      this.decide(w, h, RejectReason.ABORTED, b, macOff, poller);
      return;
    }
    if (h.type !== MsgType.DATA) return;
    let r = e;
    if (r === undefined) {
      this.note(w, xid);
      const refusal = this.admit(h.total);
      if (refusal !== 0) {
        this.decide(w, h, refusal, b, macOff, poller);
        return;
      }
      r = new Reassembly(h.total, fragmentCount(h.total), now);
      w.entries.set(xid, r);
      this.reassemblies++;
      this.bytes += h.total;
      this.gauges();
    }
    const want = h.index === r.frags - 1 ? h.total - h.index * FRAGMENT_BYTES : FRAGMENT_BYTES;
    if (h.total !== r.total || h.index >= r.frags || h.length !== want) {
      s[XS.rx_malformed]! += 1;
      return;
    }
    r.lastMs = now;
    if (r.got[h.index] !== 0) {
      s[XS.rx_duplicate_fragment]! += 1;
    } else {
      r.buf.set(b.subarray(h.payloadOff, h.payloadOff + h.length), h.index * FRAGMENT_BYTES);
      r.got[h.index] = 1;
      r.gotCount++;
      while (r.cum < r.frags && r.got[r.cum] !== 0) r.cum++;
    }
    if (r.gotCount < r.frags) {
      let bitmap = 0;
      for (let i = 0; i < 32; i++) if (r.cum + 1 + i < r.frags && r.got[r.cum + 1 + i] !== 0) bitmap |= 1 << i;
      this.host.reply(h, MsgType.ACK, 0, r.cum, bitmap >>> 0, b, macOff, poller);
      return;
    }
    this.free(r);
    this.decide(w, h, this.host.importRecord(r.buf, h, poller, now), b, macOff, poller);
  }

  /** Discards reassemblies idle for REASSEMBLY_IDLE_MS; their transfers are refused for good (EXPIRED). */
  expire(now: number): void {
    if (this.reassemblies === 0) return;
    for (const w of this.origins.values()) {
      for (const [xid, e] of w.entries) {
        if (typeof e === 'number' || now - e.lastMs < REASSEMBLY_IDLE_MS) continue;
        this.free(e);
        w.entries.set(xid, RejectReason.EXPIRED);
        this.stats[XS.expired]! += 1;
        this.stats[XS.refused]! += 1;
        this.stats[reasonStat('refused', RejectReason.EXPIRED)]! += 1;
      }
    }
  }

  private admit(total: number): number {
    if (total > MAX_RECORD_BYTES || total === 0) return RejectReason.TOO_LARGE;
    if (this.reassemblies >= MAX_REASSEMBLIES || this.bytes + total > MAX_REASSEMBLY_BYTES) return RejectReason.BUSY;
    return 0;
  }

  /** Records the final verdict of a transfer and answers. */
  private decide(w: OriginWindow, h: HandoffHeader, verdict: number, b: Uint8Array, macOff: number, poller: number): void {
    w.entries.set(h.xid, verdict);
    const s = this.stats;
    if (verdict === 0) {
      s[(h.flags & FLAG_COPY) !== 0 ? XS.shadows_imported : XS.imported]! += 1;
    } else {
      s[XS.refused]! += 1;
      const k = reasonStat('refused', verdict);
      if (k >= 0) s[k]! += 1;
    }
    this.answer(h, verdict, b, macOff, poller);
  }

  private answer(h: HandoffHeader, verdict: number, b: Uint8Array, macOff: number, poller: number): void {
    this.host.reply(h, verdict === 0 ? MsgType.ACCEPT : MsgType.REJECT, verdict, 0, 0, b, macOff, poller);
  }

  /** Moves the window's top to `xid` and forgets what fell out of it. */
  private note(w: OriginWindow, xid: number): void {
    if (xid <= w.top) return;
    w.top = xid;
    for (const [k, e] of w.entries) {
      if (k + ORIGIN_WINDOW > xid) continue;
      if (typeof e !== 'number') this.free(e);
      w.entries.delete(k);
    }
  }

  private free(r: Reassembly): void {
    this.reassemblies--;
    this.bytes -= r.total;
    this.gauges();
  }

  private clearWindow(w: OriginWindow): void {
    for (const e of w.entries.values()) if (typeof e !== 'number') this.free(e);
    w.entries.clear();
    w.top = -1;
  }

  private gauges(): void {
    this.stats[XS.reassembling] = this.reassemblies;
    this.stats[XS.reassembly_bytes] = this.bytes;
  }
}
