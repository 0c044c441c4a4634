// Out-of-order data and SACK bookkeeping, both as small sorted lists of
// [start, end) sequence ranges inside the connection record.
//
// Receive side: bytes beyond RCV_NXT are copied straight into the receive
// ring at their sequence position; the record remembers which ranges are
// there (W.OOO_BASE), merges them as holes fill, and reports them as SACK
// blocks, the most recently changed first (RFC 2018 §4).
// Send side: the scoreboard (W.SACK_BASE) of what the peer says it holds
// beyond SND_UNA, so recovery retransmits only the holes (RFC 6675 in
// spirit) and go-back-N after a timeout skips what was SACKed.
import { OOO_RANGES, SACK_BLOCKS, W } from './record.js';

function lt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
function le(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/**
 * Inserts [start, end) into a sorted, non-overlapping range list at `base`
 * with `count` entries (max `cap`), merging overlaps and neighbours. Returns
 * the new count, or -1 when the list is full and the range touches none
 * (the caller drops the data: the peer will send it again). `lastOut[0]` gets
 * the index of the range now holding [start, end).
 */
function insertRange(u: Uint32Array, base: number, count: number, cap: number, start: number, end: number, lastOut: Int32Array): number {
  // Find the first range whose end ≥ start (it may merge with us).
  let i = 0;
  while (i < count && lt(u[base + 2 * i + 1]!, start)) i++;
  // Merge every range that overlaps or touches [start, end).
  let j = i;
  let s = start;
  let e = end;
  while (j < count && le(u[base + 2 * j]!, e)) {
    if (lt(u[base + 2 * j]!, s)) s = u[base + 2 * j]!;
    if (lt(e, u[base + 2 * j + 1]!)) e = u[base + 2 * j + 1]!;
    j++;
  }
  const merged = j - i;
  const newCount = count - merged + 1;
  if (newCount > cap) return -1;
  if (merged === 0) {
    for (let k = count; k > i; k--) {
      u[base + 2 * k] = u[base + 2 * k - 2]!;
      u[base + 2 * k + 1] = u[base + 2 * k - 1]!;
    }
  } else if (merged > 1) {
    for (let k = j; k < count; k++) {
      u[base + 2 * (k - merged + 1)] = u[base + 2 * k]!;
      u[base + 2 * (k - merged + 1) + 1] = u[base + 2 * k + 1]!;
    }
  }
  u[base + 2 * i] = s;
  u[base + 2 * i + 1] = e;
  lastOut[0] = i;
  return newCount;
}

/** Drops ranges (and parts) below `edge`; returns the new count. */
function trimBelow(u: Uint32Array, base: number, count: number, edge: number): number {
  let k = 0;
  for (let i = 0; i < count; i++) {
    let s = u[base + 2 * i]!;
    const e = u[base + 2 * i + 1]!;
    if (le(e, edge)) continue;
    if (lt(s, edge)) s = edge;
    u[base + 2 * k] = s;
    u[base + 2 * k + 1] = e;
    k++;
  }
  return k;
}

const scratch = new Int32Array(1);

/** Records out-of-order bytes [start, end) held in the receive ring. False when no room to remember them. */
export function oooInsert(u: Uint32Array, b: number, start: number, end: number): boolean {
  const n = insertRange(u, b + W.OOO_BASE, u[b + W.OOO_COUNT]!, OOO_RANGES, start, end, scratch);
  if (n < 0) return false;
  u[b + W.OOO_COUNT] = n;
  u[b + W.OOO_LAST] = scratch[0]!;
  return true;
}

/**
 * After RCV_NXT moved: absorbs the ranges it reached and returns the new
 * RCV_NXT (the caller stores it).
 */
export function oooAdvance(u: Uint32Array, b: number, rcvNxt: number): number {
  let n = u[b + W.OOO_COUNT]!;
  if (n === 0) return rcvNxt;
  const base = b + W.OOO_BASE;
  let nxt = rcvNxt;
  while (n > 0 && le(u[base]!, nxt)) {
    if (lt(nxt, u[base + 1]!)) nxt = u[base + 1]!;
    for (let k = 1; k < n; k++) {
      u[base + 2 * (k - 1)] = u[base + 2 * k]!;
      u[base + 2 * (k - 1) + 1] = u[base + 2 * k + 1]!;
    }
    n--;
  }
  const removed = u[b + W.OOO_COUNT]! - n;
  u[b + W.OOO_COUNT] = n;
  const last = u[b + W.OOO_LAST]! - removed;
  u[b + W.OOO_LAST] = last < 0 ? 0 : last;
  return nxt;
}

/** True when [seq, seq+len) is already held out of order (a duplicate). */
export function oooCovers(u: Uint32Array, b: number, seq: number, len: number): boolean {
  const n = u[b + W.OOO_COUNT]!;
  const end = (seq + len) >>> 0;
  for (let i = 0; i < n; i++) {
    if (le(u[b + W.OOO_BASE + 2 * i]!, seq) && le(end, u[b + W.OOO_BASE + 2 * i + 1]!)) return true;
  }
  return false;
}

/**
 * SACK blocks to send (RFC 2018 §4): the most recently changed range first,
 * then the others in order. Returns how many pairs were written to `out`.
 */
export function sackBlocksToSend(u: Uint32Array, b: number, out: Uint32Array): number {
  const n = u[b + W.OOO_COUNT]!;
  if (n === 0) return 0;
  const last = Math.min(u[b + W.OOO_LAST]!, n - 1);
  const max = out.length >>> 1;
  out[0] = u[b + W.OOO_BASE + 2 * last]!;
  out[1] = u[b + W.OOO_BASE + 2 * last + 1]!;
  let k = 1;
  for (let i = 0; i < n && k < max; i++) {
    if (i === last) continue;
    out[2 * k] = u[b + W.OOO_BASE + 2 * i]!;
    out[2 * k + 1] = u[b + W.OOO_BASE + 2 * i + 1]!;
    k++;
  }
  return k;
}

/**
 * Merges the peer's SACK blocks (pairs in `blocks`) into the scoreboard.
 * Blocks outside (SND_UNA, SND_MAX] are ignored (RFC 2018 §5 validity; a
 * D-SACK below SND_UNA carries no new information for us).
 */
export function sackUpdate(u: Uint32Array, b: number, blocks: Uint32Array, count: number, una: number, max: number): void {
  let n = u[b + W.SACK_COUNT]!;
  for (let i = 0; i < count; i++) {
    const s = blocks[2 * i]!;
    const e = blocks[2 * i + 1]!;
    if (!lt(s, e) || le(s, una) || lt(max, e)) continue;
    const r = insertRange(u, b + W.SACK_BASE, n, SACK_BLOCKS, s, e, scratch);
    if (r >= 0) n = r;
  }
  u[b + W.SACK_COUNT] = n;
  u[b + W.SACKED_BYTES] = sumRanges(u, b + W.SACK_BASE, n);
}

/** After SND_UNA advanced: forget what it passed. */
export function sackTrim(u: Uint32Array, b: number, una: number): void {
  const n0 = u[b + W.SACK_COUNT]!;
  if (n0 === 0) return;
  const n = trimBelow(u, b + W.SACK_BASE, n0, una);
  u[b + W.SACK_COUNT] = n;
  u[b + W.SACKED_BYTES] = sumRanges(u, b + W.SACK_BASE, n);
}

export function sackClear(u: Uint32Array, b: number): void {
  u[b + W.SACK_COUNT] = 0;
  u[b + W.SACKED_BYTES] = 0;
}

function sumRanges(u: Uint32Array, base: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += (u[base + 2 * i + 1]! - u[base + 2 * i]!) | 0;
  return s;
}

/** Right edge of the highest SACK block, or `una` when none. */
export function sackHigh(u: Uint32Array, b: number, una: number): number {
  const n = u[b + W.SACK_COUNT]!;
  return n === 0 ? una : u[b + W.SACK_BASE + 2 * (n - 1) + 1]!;
}

/** If `seq` lies inside a SACK block, that block's end; else `seq`. */
export function sackSkip(u: Uint32Array, b: number, seq: number): number {
  const n = u[b + W.SACK_COUNT]!;
  for (let i = 0; i < n; i++) {
    const s = u[b + W.SACK_BASE + 2 * i]!;
    const e = u[b + W.SACK_BASE + 2 * i + 1]!;
    if (le(s, seq) && lt(seq, e)) return e;
  }
  return seq;
}

/** Bytes SACKed below `seq`. */
export function sackedBelow(u: Uint32Array, b: number, seq: number): number {
  const n = u[b + W.SACK_COUNT]!;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const s = u[b + W.SACK_BASE + 2 * i]!;
    const e = u[b + W.SACK_BASE + 2 * i + 1]!;
    if (le(e, seq)) sum += (e - s) | 0;
    else if (lt(s, seq)) sum += (seq - s) | 0;
  }
  return sum;
}
