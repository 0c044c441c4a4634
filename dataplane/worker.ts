// A data-plane worker: one long-lived piscina task per endpoint that runs to
// completion in bursts — dequeue up to a burst from each poller's rx ring,
// handle every frame, queue replies, wake pollers, then park when idle.
// It returns only when the control thread asks it to stop.
// The module binding, not the global: a global getter costs a LoadGlobalIC on every idle pass.
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { attachArena } from '../shm/arena.js';
import {
  DESC_DATA, DESC_META, DESC_SLOT, DESC_OFFSET_MASK, DESC_LEN_MASK, DESC_FLAGS_SHIFT, DESC_FLAG_CSUM_OK, DESC_FLAG_CSUM_PARTIAL,
  DESC_FLAG_GSO, DESC_FLAG_SNOOP,
} from '../shm/layout.js';
import { EndpointCounter } from '../shm/counters.js';
import { native } from '../native/addon.js';
import { EndpointIo, WAKE_INDEX } from './endpoint.js';
import { SequenceSecrets } from './tcp/isn.js';
import { ACCEPT_TRIMMED, FrameMeta, parseFrame, VERIFY_ALL, VERIFY_IP_CSUM } from './net/frame.js';
import { ICMP_ECHO_REQUEST, icmpEchoReplyInPlace } from './net/icmp.js';
import { IP_PROTO_ICMP, IP_PROTO_UDP, swapIpv4Addresses } from './net/ipv4.js';
import { swapEthAddresses } from './net/ethernet.js';
import { FlowTable } from './flow-table.js';
import { Reason } from './net/reason.js';
import { Drop, dropRow } from './drops.js';
import { Stat, TcpStack, type TcpConfig } from './tcp/stack.js';
import { EndpointTcpLink } from './tcp/endpoint-link.js';
import { appFactory, type TcpAppName } from './app/registry.js';
import type { AppOptions } from './app/api.js';
import { parseMac } from './net/ethernet.js';
import { SLOT_HEADROOM } from '../shm/layout.js';
import { IP_PROTO_TCP } from './net/ipv4.js';
import { MAILBOX_WORDS, MB_ALIVE, MB_CRASH, MB_REPORT, MB_REPORT_DONE, MB_STOP } from './mailbox.js';
import { FAULT_DIR_RX, FAULT_DIR_TX, FaultInjector, deriveFaultSeed, type FaultConfig } from './fault.js';
import { OwnedAddresses } from './owned.js';
import { Handoff, ROUTE_HELD, ROUTE_LOCAL } from './handoff/handoff.js';
import { ETHERTYPE_HANDOFF } from './handoff/wire.js';
import { MB_XFER_DONE, MB_XFER_SEQ, readXferCommand, xferRow } from './handoff/command.js';
import { SnoopRole, SnoopTable } from './snoop-table.js';
import { readU16, readU32 } from './net/byte-order.js';
import { TCP_FLAG_ACK, TCP_FLAG_SYN } from './net/tcp.js';
import { MIRROR_BATCH_ETHERTYPE, MIRROR_ETHERTYPE, Mirror, REPAIR_ETHERTYPE, Repair } from './mirror.js';
import { sampled } from './tcp/lazy-output.js';
import { macHi, macLo, writeMac } from './tcp/record.js';
import type { EndpointIo as Io } from './endpoint.js';

export interface WorkerTask {
  readonly arena: SharedArrayBuffer;
  readonly drops: SharedArrayBuffer;
  readonly mailboxes: SharedArrayBuffer;
  readonly endpoint: number;
  /** The node's IPv4 addresses (u32). */
  readonly addresses: readonly number[];
  /** The addresses this node answers for right now (dataplane/owned.ts; the cluster moves them). */
  readonly owned: SharedArrayBuffer;
  /** Addresses this node shadows or mirrors (dataplane/snoop-table.ts; the cluster writes it). */
  readonly snoop: SharedArrayBuffer;
  /** 0 on first start; n after n restarts of this endpoint. */
  readonly generation: number;
  /** Idle spin before parking, ms (config port.spinUs): 0 parks as soon as a pass finds nothing. */
  readonly spinMs: number;
  /** UDP destination port ranges served by the udp-reflect application: [lo, hi, lo, hi, …]. */
  readonly udpReflect: readonly number[];
  readonly flows: number;
  /** Injected impairments (config `faults`); null: none. */
  readonly faults: FaultConfig | null;
  /** TCP services: application by name, its options, local address (0 = all) and ports. */
  readonly tcpServices: readonly WorkerTcpService[];
  readonly tcp: Readonly<Partial<TcpConfig>>;
  /** The node's MAC (frames the TCP stack builds come from it). */
  readonly mac: string;
  /** TCP counters: a row of Stat.COUNT float64 per endpoint. */
  readonly tcpStats: SharedArrayBuffer;
  /** Moving connections between nodes (dataplane/handoff/); null without a cluster key. */
  readonly handoff: WorkerHandoff | null;
  /** Where this endpoint writes its connection report: [count, rows of CONN_ROW_WORDS…] (Int32). */
  readonly report: SharedArrayBuffer;
  /**
   * The port's device finishes checksums and cuts large TCP segments (TAP
   * opened with port.offload): the TCP stack sends large segments, and frames
   * arrive large or checksum-partial. Absent: off.
   */
  readonly offload?: boolean;
}

export interface WorkerHandoff {
  readonly key: Uint8Array;
  readonly cluster: number;
  readonly node: number;
  /** Addresses of every cluster member (dataplane/owned.ts layout): connections of these may be moved in. */
  readonly servable: SharedArrayBuffer;
  /** Transfer counters (dataplane/handoff/command.ts), a row per endpoint. */
  readonly stats: SharedArrayBuffer;
}

export interface WorkerTcpService {
  readonly app: TcpAppName;
  readonly options: AppOptions;
  readonly address: number;
  readonly lo: number;
  readonly hi: number;
  /** Service mode (control/config.ts): snoop and mirror services keep shadows on addresses this node backs up. */
  readonly mode: 'plain' | 'snoop' | 'mirror';
}

export interface WorkerExit {
  readonly endpoint: number;
  readonly reason: 'stopped';
}

/** The TCP stack's link with the mirror tap: every frame a mirror-mode service sends is copied to the backup first. */
class MirroringTcpLink extends EndpointTcpLink {
  constructor(io: Io, headroom: number, private readonly mirror: Mirror, offload: boolean) {
    super(io, headroom, offload);
  }

  override transmit(slot: number, len: number, poller: number, gsoSize = 0): boolean {
    const start = this.frameStart(slot);
    const b = this.bytes;
    // Source address and port of the IPv4/TCP frame the stack built (no options in its IP header); sent as the original is.
    const flags = gsoSize > 0 ? DESC_FLAG_CSUM_PARTIAL | DESC_FLAG_GSO : this.csumOffload ? DESC_FLAG_CSUM_PARTIAL : 0;
    // Its payload goes only in sampled segments (the shadow compares those; lazy-output.ts): the rest is headers only.
    const headers = 34 + (b[start + 46]! >>> 4) * 4;
    const keep = len > headers && !sampled(readU32(b, start + 38)) ? headers : len;
    this.mirror.copy(poller, start, len, readU32(b, start + 26), readU16(b, start + 34), flags, gsoSize, keep);
    // Not sent (tx ring full): the backup saw it go, as it sees a frame lost on the wire; the retransmission follows.
    return super.transmit(slot, len, poller, gsoSize);
  }
}

/** Segment size a received large TCP frame is cut to on the wire (its sender's is not carried): a 1500-byte MTU's. */
function wireMss(b: Uint8Array, m: FrameMeta): number {
  return 1500 - (m.l4Off - m.l3Off) - (b[m.l4Off + 12]! >>> 4) * 4;
}

const BURST = 64;
/** Longest park; bounds how late a missed wake-up could be noticed (never relied on). */
const PARK_MS = 1000;

class Worker {
  private readonly io: EndpointIo;
  /** Idle spin before parking (ms, config port.spinUs; the poller spins as long): absorbs back-to-back bursts where a pass is cheap. */
  private readonly spinMs: number;
  private readonly meta = new FrameMeta();
  private readonly drops: Float64Array;
  private readonly owned: OwnedAddresses;
  private readonly snoop: SnoopTable;
  /** Service mode mirror: copies frames of mirror services to the backup; null when no service mirrors. */
  private readonly mirror: Mirror | null = null;
  /** Gap repair between shadows and their primaries (any snoop or mirror service). */
  private readonly repair: Repair | null = null;
  private readonly askRepair = (li: number, lp: number, ri: number, rp: number, from: number, to: number, kind: number): void =>
    this.repair!.ask(li, lp, ri, rp, from, to, kind);
  private readonly pushBytes = (li: number, lp: number, ri: number, rp: number, from: number, to: number): void => {
    this.repair!.push(this.tcp!, li, lp, ri, rp, from, to);
  };
  /** Whether any service keeps shadows (else the snoop table is never read). */
  private readonly snooping: boolean;
  /** Addresses shadowed as of the last reconcile, and the owned table's version then. */
  private shadowed: number[] = [];
  private ownedSeen: number[] = [];
  /** Addresses lost: when their connections live at the loss ([id, IRS] pairs: TcpStack.liveOn) are forgotten (see reconcile). */
  private readonly lostAt = new Map<number, { at: number; live: number[]; movedSince: number }>();
  /** Addresses no longer shadowed, and when their shadows go unless this node takes them over first (see reconcile). */
  private readonly unshadowAt = new Map<number, number>();
  private forgetAt = Infinity;
  private ownedVersion = -1;
  /** Whether reconcile ran before (its first run is this worker's boot). */
  private reconciled = false;
  /**
   * The roles table's version as of the last reconcile. Not the reader's own
   * staleness: find() on the per-frame path refreshes the reader, and a
   * reconcile keyed on that missed role changes (the roles it acted on went
   * stale: shadows left unpromoted at a takeover, ACKs not withheld).
   */
  private snoopVersion = -1;
  /** Home addresses held here with a backup now, and the backup (reconcile): live connections are copied to it. */
  private backupOf = new Map<number, { node: number; mac: Uint8Array }>();
  private readonly homeAddresses: readonly number[];
  private readonly bytes: Uint8Array;
  private readonly udpReflect: Uint16Array;
  private readonly flows: FlowTable;
  /** Datagrams per flow id (the udp-reflect application's per-flow state). */
  private readonly flowPackets: Float64Array;
  /** Receive-side fault injector; null (no faults configured) costs one check per frame. */
  private readonly rxFault: FaultInjector | null = null;
  /** The TCP stack; null when no TCP service is configured. */
  readonly tcp: TcpStack | null = null;
  /** The node's own MAC. */
  private readonly mac = new Uint8Array(6);
  /** Whether the loop reads the clock: TCP timers or a fault injector need it. */
  private readonly clocked: boolean;
  /** The clock for this pass of the loop (ms, performance.now()); 0 when not clocked. */
  private now = 0;
  /** Connection transfers to and from other nodes; null without TCP or a cluster. */
  private readonly handoff: Handoff | null = null;
  /** Last transfer command seen in the mailbox (dataplane/handoff/command.ts). */
  private xferSeq = 0;
  private readonly report: Int32Array;

  constructor(task: WorkerTask) {
    native.setThreadName(`baton-ep${task.endpoint}`);
    this.spinMs = task.spinMs;
    this.report = new Int32Array(task.report);
    const arena = attachArena(task.arena);
    this.io = new EndpointIo(arena, task.endpoint, native);
    this.io.claimHomeSlots();
    this.drops = dropRow(task.drops, task.endpoint);
    this.owned = new OwnedAddresses(task.owned);
    this.snoop = new SnoopTable(task.snoop);
    this.homeAddresses = task.addresses.map((a) => a >>> 0);
    this.snooping = task.tcpServices.some((sv) => sv.mode !== 'plain');
    this.bytes = this.io.bytes;
    this.udpReflect = Uint16Array.from(task.udpReflect);
    this.flows = new FlowTable(task.flows);
    this.flowPackets = new Float64Array(task.flows);
    parseMac(task.mac, this.mac, 0);
    if (task.tcpServices.length > 0) {
      const mac = this.mac;
      const stats = new Float64Array(task.tcpStats, task.endpoint * Stat.COUNT * 8, Stat.COUNT);
      stats.fill(0);
      const mirrorPorts = task.tcpServices.filter((sv) => sv.mode === 'mirror').flatMap((sv) => [sv.lo, sv.hi]);
      if (mirrorPorts.length > 0) this.mirror = new Mirror(this.io, this.snoop, mac, mirrorPorts, stats);
      // With offloads, mirror copies of large or checksum-partial frames keep them (dataplane/mirror.ts).
      const offload = task.offload === true;
      const link = this.mirror === null ? new EndpointTcpLink(this.io, SLOT_HEADROOM, offload) : new MirroringTcpLink(this.io, SLOT_HEADROOM, this.mirror, offload);
      // A cluster's nodes answer a SYN alike (SequenceSecrets.passiveIsn).
      this.tcp = new TcpStack(task.tcp, link, { localMac: mac, stats, ...(task.handoff ? { secrets: SequenceSecrets.fromKey(task.handoff.key) } : {}) });
      const traceFile = process.env['BATON_TRACE_CONNS'];
      if (traceFile !== undefined && traceFile !== '') {
        // Debugging only: one line per record event (TcpStack.trace), appended to `${BATON_TRACE_CONNS}.<node>`.
        const tcp = this.tcp;
        const file = `${traceFile}.${task.handoff?.node ?? 0}`;
        tcp.trace = (event, id) => appendFileSync(file, `${(performance.timeOrigin + performance.now()).toFixed(1)} ${event} ${tcp.describe(id)}\n`);
      }
      if (task.tcpServices.some((sv) => sv.mode !== 'plain')) this.repair = new Repair(this.io, this.snoop, mac, stats, task.handoff?.node ?? 0);
      // One application instance per service per worker.
      for (const sv of task.tcpServices) this.tcp.listen(sv.address, sv.lo, sv.hi, appFactory(sv.app)(sv.options), sv.mode !== 'plain');
      const ho = task.handoff;
      if (ho !== null) {
        const servable = new OwnedAddresses(ho.servable);
        const owned = this.owned;
        this.handoff = new Handoff({
          key: ho.key, cluster: ho.cluster, node: ho.node, endpoint: task.endpoint, incarnation: Date.now(), mac,
          servable: (ip) => owned.holds(ip) || servable.holds(ip),
          holds: (ip) => owned.holds(ip),
          shadowed: (ip) => this.snoop.find(ip, SnoopRole.SHADOW) >= 0,
        }, this.tcp, new EndpointTcpLink(this.io, SLOT_HEADROOM), xferRow(ho.stats, task.endpoint));
        const handoff = this.handoff;
        // A backup asked for a copy of a connection's record (or its gap's bytes are gone): the transfer channel carries it.
        if (this.repair !== null) this.repair.copier = (id, node, toMac) => handoff.startCopy(id, node, toMac, this.now);
        // A connection moved here on an address with a backup (a failback's second sweep) is copied to it at once.
        handoff.onImported = (id, ip, now) => {
          const b = this.backupOf.get(ip >>> 0);
          if (b !== undefined) handoff.startCopy(id, b.node, b.mac, now);
        };
      }
    }
    const f = task.faults;
    if (f !== null && f.rx !== null) {
      const seed = deriveFaultSeed(f.seed, task.endpoint, FAULT_DIR_RX);
      this.rxFault = new FaultInjector(f.rx, seed, this.io, this, this.io.counters, EndpointCounter.fault_rx_loss);
    }
    if (f !== null && f.tx !== null) {
      const seed = deriveFaultSeed(f.seed, task.endpoint, FAULT_DIR_TX);
      this.io.txFault = new FaultInjector(f.tx, seed, this.io, this.io, this.io.counters, EndpointCounter.fault_tx_loss);
    }
    this.clocked = this.tcp !== null || this.rxFault !== null || this.io.txFault !== null;
  }

  /** FaultSink: a received frame that passed the injector (now or after being held). */
  faultDeliver(poller: number, slot: number, offset: number, len: number, flags: number): void {
    this.handle(poller, slot, offset, len, flags);
  }

  /** Releases held frames that are due at `now`. */
  private tickFaults(now: number): void {
    const rx = this.rxFault;
    const tx = this.io.txFault;
    // tx first: frames rx releases now may be sent, and are held relative to this `now`.
    if (tx !== null) tx.tick(now);
    if (rx !== null) rx.tick(now);
  }

  /** When the earliest frame a fault injector holds is due (performance.now() time), Infinity when none. */
  private heldDue(): number {
    const rx = this.rxFault;
    const tx = this.io.txFault;
    const r = rx === null ? Infinity : rx.nextDue();
    const t = tx === null ? Infinity : tx.nextDue();
    return r < t ? r : t;
  }

  private reflects(port: number): boolean {
    const r = this.udpReflect;
    for (let i = 0; i < r.length; i += 2) if (port >= r[i]! && port <= r[i + 1]!) return true;
    return false;
  }

  /** udp-reflect: classify into the flow table, send the datagram back where it came from. */
  private reflectUdp(poller: number, slot: number, offset: number, len: number, flags: number): void {
    const m = this.meta;
    const id = this.flows.lookupOrInsert(m.hash, m.srcIp, m.dstIp, m.srcPort, m.dstPort, IP_PROTO_UDP);
    if (id < 0) {
      this.drops[Drop.FLOW_TABLE_FULL] += 1;
      this.io.freeSlot(slot, poller);
      return;
    }
    this.flowPackets[id] += 1;
    const b = this.bytes;
    swapEthAddresses(b, m.l2Off);
    this.ownSourceMac(m.l2Off);
    // Swapping addresses and ports leaves both checksums valid: the sums commute.
    swapIpv4Addresses(b, m.l3Off);
    const l4 = m.l4Off;
    const sp0 = b[l4]!;
    const sp1 = b[l4 + 1]!;
    b[l4] = b[l4 + 2]!;
    b[l4 + 1] = b[l4 + 3]!;
    b[l4 + 2] = sp0;
    b[l4 + 3] = sp1;
    // A checksum the kernel left partial stays partial (the swap keeps its pseudo-header sum): the device finishes it.
    this.io.send(poller, slot, offset, len, flags & DESC_FLAG_CSUM_PARTIAL);
  }

  /**
   * A reply built in place carries the request's destination MAC as its
   * source; under the cluster's multicast ARP policy that is the cluster MAC,
   * which must never be a source (IEEE 802: group bit). Replies come from the
   * node's own MAC then.
   */
  private ownSourceMac(l2Off: number): void {
    const b = this.bytes;
    if ((b[l2Off + 6]! & 1) !== 0) b.set(this.mac, l2Off + 6);
  }

  /** A segment sent to this node (not one seen promiscuously) of a connection moved here (not a shadow). */
  private movedIn(m: FrameMeta): boolean {
    if (this.handoff === null || m.ipProto !== IP_PROTO_TCP || !this.toUs(m.l2Off)) return false;
    const id = this.tcp!.find(m.dstIp, m.dstPort, m.srcIp, m.srcPort);
    if (id < 0 || this.tcp!.isShadow(id)) return false;
    if (this.lostAt.has(m.dstIp >>> 0)) this.tcp!.stats[Stat.LOST_SERVED]! += 1;
    return true;
  }

  /**
   * A client's segment addressed to this node's MAC for an address another
   * node holds and this one shadows: the client's ARP cache still names this
   * node (right after a failback, the cache may ignore the new holder's
   * announcement for a while). It goes on to the holder, re-addressed, so the
   * connection does not wait for the client's cache. Never back to the node
   * it came from (two nodes that each think the other holds the address
   * for a moment would pass it to and fro). Returns false when it was not
   * sent (the slot stays the caller's).
   */
  private toHolder(meta: FrameMeta, poller: number, slot: number, offset: number, len: number, flags: number): boolean {
    const sn = this.snoop;
    const i = sn.find(meta.dstIp, SnoopRole.SHADOW);
    if (i < 0) return false;
    const hi = sn.macHi[i]!;
    const lo = sn.macLo[i]!;
    const b = this.bytes;
    if ((hi | lo) === 0 || ((macHi(b, meta.l2Off + 6) | 0) === hi && macLo(b, meta.l2Off + 6) === lo)) return false;
    writeMac(b, meta.l2Off, hi, lo);
    b.set(this.mac, meta.l2Off + 6);
    const out = flags & (DESC_FLAG_CSUM_PARTIAL | DESC_FLAG_GSO);
    this.io.send(poller, slot, offset, len, out, (out & DESC_FLAG_GSO) !== 0 ? wireMss(b, meta) : 0);
    this.tcp!.stats[Stat.TO_HOLDER]! += 1;
    return true;
  }

  /** The frame's destination MAC is this node's. */
  private toUs(l2Off: number): boolean {
    const b = this.bytes;
    const mac = this.mac;
    for (let i = 0; i < 6; i++) if (b[l2Off + i] !== mac[i]) return false;
    return true;
  }

  /** Takes a new transfer command from the mailbox; reports the finished one (XFER_DONE). */
  private xferCommands(mailbox: Int32Array, base: number, now: number): void {
    const ho = this.handoff!;
    const seq = Atomics.load(mailbox, base + MB_XFER_SEQ);
    if (seq !== this.xferSeq) {
      this.xferSeq = seq;
      ho.command(readXferCommand(mailbox, base, seq), now);
    }
    if (ho.commandDone()) {
      ho.endCommand();
      Atomics.store(mailbox, base + MB_XFER_DONE, this.xferSeq);
    }
  }

  /**
   * Handles one received frame; the slot is either sent on or freed. `flags`
   * are its descriptor's: an L4 checksum the device verified (CSUM_OK) or
   * that the local kernel left unfinished (CSUM_PARTIAL, TAP offload) is not
   * checked again.
   */
  private handle(poller: number, slot: number, offset: number, len: number, flags: number): void {
    const meta = this.meta;
    const start = this.io.pool.slotBase(slot) + offset;
    if (this.snooping && len > 28 && this.bytes[start + 12] === MIRROR_ETHERTYPE >>> 8) {
      if (this.bytes[start + 13] === (MIRROR_ETHERTYPE & 0xff)) {
        this.mirrored(poller, slot, start, len);
        return;
      }
      if (this.bytes[start + 13] === (MIRROR_BATCH_ETHERTYPE & 0xff)) {
        this.mirroredBatch(poller, slot, start, len);
        return;
      }
    }
    // A frame seen promiscuously may be cut after its headers (Node.snoopTrim): only a shadow takes it (below).
    const r = parseFrame(this.bytes, start, len, meta, ((flags & (DESC_FLAG_CSUM_OK | DESC_FLAG_CSUM_PARTIAL)) !== 0 ? VERIFY_IP_CSUM : VERIFY_ALL) |
      ((flags & DESC_FLAG_SNOOP) !== 0 ? ACCEPT_TRIMMED : 0));
    if (r !== Reason.OK) {
      if (r === Reason.ETH_UNSUPPORTED_TYPE && meta.etherType === ETHERTYPE_HANDOFF && this.handoff !== null) {
        this.handoff.input(this.bytes, start, len, poller, this.now, meta.l2Len);
      } else {
        this.drops[r] += 1;
      }
      this.io.freeSlot(slot, poller);
      return;
    }
    // A connection that is moving to another node, or has moved: dropped or forwarded (handoff.ts).
    if (meta.ipProto === IP_PROTO_TCP && this.handoff !== null && this.handoff.routing !== 0 && this.toUs(meta.l2Off)) {
      const route = this.handoff.route(meta, this.bytes, start, len, poller, this.now, (flags & DESC_FLAG_CSUM_PARTIAL) !== 0);
      if (route !== ROUTE_LOCAL) {
        if (route === ROUTE_HELD) {
          this.io.freeSlot(slot, poller);
        } else {
          this.bytes.set(this.handoff.forwardMac, meta.l2Off);
          this.bytes.set(this.mac, meta.l2Off + 6);
          // A large or checksum-partial frame (offloads) goes on as one: the device cuts and finishes it.
          const out = flags & (DESC_FLAG_CSUM_PARTIAL | DESC_FLAG_GSO);
          this.io.send(poller, slot, offset, len, out, (out & DESC_FLAG_GSO) !== 0 ? wireMss(this.bytes, meta) : 0);
        }
        return;
      }
    }
    // Ownership is per (address, port range) (control/cluster.ts): TCP and UDP
    // by destination port; ICMP goes to the holder of port 0 of the address
    // (the whole range for an address nobody splits). A frame for a port
    // another node holds is dropped without a word: never an RST or an ICMP
    // error for a connection that node serves. A connection moved here lives
    // on before its address does (records move first, then the address).
    const port = meta.ipProto === IP_PROTO_TCP || meta.ipProto === IP_PROTO_UDP ? meta.dstPort : 0;
    if (!this.owned.holdsPort(meta.dstIp, port) && !this.movedIn(meta)) {
      if (this.snooping && meta.ipProto === IP_PROTO_TCP && this.snoopSegment(meta, poller)) {
        if (!this.toUs(meta.l2Off) || !this.toHolder(meta, poller, slot, offset, len, flags)) this.io.freeSlot(slot, poller);
        return;
      }
      this.drops[Drop.NOT_OUR_ADDRESS] += 1;
      this.io.freeSlot(slot, poller);
      return;
    }
    if (meta.ipProto === IP_PROTO_ICMP) {
      if (meta.icmpType !== ICMP_ECHO_REQUEST || meta.icmpCode !== 0) {
        this.drops[Drop.ICMP_NOT_ECHO] += 1;
        this.io.freeSlot(slot, poller);
        return;
      }
      // RFC 1122 3.2.2.6: the reply carries the request's data; built in place.
      icmpEchoReplyInPlace(this.bytes, meta.l2Off, meta.l3Off, meta.l4Off, 64);
      this.ownSourceMac(meta.l2Off);
      this.io.send(poller, slot, offset, len, 0);
      return;
    }
    if (meta.ipProto === IP_PROTO_TCP && this.tcp !== null) {
      if (meta.trimmed !== 0) {
        // A copy cut short on purpose is only ever a shadow's to see.
        this.drops[Reason.IPV4_BAD_TOTAL_LEN] += 1;
        this.io.freeSlot(slot, poller);
        return;
      }
      // An address about to leave: no new connection here that the handover could leave behind.
      if ((meta.tcpFlags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) === TCP_FLAG_SYN && this.owned.draining(meta.dstIp)) {
        this.drops[Drop.SYN_DRAINING] += 1;
        this.io.freeSlot(slot, poller);
        return;
      }
      // Mirror mode: the backup gets the client's frame before the primary's answer to it.
      if (this.mirror !== null) this.mirror.copy(poller, start, len, meta.dstIp, meta.dstPort, flags);
      // The stack copies what it keeps; the frame's slot goes back at once.
      this.tcp.input(this.bytes, meta, poller, this.now);
      this.io.freeSlot(slot, poller);
      return;
    }
    if (meta.ipProto === IP_PROTO_UDP && this.reflects(meta.dstPort)) {
      this.reflectUdp(poller, slot, offset, len, flags);
      return;
    }
    this.drops[Drop.NO_HANDLER] += 1;
    this.io.freeSlot(slot, poller);
  }

  /** A mirror frame (dataplane/mirror.ts): the inner frame goes to the shadows, nowhere else. */
  private mirrored(poller: number, slot: number, start: number, len: number): void {
    if (this.bytes[start + 26] === REPAIR_ETHERTYPE >>> 8 && this.bytes[start + 27] === (REPAIR_ETHERTYPE & 0xff)) {
      // A backup asks for client bytes it missed, of a connection this node serves.
      const local = readU32(this.bytes, start + 44);
      if (!this.owned.holds(local) || !this.repair!.serve(this.tcp!, poller, start, len)) this.drops[Drop.NOT_OUR_ADDRESS] += 1;
      this.io.freeSlot(slot, poller);
      return;
    }
    this.mirrorCopy(poller, start + 14, len - 14);
    this.io.freeSlot(slot, poller);
  }

  /** A batch of mirror copies (MIRROR_BATCH_ETHERTYPE): records of [u16 length][frame], each as a mirror frame's. */
  private mirroredBatch(poller: number, slot: number, start: number, len: number): void {
    const b = this.bytes;
    const end = start + len;
    let at = start + 14;
    while (at + 2 <= end) {
      const n = (b[at]! << 8) | b[at + 1]!;
      if (n < 14 || at + 2 + n > end) {
        this.drops[Reason.FRAME_BAD_BOUNDS] += 1;
        break;
      }
      this.mirrorCopy(poller, at + 2, n);
      at += 2 + n;
    }
    this.io.freeSlot(slot, poller);
  }

  /** One mirror copy: the primary's own output comes cut after its headers but in sampled segments (Mirror.copy). */
  private mirrorCopy(poller: number, start: number, len: number): void {
    const meta = this.meta;
    const r = parseFrame(this.bytes, start, len, meta, VERIFY_ALL | ACCEPT_TRIMMED);
    if (r !== Reason.OK) this.drops[r] += 1;
    else if (meta.ipProto !== IP_PROTO_TCP || !this.snoopSegment(meta, poller)) this.drops[Drop.NOT_OUR_ADDRESS] += 1;
    else this.tcp!.stats[Stat.MIRROR_IN]! += 1;
  }

  /**
   * A TCP segment to or from an address this node shadows (seen on a hub
   * segment, or mirrored to it): the stack's shadow of the connection learns
   * from it. Returns false when the segment is nothing of ours.
   */
  private snoopSegment(meta: FrameMeta, poller: number): boolean {
    const tcp = this.tcp!;
    if (this.snoop.find(meta.dstIp, SnoopRole.SHADOW) >= 0) tcp.snoop(this.bytes, meta, true, poller, this.now);
    else if (this.snoop.find(meta.srcIp, SnoopRole.SHADOW) >= 0) tcp.snoop(this.bytes, meta, false, poller, this.now);
    else return false;
    return true;
  }

  /**
   * The cluster moved addresses or roles. An address this node shadowed and
   * now holds is a takeover: its shadows become live connections at once
   * (and prompt their clients). One it no longer backs up: its shadows go.
   * Any address just gained starts the quiet period (no RST to unknown
   * connections). Runs only when a table's version moved.
   */
  private reconcile(now: number): void {
    const tcp = this.tcp!;
    const owned = this.owned;
    this.ownedVersion = owned.version;
    this.snoopVersion = this.snoop.version;
    const held = owned.list().map((u) => u.ip);
    const gained = quietOnGain(held, this.ownedSeen, this.homeAddresses, !this.reconciled);
    this.reconciled = true;
    // An address this node no longer holds (failed back, granted, yielded after
    // a partition, fenced): its holder answers for its connections now. Any
    // still live here after FORGET_GRACE_MS would answer alongside it (their
    // timers retransmit, time out, reset): they go then, silently. The grace
    // leaves a handover's second sweep (control/handover.ts: records, then
    // the address, then connections opened in between) time to move them.
    // Where this node is the new holder's backup, the unknown segments that
    // follow ask the holder for copies (shadows again).
    //
    // Except an address lost while its connections were backed up (withheld
    // ACKs, service modes snoop and mirror): every byte those connections
    // acknowledged is in the backup's shadows, which the new holder promotes
    // (it is that backup), or moved as records before the address. The live
    // copies left here would only answer alongside it: an ACK for client
    // bytes still on their way to the backup (a mirror copy the new holder
    // drops once it holds the address), and the client never sends them
    // again. They go at once, before anything here can send for them.
    for (const ip of this.ownedSeen) {
      if (held.includes(ip)) continue;
      if (tcp.isBackedUp(ip)) {
        this.lostAt.delete(ip);
        tcp.forgetAddress(ip);
      } else {
        // Those live now, not records moved here meanwhile: a restarted node
        // that saw its home address for a moment at boot, lost it to the
        // holder, then took its connections back by records before the
        // address, dropped them all here (address_lost_drops, DPDK kill loop).
        // Nor records moved here in the last MOVED_KEEP_MS: the failback's
        // mover starts as soon as the restarted node is up, and records it
        // imported in the moment it still held its home address (about 70 ms
        // in the DPDK kill loop) were dropped a second later, when the
        // address came back a few ms too late (8 clients reset after their
        // quiet period). A handover's address follows its records.
        this.lostAt.set(ip, { at: now + FORGET_GRACE_MS, live: tcp.liveOn(ip, now - MOVED_KEEP_MS), movedSince: now - MOVED_KEEP_MS });
      }
    }
    for (const ip of held) this.lostAt.delete(ip);
    this.ownedSeen = held;
    if (gained && tcp.config.takeoverQuietMs > 0) tcp.quietUnknownUntil(now + tcp.config.takeoverQuietMs);
    const roles = this.snoop.list();
    const next = roles.filter((e) => e.role === SnoopRole.SHADOW).map((e) => e.ip);
    // Withheld ACK: connections on an address this node holds and another backs up acknowledge what that backup holds.
    if (this.repair !== null) tcp.setBackedUp(roles.filter((e) => e.role === SnoopRole.MIRROR_TO && held.includes(e.ip)).map((e) => e.ip), now, held);
    // A new backup for a home address held here (a failback: the connections
    // came back as records; a restarted backup): every live connection goes
    // to it as a copy now, so it is protected without waiting for its next
    // segment. Not for an address taken over: its new backup is its home
    // node back from a restart, which takes the connections back as records
    // next (copies first would only hold up the failback's transfers).
    if (this.snooping) {
      const next = new Map<number, { node: number; mac: Uint8Array }>();
      for (const e of roles) {
        if (e.role !== SnoopRole.MIRROR_TO || !held.includes(e.ip) || e.node === 0 || !this.homeAddresses.includes(e.ip >>> 0)) continue;
        next.set(e.ip >>> 0, { node: e.node, mac: e.mac });
        if (this.handoff !== null && this.backupOf.get(e.ip >>> 0)?.node !== e.node) this.handoff.copyAddress(e.ip, e.node, e.mac, now);
      }
      this.backupOf = next;
    }
    // An address no longer shadowed keeps its shadows for SHADOW_GRACE_MS: when
    // its holder dies the control thread may publish the roles (no holder, so
    // nobody shadows it) before the takeover; between the two, dropping the
    // shadows would leave the takeover nothing to promote.
    for (const ip of this.shadowed) if (!held.includes(ip) && !next.includes(ip)) this.unshadowAt.set(ip, now + SHADOW_GRACE_MS);
    for (const ip of next) this.unshadowAt.delete(ip);
    // A shadow on an address this node answers for is a takeover, whatever the
    // roles said before: promoted now. (A client that waits for output — a
    // download — sends nothing that would promote it from input().)
    if (this.snooping) {
      for (const ip of held) {
        this.unshadowAt.delete(ip);
        tcp.promoteShadows(ip, now);
      }
    }
    this.shadowed = next;
    this.forgetAt = Infinity;
    for (const { at } of this.lostAt.values()) if (at < this.forgetAt) this.forgetAt = at;
    for (const at of this.unshadowAt.values()) if (at < this.forgetAt) this.forgetAt = at;
    // Moves to a peer that died before its verdict come back (a failback cut short).
    if (this.handoff !== null) for (const e of roles) if (e.role === SnoopRole.PEER_FAILED) this.handoff.targetFailed(e.node, now);
  }

  /**
   * Drops the live connections of addresses lost FORGET_GRACE_MS ago and not
   * held again, and the shadows of addresses neither shadowed nor held for
   * SHADOW_GRACE_MS.
   */
  private forgetLost(now: number): void {
    this.forgetAt = Infinity;
    for (const [ip, { at, live, movedSince }] of [...this.lostAt]) {
      if (at <= now) {
        this.lostAt.delete(ip);
        if (!this.owned.holds(ip)) this.tcp!.forgetAddress(ip, live, movedSince);
      } else if (at < this.forgetAt) {
        this.forgetAt = at;
      }
    }
    for (const [ip, at] of [...this.unshadowAt]) {
      if (at <= now) {
        this.unshadowAt.delete(ip);
        if (!this.owned.holds(ip) && !this.shadowed.includes(ip)) this.tcp!.dropShadows(ip);
      } else if (at < this.forgetAt) {
        this.forgetAt = at;
      }
    }
  }

  /** One burst from poller p's rx ring; returns how many frames. */
  private rxBurst(p: number): number {
    const rx = this.io.rings[p]!.rx;
    const n = rx.available(BURST);
    if (n === 0) return 0;
    const d = rx.desc;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const k = rx.index(i);
      const meta = d[k + DESC_META]!;
      const len = meta & DESC_LEN_MASK;
      bytes += len;
      if (this.rxFault === null) this.handle(p, d[k + DESC_SLOT]!, d[k + DESC_DATA]! & DESC_OFFSET_MASK, len, meta >>> DESC_FLAGS_SHIFT);
      else this.rxFault.process(p, d[k + DESC_SLOT]!, d[k + DESC_DATA]! & DESC_OFFSET_MASK, len, meta >>> DESC_FLAGS_SHIFT);
    }
    rx.release(n);
    this.io.counters.add(EndpointCounter.rx_frames, n);
    this.io.counters.add(EndpointCounter.rx_bytes, bytes);
    return n;
  }

  run(mailbox: Int32Array, base: number): void {
    const io = this.io;
    let idle = 0;
    let idleSince = 0;
    const spinMs = this.spinMs;
    // Only this endpoint writes REPORT_DONE: a local copy spares a load per pass.
    let reported = Atomics.load(mailbox, base + MB_REPORT_DONE);
    // A restarted worker does not run its predecessor's command again; the control thread sees it done.
    this.xferSeq = Atomics.load(mailbox, base + MB_XFER_SEQ);
    Atomics.store(mailbox, base + MB_XFER_DONE, this.xferSeq);
    for (;;) {
      if (Atomics.load(mailbox, base + MB_STOP) !== 0) {
        this.rxFault?.discardHeld();
        io.txFault?.discardHeld();
        return;
      }
      if (Atomics.load(mailbox, base + MB_CRASH) !== 0) {
        Atomics.store(mailbox, base + MB_CRASH, 0);
        // Fault injection: the thread dies as a crash would, mid-flight.
        process.exit(70);
      }
      // One clock read per pass, and none at all when neither TCP timers nor
      // held frames need it (udp-reflect and ICMP do not).
      const now = this.clocked ? performance.now() : 0;
      this.now = now;
      this.tickFaults(now);
      const tcp = this.tcp;
      if (tcp !== null && (this.owned.version !== this.ownedVersion || ((this.snooping || this.handoff !== null) && this.snoop.version !== this.snoopVersion))) {
        this.reconcile(now);
      }
      if (now >= this.forgetAt) this.forgetLost(now);
      let work = 0;
      for (let p = 0; p < io.pollers; p++) work += this.rxBurst(p);
      const ho = this.handoff;
      if (ho !== null) {
        this.xferCommands(mailbox, base, now);
        ho.tick(now);
      }
      if (this.repair !== null) {
        tcp!.takeRepairs(this.askRepair);
        this.repair.flushHaves();
        tcp!.takePushes(now, this.pushBytes);
      }
      if (tcp !== null) {
        // Deliver to applications and send what is due, then fire timers.
        tcp.flush(this.now);
        tcp.tick(this.now);
      }
      this.mirror?.flush();
      io.flush();
      Atomics.add(mailbox, base + MB_ALIVE, 1);
      const asked = Atomics.load(mailbox, base + MB_REPORT);
      if (asked !== reported) {
        reported = asked;
        const r = this.report;
        r[0] = tcp === null ? 0 : tcp.report(r.subarray(1), performance.now());
        Atomics.store(mailbox, base + MB_REPORT_DONE, asked);
      }
      if (work !== 0) {
        idle = 0;
        continue;
      }
      // Spin a little before parking (back-to-back bursts are common), at most
      // spinMs, yielding the core on every pass: the poller may share it, and
      // a spin that keeps the core waits for the very thread it keeps off it.
      if (idle++ === 0) idleSince = performance.now();
      if (performance.now() - idleSince < spinMs) {
        native.yieldCpu();
        continue;
      }
      idle = 0;
      // Frames held by a fault injector are due in heldMs, TCP timers in
      // untilTimer ms: park no longer than that. Asked now, not at the top of
      // the pass: this pass's timers may have sent frames the injector holds
      // (a retransmission delayed 10 ms must not wait for the next timer).
      const heldMs = this.heldDue() - performance.now();
      let parkMs = heldMs < PARK_MS ? heldMs : PARK_MS;
      if (tcp !== null) {
        const untilTimer = tcp.nextDeadline() - performance.now();
        if (untilTimer < parkMs) parkMs = untilTimer;
      }
      if (ho !== null) {
        const untilTransfer = ho.nextDeadline() - performance.now();
        if (untilTransfer < parkMs) parkMs = untilTransfer;
      }
      if (this.forgetAt - now < parkMs) parkMs = this.forgetAt - now;
      if (parkMs <= 0) continue;
      const seen = io.prepareToPark();
      // Re-check after prepareToPark: a report request or a transfer command written before it must not sleep until the next frame.
      if (!io.rxPending() && Atomics.load(mailbox, base + MB_STOP) === 0 && Atomics.load(mailbox, base + MB_CRASH) === 0 &&
          Atomics.load(mailbox, base + MB_REPORT) === reported &&
          (ho === null || Atomics.load(mailbox, base + MB_XFER_SEQ) === this.xferSeq)) {
        io.counters.inc(EndpointCounter.parks);
        native.futexWait(io.wakeWord(), WAKE_INDEX, seen, Math.ceil(parkMs));
      }
      io.unpark();
    }
  }
}

/**
 * Whether the addresses held now (`held`, against `seen` before) start the
 * quiet period (no RST to segments of unknown connections): any address
 * gained is, except a home address (the config's) already held at the
 * worker's first look (`first`: a boot). Another node's address is a
 * takeover. A home address gained later is a failback: the node restarted
 * while its backup held the address, and the connections opened on the
 * backup meanwhile still come as records (the handover's second sweep);
 * a client segment that arrives first must be dropped, not reset.
 */
export function quietOnGain(held: readonly number[], seen: readonly number[], home: readonly number[], first: boolean): boolean {
  for (const ip of held) if (!seen.includes(ip) && (!first || !home.includes(ip))) return true;
  return false;
}

/** How long live connections of an address this node lost may still move away before they are dropped (reconcile). */
const FORGET_GRACE_MS = 1000;
/** Records moved here this recently are not forgotten with an address lost (a handover in progress: reconcile). */
const MOVED_KEEP_MS = 10_000;
/** How long shadows of an address no longer shadowed are kept, for a takeover published after the roles. */
const SHADOW_GRACE_MS = 1000;

/** The piscina task: runs endpoint `task.endpoint` until told to stop. */
export default function runWorker(task: WorkerTask): WorkerExit {
  const w = new Worker(task);
  w.run(new Int32Array(task.mailboxes), task.endpoint * MAILBOX_WORDS);
  return { endpoint: task.endpoint, reason: 'stopped' };
}
