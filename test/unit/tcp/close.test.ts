// Closing: RFC 9293 §3.6 — passive and active close, simultaneous close,
// half-close both ways, FIN out of order, TIME-WAIT and its reuse (RFC 6191).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CISN, CLIENT_IP, CLIENT_PORT, SERVER_IP, SERVER_PORT, established, none, one, out, describe, pattern, type Conversation } from './harness.js';
import { State } from '../../../dataplane/tcp/record.js';
import { Stat } from '../../../dataplane/tcp/stack.js';

/** Active close answered by FIN+ACK in one segment: the connection is in TIME-WAIT. */
function closeToTimeWait(c: Conversation): void {
  c.app.sockets[0]!.end();
  c.stack.flush(10);
  out(c.link);
  c.peer.send({ flags: 'AF', seq: c.cseq, ack: c.iss + 1 }, 11);
  out(c.link);
  assert.is(c.stack.state(c.id), State.TIME_WAIT);
}

test('passive_close: FIN → ACK and end; the application ends → FIN → LAST-ACK → closed', () => {
  const c = established();
  c.peer.send({ flags: 'AF', seq: c.cseq, ack: c.iss }, 10);
  one(c.link, { flags: 'A', ack: c.cseq + 1 });
  assert.is(c.app.ends, 1);
  assert.is(c.stack.state(c.id), State.CLOSE_WAIT);
  c.app.sockets[0]!.end();
  c.stack.flush(11);
  one(c.link, { flags: 'AF', seq: c.iss, ack: c.cseq + 1 });
  assert.is(c.stack.state(c.id), State.LAST_ACK);
  c.peer.send({ flags: 'A', seq: c.cseq + 1, ack: c.iss + 1 }, 12);
  assert.is(c.stack.connections, 0);
  assert.equal(c.app.closes, [false]);
});

test('active_close: end() → FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT → gone after 2MSL', () => {
  const c = established({ timeWaitMs: 1000 });
  c.app.sockets[0]!.end();
  c.stack.flush(10);
  one(c.link, { flags: 'AF', seq: c.iss });
  assert.is(c.stack.state(c.id), State.FIN_WAIT_1);
  c.peer.send({ flags: 'A', seq: c.cseq, ack: c.iss + 1 }, 11);
  assert.is(c.stack.state(c.id), State.FIN_WAIT_2);
  c.peer.send({ flags: 'AF', seq: c.cseq, ack: c.iss + 1 }, 12);
  one(c.link, { flags: 'A', ack: c.cseq + 1 });
  assert.is(c.stack.state(c.id), State.TIME_WAIT);
  assert.equal(c.app.closes, [false], 'the application is done at TIME-WAIT');
  // A retransmitted FIN is ACKed again in TIME-WAIT.
  c.peer.send({ flags: 'AF', seq: c.cseq, ack: c.iss + 1 }, 500);
  one(c.link, { flags: 'A', ack: c.cseq + 1 });
  c.stack.tick(1499);
  assert.is(c.stack.connections, 1, '2MSL restarted by the FIN');
  c.stack.tick(1500);
  assert.is(c.stack.connections, 0);
});

test('active_close_fin_ack_together: FIN+ACK of our FIN in one segment goes straight to TIME-WAIT', () => {
  const c = established();
  c.app.sockets[0]!.end();
  c.stack.flush(10);
  out(c.link);
  c.peer.send({ flags: 'AF', seq: c.cseq, ack: c.iss + 1 }, 11);
  one(c.link, { flags: 'A', ack: c.cseq + 1 });
  assert.is(c.stack.state(c.id), State.TIME_WAIT);
});

test('simultaneous_close: FINs cross → CLOSING → TIME-WAIT', () => {
  const c = established();
  c.app.sockets[0]!.end();
  c.stack.flush(10);
  one(c.link, { flags: 'AF' });
  c.peer.send({ flags: 'AF', seq: c.cseq, ack: c.iss }, 11);
  one(c.link, { flags: 'A', ack: c.cseq + 1 });
  assert.is(c.stack.state(c.id), State.CLOSING);
  c.peer.send({ flags: 'A', seq: c.cseq + 1, ack: c.iss + 1 }, 12);
  assert.is(c.stack.state(c.id), State.TIME_WAIT);
});

test('half_close_client: after the client FIN the server still sends data, then closes', () => {
  const c = established({}, { mss: 1000 });
  c.peer.send({ flags: 'AF', seq: c.cseq, ack: c.iss, data: 'request' }, 10);
  out(c.link);
  assert.is(c.app.text, 'request');
  assert.is(c.app.ends, 1);
  const s = c.app.sockets[0]!;
  s.write(pattern(2500));
  s.end();
  c.stack.flush(11);
  const segs = out(c.link);
  assert.equal(segs.map((x) => x.data.length), [1000, 1000, 500], describe(segs));
  assert.is(segs[2]!.flags, 'AFP', 'FIN rides on the last data segment');
  c.peer.send({ flags: 'A', seq: c.cseq + 8, ack: c.iss + 2501 }, 12);
  assert.is(c.stack.connections, 0);
});

test('half_close_server: after the server FIN the client can still send; data is delivered', () => {
  const c = established();
  c.app.sockets[0]!.end();
  c.stack.flush(10);
  out(c.link);
  c.peer.send({ flags: 'A', seq: c.cseq, ack: c.iss + 1 }, 11);
  assert.is(c.stack.state(c.id), State.FIN_WAIT_2);
  c.peer.send({ flags: 'AP', seq: c.cseq, ack: c.iss + 1, data: 'more' }, 12);
  assert.is(c.app.text, 'more');
  c.peer.send({ flags: 'AF', seq: c.cseq + 4, ack: c.iss + 1 }, 13);
  assert.is(c.stack.state(c.id), State.TIME_WAIT);
});

test('fin_out_of_order: a FIN beyond a hole waits for the hole to fill', () => {
  const c = established({}, { sack: true });
  c.peer.send({ flags: 'AF', seq: c.cseq + 3, ack: c.iss, data: 'def' }, 10);
  one(c.link, { flags: 'A', ack: c.cseq });
  assert.is(c.stack.state(c.id), State.ESTABLISHED);
  c.peer.send({ flags: 'A', seq: c.cseq, ack: c.iss, data: 'abc' }, 11);
  one(c.link, { flags: 'A', ack: c.cseq + 7 });
  assert.is(c.app.text, 'abcdef');
  assert.is(c.app.ends, 1);
  assert.is(c.stack.state(c.id), State.CLOSE_WAIT);
});

test('fin_retransmit: a lost FIN is sent again by the retransmission timer', () => {
  const c = established({ rtoInitialMs: 500 });
  c.app.sockets[0]!.end();
  c.stack.flush(10);
  const fin = one(c.link, { flags: 'AF' });
  c.stack.tick(600);
  one(c.link, { flags: 'AF', seq: fin.seq });
});

test('fin_acked_after_rto: the ACK of a FIN that a timeout rewound (not yet resent) still closes', () => {
  const c = established({ rtoInitialMs: 300 }, { mss: 1000 });
  c.peer.send({ flags: 'AF', seq: c.cseq, ack: c.iss }, 5);
  out(c.link);
  const s = c.app.sockets[0]!;
  s.write(pattern(3000));
  s.end();
  c.stack.flush(10);
  const segs = out(c.link);
  assert.is(segs[segs.length - 1]!.flags, 'AFP');
  assert.is(c.stack.state(c.id), State.LAST_ACK);
  // The timeout fires with cwnd 1 segment: only the first segment is resent, then the peer's ACK of everything arrives.
  c.stack.tick(400);
  out(c.link);
  c.peer.send({ flags: 'A', seq: c.cseq + 1, ack: c.iss + 3001 }, 401);
  assert.is(c.stack.connections, 0, 'LAST-ACK ends');
});

test('fin_wait_2_timeout: a peer that never closes is reaped', () => {
  const c = established({ finWait2Ms: 1000 });
  c.app.sockets[0]!.end();
  c.stack.flush(10);
  out(c.link);
  c.peer.send({ flags: 'A', seq: c.cseq, ack: c.iss + 1 }, 11);
  c.stack.tick(1011);
  assert.is(c.stack.connections, 0);
});

test('time_wait_reuse: a new SYN with a higher sequence number reopens (RFC 6191)', () => {
  const c = established();
  closeToTimeWait(c);
  c.peer.send({ flags: 'S', seq: c.cseq + 100_000 }, 20);
  one(c.link, { flags: 'SA', ack: c.cseq + 100_001 });
  assert.is(c.stack.stats[Stat.TIME_WAIT_REUSED], 1);
});

test('time_wait_eviction: a full table makes room by dropping the oldest TIME-WAIT record', () => {
  const c = established({ maxConnections: 16 });
  // Fill the table: the first connection goes to TIME-WAIT, 15 more stay open.
  closeToTimeWait(c);
  for (let p = 1; p < 16; p++) c.peer.send({ flags: 'S', seq: 5000, srcPort: 40000 + p }, 12);
  out(c.link);
  assert.is(c.stack.connections, 16);
  c.peer.send({ flags: 'S', seq: 5000, srcPort: 50000 }, 13);
  one(c.link, { flags: 'SA' });
  assert.is(c.stack.stats[Stat.TIME_WAIT_EVICTED], 1);
  assert.is(c.stack.stats[Stat.TABLE_FULL], 0);
  c.peer.send({ flags: 'S', seq: 5000, srcPort: 50001 }, 14);
  none(c.link);
  assert.is(c.stack.stats[Stat.TABLE_FULL], 1, 'no TIME-WAIT left to evict: counted');
});

test('rst_mid_transfer: a client RST while data is in flight closes with ECONNRESET and frees everything', () => {
  const c = established({}, { mss: 1000 });
  c.app.sockets[0]!.write(pattern(5000));
  c.stack.flush(10);
  out(c.link);
  c.peer.send({ flags: 'R', seq: c.cseq }, 11);
  none(c.link);
  assert.equal(c.app.errors, ['ECONNRESET']);
  assert.is(c.stack.connections, 0);
  c.stack.tick(100_000);
  none(c.link);
});

test('close_with_pending_writes: end() after a write larger than the buffer sends every byte, then FIN', () => {
  const c = established({ sendBuffer: 4096 }, { mss: 1000 });
  const data = pattern(9000);
  const s = c.app.sockets[0]!;
  s.write(data);
  s.end();
  const got: number[] = [];
  let fin = false;
  for (let t = 10; t < 60 && !fin; t++) {
    c.stack.flush(t);
    const segs = out(c.link);
    let hi = c.iss;
    for (const x of segs) {
      for (const v of x.data) got.push(v);
      if (x.flags.includes('F')) fin = true;
      hi = (x.seq + x.data.length + (x.flags.includes('F') ? 1 : 0)) >>> 0;
    }
    if (segs.length) {
      c.iss = hi;
      c.peer.send({ flags: 'A', seq: c.cseq, ack: hi }, t);
    }
  }
  assert.ok(fin);
  assert.equal(Uint8Array.from(got), data);
});

test.run();

test('forgetAddress: an address lost drops its live connections silently — with a liveOn snapshot, only those live at the loss, not one that arrived since (a record moved here before its address)', () => {
  const c = established();
  const lost = c.stack.liveOn(SERVER_IP);
  assert.is(lost.length, 2);
  assert.is(lost[0], c.id);
  // The connection goes (as if moved away) and another arrives on the same tuple with another ISN.
  c.stack.discardConnection(c.id);
  c.peer.send({ flags: 'S', seq: CISN + 5000, mss: 1460 }, 20);
  const synAck = one(c.link, { flags: 'SA' });
  c.peer.send({ flags: 'A', seq: CISN + 5001, ack: synAck.seq + 1 }, 21);
  const again = c.stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.is(c.stack.state(again), State.ESTABLISHED);
  assert.is(c.stack.forgetAddress(SERVER_IP, lost), 0, 'the one that arrived since stays');
  assert.is(c.stack.state(again), State.ESTABLISHED);
  assert.is(c.stack.forgetAddress(SERVER_IP), 1, 'without a snapshot, every live one goes');
  none(c.link);
  assert.is(c.stack.stats[Stat.ADDRESS_LOST_DROPS], 1);
});
