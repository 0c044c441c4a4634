// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// Each header file owns its checksum field (ipv4HeaderChecksum in ipv4.ts,
// tcpChecksum in tcp.ts, …); this file is the arithmetic.
//
// Terms used here:
//   onesSum   the 16-bit one's-complement sum of the bytes taken as big-endian
//             16-bit words (odd tail padded with a zero byte), folded, plus
//             `initial`. Never 0 unless every input is 0.
//   checksum  ~onesSum & 0xffff: the value a header carries.
//   verify    the onesSum over a header *including* its checksum field is 0xffff.
//
// Speed: long runs are summed as 32-bit little-endian words through a cached
// Uint32Array over the buffer's ArrayBuffer (RFC 1071 §2(B): the sum is
// byte-order independent, so summing in host order and swapping the folded
// result gives the network-order sum; §2(C): parallel summation in wider
// words, folding the carries at the end). Partial sums are float64, exact
// below 2^53; we fold every 2^20 words to stay far below that.

// The `verify` bitmask of the checked parsers: which checksums to check.
// The fast path passes VERIFY_NONE when the NIC has already checked them.
export const VERIFY_NONE = 0;
/** Check the IPv4 header checksum. */
export const VERIFY_IP_CSUM = 1;
/** Check the TCP, UDP or ICMP checksum. */
export const VERIFY_L4_CSUM = 2;
export const VERIFY_ALL = VERIFY_IP_CSUM | VERIFY_L4_CSUM;
/**
 * Not a checksum: a parse option of the same mask. An IPv4 TCP segment whose
 * frame ends after its headers (a copy a backup observes, cut short on
 * purpose: dataplane/mirror.ts, the TAP snoop filter) is accepted;
 * meta.trimmed says how many of its bytes are missing, and no L4 checksum is
 * checked (the bytes it covers are not there).
 */
export const ACCEPT_TRIMMED = 4;

// The word path reads host-order words; on a big-endian host take the byte loop always.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Runs shorter than this take the byte loop: a view lookup costs more than it saves. */
const WORD_PATH_MIN = LITTLE_ENDIAN ? 64 : Infinity;
/** Words summed before folding the float accumulators (2^20 * 2^32 * 2 < 2^53). */
const WORDS_PER_FOLD = 1 << 20;

// A small cache of Uint32Array views, one per underlying (Shared)ArrayBuffer.
// A worker touches a handful of buffers (rx pool, tx pool), so four entries
// with round-robin replacement never thrash in practice; a miss allocates one view.
const CACHE_SIZE = 4;
const cachedBuffers: (ArrayBufferLike | null)[] = [null, null, null, null];
const cachedViews: Uint32Array[] = [new Uint32Array(0), new Uint32Array(0), new Uint32Array(0), new Uint32Array(0)];
let cacheNext = 0;

function wordsOf(ab: ArrayBufferLike): Uint32Array {
  for (let i = 0; i < CACHE_SIZE; i++) {
    if (cachedBuffers[i] === ab) return cachedViews[i];
  }
  const view = new Uint32Array(ab, 0, ab.byteLength >>> 2);
  const slot = cacheNext;
  cacheNext = (slot + 1) & (CACHE_SIZE - 1);
  cachedBuffers[slot] = ab;
  cachedViews[slot] = view;
  return view;
}

function fold(s: number): number {
  s = (s >>> 16) + (s & 0xffff);
  return (s >>> 16) + (s & 0xffff);
}

/** One's-complement addition of two 16-bit sums (end-around carry). */
export function onesAdd(a: number, b: number): number {
  return fold(a + b);
}

/** Sum of 32-bit words words[w..wEnd) (at most WORDS_PER_FOLD of them), folded to 16 bits. */
function sumWords(words: Uint32Array, w: number, wEnd: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const end8 = wEnd - 7;
  for (; w < end8; w += 8) {
    s0 += words[w] + words[w + 4];
    s1 += words[w + 1] + words[w + 5];
    s2 += words[w + 2] + words[w + 6];
    s3 += words[w + 3] + words[w + 7];
  }
  for (; w < wEnd; w++) s0 += words[w];
  const s = s0 + s1 + s2 + s3;
  // s < 2^53: split into 32-bit halves; 2^32 ≡ 1 (mod 2^16 - 1), so add them.
  const lo = s >>> 0;
  const hi = (s - lo) / 4294967296;
  return fold((lo >>> 16) + (lo & 0xffff) + hi);
}

/**
 * One's-complement sum of `len` bytes at `off`, as big-endian 16-bit words,
 * added to `initial` (a previous onesSum, e.g. a pseudo-header sum; 0..0xffff)
 * and folded to 16 bits. The caller guarantees off..off+len lies inside `buf`.
 */
export function onesSum(buf: Uint8Array, off: number, len: number, initial: number): number {
  let i = off;
  const end = off + len;
  if (len < WORD_PATH_MIN) {
    let s = initial;
    for (; i + 1 < end; i += 2) s += (buf[i] << 8) | buf[i + 1];
    if (i < end) s += buf[i] << 8;
    return fold(s);
  }
  // Absolute byte address A = byteOffset + i. In little-endian word space a
  // byte at A counts as b << 8*(A & 1) (mod 2^16 - 1), whatever A & 3 is.
  const base = buf.byteOffset;
  let s = 0;
  while (((base + i) & 3) !== 0) {
    s += buf[i] << (((base + i) & 1) << 3);
    i++;
  }
  const words = wordsOf(buf.buffer);
  const nWords = (end - i) >>> 2;
  let w = (base + i) >>> 2;
  const wEnd = w + nWords;
  while (w < wEnd) {
    const stop = wEnd - w > WORDS_PER_FOLD ? w + WORDS_PER_FOLD : wEnd;
    s += sumWords(words, w, stop);
    w = stop;
  }
  i += nWords * 4;
  for (; i < end; i++) s += buf[i] << (((base + i) & 1) << 3);
  s = fold(s);
  // Little-endian word space matches big-endian relative to `off` only when the
  // run starts at an odd address; otherwise swap the two bytes (RFC 1071 §2(B)).
  if (((base + off) & 1) === 0) s = ((s >>> 8) | (s << 8)) & 0xffff;
  return fold(s + initial);
}

/** The Internet checksum of `len` bytes at `off`, seeded with `initial`: ~onesSum. */
export function checksum(buf: Uint8Array, off: number, len: number, initial: number): number {
  return ~onesSum(buf, off, len, initial) & 0xffff;
}

/** onesSum of the IPv4 pseudo-header (RFC 9293 §3.1, RFC 768): src, dst, zero, proto, L4 length. */
export function pseudoHeaderSum(src: number, dst: number, proto: number, l4Len: number): number {
  return fold((src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + l4Len);
}

// --- incremental update (RFC 1624) -----------------------------------------------

/**
 * New checksum after one 16-bit field changes from `oldWord` to `newWord`:
 * RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'). Unlike eqn. 2 it never yields
 * 0xffff where a full recomputation gives 0 (RFC 1624 §4's example).
 */
export function checksumAdjust16(hc: number, oldWord: number, newWord: number): number {
  return ~fold((~hc & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/** As checksumAdjust16 for a 32-bit field (an address, a sequence number). */
export function checksumAdjust32(hc: number, oldValue: number, newValue: number): number {
  return ~fold(
    (~hc & 0xffff) +
    (~(oldValue >>> 16) & 0xffff) + (~oldValue & 0xffff) +
    (newValue >>> 16) + (newValue & 0xffff),
  ) & 0xffff;
}
