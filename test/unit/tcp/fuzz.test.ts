// Hostile input: seeded random segments (any flags, sequence and
// acknowledgment numbers near and far from the window, options, payloads)
// thrown at a listener and at live connections. The stack must never throw,
// must keep its sequence invariants, and must answer with segments that parse.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CISN, established, type Conversation } from './harness.js';
import { RECORD_WORDS, State, W } from '../../../dataplane/tcp/record.js';
import { seqLe } from '../../../dataplane/tcp/seq.js';
import { Stat, TCP_STAT_NAMES } from '../../../dataplane/tcp/stack.js';
import { withSeed, testSeed, type SeededRandom } from '../net/seeded-random.js';

const FLAGS = ['S', 'A', 'AP', 'AF', 'R', 'RA', 'SA', 'F', 'SAFRP', 'AFP', ''];

function near(r: SeededRandom, base: number): number {
  const k = r.int(4);
  if (k === 0) return base >>> 0;
  if (k === 1) return (base + r.int(70_000) - 5_000) >>> 0;
  if (k === 2) return (base + r.int(2) - 1) >>> 0;
  return (r.int(0x10000) * 0x10000 + r.int(0x10000)) >>> 0;
}

function checkInvariants(c: Conversation): void {
  const u = c.stack.table.u32;
  for (let id = 0; id < c.stack.table.capacity; id++) {
    const b = id * RECORD_WORDS;
    const st = u[b + W.STATE]!;
    if (st === State.CLOSED) continue;
    assert.ok(st <= State.TIME_WAIT, 'a known state');
    assert.ok(seqLe(u[b + W.SND_UNA]!, u[b + W.SND_NXT]!) || st === State.SYN_SENT, 'SND.UNA ≤ SND.NXT');
    assert.ok(seqLe(u[b + W.SND_NXT]!, u[b + W.SND_MAX]!), 'SND.NXT ≤ SND.MAX');
    assert.ok(seqLe(u[b + W.RCV_READ]!, u[b + W.RCV_NXT]!), 'RCV.READ ≤ RCV.NXT');
    assert.ok(((u[b + W.SND_END]! - u[b + W.SND_UNA]!) | 0) <= u[b + W.SND_BUF_BYTES]! + 1, 'send buffer within bounds');
    assert.ok(((u[b + W.RCV_NXT]! - u[b + W.RCV_READ]!) | 0) <= u[b + W.RCV_BUF_BYTES]! + 1, 'receive buffer within bounds');
  }
}

test('random segments never throw, keep the invariants, and every reply parses', () => {
  withSeed('tcp fuzz', testSeed(), (r) => {
    const c = established({ maxConnections: 32, synBacklog: 4, keepaliveIdleMs: 500, keepaliveIntervalMs: 100, rtoMinMs: 10 }, { ts: true, sack: true, ws: 7 });
    c.app.onSocket = (s) => s.on('data', (d) => {
      s.write(d);
      if (d.length > 100) s.end();
    });
    c.app.sockets[0]!.on('data', (d) => c.app.sockets[0]!.write(d));
    let now = 10;
    for (let i = 0; i < 20_000; i++) {
      now += r.int(3);
      const flags = FLAGS[r.int(FLAGS.length)]!;
      const data = r.int(3) === 0 ? new Uint8Array(r.int(1400)) : new Uint8Array(0);
      const sack: [number, number][] = [];
      for (let k = r.int(4); k > 0; k--) sack.push([near(r, c.iss), near(r, c.iss + 3000)]);
      c.peer.send({
        flags, seq: near(r, c.cseq), ack: near(r, c.iss), win: r.int(65536), data,
        ...(r.int(2) === 0 ? { ts: [near(r, 1000 + i), near(r, 0)] as [number, number] } : {}),
        ...(flags.includes('S') ? { mss: r.int(1600), ws: r.int(16) - 1, sackPerm: r.int(2) === 0 } : {}),
        ...(sack.length > 0 ? { sack } : {}),
        srcPort: 40000 + r.int(24),
      }, now);
      if (r.int(16) === 0) c.stack.tick(now);
      if (r.int(64) === 0) {
        const s = c.app.sockets[r.int(c.app.sockets.length)];
        if (s !== undefined && s.writable) s.write(new Uint8Array(r.int(20_000)));
      }
      c.link.sent.length = 0;
      if (i % 1000 === 0) checkInvariants(c);
    }
    for (let t = 0; t < 200; t++) c.stack.tick(now + t * 1000);
    checkInvariants(c);
    assert.ok(c.link.freeSlots === 256, 'no slot leaked by the stack');
    const st = c.stack.stats;
    // The run reached the interesting paths, not only the early drops.
    for (const k of [Stat.PASSIVE_OPENS, Stat.CHALLENGE_ACKS, Stat.RST_SENT, Stat.OUT_OF_WINDOW, Stat.RETRANSMITS, Stat.SYN_COOKIES_SENT]) assert.ok(st[k]! > 0, `stat ${(TCP_STAT_NAMES as readonly string[])[k]} reached`);
    assert.ok(CISN > 0);
  });
});

test.run();
