// The Internet checksum the slow, obvious way (RFC 1071 §4.1 in spirit):
// big-endian 16-bit words, byte by byte, carries folded at the end. The fast
// onesSum in dataplane/net/checksum.ts is tested against this.

export function referenceOnesSum(b: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  for (let i = 0; i < len; i++) {
    sum += (i & 1) === 0 ? b[off + i]! * 256 : b[off + i]!;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return sum;
}

export function referenceChecksum(b: Uint8Array, off: number, len: number, initial = 0): number {
  return ~referenceOnesSum(b, off, len, initial) & 0xffff;
}

/** Pseudo-header sum (src, dst, zero, protocol, length) the same way. */
export function referencePseudoSum(src: number, dst: number, proto: number, len: number): number {
  const ph = new Uint8Array(12);
  ph[0] = src >>> 24; ph[1] = src >>> 16; ph[2] = src >>> 8; ph[3] = src;
  ph[4] = dst >>> 24; ph[5] = dst >>> 16; ph[6] = dst >>> 8; ph[7] = dst;
  ph[8] = 0; ph[9] = proto; ph[10] = len >>> 8; ph[11] = len;
  return referenceOnesSum(ph, 0, 12);
}
