// The addresses this node answers for right now, shared by the control thread
// (the only writer: the cluster layer moves addresses at runtime) and every
// worker and the ARP responder (readers). A seqlock keeps readers from seeing
// a half-written table; readers copy it locally only when the version moved,
// so the per-packet cost is one Atomics.load and a scan of a few entries.
//
//   Int32Array over a SharedArrayBuffer (writer: control thread)
//   ┌─────────┬───────┬───────────┬───────────────┬──────────┬───────────┬─────
//   │ VERSION │ COUNT │ ip[0] u32 │ lo[0]<<16|hi[0]│ flags[0] │ ip[1]     │ …
//   └─────────┴───────┴───────────┴───────────────┴──────────┴───────────┴─────
//   VERSION is odd while the writer is between its two increments.
//   flags: OWNED_DRAINING — the address is about to go to another node (a
//   failback or a grant, control/cluster-link.ts): its connections are served
//   and moved, but no new one is opened here (a SYN is dropped; the client's
//   retry reaches the next holder).
export const OWNED_VERSION = 0;
export const OWNED_COUNT = 1;
export const OWNED_HEADER_WORDS = 2;
export const OWNED_ENTRY_WORDS = 3;
export const OWNED_DRAINING = 1;
export const OWNED_MAX = 256;

export interface OwnedUnit {
  readonly ip: number;
  readonly lo: number;
  readonly hi: number;
  /** No new connections on it here (OWNED_DRAINING). */
  readonly draining?: boolean;
}

export function createOwnedTable(): SharedArrayBuffer {
  return new SharedArrayBuffer((OWNED_HEADER_WORDS + OWNED_MAX * OWNED_ENTRY_WORDS) * 4);
}

/** Control thread: replaces the table's contents (at most OWNED_MAX units). */
export function writeOwned(sab: SharedArrayBuffer, units: readonly OwnedUnit[]): void {
  const w = new Int32Array(sab);
  const n = Math.min(units.length, OWNED_MAX);
  Atomics.add(w, OWNED_VERSION, 1);
  for (let i = 0; i < n; i++) {
    const u = units[i]!;
    Atomics.store(w, OWNED_HEADER_WORDS + i * OWNED_ENTRY_WORDS, u.ip | 0);
    Atomics.store(w, OWNED_HEADER_WORDS + i * OWNED_ENTRY_WORDS + 1, ((u.lo & 0xffff) << 16) | (u.hi & 0xffff));
    Atomics.store(w, OWNED_HEADER_WORDS + i * OWNED_ENTRY_WORDS + 2, u.draining === true ? OWNED_DRAINING : 0);
  }
  Atomics.store(w, OWNED_COUNT, n);
  Atomics.add(w, OWNED_VERSION, 1);
}

/** A reader's local copy, refreshed when the writer's version moves. */
export class OwnedAddresses {
  private readonly words: Int32Array;
  private seen = -1;
  private count = 0;
  private readonly ips = new Int32Array(OWNED_MAX);
  private readonly ports = new Int32Array(OWNED_MAX);
  private readonly flags = new Int32Array(OWNED_MAX);

  constructor(sab: SharedArrayBuffer) {
    this.words = new Int32Array(sab);
  }

  private refresh(): void {
    const w = this.words;
    for (;;) {
      const v = Atomics.load(w, OWNED_VERSION);
      if ((v & 1) !== 0) continue;
      const n = Atomics.load(w, OWNED_COUNT);
      for (let i = 0; i < n; i++) {
        this.ips[i] = Atomics.load(w, OWNED_HEADER_WORDS + i * OWNED_ENTRY_WORDS);
        this.ports[i] = Atomics.load(w, OWNED_HEADER_WORDS + i * OWNED_ENTRY_WORDS + 1);
        this.flags[i] = Atomics.load(w, OWNED_HEADER_WORDS + i * OWNED_ENTRY_WORDS + 2);
      }
      if (Atomics.load(w, OWNED_VERSION) !== v) continue;
      this.count = n;
      this.seen = v;
      return;
    }
  }

  /** The writer's version: it moves whenever the table changes. */
  get version(): number {
    return Atomics.load(this.words, OWNED_VERSION);
  }

  /** True when this node answers for `ip` (any port range of it). */
  holds(ip: number): boolean {
    if (Atomics.load(this.words, OWNED_VERSION) !== this.seen) this.refresh();
    const x = ip | 0;
    for (let i = 0; i < this.count; i++) if (this.ips[i] === x) return true;
    return false;
  }

  /** True when this node answers for `port` of `ip`. */
  holdsPort(ip: number, port: number): boolean {
    if (Atomics.load(this.words, OWNED_VERSION) !== this.seen) this.refresh();
    const x = ip | 0;
    for (let i = 0; i < this.count; i++) {
      if (this.ips[i] !== x) continue;
      const p = this.ports[i]!;
      if (port >= p >>> 16 && port <= (p & 0xffff)) return true;
    }
    return false;
  }

  /** True when `ip` is held here but draining: its connections stay, no new one opens (OWNED_DRAINING). */
  draining(ip: number): boolean {
    if (Atomics.load(this.words, OWNED_VERSION) !== this.seen) this.refresh();
    const x = ip | 0;
    for (let i = 0; i < this.count; i++) if (this.ips[i] === x && (this.flags[i]! & OWNED_DRAINING) !== 0) return true;
    return false;
  }

  /** A copy of the table (status, tests). */
  list(): OwnedUnit[] {
    if (Atomics.load(this.words, OWNED_VERSION) !== this.seen) this.refresh();
    const out: OwnedUnit[] = [];
    for (let i = 0; i < this.count; i++) {
      out.push({ ip: this.ips[i]! >>> 0, lo: this.ports[i]! >>> 16, hi: this.ports[i]! & 0xffff, draining: (this.flags[i]! & OWNED_DRAINING) !== 0 });
    }
    return out;
  }
}
