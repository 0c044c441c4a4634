// Cluster wire: flatbuffers envelopes round-trip; the HMAC refuses forged and
// altered frames; the replay window refuses replays and stale incarnations;
// garbage never throws (seeded fuzz); refusals are counted by the Cluster.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeMessage, encodeMessage, ArpPolicy, ClaimReason, FailoverPolicy, MemberState, Protocol, type Message } from '../../../control/wire/messages.js';
import { open, seal } from '../../../control/wire/frame.js';
import { ReplayWindow } from '../../../control/wire/replay-window.js';
import { SeededRandom } from '../net/seeded-random.js';
import { FakeSegment, KEY, IP } from './fake-segment.js';

const env = (body: Message['body'], over: Partial<Message> = {}): Message => ({ cluster: 1, sender: 2, incarnation: 1_700_000_000_123, seq: 9, to: 0, body, ...over });

test('every message kind round-trips through the flatbuffer', () => {
  const bodies: Message['body'][] = [
    { kind: 'heartbeat', version: 7, state: MemberState.Synced },
    { kind: 'solicit', nodes: [1, 3] },
    { kind: 'fail', node: 3, incarnation: 1_700_000_000_999, byOperator: true },
    { kind: 'handover-request', requestId: 4, unit: { ip: IP(2), lo: 1024, hi: 2047 } },
    { kind: 'handover-reply', requestId: 4, ip: IP(2), accepted: false, reason: 'not the holder' },
    { kind: 'connection-request', requestId: 9, ip: IP(2), localPort: 80, remoteIp: IP(101), remotePort: 40000, withAddress: true },
    { kind: 'connection-reply', requestId: 9, accepted: false, reason: '1 refused (no_service 1), 0 unresolved', selected: 3, moved: 2, rejected: 1, unresolved: 0, addressMoved: false },
    {
      kind: 'ownership',
      record: {
        version: 3, failover: FailoverPolicy.Spread, backups: [3, 1], arp: ArpPolicy.Multicast, protocol: Protocol.Tcp,
        application: 'echo', addresses: [IP(2), IP(12)], ports: [0, 65535], macs: ['02:ba:70:00:00:02', '03:ba:70:00:00:01'],
        claims: [{ ip: IP(2), lo: 0, hi: 65535, home: 2, holder: 1, epoch: 5, author: 1, sinceMs: 1234.5, reason: ClaimReason.Takeover }],
      },
    },
  ];
  for (const b of bodies) assert.equal(decodeMessage(encodeMessage(env(b))), env(b), b.kind);
});

test('seal/open: the flatbuffer comes back; a changed byte anywhere, or another key, is bad_auth', () => {
  const fb = encodeMessage(env({ kind: 'heartbeat', version: 1, state: MemberState.Joining }));
  const sealed = seal(KEY, fb);
  assert.equal(open(KEY, sealed), fb);
  const padded = new Uint8Array(sealed.length + 20);
  padded.set(sealed);
  assert.equal(open(KEY, padded), fb, 'Ethernet padding after the MAC is fine');
  for (let i = 6; i < sealed.length; i += 7) {
    const x = sealed.slice();
    x[i]! ^= 0x40;
    assert.is(open(KEY, x), 'bad_auth', `byte ${i}`);
  }
  assert.is(open(new Uint8Array(32).fill(8), sealed), 'bad_auth');
  const v = sealed.slice();
  v[2] = 9;
  assert.is(open(KEY, v), 'bad_version');
  assert.is(open(KEY, sealed.subarray(0, sealed.length - 1)), 'malformed');
  assert.is(open(KEY, new Uint8Array(10)), 'malformed');
});

test('replay window: in order, out of order within 64, duplicates, too old, restarts', () => {
  const w = new ReplayWindow();
  assert.is(w.accept(2, 100, 1), 'ok');
  assert.is(w.accept(2, 100, 3), 'ok');
  assert.is(w.accept(2, 100, 2), 'ok', 'late but new');
  assert.is(w.accept(2, 100, 2), 'replayed');
  assert.is(w.accept(2, 100, 3), 'replayed');
  assert.is(w.accept(2, 100, 200), 'ok');
  assert.is(w.accept(2, 100, 136), 'stale', 'older than the window');
  assert.is(w.accept(2, 100, 137), 'ok', 'the oldest the window still covers');
  assert.is(w.accept(2, 99, 1000), 'stale', 'a previous incarnation');
  assert.is(w.accept(2, 101, 1), 'ok', 'a restart resets the window');
  assert.is(w.accept(3, 5, 1), 'ok', 'windows are per sender');
});

test('decodeMessage never throws on garbage (seeded fuzz), and seal/open refuse it', () => {
  const seed = Number(process.env['BATON_SEED'] ?? 0xc1a5);
  const rnd = new SeededRandom(seed);
  const good = encodeMessage(env({ kind: 'heartbeat', version: 1, state: MemberState.Synced }));
  for (let i = 0; i < 5000; i++) {
    const n = rnd.int(200);
    const b = new Uint8Array(n);
    for (let k = 0; k < n; k++) b[k] = rnd.int(256);
    if (i % 2 === 0 && n > 8) b.set(good.subarray(0, Math.min(8, good.length)));
    try {
      decodeMessage(b);
    } catch (err) {
      assert.unreachable(`seed ${seed} case ${i}: ${String(err)}`);
    }
    const r = open(KEY, b);
    assert.ok(typeof r === 'string', `seed ${seed} case ${i}: garbage authenticated`);
  }
});

test('a cluster counts garbage, forged, replayed and stale frames and ignores them', () => {
  const seg = new FakeSegment([1, 2, 3]);
  seg.run(300);
  const n1 = seg.nodes.get(1)!;
  const before = { ...n1.counters };
  seg.inject(new Uint8Array([1, 2, 3]), 1);
  const forged = seal(new Uint8Array(32).fill(9), encodeMessage(env({ kind: 'fail', node: 2, incarnation: 1e15, byOperator: true }, { sender: 3, seq: 1e6 })));
  seg.inject(forged, 1);
  const fromNode2 = seg.wire.filter((f) => f.from === 2);
  seg.inject(fromNode2[fromNode2.length - 1]!.payload, 1);
  seg.inject(seal(KEY, encodeMessage(env({ kind: 'heartbeat', version: 1, state: MemberState.Synced }, { sender: 9, seq: 1 }))), 1);
  seg.inject(seal(KEY, encodeMessage(env({ kind: 'heartbeat', version: 1, state: MemberState.Synced }, { sender: 2, incarnation: 5, seq: 1e6 }))), 1);
  seg.inject(seal(KEY, encodeMessage(env({ kind: 'heartbeat', version: 1, state: MemberState.Synced }, { cluster: 77 }))), 1);
  seg.inject(seal(KEY, new Uint8Array([4, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 1, 2])), 1);
  const d = (k: keyof typeof n1.counters): number => n1.counters[k] - before[k];
  assert.is(d('rx_malformed'), 1);
  assert.is(d('rx_bad_auth'), 1);
  assert.is(d('rx_replayed'), 1);
  assert.is(d('rx_unknown_sender'), 1);
  assert.is(d('rx_stale'), 1);
  assert.is(d('rx_wrong_cluster'), 1);
  assert.is(d('rx_bad_message'), 1);
  seg.run(100);
  assert.equal(seg.holderOf(IP(2)), [2], 'nothing of it changed who holds what');
  assert.is(n1.status(seg.now).members.find((m) => m.id === 2)!.liveness, 'alive');
});

test.run();
