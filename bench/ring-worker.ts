// One side of the ring.spsc.burst32 benchmark (bench/ring.bench.ts), run in
// its own worker thread. The producer writes frame descriptors (4 words, a
// sequence number in word 0) in bursts; the consumer checks the sequence and
// timestamps the sample boundaries. Idle handling is spin, then a short
// Atomics.wait on a private word, so a descheduled peer costs little.
import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer, RingProducer } from '../shm/ring.js';
import { DESC_FLAG_HASH_VALID, SLOT_HEADROOM, descData, descMeta } from '../shm/layout.js';

export interface RingBenchJob {
  readonly role: 'producer' | 'consumer';
  readonly sab: SharedArrayBuffer;
  readonly offset: number;
  readonly burst: number;
  readonly warmupItems: number;
  readonly sampleItems: number;
  readonly samples: number;
}

export interface RingBenchResult {
  readonly role: 'producer' | 'consumer';
  /** Consumer only: performance.now() at the end of warm-up and of each sample. */
  readonly marks: readonly number[];
  readonly items: number;
  readonly errors: number;
}

const idleWord = new Int32Array(new SharedArrayBuffer(4));
// About a millisecond of polling: long enough that a peer draining or filling
// a whole ring is never mistaken for an idle one (napping both sides at once
// would halve the measured rate), short enough to yield a shared core.
const SPINS_BEFORE_WAIT = 20_000;

function idle(spins: number): number {
  if (spins < SPINS_BEFORE_WAIT) return spins + 1;
  Atomics.wait(idleWord, 0, 0, 0.02);
  return spins;
}

function produce(ring: RingProducer, total: number, burst: number): number {
  const d = ring.desc;
  const meta = descMeta(1514, 0, DESC_FLAG_HASH_VALID);
  const data = descData(SLOT_HEADROOM);
  let seq = 0;
  let spins = 0;
  while (seq < total) {
    const left = total - seq;
    const n = ring.reserve(left < burst ? left : burst);
    if (n === 0) {
      spins = idle(spins);
      continue;
    }
    spins = 0;
    for (let i = 0; i < n; i++) {
      const w = ring.index(i);
      d[w] = seq;
      d[w + 1] = meta;
      d[w + 2] = seq ^ 0x9e3779b9;
      d[w + 3] = data;
      seq++;
    }
    ring.commit(n);
  }
  return seq;
}

function consume(ring: RingConsumer, job: RingBenchJob, marks: Float64Array): { items: number; errors: number } {
  const d = ring.desc;
  const burst = job.burst;
  const sampleItems = job.sampleItems;
  const total = job.warmupItems + sampleItems * job.samples;
  let seq = 0;
  let errors = 0;
  let nextMark = job.warmupItems;
  let mark = 0;
  let spins = 0;
  while (seq < total) {
    const n = ring.available(burst);
    if (n === 0) {
      spins = idle(spins);
      continue;
    }
    spins = 0;
    for (let i = 0; i < n; i++) {
      const w = ring.index(i);
      if (d[w] !== seq || ((d[w + 2]! ^ seq) >>> 0) !== 0x9e3779b9) errors++;
      seq++;
    }
    ring.release(n);
    if (seq >= nextMark) {
      marks[mark++] = performance.now();
      nextMark += sampleItems;
    }
  }
  return { items: seq, errors };
}

const job = workerData as RingBenchJob;
let result: RingBenchResult;
if (job.role === 'producer') {
  const items = produce(new RingProducer(job.sab, job.offset), job.warmupItems + job.sampleItems * job.samples, job.burst);
  result = { role: 'producer', marks: [], items, errors: 0 };
} else {
  // Preallocated so that taking a mark never reshapes an array mid-run.
  const marks = new Float64Array(job.samples + 1);
  const r = consume(new RingConsumer(job.sab, job.offset), job, marks);
  result = { role: 'consumer', marks: Array.from(marks), items: r.items, errors: r.errors };
}
parentPort!.postMessage(result);
