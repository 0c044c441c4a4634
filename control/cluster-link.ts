// The cluster layer on a running node: the Cluster state machine (cluster.ts)
// wired to the control endpoint (frames in from the ARP/control drain, frames
// out through the control endpoint's tx ring), a timer at half the heartbeat
// interval, the owned-address table the workers and the ARP responder read,
// and gratuitous ARP after a takeover (arp-takeover.ts).
import type { EndpointIo } from '../dataplane/endpoint.js';
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
  /** Grants waiting for their connections to move, by address: 'moving', or 'moved' (grant at the next evaluation). */
  private readonly grantMoves = new Map<number, { to: number; state: 'moving' | 'moved'; at: number }>();

  private readonly snoop: SharedArrayBuffer | null;
  /** Called after the tables the workers read (owned, snoop) changed: parked workers must look now. */
  private readonly tablesChanged: () => void;
  private rolesNow: SnoopRoles = { shadow: [], mirrorTo: [] };

  constructor(config: NodeConfig, io: EndpointIo, owned: SharedArrayBuffer, mac: Uint8Array,
    snoop: SharedArrayBuffer | null = null, tablesChanged: () => void = () => {}, servable: SharedArrayBuffer | null = null) {
    const c = config.cluster!;
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
    }, Date.now());
  }

  start(): void {
    this.cluster.start(Date.now());
    this.writeServable();
    const period = Math.max(1, Math.floor(this.cluster.settings.heartbeatMs / 2));
    this.timer = setInterval(() => this.tick(), period);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** A cluster-control payload from the control endpoint's drain. */
  receive(payload: Uint8Array): void {
    this.cluster.receive(payload, Date.now());
    this.flushAnnouncements();
  }

  private tick(): void {
    this.cluster.tick(Date.now());
    this.flushAnnouncements();
    this.writeServable();
  }

  private deferGrant(claim: ClaimRecord): boolean {
    const move = this.moveConnections;
    if (move === null) return false;
    const g = this.grantMoves.get(claim.ip);
    // A move that finished long ago belongs to another episode: move again.
    if (g !== undefined && g.to === claim.holder && (g.state === 'moving' || Date.now() - g.at < 2000)) {
      if (g.state === 'moving') return true;
      this.grantMoves.delete(claim.ip);
      // Granted now; connections its clients opened here meanwhile follow it.
      setImmediate(() => void move(claim.ip, claim.holder).catch(() => undefined));
      return false;
    }
    this.grantMoves.set(claim.ip, { to: claim.holder, state: 'moving', at: Date.now() });
    const done = (): void => {
      const cur = this.grantMoves.get(claim.ip);
      if (cur !== undefined && cur.to === claim.holder) {
        cur.state = 'moved';
        cur.at = Date.now();
      }
      this.tick();
    };
    move(claim.ip, claim.holder).then(done, done);
    return true;
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
    for (const s of roles.shadow) entries.push({ ip: s.ip, role: SnoopRole.SHADOW, mac: macOf(s.holder) });
    for (const m of roles.mirrorTo) entries.push({ ip: m.ip, role: SnoopRole.MIRROR_TO, mac: macOf(m.backup) });
    writeSnoopTable(this.snoop!, entries);
    this.tablesChanged();
  }

  /** What this node shadows and mirrors (status). */
  get roles(): SnoopRoles {
    return this.rolesNow;
  }

  private onHeld(held: readonly ClaimRecord[], gained: readonly ClaimRecord[]): void {
    writeOwned(this.owned, held);
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
      this.cluster.declareFailed(node, Date.now());
    } catch (err) {
      throw new BatonError('BATON_ERR_USAGE', (err as Error).message);
    }
    this.flushAnnouncements();
  }

  rejoin(): void {
    this.cluster.rejoin(Date.now());
  }

  /** Asks the holder of `ip` to hand it over to this node; resolves with its answer. */
  handover(ip: number, timeoutMs = 2000): Promise<HandoverOutcome> {
    const r = this.cluster.requestHandover(ip, Date.now());
    if (typeof r === 'string') return Promise.resolve({ requestId: 0, ip, accepted: false, reason: r });
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
    return {
      ...this.cluster.status(Date.now()), arpPolicy: this.arpPolicy, clusterMac: clusterMulticastMac(this.cluster.settings.clusterId),
      arpAnnouncements: this.announcer.announcements, txDropNoSlot: this.txDropNoSlot,
      snoop: {
        shadow: this.rolesNow.shadow.map((x) => ({ ip: ipv4ToString(x.ip), holder: x.holder })),
        mirrorTo: this.rolesNow.mirrorTo.map((x) => ({ ip: ipv4ToString(x.ip), backup: x.backup })),
      },
    };
  }
}
