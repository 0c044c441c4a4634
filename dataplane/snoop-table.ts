// Which addresses this node shadows and mirrors (service modes snoop and
// mirror), shared like the owned table (owned.ts): the control thread writes
// it whenever membership or claims move, workers read it.
//   SHADOW     — another node holds the address and this node would take it
//                over: keep shadows of its connections (snooped or mirrored).
//   MIRROR_TO  — this node holds the address; `mac` is the backup that would
//                take it over: mirror-mode services send it a copy of every frame.
//
//   Int32Array over a SharedArrayBuffer (writer: control thread)
//   ┌─────────┬───────┬───────┬──────┬────────┬────────┬──────┬─────
//   │ VERSION │ COUNT │ ip[0] │ role │ mac_hi │ mac_lo │ node │ …
//   └─────────┴───────┴───────┴──────┴────────┴────────┴──────┴─────
//   VERSION is odd while the writer is between its two increments.
import { macHi, macLo, writeMac } from './tcp/record.js';

export const SNOOP_VERSION = 0;
export const SNOOP_COUNT = 1;
const HEADER = 2;
const ENTRY = 5;
export const SNOOP_MAX = 128;

export const enum SnoopRole {
  SHADOW = 1,
  MIRROR_TO = 2,
  /** ip 0; `node` is a peer not alive now: connection moves to it come back (Handoff.targetFailed). */
  PEER_FAILED = 3,
}

export interface SnoopEntry {
  readonly ip: number;
  readonly role: SnoopRole;
  /** MIRROR_TO: the backup's MAC, "aa:bb:…"; SHADOW: the holder's. */
  readonly mac: Uint8Array;
  /** MIRROR_TO: the backup's node id; SHADOW: the holder's (0 when unknown). */
  readonly node: number;
}

export function createSnoopTable(): SharedArrayBuffer {
  return new SharedArrayBuffer((HEADER + SNOOP_MAX * ENTRY) * 4);
}

/** Control thread: replaces the table's contents. */
export function writeSnoopTable(sab: SharedArrayBuffer, entries: readonly SnoopEntry[]): void {
  const w = new Int32Array(sab);
  const n = Math.min(entries.length, SNOOP_MAX);
  Atomics.add(w, SNOOP_VERSION, 1);
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    const o = HEADER + i * ENTRY;
    Atomics.store(w, o, e.ip | 0);
    Atomics.store(w, o + 1, e.role);
    Atomics.store(w, o + 2, macHi(e.mac, 0) | 0);
    Atomics.store(w, o + 3, macLo(e.mac, 0));
    Atomics.store(w, o + 4, e.node);
  }
  Atomics.store(w, SNOOP_COUNT, n);
  Atomics.add(w, SNOOP_VERSION, 1);
}

/** A reader's local copy, refreshed when the writer's version moved. */
export class SnoopTable {
  private readonly words: Int32Array;
  private seen = -1;
  count = 0;
  readonly ips = new Int32Array(SNOOP_MAX);
  readonly roles = new Int32Array(SNOOP_MAX);
  readonly macHi = new Int32Array(SNOOP_MAX);
  readonly macLo = new Int32Array(SNOOP_MAX);
  readonly node = new Int32Array(SNOOP_MAX);

  constructor(sab: SharedArrayBuffer) {
    this.words = new Int32Array(sab);
  }

  /** True when the writer changed the table since the last refresh(). */
  get stale(): boolean {
    return Atomics.load(this.words, SNOOP_VERSION) !== this.seen;
  }

  refresh(): void {
    const w = this.words;
    for (;;) {
      const v = Atomics.load(w, SNOOP_VERSION);
      if ((v & 1) !== 0) continue;
      const n = Atomics.load(w, SNOOP_COUNT);
      for (let i = 0; i < n; i++) {
        const o = HEADER + i * ENTRY;
        this.ips[i] = Atomics.load(w, o);
        this.roles[i] = Atomics.load(w, o + 1);
        this.macHi[i] = Atomics.load(w, o + 2);
        this.macLo[i] = Atomics.load(w, o + 3);
        this.node[i] = Atomics.load(w, o + 4);
      }
      if (Atomics.load(w, SNOOP_VERSION) !== v) continue;
      this.count = n;
      this.seen = v;
      return;
    }
  }

  /** Index of `ip` with `role`, or -1. */
  find(ip: number, role: SnoopRole): number {
    if (this.stale) this.refresh();
    const x = ip | 0;
    for (let i = 0; i < this.count; i++) if (this.ips[i] === x && this.roles[i] === role) return i;
    return -1;
  }

  list(): SnoopEntry[] {
    if (this.stale) this.refresh();
    const out: SnoopEntry[] = [];
    for (let i = 0; i < this.count; i++) {
      const mac = new Uint8Array(6);
      writeMac(mac, 0, this.macHi[i]!, this.macLo[i]!);
      out.push({ ip: this.ips[i]! >>> 0, role: this.roles[i] as SnoopRole, mac, node: this.node[i]! });
    }
    return out;
  }
}
