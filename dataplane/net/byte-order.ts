// Network (big-endian) byte order reads and writes on a Uint8Array, in place.
// Shifts on bytes beat a DataView here and need no view object per buffer.
// Writes rely on Uint8Array storing values modulo 256.
//
// Hot paths pass 32-bit values across calls as int32 (`readI32`, `x | 0`)
// and make them unsigned (`>>> 0`) only where they are stored or compared:
// an int32 is always a Smi, while a u32 ≥ 2^31 passed to or returned from a
// call V8 did not inline is boxed in a fresh HeapNumber — one allocation per
// value per packet (measured: the flow-hash call alone caused constant GC).

export function readU16(b: Uint8Array, off: number): number {
  return (b[off] << 8) | b[off + 1];
}

/** Unsigned: `>>> 0` keeps values ≥ 2^31 positive. */
export function readU32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

/** Signed: the same 32 bits as readU32, but always a small integer. */
export function readI32(b: Uint8Array, off: number): number {
  return (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3];
}

export function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 8;
  b[off + 1] = v;
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = v >>> 16;
  b[off + 2] = v >>> 8;
  b[off + 3] = v;
}
