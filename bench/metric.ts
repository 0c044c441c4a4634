// One measured figure, as written to bench/results/latest.json.
// `value` is in `unit` (e.g. "M packets/s"); `hz` is operations per second of
// the measured task as tinybench counts them (or items/s for custom timed runs);
// `samples` is how many timed samples the figure rests on.
export interface Metric {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
  readonly hz: number;
  readonly samples: number;
  /** Optional goal from the issue, for the readable table; never asserted. */
  readonly goal?: string;
}

/** A bench module exports `run` returning its metrics. */
export type BenchSuite = () => Promise<Metric[]>;

/** Median of samples (custom timed runs report the median sample). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
