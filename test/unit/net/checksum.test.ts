import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checksum, checksumAdjust16, checksumAdjust32, onesAdd, onesSum, pseudoHeaderSum,
} from '../../../dataplane/net/checksum.js';
import {
  IPV4_CHECKSUM, IPV4_SRC, IPV4_TTL, ipv4HeaderChecksum, ipv4HeaderChecksumFill, ipv4HeaderChecksumOk,
  writeIpv4Header,
} from '../../../dataplane/net/ipv4.js';
import { tcpChecksum, tcpChecksumFill, tcpChecksumOk } from '../../../dataplane/net/tcp.js';
import { udpChecksum, udpChecksumFill, udpChecksumOk } from '../../../dataplane/net/udp.js';
import { readU16, readU32, writeU16, writeU32 } from '../../../dataplane/net/byte-order.js';
import { referenceChecksum, referenceOnesSum, referencePseudoSum } from './reference-checksum.js';
import { SeededRandom, testSeed, withSeed } from './seeded-random.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((h) => parseInt(h, 16)));

const rfc = suite('checksum: published examples');

rfc('RFC 1071 §3 numerical example sums to 0xddf2', () => {
  const b = hex('0001 f203 f4f5 f6f7');
  assert.is(onesSum(b, 0, 8, 0), 0xddf2);
  assert.is(checksum(b, 0, 8, 0), 0x220d);
});

rfc('RFC 1071 example gives the same sum at an odd offset (byte-order independence)', () => {
  const b = new Uint8Array(9);
  b.set(hex('0001 f203 f4f5 f6f7'), 1);
  assert.is(onesSum(b, 1, 8, 0), 0xddf2);
});

rfc('well-known IPv4 header 4500 0073 … has checksum 0xb861', () => {
  const h = hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
  assert.is(ipv4HeaderChecksum(h, 0, 20), 0xb861);
  ipv4HeaderChecksumFill(h, 0, 20);
  assert.is(readU16(h, IPV4_CHECKSUM), 0xb861);
  assert.ok(ipv4HeaderChecksumOk(h, 0, 20));
  h[8] ^= 1;
  assert.not.ok(ipv4HeaderChecksumOk(h, 0, 20));
});

rfc('RFC 1624 §4 example: 0xdd2f with 0x5555 → 0x3285 gives 0x0000, not 0xffff', () => {
  assert.is(checksumAdjust16(0xdd2f, 0x5555, 0x3285), 0x0000);
});

const fast = suite('checksum: fast sum matches the byte-by-byte reference');

fast('every offset 0..7 and length 0..300, garbage around the run', () => {
  withSeed('offsets/lengths', testSeed(), (rnd) => {
    const b = rnd.bytes(400);
    for (let off = 0; off < 8; off++) {
      for (let len = 0; len <= 300; len++) {
        const init = rnd.int(0x10000);
        assert.is(onesSum(b, off, len, init), referenceOnesSum(b, off, len, init), `off ${off} len ${len}`);
      }
    }
  });
});

fast('views with odd byteOffset, SharedArrayBuffer, and lengths up to 70000', () => {
  withSeed('views', testSeed(), (rnd) => {
    const sab = new SharedArrayBuffer(80000);
    const whole = rnd.fill(new Uint8Array(sab));
    for (const base of [0, 1, 2, 3, 5, 6, 7, 4093]) {
      const view = new Uint8Array(sab, base, 80000 - base - 3);
      for (const len of [63, 64, 65, 1500, 1501, 9000, 65535, 70000]) {
        const off = rnd.int(5);
        assert.is(onesSum(view, off, len, 0), referenceOnesSum(view, off, len), `base ${base} off ${off} len ${len}`);
      }
    }
    assert.ok(whole.length === 80000);
  });
});

fast('all-0xff data (maximum carries) over 1 MB folds exactly', () => {
  const b = new Uint8Array(1 << 20).fill(0xff);
  assert.is(onesSum(b, 0, b.length, 0), 0xffff);
  assert.is(onesSum(b, 1, b.length - 2, 0), referenceOnesSum(b, 1, b.length - 2));
});

fast('all-zero data sums to 0 (the only input that does)', () => {
  const b = new Uint8Array(256);
  assert.is(onesSum(b, 0, 256, 0), 0);
  assert.is(checksum(b, 3, 200, 0), 0xffff);
});

fast('alternating between more buffers than the view cache holds stays correct', () => {
  withSeed('cache', testSeed(), (rnd) => {
    const bufs = [0, 1, 2, 3, 4, 5].map(() => rnd.bytes(2000));
    for (let round = 0; round < 50; round++) {
      const b = bufs[rnd.int(bufs.length)]!;
      const off = rnd.int(100);
      const len = 64 + rnd.int(1800);
      assert.is(onesSum(b, off, len, 0), referenceOnesSum(b, off, len));
    }
  });
});

fast('onesAdd is one\'s-complement addition with end-around carry', () => {
  assert.is(onesAdd(0xffff, 0x0001), 0x0001);
  assert.is(onesAdd(0x8000, 0x8000), 0x0001);
  assert.is(onesAdd(0x1234, 0), 0x1234);
});

const pseudo = suite('checksum: pseudo-header, TCP and UDP');

pseudo('pseudoHeaderSum matches the 12-byte pseudo-header summed by the reference', () => {
  withSeed('pseudo', testSeed(), (rnd) => {
    for (let i = 0; i < 1000; i++) {
      const src = rnd.u32();
      const dst = rnd.u32();
      const len = rnd.int(65536);
      assert.is(pseudoHeaderSum(src, dst, 6, len), referencePseudoSum(src, dst, 6, len));
      // int32 forms of the addresses give the same sum (hot paths pass them).
      assert.is(pseudoHeaderSum(src | 0, dst | 0, 17, len), referencePseudoSum(src, dst, 17, len));
    }
  });
});

pseudo('tcpChecksum computes the reference value whatever the field holds, and Fill/Ok agree', () => {
  withSeed('tcp', testSeed(), (rnd) => {
    for (let i = 0; i < 300; i++) {
      const off = rnd.int(8);
      const len = 20 + rnd.int(1500);
      const b = rnd.bytes(off + len + 8);
      const src = rnd.u32();
      const dst = rnd.u32();
      const copy = b.slice();
      writeU16(copy, off + 16, 0);
      const want = ~referenceOnesSum(copy, off, len, referencePseudoSum(src, dst, 6, len)) & 0xffff;
      assert.is(tcpChecksum(b, off, len, src, dst), want, 'with garbage in the field');
      tcpChecksumFill(b, off, len, src, dst);
      assert.is(readU16(b, off + 16), want);
      assert.ok(tcpChecksumOk(b, off, len, src, dst));
      b[off + rnd.int(len)] ^= 1 << rnd.int(8);
      assert.not.ok(tcpChecksumOk(b, off, len, src, dst), 'a flipped bit is detected');
    }
  });
});

pseudo('udpChecksum: field 0 means none; a computed 0 is sent as 0xffff and verifies', () => {
  const src = 0xc6120001;
  const dst = 0xc6130050;
  const b = new Uint8Array(8 + 4);
  writeU16(b, 0, 1234);
  writeU16(b, 2, 53);
  writeU16(b, 4, 12);
  assert.ok(udpChecksumOk(b, 0, 12, src, dst), 'checksum 0 = not computed: accepted');
  // Choose the last payload word so that the whole sum is 0xffff: computed checksum 0.
  const s = onesSum(b, 0, 12, pseudoHeaderSum(src, dst, 17, 12));
  writeU16(b, 10, ~s & 0xffff);
  assert.is(checksum(b, 0, 12, pseudoHeaderSum(src, dst, 17, 12)), 0);
  assert.is(udpChecksum(b, 0, 12, src, dst), 0xffff);
  udpChecksumFill(b, 0, 12, src, dst);
  assert.is(readU16(b, 6), 0xffff);
  assert.ok(udpChecksumOk(b, 0, 12, src, dst));
  b[9] ^= 0x10;
  assert.not.ok(udpChecksumOk(b, 0, 12, src, dst));
});

pseudo('referenceChecksum and checksum agree with an initial pseudo-header sum', () => {
  const rnd = new SeededRandom(7);
  const b = rnd.bytes(100);
  const init = referencePseudoSum(1, 2, 6, 100);
  assert.is(checksum(b, 0, 100, init), referenceChecksum(b, 0, 100, init));
});

const incremental = suite('checksum: incremental update (RFC 1624)');

incremental('checksumAdjust16 equals recomputation after changing any 16-bit word of an IPv4 header', () => {
  withSeed('adjust16', testSeed(), (rnd) => {
    const h = new Uint8Array(20);
    for (let i = 0; i < 5000; i++) {
      writeIpv4Header(h, 0, rnd.int(256), 20 + rnd.int(1480), rnd.int(65536), 2, rnd.range(1, 255), 6, rnd.u32(), rnd.u32());
      const word = 2 * rnd.int(10);
      if (word === IPV4_CHECKSUM) continue;
      const before = readU16(h, word);
      const after = rnd.int(65536);
      const adjusted = checksumAdjust16(readU16(h, IPV4_CHECKSUM), before, after);
      writeU16(h, word, after);
      assert.is(adjusted, ipv4HeaderChecksum(h, 0, 20), `word ${word}: ${before} → ${after}`);
    }
  });
});

incremental('checksumAdjust32 equals recomputation after rewriting an address (NAT-style)', () => {
  withSeed('adjust32', testSeed(), (rnd) => {
    const h = new Uint8Array(20);
    for (let i = 0; i < 5000; i++) {
      writeIpv4Header(h, 0, 0, 40, rnd.int(65536), 2, 64, 6, rnd.u32(), rnd.u32());
      const before = readU32(h, IPV4_SRC);
      const after = rnd.u32();
      const adjusted = checksumAdjust32(readU16(h, IPV4_CHECKSUM), before, after);
      writeU32(h, IPV4_SRC, after);
      assert.is(adjusted, ipv4HeaderChecksum(h, 0, 20));
      writeU16(h, IPV4_CHECKSUM, adjusted);
      assert.ok(ipv4HeaderChecksumOk(h, 0, 20));
    }
  });
});

incremental('a TTL decrement patched incrementally still verifies', () => {
  const h = new Uint8Array(20);
  writeIpv4Header(h, 0, 0, 60, 7, 2, 64, 6, 0xc6120001, 0xc6130050);
  const oldWord = readU16(h, IPV4_TTL);
  h[IPV4_TTL] = 63;
  writeU16(h, IPV4_CHECKSUM, checksumAdjust16(readU16(h, IPV4_CHECKSUM), oldWord, readU16(h, IPV4_TTL)));
  assert.ok(ipv4HeaderChecksumOk(h, 0, 20));
});

rfc.run();
fast.run();
pseudo.run();
incremental.run();
