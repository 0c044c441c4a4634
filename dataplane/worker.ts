// A data-plane worker: one long-lived piscina task per endpoint that runs to
// completion in bursts — dequeue up to a burst from each poller's rx ring,
// handle every frame, queue replies, wake pollers, then park when idle.
// It returns only when the control thread asks it to stop.
import { attachArena } from '../shm/arena.js';
import { DESC_DATA, DESC_META, DESC_SLOT, DESC_OFFSET_MASK, DESC_LEN_MASK } from '../shm/layout.js';
import { EndpointCounter } from '../shm/counters.js';
import { native } from '../native/addon.js';
import { EndpointIo, WAKE_INDEX } from './endpoint.js';
import { FrameMeta, parseFrame, VERIFY_ALL } from './net/frame.js';
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
import { MAILBOX_WORDS, MB_ALIVE, MB_CRASH, MB_STOP } from './mailbox.js';
import { FAULT_DIR_RX, FAULT_DIR_TX, FaultInjector, deriveFaultSeed, type FaultConfig } from './fault.js';
import { OwnedAddresses } from './owned.js';

export interface WorkerTask {
  readonly arena: SharedArrayBuffer;
  readonly drops: SharedArrayBuffer;
  readonly mailboxes: SharedArrayBuffer;
  readonly endpoint: number;
  /** The node's IPv4 addresses (u32). */
  readonly addresses: readonly number[];
  /** The addresses this node answers for right now (dataplane/owned.ts; the cluster moves them). */
  readonly owned: SharedArrayBuffer;
  /** 0 on first start; n after n restarts of this endpoint. */
  readonly generation: number;
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
}

export interface WorkerTcpService {
  readonly app: TcpAppName;
  readonly options: AppOptions;
  readonly address: number;
  readonly lo: number;
  readonly hi: number;
}

export interface WorkerExit {
  readonly endpoint: number;
  readonly reason: 'stopped';
}

const BURST = 32;
/** Idle passes before parking: a few microseconds of spinning absorbs back-to-back bursts. */
const SPIN = 200;
/** Longest park; bounds how late a missed wake-up could be noticed (never relied on). */
const PARK_MS = 1000;

class Worker {
  private readonly io: EndpointIo;
  private readonly meta = new FrameMeta();
  private readonly drops: Float64Array;
  private readonly owned: OwnedAddresses;
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

  constructor(task: WorkerTask) {
    const arena = attachArena(task.arena);
    this.io = new EndpointIo(arena, task.endpoint, native);
    this.io.claimHomeSlots();
    this.drops = dropRow(task.drops, task.endpoint);
    this.owned = new OwnedAddresses(task.owned);
    this.bytes = this.io.bytes;
    this.udpReflect = Uint16Array.from(task.udpReflect);
    this.flows = new FlowTable(task.flows);
    this.flowPackets = new Float64Array(task.flows);
    parseMac(task.mac, this.mac, 0);
    if (task.tcpServices.length > 0) {
      const mac = this.mac;
      const stats = new Float64Array(task.tcpStats, task.endpoint * Stat.COUNT * 8, Stat.COUNT);
      stats.fill(0);
      this.tcp = new TcpStack(task.tcp, new EndpointTcpLink(this.io, SLOT_HEADROOM), { localMac: mac, stats });
      // One application instance per service per worker.
      for (const sv of task.tcpServices) this.tcp.listen(sv.address, sv.lo, sv.hi, appFactory(sv.app)(sv.options));
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
  faultDeliver(poller: number, slot: number, offset: number, len: number): void {
    this.handle(poller, slot, offset, len);
  }

  /** Releases held frames that are due at `now`; returns ms until the next one is (Infinity: none held). */
  private tickFaults(now: number): number {
    const rx = this.rxFault;
    const tx = this.io.txFault;
    if (rx === null && tx === null) return Infinity;
    let due = Infinity;
    // tx first: frames rx releases now may be sent, and are held relative to this `now`.
    if (tx !== null) tx.tick(now);
    if (rx !== null) {
      rx.tick(now);
      due = rx.nextDue();
    }
    if (tx !== null && tx.nextDue() < due) due = tx.nextDue();
    return due - now;
  }

  private reflects(port: number): boolean {
    const r = this.udpReflect;
    for (let i = 0; i < r.length; i += 2) if (port >= r[i]! && port <= r[i + 1]!) return true;
    return false;
  }

  /** udp-reflect: classify into the flow table, send the datagram back where it came from. */
  private reflectUdp(poller: number, slot: number, offset: number, len: number): void {
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
    this.io.send(poller, slot, offset, len, 0);
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

  /** Handles one received frame; the slot is either sent on or freed. */
  private handle(poller: number, slot: number, offset: number, len: number): void {
    const meta = this.meta;
    const start = this.io.pool.slotBase(slot) + offset;
    const r = parseFrame(this.bytes, start, len, meta, VERIFY_ALL);
    if (r !== Reason.OK) {
      this.drops[r] += 1;
      this.io.freeSlot(slot, poller);
      return;
    }
    // Ownership is per (address, port range) (control/cluster.ts): TCP and UDP
    // by destination port; ICMP goes to the holder of port 0 of the address
    // (the whole range for an address nobody splits). A frame for a port
    // another node holds is dropped without a word: never an RST or an ICMP
    // error for a connection that node serves.
    const port = meta.ipProto === IP_PROTO_TCP || meta.ipProto === IP_PROTO_UDP ? meta.dstPort : 0;
    if (!this.owned.holdsPort(meta.dstIp, port)) {
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
      // The stack copies what it keeps; the frame's slot goes back at once.
      this.tcp.input(this.bytes, meta, poller, this.now);
      this.io.freeSlot(slot, poller);
      return;
    }
    if (meta.ipProto === IP_PROTO_UDP && this.reflects(meta.dstPort)) {
      this.reflectUdp(poller, slot, offset, len);
      return;
    }
    this.drops[Drop.NO_HANDLER] += 1;
    this.io.freeSlot(slot, poller);
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
      const len = d[k + DESC_META]! & DESC_LEN_MASK;
      bytes += len;
      if (this.rxFault === null) this.handle(p, d[k + DESC_SLOT]!, d[k + DESC_DATA]! & DESC_OFFSET_MASK, len);
      else this.rxFault.process(p, d[k + DESC_SLOT]!, d[k + DESC_DATA]! & DESC_OFFSET_MASK, len, 0);
    }
    rx.release(n);
    this.io.counters.add(EndpointCounter.rx_frames, n);
    this.io.counters.add(EndpointCounter.rx_bytes, bytes);
    return n;
  }

  run(mailbox: Int32Array, base: number): void {
    const io = this.io;
    let idle = 0;
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
      const heldFor = this.tickFaults(now);
      let work = 0;
      for (let p = 0; p < io.pollers; p++) work += this.rxBurst(p);
      const tcp = this.tcp;
      if (tcp !== null) {
        // Deliver to applications and send what is due, then fire timers.
        tcp.flush(this.now);
        tcp.tick(this.now);
      }
      io.flush();
      Atomics.add(mailbox, base + MB_ALIVE, 1);
      if (work !== 0) {
        idle = 0;
        continue;
      }
      if (++idle < SPIN) continue;
      idle = 0;
      // Frames held by a fault injector are due in heldFor ms, TCP timers in
      // untilTimer ms: park no longer than that.
      let parkMs = heldFor < PARK_MS ? heldFor : PARK_MS;
      if (tcp !== null) {
        const untilTimer = tcp.nextDeadline() - performance.now();
        if (untilTimer < parkMs) parkMs = untilTimer;
      }
      if (parkMs <= 0) continue;
      const seen = io.prepareToPark();
      if (!io.rxPending() && Atomics.load(mailbox, base + MB_STOP) === 0 && Atomics.load(mailbox, base + MB_CRASH) === 0) {
        io.counters.inc(EndpointCounter.parks);
        native.futexWait(io.wakeWord(), WAKE_INDEX, seen, Math.ceil(parkMs));
      }
      io.unpark();
    }
  }
}

/** The piscina task: runs endpoint `task.endpoint` until told to stop. */
export default function runWorker(task: WorkerTask): WorkerExit {
  const w = new Worker(task);
  w.run(new Int32Array(task.mailboxes), task.endpoint * MAILBOX_WORDS);
  return { endpoint: task.endpoint, reason: 'stopped' };
}
