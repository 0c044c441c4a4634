// The native poller steers by the same symmetric flow hash the workers key
// their flow tables by: the C port (native/src/steer.h) must agree with
// dataplane/net/flow-hash.ts bit for bit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRandom, testSeed, withSeed } from '../net/seeded-random.js';
import { native } from '../../../native/addon.js';
import { flowHash, FLOW_HASH_SEED } from '../../../dataplane/net/flow-hash.js';
import { FrameMeta, parseFrame, VERIFY_ALL } from '../../../dataplane/net/frame.js';
import { Reason } from '../../../dataplane/net/reason.js';
import { ETHERTYPE_IPV4, writeEthernet } from '../../../dataplane/net/ethernet.js';
import { IP_PROTO_TCP, IPV4_FLAG_DF, writeIpv4Header } from '../../../dataplane/net/ipv4.js';
import { TCP_FLAG_ACK, TCP_HEADER_LEN, tcpChecksumFill, writeTcpHeader } from '../../../dataplane/net/tcp.js';
import { ETHERTYPE_HANDOFF, HandoffHeader, MsgType, encodeHandoff } from '../../../dataplane/handoff/wire.js';
import { MIRROR_BATCH_ETHERTYPE, MIRROR_ETHERTYPE } from '../../../dataplane/mirror.js';

test('C flow hash equals the TypeScript flow hash on 20,000 random tuples, both directions', () => {
  withSeed('flow hash C vs TS', testSeed(), (rnd: SeededRandom) => {
    for (let i = 0; i < 20_000; i++) {
      const a = rnd.u32();
      const b = i % 7 === 0 ? a : rnd.u32(); // equal addresses exercise the port tie-break
      const sp = rnd.u32() & 0xffff;
      const dp = rnd.u32() & 0xffff;
      const proto = [1, 6, 17][i % 3]!;
      const c = native.flowHash(a, b, sp, dp, proto, FLOW_HASH_SEED);
      assert.is(c, flowHash(a, b, sp, dp, proto), `tuple ${a},${b},${sp},${dp},${proto}`);
      assert.is(native.flowHash(b, a, dp, sp, proto, FLOW_HASH_SEED), c);
    }
  });
});

test('a connection-transfer frame steers by its connection: the same hash as the TCP segments, both directions', () => {
  const key = new Uint8Array(32);
  const mac = Uint8Array.from([2, 0, 0, 0, 0, 1]);
  const meta = new FrameMeta();
  withSeed('handoff steering', testSeed(), (rnd: SeededRandom) => {
    for (let i = 0; i < 2000; i++) {
      const local = rnd.u32();
      const remote = rnd.u32();
      const lport = rnd.int(65536);
      const rport = rnd.int(65536);
      // The client's segment to the connection (remote → local), as the poller sees it.
      const seg = new Uint8Array(14 + 20 + TCP_HEADER_LEN);
      writeEthernet(seg, 0, mac, 0, mac, 0, ETHERTYPE_IPV4);
      writeTcpHeader(seg, 34, rport, lport, 1, 1, TCP_HEADER_LEN, TCP_FLAG_ACK, 1000, 0);
      writeIpv4Header(seg, 14, 0, 20 + TCP_HEADER_LEN, 1, IPV4_FLAG_DF, 64, IP_PROTO_TCP, remote, local);
      tcpChecksumFill(seg, 34, TCP_HEADER_LEN, remote, local);
      assert.is(parseFrame(seg, 0, seg.length, meta, VERIFY_ALL), Reason.OK);
      const h = new HandoffHeader();
      Object.assign(h, { type: i % 2 === 0 ? MsgType.DATA : MsgType.ACK, localIp: local, remoteIp: remote, localPort: lport, remotePort: rport, length: 0 });
      const f = new Uint8Array(200);
      writeEthernet(f, 0, mac, 0, mac, 0, ETHERTYPE_HANDOFF);
      const n = encodeHandoff(key, f, 14, h, null, 0);
      const c = native.steerClassify(f.subarray(0, 14 + n), FLOW_HASH_SEED);
      assert.is(c[0], 0, 'to a worker');
      assert.is(c[1], meta.hash, 'the worker the connection lives on');
      assert.is(c[1], flowHash(remote, local, rport, lport, IP_PROTO_TCP));
      assert.is(native.steerClassify(seg, FLOW_HASH_SEED)[1], c[1], 'C agrees for the segment too');
    }
  });
  // Truncated before the tuple: to a worker with hash 0, which counts it malformed.
  const t = new Uint8Array(20);
  writeEthernet(t, 0, mac, 0, mac, 0, ETHERTYPE_HANDOFF);
  assert.equal(native.steerClassify(t, FLOW_HASH_SEED), [0, 0]);
  // The cluster's own control frames still go to the control endpoint.
  const cl = new Uint8Array(60);
  writeEthernet(cl, 0, mac, 0, mac, 0, 0x88b5);
  assert.is(native.steerClassify(cl, FLOW_HASH_SEED)[0], 1);
  // Never from inside a mirror frame.
  const m = new Uint8Array(14 + 200);
  m[12] = MIRROR_ETHERTYPE >>> 8;
  m[13] = MIRROR_ETHERTYPE & 0xff;
  writeEthernet(m, 14, mac, 0, mac, 0, ETHERTYPE_HANDOFF);
  m.set(new Uint8Array(100).fill(1), 28);
  assert.is(native.steerClassify(m, FLOW_HASH_SEED)[0], 2);
});

/** An Ethernet + IPv4 + TCP header for a tuple (enough for the classifier). */
function tcpFrame(src: number, dst: number, sp: number, dp: number, ethertype = 0x0800): Uint8Array {
  const f = new Uint8Array(54);
  f[12] = ethertype >>> 8;
  f[13] = ethertype & 0xff;
  f[14] = 0x45;
  f[23] = 6;
  new DataView(f.buffer).setUint32(26, src);
  new DataView(f.buffer).setUint32(30, dst);
  new DataView(f.buffer).setUint16(34, sp);
  new DataView(f.buffer).setUint16(36, dp);
  return f;
}

function mirror(inner: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + inner.length);
  f[12] = MIRROR_ETHERTYPE >>> 8;
  f[13] = MIRROR_ETHERTYPE & 0xff;
  f.set(inner, 14);
  return f;
}

test('a batch of mirror copies is steered by its first record’s flow hash', () => {
  const inner = tcpFrame(0xc6120001, 0xc6120064, 80, 40000);
  const f = new Uint8Array(14 + 2 + inner.length + 2 + inner.length);
  f[12] = MIRROR_BATCH_ETHERTYPE >>> 8;
  f[13] = MIRROR_BATCH_ETHERTYPE & 0xff;
  new DataView(f.buffer).setUint16(14, inner.length);
  f.set(inner, 16);
  const [cls, hash] = native.steerClassify(f, FLOW_HASH_SEED);
  assert.is(cls, 0, 'to a worker');
  assert.equal([cls, hash], native.steerClassify(mirror(inner), FLOW_HASH_SEED));
  assert.is(native.steerClassify(f.subarray(0, 15), FLOW_HASH_SEED)[0], 2, 'cut inside the length: dropped');
});

test('a mirror frame is steered by its inner frame’s flow hash (to the worker holding the shadow); nested or non-IPv4 inner frames are dropped', () => {
  const a = 0xc6120001;
  const b = 0xc6120065;
  const plain = native.steerClassify(tcpFrame(b, a, 40000, 80), FLOW_HASH_SEED);
  assert.equal(plain, [0, flowHash(b, a, 40000, 80, 6)]);
  assert.equal(native.steerClassify(mirror(tcpFrame(b, a, 40000, 80)), FLOW_HASH_SEED), plain);
  // The other direction of the same connection lands on the same worker.
  assert.equal(native.steerClassify(mirror(tcpFrame(a, b, 80, 40000)), FLOW_HASH_SEED)[1], plain[1]);
  assert.is(native.steerClassify(mirror(mirror(tcpFrame(b, a, 40000, 80))), FLOW_HASH_SEED)[0], 2);
  assert.is(native.steerClassify(mirror(tcpFrame(b, a, 1, 2, 0x0806)), FLOW_HASH_SEED)[0], 2, 'no ARP through a mirror');
  assert.is(native.steerClassify(mirror(new Uint8Array(10)), FLOW_HASH_SEED)[0], 2, 'truncated');
});

test.run();
