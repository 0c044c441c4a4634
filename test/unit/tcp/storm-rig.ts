// The rig of the seeded storms (shadow-http-storm, shadow-close-storm): the
// nodes that serve one client connection on one address, the backup's view
// of it (the holder's frames both ways: late, lossy, blind now and then and,
// in mirror mode, cut after the headers), HAVEs, repairs, pushes and record
// copies on their way, and the storm's events — a kill (or a false takeover)
// and the backup's takeover; a failback: a home node backs the address up,
// the connection's record moves to it, then the address follows.
// The client is each storm's own: it talks through send() and fromServer().
// The rig draws from the storm's SeededRandom at the points where the storms
// drew before they shared it, so a seed still replays the same storm.
import * as assert from 'uvu/assert';
import { ACCEPT_TRIMMED, FrameMeta, parseFrame, VERIFY_ALL } from '../../../dataplane/net/frame.js';
import { Reason } from '../../../dataplane/net/reason.js';
import type { TcpApplication } from '../../../dataplane/app/api.js';
import { SequenceSecrets } from '../../../dataplane/tcp/isn.js';
import { STATE_NAMES, State } from '../../../dataplane/tcp/record.js';
import { REPAIR_BYTES, REPAIR_HAVE, REPAIR_RECORD, TcpStack, type TcpConfig } from '../../../dataplane/tcp/stack.js';
import type { SeededRandom } from '../net/seeded-random.js';
import { CISN, CLIENT_IP, CLIENT_PORT, FakeLink, Peer, SERVER_IP, SERVER_MAC, SERVER_PORT, type Seg, type SegIn } from './harness.js';
import { HubLink, importCopyModel, type CopyVerdict } from './shadow-pair.js';

/** A storm's step, in ms. */
export const STEP_MS = 5;

/** One node: a stack serving the storm's app on the address (a snoop service), its link to the client and the backup's view. */
export interface StormNode {
  name: string;
  /** Its node id (the origin a moved record names). */
  n: number;
  stack: TcpStack;
  hub: HubLink;
}

/** The client's connection on node `n` (-1: none). */
export function findConnection(n: StormNode): number {
  return n.stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
}

/** A frame on its way to the backup. */
interface Late {
  bytes: Uint8Array;
  fromClient: boolean;
  at: number;
}

/** A backup's confirmation or repair request on its way to the node that held the address when it was sent. */
interface Ask {
  at: number;
  to: StormNode;
  from: number;
  upTo: number;
  kind: number;
}

/** A record copy on its way from one node to another, exported at `exported`. */
interface Copy {
  at: number;
  from: StormNode;
  to: StormNode;
  rec: Uint8Array;
  exported: number;
}

/** What became of a copy that landed: importCopyModel's verdict, or 'not-ours' (NOT_OUR_ADDRESS: its node is dead, or neither holds the address nor backs it up). */
export type Landing = CopyVerdict | 'not-ours';

/** The rig's counts that both storms report in their outcomes. */
export interface StormTally {
  kills: number;
  /** Kills whose shadow was promoted (the others found none, or reset it: not exact). */
  resumed: number;
  /** Takeovers that found no shadow, or one not exact (the client is reset: the cluster would not have called it protected). */
  unprotected: number;
  failbacks: number;
  copiesApplied: number;
  copiesRefused: number;
}

export interface StormRigOptions {
  seed: number;
  mirror: boolean;
  cfg: Partial<TcpConfig>;
  /** A new instance of the storm's application, for a new node. */
  app: () => TcpApplication;
  log: ((s: string) => void) | null;
  /** The storm's one-line account of the client's connection on a node, for the log. */
  describe: (n: StormNode, now: number) => string;
  /** The new holder's quiet period after it gains the address (TcpConfig.takeoverQuietMs): no RST to unknown connections. Omitted: none. */
  quietMs?: number;
  /** A holder that loses the address to a failback forgets what it still has of it (worker.ts reconcile); else it keeps it. */
  forgetLostAddress?: boolean;
  /** The copy node `from` makes of its live connection `id`, or null for none; exportConnection's record if omitted. */
  exportCopy?: (from: StormNode, id: number) => Uint8Array | null;
}

export class StormRig {
  now = 0;
  /** The node that holds the address: the client's frames reach it, its backup watches it. */
  addr: StormNode;
  /**
   * The node that serves the connection: the holder, but while a failback's
   * address follows its record, the node the record moved to (the holder
   * forwards the client's frames to it).
   */
  srv: StormNode;
  /** The node that shadows the address, or none. */
  backup: StormNode | null;
  readonly nodes: StormNode[] = [];
  readonly alive = new Set<StormNode>();
  /** The backup's view: in order, late by `delay`, `lossPct` % of it lost, none at all while it is blind. */
  lossPct = 0;
  /** The client's frames lost on their way to the nodes (‰); `lossOut`, the nodes' to the client, is for the storm's client to apply. */
  lossIn = 0;
  lossOut = 0;
  /** Copies that landed, by what became of them. */
  readonly landed: Record<Landing, number> = { 'not-ours': 0, applied: 0, closed: 0, stale: 0, 'stale-after-move': 0, duplicate: 0, malformed: 0, 'app-refused': 0 };
  kills = 0;
  resumed = 0;
  unprotected = 0;
  failbacks = 0;
  /** False while a failback's record is ahead of its address: nobody watches anybody. */
  private watching = true;
  private blindUntil = 0;
  private delay: number;
  private readonly toBackup: Late[] = [];
  private readonly asks: Ask[] = [];
  private readonly copies: Copy[] = [];
  /** Builds the client's bytes again for the backup's view (a repair's answer, a push). */
  private readonly peer: Peer;
  private secret = 1;
  private names = 0;
  /** A kill: when the backup takes the address over (-1: none pending). */
  private promoteAt = -1;
  /** The holder the pending takeover replaces. */
  private killed: StormNode | null = null;
  /** The node a false takeover took the address from: alive, it may be the home node of the failback. */
  private falselyKilled: StormNode | null = null;
  /** A failback's home node, when the record moves to it, then when the address follows it (-1: not yet). */
  private home: StormNode | null = null;
  private moveAt = -1;
  private grantAt = -1;
  /** Whether the failback's record moved (else only its address follows). */
  private moved = false;

  /** Draws the view's first delay; holder A, backed up by B, wait for the handshake. */
  constructor(private readonly rnd: SeededRandom, private readonly o: StormRigOptions) {
    this.delay = rnd.range(0, 6) * STEP_MS;
    this.peer = new Peer(new TcpStack(o.cfg, new FakeLink()), new FakeLink());
    this.addr = this.srv = this.mk('A');
    this.backup = this.mk('B');
  }

  private get log(): ((s: string) => void) | null {
    return this.o.log;
  }

  /** A new node serving the address in snoop mode, with secrets of its own; what it sends while it serves reaches the view. */
  private mk(name: string): StormNode {
    const hub = new HubLink();
    hub.trimToBackup = this.o.mirror;
    const k = this.secret;
    this.secret += 4;
    const stack = new TcpStack(this.o.cfg, hub, { secrets: new SequenceSecrets(Uint32Array.from([k, k + 1, k + 2, k + 3])), localMac: SERVER_MAC });
    stack.listen(SERVER_IP, SERVER_PORT, SERVER_PORT, this.o.app(), true);
    const node: StormNode = { name, n: this.nodes.length + 1, stack, hub };
    this.nodes.push(node);
    // What the serving node sends reaches the address's backup (a hub port, or its mirror copies).
    hub.backup = { snoop: (b: Uint8Array, m: FrameMeta) => { if (node === this.srv) this.view(b, m, false); } } as unknown as TcpStack;
    this.alive.add(node);
    return node;
  }

  /** A frame into the backup's view, unless nobody watches, it is blind, or the frame is lost. */
  private view(b: Uint8Array, m: FrameMeta, fromClient: boolean): void {
    if (this.backup === null || !this.watching || this.now < this.blindUntil || this.rnd.int(100) < this.lossPct) return;
    const len = (m.trimmed !== 0 ? m.payloadOff : m.payloadOff + m.payloadLen) - m.l2Off;
    this.toBackup.push({ bytes: b.slice(m.l2Off, m.l2Off + len), fromClient, at: this.now + this.delay });
  }

  /** The view's next latency: mostly a few steps, now and then many. */
  newDelay(): void {
    this.delay = (this.rnd.int(5) === 0 ? this.rnd.range(8, 40) : this.rnd.range(0, 6)) * STEP_MS;
  }

  /** The backup sees nothing for a while. */
  blind(): void {
    this.blindUntil = this.now + this.rnd.range(1, 40) * STEP_MS;
  }

  /** A record copy of `from`'s connection, exported now, to land on `to` a little later (sometimes much later). */
  private sendCopy(from: StormNode, to: StormNode): void {
    const id = findConnection(from);
    if (id < 0 || from.stack.isShadow(id)) return;
    const rec = this.o.exportCopy === undefined ? from.stack.exportConnection(id) : this.o.exportCopy(from, id);
    if (rec === null) return;
    const at = this.now + (this.rnd.int(4) === 0 ? this.rnd.range(10, 60) : this.rnd.range(0, 6)) * STEP_MS;
    this.copies.push({ at, from, to, rec, exported: this.now });
  }

  /** A copy lands, as handoff.ts importRecord (FLAG_COPY) and importCopy apply it: only where the address is held or backed up. */
  private land(c: Copy): void {
    const to = c.to;
    const holds = to === this.addr;
    if (!this.alive.has(to) || (!holds && to !== this.backup)) {
      this.landed['not-ours']++;
      return;
    }
    const { verdict, id } = importCopyModel(to.stack, c.rec, c.from.n, c.exported, holds, this.now);
    this.landed[verdict]++;
    const from = `${this.now}: copy from ${c.from.name}`;
    if (verdict === 'malformed') this.log?.(`${from} refused on ${to.name}: malformed`);
    else if (verdict === 'stale-after-move') this.log?.(`${from} (exported ${c.exported}) refused on ${to.name}: older than the move`);
    else if (verdict === 'applied' || verdict === 'closed') {
      this.log?.(`${from} (exported ${c.exported}${id >= 0 ? `, ${STATE_NAMES[to.stack.state(id)]}` : ''}) ${verdict} on ${to.name}${holds ? ', which holds: promoted' : ''}`);
    }
  }

  /** Copies applied (or that confirmed a close). */
  private copiesApplied(): number {
    return this.landed.applied + this.landed.closed;
  }

  /** Copies refused, whatever the reason. */
  private copiesRefused(): number {
    return Object.values(this.landed).reduce((a, b) => a + b, 0) - this.copiesApplied();
  }

  /** The counts for the storm's outcome. */
  tally(): StormTally {
    return { kills: this.kills, resumed: this.resumed, unprotected: this.unprotected, failbacks: this.failbacks, copiesApplied: this.copiesApplied(), copiesRefused: this.copiesRefused() };
  }

  /** Client bytes [from, to) again, from `src`'s receive ring into the backup's view: the holder's answer to a repair, or its push. */
  private pushClientBytes(src: StormNode, from: number, to: number): void {
    const info = new Uint32Array(5);
    src.stack.repairSource(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT, from, to, 1400, info, (ring, index, seq, n) => {
      const m = this.peer.build({ flags: 'PA', seq, ack: info[2]!, win: info[3]!, data: ring.slice(index, index + n) });
      this.view(this.peer.frame, m, true);
    });
  }

  /** The backup reads its view, confirms and asks; the holder answers; copies land; the serving node sends. */
  deliver(): void {
    this.readView();
    this.answerAsks();
    for (let i = 0; i < this.copies.length;) {
      if (this.copies[i]!.at <= this.now) this.land(this.copies.splice(i, 1)[0]!);
      else i++;
    }
    const s = this.srv;
    if (!this.alive.has(s)) return;
    s.stack.flush(this.now);
    s.stack.takePushes(this.now, (_li, _lp, _ri, _rp, from, to) => this.pushClientBytes(s, from, to));
  }

  /** The backup snoops what of its view is due; its HAVEs and repair requests leave for the holder (some lost). */
  private readView(): void {
    const b = this.backup;
    if (b === null) return;
    const meta = new FrameMeta();
    while (this.toBackup.length > 0 && this.toBackup[0]!.at <= this.now) {
      const f = this.toBackup.shift()!;
      assert.is(parseFrame(f.bytes, 0, f.bytes.length, meta, VERIFY_ALL | ACCEPT_TRIMMED), Reason.OK);
      b.stack.snoop(f.bytes, meta, f.fromClient, 0, this.now);
    }
    b.stack.flush(this.now);
    b.stack.takeRepairs((_li, _lp, _ri, _rp, from, upTo, kind) => {
      if (this.rnd.int(100) < this.lossPct) return;
      this.asks.push({ at: this.now + this.rnd.range(0, 4) * STEP_MS, to: this.addr, from, upTo, kind });
    });
  }

  /** The asks that arrived: a HAVE confirms, a bytes repair is pushed (by the serving node), a record request sends a copy. */
  private answerAsks(): void {
    while (this.asks.length > 0 && this.asks[0]!.at <= this.now) {
      const r = this.asks.shift()!;
      if (!this.alive.has(r.to)) continue;
      if (r.kind === REPAIR_HAVE) r.to.stack.backupHave(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT, r.from, this.now);
      else if (r.kind === REPAIR_BYTES && r.from !== r.upTo) {
        if (r.to === this.srv) this.pushClientBytes(r.to, r.from, r.upTo);
      } else if (r.kind === REPAIR_RECORD && this.backup !== null) this.sendCopy(r.to, this.backup);
    }
  }

  /** A client segment (unless lost): to the serving node, and into the view — a dead holder's mirror copies stop, a hub still shows the backup what the client sends. */
  send(s: SegIn): void {
    if (this.rnd.int(1000) < this.lossIn) return;
    const m = this.peer.build(s);
    if (this.alive.has(this.srv) || !this.o.mirror) this.view(this.peer.frame, m, true);
    if (!this.alive.has(this.srv)) return;
    this.srv.stack.input(this.peer.frame, m, 0, this.now);
    this.srv.stack.flush(this.now);
  }

  /** What the serving node sent (a node that does not serve the connection sends nothing the client sees). */
  fromServer(): Seg[] {
    for (const n of this.alive) if (n !== this.srv) n.hub.sent.length = 0;
    const segs = this.srv.hub.sent.splice(0);
    return this.alive.has(this.srv) ? segs : [];
  }

  /** Start: A backed up by B, a handshake both see whole (SYN with timestamps and window scale, no SACK); the client's ISS + 1 and timestamp echo. */
  handshake(win: number): { sseq: number; tsEcr: number } {
    this.addr.stack.setBackedUp([SERVER_IP], 0);
    this.send({ flags: 'S', seq: CISN, win: 65535, mss: 1460, ws: 7, sackPerm: false, ts: [1000, 0] });
    this.deliver();
    const synAck = this.fromServer()[0]!;
    assert.is(synAck.flags, 'SA');
    const sseq = (synAck.seq + 1) >>> 0;
    const tsEcr = synAck.ts![0]!;
    this.send({ flags: 'A', seq: CISN + 1, ack: sseq, win, ts: [2000, tsEcr] });
    this.deliver();
    return { sseq, tsEcr };
  }

  /** After the handshake: losses on the view and both ways, and one storm in `shadowLostOneIn` a backup that lost its shadow at once (it asks for a copy). */
  worsen(shadowLostOneIn: number): void {
    this.lossPct = this.rnd.range(0, 8);
    this.lossOut = this.rnd.range(0, 3) * 5;
    this.lossIn = this.rnd.range(0, 3) * 5;
    const b = this.backup;
    if (b !== null && this.rnd.int(shadowLostOneIn) === 0) {
      const id = findConnection(b);
      if (id >= 0) b.stack.dropConnection(id);
    }
  }

  /** The clock moves a step on. */
  advance(): void {
    this.now += STEP_MS;
    for (const n of this.alive) n.hub.now = this.now;
  }

  /** The step's end: the view, asks and copies delivered; every fourth step the serving node's timers. */
  endStep(step: number): void {
    this.deliver();
    if (step % 4 === 0 && this.alive.has(this.srv)) {
      this.srv.stack.tick(this.now);
      this.srv.stack.flush(this.now);
    }
  }

  /** Nothing under way: no takeover pending, no failback, the holder alive and serving. */
  private steady(): boolean {
    return this.promoteAt < 0 && this.home === null && this.alive.has(this.srv) && this.srv === this.addr;
  }

  /** A takeover is on its way (the holder was killed, its backup has not taken the address yet). */
  takeoverPending(): boolean {
    return this.promoteAt >= 0;
  }

  /**
   * Whether the holder is killed now: one chance in `oneIn` while steady and
   * backed up, fewer than `cycles` kills so far — and rarely before the
   * backup has a shadow at all (that takeover can only reset the client).
   */
  killDue(cycles: number, oneIn: number): boolean {
    const b = this.backup;
    return this.kills < cycles && b !== null && this.steady() && this.rnd.int(oneIn) === 0 && (findConnection(b) >= 0 || this.rnd.int(10) === 0);
  }

  /** The holder dies or, `falsely`, lives on (it only loses the address when the backup takes it); the backup takes over once the cluster notices. */
  kill(falsely: boolean): void {
    this.kills++;
    this.killed = this.srv;
    if (falsely) this.falselyKilled = this.srv;
    else this.alive.delete(this.srv);
    this.promoteAt = this.now + this.rnd.range(0, 3) * this.rnd.range(0, 20) * STEP_MS;
    if (this.o.mirror) this.toBackup.length = 0;
  }

  /** Whether the cluster noticed the kill: the backup takes the address over now. */
  takeoverDue(): boolean {
    return this.promoteAt >= 0 && this.now >= this.promoteAt;
  }

  /** The backup takes the address over (promoteShadows), after reading what the hub showed it before; a falsely killed holder learns it lost the address. */
  takeOver(): void {
    this.promoteAt = -1;
    const b = this.backup!;
    for (const f of this.toBackup) f.at = this.now;
    this.deliver();
    this.backup = null;
    this.toBackup.length = 0;
    const sid = findConnection(b);
    if (sid < 0 || !b.stack.shadowExact(sid)) this.unprotected++;
    const before = this.log === null ? '' : this.o.describe(b, this.now);
    const [p] = b.stack.promoteShadows(SERVER_IP, this.now);
    if (p > 0) this.resumed++;
    const old = this.killed;
    this.addr = this.srv = b;
    b.stack.setBackedUp([], this.now);
    this.quiet(b);
    if (old !== null && old === this.falselyKilled) {
      // It learns it lost the address (it was backed up: its connections go at once, worker.ts reconcile).
      this.forgetAddress(old);
      old.hub.sent.length = 0;
    }
    b.stack.flush(this.now);
    this.log?.(`${this.now}: ${b.name} takes over, promoted ${p} from ${before}: ${this.o.describe(b, this.now)}`);
    if (this.rnd.int(3) === 0) this.newDelay();
  }

  /** The new holder's quiet period, where the storm has one. */
  private quiet(n: StormNode): void {
    if (this.o.quietMs !== undefined) n.stack.quietUnknownUntil(this.now + this.o.quietMs);
  }

  /** `n` lost the address while backed up: what it has of it goes at once. */
  private forgetAddress(n: StormNode): void {
    n.stack.setBackedUp([], this.now, []);
    n.stack.forgetAddress(SERVER_IP);
  }

  /** Whether a failback starts now: one chance in `oneIn` while steady and not backed up. */
  failbackDue(oneIn: number): boolean {
    return this.backup === null && this.steady() && this.rnd.int(oneIn) === 0;
  }

  /**
   * Failback: the home node is back (a brand-new one, or the falsely killed
   * one) and backs the address up; it asks for copies as it sees the
   * connection, or is sent one; the record moves to it a while later.
   */
  failback(): void {
    this.failbacks++;
    const f = this.falselyKilled;
    const home = f !== null && this.alive.has(f) && this.rnd.int(2) === 0 ? f : this.mk(`N${++this.names}`);
    this.falselyKilled = null;
    this.home = home;
    this.backup = home;
    this.toBackup.length = 0;
    this.srv.stack.setBackedUp([SERVER_IP], this.now);
    if (this.rnd.int(2) === 0) this.sendCopy(this.srv, home);
    this.moveAt = this.now + (this.rnd.int(3) === 0 ? 0 : this.rnd.range(1, 60) * STEP_MS);
    this.moved = false;
    this.log?.(`${this.now}: ${home.name} backs ${this.srv.name} up; the record moves at ${this.moveAt}`);
  }

  /** The failback's home node when its record is due to move now (once), else null. The storm moves it (startMove, then handOver) or gives up. */
  dueMove(): StormNode | null {
    if (this.home === null || this.moveAt < 0 || this.now < this.moveAt) return null;
    this.moveAt = -1;
    return this.home;
  }

  /** When the address follows the record (a draw); returns it. */
  scheduleGrant(): number {
    this.grantAt = this.now + this.rnd.range(0, 3) * this.rnd.range(0, 15) * STEP_MS;
    return this.grantAt;
  }

  /**
   * The record of `old`'s connection `id`, exported, leaves (handoff.ts
   * startTransfer): `old` forgets the connection and gives up copies of it
   * still on their way (some may be on the wire already), and the home node
   * drops its shadow of it (never a live connection) for the record to take
   * its place. The storm imports the record.
   */
  startMove(old: StormNode, id: number, home: StormNode): void {
    old.stack.discardConnection(id);
    for (let i = 0; i < this.copies.length;) {
      if (this.copies[i]!.from === old && this.rnd.int(2) === 0) this.copies.splice(i, 1);
      else i++;
    }
    const here = findConnection(home);
    if (here < 0) return;
    assert.ok(home.stack.isShadow(here), `seed ${this.o.seed}: a live connection on the home node before the move`);
    home.stack.discardConnection(here);
  }

  /** The record moved from `old` (handoff.ts startTransfer, importRecord): `home` serves it from now on, the address still on `old`, which nobody watches meanwhile. */
  handOver(old: StormNode, home: StormNode, nid: number): void {
    home.stack.setExportedAt(nid, old.n, this.now, this.now);
    this.srv = home;
    this.moved = true;
    this.watching = false;
    this.toBackup.length = 0;
    old.stack.setBackedUp([], this.now);
    home.stack.flush(this.now);
  }

  /** The failback ends here: nothing moved, the address stays, the home node backs it up. */
  abandonFailback(): void {
    this.grantAt = -1;
    this.home = null;
  }

  /** Whether the address follows the failback's record now. */
  grantDue(): boolean {
    return this.home !== null && this.grantAt >= 0 && this.now >= this.grantAt;
  }

  /**
   * The address follows: the home node holds it (any shadow of it there is
   * promoted, as the worker's reconcile does), the old holder backs it up and
   * is sent a copy of the connection (copyAddress).
   */
  grant(): void {
    const home = this.home!;
    this.grantAt = -1;
    const old = this.addr;
    this.addr = this.srv = home;
    this.backup = old;
    this.home = null;
    this.watching = true;
    this.toBackup.length = 0;
    // What the old holder still has of the address goes (at once when backed up, else after a
    // grace of 1 s — silent either way here: only the holder reaches the client).
    if (this.o.forgetLostAddress === true) this.forgetAddress(old);
    home.stack.setBackedUp([SERVER_IP], this.now);
    this.quiet(home);
    const [p] = home.stack.promoteShadows(SERVER_IP, this.now);
    home.stack.flush(this.now);
    this.sendCopy(home, old);
    this.log?.(`${this.now}: ${home.name} holds the address${this.moved ? '' : ' (nothing moved)'}${p > 0 ? ', promoted its shadow' : ''}, ${old.name} backs it up: ${this.o.describe(home, this.now)}`);
  }

  /** Every node's connections go, dead ones' too: their applications close the files they hold open. */
  teardown(): void {
    for (const n of this.nodes) for (let id = 0; id < n.stack.capacity; id++) if (n.stack.state(id) !== State.CLOSED) n.stack.discardConnection(id);
  }
}
