// DPDK control plane through ffi-rs: EAL initialisation, mbuf pool, port
// configure, queue set-up, start/stop, MAC, link state, stats, promiscuous
// mode — each a call into Debian's librte_* libraries. An ffi-rs call costs
// microseconds, so nothing here is on a per-packet path: the burst loop is
// the addon's (native/src/dpdk.cc), which takes over the started port.
//
// Verified here: EAL rewrites argv, so argv is built with createPointer and
// kept alive for the life of the process (passing a StringArray directly
// double-frees); drivers (net_tap, net_memif, …) load from Debian's plugin
// directory by themselves.
import { DataType, createPointer, load, open, unwrapPointer, isNullPointer, type JsExternal } from 'ffi-rs';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { BatonError } from '../control/errors.js';
import { native } from './addon.js';

const LIB_DIR = '/usr/lib/x86_64-linux-gnu';
const LIBS = { eal: 'librte_eal.so.23', ethdev: 'librte_ethdev.so.23', mbuf: 'librte_mbuf.so.23' } as const;
/** Name the addon looks the transmit pool up by (rte_mempool_lookup). */
export const MBUF_POOL = 'baton_mbufs';
const SOCKET_ID_ANY = -1;
const RX_DESC = 1024;
const TX_DESC = 1024;
const MBUFS = 8191; // a few thousand (2^n − 1 is optimal for the ring-backed mempool)

interface Layout {
  readonly sizeof_eth_conf: number;
  readonly sizeof_eth_stats: number;
  readonly sizeof_eth_link: number;
  readonly stats_ipackets: number;
  readonly stats_opackets: number;
  readonly stats_ibytes: number;
  readonly stats_obytes: number;
  readonly stats_imissed: number;
  readonly stats_ierrors: number;
  readonly stats_oerrors: number;
  readonly stats_rx_nombuf: number;
  readonly eth_conf_intr_conf: number;
  readonly mbuf_default_buf_size: number;
}

let ealDone = false;
let ealArgvKeepAlive: JsExternal[] | null = null;
let mbufPool: JsExternal | null = null;

function call(library: keyof typeof LIBS, funcName: string, retType: DataType, paramsType: DataType[], paramsValue: unknown[]): unknown {
  return load({ library, funcName, retType, paramsType, paramsValue });
}

function layout(): Layout {
  const info = native.dpdkInfo() as Layout | null;
  if (info === null) {
    throw new BatonError('BATON_ERR_DPDK_INIT', 'this build has no DPDK support (libdpdk-dev was missing when the addon was built): apt-get install libdpdk-dev dpdk, then npm run build');
  }
  return info;
}

function openLibraries(): void {
  for (const [name, file] of Object.entries(LIBS)) {
    const path = `${LIB_DIR}/${file}`;
    if (!existsSync(path)) throw new BatonError('BATON_ERR_DPDK_INIT', `DPDK library ${path} not found: apt-get install dpdk`);
    open({ library: name, path });
  }
}

/** EAL arguments Baton always passes (works without hugepages, PCI or a shared config). */
export function ealArgv(deviceArgs: string): string[] {
  const user = deviceArgs.split(/\s+/).filter((s) => s !== '');
  // One EAL lcore, allowed on every CPU the process may use: EAL pins its main
  // thread (ours: Node's main thread) to the lcore's cpuset, and threads
  // started later inherit it; a node started under taskset keeps its CPUs.
  const cpus = allowedCpus() ?? `0-${Math.max(0, availableParallelism() - 1)}`;
  return ['baton', '--no-huge', '--no-shconf', '--no-pci', '--no-telemetry', '-m', '1024', `--lcores=0@(${cpus})`, '--log-level=lib.eal:error', '--log-level=pmd.net.tap:error', ...user];
}

/** This process's CPU affinity as a list ("0-1", "0,2"), from /proc; null when unknown. */
function allowedCpus(): string | null {
  try {
    const m = /^Cpus_allowed_list:\s*([0-9,-]+)\s*$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m === null ? null : m[1]!;
  } catch {
    return null;
  }
}

/** Initialises the EAL once per process. */
export function initEal(deviceArgs: string): void {
  if (ealDone) return;
  layout();
  openLibraries();
  const argv = ealArgv(deviceArgs);
  ealArgvKeepAlive = createPointer({ paramsType: [DataType.StringArray], paramsValue: [argv] });
  const rc = call('eal', 'rte_eal_init', DataType.I32, [DataType.I32, DataType.External], [argv.length, unwrapPointer(ealArgvKeepAlive)[0]]) as number;
  if (rc < 0) {
    throw new BatonError('BATON_ERR_DPDK_INIT', `rte_eal_init(${argv.slice(1).join(' ')}) failed (${rc}); check the device arguments`);
  }
  ealDone = true;
}

export interface DpdkLink {
  readonly up: boolean;
  readonly speedMbps: number;
}

export interface DpdkStats {
  readonly ipackets: number;
  readonly opackets: number;
  readonly ibytes: number;
  readonly obytes: number;
  readonly imissed: number;
  readonly ierrors: number;
  readonly oerrors: number;
  readonly rxNoMbuf: number;
}

export class DpdkPort {
  readonly portId: number;
  readonly queues: number;
  /** Rx interrupts are on: the poller sleeps on their fds instead of napping. */
  rxInterrupts = false;
  private started = false;

  private constructor(portId: number, queues: number) {
    this.portId = portId;
    this.queues = queues;
  }

  /**
   * EAL init (once), then the first ethdev port: configure `queues` rx/tx
   * queue pairs (with rx interrupts when the driver has them), start,
   * promiscuous.
   */
  static open(deviceArgs: string, queues: number): DpdkPort {
    initEal(deviceArgs);
    const L = layout();
    const count = (call('ethdev', 'rte_eth_dev_count_avail', DataType.I32, [], []) as number) & 0xffff;
    if (count === 0) throw new BatonError('BATON_ERR_DPDK_INIT', `no DPDK port after EAL init with "${deviceArgs}" (need e.g. --vdev=net_tap0,iface=NAME)`);
    const port = new DpdkPort(0, queues);
    if (mbufPool === null) {
      const p = call('mbuf', 'rte_pktmbuf_pool_create', DataType.External,
        [DataType.String, DataType.I32, DataType.I32, DataType.I32, DataType.I32, DataType.I32],
        [MBUF_POOL, MBUFS, 256, 0, L.mbuf_default_buf_size, SOCKET_ID_ANY]) as JsExternal;
      if (isNullPointer(p)) throw new BatonError('BATON_ERR_DPDK_INIT', `rte_pktmbuf_pool_create(${MBUFS} mbufs) failed: out of EAL memory?`);
      mbufPool = p;
    }
    // All defaults (no offloads, no RSS) but intr_conf.rxq (bit 1): rx interrupts
    // let an idle poller sleep. Drivers without them refuse it; then it naps.
    const conf = Buffer.alloc(L.sizeof_eth_conf);
    conf.writeUInt32LE(0b10, L.eth_conf_intr_conf);
    const configure = (): number => call('ethdev', 'rte_eth_dev_configure', DataType.I32,
      [DataType.I32, DataType.I32, DataType.I32, DataType.U8Array], [port.portId, queues, queues, conf]) as number;
    port.rxInterrupts = configure() >= 0;
    if (!port.rxInterrupts) {
      conf.fill(0);
      port.check('rte_eth_dev_configure', configure());
    }
    for (let q = 0; q < queues; q++) {
      port.check('rte_eth_rx_queue_setup', call('ethdev', 'rte_eth_rx_queue_setup', DataType.I32,
        [DataType.I32, DataType.I32, DataType.I32, DataType.I32, DataType.U64, DataType.External],
        [port.portId, q, RX_DESC, SOCKET_ID_ANY, 0, mbufPool]) as number);
      port.check('rte_eth_tx_queue_setup', call('ethdev', 'rte_eth_tx_queue_setup', DataType.I32,
        [DataType.I32, DataType.I32, DataType.I32, DataType.I32, DataType.U64],
        [port.portId, q, TX_DESC, SOCKET_ID_ANY, 0]) as number);
    }
    port.check('rte_eth_dev_start', call('ethdev', 'rte_eth_dev_start', DataType.I32, [DataType.I32], [port.portId]) as number);
    port.started = true;
    // The device stays promiscuous and the poller filters on our MAC in
    // software (and marks snooped frames when `promiscuous` is asked). Setting
    // our MAC on the port instead breaks net_tap: it copies the MAC to the
    // kernel side of the tap, and a bridge then drops our frames as carrying
    // its own port's address.
    port.setPromiscuous(true);
    return port;
  }

  private check(what: string, rc: number): void {
    if (rc < 0) throw new BatonError('BATON_ERR_DPDK_INIT', `${what}(port ${this.portId}) failed: ${rc}`);
  }

  mac(): string {
    const b = Buffer.alloc(6);
    this.check('rte_eth_macaddr_get', call('ethdev', 'rte_eth_macaddr_get', DataType.I32, [DataType.I32, DataType.U8Array], [this.portId, b]) as number);
    return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
  }

  setPromiscuous(on: boolean): void {
    const fn = on ? 'rte_eth_promiscuous_enable' : 'rte_eth_promiscuous_disable';
    this.check(fn, call('ethdev', fn, DataType.I32, [DataType.I32], [this.portId]) as number);
  }

  link(): DpdkLink {
    const b = Buffer.alloc(layout().sizeof_eth_link);
    call('ethdev', 'rte_eth_link_get_nowait', DataType.I32, [DataType.I32, DataType.U8Array], [this.portId, b]);
    // struct rte_eth_link: u32 link_speed; u16 duplex:1, autoneg:1, status:1
    return { speedMbps: b.readUInt32LE(0), up: (b.readUInt16LE(4) & 0b100) !== 0 };
  }

  stats(): DpdkStats {
    const L = layout();
    const b = Buffer.alloc(L.sizeof_eth_stats);
    this.check('rte_eth_stats_get', call('ethdev', 'rte_eth_stats_get', DataType.I32, [DataType.I32, DataType.U8Array], [this.portId, b]) as number);
    const u = (off: number): number => Number(b.readBigUInt64LE(off));
    return {
      ipackets: u(L.stats_ipackets), opackets: u(L.stats_opackets), ibytes: u(L.stats_ibytes), obytes: u(L.stats_obytes),
      imissed: u(L.stats_imissed), ierrors: u(L.stats_ierrors), oerrors: u(L.stats_oerrors), rxNoMbuf: u(L.stats_rx_nombuf),
    };
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    call('ethdev', 'rte_eth_dev_stop', DataType.I32, [DataType.I32], [this.portId]);
    call('ethdev', 'rte_eth_dev_close', DataType.I32, [DataType.I32], [this.portId]);
  }
}
