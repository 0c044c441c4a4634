// A Baton node: the control thread's owner of everything that runs.
//
//   start():  arena (rings, pool, counters) → control endpoint (ARP)
//             → piscina workers, one long-lived task per endpoint
//             → port (TAP / AF_PACKET) → one native poller per queue
//             → the cluster layer, when configured (cluster-link.ts)
//
// What the node answers for (ARP, ICMP, services) is the owned-address table
// (dataplane/owned.ts): the config's addresses for a standalone node; for a
// cluster member, whatever the cluster layer says it holds right now.
//   stop():   the reverse; every step also runs when start() fails half-way.
//
// A worker thread that dies is reported here (its piscina task rejects), is
// restarted on the same endpoint, and the event is counted.
import { Piscina } from 'piscina';
import { attachArena, createArena, planArena, type Arena } from '../shm/arena.js';
import { ringInFlight } from '../shm/ring.js';
import { native } from '../native/addon.js';
import { DpdkPort, MBUF_POOL } from '../native/dpdk.js';
import { EndpointIo, WAKE_INDEX } from '../dataplane/endpoint.js';
import type { EndpointCounterName, PollerCounterName } from '../shm/counters.js';
import { CONN_EXACT, CONN_ROW_APP_BYTES, CONN_ROW_WORDS, CONN_SHADOW, DEFAULT_TCP_CONFIG, Stat, TCP_STAT_NAMES } from '../dataplane/tcp/stack.js';
import { STATE_NAMES } from '../dataplane/tcp/record.js';
import { createDropTable, dropRow, dropTotals, Drop } from '../dataplane/drops.js';
import { createMailboxes, MAILBOX_WORDS, MB_CRASH, MB_REPORT, MB_REPORT_DONE, MB_STOP } from '../dataplane/mailbox.js';
import type { WorkerExit, WorkerTask } from '../dataplane/worker.js';
import { parseMac } from '../dataplane/net/ethernet.js';
import { FLOW_HASH_SEED } from '../dataplane/net/flow-hash.js';
import { ipv4ToString } from '../dataplane/net/ipv4.js';
import { ArpResponder, type ArpOwner } from './arp.js';
import { ClusterLink, type ClusterLinkStatus } from './cluster-link.js';
import { createOwnedTable, OwnedAddresses, writeOwned } from '../dataplane/owned.js';
import { SnoopRole, SnoopTable, createSnoopTable } from '../dataplane/snoop-table.js';
import { SAMPLE_MASK, SAMPLE_SHIFT } from '../dataplane/tcp/lazy-output.js';
import type { NodeConfig } from './config.js';
import { BatonError } from './errors.js';
import { ConnectionMover, handoverReport, type HandoverReport } from './handover.js';
import { createXferStats, xferTotals } from '../dataplane/handoff/command.js';
import type { ConnectionOutcome } from './wire/messages.js';

/** Large buffers (shm/layout.ts, about 66 KB each) per worker and per poller when the port offloads segmentation. */
const LARGE_BUFFERS_PER_WORKER = 64;
const LARGE_BUFFERS_PER_POLLER = 32;
/** How long a shadowing backup's TAP pollers spin before they park (shadowSpin). */
export const SHADOW_SPIN_US = 200;

/** What to move: connections of an address (or all), narrowed by the non-zero fields. */
export interface HandoverOptions {
  /** Target node id. */
  readonly to: number;
  /** The connections' local address; 0 or absent: every address. */
  readonly address?: number;
  readonly localPort?: number;
  readonly remoteIp?: number;
  readonly remotePort?: number;
  /** Also move the address's claim once its connections have moved (control/handover.ts). */
  readonly withAddress?: boolean;
}

export interface WorkerState {
  readonly endpoint: number;
  generation: number;
  restarts: number;
  lastError: string | null;
  running: boolean;
}

export interface SlotCensusSummary {
  readonly poolSlots: number;
  readonly free: number;
  readonly inRings: number;
  /** poolSlots − free − inRings: held in hand (transiently) or leaked. */
  readonly unaccounted: number;
}

export interface ConnectionRow {
  readonly local: string;
  readonly remote: string;
  readonly state: string;
  readonly worker: number;
  /** live: this node serves it; shadow: this node shadows it for a takeover. */
  readonly role: 'live' | 'shadow';
  /** The node serving it (0: unknown). */
  readonly holder: number;
  /** The node that would take it over (0: none). */
  readonly backup: number;
  /** Shadows: whether this node could resume it exactly right now. */
  readonly exact: boolean | null;
  readonly inFlight: number;
  /** Shadows: client bytes the holder acknowledged that this node has not seen. */
  readonly lagBytes: number;
  readonly idleMs: number;
  /** Send side: written and not yet sent (negative: acknowledged before written, a promoted shadow's skip), the peer's window, cwnd. */
  readonly unsent: number;
  readonly sendWindow: number;
  readonly cwnd: number;
  /** Application bytes waiting for send-buffer space. */
  readonly appPending: number;
  /** Shadows: output bytes the application will write that the client has acknowledged already. */
  readonly skip: number;
  /** Raw sequence numbers (as on the wire, for reading beside a capture). */
  readonly rcvNxt: number;
  readonly sndUna: number;
  readonly sndNxt: number;
  readonly sndEnd: number;
  /** Diagnostics: the record's flag bits (hex), the socket's (1 drain awaited, 2 ending, 4 paused), the application state's first bytes (hex). */
  readonly flags: string;
  readonly socket: number;
  readonly app: string;
  /** Output bytes this node added to the skip (the rest came with the record). */
  readonly skipAdded: number;
  /** Client bytes received and not yet read by the application (RCV_NXT − RCV_READ). */
  readonly unread: number;
}

export interface NodeStatus {
  readonly node: { readonly id: number; readonly name: string; readonly mac: string; readonly addresses: readonly string[] };
  /** shadowSpinUs: how long the pollers spin before parking while this node shadows a primary (0: the configured spinUs). */
  readonly port: { readonly driver: string; readonly queues: number; readonly shadowSpinUs: number };
  readonly uptimeMs: number;
  readonly workers: readonly WorkerState[];
  readonly pollers: readonly Record<PollerCounterName, number>[];
  readonly endpoints: readonly Record<EndpointCounterName, number>[];
  readonly drops: Record<string, number>;
  readonly arp: { readonly answered: number; readonly neighbours: Record<string, string> };
  readonly slots: SlotCensusSummary;
  /** TCP stack counters summed over workers (connections is a gauge). */
  readonly tcp: Record<string, number>;
  /** Connection transfers to and from other nodes, summed over workers (dataplane/handoff/command.ts); null without a cluster. */
  readonly transfers: Record<string, number> | null;
  /** Addresses answered for right now (a cluster moves them). */
  readonly answering: readonly string[];
  /** The same as (address, port range) units, `198.18.0.1:0-65535` (a cluster may split an address by ports). */
  readonly answeringUnits: readonly string[];
  readonly cluster: ClusterLinkStatus | null;
}

export class BatonNode {
  readonly config: NodeConfig;
  readonly arena: Arena;
  private readonly arenaBytes: Uint8Array;
  private readonly drops: SharedArrayBuffer;
  private readonly tcpStats: SharedArrayBuffer;
  private readonly mailboxes: Int32Array;
  private readonly control: EndpointIo;
  private readonly arp: ArpResponder;
  private readonly owned: SharedArrayBuffer;
  /** Shadow and mirror roles (dataplane/snoop-table.ts), written by the cluster layer. */
  private readonly snoop: SharedArrayBuffer;
  /** Per worker: its connection report buffer (dataplane/worker.ts), and the last request number. */
  private readonly reports: Int32Array[] = [];
  private reportSeq = 0;
  private readonly ownedView: OwnedAddresses;
  /** Every cluster member's addresses (written by the cluster link; handoff targets check it). */
  private readonly servable: SharedArrayBuffer;
  private readonly xferStats: SharedArrayBuffer;
  /** Moves live connections to other nodes; null for a standalone node. */
  private readonly mover: ConnectionMover | null;
  /** The cluster layer; null for a standalone node. */
  readonly cluster: ClusterLink | null;
  private readonly workers: WorkerState[] = [];
  private readonly tasks: Promise<void>[] = [];
  private pool: Piscina | null = null;
  private portId = -1;
  /**
   * The sources the port cuts now (snoopTrim), as a sorted comma list; null
   * before the first call, which always sets the filter: a persistent TAP
   * keeps the filter a previous process attached, and re-attaches it to new
   * queues.
   */
  private trimmed: string | null = null;
  /** The pollers' spin while this node shadows a primary (shadowSpin), µs; 0 when it shadows none. */
  private shadowSpinUs = 0;
  private dpdk: DpdkPort | null = null;
  private readonly pollers: number[] = [];
  private housekeeping: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly startedMs = Date.now();

  private constructor(config: NodeConfig) {
    this.config = config;
    const plan = planArena({
      workers: config.workers,
      pollers: config.port.queues,
      rxRingCapacity: config.rings.rx,
      txRingCapacity: config.rings.tx,
      poolSlots: config.pool.slots,
      // Segmentation offload (port.offload): large buffers for the stack's large segments and the device's.
      workerLarge: config.port.offload ? LARGE_BUFFERS_PER_WORKER : 0,
      pollerLarge: config.port.offload ? LARGE_BUFFERS_PER_POLLER : 0,
    });
    this.arena = attachArena(createArena(plan));
    this.arenaBytes = new Uint8Array(this.arena.sab);
    this.drops = createDropTable(plan.endpoints);
    this.tcpStats = new SharedArrayBuffer(plan.endpoints * Stat.COUNT * 8);
    this.mailboxes = new Int32Array(createMailboxes(plan.endpoints));
    this.control = new EndpointIo(this.arena, plan.controlEndpoint, native);
    this.control.claimHomeSlots();
    const mac = new Uint8Array(6);
    parseMac(config.port.mac, mac, 0);
    this.owned = createOwnedTable();
    this.ownedView = new OwnedAddresses(this.owned);
    // A standalone node answers for its addresses from the start; a cluster member only once it holds them.
    if (config.cluster === null) writeOwned(this.owned, config.addresses.map((a) => ({ ip: a.ip, lo: 0, hi: 65535 })));
    this.snoop = createSnoopTable();
    const rows = Math.min(config.tcp.maxConnections ?? DEFAULT_TCP_CONFIG.maxConnections, 1 << 16);
    for (let e = 0; e < config.workers; e++) this.reports.push(new Int32Array(new SharedArrayBuffer((1 + rows * CONN_ROW_WORDS) * 4)));
    this.servable = createOwnedTable();
    this.xferStats = createXferStats(plan.endpoints);
    this.cluster = config.cluster === null ? null : new ClusterLink(config, this.control, this.owned, mac, this.snoop, () => {
      this.wakeAll();
      const shadowed = this.shadowedIps();
      this.snoopTrim(shadowed);
      this.shadowSpin(shadowed);
    }, this.servable);
    this.mover = this.cluster === null ? null : new ConnectionMover(this.arena, this.mailboxes, config.workers, this.xferStats);
    if (this.cluster !== null) {
      this.cluster.onConnectionRequest = (from, requestId, sel) => this.answerConnectionRequest(from, requestId, sel);
      // Failback and other grants move the address's live connections first (when there are services to move).
      if (config.services.some((sv) => sv.app !== 'udp-reflect')) this.cluster.moveConnections = (ip, to) => this.handoverConnections({ to, address: ip });
    }
    const view = this.ownedView;
    const cl = this.cluster;
    const owner: ArpOwner = {
      arpMacFor: (ip) => (!view.holds(ip) ? null : cl !== null && cl.arpPolicy === 'multicast' ? cl.clusterMac : mac),
    };
    this.arp = new ArpResponder(this.control, mac, owner, dropRow(this.drops, plan.controlEndpoint));
    if (cl !== null) this.arp.clusterSink = (payload, arrivalMono) => cl.receive(payload, arrivalMono);
  }

  /** Starts a node; on failure everything already started is stopped before the error propagates. */
  static async start(config: NodeConfig): Promise<BatonNode> {
    const node = new BatonNode(config);
    try {
      node.startWorkers();
      node.startPort();
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  private startWorkers(): void {
    const n = this.config.workers;
    this.pool = new Piscina({
      filename: new URL('../dataplane/worker.js', import.meta.url).href,
      minThreads: n,
      maxThreads: n,
      idleTimeout: Number.POSITIVE_INFINITY,
      // Each task occupies its thread for the node's lifetime; piscina's own
      // Atomics-based task wait would never run anyway.
      atomics: 'disabled',
      concurrentTasksPerWorker: 1,
    });
    for (let e = 0; e < n; e++) {
      this.workers.push({ endpoint: e, generation: 0, restarts: 0, lastError: null, running: false });
      this.tasks.push(this.superviseWorker(e));
    }
  }

  /** Runs endpoint e's task, restarting it whenever its thread dies, until the node stops. */
  private async superviseWorker(e: number): Promise<void> {
    const w = this.workers[e]!;
    const pool = this.pool!;
    while (!this.stopping) {
      const task: WorkerTask = {
        arena: this.arena.sab,
        drops: this.drops,
        mailboxes: this.mailboxes.buffer as SharedArrayBuffer,
        endpoint: e,
        addresses: this.config.addresses.map((a) => a.ip),
        owned: this.owned,
        snoop: this.snoop,
        generation: w.generation,
        spinMs: this.config.port.spinUs / 1000,
        udpReflect: this.config.services.filter((sv) => sv.app === 'udp-reflect').flatMap((sv) => [...sv.ports]),
        flows: this.config.flowsPerWorker,
        faults: this.config.faults,
        tcpServices: this.config.services.flatMap((sv) => (sv.app === 'udp-reflect' ? [] : [{
          app: sv.app, options: sv.options, address: sv.address ?? 0, lo: sv.ports[0], hi: sv.ports[1], mode: sv.mode,
        }])),
        tcp: this.config.tcp,
        mac: this.config.port.mac,
        tcpStats: this.tcpStats,
        handoff: this.config.cluster === null ? null : {
          key: this.config.cluster.key, cluster: this.config.cluster.id, node: this.config.node.id, servable: this.servable, stats: this.xferStats,
        },
        report: this.reports[e]!.buffer as SharedArrayBuffer,
        offload: this.config.port.offload,
      };
      w.running = true;
      try {
        (await pool.run(task)) as WorkerExit;
        w.running = false;
        return;
      } catch (err) {
        w.running = false;
        if (this.stopping) return;
        w.restarts++;
        w.generation++;
        w.lastError = err instanceof Error ? err.message : String(err);
        // The frames the dead thread held in hand are gone: counted, not hidden.
        dropRow(this.drops, e)[Drop.LOST_IN_CRASH] += 1;
        process.stderr.write(`baton: worker ${e} died (${w.lastError}); restarting (restart ${w.restarts})\n`);
      }
    }
  }

  private startPort(): void {
    const { port } = this.config;
    try {
      if (port.kind === 'dpdk') {
        // Set-up through ffi-rs; the addon's burst loop then takes the started port over.
        this.dpdk = DpdkPort.open(port.target, port.queues);
        this.portId = native.openPort('dpdk', String(this.dpdk.portId), {
          queues: port.queues, promiscuous: port.promiscuous, mbufPool: MBUF_POOL, rxInterrupts: this.dpdk.rxInterrupts,
        });
      } else {
        this.portId = native.openPort(port.kind, port.target, { queues: port.queues, promiscuous: port.promiscuous, offload: port.offload });
      }
    } catch (err) {
      if (err instanceof BatonError) throw err;
      throw new BatonError('BATON_ERR_PORT', `port ${port.kind}:${port.target}: ${(err as Error).message}`, { cause: err });
    }
    const shadowed = this.shadowedIps();
    this.snoopTrim(shadowed);
    // The control endpoint starts parked: the poller calls back when ARP arrives.
    this.control.prepareToPark();
    for (let q = 0; q < port.queues; q++) {
      native.startPoller(
        this.arenaBytes,
        this.portId,
        { poller: q, queue: q, port: 0, mac: port.mac, promiscuous: port.promiscuous, seed: FLOW_HASH_SEED, spinNs: port.spinUs * 1000 },
        () => this.onControlFrames(),
      );
      this.pollers.push(q);
    }
    this.shadowSpin(shadowed);
    // Refunded control slots and any frame that raced the park flag are picked up here too.
    this.housekeeping = setInterval(() => this.onControlFrames(), 100);
    this.housekeeping.unref();
    // The cluster timer reads the control rings before each tick: heartbeats do not wake this thread.
    this.cluster?.start(() => this.onControlFrames());
  }

  private onControlFrames(): void {
    if (this.stopping) return;
    this.control.unpark();
    // Drain, then park and re-check: a frame published between the two is never stranded.
    for (;;) {
      this.arp.drain();
      this.control.prepareToPark();
      if (!this.control.rxPending()) break;
      this.control.unpark();
    }
    // The heartbeat engine calls this thread the same way when a peer went silent.
    this.cluster?.serviceEvents();
  }

  /** Fault injection for tests and `baton debug`: the worker thread exits as if it crashed. */
  crashWorker(e: number): void {
    if (!(e >= 0 && e < this.workers.length)) throw new BatonError('BATON_ERR_USAGE', `no worker ${e}`);
    Atomics.store(this.mailboxes, e * MAILBOX_WORDS + MB_CRASH, 1);
    this.wake(e);
  }

  /**
   * Every TCP connection of this node, live and shadow (`baton status
   * --connections`): each worker writes its list when asked through its
   * mailbox. A live connection names the node that would take it over (its
   * backup); a shadow names the node it shadows (the holder), whether it is
   * exact right now (it could be resumed), and its lag.
   */
  async connections(timeoutMs = 1000): Promise<ConnectionRow[]> {
    const seq = ++this.reportSeq;
    const n = this.workers.length;
    for (let e = 0; e < n; e++) {
      Atomics.store(this.mailboxes, e * MAILBOX_WORDS + MB_REPORT, seq);
      this.wake(e);
    }
    const deadline = Date.now() + timeoutMs;
    const done = (e: number): boolean => Atomics.load(this.mailboxes, e * MAILBOX_WORDS + MB_REPORT_DONE) === seq;
    for (;;) {
      let all = true;
      for (let e = 0; e < n; e++) if (!done(e)) all = false;
      if (all) break;
      if (Date.now() > deadline) throw new BatonError('BATON_ERR_NATIVE', `a worker did not report its connections within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
    const roles = this.cluster?.roles ?? { shadow: [], mirrorTo: [] };
    const self = this.config.node.id;
    const out: ConnectionRow[] = [];
    for (let e = 0; e < n; e++) {
      const r = this.reports[e]!;
      for (let i = 0; i < r[0]!; i++) {
        const o = 1 + i * CONN_ROW_WORDS;
        const local = r[o]! >>> 0;
        const flags = r[o + 3]!;
        const shadow = (flags & CONN_SHADOW) !== 0;
        out.push({
          local: `${ipv4ToString(local)}:${r[o + 2]! >>> 16}`, remote: `${ipv4ToString(r[o + 1]! >>> 0)}:${r[o + 2]! & 0xffff}`,
          state: STATE_NAMES[flags & 0xff] ?? 'UNKNOWN', worker: e,
          role: shadow ? 'shadow' : 'live',
          holder: shadow ? roles.shadow.find((x) => x.ip === local)?.holder ?? 0 : self,
          backup: shadow ? self : roles.mirrorTo.find((x) => x.ip === local)?.backup ?? 0,
          exact: shadow ? (flags & CONN_EXACT) !== 0 : null,
          inFlight: r[o + 4]!, lagBytes: r[o + 5]!, idleMs: r[o + 6]!,
          unsent: r[o + 7]!, sendWindow: r[o + 8]! >>> 0, cwnd: r[o + 9]! >>> 0, appPending: r[o + 10]!, skip: r[o + 11]! >>> 0,
          rcvNxt: r[o + 12]! >>> 0, sndUna: r[o + 13]! >>> 0, sndNxt: r[o + 14]! >>> 0, sndEnd: r[o + 15]! >>> 0,
          flags: (r[o + 16]! >>> 0).toString(16), socket: r[o + 17]!,
          app: Buffer.from(r.buffer, r.byteOffset + (o + 18) * 4, CONN_ROW_APP_BYTES).toString('hex'), skipAdded: r[o + 26]!, unread: (r[o + 12]! - r[o + 27]!) >>> 0,
        });
      }
    }
    return out;
  }

  /**
   * A snoop-mode backup on a TAP: the port cuts the output of the primaries
   * it shadows after its headers, but in the segments the shadow samples for
   * its compare (native snoop_trim): the backup copied every byte of it out
   * of the kernel only to skip it (its own output is kept by reference,
   * dataplane/tcp/lazy-output.ts). BATON_SNOOP_TRIM=0 turns it off.
   */
  private snoopTrim(shadowed: readonly number[]): void {
    if (this.portId < 0 || this.config.port.kind !== 'tap') return;
    const on = process.env['BATON_SNOOP_TRIM'] !== '0' && this.config.services.some((sv) => sv.mode === 'snoop');
    if (!on && this.trimmed === '') return;
    const ips = on ? shadowed : [];
    const key = ips.join(',');
    if (key === this.trimmed) return;
    this.trimmed = native.portSnoopTrim(this.portId, Uint32Array.from(ips), SAMPLE_SHIFT, SAMPLE_MASK) ? key : null;
  }

  /**
   * A backup that shadows a primary (service modes snoop and mirror) on a
   * TAP: its pollers spin SHADOW_SPIN_US before parking, as a DPDK port's
   * do. Parked, it is woken for every snooped or mirrored frame, and a TAP's
   * wake is the sender's work: in the lab the kernel bridge's, on the
   * primary's core, which cost the primary's download 10 % of its goodput
   * (bench/failover.bench.ts, 0.87-0.88 with a parking backup, 0.95-0.97
   * with a spinning one). Idle, the pollers still park.
   */
  private shadowSpin(shadowed: readonly number[]): void {
    if (this.pollers.length === 0 || this.config.port.kind !== 'tap') return;
    const us = shadowed.length > 0 && this.config.services.some((sv) => sv.mode === 'snoop' || sv.mode === 'mirror') ? SHADOW_SPIN_US : 0;
    if (us === this.shadowSpinUs) return;
    for (const p of this.pollers) native.setPollerShadowSpin(p, us * 1000);
    this.shadowSpinUs = us;
  }

  /** The addresses this node shadows now (its snoop table's SHADOW roles), sorted. */
  private shadowedIps(): number[] {
    const t = new SnoopTable(this.snoop);
    t.refresh();
    const ips: number[] = [];
    for (let i = 0; i < t.count; i++) if (t.roles[i] === SnoopRole.SHADOW) ips.push(t.ips[i]! >>> 0);
    return ips.sort((a, b) => a - b);
  }

  private wakeAll(): void {
    for (let e = 0; e < this.workers.length; e++) this.wake(e);
  }

  private wake(e: number): void {
    const ctl = EndpointIo.bumpWake(this.arena, e);
    native.futexWake(ctl, WAKE_INDEX, 1);
  }

  status(): NodeStatus {
    const plan = this.arena.plan;
    const pollers = [];
    let free = 0;
    for (let p = 0; p < plan.pollers; p++) {
      const s = this.arena.pollerCounters(p).snapshot();
      pollers.push(s);
      free += s.slots_free;
    }
    const endpoints = [];
    for (let e = 0; e < plan.endpoints; e++) {
      const s = this.arena.endpointCounters(e).snapshot();
      endpoints.push(s);
      free += e === plan.controlEndpoint ? this.control.stack.size : s.slots_free;
    }
    let inRings = 0;
    for (const r of plan.rings) inRings += ringInFlight(this.arena.sab, r.offset);
    const neighbours: Record<string, string> = {};
    for (const [ip, n] of this.arp.cache) neighbours[ipv4ToString(ip)] = n.mac;
    return {
      node: { id: this.config.node.id, name: this.config.node.name, mac: this.config.port.mac, addresses: this.config.addresses.map((a) => a.text) },
      port: { driver: `${this.config.port.kind}:${this.config.port.target}`, queues: this.config.port.queues, shadowSpinUs: this.shadowSpinUs },
      uptimeMs: Date.now() - this.startedMs,
      workers: this.workers.map((w) => ({ ...w })),
      pollers,
      endpoints,
      drops: dropTotals(this.drops, plan.endpoints),
      arp: { answered: this.arp.requestsAnswered, neighbours },
      // A large buffer (port.offload) circulates as one unit: slotUnits counts it once.
      slots: { poolSlots: plan.slotUnits, free, inRings, unaccounted: plan.slotUnits - free - inRings },
      tcp: this.tcpTotals(),
      transfers: this.mover === null ? null : xferTotals(this.xferStats, this.workers.length),
      answering: [...new Set(this.ownedView.list().map((u) => ipv4ToString(u.ip)))],
      answeringUnits: this.ownedView.list().map((u) => `${ipv4ToString(u.ip)}:${u.lo}-${u.hi}`),
      cluster: this.cluster?.status() ?? null,
    };
  }

  private tcpTotals(): Record<string, number> {
    const all = new Float64Array(this.tcpStats);
    const out: Record<string, number> = {};
    TCP_STAT_NAMES.forEach((name, k) => {
      let sum = 0;
      for (let e = 0; e < this.workers.length; e++) sum += all[e * Stat.COUNT + k]!;
      out[name] = sum;
    });
    return out;
  }

  /**
   * Moves live connections to node `to` (seed 004 handoff, seed 000 claim 10,
   * failback by records), and with `withAddress` then the address: see
   * control/handover.ts for the sequence. Resolves with what became of them.
   */
  handoverConnections(o: HandoverOptions): Promise<HandoverReport> {
    const cl = this.cluster;
    const mover = this.mover;
    if (cl === null || mover === null) return Promise.reject(new BatonError('BATON_ERR_USAGE', 'moving connections needs a cluster section in the config'));
    if (o.to === this.config.node.id) return Promise.reject(new BatonError('BATON_ERR_USAGE', `node ${o.to} is this node`));
    const member = cl.cluster.members.get(o.to);
    if (member === undefined) return Promise.reject(new BatonError('BATON_ERR_USAGE', `node ${o.to} is not a peer of this node`));
    const macText = member.record?.macs[0];
    if (!cl.cluster.members.isAlive(o.to) || macText === undefined) return Promise.reject(new BatonError('BATON_ERR_USAGE', `node ${o.to} is not alive (or its ownership record is not known yet)`));
    const mac = new Uint8Array(6);
    parseMac(macText, mac, 0);
    const address = o.address ?? 0;
    const sel = { localIp: address, localPort: o.localPort ?? 0, remoteIp: o.remoteIp ?? 0, remotePort: o.remotePort ?? 0 };
    return mover.serialize(async () => {
      const t0 = performance.now();
      const sweeps = [await mover.sweep(o.to, mac, sel)];
      let moved: boolean | null = null;
      let why = '';
      if (o.withAddress === true) {
        const first = sweeps[0]!;
        if (address === 0) why = 'no address given';
        else if ((first['rejected'] ?? 0) + (first['unresolved'] ?? 0) > 0) why = 'some connections were refused or are unresolved: the address stays';
        else why = cl.grantAddress(address, o.to);
        moved = why === '';
        // Connections opened here between the first sweep and the grant.
        if (moved) sweeps.push(await mover.sweep(o.to, mac, sel));
      }
      return handoverReport(o.to, address === 0 ? null : address, sweeps, moved, why, performance.now() - t0);
    });
  }

  /** Asks node `from` (which holds them) to move connections of `address` here (seed 000 claim 10). */
  requestConnections(from: number, o: Omit<HandoverOptions, 'to' | 'address'> & { address: number }): Promise<ConnectionOutcome> {
    const cl = this.cluster;
    if (cl === null) return Promise.reject(new BatonError('BATON_ERR_USAGE', 'moving connections needs a cluster section in the config'));
    return cl.requestConnections(from, {
      ip: o.address, localPort: o.localPort ?? 0, remoteIp: o.remoteIp ?? 0, remotePort: o.remotePort ?? 0, withAddress: o.withAddress === true,
    });
  }

  /** A peer's request for connections this node holds: move them, then answer. */
  private answerConnectionRequest(from: number, requestId: number, sel: { ip: number; localPort: number; remoteIp: number; remotePort: number; withAddress: boolean }): void {
    const cl = this.cluster!;
    this.handoverConnections({ to: from, address: sel.ip, localPort: sel.localPort, remoteIp: sel.remoteIp, remotePort: sel.remotePort, withAddress: sel.withAddress }).then(
      (r) => {
        const ok = r.rejected === 0 && r.unresolved === 0 && (!sel.withAddress || r.addressMoved === true);
        const reason = ok ? 'accepted' : r.addressReason !== '' ? r.addressReason : `${r.rejected} refused (${Object.entries(r.reasons).map(([k, v]) => `${k} ${v}`).join(', ')}), ${r.unresolved} unresolved`;
        cl.cluster.replyConnections(from, {
          requestId, accepted: ok, reason, selected: r.selected, moved: r.accepted, rejected: r.rejected, unresolved: r.unresolved, addressMoved: r.addressMoved === true,
        });
      },
      (err: unknown) => cl.cluster.replyConnections(from, {
        requestId, accepted: false, reason: (err as Error).message, selected: 0, moved: 0, rejected: 0, unresolved: 0, addressMoved: false,
      }),
    );
  }

  /** Stops pollers, workers and the port. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.cluster?.stop();
    if (this.housekeeping !== null) clearInterval(this.housekeeping);
    for (const p of this.pollers) native.stopPoller(p);
    this.pollers.length = 0;
    for (let e = 0; e < this.workers.length; e++) {
      Atomics.store(this.mailboxes, e * MAILBOX_WORDS + MB_STOP, 1);
      this.wake(e);
    }
    await Promise.allSettled(this.tasks);
    if (this.pool !== null) await this.pool.destroy();
    this.pool = null;
    if (this.portId >= 0) native.closePort(this.portId);
    this.portId = -1;
    this.dpdk?.stop();
    this.dpdk = null;
  }
}
