// A shadow's file output by reference (service modes snoop and mirror).
//
// A shadow application's output is never sent while the primary lives; the
// backup keeps it only to retransmit it after a takeover, and compares it
// with what the primary sent. Reading every byte of a streamed file (and
// copying it into the send buffer, and comparing it) was most of what a
// backup spent per byte. So an application may hand the stack a range of an
// open file instead of its bytes (AppSocket.writeFile); a shadow keeps the
// range here, as a reference, and reads it only when the bytes are needed:
//   - a sampled compare (SAMPLE_SHIFT / SAMPLE_MASK below): one primary
//     segment in SAMPLE_MASK + 1 windows of 2^SAMPLE_SHIFT bytes is read and
//     compared; the others are counted unchecked;
//   - a takeover (promoteShadow) or a record export: every range still
//     unacknowledged is read into the send buffer at its place.
// The file is reopened through /proc/self/fd (the same inode, whatever the
// application later does with its fd), and its identity (inode, size, mtime,
// ctime) is taken then. A file that changed by the time its bytes are read
// makes the range unusable: the caller marks the shadow not exact (it is
// reset at a takeover, counted) — never resumed with other bytes than the
// primary's.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Sampled compares: a primary segment is compared when ((seq >>> SAMPLE_SHIFT) & SAMPLE_MASK) === 0. */
export const SAMPLE_SHIFT = 16;
/** 1 window of 64 KiB in 16 (about 6 % of a streamed file's bytes). */
export const SAMPLE_MASK = 15;

/** Whether a primary segment starting at `seq` is one of the sampled ones. */
export function sampled(seq: number): boolean {
  return ((seq >>> SAMPLE_SHIFT) & SAMPLE_MASK) === 0;
}

interface Range {
  /** Sequence number of the range's first byte. */
  seq: number;
  len: number;
  /** File offset of that byte. */
  pos: number;
  /** Our own descriptor of the file (closed with the range). */
  fd: number;
  /** The application's descriptor the range came from (a contiguous write extends the range). */
  appFd: number;
  ino: number;
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;

/** The referenced output ranges of one connection, in sequence order. */
export class LazyOutput {
  private readonly ranges: Range[] = [];

  get empty(): boolean {
    return this.ranges.length === 0;
  }

  /**
   * Output [seq, seq+len) is bytes [pos, pos+len) of the application's open
   * file `appFd`. Returns false when the file cannot be referenced (the
   * caller has the application write the bytes instead).
   */
  add(seq: number, len: number, appFd: number, pos: number): boolean {
    const last = this.ranges[this.ranges.length - 1];
    if (last !== undefined && last.appFd === appFd && ((last.seq + last.len) >>> 0) === seq && last.pos + last.len === pos) {
      last.len += len;
      return true;
    }
    let fd = -1;
    try {
      const app = fstatSync(appFd, { bigint: true });
      fd = openSync(`/proc/self/fd/${appFd}`, 'r');
      const st = fstatSync(fd, { bigint: true });
      if (st.ino !== app.ino || st.dev !== app.dev || !st.isFile()) throw new Error('not the same file');
      this.ranges.push({ seq, len, pos, fd, appFd, ino: Number(st.ino), size: Number(st.size), mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs });
      return true;
    } catch {
      if (fd >= 0) closeSync(fd);
      return false;
    }
  }

  /** Forgets ranges wholly below `una` (the client has those bytes). */
  prune(una: number): void {
    const r = this.ranges;
    while (r.length > 0 && !seqLt(una, (r[0]!.seq + r[0]!.len) >>> 0)) closeSync(r.shift()!.fd);
  }

  /** Whether any byte of [seq, seq+n) is referenced (not in the send buffer). */
  overlaps(seq: number, n: number): boolean {
    const end = (seq + n) >>> 0;
    for (const r of this.ranges) if (seqLt(seq, (r.seq + r.len) >>> 0) && seqLt(r.seq, end)) return true;
    return false;
  }

  /**
   * The pieces of [seq, seq+n) that are not referenced (bytes the
   * application wrote), as [seq, len] pairs in `out`; returns how many bytes
   * of it are referenced.
   */
  gaps(seq: number, n: number, out: number[]): number {
    out.length = 0;
    const end = (seq + n) >>> 0;
    let cur = seq;
    let referenced = 0;
    for (const r of this.ranges) {
      const rEnd = (r.seq + r.len) >>> 0;
      if (!seqLt(cur, rEnd) || !seqLt(r.seq, end)) continue;
      if (seqLt(cur, r.seq)) out.push(cur, (r.seq - cur) | 0);
      const to = seqLt(end, rEnd) ? end : rEnd;
      referenced += (to - (seqLt(r.seq, cur) ? cur : r.seq)) | 0;
      cur = to;
    }
    if (seqLt(cur, end)) out.push(cur, (end - cur) | 0);
    return referenced;
  }

  /**
   * Reads the referenced bytes of [seq, seq+n) into `ring` (a power-of-two
   * ring indexed by sequence number), leaving other bytes alone. With
   * `into`/`at` given instead, writes them there (dst[at + (s - seq)]).
   * Returns false when a file changed or a read fell short.
   */
  read(seq: number, n: number, ring: Uint8Array | null, into: Uint8Array | null = null, at = 0): boolean {
    const end = (seq + n) >>> 0;
    for (const r of this.ranges) {
      const rEnd = (r.seq + r.len) >>> 0;
      if (!seqLt(seq, rEnd) || !seqLt(r.seq, end)) continue;
      if (!this.unchanged(r)) return false;
      const from = seqLt(r.seq, seq) ? seq : r.seq;
      const to = seqLt(end, rEnd) ? end : rEnd;
      let k = 0;
      const want = (to - from) | 0;
      while (k < want) {
        const s = (from + k) >>> 0;
        const pos = r.pos + ((s - r.seq) | 0);
        let dst: Uint8Array;
        let off: number;
        let room: number;
        if (into !== null) {
          dst = into;
          off = at + ((s - seq) | 0);
          room = want - k;
        } else {
          dst = ring!;
          off = s & (ring!.length - 1);
          room = Math.min(want - k, ring!.length - off);
        }
        const got = readSync(r.fd, dst, off, room, pos);
        if (got <= 0) return false;
        k += got;
      }
    }
    return true;
  }

  /** Reads every referenced byte of [seq, seq+n) into `ring` and forgets every range. Returns false when a file changed. */
  materialize(seq: number, n: number, ring: Uint8Array): boolean {
    const ok = n <= 0 || this.read(seq, n, ring);
    this.close();
    return ok;
  }

  /** Closes every file (the connection is gone, or its bytes are in the send buffer now). */
  close(): void {
    for (const r of this.ranges) closeSync(r.fd);
    this.ranges.length = 0;
  }

  private unchanged(r: Range): boolean {
    try {
      const st = fstatSync(r.fd, { bigint: true });
      return Number(st.ino) === r.ino && Number(st.size) === r.size && st.mtimeNs === r.mtimeNs && st.ctimeNs === r.ctimeNs;
    } catch {
      return false;
    }
  }
}
