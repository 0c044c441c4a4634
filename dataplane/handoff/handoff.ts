// Moving live TCP connections between nodes (seed 004's handoff, seed 000
// claim 10's "third node asks the holder", and failback by records): the
// worker-side half. One Handoff per worker, beside its TcpStack.
//
// Ownership — exactly one node answers for a connection at any moment:
//   1. Origin (the node that holds it) exports the record and drops it from
//      its stack in the same step: from here the origin does not answer. Its
//      segments that still arrive are held (held.ts) and, on the verdict,
//      forwarded to the target or fed to the origin's stack again; when the
//      hold is full they are dropped and counted (`held_drops`).
//   2. The record goes to the target's worker in fragments (wire.ts), over
//      the segment to the target's MAC, acknowledged and retransmitted.
//   3. The target imports the complete record (TcpStack.importConnection):
//      from this moment the TARGET answers — it ACKs the client at once and
//      resends unacknowledged data. It says ACCEPT; or REJECT(reason) and
//      imports nothing.
//   4. Origin on ACCEPT: the move is done. It forwards later segments of the
//      connection that still reach it (the client's ARP still names the
//      origin) to the target's MAC (`forwarded`), until they stop for
//      FORWARD_IDLE_MS. Origin on REJECT: it imports its own copy back and
//      answers again, resuming where it stopped (`reimported`) — except on
//      REJECT(DUPLICATE), where the target answers for the tuple already,
//      and when the address left this node meanwhile: taken back, it would
//      answer beside the holder (`left_to_target`).
// Lost answers: the target remembers every verdict (target.ts), so the
// origin's retransmissions, and then its ABORT ("answer now; if you have not
// imported it, never do"), always get the one verdict. The origin re-imports
// only on a REJECT — never on silence — so no silence can make both nodes
// answer. Silence from a target the cluster has declared failed is different:
// a dead node answers for nothing, so its pending moves come back
// (targetFailed, counted as rejected_target_failed). If the target stays silent past ABORT_DEADLINE_MS the transfer is
// reported `unresolved` and kept in limbo, still asking, until LIMBO_MS; a
// verdict then resolves it, and at LIMBO_MS it is given up as
// `lost_unresolved` (counted and reported, never silent).
//
// Shadow copies (service modes snoop and mirror; dataplane/mirror.ts): the
// same channel carries a COPY of a connection's record to the backup that
// asked for it. The origin exports without dropping and keeps answering; the
// target installs the record as a shadow (TcpStack.importShadow), never as a
// live connection, and only for an address it shadows right now. A copy is
// best effort: no ABORT, no limbo, no re-import; a lost one is asked for again.
//
// Moving an address with its connections (control/handover.ts): records
// first, then the address (the cluster's claim, gratuitous ARP by the new
// holder), then a second sweep for connections opened in between. Forwarding
// covers the time the client's ARP cache still names the origin.
import type { TcpLink } from '../tcp/link.js';
import type { TcpStack } from '../tcp/stack.js';
import { State, W, inspectSerialized } from '../tcp/record.js';
import { ETH_HEADER_LEN, writeEthernet } from '../net/ethernet.js';
import { flowHash } from '../net/flow-hash.js';
import { IP_PROTO_TCP } from '../net/ipv4.js';
import {
  ETHERTYPE_HANDOFF, FLAG_COPY, FRAGMENT_BYTES, HandoffHeader, MsgType, RejectReason, decodeHandoff, encodeHandoff, fragmentCount,
} from './wire.js';
import { TransferTarget, type TargetHost } from './target.js';
import { HELD_FRAME_MAX, HeldFrames } from './held.js';
import { finishChecksum } from '../net/segment.js';
import { FrameMeta as Meta, parseFrame, VERIFY_ALL } from '../net/frame.js';
import { Reason } from '../net/reason.js';
import { XS, reasonStat, type XferCommand } from './command.js';
import { seqGt } from '../tcp/seq.js';

export const WINDOW_FRAGMENTS = 32;
/** Fragment retransmission timeout before any RTT sample, and its bounds (RFC 6298's rules, LAN-sized). */
export const RTO_INITIAL_MS = 20;
export const RTO_MIN_MS = 5;
export const RTO_MAX_MS = 400;
export const MAX_ROUNDS = 8;
export const SEND_DEADLINE_MS = 2000;
export const ABORT_INTERVAL_MS = 100;
export const ABORT_DEADLINE_MS = 5000;
export const LIMBO_INTERVAL_MS = 1000;
export const LIMBO_MS = 60_000;
/** Transfers in flight per worker. */
export const MAX_OUTSTANDING = 16;
/**
 * Shadow copies waiting for one of those (a backup that missed the start of
 * many connections at once, e.g. a burst of 1,000 SYNs, asks for them all):
 * started oldest first as transfers finish, so an ask is not lost to a busy
 * moment and asked again only COPY_INTERVAL_MS later.
 */
export const COPY_WAIT_MAX = 4096;
/** Transfer ids between the oldest unresolved one and the next: below target.ts's ORIGIN_WINDOW. */
export const XID_SPAN = 48;
export const FORWARD_IDLE_MS = 60_000;
/**
 * A connection still opening (SYN-RECEIVED) when a command's turn comes to it
 * is waited for this long (looked at again every OPENING_POLL_MS): its
 * client's ACK is normally one round trip away, and a handover that left it
 * behind would leave it on a node that no longer holds its address.
 */
export const OPENING_WAIT_MS = 1000;
export const OPENING_POLL_MS = 10;
export const MAX_ROUTES = 4096;

export const ROUTE_LOCAL = 0;
/** Kept until the verdict (held.ts), or dropped when the hold is full: the caller frees the slot either way. */
export const ROUTE_HELD = 1;
export const ROUTE_FORWARD = 2;

const SENDING = 0;
const ABORTING = 1;
const LIMBO = 2;

/**
 * The TCP states a record moves and is copied in: those the application
 * resumes in (TcpStack.importConnection), and TIME-WAIT. A TIME-WAIT record
 * moves with a failback (left behind, the new holder would reset the
 * client's FIN sent again after its quiet period); a TIME-WAIT copy is not
 * installed but confirmed by the backup (importCopy): its holder withholds
 * the ACK of the client's FIN until the backup confirms it, and a backup
 * with no shadow of the connection could not.
 */
function movable(st: number): boolean {
  return (st >= State.ESTABLISHED && st <= State.LAST_ACK) || st === State.TIME_WAIT;
}

export interface HandoffSettings {
  readonly key: Uint8Array;
  readonly cluster: number;
  readonly node: number;
  readonly endpoint: number;
  /** Wall-clock ms at this worker's start: higher after every restart. */
  readonly incarnation: number;
  readonly mac: Uint8Array;
  /** True when this node may serve connections of address `ip` (its own, or its cluster's). */
  readonly servable: (ip: number) => boolean;
  /**
   * True when this node holds address `ip` now. A record moved here replaces
   * a live connection of the same 4-tuple on an address this node does not
   * hold (an orphan: the mover held the address, so its record is current);
   * without this, such a move is refused as a duplicate.
   */
  readonly holds?: (ip: number) => boolean;
  /** True when this node shadows address `ip` now (a copy of its connections may be installed as shadows). */
  readonly shadowed?: (ip: number) => boolean;
}

interface CopyWait {
  readonly key: string;
  readonly localIp: number;
  readonly localPort: number;
  readonly remoteIp: number;
  readonly remotePort: number;
  readonly target: number;
  readonly mac: Uint8Array;
}

class Outgoing {
  readonly frags: number;
  readonly acked: Uint8Array;
  /** Times each fragment was sent (0: never); Karn: RTT is sampled only from fragments sent once. */
  readonly sent: Uint8Array;
  readonly sentAt: Float64Array;
  base = 0;
  rounds = 0;
  rto = RTO_INITIAL_MS;
  timerAt = 0;
  phase = SENDING;
  constructor(
    readonly xid: number, readonly localIp: number, readonly localPort: number, readonly remoteIp: number, readonly remotePort: number,
    readonly target: number, readonly mac: Uint8Array, readonly bytes: Uint8Array, readonly exportClock: number,
    readonly startMs: number, readonly cmdSeq: number, readonly copy = false,
  ) {
    this.frags = fragmentCount(bytes.length);
    this.acked = new Uint8Array(this.frags);
    this.sent = new Uint8Array(this.frags);
    this.sentAt = new Float64Array(this.frags);
  }
}

/** Where a connection's segments go while it moves (drop) or after (forward to the target's MAC). */
class Route {
  next: Route | null = null;
  out: Outgoing | null = null;
  readonly mac = new Uint8Array(6);
  lastMs = 0;
  constructor(readonly hash: number, readonly localIp: number, readonly localPort: number, readonly remoteIp: number, readonly remotePort: number) {}
}

export class Handoff implements TargetHost {
  private readonly s: HandoffSettings;
  private readonly stack: TcpStack;
  private readonly link: TcpLink;
  readonly stats: Float64Array;
  private readonly target: TransferTarget;
  private readonly h = new HandoffHeader();
  private readonly out = new HandoffHeader();
  private readonly tuple = new Uint32Array(4);
  private readonly outgoing = new Map<number, Outgoing>();
  private readonly routes = new Map<number, Route>();
  private routeCount = 0;
  private xid = 0;
  /** Smoothed fragment round trip to targets and its variation (RFC 6298), ms; 0: no sample yet. */
  private srtt = 0;
  private rttvar = 0;
  private now = 0;
  private nextTimer = Infinity;
  private nextSweep = 0;
  /** The command in progress and the connections it has still to start. */
  private cmd: XferCommand | null = null;
  private queue: number[][] = [];
  /** The command's connections still opening: [local ip, port, remote ip, port, wait until]. */
  private opening: number[][] = [];
  private cmdOutstanding = 0;
  private nextPump = 0;
  /** Copies waiting for a transfer slot (COPY_WAIT_MAX), by tuple and target; `copyWaitKeys` finds duplicates. */
  private copyWait: CopyWait[] = [];
  private copyWaitHead = 0;
  private readonly copyWaitKeys = new Set<string>();
  private readonly held = new HeldFrames();
  private readonly heldMeta = new Meta();
  /** A live connection moved here (imported, not a copy), on address `ip`: the worker copies it to the address's backup. */
  onImported: ((id: number, ip: number, now: number) => void) | null = null;
  /** MAC to forward to, set by route() when it returns ROUTE_FORWARD. */
  readonly forwardMac = new Uint8Array(6);

  constructor(settings: HandoffSettings, stack: TcpStack, link: TcpLink, stats: Float64Array) {
    this.s = settings;
    this.stack = stack;
    this.link = link;
    this.stats = stats;
    this.target = new TransferTarget(this, stats, settings.incarnation);
  }

  /** Non-zero while any connection is moving or forwarded: only then do TCP segments need route(). */
  get routing(): number {
    return this.routeCount;
  }

  // ------------------------------------------------------------ commands (control → worker)

  /** Starts a command: selects the connections now, moves them as fast as the limits allow. */
  command(cmd: XferCommand, now: number): void {
    this.stats[XS.commands]! += 1;
    this.cmd = cmd;
    this.queue = [];
    this.opening = [];
    this.cmdOutstanding = 0;
    this.nextPump = 0;
    const sel = cmd.selector;
    const t = this.tuple;
    for (let id = 0; id < this.stack.capacity; id++) {
      // Shadows (service mode snoop) are a backup's copies, never moved.
      if (this.stack.state(id) === State.CLOSED || this.stack.isShadow(id)) continue;
      this.stack.tupleOf(id, t);
      if ((sel.localIp !== 0 && t[0] !== sel.localIp) || (sel.localPort !== 0 && t[1] !== sel.localPort)) continue;
      if ((sel.remoteIp !== 0 && t[2] !== sel.remoteIp) || (sel.remotePort !== 0 && t[3] !== sel.remotePort)) continue;
      this.queue.push([t[0]!, t[1]!, t[2]!, t[3]!]);
    }
    this.pump(now);
  }

  /** True once the current command's every connection is resolved (the worker then writes XFER_DONE). */
  commandDone(): boolean {
    return this.cmd !== null && this.queue.length === 0 && this.opening.length === 0 && this.cmdOutstanding === 0;
  }

  endCommand(): void {
    this.cmd = null;
  }

  private pump(now: number): void {
    const cmd = this.cmd;
    if (cmd === null) return;
    this.nextPump = Infinity;
    if (this.opening.length > 0) {
      for (const t of this.opening) this.queue.push(t);
      this.opening = [];
    }
    while (this.queue.length > 0 && this.outgoing.size < MAX_OUTSTANDING) {
      if (!this.xidRoom()) {
        this.stats[XS.busy_window]! += 1;
        break;
      }
      const t = this.queue.pop()!;
      const id = this.stack.find(t[0]!, t[1]!, t[2]!, t[3]!);
      if (id >= 0 && this.stack.state(id) === State.SYN_RECEIVED && !this.stack.isShadow(id)) {
        // Opening: looked at again shortly, until it is established (then it moves) or the wait is over.
        if (t.length < 5) {
          t.push(now + OPENING_WAIT_MS);
          this.stats[XS.opening_waited]! += 1;
        }
        if (now < t[4]!) {
          this.opening.push(t);
          continue;
        }
      }
      if (id < 0 || !movable(this.stack.state(id))) {
        this.stats[XS.skipped_state]! += 1;
        continue;
      }
      if (!this.stack.appMovable(id)) {
        this.stats[XS.skipped_app]! += 1;
        continue;
      }
      this.startTransfer(id, cmd.target, cmd.mac, now, cmd.seq);
      this.cmdOutstanding++;
    }
    if (this.opening.length > 0 && now + OPENING_POLL_MS < this.nextPump) this.nextPump = now + OPENING_POLL_MS;
  }

  private xidRoom(): boolean {
    for (const o of this.outgoing.values()) if (this.xid + 1 - o.xid >= XID_SPAN) return false;
    return true;
  }

  // ------------------------------------------------------------ origin side

  /**
   * Moves connection `id` to node `target` (its MAC `mac`): exports and drops
   * it here, and starts sending. Returns the transfer id. Public for tests and
   * for callers that pick connections themselves (seed 004's router).
   */
  startTransfer(id: number, target: number, mac: Uint8Array, now: number, cmdSeq = 0): number {
    const t = this.tuple;
    this.stack.tupleOf(id, t);
    // With what the app wrote beyond the send buffer (an HTTP file to a slow reader).
    const bytes = this.stack.exportConnection(id);
    // The application instance here is done with it (an HTTP file closes); a reject resumes a new one.
    this.stack.discardConnection(id);
    // A copy of it still on its way is older than this record: sent again after the move lands (a retransmission
    // round), it would take the connection back to that older state on the target (importCopy refuses it too).
    for (const c of this.outgoing.values()) {
      if (!c.copy || c.localIp !== t[0] || c.localPort !== t[1] || c.remoteIp !== t[2] || c.remotePort !== t[3]) continue;
      this.outgoing.delete(c.xid);
      this.stats[XS.copies_cancelled]! += 1;
    }
    const xid = ++this.xid;
    const o = new Outgoing(xid, t[0]!, t[1]!, t[2]!, t[3]!, target, Uint8Array.from(mac), bytes, now, now, cmdSeq);
    this.outgoing.set(xid, o);
    const r = this.addRoute(o.localIp, o.localPort, o.remoteIp, o.remotePort, now);
    r.out = o;
    this.stats[XS.sent]! += 1;
    this.stats[XS.in_flight] = this.outgoing.size;
    o.rto = this.rto();
    this.now = now;
    this.sendWindow(o, false);
    this.arm(o, now + o.rto);
    return xid;
  }

  /**
   * Sends a copy of connection `id`'s record to node `target` (MAC `mac`),
   * which installs it as a shadow; the connection stays here. While the
   * transfer limits are reached it waits (COPY_WAIT_MAX) and goes as room
   * frees. False when it cannot go (not in a movable state, its app cannot
   * resume elsewhere, a copy of it already on its way or waiting, the wait
   * full).
   */
  startCopy(id: number, target: number, mac: Uint8Array, now: number): boolean {
    const t = this.tuple;
    if (!movable(this.stack.state(id)) || this.stack.isShadow(id) || !this.stack.appMovable(id)) {
      this.stats[XS.copies_skipped]! += 1;
      return false;
    }
    this.stack.tupleOf(id, t);
    for (const o of this.outgoing.values()) {
      if (o.copy && o.target === target && o.localIp === t[0] && o.localPort === t[1] && o.remoteIp === t[2] && o.remotePort === t[3]) return false;
    }
    if (this.outgoing.size >= MAX_OUTSTANDING || !this.xidRoom() || this.copyWaitHead < this.copyWait.length) {
      const key = `${t[0]}:${t[1]}:${t[2]}:${t[3]}:${target}`;
      if (this.copyWaitKeys.has(key)) return false;
      if (this.copyWaitKeys.size >= COPY_WAIT_MAX) {
        this.stats[XS.copies_busy]! += 1;
        return false;
      }
      this.copyWaitKeys.add(key);
      this.copyWait.push({ key, localIp: t[0]!, localPort: t[1]!, remoteIp: t[2]!, remotePort: t[3]!, target, mac: Uint8Array.from(mac) });
      this.stats[XS.copies_queued]! += 1;
      return true;
    }
    return this.sendCopy(id, target, mac, now);
  }

  /**
   * Sends a copy of every live connection of address `ip` to node `target`
   * (MAC `mac`), its new backup (a backup that restarted; the home node that
   * took its address and connections back from the backup at a failback):
   * shadows from copies at once, not one by one as the backup sees each
   * connection's next segment and asks — an idle connection would stay
   * unprotected until then. Returns how many went or wait for a slot.
   */
  copyAddress(ip: number, target: number, mac: Uint8Array, now: number): number {
    const x = ip >>> 0;
    const t = this.tuple;
    let n = 0;
    for (let id = 0; id < this.stack.capacity; id++) {
      if (this.stack.state(id) === State.CLOSED || this.stack.isShadow(id)) continue;
      this.stack.tupleOf(id, t);
      if (t[0] !== x || !movable(this.stack.state(id)) || !this.stack.appMovable(id)) continue;
      if (this.startCopy(id, target, mac, now)) n++;
    }
    return n;
  }

  /** Starts the copies that waited, oldest first, while the transfer limits allow. */
  private startWaitingCopies(now: number): void {
    const w = this.copyWait;
    while (this.copyWaitHead < w.length && this.outgoing.size < MAX_OUTSTANDING && this.xidRoom()) {
      const c = w[this.copyWaitHead++]!;
      this.copyWaitKeys.delete(c.key);
      const id = this.stack.find(c.localIp, c.localPort, c.remoteIp, c.remotePort);
      // Gone meanwhile, or no longer copyable: nothing to send.
      if (id < 0 || !movable(this.stack.state(id)) || this.stack.isShadow(id) || !this.stack.appMovable(id)) {
        this.stats[XS.copies_skipped]! += 1;
        continue;
      }
      this.sendCopy(id, c.target, c.mac, now);
    }
    if (this.copyWaitHead === w.length) {
      this.copyWait = [];
      this.copyWaitHead = 0;
    } else if (this.copyWaitHead > 1024) {
      this.copyWait = w.slice(this.copyWaitHead);
      this.copyWaitHead = 0;
    }
  }

  private sendCopy(id: number, target: number, mac: Uint8Array, now: number): boolean {
    const t = this.tuple;
    this.stack.tupleOf(id, t);
    const bytes = this.stack.exportConnection(id);
    const xid = ++this.xid;
    const o = new Outgoing(xid, t[0]!, t[1]!, t[2]!, t[3]!, target, Uint8Array.from(mac), bytes, now, now, -1, true);
    this.outgoing.set(xid, o);
    this.stats[XS.copies_sent]! += 1;
    this.stats[XS.in_flight] = this.outgoing.size;
    o.rto = this.rto();
    this.now = now;
    this.sendWindow(o, false);
    this.arm(o, now + o.rto);
    return true;
  }

  private header(o: Outgoing, type: MsgType): HandoffHeader {
    const h = this.out;
    h.type = type;
    h.localIp = o.localIp;
    h.remoteIp = o.remoteIp;
    h.localPort = o.localPort;
    h.remotePort = o.remotePort;
    h.cluster = this.s.cluster;
    h.origin = this.s.node;
    h.target = o.target;
    h.endpoint = this.s.endpoint;
    h.reason = 0;
    h.flags = o.copy ? FLAG_COPY : 0;
    h.incarnation = this.s.incarnation;
    h.xid = o.xid;
    h.total = o.bytes.length;
    h.index = 0;
    h.length = 0;
    // Every origin frame carries the export time: the target judges staleness by it (target.ts).
    h.clock = o.exportClock;
    return h;
  }

  /** Sends the fragments in the window: new ones only, or (a retransmission round) every unacknowledged one. */
  private sendWindow(o: Outgoing, again: boolean): void {
    const end = Math.min(o.frags, o.base + WINDOW_FRAGMENTS);
    for (let i = o.base; i < end; i++) {
      if (o.acked[i] !== 0 || (o.sent[i] !== 0 && !again)) continue;
      if (o.sent[i] !== 0) this.stats[XS.retransmits]! += 1;
      const h = this.header(o, MsgType.DATA);
      h.index = i;
      h.length = i === o.frags - 1 ? o.bytes.length - i * FRAGMENT_BYTES : FRAGMENT_BYTES;
      if (this.sendFrame(h, o.bytes, i * FRAGMENT_BYTES, o.mac, 0, 0)) {
        if (o.sent[i]! < 255) o.sent[i]! += 1;
        o.sentAt[i] = this.now;
      }
    }
  }

  private originInput(h: HandoffHeader, now: number): void {
    const o = this.outgoing.get(h.xid);
    if (o === undefined || o.target !== h.target || o.localIp !== h.localIp || o.localPort !== h.localPort ||
      o.remoteIp !== h.remoteIp || o.remotePort !== h.remotePort) {
      this.stats[XS.rx_unknown_transfer]! += 1;
      return;
    }
    this.now = now;
    if (h.type === MsgType.ACK) {
      if (o.phase !== SENDING) return;
      const cum = Math.min(h.index, o.frags);
      let newest = -1;
      for (let i = o.base; i < cum; i++) {
        if (o.acked[i] === 0) newest = i;
        o.acked[i] = 1;
      }
      for (let i = 0; i < 32; i++) {
        const k = cum + 1 + i;
        if (k < o.frags && (h.length & (1 << i)) !== 0 && o.acked[k] === 0) {
          o.acked[k] = 1;
          newest = k;
        }
      }
      while (o.base < o.frags && o.acked[o.base] !== 0) o.base++;
      if (newest >= 0) {
        if (o.sent[newest] === 1) this.sampleRtt(now - o.sentAt[newest]!);
        o.rounds = 0;
        o.rto = this.rto();
        this.arm(o, now + o.rto);
      }
      this.sendWindow(o, false);
      return;
    }
    // The verdict answers the last fragment: a sample when it went once.
    if (h.type === MsgType.ACCEPT || h.type === MsgType.REJECT) {
      const last = o.frags - 1;
      if (o.phase === SENDING && o.sent[last] === 1 && o.acked[last] === 0) this.sampleRtt(now - o.sentAt[last]!);
    }
    this.finish(o, h.type === MsgType.ACCEPT ? 0 : h.reason === 0 ? RejectReason.MALFORMED : h.reason, now);
  }

  /**
   * The cluster declared node `node` failed. Every move to it still without
   * a verdict (sending, aborting, in limbo) comes back and is served here
   * again, as on a REJECT: otherwise a failback cut short by the target's
   * death would lose the connections it was moving. Should the target have
   * imported one before it died, the client's next segments acknowledge
   * output this record never sent: it catches up (TcpStack.allowCatchUp).
   * Returns how many came back.
   */
  targetFailed(node: number, now: number): number {
    let n = 0;
    for (const o of [...this.outgoing.values()]) {
      if (o.copy || o.target !== node) continue;
      this.finish(o, RejectReason.TARGET_FAILED, now);
      n++;
    }
    return n;
  }

  /** The verdict: 0 (or DUPLICATE) = the target answers for it now, else it comes back here while this node holds its address. */
  private finish(o: Outgoing, verdict: number, now: number): void {
    this.outgoing.delete(o.xid);
    this.stats[XS.in_flight] = this.outgoing.size;
    this.nextPump = 0;
    if (o.copy) {
      this.stats[verdict === 0 ? XS.copies_accepted : XS.copies_refused]! += 1;
      return;
    }
    if (this.cmd !== null && o.cmdSeq === this.cmd.seq && o.phase !== LIMBO) this.cmdOutstanding--;
    const r = this.findRoute(o.localIp, o.localPort, o.remoteIp, o.remotePort);
    if (verdict !== 0) {
      this.stats[XS.rejected]! += 1;
      const k = reasonStat('rejected', verdict);
      if (k >= 0) this.stats[k]! += 1;
    }
    // DUPLICATE: the target holds the address and answers for this tuple
    // already (a shadow it promoted when the address reached it before this
    // record did: the sweep that follows a failback's grant). Taken back
    // here, the connection would answer alongside it, on an address this
    // node no longer holds, for ever: nothing forgets it again. Like an
    // ACCEPT, what still reaches this node goes to the target.
    if (verdict === 0 || verdict === RejectReason.DUPLICATE) {
      this.stats[verdict === 0 ? XS.accepted : XS.left_to_target]! += 1;
      if (r !== null) {
        r.out = null;
        r.mac.set(o.mac);
        r.lastMs = now;
      }
      this.held.take(o.xid, (off, len, poller) => this.forwardHeld(off, len, poller, o.mac));
      return;
    }
    if (r !== null) this.removeRoute(r);
    // Refused while this node no longer holds the address (it went to its
    // holder meanwhile): taken back, it would answer beside that holder. It
    // goes, counted. Not so for a target that died: its address comes back
    // here with the takeover, and the connection with it.
    if (verdict !== RejectReason.TARGET_FAILED && this.s.holds !== undefined && !this.s.holds(o.localIp)) {
      this.stats[XS.left_to_target]! += 1;
      this.held.take(o.xid, null);
      return;
    }
    let id = -1;
    try {
      id = this.stack.importConnection(o.bytes, now, now - o.exportClock);
    } catch {
      id = -1;
    }
    this.stats[id >= 0 ? XS.reimported : XS.reimport_failed]! += 1;
    if (id >= 0 && verdict === RejectReason.TARGET_FAILED) this.stack.allowCatchUp(id);
    // What the client sent meanwhile goes to the connection here, in order.
    this.held.take(o.xid, id < 0 ? null : (off, len, poller) => {
      const m = this.heldMeta;
      if (parseFrame(this.held.bytes, off, len, m, VERIFY_ALL) === Reason.OK) this.stack.input(this.held.bytes, m, poller, now);
    });
  }

  private forwardHeld(off: number, len: number, poller: number, mac: Uint8Array): void {
    const slot = this.link.allocSlot();
    if (slot < 0) {
      this.stats[XS.tx_no_slot]! += 1;
      return;
    }
    const b = this.link.bytes;
    const start = this.link.frameStart(slot);
    b.set(this.held.bytes.subarray(off, off + len), start);
    b.set(mac, start);
    b.set(this.s.mac, start + 6);
    this.link.transmit(slot, len, poller);
    this.stats[XS.forwarded]! += 1;
  }

  /** RFC 6298 §2: SRTT and RTTVAR from one sample. */
  private sampleRtt(r: number): void {
    if (!(r >= 0)) return;
    if (this.srtt === 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
  }

  private rto(): number {
    if (this.srtt === 0) return RTO_INITIAL_MS;
    return Math.min(RTO_MAX_MS, Math.max(RTO_MIN_MS, this.srtt + 4 * this.rttvar));
  }

  private arm(o: Outgoing, at: number): void {
    o.timerAt = at;
    if (at < this.nextTimer) this.nextTimer = at;
  }

  private onTimer(o: Outgoing, now: number): void {
    const age = now - o.startMs;
    if (o.phase === SENDING) {
      if (o.rounds < MAX_ROUNDS && age < SEND_DEADLINE_MS) {
        o.rounds++;
        o.rto = Math.min(o.rto * 2, RTO_MAX_MS);
        this.now = now;
        this.sendWindow(o, true);
        this.arm(o, now + o.rto);
        return;
      }
      if (o.copy) {
        // Nothing to resolve: the connection never left; the backup asks again.
        this.outgoing.delete(o.xid);
        this.stats[XS.in_flight] = this.outgoing.size;
        this.stats[XS.copies_lost]! += 1;
        return;
      }
      o.phase = ABORTING;
    }
    if (o.phase === ABORTING && age >= ABORT_DEADLINE_MS) {
      o.phase = LIMBO;
      this.stats[XS.unresolved]! += 1;
      if (this.cmd !== null && o.cmdSeq === this.cmd.seq) this.cmdOutstanding--;
    }
    if (o.phase === LIMBO && age >= LIMBO_MS) {
      this.held.take(o.xid, null);
      this.outgoing.delete(o.xid);
      this.nextPump = 0;
      this.stats[XS.in_flight] = this.outgoing.size;
      this.stats[XS.lost_unresolved]! += 1;
      const r = this.findRoute(o.localIp, o.localPort, o.remoteIp, o.remotePort);
      if (r !== null) this.removeRoute(r);
      return;
    }
    this.stats[XS.aborts_sent]! += 1;
    this.sendFrame(this.header(o, MsgType.ABORT), null, 0, o.mac, 0, 0);
    this.arm(o, now + (o.phase === LIMBO ? LIMBO_INTERVAL_MS : ABORT_INTERVAL_MS));
  }

  // ------------------------------------------------------------ target side (TargetHost)

  importRecord(record: Uint8Array, h: HandoffHeader, poller: number, now: number): number {
    let words: Uint32Array;
    try {
      words = inspectSerialized(record).words;
    } catch {
      return RejectReason.MALFORMED;
    }
    if (words[W.LOCAL_IP] !== h.localIp || words[W.REMOTE_IP] !== h.remoteIp || words[W.LOCAL_PORT] !== h.localPort ||
      words[W.REMOTE_PORT] !== h.remotePort || !movable(words[W.STATE]!)) return RejectReason.MALFORMED;
    const copy = (h.flags & FLAG_COPY) !== 0;
    // A copy for an address this node took over meanwhile (its primary sent it, then died) is still welcome.
    if (copy ? this.s.shadowed?.(h.localIp) !== true && this.s.holds?.(h.localIp) !== true : !this.s.servable(h.localIp)) return RejectReason.NOT_OUR_ADDRESS;
    const svc = this.stack.serviceFor(h.localIp, h.localPort);
    if (svc < 0) return RejectReason.NO_SERVICE;
    const here = this.stack.find(h.localIp, h.localPort, h.remoteIp, h.remotePort);
    if (copy) {
      const v = this.importCopy(record, words, here, svc, h, poller, now);
      if (v !== 0) this.stack.trace?.(`copy-refused ${v} ${h.remotePort} st ${words[W.STATE]} rcv ${words[W.RCV_NXT]}`, -1);
      return v;
    }
    if (here >= 0) {
      if (!this.stack.isShadow(here) && (this.s.holds === undefined || this.s.holds(h.localIp))) return RejectReason.DUPLICATE;
      // This node shadows it (it backs the address up), or keeps an orphan of
      // it from before it lost the address: the record is the holder's own, current.
      this.stack.discardConnection(here);
    }
    if (this.stack.connections >= this.stack.capacity) return RejectReason.TABLE_FULL;
    // Our listener's index and the queue the frame came in on (the record's were the origin's).
    words[W.SERVICE] = svc;
    words[W.POLLER] = poller;
    let id = -1;
    try {
      id = this.stack.importConnection(record, now, now - h.clock);
    } catch {
      return RejectReason.MALFORMED;
    }
    if (id < 0) return RejectReason.APP_REFUSED;
    // When its origin exported it: a copy exported before that is older (importCopy).
    this.stack.setExportedAt(id, h.origin, h.incarnation + h.clock, now);
    this.onImported?.(id, h.localIp, now);
    // It may have lived here before and moved away: it no longer forwards.
    const r = this.findRoute(h.localIp, h.localPort, h.remoteIp, h.remotePort);
    if (r !== null && r.out === null) this.removeRoute(r);
    return 0;
  }

  /**
   * A shadow copy: replaces a shadow that is not exact, and a live orphan on
   * an address this node does not hold (the holder's copy is current; the
   * orphan would only answer beside it); never a live connection here or an
   * exact shadow, nor one moved here by a record exported after the copy.
   */
  private importCopy(record: Uint8Array, words: Uint32Array, here: number, svc: number, h: HandoffHeader, poller: number, now: number): number {
    // A copy of a connection this node forgot since the copy was made (it moved away, or closed): older than what it knew.
    if (here < 0 && this.stack.staleCopy(words)) return RejectReason.STALE;
    if (here >= 0 && !this.stack.isShadow(here) && this.s.holds?.(h.localIp) === false) {
      // Not an orphan but a connection moved here (a failback's record, its
      // address not here yet), and this copy was exported before it moved:
      // older, it would take back client bytes the client saw acknowledged
      // (a request answered since) — the connection would wait for ever.
      // Judged by the one node's clock only: both came from the origin.
      if (this.stack.exportedAt(here, h.origin) >= h.incarnation + h.clock) {
        this.stack.trace?.('copy-stale', here);
        return RejectReason.STALE;
      }
      this.stack.trace?.('orphan-replaced', here);
      this.stack.discardConnection(here);
      this.stats[XS.orphans_replaced]! += 1;
      here = -1;
    }
    if (words[W.STATE] === State.TIME_WAIT) {
      // Over on both sides: nothing to take over. A live connection here (on an address this node holds) answers for it
      // itself; any shadow of it is done; the client's FIN is confirmed, which is all the holder waits for.
      if (here >= 0 && !this.stack.isShadow(here)) return RejectReason.DUPLICATE;
      if (here >= 0) this.stack.discardConnection(here);
      this.stack.rememberClosed(words);
      if (!this.stack.confirmClosed(h.localIp, h.localPort, h.remoteIp, h.remotePort, words[W.RCV_NXT]!)) return RejectReason.TABLE_FULL;
      this.stats[XS.copies_closed]! += 1;
      return 0;
    }
    if (here >= 0) {
      if (!this.stack.isShadow(here) || this.stack.shadowExact(here)) return RejectReason.DUPLICATE;
      // A copy exported before client bytes the shadow holds reached the
      // primary would take them back. The shadow may have confirmed them
      // (a HAVE), and the primary then acknowledged them to the client, which
      // never sends them again: promoted at a takeover, the connection would
      // wait for ever for bytes nobody has. Refused; a later copy replaces it.
      if (seqGt(this.stack.rcvNxt(here), words[W.RCV_NXT]!)) return RejectReason.STALE;
      this.stack.dropConnection(here);
    }
    if (this.stack.connections >= this.stack.capacity) return RejectReason.TABLE_FULL;
    words[W.SERVICE] = svc;
    words[W.POLLER] = poller;
    let id = -1;
    try {
      id = this.stack.importShadow(record, now, now - h.clock);
    } catch {
      return RejectReason.MALFORMED;
    }
    if (id < 0) return RejectReason.APP_REFUSED;
    // The takeover came before the copy: nothing would promote it later, and a
    // client waiting for output (a download) would wait for ever. It is the
    // connection as its primary last knew it: served from here at once.
    if (this.s.holds?.(h.localIp) === true) this.stack.promoteShadow(id, now);
    return 0;
  }

  reply(req: HandoffHeader, type: MsgType, reason: number, index: number, bitmap: number, b: Uint8Array, macOff: number, poller: number): void {
    const h = this.out;
    h.type = type;
    h.localIp = req.localIp;
    h.remoteIp = req.remoteIp;
    h.localPort = req.localPort;
    h.remotePort = req.remotePort;
    h.cluster = req.cluster;
    h.origin = req.origin;
    h.target = req.target;
    h.endpoint = req.endpoint;
    h.reason = reason;
    h.flags = req.flags;
    h.incarnation = req.incarnation;
    h.xid = req.xid;
    h.total = req.total;
    h.index = index;
    h.length = bitmap;
    h.clock = 0;
    this.sendFrame(h, null, 0, b, macOff, poller);
  }

  // ------------------------------------------------------------ frames

  private sendFrame(h: HandoffHeader, payload: Uint8Array | null, pOff: number, mac: Uint8Array, macOff: number, poller: number): boolean {
    const slot = this.link.allocSlot();
    if (slot < 0) {
      this.stats[XS.tx_no_slot]! += 1;
      return false;
    }
    const b = this.link.bytes;
    const start = this.link.frameStart(slot);
    writeEthernet(b, start, mac, macOff, this.s.mac, 0, ETHERTYPE_HANDOFF);
    const n = encodeHandoff(this.s.key, b, start + ETH_HEADER_LEN, h, payload, pOff);
    this.link.transmit(slot, Math.max(60, ETH_HEADER_LEN + n), poller);
    this.stats[XS.frames_sent]! += 1;
    return true;
  }

  /** One received transfer frame at b[start, start + len), its Ethernet header l2Len long. Never throws. */
  input(b: Uint8Array, start: number, len: number, poller: number, now: number, l2Len = ETH_HEADER_LEN): void {
    const s = this.stats;
    s[XS.frames_received]! += 1;
    const h = this.h;
    const r = decodeHandoff(this.s.key, b, start + l2Len, len - l2Len, h);
    if (r !== null) {
      s[r === 'malformed' ? XS.rx_malformed : r === 'bad_version' ? XS.rx_bad_version : XS.rx_bad_auth]! += 1;
      return;
    }
    if (h.cluster !== this.s.cluster) {
      s[XS.rx_wrong_cluster]! += 1;
      return;
    }
    if (h.type === MsgType.DATA || h.type === MsgType.ABORT) {
      if (h.target !== this.s.node || h.origin === this.s.node) {
        s[XS.rx_not_for_us]! += 1;
        return;
      }
      this.target.receive(h, b, start + 6, poller, now);
      return;
    }
    if (h.origin !== this.s.node || h.endpoint !== this.s.endpoint || h.incarnation !== this.s.incarnation) {
      s[XS.rx_not_for_us]! += 1;
      return;
    }
    this.originInput(h, now);
  }

  // ------------------------------------------------------------ segments of moving and moved connections

  /**
   * For a TCP segment (frame b[start, start + len)) when routing() is
   * non-zero: ROUTE_LOCAL (not moving: the stack's), ROUTE_HELD (moving right
   * now: kept for the verdict) or ROUTE_FORWARD (moved: send it to forwardMac).
   * `csumPartial`: the frame's TCP checksum holds only the pseudo-header sum
   * (TAP offload); a held copy gets it finished, since it is sent on, or
   * checked here, as an ordinary frame later.
   */
  route(m: Meta, b: Uint8Array, start: number, len: number, poller: number, now: number, csumPartial = false): number {
    const r = this.findRoute(m.dstIp >>> 0, m.dstPort, m.srcIp >>> 0, m.srcPort);
    if (r === null) return ROUTE_LOCAL;
    if (r.out === null) {
      // Moved away, and live here again since (a shadow promoted at a later
      // takeover, a move back): this node answers, the route goes.
      const id = this.stack.find(r.localIp, r.localPort, r.remoteIp, r.remotePort);
      if (id >= 0 && !this.stack.isShadow(id)) {
        this.removeRoute(r);
        return ROUTE_LOCAL;
      }
    } else {
      if (csumPartial && len <= HELD_FRAME_MAX) finishChecksum(b, start, len);
      this.stats[this.held.hold(r.out.xid, b, start, len, poller) ? XS.held : XS.held_drops]! += 1;
      return ROUTE_HELD;
    }
    r.lastMs = now;
    this.forwardMac.set(r.mac);
    this.stats[XS.forwarded]! += 1;
    return ROUTE_FORWARD;
  }

  private findRoute(localIp: number, localPort: number, remoteIp: number, remotePort: number): Route | null {
    let r = this.routes.get(flowHash(remoteIp, localIp, remotePort, localPort, IP_PROTO_TCP)) ?? null;
    while (r !== null) {
      if (r.localIp === localIp && r.localPort === localPort && r.remoteIp === remoteIp && r.remotePort === remotePort) return r;
      r = r.next;
    }
    return null;
  }

  private addRoute(localIp: number, localPort: number, remoteIp: number, remotePort: number, now: number): Route {
    const old = this.findRoute(localIp, localPort, remoteIp, remotePort);
    if (old !== null) this.removeRoute(old);
    if (this.routeCount >= MAX_ROUTES) this.evictForward();
    const hash = flowHash(remoteIp, localIp, remotePort, localPort, IP_PROTO_TCP);
    const r = new Route(hash, localIp, localPort, remoteIp, remotePort);
    r.lastMs = now;
    r.next = this.routes.get(hash) ?? null;
    this.routes.set(hash, r);
    this.routeCount++;
    this.routeGauge();
    return r;
  }

  private removeRoute(r: Route): void {
    let p = this.routes.get(r.hash) ?? null;
    if (p === r) {
      if (r.next === null) this.routes.delete(r.hash);
      else this.routes.set(r.hash, r.next);
    } else {
      while (p !== null && p.next !== r) p = p.next;
      if (p === null) return;
      p.next = r.next;
    }
    this.routeCount--;
    this.routeGauge();
  }

  /** The table is full: the least recently inserted forwarding route goes (Map order). */
  private evictForward(): void {
    for (const head of this.routes.values()) {
      for (let r: Route | null = head; r !== null; r = r.next) {
        if (r.out !== null) continue;
        this.removeRoute(r);
        this.stats[XS.forward_evicted]! += 1;
        return;
      }
    }
  }

  private routeGauge(): void {
    // Every transfer in flight has a route that drops; the rest forward.
    this.stats[XS.forwarding] = Math.max(0, this.routeCount - this.outgoing.size);
  }

  // ------------------------------------------------------------ time

  tick(now: number): void {
    if (now >= this.nextTimer) {
      this.nextTimer = Infinity;
      for (const o of [...this.outgoing.values()]) {
        if (o.timerAt <= now) this.onTimer(o, now);
        else if (o.timerAt < this.nextTimer) this.nextTimer = o.timerAt;
      }
      for (const o of this.outgoing.values()) if (o.timerAt < this.nextTimer) this.nextTimer = o.timerAt;
    }
    if (this.cmd !== null && now >= this.nextPump) this.pump(now);
    if (this.copyWaitHead < this.copyWait.length) this.startWaitingCopies(now);
    if (now >= this.nextSweep) {
      this.nextSweep = now + 100;
      this.target.expire(now);
      if (this.routeCount > 0) this.expireRoutes(now);
    }
  }

  /** When tick() next has work (ms on the worker's clock); Infinity when idle. */
  nextDeadline(): number {
    let t = this.nextTimer;
    if (this.cmd !== null && (this.queue.length > 0 || this.opening.length > 0)) t = Math.min(t, this.nextPump);
    if (this.target.inProgress > 0 || this.routeCount > 0) t = Math.min(t, this.nextSweep);
    return t;
  }

  private expireRoutes(now: number): void {
    const idle: Route[] = [];
    for (const head of this.routes.values()) {
      for (let r: Route | null = head; r !== null; r = r.next) if (r.out === null && now - r.lastMs >= FORWARD_IDLE_MS) idle.push(r);
    }
    for (const r of idle) {
      this.removeRoute(r);
      this.stats[XS.forward_expired]! += 1;
    }
  }
}
