// The control thread's cluster layer, as a pure state machine: authenticated
// frames in (`receive`), a timer tick at the heartbeat interval (`tick`),
// operator calls (`declareFailed`, `requestHandover`, `rejoin`), and out come
// sealed frames (`transmit`) and the set of units this node must answer for
// (`onHeld`). Time is always a parameter, so unit tests drive whole clusters
// of these through a fake segment without sleeping (test/unit/control/).
//
// When anything is due next is `nextDueMs()`: the next heartbeat to send, the
// first moment a silent peer counts as failed, the end of the sync window.
// The running node (cluster-link.ts) sleeps until then, so an idle cluster
// wakes its control thread once per heartbeat interval, not more.
//
// Life of a node: Joining (boot: announce the ownership record, solicit every
// peer's) → Synced once the sync window has passed and it holds the current
// record of every live peer → claims per failover.ts. A node declared failed
// for its current incarnation is Fenced: it answers for nothing until it
// rejoins with a higher incarnation (or restarts).
import { FailureDetector } from './detector.js';
import { planClaims, snoopRoles, type ClusterView, type NodeView, type SnoopRoles } from './failover.js';
import { Membership } from './membership.js';
import { ClaimTable, unitKey } from './ownership.js';
import {
  ClaimReason, MemberState, decodeHeartbeat, decodeMessage, encodeHeartbeat, encodeMessage,
  type ClaimRecord, type ConnectionOutcome, type ConnectionSelection, type Message, type MessageBody, type OwnershipRecord, type Unit,
} from './wire/messages.js';
import { open, seal, MAX_SEALED_LEN, SEAL_FLAGS_OFFSET, SEAL_FLAG_HEARTBEAT } from './wire/frame.js';
import { ReplayWindow } from './wire/replay-window.js';

/** A node's own settings: its ownership information (less version and claims) and the cluster's timing. */
export interface ClusterSettings extends Omit<OwnershipRecord, 'version' | 'claims'> {
  readonly clusterId: number;
  readonly self: number;
  readonly peers: readonly number[];
  readonly key: Uint8Array;
  readonly heartbeatMs: number;
  readonly misses: number;
  /** Minimum time in Joining before Synced (so every live peer has been heard). */
  readonly syncWindowMs: number;
  /** Takeovers need a majority of the cluster (3+ nodes): see failover.ts. */
  readonly requireQuorum: boolean;
}

export const COUNTER_NAMES = [
  'heartbeats_sent', 'heartbeats_received', 'records_sent', 'records_received', 'solicits_sent', 'solicits_received',
  'detections_timeout', 'detections_declared', 'declarations_sent', 'takeovers', 'failbacks', 'grants', 'yields',
  'handovers_requested', 'handovers_accepted', 'handovers_rejected',
  'connection_requests_sent', 'connection_requests_received', 'connection_requests_refused',
  'rx_malformed', 'rx_bad_version', 'rx_bad_auth', 'rx_bad_message', 'rx_replayed', 'rx_stale', 'rx_wrong_cluster',
  'rx_unknown_sender', 'rx_from_self', 'rx_not_for_us', 'rx_stale_record', 'tx_oversize',
] as const;
export type ClusterCounter = (typeof COUNTER_NAMES)[number];

export interface HandoverOutcome {
  readonly requestId: number;
  readonly ip: number;
  readonly accepted: boolean;
  readonly reason: string;
}

/**
 * Heartbeats sent and checked outside this state machine (the pollers'
 * engine, native/src/cluster_beat.h): the cluster sets their content and
 * takes its sequence numbers from the same counter; the link reports what
 * the engine heard (noteHeard) and calls tick() when a peer went silent.
 */
export interface ExternalHeartbeats {
  nextSeq(): number;
  set(incarnation: number, version: number, state: MemberState): void;
  /**
   * Whether the heartbeat engine judges `node` silent. A peer heard once is
   * failed for silence only on the engine's word: it judges right after
   * reading what the port holds, and allows for the port's own losses; this
   * thread's clock alone would fail a live peer whose heartbeats wait unread
   * (a poller descheduled, a node just resumed).
   */
  silent?(node: number): boolean;
}

export interface ClusterHooks {
  /** Sends a sealed payload to every node (to = 0) or to one. */
  transmit(payload: Uint8Array, to: number): void;
  /** The units this node answers for changed; `gained` are new since the last call. */
  onHeld(held: readonly ClaimRecord[], gained: readonly ClaimRecord[]): void;
  onHandoverReply?(outcome: HandoverOutcome): void;
  /** A peer claims, with a lower claim, a unit this node holds (after a partition heals). */
  onContested?(claim: ClaimRecord): void;
  /**
   * A peer asks for live connections (seed 000 claim 10), and the checks that
   * need no data plane passed: move them, then answer with replyConnections().
   */
  onConnectionRequest?(from: number, requestId: number, sel: ConnectionSelection): void;
  onConnectionReply?(outcome: ConnectionOutcome): void;
  /**
   * This node is about to give `claim`'s unit away (failback to its resynced
   * home, a resolution). True defers the grant: the caller moves the unit's
   * live connections to the new holder first and returns false when asked
   * again (the next tick), so records move before the address.
   */
  deferGrant?(claim: ClaimRecord): boolean;
  /** What this node shadows and mirrors changed (failover.ts snoopRoles). */
  onRoles?(roles: SnoopRoles): void;
  /** When set, this node's heartbeats are not sent from here (see ExternalHeartbeats). */
  heartbeats?: ExternalHeartbeats;
}

/** With external heartbeats and every peer alive, tick() has nothing to do that nobody asks for: a slow safety tick. */
const EXTERNAL_IDLE_TICK_MS = 1000;

const STATE_NAMES = { [MemberState.Joining]: 'joining', [MemberState.Synced]: 'synced', [MemberState.Fenced]: 'fenced' } as const;

export class Cluster {
  readonly settings: ClusterSettings;
  readonly members: Membership;
  readonly claims = new ClaimTable();
  readonly counters: Record<ClusterCounter, number>;
  private readonly hooks: ClusterHooks;
  private readonly replay = new ReplayWindow();
  incarnation: number;
  state: MemberState = MemberState.Joining;
  private joinedMs: number;
  private stateSinceMs: number;
  private seq = 0;
  private version = 1;
  private lastHeartbeatMs = -Infinity;
  private held = new Map<string, ClaimRecord>();
  private nextRequestId = 1;
  /** The heartbeat content last given to external heartbeats ('' before the first). */
  private beatContent = '';
  private lastTickMs = -Infinity;
  /** freshMask() at the last evaluation. */
  private lastFreshMask = -1;

  constructor(settings: ClusterSettings, hooks: ClusterHooks, now: number) {
    this.settings = settings;
    this.hooks = hooks;
    this.incarnation = now;
    this.joinedMs = now;
    this.stateSinceMs = now;
    this.members = new Membership(settings.self, settings.peers, new FailureDetector({ heartbeatMs: settings.heartbeatMs, misses: settings.misses }), now);
    this.counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as Record<ClusterCounter, number>;
  }

  /** Boot announcement (seed 000 claim 2) and solicitation of every peer's record (claim 4). */
  start(now: number): void {
    // The sync window counts from here, when the node can first hear anyone:
    // a node's port may take longer than the window to come up (DPDK), and a
    // window spent before start would find no live peer and claim the home
    // address for a moment, while the holder still serves it.
    this.joinedMs = now;
    this.stateSinceMs = now;
    this.sendRecord();
    this.send({ kind: 'solicit', nodes: [] }, 0);
    this.counters.solicits_sent++;
    this.tick(now);
  }

  /** A new life: higher incarnation, Joining again, resync before anything fails back here. */
  rejoin(now: number): void {
    this.incarnation = Math.max(now, this.incarnation + 1);
    if (this.hooks.heartbeats === undefined) this.seq = 0;
    this.setState(MemberState.Joining, now);
    this.joinedMs = now;
    this.start(now);
  }

  ownRecord(): OwnershipRecord {
    const s = this.settings;
    return {
      version: this.version, failover: s.failover, backups: s.backups, arp: s.arp, protocol: s.protocol, application: s.application,
      addresses: s.addresses, ports: s.ports, macs: s.macs, claims: this.claims.all(),
    };
  }

  // --- sending ------------------------------------------------------------------

  private send(body: MessageBody, to: number): void {
    const seq = this.hooks.heartbeats?.nextSeq() ?? ++this.seq;
    const m: Message = { cluster: this.settings.clusterId, sender: this.settings.self, incarnation: this.incarnation, seq, to, body };
    // Heartbeats have a fixed layout the pollers' heartbeat engine reads (messages.ts).
    const payload = body.kind === 'heartbeat'
      ? seal(this.settings.key, encodeHeartbeat(m), SEAL_FLAG_HEARTBEAT)
      : seal(this.settings.key, encodeMessage(m));
    if (payload.length > MAX_SEALED_LEN) this.counters.tx_oversize++;
    this.hooks.transmit(payload, to);
  }

  private sendRecord(): void {
    this.send({ kind: 'ownership', record: this.ownRecord() }, 0);
    this.counters.records_sent++;
  }

  private sendHeartbeat(now: number): void {
    this.lastHeartbeatMs = now;
    const ext = this.hooks.heartbeats;
    if (ext !== undefined) {
      this.publishBeat();
      return;
    }
    this.send({ kind: 'heartbeat', version: this.version, state: this.state }, 0);
    this.counters.heartbeats_sent++;
  }

  // --- receiving ----------------------------------------------------------------

  /**
   * One cluster-control payload (after the Ethernet header). Never throws:
   * refusals are counted. `heardAt` is when it arrived, when that was earlier
   * than `now` (a heartbeat read at the next timer tick): liveness counts
   * from the arrival.
   */
  receive(payload: Uint8Array, now: number, heardAt = now): void {
    const fb = open(this.settings.key, payload);
    if (typeof fb === 'string') {
      this.counters[`rx_${fb}`]++;
      return;
    }
    const m = (payload[SEAL_FLAGS_OFFSET]! & SEAL_FLAG_HEARTBEAT) !== 0 ? decodeHeartbeat(fb) : decodeMessage(fb);
    if (m === null) {
      this.counters.rx_bad_message++;
      return;
    }
    if (m.cluster !== this.settings.clusterId) {
      this.counters.rx_wrong_cluster++;
      return;
    }
    if (m.sender === this.settings.self) {
      this.counters.rx_from_self++;
      return;
    }
    if (this.members.get(m.sender) === undefined) {
      this.counters.rx_unknown_sender++;
      return;
    }
    const verdict = this.replay.accept(m.sender, m.incarnation, m.seq);
    if (verdict !== 'ok') {
      this.counters[verdict === 'replayed' ? 'rx_replayed' : 'rx_stale']++;
      return;
    }
    const member = this.members.heard(m.sender, m.incarnation, Math.min(heardAt, now));
    if (member === undefined) {
      this.counters.rx_stale++;
      return;
    }
    // Liveness first: what the message says is judged knowing its sender is alive.
    const revived = member.liveness !== 'alive';
    if (revived) this.sweep(now);
    if (m.to !== 0 && m.to !== this.settings.self) {
      this.counters.rx_not_for_us++;
      return;
    }
    this.dispatch(m, now, revived);
    this.publishBeat();
  }

  /** External heartbeats: hands them the current content when it changed. */
  private publishBeat(): void {
    const ext = this.hooks.heartbeats;
    if (ext === undefined) return;
    const content = `${this.incarnation}/${this.version}/${this.state}`;
    if (content === this.beatContent) return;
    this.beatContent = content;
    ext.set(this.incarnation, this.version, this.state);
  }

  /**
   * External heartbeats: `id` was last heard at `atMs` (this node's clock) in
   * `incarnation`. Only moves the time forwards, and only within the
   * incarnation this node knows (a new one reaches receive() itself).
   */
  noteHeard(id: number, incarnation: number, atMs: number): void {
    const m = this.members.get(id);
    if (m === undefined || incarnation !== m.incarnation || !(atMs > m.lastHeardMs)) return;
    m.lastHeardMs = atMs;
  }

  private dispatch(m: Message, now: number, revived: boolean): void {
    const member = this.members.get(m.sender)!;
    const b = m.body;
    switch (b.kind) {
      case 'heartbeat':
        this.counters.heartbeats_received++;
        // Nothing new (the steady state): liveness is already recorded, and
        // the next tick re-evaluates anything that depends on time.
        if (!revived && member.state === b.state && member.advertisedVersion === b.version) return;
        member.state = b.state;
        member.advertisedVersion = b.version;
        break;
      case 'ownership': {
        this.counters.records_received++;
        if (member.record !== null && member.recordIncarnation === m.incarnation && b.record.version <= member.record.version) {
          if (b.record.version < member.record.version) this.counters.rx_stale_record++;
          break;
        }
        member.record = b.record;
        member.recordIncarnation = m.incarnation;
        if (b.record.version > member.advertisedVersion) member.advertisedVersion = b.record.version;
        let changed = false;
        for (const c of b.record.claims) {
          if (this.claims.merge(c)) {
            changed = true;
          } else if (c.holder !== this.settings.self && this.held.has(unitKey(c))) {
            // A peer claims (lower) what we hold: it answered for the address
            // while we could not hear it (a partition), and the segment may
            // still send it our traffic. Announce ourselves again.
            this.hooks.onContested?.(c);
          }
        }
        if (changed) this.tableChanged(now);
        break;
      }
      case 'solicit':
        this.counters.solicits_received++;
        if (b.nodes.length === 0 || b.nodes.includes(this.settings.self)) this.sendRecord();
        break;
      case 'fail':
        this.learnDeclaration(b.node, b.incarnation, now);
        break;
      case 'handover-request':
        this.answerHandover(m.sender, b.requestId, b.unit, now);
        break;
      case 'handover-reply':
        this.hooks.onHandoverReply?.({ requestId: b.requestId, ip: b.ip, accepted: b.accepted, reason: b.reason });
        break;
      case 'connection-request':
        this.answerConnectionRequest(m.sender, b.requestId, b);
        break;
      case 'connection-reply':
        this.hooks.onConnectionReply?.(b);
        break;
    }
    this.evaluate(now);
  }

  // --- the timer ------------------------------------------------------------------

  /** Runs when nextDueMs() says (and is cheap to run more often). */
  tick(now: number): void {
    this.lastTickMs = now;
    if (this.hooks.heartbeats === undefined && now - this.lastHeartbeatMs >= this.settings.heartbeatMs) this.sendHeartbeat(now);
    const changed = this.sweep(now);
    // Solicit records that are missing or older than what their owner advertises.
    for (const m of this.members.all()) {
      if (m.liveness !== 'alive') continue;
      const stale = m.record === null || m.recordIncarnation !== m.incarnation || m.record.version < m.advertisedVersion;
      if (stale && now - m.solicitedMs >= this.settings.heartbeatMs) {
        m.solicitedMs = now;
        this.send({ kind: 'solicit', nodes: [m.id] }, 0);
        this.counters.solicits_sent++;
      }
    }
    // The decisions depend on time only through liveness (the sweep above),
    // which peers are fresh (quorum), and the sync window while joining;
    // everything else that feeds them evaluates where it changes. An idle
    // cluster so skips the evaluation on almost every tick.
    const fresh = this.freshMask(now);
    if (changed > 0 || fresh !== this.lastFreshMask || this.state === MemberState.Joining || this.grantDeferred) this.evaluate(now);
    this.publishBeat();
  }

  /** Bit i: the i-th peer (in id order) was heard within half the detection time (see view()). */
  private freshMask(now: number): number {
    let mask = 0;
    let i = 0;
    for (const m of this.members.all()) {
      if (this.isFresh(m.lastHeardMs, now)) mask |= 1 << i;
      i++;
    }
    return mask;
  }

  private isFresh(lastHeardMs: number, now: number): boolean {
    // Half the detection time: a peer whose heartbeats merely jittered
    // behind another's must not make the minority of a partition count it.
    return now - lastHeardMs <= Math.max(1, Math.floor(this.settings.misses / 2)) * this.settings.heartbeatMs;
  }

  /**
   * When tick() next has something to do: the next heartbeat, the first
   * moment a live member's silence exceeds the detection time (detector.ts:
   * failed when silent for more than heartbeatMs × misses), or the end of the
   * sync window while joining. Receiving a message only ever moves these later
   * or calls for work at once, which receive() does itself.
   */
  nextDueMs(): number {
    if (this.hooks.heartbeats !== undefined) return this.nextDueExternal();
    let due = this.lastHeartbeatMs + this.settings.heartbeatMs;
    if (this.state === MemberState.Joining) due = Math.min(due, this.joinedMs + this.settings.syncWindowMs);
    const timeout = this.members.detector.timeoutMs;
    for (const m of this.members.all()) {
      if (m.liveness === 'alive') due = Math.min(due, Math.floor(m.lastHeardMs + timeout) + 1);
    }
    return due;
  }

  /**
   * With external heartbeats the engine calls for a tick when a peer goes
   * silent, and every change a peer announces arrives as a message. Left to
   * time: the sync window, solicits of stale records, and, while some peer is
   * down, decisions that wait for a quorum (which peers are fresh moves with
   * heartbeats this node no longer sees one by one): those tick every two
   * heartbeat intervals; a healthy cluster once a second.
   */
  private nextDueExternal(): number {
    const hb = this.settings.heartbeatMs;
    let due = this.lastTickMs + EXTERNAL_IDLE_TICK_MS;
    if (this.state === MemberState.Joining) due = Math.min(due, this.joinedMs + this.settings.syncWindowMs, this.lastTickMs + hb);
    for (const m of this.members.all()) {
      if (m.liveness !== 'alive') {
        due = Math.min(due, this.lastTickMs + 2 * hb);
        continue;
      }
      const stale = m.record === null || m.recordIncarnation !== m.incarnation || m.record.version < m.advertisedVersion;
      if (stale) due = Math.min(due, m.solicitedMs + hb);
    }
    return due;
  }

  /** Re-evaluates liveness: counts detections, resyncs with members that came back. Returns how many changed. */
  private sweep(now: number): number {
    const changed = this.members.sweep(now, this.hooks.heartbeats?.silent);
    for (const m of changed) {
      if (m.liveness === 'timeout' && m.incarnation >= 0) this.counters.detections_timeout++;
      if (m.liveness === 'declared') this.counters.detections_declared++;
      // A member back from failure (boot, restart, a healed partition): resynchronise both ways.
      if (m.liveness === 'alive') this.sendRecord();
    }
    return changed.length;
  }

  private synced(now: number): boolean {
    if (now - this.joinedMs < this.settings.syncWindowMs) return false;
    for (const m of this.members.all()) {
      if (m.liveness !== 'alive') continue;
      if (m.record === null || m.recordIncarnation !== m.incarnation || m.record.version < m.advertisedVersion) return false;
    }
    return true;
  }

  private setState(s: MemberState, now: number): void {
    if (this.state === s) return;
    this.state = s;
    this.stateSinceMs = now;
    this.sendHeartbeat(now);
  }

  private view(now: number): ClusterView {
    const nodes = new Map<number, NodeView>();
    nodes.set(this.settings.self, { alive: true, fresh: true, synced: this.state === MemberState.Synced, fenced: this.state === MemberState.Fenced });
    const records = new Map<number, OwnershipRecord>([[this.settings.self, this.ownRecord()]]);
    for (const m of this.members.all()) {
      const fresh = this.isFresh(m.lastHeardMs, now);
      nodes.set(m.id, { alive: m.liveness === 'alive', fresh, synced: m.state === MemberState.Synced, fenced: m.state === MemberState.Fenced });
      if (m.record !== null) records.set(m.id, m.record);
    }
    const units = new Map<string, Unit & { home: number }>();
    for (const [id, r] of records) {
      for (const ip of r.addresses) {
        const u = { ip, lo: r.ports[0], hi: r.ports[1], home: id };
        units.set(unitKey(u), u);
      }
    }
    const claims = new Map<string, ClaimRecord>();
    for (const c of this.claims.all()) {
      const k = unitKey(c);
      claims.set(k, c);
      if (!units.has(k)) units.set(k, { ip: c.ip, lo: c.lo, hi: c.hi, home: c.home });
    }
    return { self: this.settings.self, clusterSize: this.members.size, requireQuorum: this.settings.requireQuorum, nodes, records, claims, units };
  }

  /** Updates this node's state, writes the claims the policy asks for, publishes what it holds. */
  private evaluate(now: number): void {
    this.lastFreshMask = this.freshMask(now);
    if (this.state !== MemberState.Fenced) this.setState(this.synced(now) ? MemberState.Synced : MemberState.Joining, now);
    const view = this.view(now);
    const planned = planClaims(view, now);
    let changed = false;
    this.grantDeferred = false;
    for (const c of planned) {
      // A unit this node gives away (failback, resolution): its live connections go first, if the node moves them.
      // The grant is asked for again at every tick until it goes: nothing else may change meanwhile.
      if (c.holder !== this.settings.self && this.hooks.deferGrant?.(c) === true) {
        this.grantDeferred = true;
        continue;
      }
      if (!this.claims.merge(c)) continue;
      changed = true;
      if (c.holder === this.settings.self && c.reason === ClaimReason.Takeover) this.counters.takeovers++;
      if (c.holder !== this.settings.self) this.counters[c.reason === ClaimReason.Failback ? 'failbacks' : 'grants']++;
    }
    if (changed) this.tableChanged(now);
    this.publishHeld();
    if (this.hooks.onRoles !== undefined) this.publishRoles(changed ? this.view(now) : view);
  }

  private rolesKey = '';
  /** The last evaluation held back a grant (hooks.deferGrant): the next tick evaluates again. */
  private grantDeferred = false;

  private publishRoles(view: ClusterView): void {
    const roles = snoopRoles(view);
    const key = JSON.stringify(roles);
    if (key === this.rolesKey) return;
    this.rolesKey = key;
    this.hooks.onRoles!(roles);
  }

  /** What this node shadows and mirrors right now. */
  roles(now: number): SnoopRoles {
    return snoopRoles(this.view(now));
  }

  private tableChanged(now: number): void {
    void now;
    this.version++;
    this.sendRecord();
  }

  private publishHeld(): void {
    const held = new Map<string, ClaimRecord>();
    if (this.state !== MemberState.Fenced) for (const c of this.claims.heldBy(this.settings.self)) held.set(unitKey(c), c);
    const gained: ClaimRecord[] = [];
    let lost = 0;
    for (const [k, c] of held) if (!this.held.has(k)) gained.push(c);
    for (const [k, c] of this.held) {
      if (held.has(k)) continue;
      lost++;
      const now = this.claims.get(c);
      if (now !== undefined && now.author !== this.settings.self) this.counters.yields++;
    }
    if (gained.length === 0 && lost === 0) return;
    this.held = held;
    this.hooks.onHeld([...held.values()], gained);
  }

  // --- failure declarations (external detector, seed 003 claims 38–40) ----------------

  /** Declares `node` failed at its current incarnation and tells every node. */
  declareFailed(node: number, now: number): void {
    const m = this.members.get(node);
    if (m === undefined) throw new RangeError(`node ${node} is not a peer of node ${this.settings.self}`);
    const incarnation = Math.max(m.incarnation, 0);
    this.send({ kind: 'fail', node, incarnation, byOperator: true }, 0);
    this.counters.declarations_sent++;
    this.learnDeclaration(node, incarnation, now);
    this.tick(now);
  }

  private learnDeclaration(node: number, incarnation: number, now: number): void {
    if (node === this.settings.self) {
      if (incarnation >= this.incarnation) this.setState(MemberState.Fenced, now);
      return;
    }
    this.members.detector.declare(node, incarnation);
    this.sweep(now);
  }

  // --- handover (seed 000 claim 10) ------------------------------------------------------

  /** Asks the current holder of the unit containing `ip` to hand it to this node. Returns the request id, or an error text. */
  requestHandover(ip: number, now: number): number | string {
    const c = this.claims.all().find((x) => x.ip === ip);
    if (c === undefined) return 'no claim on that address is known';
    if (c.holder === this.settings.self) return 'this node already holds it';
    if (!this.members.isAlive(c.holder)) return `holder ${c.holder} is not alive`;
    const requestId = this.nextRequestId++;
    this.send({ kind: 'handover-request', requestId, unit: { ip: c.ip, lo: c.lo, hi: c.hi } }, c.holder);
    this.counters.handovers_requested++;
    void now;
    return requestId;
  }

  /** Why `unit` may not be handed to node `to` now, or '' when it may. */
  private handoverRefusal(to: number, c: ClaimRecord | undefined): string {
    const requester = this.members.get(to);
    if (c === undefined || c.holder !== this.settings.self || this.state === MemberState.Fenced) return 'not the holder';
    if (c.home === this.settings.self) return 'a home address is not handed over';
    if (requester === undefined || !this.members.isAlive(to) || requester.state !== MemberState.Synced) return 'requester is not synced';
    if (c.home !== to && this.members.isAlive(c.home) && this.members.get(c.home)?.state === MemberState.Synced) return 'its home node is back: failing back instead';
    return '';
  }

  private answerHandover(from: number, requestId: number, unit: Unit, now: number): void {
    let reason = this.handoverRefusal(from, this.claims.get(unit));
    const accepted = reason === '';
    if (accepted) {
      this.grant(this.claims.get(unit)!, from, now);
      this.counters.handovers_accepted++;
      reason = 'accepted';
    } else {
      this.counters.handovers_rejected++;
    }
    this.send({ kind: 'handover-reply', requestId, ip: unit.ip, accepted, reason }, from);
  }

  private grant(c: ClaimRecord, to: number, now: number): void {
    this.claims.merge({ ...c, holder: to, epoch: c.epoch + 1, author: this.settings.self, sinceMs: now, reason: ClaimReason.Handover });
    this.tableChanged(now);
    this.publishHeld();
  }

  /**
   * Hands the address `ip` this node holds to node `to` (after its
   * connections moved there: control/handover.ts). Returns '' or why not.
   */
  grantAddress(ip: number, to: number, now: number): string {
    const c = this.claims.all().find((x) => x.ip === ip);
    const reason = this.handoverRefusal(to, c);
    if (reason !== '') return reason;
    this.grant(c!, to, now);
    this.counters.handovers_accepted++;
    return '';
  }

  // --- live connections (seed 000 claim 10; the data plane moves them) ------------------

  /** Asks node `holder` to move the selected connections here. Returns the request id, or an error text. */
  requestConnections(holder: number, sel: ConnectionSelection): number | string {
    if (holder === this.settings.self) return 'this node is the holder';
    if (!this.members.isAlive(holder)) return `node ${holder} is not alive`;
    const requestId = this.nextRequestId++;
    this.send({ kind: 'connection-request', requestId, ...sel }, holder);
    this.counters.connection_requests_sent++;
    return requestId;
  }

  /** The holder's answer to a connection request (after the move, or a refusal). */
  replyConnections(to: number, o: ConnectionOutcome): void {
    this.send({ kind: 'connection-reply', ...o }, to);
  }

  private answerConnectionRequest(from: number, requestId: number, sel: ConnectionSelection): void {
    this.counters.connection_requests_received++;
    const requester = this.members.get(from)!;
    let reason = '';
    if (this.state === MemberState.Fenced) reason = 'this node is fenced';
    else if (requester.state !== MemberState.Synced) reason = 'requester is not synced';
    else if (sel.withAddress) reason = this.handoverRefusal(from, this.claims.all().find((x) => x.ip === sel.ip));
    if (reason === '' && this.hooks.onConnectionRequest === undefined) reason = 'this node cannot move connections';
    if (reason !== '') {
      this.counters.connection_requests_refused++;
      this.replyConnections(from, { requestId, accepted: false, reason, selected: 0, moved: 0, rejected: 0, unresolved: 0, addressMoved: false });
      return;
    }
    this.hooks.onConnectionRequest!(from, requestId, sel);
  }

  // --- status ------------------------------------------------------------------------

  status(now: number): ClusterStatus {
    const members: MemberStatus[] = [{
      id: this.settings.self, self: true, state: STATE_NAMES[this.state], liveness: 'alive', incarnation: this.incarnation,
      recordVersion: this.version, sinceMs: this.stateSinceMs, lastHeardAgoMs: 0,
    }];
    for (const m of this.members.all()) {
      members.push({
        id: m.id, self: false, state: m.incarnation < 0 ? 'unknown' : STATE_NAMES[m.state], liveness: m.liveness,
        incarnation: m.incarnation, recordVersion: m.record?.version ?? 0, sinceMs: m.sinceMs,
        lastHeardAgoMs: m.incarnation < 0 ? -1 : now - m.lastHeardMs,
      });
    }
    const records: Record<string, OwnershipRecord | null> = {};
    for (const m of this.members.all()) records[String(m.id)] = m.record;
    records[String(this.settings.self)] = this.ownRecord();
    return {
      self: this.settings.self, incarnation: this.incarnation, state: STATE_NAMES[this.state], members,
      claims: this.claims.all(), held: [...this.held.values()], records, counters: { ...this.counters },
      heartbeatMs: this.settings.heartbeatMs, misses: this.settings.misses,
    };
  }
}

export interface MemberStatus {
  readonly id: number;
  readonly self: boolean;
  readonly state: string;
  readonly liveness: string;
  readonly incarnation: number;
  readonly recordVersion: number;
  readonly sinceMs: number;
  readonly lastHeardAgoMs: number;
}

export interface ClusterStatus {
  readonly self: number;
  readonly incarnation: number;
  readonly state: string;
  readonly members: readonly MemberStatus[];
  readonly claims: readonly ClaimRecord[];
  readonly held: readonly ClaimRecord[];
  readonly records: Record<string, OwnershipRecord | null>;
  readonly counters: Record<ClusterCounter, number>;
  readonly heartbeatMs: number;
  readonly misses: number;
}
