// Packet-I/O benchmarks.
// io.native_ring: descriptors per second from a native C++ thread (the
// poller's side, acquire/release atomics) into a JS worker thread (the
// worker's side, Atomics on the indices only), bursts of 32, every
// descriptor sequence-checked by the consumer (bench/ring-worker.ts).
import { Worker } from 'node:worker_threads';
import type { Metric } from './metric.js';
import type { RingBenchJob, RingBenchResult } from './ring-worker.js';
import { formatRing, ringBytes } from '../shm/ring.js';
import { FRAME_DESC_WORDS } from '../shm/layout.js';
import { native } from '../native/addon.js';

const CAPACITY = 4096;
const BURST = 32;
const WARMUP_ITEMS = 10_000_000;
const SAMPLE_ITEMS = 20_000_000;
const SAMPLES = 5;
const TIME_LIMIT_MS = 120_000;

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

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

export async function run(): Promise<Metric[]> {
  return [await nativeRing()];
}
