import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FLOW_HASH_SEED, flowHash, flowHashBits, flowHashSeed, setFlowHashSeed } from '../../../dataplane/net/flow-hash.js';
import { testSeed, withSeed } from './seeded-random.js';

// MurmurHash3_x86_32 over bytes, written from the reference C (smhasher), so
// the C port in the native poller can be checked against any library.
function murmur3(key: Uint8Array, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed | 0;
  const nblocks = key.length >>> 2;
  for (let i = 0; i < nblocks; i++) {
    let k = key[4 * i]! | (key[4 * i + 1]! << 8) | (key[4 * i + 2]! << 16) | (key[4 * i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = nblocks * 4;
  const rest = key.length & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= key[tail + 2]! << 16;
    if (rest >= 2) k ^= key[tail + 1]! << 8;
    k ^= key[tail]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= key.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The 16-byte key of the algorithm in flow-hash.ts, words little-endian. */
function canonicalKey(srcIp: number, dstIp: number, sport: number, dport: number, proto: number): Uint8Array {
  let [aIp, bIp, aPort, bPort] = [srcIp >>> 0, dstIp >>> 0, sport, dport];
  if (aIp > bIp || (aIp === bIp && aPort > bPort)) [aIp, bIp, aPort, bPort] = [bIp, aIp, bPort, aPort];
  const key = new Uint8Array(16);
  const dv = new DataView(key.buffer);
  dv.setUint32(0, aIp, true);
  dv.setUint32(4, bIp, true);
  dv.setUint32(8, ((aPort << 16) | bPort) >>> 0, true);
  dv.setUint32(12, proto, true);
  return key;
}

const ref = suite('flow hash: the documented algorithm');

ref('reference murmur3 reproduces the published MurmurHash3_x86_32 test vectors', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  assert.is(murmur3(new Uint8Array(0), 0), 0);
  assert.is(murmur3(new Uint8Array(0), 1), 0x514e28b7);
  assert.is(murmur3(new Uint8Array(0), 0xffffffff), 0x81f16f39);
  assert.is(murmur3(new Uint8Array([0, 0, 0, 0]), 0), 0x2362f9de);
  assert.is(murmur3(new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0), 0xf55b516b);
  assert.is(murmur3(new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0x5082edee), 0x2362f9de);
  assert.is(murmur3(new Uint8Array([0x21, 0x43, 0x65]), 0), 0x7e4a8634);
  assert.is(murmur3(new Uint8Array([0x21, 0x43]), 0), 0xa0f7b07a);
  assert.is(murmur3(new Uint8Array([0x21]), 0), 0x72661cf4);
  assert.is(murmur3(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 0), 0x76293b50);
  assert.is(murmur3(enc('aaaa'), 0x9747b28c), 0x5a97808a);
  assert.is(murmur3(enc('Hello, world!'), 0x9747b28c), 0x24884cba);
  assert.is(murmur3(enc('The quick brown fox jumps over the lazy dog'), 0x9747b28c), 0x2fa826cd);
});

ref('flowHash is MurmurHash3_x86_32 of the canonical 16-byte key with the seed', () => {
  withSeed('murmur key', testSeed(), (rnd) => {
    for (let i = 0; i < 20000; i++) {
      const t = [rnd.u32(), rnd.u32(), rnd.int(65536), rnd.int(65536), rnd.int(256)] as const;
      assert.is(flowHash(...t), murmur3(canonicalKey(...t), FLOW_HASH_SEED));
    }
  });
});

ref('frozen vectors for the C port (seed 0x62617430)', () => {
  // If these change, the native poller's steering must change with them.
  assert.is(flowHash(0xc6120001, 0xc6130050, 40000, 80, 6), 0xa7bcd2c5);
  assert.is(flowHash(0xc6130050, 0xc6120001, 80, 40000, 6), 0xa7bcd2c5);
  assert.is(flowHash(0x0a000001, 0x0a000002, 1024, 443, 17), 0x2489d637);
  assert.is(flowHash(0, 0, 0, 0, 0), 0x11c1b5ca);
  assert.is(flowHash(0, 0, 0, 0, 0), murmur3(new Uint8Array(16), 0x62617430));
});

ref('flowHashBits is the same 32 bits as a signed int32; int32 address forms give the same hash', () => {
  withSeed('bits', testSeed(), (rnd) => {
    for (let i = 0; i < 1000; i++) {
      const s = rnd.u32();
      const d = rnd.u32();
      const h = flowHash(s, d, 1, 2, 6);
      assert.is(flowHashBits(s, d, 1, 2, 6), h | 0);
      assert.is(flowHash(s | 0, d | 0, 1, 2, 6), h);
    }
  });
});

ref('setFlowHashSeed changes the hash and keeps it symmetric', () => {
  const before = flowHash(1, 2, 3, 4, 6);
  setFlowHashSeed(0xdeadbeef);
  try {
    assert.is(flowHashSeed(), 0xdeadbeef);
    assert.is.not(flowHash(1, 2, 3, 4, 6), before);
    assert.is(flowHash(1, 2, 3, 4, 6), flowHash(2, 1, 4, 3, 6));
    assert.is(flowHash(1, 2, 3, 4, 6), murmur3(canonicalKey(1, 2, 3, 4, 6), 0xdeadbeef));
  } finally {
    setFlowHashSeed(FLOW_HASH_SEED);
  }
});

const sym = suite('flow hash: symmetry');

sym('both directions of 100k random flows hash alike', () => {
  withSeed('symmetry', testSeed(), (rnd) => {
    for (let i = 0; i < 100000; i++) {
      const a = rnd.u32();
      const b = rnd.int(8) === 0 ? a : rnd.u32(); // same-host flows too
      const pa = rnd.int(65536);
      const pb = rnd.int(65536);
      const proto = rnd.int(2) === 0 ? 6 : 17;
      assert.is(flowHash(a, b, pa, pb, proto), flowHash(b, a, pb, pa, proto));
    }
  });
});

sym('endpoints are kept whole: swapping only the ports, or only the addresses, is another flow', () => {
  const h = flowHash(0xc6120001, 0xc6130050, 40000, 80, 6);
  assert.is.not(flowHash(0xc6120001, 0xc6130050, 80, 40000, 6), h);
  assert.is.not(flowHash(0xc6130050, 0xc6120001, 40000, 80, 6), h);
  assert.is.not(flowHash(0xc6120001, 0xc6130050, 40000, 80, 17), h, 'protocol is part of the key');
});

const spread = suite('flow hash: spread');

/** Chi-square statistic of `counts` against a uniform expectation. */
function chiSquare(counts: Uint32Array, total: number): number {
  const expected = total / counts.length;
  let x = 0;
  for (const c of counts) x += ((c - expected) * (c - expected)) / expected;
  return x;
}

/**
 * Upper bound on chi-square for `df` degrees of freedom at about 1e-6 false
 * alarm (Wilson–Hilferty with z = 4.9), so an honest hash never flakes.
 */
function chiLimit(df: number): number {
  const z = 4.9;
  const t = 1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df));
  return df * t * t * t;
}

function checkSpread(hashes: Uint32Array, label: string): void {
  for (const n of [2, 3, 4, 16, 1024]) {
    const low = new Uint32Array(n);
    const high = new Uint32Array(n);
    const bits = Math.log2(n);
    for (const h of hashes) {
      low[h % n]! += 1;
      if (Number.isInteger(bits)) high[h >>> (32 - bits)]! += 1;
    }
    const x = chiSquare(low, hashes.length);
    assert.ok(x < chiLimit(n - 1), `${label}: hash % ${n} chi-square ${x.toFixed(1)} ≥ ${chiLimit(n - 1).toFixed(1)}`);
    if (Number.isInteger(bits)) {
      const xh = chiSquare(high, hashes.length);
      assert.ok(xh < chiLimit(n - 1), `${label}: top ${bits} bits chi-square ${xh.toFixed(1)}`);
    }
    if (n <= 16) {
      // Few buckets (worker counts): every bucket within 5 standard deviations
      // of its share (0.5% of it at 1M flows over 2 buckets, 4% at 65k over 16).
      const share = hashes.length / n;
      const limit = 5 * Math.sqrt(share * (1 - 1 / n));
      for (const c of low) {
        assert.ok(Math.abs(c - share) < limit, `${label}: ${n} buckets, one holds ${c}, share ${share.toFixed(0)} ± ${limit.toFixed(0)}`);
      }
    }
  }
}

spread('1M random flows spread uniformly over 2, 3, 4, 16 and 1024 buckets', () => {
  withSeed('random flows', testSeed(), (rnd) => {
    const hashes = new Uint32Array(1_000_000);
    for (let i = 0; i < hashes.length; i++) {
      hashes[i] = flowHash(rnd.u32(), rnd.u32(), rnd.int(65536), rnd.int(65536), 6);
    }
    checkSpread(hashes, 'random');
  });
});

spread('one client, ports 1024..65535, to one server port spread uniformly too', () => {
  const client = 0xc6120001;
  const server = 0xc6130050;
  const hashes = new Uint32Array(65535 - 1024 + 1);
  for (let p = 1024; p <= 65535; p++) hashes[p - 1024] = flowHash(client, server, p, 443, 6);
  checkSpread(hashes, 'sequential ports');
});

spread('one server, clients 198.18.0.0/16 on one port spread uniformly', () => {
  const hashes = new Uint32Array(65536);
  for (let i = 0; i < 65536; i++) hashes[i] = flowHash(0xc6120000 + i, 0xc6130050, 50000, 443, 6);
  checkSpread(hashes, 'sequential addresses');
});

ref.run();
sym.run();
spread.run();
