// The cluster layer on a running node: the Cluster state machine (cluster.ts)
// wired to the control endpoint (frames in from the ARP/control drain, frames
// out through the control endpoint's tx ring), one timer armed for whatever is
// due next (a heartbeat, a peer's detection deadline, a gratuitous ARP), the
// owned-address table the workers and the ARP responder read, and gratuitous
// ARP after a takeover (arp-takeover.ts).
//
// Idle cost: heartbeats are the pollers' business (native/src/cluster_beat.h):
// poller 0 sends this node's, every poller checks the peers' and ends those
// that say nothing new, and the engine calls this thread only when a peer
// changes or goes silent. A JS thread woken 100 times a second costs ~2 % of
// a core on its own; an idle cluster node now wakes this one about once a second.
// Before each tick the link copies the engine's last-heard times into the
// state machine (noteHeard), on the clock the engine used (native.monotonicMs).
import type { EndpointIo } from '../dataplane/endpoint.js';
import { native } from '../native/addon.js';
import { BeatTable, BEAT_CONSUMED, BEAT_DROPPED_REPLAY, BEAT_EXCUSED, BEAT_FORWARDED, BEAT_SENT } from './beat-table.js';
import { writeOwned } from '../dataplane/owned.js';
import { SnoopRole, writeSnoopTable, type SnoopEntry } from '../dataplane/snoop-table.js';
import type { SnoopRoles } from './failover.js';
import { ArpAnnouncer, clusterMulticastMac } from './arp-takeover.js';
import { Cluster, type ClusterStatus, type HandoverOutcome } from './cluster.js';
import type { NodeConfig } from './config.js';
import { ArpPolicy, FailoverPolicy, Protocol, type ClaimRecord, type ConnectionOutcome, type ConnectionSelection } from './wire/messages.js';
import { parseMac, writeEthernet } from '../dataplane/net/ethernet.js';
import { ETHERTYPE_CLUSTER } from './wire/frame.js';

const BROADCAST = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
import { BatonError } from './errors.js';
import { ipv4ToString } from '../dataplane/net/ipv4.js';

export interface ClusterLinkStatus extends ClusterStatus {
  readonly arpPolicy: 'unicast' | 'multicast';
  readonly clusterMac: string;
  readonly arpAnnouncements: number;
  readonly txDropNoSlot: number;
  /** Service modes snoop/mirror: addresses this node shadows (and whose holder), and its backups for what it holds. */
  readonly snoop: { readonly shadow: readonly { ip: string; holder: number }[]; readonly mirrorTo: readonly { ip: string; backup: number }[] };
  /** The heartbeat engine's counters. */
  /** The heartbeat engine's counters; `excused`: silences put off because this node's port was losing frames. */
  readonly beats: { readonly sent: number; readonly consumed: number; readonly forwarded: number; readonly droppedReplay: number; readonly excused: number };
}

export class ClusterLink {
  readonly cluster: Cluster;
  readonly clusterMac: Uint8Array;
  readonly arpPolicy: 'unicast' | 'multicast';
  private readonly io: EndpointIo;
  private readonly owned: SharedArrayBuffer;
  private readonly mac: Uint8Array;
  private readonly announcer: ArpAnnouncer;
  private timer: NodeJS.Timeout | null = null;
  /** When the armed timer is due (Date.now() ms); Infinity when none is armed. */
  private armedFor = Infinity;
  private running = false;
  /** Inside tick(): the drain's receives must not arm a timer for the heartbeat this tick sends. */
  private ticking = false;
  /** Reads the control rings (late heartbeats) before each tick; set by start(). */
  private drain: () => void = () => {};
  private readonly onTimer = (): void => this.tick();
  private txDropNoSlot = 0;
  private readonly waiting = new Map<number, (o: HandoverOutcome) => void>();
  private readonly waitingConnections = new Map<number, (o: ConnectionOutcome) => void>();
  /** Every cluster member's addresses, for the workers: connections of these may be moved in (handoff). */
  private readonly servable: SharedArrayBuffer | null;
  private servableKey = '';
  /** Set by the node: a peer asks for live connections (the node moves them, then calls cluster.replyConnections). */
  onConnectionRequest: ((from: number, requestId: number, sel: ConnectionSelection) => void) | null = null;
  /**
   * Set by the node: moves the live connections of `ip` to node `to` (not the
   * address). With it, a grant this node plans (failback) waits until they
   * have moved: records first, then the address.
   */
  moveConnections: ((ip: number, to: number) => Promise<unknown>) | null = null;
  /** Grants waiting for their connections to move, by address: 'moving' (first sweep), 'draining' (second sweep), or 'moved' (grant at the next evaluation). */
  private readonly grantMoves = new Map<number, { to: number; state: 'moving' | 'draining' | 'moved'; at: number }>();
  /** Held addresses that take no new connections (a grant about to happen: deferGrant). */
  private readonly draining = new Set<number>();
  /** What this node holds, as last written to the workers' table. */
  private heldNow: readonly ClaimRecord[] = [];
  private readonly beats: BeatTable;
  private readonly config: NodeConfig;

  private readonly snoop: SharedArrayBuffer | null;
  /** Called after the tables the workers read (owned, snoop) changed: parked workers must look now. */
  private readonly tablesChanged: () => void;
  private rolesNow: SnoopRoles = { shadow: [], mirrorTo: [] };

  constructor(config: NodeConfig, io: EndpointIo, owned: SharedArrayBuffer, mac: Uint8Array,
    snoop: SharedArrayBuffer | null = null, tablesChanged: () => void = () => {}, servable: SharedArrayBuffer | null = null) {
    const c = config.cluster!;
    this.config = config;
    this.beats = new BeatTable(c.peers);
    const beats = this.beats;
    this.io = io;
    this.servable = servable;
    this.owned = owned;
    this.snoop = snoop;
    this.tablesChanged = tablesChanged;
    this.mac = mac;
    this.arpPolicy = c.arp;
    this.announcer = new ArpAnnouncer(mac);
    this.clusterMac = new Uint8Array(6);
    parseMac(clusterMulticastMac(c.id), this.clusterMac, 0);
    const macs = [config.port.mac, ...(c.arp === 'multicast' ? [clusterMulticastMac(c.id)] : [])];
    this.cluster = new Cluster({
      clusterId: c.id, self: config.node.id, peers: c.peers, key: c.key, heartbeatMs: c.heartbeatMs, misses: c.misses,
      syncWindowMs: 2 * c.heartbeatMs * c.misses, requireQuorum: c.quorum,
      failover: c.failover === 'spread' ? FailoverPolicy.Spread : FailoverPolicy.Backup, backups: c.backups,
      arp: c.arp === 'multicast' ? ArpPolicy.Multicast : ArpPolicy.Unicast, protocol: Protocol.Any, application: c.application,
      addresses: config.addresses.map((a) => a.ip), ports: c.ports, macs,
    }, {
      transmit: (payload) => this.transmit(payload),
      onHeld: (held, gained) => this.onHeld(held, gained),
      onContested: (claim) => {
        // The segment may still send this address's traffic to the peer that held it during a partition.
        if (this.arpPolicy === 'unicast') this.announcer.announce(claim.ip, Date.now());
      },
      ...(snoop === null ? {} : { onRoles: (roles: SnoopRoles) => this.onRoles(roles) }),
      onHandoverReply: (o) => {
        this.waiting.get(o.requestId)?.(o);
        this.waiting.delete(o.requestId);
      },
      onConnectionRequest: (from, requestId, sel) => {
        if (this.onConnectionRequest !== null) this.onConnectionRequest(from, requestId, sel);
        else this.cluster.replyConnections(from, { requestId, accepted: false, reason: 'this node cannot move connections', selected: 0, moved: 0, rejected: 0, unresolved: 0, addressMoved: false });
      },
      deferGrant: (claim) => this.deferGrant(claim),
      onConnectionReply: (o) => {
        this.waitingConnections.get(o.requestId)?.(o);
        this.waitingConnections.delete(o.requestId);
      },

      heartbeats: {
        nextSeq: () => beats.nextSeq(),
        silent: (node) => beats.silent(node),
        set: (incarnation, version, state) => {
          native.beatSet(incarnation, version, state);
          // Poller 0 sends it at once.
          native.kickPoller(0);
        },
      },
    }, Date.now());
  }

  /** `drain` reads the control endpoint's rings (the node's ARP/control drain). */
  start(drain: () => void = () => {}): void {
    this.drain = drain;
    this.running = true;
    const c = this.config.cluster!;
    native.beatConfigure(this.beats.bytes, {
      key: c.key, cluster: c.id, self: this.config.node.id, mac: this.config.port.mac,
      intervalMs: c.heartbeatMs, timeoutMs: c.heartbeatMs * c.misses, lossGraceMs: c.lossGraceMs, peers: c.peers,
    });
    this.cluster.start(Date.now());
    this.writeServable();
    this.acknowledge();
    this.arm();
  }

  stop(): void {
    if (this.running) native.beatStop();
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = Infinity;
  }

  /**
   * A cluster-control payload from the control endpoint's drain; `arrivalMono`
   * is the poller's stamp (CLOCK_MONOTONIC ms mod 2^32, shm/layout.ts DESC_HASH).
   */
  receive(payload: Uint8Array, arrivalMono?: number): void {
    const now = Date.now();
    this.cluster.receive(payload, now, arrivalMono === undefined ? now : now - ageMs(arrivalMono));
    this.acknowledge();
    this.flushAnnouncements();
    this.arm();
  }

  /** After the control rings were drained: a tick at once when the heartbeat engine flagged a silent peer. */
  serviceEvents(): void {
    if (!this.running || this.ticking) return;
    if (!this.beats.takeEvents()) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = Infinity;
    this.tick();
  }

  /** Copies the engine's last-heard times into the state machine, on `now`'s clock. */
  private noteHeard(now: number): void {
    const mono = native.monotonicMs();
    for (let i = 0; i < this.beats.peers.length; i++) {
      const p = this.beats.peer(i);
      if (p.lastHeardMono > 0) this.cluster.noteHeard(p.id, p.incarnation, now - (mono - p.lastHeardMono));
    }
  }

  /** Tells the engine what this thread knows of each peer: heartbeats repeating it end there. */
  private acknowledge(): void {
    this.beats.peers.forEach((id, i) => {
      const m = this.cluster.members.get(id);
      if (m !== undefined && m.incarnation >= 0) this.beats.ack(i, m.incarnation, m.state, m.advertisedVersion);
    });
  }

  private tick(): void {
    this.timer = null;
    this.armedFor = Infinity;
    if (!this.running) return;
    // Heartbeats that arrived since the last tick are read first: a deadline
    // due now may have been met by one of them.
    this.ticking = true;
    try {
      this.drain();
      this.beats.takeEvents();
      const now = Date.now();
      this.noteHeard(now);
      this.cluster.tick(now);
      this.acknowledge();
      this.flushAnnouncements();
      this.writeServable();
    } finally {
      this.ticking = false;
    }
    this.arm();
  }

  /**
   * A grant this node plans (failback, a resolution): its live connections
   * go first, as records, then the address. The first sweep runs while the
   * address still takes new connections; then the address drains (no SYN is
   * answered here: dataplane/owned.ts OWNED_DRAINING) and a second sweep moves
   * the connections opened during the first, with the workers known to have
   * seen the drain (a command follows the table in their pass). Only then the
   * grant: a connection this node answered a moment before the new holder
   * took the address was otherwise left here, its SYN-ACK unseen by the new
   * holder's shadow, and dropped when this node forgot the address (a mirror
   * kill loop's echo stream, stuck after one echo).
   */
  private deferGrant(claim: ClaimRecord): boolean {
    const move = this.moveConnections;
    if (move === null) return false;
    const ip = claim.ip;
    const g = this.grantMoves.get(ip);
    // A move that finished long ago belongs to another episode: move again.
    if (g !== undefined && g.to === claim.holder && (g.state !== 'moved' || Date.now() - g.at < 2000)) {
      if (g.state !== 'moved') return true;
      this.grantMoves.delete(ip);
      // Granted now; connections its clients opened here meanwhile (a SYN before the drain, answered late) follow it.
      setImmediate(() => void move(ip, claim.holder).catch(() => undefined));
      return false;
    }
    this.setDraining(ip, false);
    this.grantMoves.set(ip, { to: claim.holder, state: 'moving', at: Date.now() });
    const current = (): { to: number; state: string; at: number } | undefined => {
      const cur = this.grantMoves.get(ip);
      return cur !== undefined && cur.to === claim.holder ? cur : undefined;
    };
    const drained = (): void => {
      const cur = current();
      if (cur !== undefined && cur.state === 'draining') {
        cur.state = 'moved';
        cur.at = Date.now();
        // A grant that does not follow (the target failed meanwhile) must not leave the address refusing connections.
        setTimeout(() => {
          const c = this.grantMoves.get(ip);
          if (c === undefined || c.state === 'moved') this.setDraining(ip, false);
        }, 2500).unref();
      }
      this.tick();
    };
    const moved = (): void => {
      const cur = current();
      if (cur === undefined || cur.state !== 'moving') {
        this.tick();
        return;
      }
      cur.state = 'draining';
      this.setDraining(ip, true);
      move(ip, claim.holder).then(drained, drained);
    };
    move(ip, claim.holder).then(moved, moved);
    return true;
  }

  /** Marks a held address draining (or not) in the workers' table (dataplane/owned.ts). */
  private setDraining(ip: number, on: boolean): void {
    if (on === this.draining.has(ip)) return;
    if (on) this.draining.add(ip);
    else this.draining.delete(ip);
    this.writeHeld();
    this.tablesChanged();
  }

  private writeHeld(): void {
    writeOwned(this.owned, this.heldNow.map((c) => ({ ip: c.ip, lo: c.lo, hi: c.hi, draining: this.draining.has(c.ip) })));
  }

  /** Publishes every member's addresses to the workers when they change. */
  private writeServable(): void {
    if (this.servable === null) return;
    const ips = new Set<number>(this.cluster.settings.addresses);
    for (const m of this.cluster.members.all()) for (const ip of m.record?.addresses ?? []) ips.add(ip);
    const sorted = [...ips].sort((a, b) => a - b);
    const key = sorted.join(',');
    if (key === this.servableKey) return;
    this.servableKey = key;
    writeOwned(this.servable, sorted.map((ip) => ({ ip, lo: 0, hi: 65535 })));
  }

  /** Grants the address this node holds to node `to` (its connections moved first: control/handover.ts). */
  grantAddress(ip: number, to: number): string {
    const r = this.cluster.grantAddress(ip, to, Date.now());
    this.flushAnnouncements();
    this.arm();
    return r;
  }

  /** Asks node `holder` to move the selected connections to this node; resolves with its answer. */
  requestConnections(holder: number, sel: ConnectionSelection, timeoutMs = 20_000): Promise<ConnectionOutcome> {
    const r = this.cluster.requestConnections(holder, sel);
    const none = { selected: 0, moved: 0, rejected: 0, unresolved: 0, addressMoved: false };
    if (typeof r === 'string') return Promise.resolve({ requestId: 0, accepted: false, reason: r, ...none });
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waitingConnections.delete(r);
        resolve({ requestId: r, accepted: false, reason: 'no answer from the holder', ...none });
      }, timeoutMs);
      this.waitingConnections.set(r, (o) => {
        clearTimeout(t);
        resolve(o);
      });
    });
  }

  /** Shadow and mirror roles for the workers (service modes snoop and mirror). */
  private onRoles(roles: SnoopRoles): void {
    this.rolesNow = roles;
    const entries: SnoopEntry[] = [];
    const macOf = (node: number): Uint8Array => {
      const m = new Uint8Array(6);
      const rec = this.cluster.members.get(node)?.record;
      if (rec !== null && rec !== undefined && rec.macs.length > 0) parseMac(rec.macs[0]!, m, 0);
      return m;
    };
    for (const s of roles.shadow) entries.push({ ip: s.ip, role: SnoopRole.SHADOW, mac: macOf(s.holder), node: s.holder });
    for (const m of roles.mirrorTo) entries.push({ ip: m.ip, role: SnoopRole.MIRROR_TO, mac: macOf(m.backup), node: m.backup });
    for (const n of roles.failed ?? []) entries.push({ ip: 0, role: SnoopRole.PEER_FAILED, mac: new Uint8Array(6), node: n });
    writeSnoopTable(this.snoop!, entries);
    this.tablesChanged();
  }

  /** What this node shadows and mirrors (status). */
  get roles(): SnoopRoles {
    return this.rolesNow;
  }

  /** Arms the timer for the earliest thing due, unless it already fires by then. */
  private arm(): void {
    if (!this.running || this.ticking) return;
    const due = Math.min(this.cluster.nextDueMs(), this.announcer.nextDueMs());
    if (due >= this.armedFor) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.armedFor = due;
    this.timer = setTimeout(this.onTimer, Math.max(1, due - Date.now()));
    this.timer.unref();
  }

  private onHeld(held: readonly ClaimRecord[], gained: readonly ClaimRecord[]): void {
    this.heldNow = held;
    for (const ip of [...this.draining]) if (!held.some((c) => c.ip === ip)) this.draining.delete(ip);
    this.writeHeld();
    // Workers promote their shadows of a gained address before anything else (they were parked, maybe).
    this.tablesChanged();
    const now = Date.now();
    const heldIps = new Set(held.map((c) => c.ip));
    for (const ip of this.announcer.ips()) if (!heldIps.has(ip)) this.announcer.cancel(ip);
    if (this.arpPolicy === 'unicast') for (const c of gained) this.announcer.announce(c.ip, now);
    this.flushAnnouncements();
  }

  private flushAnnouncements(): void {
    if (this.announcer.active === 0) return;
    for (const f of this.announcer.due(Date.now())) this.sendFrame(f);
  }

  private transmit(payload: Uint8Array): void {
    const frame = new Uint8Array(14 + payload.length);
    writeEthernet(frame, 0, BROADCAST, 0, this.mac, 0, ETHERTYPE_CLUSTER);
    frame.set(payload, 14);
    this.sendFrame(frame);
  }

  /** Sends a whole frame from a control home slot, through poller 0. */
  private sendFrame(frame: Uint8Array): void {
    const io = this.io;
    io.refill();
    const slot = io.stack.pop();
    if (slot < 0) {
      this.txDropNoSlot++;
      return;
    }
    const base = io.pool.slotBase(slot) + io.pool.headroom;
    io.bytes.set(frame, base);
    io.send(0, slot, io.pool.headroom, Math.max(frame.length, 60), 0);
    io.flush();
  }

  declareFailed(node: number): void {
    try {
      const now = Date.now();
      this.noteHeard(now);
      this.cluster.declareFailed(node, now);
    } catch (err) {
      throw new BatonError('BATON_ERR_USAGE', (err as Error).message);
    }
    this.flushAnnouncements();
    this.arm();
  }

  rejoin(): void {
    this.cluster.rejoin(Date.now());
    this.arm();
  }

  /** Asks the holder of `ip` to hand it over to this node; resolves with its answer. */
  handover(ip: number, timeoutMs = 2000): Promise<HandoverOutcome> {
    const r = this.cluster.requestHandover(ip, Date.now());
    if (typeof r === 'string') return Promise.resolve({ requestId: 0, ip, accepted: false, reason: r });
    this.arm();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiting.delete(r);
        resolve({ requestId: r, ip, accepted: false, reason: 'no answer from the holder' });
      }, timeoutMs);
      this.waiting.set(r, (o) => {
        clearTimeout(t);
        resolve(o);
      });
    });
  }

  status(): ClusterLinkStatus {
    const st = this.cluster.status(Date.now());
    // Heartbeats the engine sent, and those it ended itself, count as the state machine's would.
    const counters = {
      ...st.counters,
      heartbeats_sent: st.counters.heartbeats_sent + this.beats.counter(BEAT_SENT),
      heartbeats_received: st.counters.heartbeats_received + this.beats.counter(BEAT_CONSUMED),
      rx_replayed: st.counters.rx_replayed + this.beats.counter(BEAT_DROPPED_REPLAY),
    };
    return {
      ...st, counters, arpPolicy: this.arpPolicy, clusterMac: clusterMulticastMac(this.cluster.settings.clusterId),
      arpAnnouncements: this.announcer.announcements, txDropNoSlot: this.txDropNoSlot,
      snoop: {
        shadow: this.rolesNow.shadow.map((x) => ({ ip: ipv4ToString(x.ip), holder: x.holder })),
        mirrorTo: this.rolesNow.mirrorTo.map((x) => ({ ip: ipv4ToString(x.ip), backup: x.backup })),
      },
      beats: {
        sent: this.beats.counter(BEAT_SENT), consumed: this.beats.counter(BEAT_CONSUMED),
        forwarded: this.beats.counter(BEAT_FORWARDED), droppedReplay: this.beats.counter(BEAT_DROPPED_REPLAY),
        excused: this.beats.counter(BEAT_EXCUSED),
      },
    };
  }
}

/** CLOCK_MONOTONIC in ms mod 2^32, the clock the poller stamps control frames with. */
function monotonicMs32(): number {
  return Math.floor(native.monotonicMs()) >>> 0;
}

/** How long ago (ms) a frame stamped `arrivalMono` arrived; 0 for a stamp that makes no sense. */
export function ageMs(arrivalMono: number): number {
  const age = (monotonicMs32() - arrivalMono) >>> 0;
  return age <= 60_000 ? age : 0;
}
