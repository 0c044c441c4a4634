// Segmentation offload at the packet level: a link that plays a TAP with
// TSO (harness FakeLink offload: large buffers, checksum left to the device,
// large segments cut as the kernel cuts them). Checks what the stack hands
// the device (link.handed) and what reaches the wire (out()), and that
// segments longer than the MSS are taken on receive.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CISN, established, none, one, out, describe, pattern, type Conversation, type Seg } from './harness.js';
import { Stat } from '../../../dataplane/tcp/stack.js';

const MSS = 1000;

function conv(opts: { win?: number; ws?: number; ts?: boolean; sack?: boolean } = {}): Conversation {
  const c = established({ sendBuffer: 1 << 20, recvBuffer: 1 << 20 }, { mss: MSS, offload: true, win: 65535, ws: 7, ...opts });
  c.link.handed.length = 0; // the handshake's
  return c;
}

function ack(c: Conversation, ackNo: number, now: number, extra: { win?: number; sack?: [number, number][] } = {}): void {
  c.peer.send({ flags: 'A', seq: c.cseq, ack: ackNo >>> 0, win: extra.win ?? 65535, ...(extra.sack ? { sack: extra.sack } : {}) }, now);
}

function joined(segs: Seg[]): Uint8Array {
  const n = segs.reduce((a, s) => a + s.data.length, 0);
  const o = new Uint8Array(n);
  let at = 0;
  for (const s of segs) {
    o.set(s.data, at);
    at += s.data.length;
  }
  return o;
}

test('tso: the initial window goes to the device as one large segment of 10 MSS, cut into 10 wire segments', () => {
  const c = conv();
  const data = pattern(100_000);
  c.app.sockets[0]!.write(data);
  c.stack.flush(10);
  assert.equal(c.link.handed.map((h) => [h.payload, h.gso]), [[10 * MSS, MSS]]);
  const segs = out(c.link);
  assert.equal(segs.map((s) => s.data.length), Array(10).fill(MSS), describe(segs));
  assert.equal(segs.map((s) => s.seq), segs.map((_, k) => (c.iss + k * MSS) >>> 0));
  assert.ok(segs.every((s) => s.flags === 'A'), 'no PSH: the buffer does not end here');
  assert.equal(joined(segs), data.subarray(0, 10 * MSS));
  assert.is(c.stack.stats[Stat.SEGS_OUT], 10 + 1, 'segs_out counts wire segments (and the SYN-ACK)');
});

test('tso: large segments are whole MSS multiples; only the one that ends the buffer is short, with PSH on its last cut', () => {
  const c = conv();
  const data = pattern(25_500);
  c.app.sockets[0]!.write(data);
  let now = 10;
  c.stack.flush(now);
  const all: Seg[] = out(c.link);
  let una = c.iss;
  for (let i = 0; i < 20 && all.reduce((a, s) => a + s.data.length, 0) < data.length; i++) {
    una = (all[all.length - 1]!.seq + all[all.length - 1]!.data.length) >>> 0;
    ack(c, una, ++now);
    all.push(...out(c.link));
  }
  assert.equal(joined(all), data, 'every byte once, in order');
  const handed = c.link.handed;
  assert.ok(handed.length >= 2, `${handed.length} frames`);
  for (const h of handed.slice(0, -1)) assert.is(h.payload % MSS, 0, `whole segments: ${JSON.stringify(handed)}`);
  assert.is(handed[handed.length - 1]!.payload % MSS, 500, 'the last one ends the buffer');
  assert.is(all[all.length - 1]!.flags, 'AP');
  assert.ok(all.slice(0, -1).every((s) => s.flags === 'A'));
});

test('tso: the peer window bounds a large segment to whole MSS pieces; the short rest waits (sender SWS avoidance)', () => {
  const c = conv({ win: 5500, ws: 0 });
  c.app.sockets[0]!.write(pattern(50_000));
  c.stack.flush(10);
  assert.equal(c.link.handed.map((h) => h.payload), [5000]);
  assert.is(out(c.link).length, 5);
});

test('tso: with every large buffer taken the stack sends MSS segments, as without offload', () => {
  const c = conv();
  const held: number[] = [];
  for (let s = c.link.allocLarge(); s >= 0; s = c.link.allocLarge()) held.push(s);
  c.app.sockets[0]!.write(pattern(30_000));
  c.stack.flush(10);
  assert.ok(c.link.handed.every((h) => h.gso === 0 && h.payload <= MSS), JSON.stringify(c.link.handed));
  assert.is(out(c.link).length, 10);
});

test('tso: timestamps (MSS less 12 option bytes) are cut size, and every cut segment carries the same TSval', () => {
  const c = established({ sendBuffer: 1 << 20 }, { mss: 1460, offload: true, ts: true, ws: 7 });
  c.link.handed.length = 0;
  c.app.sockets[0]!.write(pattern(40_000));
  c.stack.flush(10);
  assert.equal(c.link.handed.map((h) => [h.payload, h.gso]), [[10 * 1448, 1448]]);
  const segs = out(c.link);
  assert.is(segs.length, 10);
  assert.ok(segs.every((s) => s.ts !== null && s.ts[0] === segs[0]!.ts![0] && s.data.length === 1448));
});

test('tso: a lost large segment is retransmitted from SND.UNA after the RTO, one MSS (cwnd 1), then large again', () => {
  const c = conv();
  const data = pattern(60_000);
  c.app.sockets[0]!.write(data);
  c.stack.flush(10);
  out(c.link);
  c.link.handed.length = 0;
  c.stack.tick(10 + 1001);
  const r = out(c.link);
  assert.is(r.length, 1, describe(r));
  assert.is(r[0]!.seq, c.iss);
  assert.equal(r[0]!.data, data.subarray(0, MSS), 'the same bytes');
  assert.is(c.stack.stats[Stat.RTO_FIRED], 1);
  // The peer had all of it after all: its ACK opens the window again, and the rest goes large.
  ack(c, c.iss + 10 * MSS, 1100);
  const next = c.link.handed.filter((h) => h.gso > 0);
  assert.ok(next.length >= 1 && next[0]!.seq === ((c.iss + 10 * MSS) >>> 0), JSON.stringify(c.link.handed));
});

test('tso: SACK recovery retransmits exactly the hole, one MSS, out of a large segment', () => {
  const c = conv({ sack: true });
  const data = pattern(60_000);
  c.app.sockets[0]!.write(data);
  c.stack.flush(10);
  out(c.link);
  const i = c.iss;
  // Segment 3 (bytes 2000..3000) lost: three duplicate ACKs SACK what follows it.
  ack(c, i + 2000, 20);
  const r: Seg[] = out(c.link);
  ack(c, i + 2000, 21, { sack: [[i + 3000, i + 5000]] });
  r.push(...out(c.link));
  ack(c, i + 2000, 22, { sack: [[i + 3000, i + 7000]] });
  r.push(...out(c.link));
  ack(c, i + 2000, 23, { sack: [[i + 3000, i + 9000]] });
  r.push(...out(c.link));
  const hole = r.filter((s) => s.seq === ((i + 2000) >>> 0));
  assert.is(hole.length, 1, describe(r));
  assert.equal(hole[0]!.data, data.subarray(2000, 3000));
  assert.ok(c.stack.stats[Stat.FAST_RETRANSMITS]! >= 1);
});

test('tso receive: a segment longer than the MSS is taken whole, delivered, and ACKed at once', () => {
  const c = conv();
  const data = pattern(30_000, 3);
  c.peer.send({ flags: 'AP', seq: c.cseq, ack: c.iss, win: 65535, data }, 10);
  assert.equal(Uint8Array.from(c.app.received), data);
  one(c.link, { flags: 'A', ack: (CISN + 1 + 30_000) >>> 0 });
  assert.is(c.stack.stats[Stat.BYTES_IN], 30_000);
});

test('tso receive: a large out-of-order segment is held and SACKed; the gap fill delivers both', () => {
  const c = conv({ sack: true });
  const a = pattern(2000, 4);
  const b = pattern(40_000, 5);
  c.peer.send({ flags: 'A', seq: c.cseq + 2000, ack: c.iss, win: 65535, data: b }, 10);
  one(c.link, { flags: 'A', ack: c.cseq, sack: [[c.cseq + 2000, c.cseq + 42_000]] });
  c.peer.send({ flags: 'A', seq: c.cseq, ack: c.iss, win: 65535, data: a }, 11);
  one(c.link, { flags: 'A', ack: (c.cseq + 42_000) >>> 0, sack: [] });
  assert.equal(Uint8Array.from(c.app.received), Uint8Array.from([...a, ...b]));
});

test('tso receive: a large segment past the receive window keeps only what fits', () => {
  const c = established({ recvBuffer: 16_384 }, { mss: MSS, offload: true });
  const data = pattern(40_000, 6);
  c.app.sockets[0]!.pause();
  c.peer.send({ flags: 'AP', seq: c.cseq, ack: c.iss, win: 65535, data }, 10);
  const a = out(c.link);
  assert.ok(a.length >= 1);
  assert.is(a[a.length - 1]!.ack, (c.cseq + 16_384) >>> 0, describe(a));
  none(c.link);
});

test.run();
