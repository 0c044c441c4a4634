// Seeded randomness for the net tests (STYLE.md habit 6): every random test
// prints its seed when it fails, and `new SeededRandom(seed)` replays it.

/** mulberry32: tiny, fast, good enough for test inputs (not for security). */
export class SeededRandom {
  private state: number;
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.state = this.seed;
  }

  /** Uniform u32. */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform integer in [0, n) for n ≤ 2^32. */
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  fill(b: Uint8Array, off = 0, len = b.length - off): Uint8Array {
    for (let i = 0; i < len; i++) b[off + i] = this.u32() & 0xff;
    return b;
  }

  bytes(n: number): Uint8Array {
    return this.fill(new Uint8Array(n));
  }
}

/** A seed for this run: from BATON_TEST_SEED when replaying, else from the clock. */
export function testSeed(): number {
  const fromEnv = process.env['BATON_TEST_SEED'];
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) >>> 0;
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

/** Run `body` with a seeded generator; on failure, rethrow with the seed to replay it. */
export function withSeed(name: string, seed: number, body: (rnd: SeededRandom) => void): void {
  const rnd = new SeededRandom(seed);
  try {
    body(rnd);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const e = new Error(`${name} failed with seed ${seed} (replay: BATON_TEST_SEED=${seed}): ${msg}`);
    if (err instanceof Error && err.stack !== undefined) e.stack = `${e.message}\n${err.stack}`;
    throw e;
  }
}
