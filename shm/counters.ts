// Statistics counters in the arena: one block per slot owner (endpoint blocks
// first, then poller blocks; see the owner numbering in layout.ts). Counter
// names are defined once here; the C header gets `BATON_ENDPOINT_CTR_<NAME>`
// and `BATON_POLLER_CTR_<NAME>` indices from these lists, and `baton status`
// and `/metrics` print them by the same names.
//
//   counter block (COUNTER_BLOCK_BYTES, from the directory)
//   +---------+---------+-----+---------------------+
//   | ctr 0   | ctr 1   | ... | spare line + padding |
//   +---------+---------+-----+---------------------+
//     8 bytes each, written by the block's owner only
//
// Every counter has exactly one writer and is one aligned 8-byte word, so a
// reader on another thread sees either the old or the new value, never half
// of each (x86-64 and arm64 make aligned 8-byte stores single-copy atomic; the
// readers here use Atomics.load on a BigUint64Array view, one 8-byte load).
// - Poller blocks are written by C++ as uint64_t.
// - Endpoint blocks are written by JS as float64: `f[i] += n` stays one
//   load/add/store in optimised code, whereas a BigUint64Array would allocate
//   a BigInt per increment, and a pair of u32 words cannot be updated without
//   a reader seeing a torn carry. Integers are exact below 2^53 (104 days of
//   10^9 increments per second); past that they stop growing exactly rather
//   than wrapping, which Prometheus-style readers tolerate.
// Readers need no ordering: a counter is a statistic, not a signal.
// The spare line keeps two owners' counters off one physical cache line
// whatever the arena's base alignment.

export const COUNTER_BYTES = 8;

export const ENDPOINT_COUNTER_NAMES = [
  'rx_frames',
  'rx_bytes',
  'tx_frames',
  'tx_bytes',
  'tx_drop_ring_full',
  'tx_drop_no_slot',
  'free_ring_full',
  'parks',
  'wakeups_sent',
  /** Gauge: free home slots on the endpoint's own stack (for leak censuses). */
  'slots_free',
  // Injected faults (dataplane/fault.ts), received side then sent side, in FaultEvent order.
  'fault_rx_loss',
  'fault_rx_duplicate',
  'fault_rx_dup_no_slot',
  'fault_rx_reorder',
  'fault_rx_corrupt',
  'fault_rx_delay',
  'fault_rx_hold_full',
  'fault_rx_cut',
  'fault_rx_cut_no_slot',
  'fault_tx_loss',
  'fault_tx_duplicate',
  'fault_tx_dup_no_slot',
  'fault_tx_reorder',
  'fault_tx_corrupt',
  'fault_tx_delay',
  'fault_tx_hold_full',
  'fault_tx_cut',
  'fault_tx_cut_no_slot',
] as const;

export const POLLER_COUNTER_NAMES = [
  'rx_frames',
  'rx_bytes',
  'rx_to_control',
  'rx_drop_no_slot',
  'rx_drop_ring_full',
  'rx_drop_not_ours',
  'rx_drop_oversize',
  'tx_frames',
  'tx_bytes',
  'tx_drop_driver',
  'free_ring_full',
  'parks',
  'wakeups_sent',
  /** Gauge: free home slots on the poller's own stack (for leak censuses). */
  'slots_free',
] as const;

export type EndpointCounterName = (typeof ENDPOINT_COUNTER_NAMES)[number];
export type PollerCounterName = (typeof POLLER_COUNTER_NAMES)[number];

function indexTable<N extends string>(names: readonly N[]): { readonly [K in N]: number } {
  const table: Record<string, number> = {};
  for (let i = 0; i < names.length; i++) table[names[i]!] = i;
  return Object.freeze(table) as { readonly [K in N]: number };
}

/** Counter indices by name: `counters.add(EndpointCounter.rx_frames, 1)`. */
export const EndpointCounter = indexTable(ENDPOINT_COUNTER_NAMES);
export const PollerCounter = indexTable(POLLER_COUNTER_NAMES);

/** Bytes between counter blocks: the largest block, a spare line, rounded to 128. */
export function counterBlockBytes(cacheLine: number, span: number): number {
  const most = Math.max(ENDPOINT_COUNTER_NAMES.length, POLLER_COUNTER_NAMES.length) * COUNTER_BYTES + cacheLine;
  return Math.ceil(most / span) * span;
}

/** Reads any counter block from any thread without tearing. */
function readCounter(raw: BigUint64Array, index: number): bigint {
  return Atomics.load(raw, index);
}

/** The JS writer of one endpoint's block (float64 counters). One writer per block. */
export class EndpointCounters {
  readonly names = ENDPOINT_COUNTER_NAMES;
  private readonly f: Float64Array;
  private readonly raw: BigUint64Array;
  private readonly scratchBits = new BigUint64Array(1);
  private readonly scratch = new Float64Array(this.scratchBits.buffer);

  constructor(sab: SharedArrayBuffer, byteOffset: number) {
    this.f = new Float64Array(sab, byteOffset, ENDPOINT_COUNTER_NAMES.length);
    this.raw = new BigUint64Array(sab, byteOffset, ENDPOINT_COUNTER_NAMES.length);
  }

  /** Owner only. `n` must be a non-negative integer. */
  add(index: number, n: number): void {
    this.f[index] += n;
  }

  /** Owner only. */
  inc(index: number): void {
    this.f[index] += 1;
  }

  /** Owner only: a gauge such as slots_free. */
  set(index: number, v: number): void {
    this.f[index] = v;
  }

  /** Any thread. */
  get(index: number): number {
    this.scratchBits[0] = readCounter(this.raw, index);
    return this.scratch[0]!;
  }

  /** Any thread: name → value. */
  snapshot(): Record<EndpointCounterName, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < ENDPOINT_COUNTER_NAMES.length; i++) out[ENDPOINT_COUNTER_NAMES[i]!] = this.get(i);
    return out as Record<EndpointCounterName, number>;
  }
}

/**
 * One poller's block (uint64 counters). The native poller is the writer; the
 * JS `add` exists for a poller written in JS (tests, benchmarks) and is not
 * meant for a hot path.
 */
export class PollerCounters {
  readonly names = POLLER_COUNTER_NAMES;
  private readonly raw: BigUint64Array;

  constructor(sab: SharedArrayBuffer, byteOffset: number) {
    this.raw = new BigUint64Array(sab, byteOffset, POLLER_COUNTER_NAMES.length);
  }

  /** Owner only. */
  add(index: number, n: number): void {
    Atomics.store(this.raw, index, Atomics.load(this.raw, index) + BigInt(n));
  }

  /** Any thread; exact below 2^53. */
  get(index: number): number {
    return Number(readCounter(this.raw, index));
  }

  snapshot(): Record<PollerCounterName, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < POLLER_COUNTER_NAMES.length; i++) out[POLLER_COUNTER_NAMES[i]!] = this.get(i);
    return out as Record<PollerCounterName, number>;
  }
}
