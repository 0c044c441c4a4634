// Packet-I/O benchmarks (io.native_ring, io.memif.reflect_pps, and the
// io.<device>.ratio_vs_testpmd figures of io-devices.ts).
// io.native_ring: descriptors per second from a native C++ thread (the
// poller's side, acquire/release atomics) into a JS worker thread (the
// worker's side, Atomics on the indices only), bursts of 32, every
// descriptor sequence-checked by the consumer (bench/ring-worker.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { median, type Metric } from './metric.js';
import type { RingBenchJob, RingBenchResult } from './ring-worker.js';
import { formatRing, ringBytes } from '../shm/ring.js';
import { FRAME_DESC_WORDS } from '../shm/layout.js';
import { native } from '../native/addon.js';
import { startNodeProcess } from '../control/node-process.js';
import { deviceRatio, pinDataPlane } from './io-devices.js';

const CAPACITY = 4096;
const BURST = 32;
const WARMUP_ITEMS = 10_000_000;
const SAMPLE_ITEMS = 20_000_000;
const SAMPLES = 5;
const TIME_LIMIT_MS = 120_000;

async function nativeRing(): Promise<Metric> {
  const sab = new SharedArrayBuffer(ringBytes(CAPACITY, FRAME_DESC_WORDS));
  formatRing(sab, 0, { capacity: CAPACITY, descWords: FRAME_DESC_WORDS });
  const job: RingBenchJob = { role: 'consumer', sab, offset: 0, burst: BURST, warmupItems: WARMUP_ITEMS, sampleItems: SAMPLE_ITEMS, samples: SAMPLES };
  const worker = new Worker(new URL('./ring-worker.js', import.meta.url), { workerData: job });
  const done = new Promise<RingBenchResult>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  native.benchProduce(new Uint8Array(sab), WARMUP_ITEMS + SAMPLES * SAMPLE_ITEMS, BURST);
  let timer: NodeJS.Timeout | undefined;
  try {
    const c = await Promise.race([
      done,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('io.native_ring did not finish in time')), TIME_LIMIT_MS);
      }),
    ]);
    if (c.errors !== 0) throw new Error(`io.native_ring: ${c.errors} out-of-sequence descriptors`);
    const rates: number[] = [];
    for (let i = 1; i < c.marks.length; i++) rates.push(SAMPLE_ITEMS / ((c.marks[i]! - c.marks[i - 1]!) / 1000));
    const hz = median(rates);
    return { name: 'io.native_ring', unit: 'M descriptors/s', value: hz / 1e6, hz, samples: rates.length, goal: '>= 20' };
  } finally {
    clearTimeout(timer);
    native.benchJoin();
    await worker.terminate();
  }
}


// io.memif.reflect_pps: dpdk-testpmd (a real DPDK peer nobody here wrote) and
// a Baton node on net_memif. testpmd injects one burst (--tx-first) and then
// runs 5tswap — it swaps L2/L3/L4 and sends back everything it receives —
// while Baton's worker parses each UDP frame, classifies it in its flow table
// and reflects it (the udp-reflect application). The frames ping-pong with a
// fixed number in flight, so testpmd's Rx-pps is Baton's reflect rate (Baton
// is the slower side). Memif is shared memory: no frame touches a network.
// Baton's data-plane threads run on CPU 0, testpmd's forwarding lcore on 1.
const MEMIF_SECONDS = 14;

async function memifReflect(): Promise<Metric> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-memif-'));
  const sock = join(dir, 'memif.sock');
  const mac = '02:ba:70:00:00:05';
  const node = await startNodeProcess({
    node: { id: 5, name: 'bench-memif' },
    port: { driver: `dpdk:--vdev=net_memif0,role=server,socket=${sock},id=0` },
    addresses: ['198.18.0.2/24'],
    workers: 1,
    pool: { slots: 16384 },
    rings: { rx: 2048, tx: 2048 },
    services: [{ app: 'udp-reflect', ports: [9, 9] }],
  }, undefined, 20_000);
  let testpmd: ChildProcess | null = null;
  try {
    // testpmd's forwarding lcore busy-polls CPU 1 (-l 0,1); Baton's poller and
    // worker go to CPU 0. Left to the scheduler, they sometimes shared CPU 1
    // with testpmd in multi-millisecond slices (16 k/s in one run of six).
    // BATON_IO_PIN=0: unpinned.
    if (process.env['BATON_IO_PIN'] !== '0') pinDataPlane(node.child.pid!);
    testpmd = spawn('dpdk-testpmd', [
      '--no-huge', '--no-shconf', '--no-pci', '-m', '1024', '-l', '0,1', '--file-prefix', 'batonbench',
      `--vdev=net_memif0,role=client,socket=${sock},id=0`, '--',
      '--total-num-mbufs=8192', '--forward-mode=5tswap', '--tx-first', '--burst=64',
      `--eth-peer=0,${mac}`, '--tx-ip=198.18.0.1,198.18.0.2', '--stats-period=1',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    testpmd.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => setTimeout(r, MEMIF_SECONDS * 1000));
    const rates = [...out.matchAll(/Rx-pps:\s+(\d+)/g)].map((m) => Number(m[1]));
    // Skip the first two seconds (connection, warm-up).
    const samples = rates.slice(2).filter((r) => r > 0);
    if (samples.length === 0) throw new Error(`io.memif.reflect_pps: testpmd reported no traffic:\n${out.slice(-2000)}`);
    const hz = median(samples);
    return { name: 'io.memif.reflect_pps', unit: 'packets/s', value: hz, hz, samples: samples.length, goal: '>= 2000000' };
  } finally {
    testpmd?.kill('SIGINT');
    await node.stop();
    if (testpmd !== null && testpmd.exitCode === null) testpmd.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

// BATON_IO_BENCH=memif,tap,… runs only the named parts (native_ring, memif, tap, af_packet, dpdk_tap).
const parts: Record<string, () => Promise<Metric[]>> = {
  native_ring: async () => [await nativeRing()],
  memif: async () => [await memifReflect()],
  tap: () => deviceRatio('tap'),
  af_packet: () => deviceRatio('af_packet'),
  dpdk_tap: () => deviceRatio('dpdk_tap'),
};

export async function run(): Promise<Metric[]> {
  const only = (process.env['BATON_IO_BENCH'] ?? '').split(',').filter((s) => s !== '');
  for (const name of only) if (!(name in parts)) throw new Error(`BATON_IO_BENCH: unknown part ${name} (${Object.keys(parts).join(', ')})`);
  const out: Metric[] = [];
  for (const [name, part] of Object.entries(parts)) if (only.length === 0 || only.includes(name)) out.push(...(await part()));
  return out;
}
