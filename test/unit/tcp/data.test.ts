// Data transfer in ESTABLISHED: receiving (in order, out of order, SACK,
// duplicates, window), sending (MSS, windows, cwnd), loss recovery (RTO,
// fast retransmit, SACK holes), flow control (zero window both ways), and
// the RFC 5961 / RFC 7323 checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CISN, SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT, established, newStack, none, one, out, describe, pattern, type Conversation, type Seg } from './harness.js';
import { Stat } from '../../../dataplane/tcp/stack.js';
import { State } from '../../../dataplane/tcp/record.js';

function send(c: Conversation, data: string | Uint8Array, now: number, extra: Partial<{ seq: number; win: number; ts: [number, number]; flags: string }> = {}): void {
  const d = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  c.peer.send({ flags: extra.flags ?? 'AP', seq: extra.seq ?? c.cseq, ack: c.iss, win: extra.win ?? 65535, data: d, ...(extra.ts ? { ts: extra.ts } : {}) }, now);
  if (extra.seq === undefined) c.cseq += d.length;
}

function ackAll(c: Conversation, segs: Seg[], now: number, win = 65535): void {
  let hi = c.iss;
  for (const s of segs) if (((s.seq + s.data.length - hi) | 0) > 0) hi = (s.seq + s.data.length) >>> 0;
  c.iss = hi;
  c.peer.send({ flags: 'A', seq: c.cseq, ack: hi, win }, now);
}

test('established_data: in-order data reaches the application; one small segment is ACKed after the delayed-ACK timer', () => {
  const c = established();
  send(c, 'hello', 10);
  assert.is(c.app.text, 'hello');
  none(c.link);
  c.stack.tick(49);
  none(c.link);
  c.stack.tick(50);
  one(c.link, { flags: 'A', ack: CISN + 1 + 5 });
});

test('established_data: two full segments are ACKed at once (RFC 9293 §3.8.6.3)', () => {
  const c = established();
  send(c, pattern(1460), 10);
  none(c.link);
  send(c, pattern(1460, 9), 11);
  one(c.link, { flags: 'A', ack: CISN + 1 + 2920 });
});

test('established_ooo: an out-of-order segment gets an immediate duplicate ACK with a SACK block; the gap fill ACKs all', () => {
  const c = established({}, { sack: true });
  const a = pattern(1000, 1);
  const b = pattern(1000, 2);
  send(c, b, 10, { seq: c.cseq + 1000 });
  one(c.link, { flags: 'A', ack: CISN + 1, sack: [[CISN + 1001, CISN + 2001]] });
  assert.is(c.app.received.length, 0, 'nothing delivered past a hole');
  send(c, a, 11);
  one(c.link, { flags: 'A', ack: CISN + 2001, sack: [] });
  assert.equal(Uint8Array.from(c.app.received), Uint8Array.from([...a, ...b]));
  assert.is(c.stack.stats[Stat.OOO_SEGMENTS], 1);
});

test('established_ooo: SACK blocks list the most recent block first (RFC 2018 §4)', () => {
  const c = established({}, { sack: true });
  const base = c.cseq;
  send(c, pattern(100), 10, { seq: base + 200 });
  out(c.link);
  send(c, pattern(100), 11, { seq: base + 400 });
  one(c.link, { sack: [[base + 400, base + 500], [base + 200, base + 300]] });
});

test('established_dup: a duplicate segment is ACKed and not delivered twice', () => {
  const c = established();
  const seq = c.cseq;
  send(c, 'abc', 10);
  send(c, 'abc', 11, { seq });
  one(c.link, { flags: 'A', ack: seq + 3 });
  assert.is(c.app.text, 'abc');
});

test('established_overlap: a segment overlapping received data delivers only the new bytes', () => {
  const c = established();
  const seq = c.cseq;
  send(c, 'abcd', 10);
  send(c, 'cdefg', 11, { seq: seq + 2 });
  assert.is(c.app.text, 'abcdefg');
});

test('established_out_of_window: a segment beyond the window is dropped with an ACK', () => {
  const c = established();
  send(c, 'zzz', 10, { seq: c.cseq + 1_000_000 });
  one(c.link, { flags: 'A', ack: c.cseq });
  assert.is(c.app.received.length, 0);
  assert.is(c.stack.stats[Stat.OUT_OF_WINDOW], 1);
});

test('established_wrap: RCV.NXT just below 2^32 with the window edge wrapped past zero: data at RCV.NXT and across the wrap is taken; beyond the edge is not', () => {
  // The failover kill loop's stuck echo stream: the acceptability test took
  // the window as edge − RCV.NXT without modulo, negative once the edge
  // wrapped, and dropped every segment as out of window.
  const { stack, link, peer, app } = newStack();
  const isn = 0xffffffff - 1000;
  peer.send({ flags: 'S', seq: isn, mss: 1460 }, 0);
  const synAck = one(link, { flags: 'SA', ack: (isn + 1) >>> 0 });
  const iss = (synAck.seq + 1) >>> 0;
  let seq = (isn + 1) >>> 0;
  peer.send({ flags: 'A', seq, ack: iss }, 1);
  none(link);
  const first = pattern(600, 3);
  peer.send({ flags: 'AP', seq, ack: iss, data: first }, 2);
  seq = (seq + 600) >>> 0;
  const across = pattern(1000, 5); // 400 bytes before the wrap, 600 after
  peer.send({ flags: 'AP', seq, ack: iss, data: across }, 3);
  seq = (seq + 1000) >>> 0;
  assert.is(seq, 600);
  stack.tick(60); // the delayed ACK
  one(link, { flags: 'A', ack: seq });
  assert.equal(app.received, [...first, ...across]);
  assert.is(stack.stats[Stat.OUT_OF_WINDOW], 0);
  const id = stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.ok(id >= 0);
  // Far beyond the (wrapped) right edge: out of window, answered with an ACK.
  peer.send({ flags: 'AP', seq: (seq + 200_000) >>> 0, ack: iss, data: pattern(10) }, 4);
  one(link, { flags: 'A', ack: seq });
  assert.is(stack.stats[Stat.OUT_OF_WINDOW], 1);
});

test('send: writes go out in MSS-sized segments within the peer window; PSH on the last', () => {
  const c = established({}, { mss: 1000 });
  c.app.sockets[0]!.write(pattern(2500));
  c.stack.flush(10);
  const segs = out(c.link);
  assert.is(segs.length, 3, describe(segs));
  assert.equal(segs.map((s) => s.data.length), [1000, 1000, 500]);
  assert.equal(segs.map((s) => s.flags), ['A', 'A', 'AP']);
  assert.is(segs[0]!.seq, c.iss);
});

test('send: the initial window is 10 segments (RFC 6928) and grows in slow start', () => {
  const c = established({}, { mss: 1000 });
  c.app.sockets[0]!.write(pattern(40_000));
  c.stack.flush(10);
  let segs = out(c.link);
  assert.is(segs.length, 10, 'IW10');
  ackAll(c, segs, 20);
  segs = out(c.link);
  assert.ok(segs.length >= 12, `slow start grows cwnd (sent ${segs.length})`);
});

test('send: never beyond the peer window', () => {
  const c = established({}, { mss: 1000, win: 3000 });
  c.app.sockets[0]!.write(pattern(10_000));
  c.stack.flush(10);
  const segs = out(c.link);
  assert.equal(segs.map((s) => s.data.length), [1000, 1000, 1000]);
});

test('rto: unacknowledged data is retransmitted after the RTO, with exponential backoff (RFC 6298 §5)', () => {
  const c = established({ rtoInitialMs: 1000 }, { mss: 1000 });
  c.app.sockets[0]!.write(pattern(500));
  c.stack.flush(10);
  const first = one(c.link, { data: 500 });
  c.stack.tick(1009);
  none(c.link);
  c.stack.tick(1010);
  one(c.link, { seq: first.seq, data: 500 });
  c.stack.tick(3009);
  none(c.link);
  c.stack.tick(3010);
  one(c.link, { seq: first.seq, data: 500 });
  assert.is(c.stack.stats[Stat.RTO_FIRED], 2);
  // The ACK stops the timer.
  ackAll(c, [first], 3100);
  c.stack.tick(20_000);
  none(c.link);
});

test('rto: gives up after maxRetries with ETIMEDOUT and an RST', () => {
  const c = established({ rtoInitialMs: 200, maxRetries: 2, rtoMaxMs: 1000 });
  c.app.sockets[0]!.write(pattern(10));
  c.stack.flush(10);
  out(c.link);
  for (let t = 100; t < 10_000; t += 100) c.stack.tick(t);
  const segs = out(c.link);
  assert.is(segs.filter((s) => s.flags.includes('R')).length, 1, describe(segs));
  assert.equal(c.app.errors, ['ETIMEDOUT']);
  assert.equal(c.app.closes, [true]);
  assert.is(c.stack.connections, 0);
});

test('fast_retransmit: three duplicate ACKs retransmit the first unacknowledged segment (RFC 5681 §3.2)', () => {
  const c = established({}, { mss: 1000 });
  c.app.sockets[0]!.write(pattern(6000));
  c.stack.flush(10);
  const segs = out(c.link);
  assert.is(segs.length, 6);
  for (let i = 0; i < 2; i++) c.peer.send({ flags: 'A', seq: c.cseq, ack: c.iss }, 20 + i);
  none(c.link);
  c.peer.send({ flags: 'A', seq: c.cseq, ack: c.iss }, 23);
  const r = out(c.link);
  assert.ok(r.length >= 1, 'retransmitted');
  assert.is(r[0]!.seq, c.iss);
  assert.is(r[0]!.data.length, 1000);
  assert.is(c.stack.stats[Stat.FAST_RETRANSMITS], 1);
  // A full ACK ends recovery.
  c.peer.send({ flags: 'A', seq: c.cseq, ack: c.iss + 6000 }, 30);
  assert.is(c.stack.stats[Stat.RTO_FIRED], 0);
});

test('newreno_partial_ack: a partial ACK retransmits the next hole at once (RFC 6582 §3.2 step 4)', () => {
  const c = established({ congestion: 'reno' }, { mss: 1000 });
  c.app.sockets[0]!.write(pattern(6000));
  c.stack.flush(10);
  out(c.link);
  for (let i = 0; i < 3; i++) c.peer.send({ flags: 'A', seq: c.cseq, ack: c.iss }, 20 + i);
  out(c.link);
  c.peer.send({ flags: 'A', seq: c.cseq, ack: c.iss + 2000 }, 30);
  const r = out(c.link);
  assert.ok(r.some((s) => s.seq === c.iss + 2000 && s.data.length === 1000), describe(r));
});

test('sack_recovery: only the holes the peer reports are retransmitted', () => {
  const c = established({}, { mss: 1000, sack: true });
  c.app.sockets[0]!.write(pattern(8000));
  c.stack.flush(10);
  assert.is(out(c.link).length, 8);
  const u = c.iss;
  // Segments 1 and 4 lost: the peer holds [2000,4000) and [5000,8000).
  const sack: [number, number][] = [[u + 5000, u + 8000], [u + 1000, u + 4000]];
  for (let i = 0; i < 3; i++) c.peer.send({ flags: 'A', seq: c.cseq, ack: u, sack }, 20 + i);
  const r = out(c.link).filter((s) => s.data.length > 0);
  const seqs = r.map((s) => s.seq - u);
  assert.ok(seqs.includes(0), `hole 1 retransmitted: ${describe(r)}`);
  assert.ok(seqs.includes(4000), `hole 2 retransmitted: ${describe(r)}`);
  assert.not.ok(seqs.some((x) => x >= 1000 && x < 4000), 'nothing SACKed was resent');
  assert.not.ok(seqs.some((x) => x >= 5000 && x < 8000), 'nothing SACKed was resent');
});

test('zero_window: a closed peer window stops data; the persist timer probes; an open window resumes', () => {
  const c = established({ rtoInitialMs: 1000 }, { mss: 1000 });
  c.app.sockets[0]!.write(pattern(3000));
  c.stack.flush(10);
  const segs = out(c.link);
  ackAll(c, [segs[0]!], 20, 0);
  // Two segments still in flight: the peer's ACK of all with window 0.
  ackAll(c, segs, 21, 0);
  c.app.sockets[0]!.write(pattern(500));
  c.stack.flush(22);
  none(c.link);
  c.stack.tick(1100);
  const probe = one(c.link, { flags: 'A', data: 0 });
  assert.is(probe.seq, (c.iss - 1) >>> 0, 'probe below SND.UNA elicits an ACK');
  assert.is(c.stack.stats[Stat.WINDOW_PROBES], 1);
  c.peer.send({ flags: 'A', seq: c.cseq, ack: c.iss, win: 8000 }, 1200);
  one(c.link, { seq: c.iss, data: 500 });
});

test('sws_override: a window below a segment with nothing in flight is held back (SWS avoidance), then used when the persist timer fires (RFC 9293 §3.8.6.2.1)', () => {
  const c = established({ rtoInitialMs: 1000 }, { mss: 1000 });
  c.app.sockets[0]!.write(pattern(3000));
  c.stack.flush(10);
  const segs = out(c.link);
  // The peer takes it all but has only 300 bytes of room left; 2000 more wait.
  ackAll(c, segs, 20, 300);
  c.app.sockets[0]!.write(pattern(2000));
  c.stack.flush(21);
  none(c.link);
  // Before: nothing would ever go (no zero window, so no probe) — both sides waiting.
  c.stack.tick(1100);
  const seg = one(c.link, { seq: c.iss, data: 300 });
  assert.is(seg.flags, 'A');
  assert.is(c.stack.stats[Stat.WINDOW_PROBES], 0, 'data into the window, not a probe');
  // The peer's window opens: the rest goes in full segments.
  c.peer.send({ flags: 'A', seq: c.cseq, ack: (c.iss + 300) >>> 0, win: 65535 }, 1200);
  const rest = out(c.link);
  assert.equal(rest.map((x) => x.data.length), [1000, 700], describe(rest));
});

test('receive_window: a paused application fills the buffer; the window closes, and reopens on resume', () => {
  const c = established({ recvBuffer: 8192 }, { mss: 1000 });
  c.app.sockets[0]!.pause();
  let now = 10;
  for (let i = 0; i < 8; i++) send(c, pattern(1000, i), now++);
  c.stack.tick(now + 100);
  now += 101;
  let segs = out(c.link);
  const last = segs[segs.length - 1]!;
  assert.ok(last.win * 1 <= 192, `window nearly closed: ${describe([last])}`);
  send(c, pattern(1000, 99), now++);
  segs = out(c.link);
  assert.is(c.app.received.length, 0);
  c.app.sockets[0]!.resume();
  c.stack.flush(now++);
  assert.is(c.app.received.length, 8192, 'everything that fit is delivered, nothing more');
  const upd = out(c.link);
  assert.ok(upd.length >= 1 && upd[upd.length - 1]!.win >= 4096, `window update sent: ${describe(upd)}`);
});

test('receive_window: at a zero window, a retransmission that starts below RCV.NXT and covers it still carries a usable ACK (RFC 9293 §3.10.7.4, as Linux tcp_sequence)', () => {
  // An application that reads only once its writes drain (a closing echo) and a
  // client whose pure ACKs sit beyond the closed window (its FIN sent past it):
  // the only segment that can bring the ACK is the client's retransmission,
  // which starts below RCV.NXT. Taking only a segment exactly at RCV.NXT left
  // both sides waiting for good (the close storm's seed 56820560).
  const c = established({ recvBuffer: 8192, rtoInitialMs: 1000 }, { mss: 1000 });
  const sock = c.app.sockets[0]!;
  sock.pause();
  sock.write(pattern(500));
  c.stack.flush(5);
  const data = one(c.link, { data: 500 });
  let now = 10;
  for (let i = 0; i < 8; i++) send(c, pattern(1000, i), now++);
  send(c, pattern(192, 8), now++);
  c.stack.tick(now + 100);
  now += 101;
  const closed = out(c.link);
  assert.is(closed[closed.length - 1]!.win, 0, `the window is closed: ${describe(closed)}`);
  const rcvNxt = c.cseq;
  // Beyond the closed window: not acceptable, its ACK not taken.
  c.peer.send({ flags: 'A', seq: rcvNxt + 300, ack: data.seq + 500, win: 65535 }, now++);
  one(c.link, { flags: 'A', ack: rcvNxt });
  // The retransmission [RCV.NXT − 200, RCV.NXT + 800) with its FIN: its ACK is taken, its data beyond the window is not.
  c.peer.send({ flags: 'APF', seq: rcvNxt - 200, ack: data.seq + 500, win: 65535, data: pattern(1000, 7) }, now++);
  const answer = out(c.link);
  assert.ok(answer.every((x) => x.data.length === 0 && x.ack === rcvNxt), `only ACKs of RCV.NXT: ${describe(answer)}`);
  c.stack.tick(now + 5000);
  assert.ok(out(c.link).every((x) => x.data.length === 0), 'the 500 bytes are acknowledged: never retransmitted');
  assert.is(c.app.received.length, 0);
  sock.resume();
  c.stack.flush(now + 5001);
  assert.is(c.app.received.length, 8192, 'nothing beyond the window was taken');
});

test('receive_window: a segment that starts below RCV.NXT and ends past the window edge is taken, trimmed to the window (as Linux tcp_sequence)', () => {
  const c = established({ recvBuffer: 8192 }, { mss: 1000 });
  const sock = c.app.sockets[0]!;
  sock.pause();
  let now = 10;
  const sent: number[] = [];
  for (let i = 0; i < 8; i++) {
    const p = pattern(1000, i);
    sent.push(...p);
    send(c, p, now++);
  }
  c.stack.tick(now + 100);
  now += 101;
  const segs = out(c.link);
  const wnd = segs[segs.length - 1]!.win;
  assert.ok(wnd > 0 && wnd < 1000, `a small window is open: ${describe(segs)}`);
  // 1000 bytes from RCV.NXT − 200: 200 old, `wnd` that fit, the rest past the edge.
  const more = pattern(4000, 9);
  const seg = Uint8Array.from([...sent.slice(-200), ...more.subarray(0, 800)]);
  c.peer.send({ flags: 'AP', seq: c.cseq - 200, ack: c.iss, win: 65535, data: seg }, now++);
  one(c.link, { flags: 'A', ack: c.cseq + wnd });
  sock.resume();
  c.stack.flush(now++);
  assert.equal(Uint8Array.from(c.app.received), Uint8Array.from([...sent, ...more.subarray(0, wnd)]));
});

test('rfc5961_rst_in_window: an RST not exactly at RCV.NXT gets a challenge ACK and changes nothing', () => {
  const c = established();
  c.peer.send({ flags: 'R', seq: c.cseq + 10 }, 10);
  one(c.link, { flags: 'A', seq: c.iss, ack: c.cseq });
  assert.is(c.stack.state(c.id), State.ESTABLISHED);
  assert.is(c.stack.stats[Stat.CHALLENGE_ACKS], 1);
});

test('rfc5961_rst_exact: RST at RCV.NXT resets; the application sees ECONNRESET and close(true)', () => {
  const c = established();
  c.peer.send({ flags: 'R', seq: c.cseq }, 10);
  none(c.link);
  assert.equal(c.app.errors, ['ECONNRESET']);
  assert.equal(c.app.closes, [true]);
  assert.is(c.stack.connections, 0);
});

test('rfc5961_syn: a SYN in ESTABLISHED gets a challenge ACK (§4.2)', () => {
  const c = established();
  c.peer.send({ flags: 'S', seq: c.cseq + 5 }, 10);
  one(c.link, { flags: 'A', ack: c.cseq });
  assert.is(c.stack.state(c.id), State.ESTABLISHED);
});

test('rfc5961_old_ack: an ACK far below SND.UNA − MAX.SND.WND gets a challenge ACK and the data is dropped (§5.2)', () => {
  const c = established();
  c.peer.send({ flags: 'AP', seq: c.cseq, ack: (c.iss - 200_000) >>> 0, data: 'x' }, 10);
  one(c.link, { flags: 'A', ack: c.cseq });
  assert.is(c.app.received.length, 0);
});

test('rfc5961_challenge_limit: challenge ACKs are rate-limited per second', () => {
  const c = established({ challengeAckLimit: 2 });
  for (let i = 0; i < 5; i++) c.peer.send({ flags: 'R', seq: c.cseq + 10 }, 10 + i);
  assert.is(out(c.link).length, 2);
  c.peer.send({ flags: 'R', seq: c.cseq + 10 }, 1100);
  assert.is(out(c.link).length, 1);
});

test('ack_unsent: an ACK for data never sent is dropped with an ACK', () => {
  const c = established();
  c.peer.send({ flags: 'AP', seq: c.cseq, ack: c.iss + 5000, data: 'x' }, 10);
  one(c.link, { flags: 'A', ack: c.cseq });
  assert.is(c.app.received.length, 0);
});

test('timestamps: every segment carries TSval/TSecr; PAWS drops an old TSval with an ACK (RFC 7323 §5.3)', () => {
  const c = established({}, { ts: true });
  send(c, 'a', 10, { ts: [2000, 0] });
  send(c, pattern(2920), 11, { ts: [2001, 0] });
  const ack = one(c.link, { flags: 'A' });
  // RFC 7323 §4.3: with delayed ACKs TS.Recent is the TSval of the earliest unacknowledged segment.
  assert.is(ack.ts![1], 2000, 'TSecr = TS.Recent');
  send(c, 'b', 12, { ts: [1500, 0], seq: c.cseq });
  one(c.link, { flags: 'A' });
  assert.is(c.app.received.length, 2921);
  assert.is(c.stack.stats[Stat.PAWS_DROPS], 1);
});

test('timestamps: RTT from TSecr sets the RTO (RFC 6298 §2 with RFC 7323 §4)', () => {
  const c = established({ rtoMinMs: 1 }, { ts: true, mss: 1000 });
  c.app.sockets[0]!.write(pattern(100));
  c.stack.flush(100);
  const s = one(c.link, { data: 100 });
  c.peer.send({ flags: 'A', seq: c.cseq, ack: c.iss + 100, ts: [3000, s.ts![0]] }, 150);
  // Samples: 1 ms (the handshake) then 50 ms. SRTT = 7/8·1 + 1/8·50 = 7.125,
  // RTTVAR = 3/4·0.5 + 1/4·49 = 12.625, RTO = 7.125 + 4·12.625 = 57.625 ms.
  c.app.sockets[0]!.write(pattern(10));
  c.stack.flush(200);
  out(c.link);
  c.stack.tick(257);
  none(c.link);
  c.stack.tick(258);
  one(c.link, { data: 10 });
});

test('window_scale: the peer window is scaled by its shift, ours advertised shifted (RFC 7323 §2)', () => {
  const c = established({ recvBuffer: 1 << 20, sendBuffer: 1 << 20 }, { ws: 4, mss: 1000 });
  c.peer.send({ flags: 'A', seq: c.cseq, ack: c.iss, win: 100 }, 5); // 100 << 4 = 1600 bytes
  c.app.sockets[0]!.write(pattern(5000));
  c.stack.flush(10);
  const segs = out(c.link);
  assert.equal(segs.map((s) => s.data.length), [1000], '1600-byte window: one full segment, no runt');
  send(c, 'x', 11);
  c.stack.tick(100);
  const ack = out(c.link).pop()!;
  // 1 MiB buffer: our shift is 5.
  assert.ok(ack.win < 65535 && ack.win * 32 >= (1 << 20) - 64, `advertised window is scaled: ${ack.win}`);
});

test('keepalive: an idle peer is probed; answers keep the connection; silence resets it', () => {
  const c = established({ keepaliveIdleMs: 1000, keepaliveIntervalMs: 100, keepaliveProbes: 2 });
  c.stack.tick(1001);
  const p = one(c.link, { flags: 'A', data: 0 });
  assert.is(p.seq, (c.iss - 1) >>> 0);
  c.peer.send({ flags: 'A', seq: c.cseq, ack: c.iss }, 1050);
  c.stack.tick(1200);
  none(c.link);
  c.stack.tick(2051);
  one(c.link, { flags: 'A' });
  c.stack.tick(2151);
  one(c.link, { flags: 'A' });
  c.stack.tick(2251);
  one(c.link, { flags: 'AR' });
  assert.equal(c.app.errors, ['ETIMEDOUT']);
});

test('app_write_backpressure: write() returns false beyond the send buffer, then drain; bytes arrive in order', () => {
  const c = established({ sendBuffer: 4096, sendBufferMax: 4096 }, { mss: 1000 });
  const s = c.app.sockets[0]!;
  const data = pattern(10_000);
  let drains = 0;
  s.on('drain', () => drains++);
  assert.is(s.write(data), false);
  assert.is(s.writableLength, 10_000);
  c.stack.flush(10);
  const got: number[] = [];
  let now = 20;
  for (let round = 0; round < 20 && got.length < 10_000; round++) {
    const segs = out(c.link);
    for (const x of segs) for (const v of x.data) got.push(v);
    ackAll(c, segs, now++);
  }
  assert.equal(Uint8Array.from(got), data);
  assert.ok(drains >= 1);
});

test('app_destroy: destroy() sends RST and closes', () => {
  const c = established();
  c.app.sockets[0]!.destroy();
  one(c.link, { flags: 'AR', seq: c.iss, ack: c.cseq });
  assert.is(c.stack.connections, 0);
  assert.equal(c.app.closes, [false]);
});

test('app_throws: an application handler that throws aborts only its connection (RST, counted)', () => {
  const c = established();
  c.app.sockets[0]!.on('data', () => {
    throw new Error('boom');
  });
  send(c, 'x', 10);
  one(c.link, { flags: 'AR' });
  assert.is(c.stack.stats[Stat.APP_ERRORS], 1);
  assert.is(c.stack.connections, 0);
});

test('no_slot: with every slot taken, output is counted as dropped and recovered by retransmission', () => {
  const c = established({ rtoInitialMs: 300 });
  const taken: number[] = [];
  for (let s = c.link.allocSlot(); s >= 0; s = c.link.allocSlot()) taken.push(s);
  c.app.sockets[0]!.write(pattern(100));
  c.stack.flush(10);
  none(c.link);
  assert.ok(c.stack.stats[Stat.NO_SLOT]! >= 1);
  for (const s of taken) c.link.release(s);
  c.stack.tick(20);
  one(c.link, { data: 100 });
});

test('send buffer autotuning: a writer whose peer and congestion windows reach past its buffer gets it doubled up to sendBufferMax, the bytes in place', () => {
  const c = established({ sendBuffer: 4096, sendBufferMax: 16384 }, { mss: 1000, ws: 7, win: 512 });
  const s = c.app.sockets[0]!;
  const data = pattern(40_000);
  assert.is(s.write(data.subarray(0, 3000)), true, 'fits the 4 KiB buffer');
  c.stack.flush(2);
  // Sent and unacknowledged bytes sit in the ring when it grows: they must keep their sequence positions.
  const first = out(c.link);
  assert.is(s.write(data.subarray(3000)), false, 'the rest waits');
  assert.is(c.stack.stats[Stat.SEND_BUFFER_GROWN], 2, '4 → 8 → 16 KiB (the max)');
  const got = new Uint8Array(data.length);
  let have = 0;
  const take = (segs: Seg[]): void => {
    for (const x of segs) {
      const off = (x.seq - c.iss) | 0;
      got.set(x.data, off);
      if (off + x.data.length > have) have = off + x.data.length;
    }
  };
  take(first);
  const base = c.iss;
  for (let now = 3; now < 400 && have < data.length; now++) {
    c.stack.flush(now);
    const segs = out(c.link);
    take(segs);
    c.peer.send({ flags: 'A', seq: c.cseq, ack: (base + have) >>> 0, win: 512 }, now);
  }
  assert.is(have, data.length);
  assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'every byte where it belongs');
  assert.is(c.stack.stats[Stat.SEND_BUFFER_GROWN], 2, 'never past sendBufferMax');
});

test('send buffer autotuning: an application that writes what writableRoom says (HTTP) fills the buffer to the byte, and that grows it too', () => {
  const c = established({ sendBuffer: 4096, sendBufferMax: 16384 }, { mss: 1000, ws: 7, win: 512 });
  const s = c.app.sockets[0]!;
  assert.is(s.writableRoom, 4096);
  assert.is(s.write(pattern(4096)), true, 'full to the byte, and grown: no drain to wait for');
  assert.is(s.writableRoom, 4096, 'room again: 8 KiB now');
  assert.is(c.stack.stats[Stat.SEND_BUFFER_GROWN], 1);
});

test('send buffer autotuning: no growth past the peer’s window, or past the stack’s budget', () => {
  const narrow = established({ sendBuffer: 4096, sendBufferMax: 16384 }, { mss: 1000, win: 6000 });
  narrow.app.sockets[0]!.write(pattern(20_000));
  assert.is(narrow.stack.stats[Stat.SEND_BUFFER_GROWN], 0, 'the peer takes 6000 bytes: a 4 KiB buffer feeds that');
  const poor = established({ sendBuffer: 4096, sendBufferMax: 16384, sendBufferBudget: 4096 }, { mss: 1000, ws: 7, win: 512 });
  poor.app.sockets[0]!.write(pattern(20_000));
  assert.is(poor.stack.stats[Stat.SEND_BUFFER_GROWN], 1, 'one doubling fits a 4 KiB budget, the next does not');
});

test('a full tx ring: a segment the link refuses is not sent, and goes out shortly after, in order', () => {
  const c = established({}, { mss: 1000 });
  c.link.refuse = 2;
  c.app.sockets[0]!.write(pattern(3000));
  c.stack.flush(10);
  const first = out(c.link);
  assert.equal(first, [], 'the first refusal stops the burst');
  assert.is(c.stack.stats[Stat.NO_SLOT], 1);
  c.stack.tick(12);
  c.stack.tick(14);
  const segs = out(c.link);
  assert.equal(segs.map((x) => (x.seq - c.iss) | 0), [0, 1000, 2000], describe(segs));
  assert.is(c.stack.stats[Stat.RETRANSMITS], 0, 'none of it counted as sent before');
});

test('a write beyond the send buffer keeps its own copy of the bytes: a Buffer view (a receive-ring chunk an echo writes back) overwritten after write() returns changes nothing sent', () => {
  // The close storm's wrong byte (mirror, seed 145630753): an echo wrote back a chunk of the receive ring with the
  // send buffer full; the queued tail was Buffer.slice() of it, a view, and new client bytes took that ring space.
  const c = established({ sendBuffer: 4096, sendBufferMax: 4096 }, { mss: 1000, win: 65535 });
  const want = pattern(6000, 11);
  const src = Buffer.from(want);
  assert.is(c.app.sockets[0]!.write(src), false, 'beyond the buffer: queued');
  src.fill(0xee);
  let got = Buffer.alloc(0);
  let ack = c.iss;
  for (let now = 10; now < 200 && got.length < want.length; now += 10) {
    c.stack.flush(now);
    for (const s of out(c.link)) {
      if (s.data.length > 0 && s.seq === ack) {
        got = Buffer.concat([got, Buffer.from(s.data)]);
        ack = (ack + s.data.length) >>> 0;
      }
    }
    c.peer.send({ flags: 'A', seq: c.cseq, ack, win: 65535 }, now + 1);
  }
  assert.is(got.length, want.length);
  assert.ok(Buffer.compare(got, Buffer.from(want)) === 0, 'every byte as written, none as overwritten after');
});

test.run();
