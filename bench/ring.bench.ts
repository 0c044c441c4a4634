// ring.spsc.burst32: frame descriptors per second through one SPSC ring, with
// the producer and the consumer in two worker threads (the machine has two
// cores: this is the poller→worker shape, both sides JS). Bursts of 32 on
// both sides, 4-word descriptors, sequence-checked by the consumer.
//
// tinybench times single-thread tasks; this is a custom timed run instead:
// one warm-up stretch, then `samples` stretches of `sampleItems` descriptors,
// each timed by the consumer. `value` is the median sample in M descriptors/s,
// `hz` the same in descriptors/s.
import { Worker } from 'node:worker_threads';
import { median, type Metric } from './metric.js';
import type { RingBenchJob, RingBenchResult } from './ring-worker.js';
import { formatRing, ringBytes } from '../shm/ring.js';
import { FRAME_DESC_WORDS } from '../shm/layout.js';

const CAPACITY = 4096;
const BURST = 32;
const WARMUP_ITEMS = 20_000_000;
const SAMPLE_ITEMS = 25_000_000;
const SAMPLES = 5;
const TIME_LIMIT_MS = 120_000;

function runWorker(job: RingBenchJob): { worker: Worker; done: Promise<RingBenchResult> } {
  const worker = new Worker(new URL('./ring-worker.js', import.meta.url), { workerData: job });
  const done = new Promise<RingBenchResult>((resolve, reject) => {
    worker.once('message', (m: RingBenchResult) => resolve(m));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`ring bench ${job.role} exited with ${code}`));
    });
  });
  return { worker, done };
}

export async function run(): Promise<Metric[]> {
  const sab = new SharedArrayBuffer(ringBytes(CAPACITY, FRAME_DESC_WORDS));
  formatRing(sab, 0, { capacity: CAPACITY, descWords: FRAME_DESC_WORDS });
  const base = { sab, offset: 0, burst: BURST, warmupItems: WARMUP_ITEMS, sampleItems: SAMPLE_ITEMS, samples: SAMPLES };
  const consumer = runWorker({ ...base, role: 'consumer' });
  const producer = runWorker({ ...base, role: 'producer' });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`ring bench did not finish in ${TIME_LIMIT_MS} ms`)), TIME_LIMIT_MS);
    });
    const [c] = await Promise.race([Promise.all([consumer.done, producer.done]), timeout]);
    if (c.errors !== 0) throw new Error(`ring bench: consumer saw ${c.errors} out-of-sequence descriptors`);
    const rates: number[] = [];
    for (let i = 1; i < c.marks.length; i++) rates.push(SAMPLE_ITEMS / ((c.marks[i]! - c.marks[i - 1]!) / 1000));
    const hz = median(rates);
    return [
      {
        name: 'ring.spsc.burst32',
        unit: 'M descriptors/s',
        value: Math.round(hz / 1e4) / 100,
        hz: Math.round(hz),
        samples: rates.length,
        goal: '>= 50',
      },
    ];
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    await Promise.all([consumer.worker.terminate(), producer.worker.terminate()]);
  }
}
