// Typed loader for the baton_native addon (native/build/Release/baton_native.node).
// Loaded once per thread; every worker that parks or wakes across the
// native/JS boundary imports it.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BatonError } from '../control/errors.js';

export type FutexWaitResult = 'ok' | 'timed-out' | 'not-equal';

export interface NativeAddon {
  /** Parks the calling thread while words[index] === expected (futex), at most timeoutMs (negative: forever). */
  futexWait(words: Int32Array | Uint32Array, index: number, expected: number, timeoutMs: number): FutexWaitResult;
  /** Wakes up to `count` threads parked on words[index]; returns how many woke. */
  futexWake(words: Int32Array | Uint32Array, index: number, count: number): number;
  /** Opens a packet device; returns a port id. Throws BATON_ERR_PORT with the cause (missing, busy, not permitted). */
  openPort(kind: 'tap' | 'af_packet' | 'dpdk', target: string, options: { queues: number; promiscuous: boolean; mbufPool?: string; rxInterrupts?: boolean; offload?: boolean }): number;
  /** memmove between typed arrays' bytes (either may be over a SharedArrayBuffer); throws on a range outside them. */
  copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void;
  /** What an open port's device does beyond plain frames: PORT_OFFLOAD_* bits. */
  portOffloads(id: number): number;
  /**
   * A snooping backup's port: TCP frames from the IPv4 sources `ips` (the
   * primaries it shadows) reach it cut after their headers, but those whose
   * ((seq >>> shift) & mask) === 0 (native/src/backend.h snoop_trim); an
   * empty list removes the cut. False where the device cannot (not a TAP).
   */
  portSnoopTrim(id: number, ips: Uint32Array, shift: number, mask: number): boolean;
  /** native/src/vnet.h, for tests: descriptor flags of a received virtio-net header, or -1 (dropped). */
  vnetRxFlags(header: Uint8Array): number;
  /** native/src/vnet.h, for tests: the virtio-net header sent before `frame`, or null (dropped). */
  vnetTxHeader(frame: Uint8Array, flags: number, gsoSize: number): Uint8Array | null;
  /** Closes a port; its pollers must be stopped first. */
  closePort(id: number): void;
  /**
   * Starts native poller `options.poller` on a port queue, moving frames between
   * the device and the arena's rings. `onControl` runs on the calling (main)
   * thread when the control endpoint has frames while it was parked.
   */
  startPoller(arena: Uint8Array, portId: number, options: PollerOptions, onControl: () => void): number;
  stopPoller(poller: number): void;
  /** Wakes a parked poller: an endpoint queued frames to transmit. Cheap; callable from any thread. */
  kickPoller(poller: number): void;
  /**
   * While the node shadows a primary: poller `poller` spins at least
   * `spinNs` (0-10 ms) before parking; 0 leaves the configured spin.
   */
  setPollerShadowSpin(poller: number, spinNs: number): void;
  /** sched_yield(): lets another thread on this core run (a spinning worker's poller). */
  yieldCpu(): void;
  /** Names the calling thread (at most 15 characters), for per-thread CPU in /proc. */
  setThreadName(name: string): void;
  /** Benchmark only: a native thread produces `total` sequence-checked descriptors into the ring at `ring` (its header). */
  benchProduce(ring: Uint8Array, total: number, burst: number): void;
  benchJoin(): void;
  /** Layout facts of the DPDK this addon was built against, or null when built without libdpdk. */
  dpdkInfo(): Record<string, number> | null;
  /** The poller's symmetric flow hash, for cross-checking dataplane/net/flow-hash.ts. */
  flowHash(srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number, seed: number): number;
  /** The poller's steering of one frame: [0 flow | 1 control | 2 drop, flow hash]. */
  steerClassify(frame: Uint8Array, seed: number): [number, number];
  /**
   * Starts the native heartbeat engine (native/src/cluster_beat.h) with its
   * shared table (control/beat-table.ts). The caller keeps `table` referenced until beatStop().
   */
  beatConfigure(table: Uint8Array, options: BeatOptions): void;
  /** The heartbeat's content; poller 0 sends one at once once kicked, then one per interval. */
  beatSet(incarnation: number, version: number, state: number): void;
  beatStop(): void;
  /** CLOCK_MONOTONIC in ms: the clock of the heartbeat table and of control-frame arrival stamps. */
  monotonicMs(): number;
  /** The heartbeat engine's HMAC-SHA256, for cross-checking against node:crypto. */
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
}

/** portOffloads() bits (native/src/backend.h kOffload*). */
export const PORT_OFFLOAD_CSUM = 1;
export const PORT_OFFLOAD_TSO = 2;

export interface BeatOptions {
  readonly key: Uint8Array;
  readonly cluster: number;
  readonly self: number;
  readonly mac: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Own receive losses put a peer's silence off up to this long past its last heartbeat (default 1000; 0: never). */
  readonly lossGraceMs?: number;
  readonly peers: readonly number[];
}

export interface PollerOptions {
  readonly poller: number;
  readonly queue: number;
  /** Port number carried in descriptors. */
  readonly port: number;
  readonly mac: string;
  readonly promiscuous: boolean;
  readonly seed: number;
  /** Idle loop iterations before parking. */
  readonly spin?: number;
  /** Idle spin before parking, ns (default 50,000); 0 parks as soon as a pass finds nothing. */
  readonly spinNs?: number;
}

const addonPath = fileURLToPath(new URL('../../native/build/Release/baton_native.node', import.meta.url));

function load(): NativeAddon {
  if (!existsSync(addonPath)) {
    throw new BatonError('BATON_ERR_NATIVE', `native addon not built (${addonPath}): run npm install`);
  }
  return createRequire(import.meta.url)(addonPath) as NativeAddon;
}

export const native: NativeAddon = load();
