// Worker-thread side of the shm tests (ring.test.ts, pool.test.ts). Not a
// suite itself: the runner only picks up *.test.js.
//
// Roles:
//   seq-producer / seq-consumer  descriptors carrying a sequence number in all
//                                four words, checked strictly in order
//   pool-poller / pool-endpoint  slots passed both ways through an arena's
//                                rx/tx rings and sent home through free rings,
//                                with payload written and checked every time
// Every loop ends by count and fails past `deadline` (wall clock), and an idle
// side spins briefly then naps with Atomics.wait so two busy tests cannot pin
// both cores.
import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer, RingProducer } from '../../../shm/ring.js';
import { attachArena } from '../../../shm/arena.js';
import { SlotStack } from '../../../shm/pool.js';
import { EndpointCounter, PollerCounter } from '../../../shm/counters.js';
import { DESC_DATA, DESC_META, DESC_SLOT, SLOT_HEADROOM, descData, descLength, descMeta, descOffset } from '../../../shm/layout.js';

export interface SeqJob {
  readonly role: 'seq-producer' | 'seq-consumer';
  readonly sab: SharedArrayBuffer;
  readonly offset: number;
  readonly total: number;
  /** Burst sizes cycled through, e.g. [32] or [7, 1, 13]. */
  readonly bursts: readonly number[];
  readonly deadline: number;
}

export interface PoolJob {
  readonly role: 'pool-poller' | 'pool-endpoint';
  readonly sab: SharedArrayBuffer;
  /** Frames the poller sends; the endpoint answers each with one tx frame. */
  readonly frames: number;
  readonly endpoint: number;
  readonly poller: number;
  readonly deadline: number;
}

export interface SeqResult {
  readonly role: string;
  readonly items: number;
}

export interface PoolResult {
  readonly role: string;
  /** Slots on this side's SlotStack at the end. */
  readonly stack: number[];
  readonly frames: number;
}

const idleWord = new Int32Array(new SharedArrayBuffer(4));

/** Poll ~0.5 ms, then nap 50 µs at a time; checks the deadline while idle. */
function idle(spins: number, deadline: number, what: string): number {
  if (spins < 10_000) return spins + 1;
  if (Date.now() > deadline) throw new Error(`${what}: deadline passed while idle`);
  Atomics.wait(idleWord, 0, 0, 0.05);
  return spins;
}

/** Word w of descriptor for sequence number s: all four words are derived from s. */
function seqWord(s: number, w: number): number {
  return (Math.imul(s, 2 * w + 1) ^ (w * 0x9e3779b9)) >>> 0;
}

function seqProducer(job: SeqJob): SeqResult {
  const ring = new RingProducer(job.sab, job.offset);
  const d = ring.desc;
  let seq = 0;
  let b = 0;
  let spins = 0;
  while (seq < job.total) {
    const want = Math.min(job.bursts[b]!, job.total - seq);
    b = b + 1 === job.bursts.length ? 0 : b + 1;
    const n = ring.reserve(want);
    if (n === 0) {
      spins = idle(spins, job.deadline, 'seq-producer');
      continue;
    }
    spins = 0;
    for (let i = 0; i < n; i++) {
      const x = ring.index(i);
      d[x] = seq;
      d[x + 1] = seqWord(seq, 1);
      d[x + 2] = seqWord(seq, 2);
      d[x + 3] = seqWord(seq, 3);
      seq++;
    }
    ring.commit(n);
  }
  return { role: job.role, items: seq };
}

function seqConsumer(job: SeqJob): SeqResult {
  const ring = new RingConsumer(job.sab, job.offset);
  const d = ring.desc;
  let seq = 0;
  let b = 0;
  let spins = 0;
  while (seq < job.total) {
    const n = ring.available(job.bursts[b]!);
    b = b + 1 === job.bursts.length ? 0 : b + 1;
    if (n === 0) {
      spins = idle(spins, job.deadline, 'seq-consumer');
      continue;
    }
    spins = 0;
    for (let i = 0; i < n; i++) {
      const x = ring.index(i);
      if (d[x] !== seq >>> 0 || d[x + 1] !== seqWord(seq, 1) || d[x + 2] !== seqWord(seq, 2) || d[x + 3] !== seqWord(seq, 3)) {
        throw new Error(`seq-consumer: expected ${seq}, got [${d[x]}, ${d[x + 1]}, ${d[x + 2]}, ${d[x + 3]}]`);
      }
      seq++;
    }
    ring.release(n);
  }
  // Nothing beyond the count may have been published.
  if (ring.available(1) !== 0) throw new Error('seq-consumer: more descriptors than were sent');
  return { role: job.role, items: seq };
}

// Payload of frame `seq`: rx frames carry seq, tx frames ~seq, in the first
// and last word of a `len`-byte frame whose length depends on seq.
const RX_MARK = 0x52580000;
const TX_MARK = 0x54580000;

function frameLength(seq: number): number {
  return 64 + (seq % 1400);
}

function writeFrame(bytes: DataView, at: number, len: number, seq: number, mark: number): void {
  bytes.setUint32(at, seq >>> 0, true);
  bytes.setUint32(at + 4, mark | (len & 0xffff), true);
  bytes.setUint32(at + len - 4, ~seq >>> 0, true);
}

function checkFrame(bytes: DataView, at: number, len: number, seq: number, mark: number, what: string): void {
  if (
    bytes.getUint32(at, true) !== seq >>> 0 ||
    bytes.getUint32(at + 4, true) !== (mark | (len & 0xffff)) >>> 0 ||
    bytes.getUint32(at + len - 4, true) !== ~seq >>> 0
  ) {
    throw new Error(`${what}: frame ${seq} payload is wrong (len ${len})`);
  }
}

function poolPoller(job: PoolJob): PoolResult {
  const arena = attachArena(job.sab);
  const pool = arena.pool;
  const me = arena.ownerOfPoller(job.poller);
  const rings = arena.pollerRings(job.poller, job.endpoint);
  const counters = arena.pollerCounters(job.poller);
  const stack = new SlotStack(pool.slotCount);
  stack.pushRange(pool.firstSlotOf(me), pool.slotCountOf(me));
  const view = pool.view;
  let sent = 0;
  let answered = 0;
  let spins = 0;
  while (sent < job.frames || answered < job.frames) {
    let work = stack.refillFrom(rings.freeFromEndpoint, 64);
    // Transmit completions: check the endpoint's answer, then free the slot.
    const t = rings.tx.available(32);
    const td = rings.tx.desc;
    for (let i = 0; i < t; i++) {
      const x = rings.tx.index(i);
      const slot = td[x + DESC_SLOT]!;
      const len = descLength(td[x + DESC_META]!);
      checkFrame(view, pool.slotBase(slot) + descOffset(td[x + DESC_DATA]!), len, answered, TX_MARK, 'pool-poller');
      if (len !== frameLength(answered)) throw new Error(`pool-poller: tx ${answered} length ${len}`);
      if (pool.isHome(slot, me)) stack.push(slot);
      else if (!rings.freeToEndpoint.push(slot)) throw new Error('pool-poller: free ring to endpoint full');
      answered++;
    }
    if (t !== 0) {
      rings.tx.release(t);
      counters.add(PollerCounter.tx_frames, t);
      work += t;
    }
    // Receive: fill slots from our own stack and hand them to the endpoint.
    if (sent < job.frames) {
      const want = Math.min(32, job.frames - sent, stack.size);
      const n = rings.rx.reserve(want);
      const rd = rings.rx.desc;
      for (let i = 0; i < n; i++) {
        const slot = stack.pop();
        const len = frameLength(sent);
        writeFrame(view, pool.slotOffset(slot), len, sent, RX_MARK);
        const x = rings.rx.index(i);
        rd[x + DESC_SLOT] = slot;
        rd[x + DESC_META] = descMeta(len, 0, 0);
        rd[x + 2] = sent;
        rd[x + DESC_DATA] = descData(SLOT_HEADROOM);
        sent++;
      }
      if (n !== 0) {
        rings.rx.commit(n);
        counters.add(PollerCounter.rx_frames, n);
        work += n;
      }
    }
    if (work === 0) spins = idle(spins, job.deadline, 'pool-poller');
    else spins = 0;
  }
  return { role: job.role, stack: stack.toArray(), frames: answered };
}

function poolEndpoint(job: PoolJob): PoolResult {
  const arena = attachArena(job.sab);
  const pool = arena.pool;
  const me = arena.ownerOfEndpoint(job.endpoint);
  const rings = arena.endpointRings(job.endpoint, job.poller);
  const counters = arena.endpointCounters(job.endpoint);
  const stack = new SlotStack(pool.slotCount);
  stack.pushRange(pool.firstSlotOf(me), pool.slotCountOf(me));
  const view = pool.view;
  let done = 0;
  let spins = 0;
  while (done < job.frames) {
    stack.refillFrom(rings.freeFromPoller, 64);
    const avail = rings.rx.available(32);
    const n = avail === 0 ? 0 : rings.tx.reserve(avail);
    if (n === 0) {
      spins = idle(spins, job.deadline, 'pool-endpoint');
      continue;
    }
    spins = 0;
    const rd = rings.rx.desc;
    const td = rings.tx.desc;
    for (let i = 0; i < n; i++) {
      const rx = rings.rx.index(i);
      const slot = rd[rx + DESC_SLOT]!;
      const len = descLength(rd[rx + DESC_META]!);
      if (rd[rx + 2] !== done || len !== frameLength(done)) throw new Error(`pool-endpoint: rx ${done} out of order`);
      if (!pool.isHome(slot, arena.ownerOfPoller(job.poller))) throw new Error(`pool-endpoint: rx slot ${slot} is not the poller's`);
      checkFrame(view, pool.slotBase(slot) + descOffset(rd[rx + DESC_DATA]!), len, done, RX_MARK, 'pool-endpoint');
      // Answer in place on two frames of three; on the third, send the rx
      // slot home and answer from one of our own slots (when we have one).
      let out = slot;
      if (done % 3 === 0 && stack.size !== 0) {
        out = stack.pop();
        if (!rings.freeToPoller.push(slot)) throw new Error('pool-endpoint: free ring to poller full');
      }
      // Move the frame start back by 16 bytes to exercise DESC_DATA.
      const offset = SLOT_HEADROOM - 16;
      writeFrame(view, pool.slotBase(out) + offset, len, done, TX_MARK);
      const tx = rings.tx.index(i);
      td[tx + DESC_SLOT] = out;
      td[tx + DESC_META] = descMeta(len, 0, 0);
      td[tx + 2] = done;
      td[tx + DESC_DATA] = descData(offset);
      done++;
    }
    rings.rx.release(n);
    rings.tx.commit(n);
    counters.add(EndpointCounter.rx_frames, n);
    counters.add(EndpointCounter.tx_frames, n);
  }
  return { role: job.role, stack: stack.toArray(), frames: done };
}

const job = workerData as SeqJob | PoolJob;
let result: SeqResult | PoolResult;
switch (job.role) {
  case 'seq-producer':
    result = seqProducer(job);
    break;
  case 'seq-consumer':
    result = seqConsumer(job);
    break;
  case 'pool-poller':
    result = poolPoller(job);
    break;
  case 'pool-endpoint':
    result = poolEndpoint(job);
    break;
}
parentPort!.postMessage(result);
