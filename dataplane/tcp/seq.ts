// Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4). Every comparison
// of sequence or acknowledgment numbers in the stack goes through these; a
// plain `<` on two u32 sequence numbers is a bug waiting for the wrap.

/** a < b in sequence space. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
/** a + n as an unsigned sequence number. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** b - a: bytes from a up to b (b at or after a). */
export function seqDiff(b: number, a: number): number {
  return (b - a) | 0;
}
/** The later of a and b. */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a : b;
}
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) <= 0 ? a : b;
}
/** lo ≤ x < hi in sequence space. */
export function seqInRange(x: number, lo: number, hi: number): boolean {
  return ((x - lo) | 0) >= 0 && ((x - hi) | 0) < 0;
}
