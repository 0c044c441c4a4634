// Symmetric flow hash: both directions of a flow get the same value, so the
// native poller steers a connection and its snooped mirror image to one
// worker, and the worker's flow table is keyed by the same number.
//
// The native poller computes this in C and must agree bit for bit, so here is
// the exact algorithm (all arithmetic on unsigned 32-bit integers):
//
//   1. Endpoints A = (srcIp, srcPort), B = (dstIp, dstPort). If srcIp > dstIp,
//      or srcIp == dstIp and srcPort > dstPort, swap A and B (unsigned compare).
//   2. Key: four words k0 = A.ip, k1 = B.ip, k2 = A.port << 16 | B.port, k3 = proto.
//   3. Result: MurmurHash3_x86_32 of those 16 bytes, each word serialised
//      little-endian, with the seed (FLOW_HASH_SEED unless setFlowHashSeed
//      changed it). For each word k:
//          k *= 0xcc9e2d51; k = rotl32(k, 15); k *= 0x1b873593;
//          h ^= k; h = rotl32(h, 13); h = h * 5 + 0xe6546b64;
//      then h ^= 16 (the key length) and the fmix32 finaliser:
//          h ^= h >> 16; h *= 0x85ebca6b; h ^= h >> 13; h *= 0xc2b2ae35; h ^= h >> 16.
//
// Any MurmurHash3_x86_32 implementation fed the 16 little-endian bytes gives
// the same number; the unit test checks this against a byte-wise reference.
// Pick workers with `hash % n` or, for n a power of two, `hash & (n - 1)`.

/** Default seed ("bat0"). Both the poller and the workers must use the same one. */
export const FLOW_HASH_SEED = 0x62617430;

let seed = FLOW_HASH_SEED;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Set the seed for this thread (from config, shared with the native poller). */
export function setFlowHashSeed(value: number): void {
  seed = value >>> 0;
}

export function flowHashSeed(): number {
  return seed;
}

/** The symmetric flow hash of a 5-tuple, an unsigned 32-bit number (algorithm above). */
export function flowHash(srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): number {
  return flowHashBits(srcIp, dstIp, srcPort, dstPort, proto) >>> 0;
}

/**
 * The same 32 bits as flowHash, as a signed int32. Hot callers use
 * `flowHashBits(…) >>> 0` so that, inlined or not, no HeapNumber is boxed for
 * the return value (see byte-order.ts).
 */
export function flowHashBits(srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): number {
  // Compare unsigned; carry the words as int32 (see byte-order.ts).
  const src = srcIp >>> 0;
  const dst = dstIp >>> 0;
  let a: number;
  let b: number;
  let ports: number;
  if (src < dst || (src === dst && srcPort <= dstPort)) {
    a = srcIp | 0;
    b = dstIp | 0;
    ports = ((srcPort & 0xffff) << 16) | (dstPort & 0xffff);
  } else {
    a = dstIp | 0;
    b = srcIp | 0;
    ports = ((dstPort & 0xffff) << 16) | (srcPort & 0xffff);
  }
  // The four MurmurHash3 body rounds, written out: a helper per round would
  // spend V8's inlining budget that parseFrame needs.
  let h = seed | 0;
  let k = Math.imul(a, C1);
  k = Math.imul((k << 15) | (k >>> 17), C2);
  h ^= k;
  h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  k = Math.imul(b, C1);
  k = Math.imul((k << 15) | (k >>> 17), C2);
  h ^= k;
  h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  k = Math.imul(ports, C1);
  k = Math.imul((k << 15) | (k >>> 17), C2);
  h ^= k;
  h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  k = Math.imul(proto | 0, C1);
  k = Math.imul((k << 15) | (k >>> 17), C2);
  h ^= k;
  h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  h ^= 16;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
