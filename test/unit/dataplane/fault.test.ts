// The fault injector on a fake endpoint: statistics within loose bounds,
// determinism for a seed, held frames released by an explicit `now`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SlotStack } from '../../../shm/pool.js';
import { EndpointCounter } from '../../../shm/counters.js';
import {
  FAULT_DEFAULTS,
  FAULT_EVENT_NAMES,
  FaultEvent,
  FaultInjector,
  Xoshiro128,
  deriveFaultSeed,
  type FaultHost,
  type FaultParams,
  type FaultSink,
} from '../../../dataplane/fault.js';
import { DESC_FLAG_CSUM_OK, DESC_FLAG_CSUM_PARTIAL, DESC_FLAG_GSO } from '../../../shm/layout.js';
import { ETHERTYPE_IPV4, writeEthernet } from '../../../dataplane/net/ethernet.js';
import { IP_PROTO_TCP, IPV4_FLAG_DF, writeIpv4Header } from '../../../dataplane/net/ipv4.js';
import { TCP_FLAG_ACK, TCP_HEADER_LEN, writeTcpHeader } from '../../../dataplane/net/tcp.js';
import { pseudoHeaderSum } from '../../../dataplane/net/checksum.js';
import { writeU16 } from '../../../dataplane/net/byte-order.js';
import { FrameMeta, parseFrame, VERIFY_ALL } from '../../../dataplane/net/frame.js';
import { Reason } from '../../../dataplane/net/reason.js';

const SLOT = 2048;
const OFFSET = 128;
/** Home slots of the fake endpoint start here; lower slot numbers play the poller's. */
const HOME_FIRST = 1000;

/** A fake endpoint: a byte pool, a home stack, and a record of everything freed and delivered. */
class FakeEndpoint implements FaultHost, FaultSink {
  readonly bytes = new Uint8Array(1100 * SLOT);
  readonly pool = { slotBase: (s: number): number => s * SLOT };
  readonly stack: SlotStack;
  readonly freed: number[] = [];
  readonly delivered: number[] = [];
  readonly deliveredAt: number[] = [];
  readonly deliveredLen: number[] = [];
  readonly deliveredFlags: number[] = [];
  readonly counts = new Float64Array(16);
  now = 0;

  constructor(homeFree: number) {
    this.stack = new SlotStack(100);
    this.stack.pushRange(HOME_FIRST, homeFree);
  }

  freeSlot(slot: number): void {
    this.freed.push(slot);
  }

  refill(): number {
    return 0;
  }

  faultDeliver(_poller: number, slot: number, _offset: number, len: number, flags: number): void {
    this.delivered.push(slot);
    this.deliveredAt.push(this.now);
    this.deliveredLen.push(len);
    this.deliveredFlags.push(flags);
  }

  inc(i: number): void {
    this.counts[i]! += 1;
  }

  count(e: number): number {
    return this.counts[e]!;
  }
}

function params(p: Partial<FaultParams>): FaultParams {
  return { ...FAULT_DEFAULTS, ...p };
}

function injector(p: Partial<FaultParams>, seed = 1, homeFree = 64, capacity?: number): { f: FaultInjector; ep: FakeEndpoint } {
  const ep = new FakeEndpoint(homeFree);
  const f = new FaultInjector(params(p), seed, ep, ep, ep, 0, capacity);
  return { f, ep };
}

/** Feeds frames 0..n-1 (slot = frame number) at time `now`. */
function feed(f: FaultInjector, ep: FakeEndpoint, n: number, now = 0, len = 100): void {
  ep.now = now;
  f.tick(now);
  for (let i = 0; i < n; i++) f.process(0, i % 1000, OFFSET, len, 0);
}

/** Loose bound: |observed − expected| within 5 standard deviations of a binomial. */
function nearBinomial(observed: number, n: number, p: number, what: string): void {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(observed - n * p) <= 5 * sd + 1, `${what}: ${observed} of ${n}, expected ~${(n * p).toFixed(0)}`);
}

test('without impairments every frame is delivered at once, in order', () => {
  const { f, ep } = injector({});
  feed(f, ep, 500);
  assert.equal(ep.delivered, Array.from({ length: 500 }, (_, i) => i));
  assert.is(f.held, 0);
  assert.is(f.nextDue(), Infinity);
});

test('loss 0.05 drops ~5 % and frees exactly the lost slots', () => {
  const n = 100_000;
  const { f, ep } = injector({ loss: 0.05 });
  feed(f, ep, n);
  nearBinomial(ep.freed.length, n, 0.05, 'lost');
  assert.is(ep.count(FaultEvent.LOSS), ep.freed.length);
  assert.is(ep.delivered.length + ep.freed.length, n);
});

test('loss 1 drops every frame', () => {
  const { f, ep } = injector({ loss: 1 });
  feed(f, ep, 1000);
  assert.is(ep.delivered.length, 0);
  assert.is(ep.freed.length, 1000);
});

test('the same seed replays the same decisions; another seed does not', () => {
  const run = (seed: number): number[] => {
    const { f, ep } = injector({ loss: 0.2, reorder: 0.1, duplicate: 0.05 }, seed, 64);
    feed(f, ep, 2000);
    f.tick(1e6);
    return ep.delivered;
  };
  assert.equal(run(42), run(42));
  assert.not.equal(run(42), run(43));
});

test('duplicate copies the frame into a fresh home slot; with none free the duplicate is skipped and counted', () => {
  const { f, ep } = injector({ duplicate: 1 }, 1, 3);
  for (let i = 0; i < 5; i++) ep.bytes.fill(i + 1, i * SLOT + OFFSET, i * SLOT + OFFSET + 60);
  feed(f, ep, 5, 0, 60);
  // Frames 0..2 each followed by their copy, 3 and 4 alone.
  assert.equal(ep.delivered, [0, 1000, 1, 1001, 2, 1002, 3, 4]);
  for (const [orig, copy] of [[0, 1000], [1, 1001], [2, 1002]] as const) {
    assert.equal(ep.bytes.subarray(copy * SLOT + OFFSET, copy * SLOT + OFFSET + 60), ep.bytes.subarray(orig * SLOT + OFFSET, orig * SLOT + OFFSET + 60));
  }
  assert.is(ep.count(FaultEvent.DUPLICATE), 3);
  assert.is(ep.count(FaultEvent.DUP_NO_SLOT), 2);
});

test('duplicate 0.1 duplicates ~10 % while slots last', () => {
  const { f, ep } = injector({ duplicate: 0.1 }, 7, 100);
  // Return every delivered home slot at once so the stack never runs dry.
  const sink = ep.faultDeliver.bind(ep);
  ep.faultDeliver = (p: number, slot: number, offset: number, len: number, flags: number): void => {
    sink(p, slot, offset, len, flags);
    if (slot >= HOME_FIRST) ep.stack.push(slot);
  };
  feed(f, ep, 20_000);
  nearBinomial(ep.count(FaultEvent.DUPLICATE), 20_000, 0.1, 'duplicated');
  assert.is(ep.delivered.length, 20_000 + ep.count(FaultEvent.DUPLICATE));
});

test('corrupt flips exactly one bit, anywhere in the frame', () => {
  const { f, ep } = injector({ corrupt: 1 }, 3);
  const len = 64;
  const seenByte = new Uint8Array(len);
  for (let i = 0; i < 2000; i++) {
    const s = i % 10;
    const base = s * SLOT + OFFSET;
    ep.bytes.fill(0, base, base + len);
    f.process(0, s, OFFSET, len, 0);
    let bits = 0;
    for (let k = 0; k < len; k++) {
      const b = ep.bytes[base + k]!;
      if (b !== 0) seenByte[k] = 1;
      for (let x = b; x !== 0; x &= x - 1) bits++;
    }
    assert.is(bits, 1, `frame ${i}: ${bits} bits flipped`);
    assert.is(ep.bytes[base + len], 0, 'nothing past the frame is touched');
  }
  assert.is(seenByte.reduce((a, b) => a + b, 0), len, 'every byte of the frame was hit at least once');
  assert.is(ep.count(FaultEvent.CORRUPT), 2000);
});

test('corrupt 0.01 corrupts ~1 %', () => {
  const { f, ep } = injector({ corrupt: 0.01 }, 11);
  feed(f, ep, 50_000);
  nearBinomial(ep.count(FaultEvent.CORRUPT), 50_000, 0.01, 'corrupted');
});

test('a fixed delay holds frames until their time, in order, and nextDue says when', () => {
  const { f, ep } = injector({ delayMs: 20 });
  feed(f, ep, 3, 100);
  assert.is(ep.delivered.length, 0);
  assert.is(f.held, 3);
  assert.is(f.nextDue(), 120);
  ep.now = 119.9;
  f.tick(119.9);
  assert.is(ep.delivered.length, 0);
  ep.now = 120;
  f.tick(120);
  assert.equal(ep.delivered, [0, 1, 2]);
  assert.is(f.nextDue(), Infinity);
  assert.is(ep.count(FaultEvent.DELAY), 3);
});

test('jitter spreads release times over [delay, delay + jitter) and reorders some frames', () => {
  const { f, ep } = injector({ delayMs: 10, jitterMs: 5 }, 5);
  const n = 1000;
  feed(f, ep, n, 0);
  let lo = Infinity;
  let hi = 0;
  for (let t = 0; t <= 16; t += 0.25) {
    ep.now = t;
    f.tick(t);
  }
  assert.is(ep.delivered.length, n);
  for (const t of ep.deliveredAt) {
    lo = Math.min(lo, t);
    hi = Math.max(hi, t);
  }
  assert.ok(lo >= 10 && hi <= 15, `released between ${lo} and ${hi} ms`);
  let inversions = 0;
  for (let i = 1; i < n; i++) if (ep.delivered[i]! < ep.delivered[i - 1]!) inversions++;
  assert.ok(inversions > 100, `only ${inversions} frames overtaken`);
  assert.equal([...ep.delivered].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), 'each frame exactly once');
});

test('reorder holds a frame until reorderGap later frames passed', () => {
  const { f, ep } = injector({ reorder: 0.1, reorderGap: 3, reorderHoldMs: 50 }, 9);
  const n = 1000;
  feed(f, ep, n);
  f.tick(1000);
  assert.equal([...ep.delivered].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), 'each frame exactly once');
  let late = 0;
  for (let pos = 0; pos < n; pos++) {
    const frame = ep.delivered[pos]!;
    // A held frame comes out after the frames that entered behind it (at most the gap, plus any held with it).
    if (pos > frame) late++;
  }
  nearBinomial(ep.count(FaultEvent.REORDER), n, 0.1, 'reordered');
  assert.ok(late > 0);
  // Frame i delivered after frame i+3 at most: no frame is late by more than the gap plus the frames released with it.
  for (let pos = 0; pos < n; pos++) assert.ok(pos - ep.delivered[pos]! <= 3 + 3, `frame ${ep.delivered[pos]} at ${pos}`);
});

test('a reordered frame is released by reorderHoldMs when no later frames come', () => {
  const { f, ep } = injector({ reorder: 1, reorderGap: 5, reorderHoldMs: 8 });
  feed(f, ep, 2, 50);
  assert.is(f.held, 2);
  assert.is(f.nextDue(), 58);
  f.tick(57);
  assert.is(ep.delivered.length, 0);
  f.tick(58);
  assert.equal(ep.delivered, [0, 1]);
});

test('a full hold table delivers at once and counts hold_full; discardHeld frees what is held', () => {
  const { f, ep } = injector({ delayMs: 5 }, 1, 64, 4);
  feed(f, ep, 6);
  assert.equal(ep.delivered, [4, 5]);
  assert.is(ep.count(FaultEvent.HOLD_FULL), 2);
  f.discardHeld();
  assert.equal(ep.freed.sort(), [0, 1, 2, 3]);
  assert.is(f.held, 0);
  f.tick(100);
  assert.equal(ep.delivered, [4, 5]);
});

test('endpoint counters hold the fault events under fault_<dir>_<event>, in FaultEvent order', () => {
  const table = EndpointCounter as Record<string, number>;
  FAULT_EVENT_NAMES.forEach((name, i) => {
    assert.is(table[`fault_rx_${name}`], EndpointCounter.fault_rx_loss + i, name);
    assert.is(table[`fault_tx_${name}`], EndpointCounter.fault_tx_loss + i, name);
  });
  assert.is(Object.keys(FaultEvent).length, FAULT_EVENT_NAMES.length);
});

/** A 20,000-byte-payload TCP frame at slot 0 whose checksum field holds the pseudo-header sum (offload); its length. */
function largeTcpFrame(ep: FakeEndpoint, payload: number): number {
  const b = ep.bytes;
  const at = OFFSET;
  const l3 = at + writeEthernet(b, at, Uint8Array.from([2, 0, 0, 0, 0, 2]), 0, Uint8Array.from([2, 0, 0, 0, 0, 1]), 0, ETHERTYPE_IPV4);
  const l4 = l3 + 20;
  writeTcpHeader(b, l4, 80, 40000, 1000, 2000, TCP_HEADER_LEN, TCP_FLAG_ACK, 500, 0);
  for (let i = 0; i < payload; i++) b[l4 + TCP_HEADER_LEN + i] = i & 0xff;
  const tcpLen = TCP_HEADER_LEN + payload;
  writeIpv4Header(b, l3, 0, 20 + tcpLen, 1, IPV4_FLAG_DF, 64, IP_PROTO_TCP, 0xc6120001, 0xc6120065);
  writeU16(b, l4 + 16, pseudoHeaderSum(0xc6120001, 0xc6120065, IP_PROTO_TCP, tcpLen));
  return l4 + tcpLen - at;
}

test('offload: a large segment is cut into wire segments (each checksummed) before the faults; the large buffer is freed', () => {
  const { f, ep } = injector({ delayMs: 0, duplicate: 0, loss: 0 }, 1, 64);
  const len = largeTcpFrame(ep, 20_000);
  f.process(0, 0, OFFSET, len, DESC_FLAG_GSO | DESC_FLAG_CSUM_PARTIAL, 1460);
  assert.equal(ep.freed, [0]);
  assert.is(ep.delivered.length, 14);
  assert.is(ep.count(FaultEvent.CUT), 1);
  const m = new FrameMeta();
  let seq = 1000;
  ep.delivered.forEach((slot, k) => {
    assert.ok(slot >= HOME_FIRST, 'cut into home slots');
    assert.is(ep.deliveredFlags[k], 0, 'finished frames carry no offload flags');
    assert.is(parseFrame(ep.bytes, slot * SLOT + OFFSET, ep.deliveredLen[k]!, m, VERIFY_ALL), Reason.OK);
    assert.is(m.seq, seq);
    seq += m.payloadLen;
  });
  assert.is(seq, 21_000);
});

test('offload: a received large frame (no segment size given) is cut for a 1500-byte MTU; out of home slots the rest is counted', () => {
  const { f, ep } = injector({ loss: 0 }, 1, 5);
  const len = largeTcpFrame(ep, 20_000);
  f.process(0, 0, OFFSET, len, DESC_FLAG_GSO | DESC_FLAG_CSUM_PARTIAL);
  assert.equal(ep.deliveredLen, Array(5).fill(1500 + 14), 'MSS 1460: full-size frames');
  assert.is(ep.count(FaultEvent.CUT_NO_SLOT), Math.ceil(20_000 / 1460) - 5);
});

test('offload: a checksum-partial frame gets its checksum finished in place; corruption drops CSUM_OK so it is checked', () => {
  const { f, ep } = injector({ loss: 0 }, 1, 64);
  const len = largeTcpFrame(ep, 1000);
  f.process(0, 0, OFFSET, len, DESC_FLAG_CSUM_PARTIAL);
  assert.equal(ep.delivered, [0]);
  assert.is(ep.deliveredFlags[0], 0);
  assert.is(parseFrame(ep.bytes, OFFSET, len, new FrameMeta(), VERIFY_ALL), Reason.OK);
  const c = injector({ corrupt: 1 }, 1, 64);
  c.f.process(0, 3, OFFSET, 200, DESC_FLAG_CSUM_OK);
  assert.is(c.ep.deliveredFlags[0], 0, 'a corrupted frame is no longer vouched for');
});

test('every worker and direction draws its own stream from one seed', () => {
  const seeds = new Set<number>();
  for (let w = 0; w < 64; w++) for (let d = 0; d < 2; d++) seeds.add(deriveFaultSeed(1, w, d));
  assert.is(seeds.size, 128);
  assert.is(deriveFaultSeed(1, 3, 0), deriveFaultSeed(1, 3, 0));
  assert.is.not(deriveFaultSeed(1, 3, 0), deriveFaultSeed(2, 3, 0));
});

test('xoshiro128** draws look uniform (mean and bit balance)', () => {
  const r = new Xoshiro128(123);
  const n = 100_000;
  let sum = 0;
  const ones = new Float64Array(32);
  for (let i = 0; i < n; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 4294967296 && Number.isInteger(x));
    sum += x / 4294967296;
    for (let b = 0; b < 32; b++) if ((x >>> b) & 1) ones[b]! += 1;
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.01, `mean ${sum / n}`);
  for (let b = 0; b < 32; b++) nearBinomial(ones[b]!, n, 0.5, `bit ${b}`);
});

test.run();
