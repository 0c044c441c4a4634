// Node configuration: parsed and validated once, at load, into a frozen,
// fully-defaulted object. Every problem is a ConfigError naming the key path
// (`port.driver`, `addresses[1]`), never a stack trace from deep inside.
//
// {
//   "node":      { "id": 1, "name": "n1" },
//   "port":      { "driver": "tap:n1tap" | "af_packet:n1nic" | "dpdk:<EAL device args>",
//                  "mac": "02:00:00:00:00:01", "queues": 1, "promiscuous": false,
//                  "offload": true (tap only), "spinUs": 0 (idle spin before parking; dpdk: 50) },
//   "addresses": ["198.18.0.1/24"],
//   "workers":   1,
//   "pool":      { "slots": 8192 },
//   "rings":     { "rx": 1024, "tx": 1024 },
//   "services":  [{ "app": "http", "ports": 80, "address": "198.18.0.1",   (address: default all)
//                   "options": { "root": "/srv/www" },
//                   "mode": "plain" | "snoop" | "mirror" },   (snoop/mirror: a backup shadows the
//                                                             connections; needs "cluster")
//                 { "app": "udp-reflect", "ports": [9000, 9099] }],
//   "faults":    { "seed": 1,                       (injected impairments, see dataplane/fault.ts)
//                  "rx": { "loss": 0.01, "duplicate": 0, "reorder": 0, "corrupt": 0,
//                          "delayMs": 0, "jitterMs": 0, "reorderGap": 3, "reorderHoldMs": 10 },
//                  "tx": { … } },
//   "tcp":       { "mss": 1460, "sendBuffer": 262144, … }   (dataplane/tcp/stack.ts TcpConfig)
//   "cluster":   { "peers": [2, 3], "key": "<hex, 16+ bytes>" | "keyFile": "/path",
//                  "id": 1, "heartbeatMs": 10, "misses": 4, "lossGraceMs": 1000,
//                  "failover": "backup" | "spread", "backups": [2, 3],
//                  "arp": "unicast" | "multicast", "ports": [0, 65535],
//                  "quorum": true, "application": "echo" }
// }
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { parseIpv4 } from '../dataplane/net/ipv4.js';
import { AppConfigError, type AppOptions } from '../dataplane/app/api.js';
import { TCP_APP_NAMES, appFactory, isTcpAppName, type TcpAppName } from '../dataplane/app/registry.js';
import { DEFAULT_TCP_CONFIG, type TcpConfig } from '../dataplane/tcp/stack.js';
import { FAULT_DEFAULTS, FAULT_MAX_DELAY_MS, faultsActive, type FaultConfig, type FaultParams } from '../dataplane/fault.js';

export type DriverKind = 'tap' | 'af_packet' | 'dpdk';

export interface PortConfig {
  readonly kind: DriverKind;
  /** Interface name (tap, af_packet) or the EAL device arguments (dpdk). */
  readonly target: string;
  /** Locally administered MAC; derived from the node id when absent. */
  readonly mac: string;
  readonly queues: number;
  readonly promiscuous: boolean;
  /**
   * TAP segmentation and checksum offload (native/src/vnet.h): large TCP
   * segments both ways. Default on for a tap port, cluster nodes and snoop
   * or mirror services included (mirror copies and forwarded segments keep a
   * frame's offload flags; a backup snoops large frames whole); off elsewhere
   * (DPDK and AF_PACKET have none).
   */
  readonly offload: boolean;
  /**
   * Idle spin before a poller or worker parks, in µs (0-1000). On TAP and
   * AF_PACKET every idle pass of the poller is a read() syscall that finds
   * nothing, and parking (poll() on the device) costs less than spinning
   * across the gaps between bursts: default 0 there. DPDK polls memory
   * (memif, a NIC's ring): default 50, which absorbs back-to-back bursts.
   */
  readonly spinUs: number;
}

export interface AddressConfig {
  readonly ip: number;
  readonly prefixLen: number;
  readonly text: string;
}

export type ServiceApp = TcpAppName | 'udp-reflect';

export interface ServiceConfig {
  /**
   * Built-in application: a TCP application from dataplane/app/registry.ts
   * (echo, discard, chargen, http), or `udp-reflect` (sends every datagram
   * back; a benchmark peer).
   */
  readonly app: ServiceApp;
  /** Inclusive destination port range (`"ports": 80` is [80, 80]). */
  readonly ports: readonly [number, number];
  /** The one node address served (u32), or null: every address of the node. */
  readonly address: number | null;
  /** The application's options, already validated by its factory. */
  readonly options: AppOptions;
  /**
   * How a backup knows this service's connections (ARCHITECTURE.md service
   * modes): `plain` — it does not; `snoop` — it observes both directions on
   * the shared segment (promiscuous, a hub); `mirror` — the primary sends it a
   * copy of every frame. In both of the latter the backup keeps a shadow of
   * every connection and takes it over when the primary fails.
   */
  readonly mode: ServiceMode;
}

export type ServiceMode = 'plain' | 'snoop' | 'mirror';

export interface ClusterConfig {
  /** Cluster id: frames of another cluster are counted and ignored. */
  readonly id: number;
  /** Node ids of the other members. */
  readonly peers: readonly number[];
  /** HMAC-SHA256 key every control message is authenticated with. */
  readonly key: Uint8Array;
  readonly heartbeatMs: number;
  /** Missed heartbeats after which a member is failed (detection ≈ heartbeatMs × misses). */
  readonly misses: number;
  /**
   * While this node's port loses frames on their way in (its receive queue
   * overflowed), a peer's silence is put off, up to this long past its last
   * heartbeat (native/src/cluster_beat.h); 0: never.
   */
  readonly lossGraceMs: number;
  readonly failover: 'backup' | 'spread';
  /** Ordered backup list (failover "backup"); defaults to the peers in order. */
  readonly backups: readonly number[];
  readonly arp: 'unicast' | 'multicast';
  /** The port range this node serves on its addresses. */
  readonly ports: readonly [number, number];
  /** Takeovers need a majority of the cluster (3+ nodes). */
  readonly quorum: boolean;
  /** The application named in this node's ownership record. */
  readonly application: string;
}

export interface NodeConfig {
  readonly node: { readonly id: number; readonly name: string };
  readonly port: PortConfig;
  readonly addresses: readonly AddressConfig[];
  readonly workers: number;
  readonly pool: { readonly slots: number };
  readonly rings: { readonly rx: number; readonly tx: number };
  readonly services: readonly ServiceConfig[];
  /** Flows each worker's flow table holds. */
  readonly flowsPerWorker: number;
  /** Injected impairments; null when none are configured (the normal case). */
  readonly faults: FaultConfig | null;
  /** TCP stack settings for every worker (defaults from dataplane/tcp/stack.ts). */
  readonly tcp: Readonly<Partial<TcpConfig>>;
  /** Cluster membership, ownership and failure detection; null = a standalone node. */
  readonly cluster: ClusterConfig | null;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

function isObj(v: Json | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(o: Obj, path: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      const where = path === '' ? k : `${path}.${k}`;
      throw new ConfigError(where, `unknown key (allowed here: ${allowed.join(', ')})`);
    }
  }
}

function obj(o: Obj, key: string, path: string, required: boolean): Obj | undefined {
  const v = o[key];
  if (v === undefined) {
    if (required) throw new ConfigError(path, 'missing');
    return undefined;
  }
  if (!isObj(v)) throw new ConfigError(path, `expected an object, got ${JSON.stringify(v)}`);
  return v;
}

function int(v: Json | undefined, path: string, dflt: number | undefined, min: number, max: number): number {
  if (v === undefined) {
    if (dflt === undefined) throw new ConfigError(path, 'missing');
    return dflt;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(path, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function pow2(v: Json | undefined, path: string, dflt: number, min: number, max: number): number {
  const n = int(v, path, dflt, min, max);
  if ((n & (n - 1)) !== 0) throw new ConfigError(path, `expected a power of two, got ${n}`);
  return n;
}

function str(v: Json | undefined, path: string, dflt?: string): string {
  if (v === undefined) {
    if (dflt === undefined) throw new ConfigError(path, 'missing');
    return dflt;
  }
  if (typeof v !== 'string' || v === '') throw new ConfigError(path, `expected a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function bool(v: Json | undefined, path: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new ConfigError(path, `expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** A finite number in [min, max]. */
function num(v: Json | undefined, path: string, dflt: number, min: number, max: number, what: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new ConfigError(path, `expected ${what} from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * `tcp`: the per-worker TCP stack (dataplane/tcp/stack.ts TcpConfig); every
 * key optional. Buffers are powers of two; times in milliseconds.
 */
function tcpConfig(root: Obj): Readonly<Partial<TcpConfig>> {
  const t = obj(root, 'tcp', 'tcp', false);
  if (t === undefined) return Object.freeze({});
  const d = DEFAULT_TCP_CONFIG;
  checkKeys(t, 'tcp', Object.keys(d).filter((k) => k !== 'resetUnknown'));
  const ms = (k: keyof TcpConfig, min: number, max: number): number => int(t[k], `tcp.${k}`, d[k] as number, min, max);
  const congestion = str(t['congestion'], 'tcp.congestion', d.congestion);
  if (congestion !== 'cubic' && congestion !== 'reno') throw new ConfigError('tcp.congestion', `expected "cubic" or "reno", got ${JSON.stringify(congestion)}`);
  const out: TcpConfig = {
    mss: int(t['mss'], 'tcp.mss', d.mss, 536, 1460),
    sendBuffer: pow2(t['sendBuffer'], 'tcp.sendBuffer', d.sendBuffer, 4096, 1 << 26),
    recvBuffer: pow2(t['recvBuffer'], 'tcp.recvBuffer', d.recvBuffer, 4096, 1 << 26),
    sendBufferMax: pow2(t['sendBufferMax'], 'tcp.sendBufferMax', Math.max(d.sendBufferMax, Number(t['sendBuffer'] ?? 0) || 0), 4096, 1 << 26),
    sendBufferBudget: int(t['sendBufferBudget'], 'tcp.sendBufferBudget', d.sendBufferBudget, 0, 2 ** 40),
    maxConnections: int(t['maxConnections'], 'tcp.maxConnections', d.maxConnections, 16, 1 << 20),
    synBacklog: int(t['synBacklog'], 'tcp.synBacklog', d.synBacklog, 0, 1 << 20),
    timeWaitMs: ms('timeWaitMs', 0, 240_000),
    finWait2Ms: ms('finWait2Ms', 1, 3_600_000),
    delayedAckMs: ms('delayedAckMs', 1, 500),
    rtoInitialMs: ms('rtoInitialMs', 10, 60_000),
    rtoMinMs: ms('rtoMinMs', 1, 60_000),
    rtoMaxMs: ms('rtoMaxMs', 100, 600_000),
    maxRetries: ms('maxRetries', 1, 100),
    synRetries: ms('synRetries', 1, 20),
    keepaliveIdleMs: ms('keepaliveIdleMs', 0, 86_400_000),
    keepaliveIntervalMs: ms('keepaliveIntervalMs', 10, 86_400_000),
    keepaliveProbes: ms('keepaliveProbes', 1, 100),
    congestion,
    challengeAckLimit: ms('challengeAckLimit', 1, 1_000_000),
    windowScale: bool(t['windowScale'], 'tcp.windowScale', d.windowScale),
    timestamps: bool(t['timestamps'], 'tcp.timestamps', d.timestamps),
    sack: bool(t['sack'], 'tcp.sack', d.sack),
    resetUnknown: true,
    takeoverQuietMs: ms('takeoverQuietMs', 0, 600_000),
  };
  if (out.rtoMinMs > out.rtoMaxMs) throw new ConfigError('tcp.rtoMinMs', `must not exceed tcp.rtoMaxMs (${out.rtoMaxMs})`);
  if (out.sendBufferMax < out.sendBuffer) throw new ConfigError('tcp.sendBufferMax', `must not be below tcp.sendBuffer (${out.sendBuffer})`);
  return Object.freeze(out);
}

const FAULT_KEYS = ['loss', 'duplicate', 'reorder', 'corrupt', 'delayMs', 'jitterMs', 'reorderGap', 'reorderHoldMs'] as const;

function faultParams(o: Obj, path: string): FaultParams | null {
  checkKeys(o, path, FAULT_KEYS);
  const p = (k: 'loss' | 'duplicate' | 'reorder' | 'corrupt'): number => num(o[k], `${path}.${k}`, 0, 0, 1, 'a probability');
  const ms = (k: 'delayMs' | 'jitterMs' | 'reorderHoldMs'): number =>
    num(o[k], `${path}.${k}`, FAULT_DEFAULTS[k], 0, FAULT_MAX_DELAY_MS, 'milliseconds');
  const params: FaultParams = Object.freeze({
    loss: p('loss'),
    duplicate: p('duplicate'),
    reorder: p('reorder'),
    corrupt: p('corrupt'),
    delayMs: ms('delayMs'),
    jitterMs: ms('jitterMs'),
    reorderGap: int(o['reorderGap'], `${path}.reorderGap`, FAULT_DEFAULTS.reorderGap, 1, 1024),
    reorderHoldMs: ms('reorderHoldMs'),
  });
  if (params.delayMs + params.jitterMs > FAULT_MAX_DELAY_MS) {
    throw new ConfigError(`${path}.jitterMs`, `delayMs + jitterMs must stay within ${FAULT_MAX_DELAY_MS} ms`);
  }
  return faultsActive(params) ? params : null;
}

function faultConfig(root: Obj): FaultConfig | null {
  const f = obj(root, 'faults', 'faults', false);
  if (f === undefined) return null;
  checkKeys(f, 'faults', ['seed', 'rx', 'tx']);
  const seed = int(f['seed'], 'faults.seed', 1, 0, 0xffffffff);
  const rxO = obj(f, 'rx', 'faults.rx', false);
  const txO = obj(f, 'tx', 'faults.tx', false);
  const rx = rxO === undefined ? null : faultParams(rxO, 'faults.rx');
  const tx = txO === undefined ? null : faultParams(txO, 'faults.tx');
  return rx === null && tx === null ? null : Object.freeze({ seed, rx, tx });
}

const SERVICE_APPS: readonly string[] = [...TCP_APP_NAMES, 'udp-reflect'];

function serviceConfig(v: Json, p: string, addresses: readonly AddressConfig[], earlier: readonly ServiceConfig[]): ServiceConfig {
  if (!isObj(v)) throw new ConfigError(p, 'expected an object');
  checkKeys(v, p, ['app', 'ports', 'address', 'options', 'mode']);
  const app = str(v['app'], `${p}.app`);
  if (!SERVICE_APPS.includes(app)) throw new ConfigError(`${p}.app`, `unknown application ${JSON.stringify(app)} (available: ${SERVICE_APPS.join(', ')})`);
  const pr = v['ports'];
  let ports: readonly [number, number];
  if (typeof pr === 'number') {
    const n = int(pr, `${p}.ports`, undefined, 1, 65535);
    ports = [n, n];
  } else {
    if (!Array.isArray(pr) || pr.length !== 2) throw new ConfigError(`${p}.ports`, 'expected a port or [first, last]');
    const lo = int(pr[0], `${p}.ports[0]`, undefined, 1, 65535);
    ports = [lo, int(pr[1], `${p}.ports[1]`, undefined, lo, 65535)];
  }
  let address: number | null = null;
  if (v['address'] !== undefined) {
    const text = str(v['address'], `${p}.address`);
    address = parseIpv4(text);
    if (address < 0) throw new ConfigError(`${p}.address`, `bad IPv4 address ${JSON.stringify(text)}`);
    if (!addresses.some((a) => a.ip === address)) throw new ConfigError(`${p}.address`, `${text} is not one of this node's addresses`);
  }
  const optionsV = v['options'] ?? {};
  if (!isObj(optionsV)) throw new ConfigError(`${p}.options`, 'expected an object');
  const options: AppOptions = Object.freeze({ ...optionsV });
  if (isTcpAppName(app)) {
    try {
      // The factory is the one judge of its options; a worker builds its own instance later.
      appFactory(app)(options);
    } catch (err) {
      if (!(err instanceof AppConfigError)) throw err;
      throw new ConfigError(`${p}.options.${err.key}`, err.message.slice(err.key.length + 2));
    }
  } else {
    checkKeys(optionsV, `${p}.options`, []);
    if (address !== null) throw new ConfigError(`${p}.address`, 'udp-reflect serves every node address (address is for TCP applications)');
  }
  const tcp = isTcpAppName(app);
  const mode = str(v['mode'], `${p}.mode`, 'plain');
  if (mode !== 'plain' && mode !== 'snoop' && mode !== 'mirror') throw new ConfigError(`${p}.mode`, `expected "plain", "snoop" or "mirror", got ${JSON.stringify(mode)}`);
  if (mode !== 'plain' && !tcp) throw new ConfigError(`${p}.mode`, `${mode} is for TCP applications`);
  for (const e of earlier) {
    if (isTcpAppName(e.app) !== tcp) continue;
    const sameAddress = e.address === null || address === null || e.address === address;
    if (sameAddress && e.ports[0] <= ports[1] && ports[0] <= e.ports[1]) {
      throw new ConfigError(`${p}.ports`, `overlaps ${e.app} on ports ${e.ports[0]}-${e.ports[1]}`);
    }
  }
  return Object.freeze({ app: app as ServiceApp, ports: Object.freeze(ports), address, options, mode });
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IFNAME_RE = /^[A-Za-z0-9_.@-]{1,15}$/;

function parseDriver(v: Json | undefined, path: string): { kind: DriverKind; target: string } {
  const s = str(v, path);
  const colon = s.indexOf(':');
  const kind = colon < 0 ? s : s.slice(0, colon);
  const target = colon < 0 ? '' : s.slice(colon + 1);
  if (kind !== 'tap' && kind !== 'af_packet' && kind !== 'dpdk') {
    throw new ConfigError(path, `expected tap:<ifname>, af_packet:<ifname> or dpdk:<EAL device args>, got ${JSON.stringify(s)}`);
  }
  if (kind !== 'dpdk' && !IFNAME_RE.test(target)) {
    throw new ConfigError(path, `${kind}: expected an interface name (1-15 characters), got ${JSON.stringify(target)}`);
  }
  if (kind === 'dpdk' && target.trim() === '') throw new ConfigError(path, 'dpdk: expected EAL device arguments, e.g. dpdk:--vdev=net_tap0,iface=dtap0');
  return { kind, target };
}

/** 02:ba:70:00:hi:lo — locally administered, unicast, from the node id. */
export function defaultMac(nodeId: number): string {
  const h = (n: number): string => n.toString(16).padStart(2, '0');
  return `02:ba:70:00:${h((nodeId >> 8) & 0xff)}:${h(nodeId & 0xff)}`;
}

export function validateConfig(raw: unknown): NodeConfig {
  const root = raw as Json;
  if (!isObj(root)) throw new ConfigError('(top)', 'expected a JSON object');
  checkKeys(root, '', ['node', 'port', 'addresses', 'workers', 'pool', 'rings', 'services', 'flowsPerWorker', 'faults', 'tcp', 'cluster']);

  const nodeO = obj(root, 'node', 'node', true)!;
  checkKeys(nodeO, 'node', ['id', 'name']);
  const id = int(nodeO['id'], 'node.id', undefined, 1, 65535);
  const name = str(nodeO['name'], 'node.name', `n${id}`);

  const portO = obj(root, 'port', 'port', true)!;
  checkKeys(portO, 'port', ['driver', 'mac', 'queues', 'promiscuous', 'offload', 'spinUs']);
  const drv = parseDriver(portO['driver'], 'port.driver');
  const mac = str(portO['mac'], 'port.mac', defaultMac(id)).toLowerCase();
  if (!MAC_RE.test(mac)) throw new ConfigError('port.mac', `expected xx:xx:xx:xx:xx:xx, got ${JSON.stringify(mac)}`);
  if ((parseInt(mac.slice(0, 2), 16) & 1) !== 0) throw new ConfigError('port.mac', `${mac} is a multicast address`);
  const queues = int(portO['queues'], 'port.queues', 1, 1, 16);
  const spinUs = int(portO['spinUs'], 'port.spinUs', drv.kind === 'dpdk' ? 50 : 0, 0, 1000);
  // A snooping backup must see frames addressed to other nodes: promiscuous unless told otherwise.
  const snoops = Array.isArray(root['services']) && root['services'].some((v) => isObj(v) && v['mode'] === 'snoop');
  const promiscuous = bool(portO['promiscuous'], 'port.promiscuous', snoops);
  if (snoops && !promiscuous) throw new ConfigError('port.promiscuous', 'a snoop service observes other nodes\' frames: the port must be promiscuous');

  const addrV = root['addresses'];
  if (!Array.isArray(addrV) || addrV.length === 0) throw new ConfigError('addresses', 'expected a non-empty list like ["198.18.0.1/24"]');
  const addresses: AddressConfig[] = addrV.map((a, i) => {
    const p = `addresses[${i}]`;
    const s = str(a, p);
    const [ipText, lenText] = s.split('/');
    const ip = parseIpv4(ipText ?? '');
    const prefixLen = lenText === undefined ? 32 : Number(lenText);
    if (ip < 0) throw new ConfigError(p, `bad IPv4 address ${JSON.stringify(s)}`);
    if (!Number.isInteger(prefixLen) || prefixLen < 1 || prefixLen > 32) throw new ConfigError(p, `bad prefix length in ${JSON.stringify(s)}`);
    if (ip === 0 || ip >>> 28 === 0xe || ip >>> 24 === 127 || ip === 0xffffffff) throw new ConfigError(p, `${ipText} is not a unicast host address`);
    return { ip, prefixLen, text: s };
  });

  const workers = int(root['workers'], 'workers', 1, 1, 64);
  const poolO = obj(root, 'pool', 'pool', false) ?? {};
  checkKeys(poolO, 'pool', ['slots']);
  const slots = pow2(poolO['slots'], 'pool.slots', 8192, 256, 1 << 20);
  const ringsO = obj(root, 'rings', 'rings', false) ?? {};
  checkKeys(ringsO, 'rings', ['rx', 'tx']);
  const rx = pow2(ringsO['rx'], 'rings.rx', 1024, 64, 1 << 16);
  const tx = pow2(ringsO['tx'], 'rings.tx', 1024, 64, 1 << 16);
  if (slots < workers * (rx + tx)) {
    throw new ConfigError('pool.slots', `${slots} slots cannot fill ${workers} worker(s) × (rx ${rx} + tx ${tx}) ring entries; raise pool.slots or lower rings`);
  }

  const servicesV = root['services'] ?? [];
  if (!Array.isArray(servicesV)) throw new ConfigError('services', 'expected a list');
  const services: ServiceConfig[] = [];
  servicesV.forEach((v, i) => services.push(serviceConfig(v, `services[${i}]`, addresses, services)));
  const flowsPerWorker = int(root['flowsPerWorker'], 'flowsPerWorker', 65536, 16, 1 << 22);

  const clusterO = obj(root, 'cluster', 'cluster', false);
  const cluster = clusterO === undefined ? null : parseCluster(clusterO, id, services, addresses.length);
  // Cluster nodes and snoop or mirror services too: mirror copies, snooped
  // frames and forwarded segments keep a frame's offload flags (dataplane/mirror.ts, worker.ts).
  const offloadable = drv.kind === 'tap';
  const offload = bool(portO['offload'], 'port.offload', offloadable);
  if (offload && !offloadable) throw new ConfigError('port.offload', 'only a tap port has segmentation offload');
  services.forEach((sv, i) => {
    if (sv.mode !== 'plain' && cluster === null) throw new ConfigError(`services[${i}].mode`, `${sv.mode} needs a cluster section (a backup to shadow the connections)`);
  });

  return Object.freeze({
    cluster,
    services: Object.freeze(services),
    flowsPerWorker,
    faults: faultConfig(root),
    tcp: tcpConfig(root),
    node: Object.freeze({ id, name }),
    port: Object.freeze({ kind: drv.kind, target: drv.target, mac, queues, promiscuous, offload, spinUs }),
    addresses: Object.freeze(addresses.map((a) => Object.freeze(a))),
    workers,
    pool: Object.freeze({ slots }),
    rings: Object.freeze({ rx, tx }),
  });
}

const HEX_RE = /^(?:[0-9a-f]{2})+$/i;

function idList(v: Json | undefined, path: string): number[] {
  if (!Array.isArray(v)) throw new ConfigError(path, 'expected a list of node ids like [2, 3]');
  const out = v.map((x, i) => int(x, `${path}[${i}]`, undefined, 1, 65535));
  if (new Set(out).size !== out.length) throw new ConfigError(path, `node ids repeat in ${JSON.stringify(out)}`);
  return out;
}

function parseCluster(o: Obj, self: number, services: readonly ServiceConfig[], addressCount: number): ClusterConfig {
  checkKeys(o, 'cluster', ['id', 'peers', 'key', 'keyFile', 'heartbeatMs', 'misses', 'lossGraceMs', 'failover', 'backups', 'arp', 'ports', 'quorum', 'application']);
  const id = int(o['id'], 'cluster.id', 1, 1, 0xffffffff);
  const peers = idList(o['peers'], 'cluster.peers');
  if (peers.length === 0) throw new ConfigError('cluster.peers', 'expected at least one peer');
  if (peers.includes(self)) throw new ConfigError('cluster.peers', `lists this node's own id ${self}`);
  if (peers.length > 31) throw new ConfigError('cluster.peers', 'at most 31 peers');
  if (addressCount > 8) throw new ConfigError('addresses', 'a cluster node has at most 8 addresses (its ownership record must fit one frame)');
  let keyHex: string;
  if (o['key'] !== undefined && o['keyFile'] !== undefined) throw new ConfigError('cluster.key', 'give key or keyFile, not both');
  if (o['keyFile'] !== undefined) {
    const f = str(o['keyFile'], 'cluster.keyFile');
    try {
      keyHex = readFileSync(isAbsolute(f) ? f : resolve(f), 'utf8').trim();
    } catch (err) {
      throw new ConfigError('cluster.keyFile', `cannot read ${f}: ${(err as Error).message}`);
    }
  } else if (o['key'] !== undefined) {
    keyHex = str(o['key'], 'cluster.key');
  } else {
    throw new ConfigError('cluster.key', 'missing: every control message is authenticated; give key (hex) or keyFile');
  }
  const keyPath = o['keyFile'] !== undefined ? 'cluster.keyFile' : 'cluster.key';
  if (!HEX_RE.test(keyHex) || keyHex.length < 32) throw new ConfigError(keyPath, 'expected at least 16 bytes as hex (32+ hex digits)');
  const heartbeatMs = int(o['heartbeatMs'], 'cluster.heartbeatMs', 10, 1, 10_000);
  const misses = int(o['misses'], 'cluster.misses', 4, 2, 1000);
  const lossGraceMs = int(o['lossGraceMs'], 'cluster.lossGraceMs', 1000, 0, 60_000);
  const failover = str(o['failover'], 'cluster.failover', 'backup');
  if (failover !== 'backup' && failover !== 'spread') throw new ConfigError('cluster.failover', `expected "backup" or "spread", got ${JSON.stringify(failover)}`);
  const backups = o['backups'] === undefined ? peers : idList(o['backups'], 'cluster.backups');
  for (const b of backups) if (!peers.includes(b)) throw new ConfigError('cluster.backups', `${b} is not in cluster.peers`);
  const arp = str(o['arp'], 'cluster.arp', 'unicast');
  if (arp !== 'unicast' && arp !== 'multicast') throw new ConfigError('cluster.arp', `expected "unicast" or "multicast", got ${JSON.stringify(arp)}`);
  let ports: [number, number] = [0, 65535];
  if (o['ports'] !== undefined) {
    const pr = o['ports'];
    if (!Array.isArray(pr) || pr.length !== 2) throw new ConfigError('cluster.ports', 'expected [first, last]');
    const lo = int(pr[0], 'cluster.ports[0]', undefined, 0, 65535);
    ports = [lo, int(pr[1], 'cluster.ports[1]', undefined, lo, 65535)];
  }
  const quorum = bool(o['quorum'], 'cluster.quorum', true);
  const application = str(o['application'], 'cluster.application', services[0]?.app ?? 'echo');
  return Object.freeze({
    id, peers: Object.freeze(peers), key: Buffer.from(keyHex, 'hex'), heartbeatMs, misses, lossGraceMs, failover, backups: Object.freeze(backups),
    arp, ports: Object.freeze(ports), quorum, application,
  });
}

export function loadConfig(file: string): NodeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('(file)', `cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('(file)', `${file} is not valid JSON: ${(err as Error).message}`);
  }
  return validateConfig(raw);
}
