// The movable connection record: serialize → restore → continue
// mid-transfer on another stack, deltas, and refusal of bad records.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CISN, CLIENT_IP, CLIENT_PORT, SERVER_IP, SERVER_PORT, established, newStack, out, describe, pattern, text } from './harness.js';
import {
  DELTA_BITMAP_WORDS, DELTA_MAX_WORDS, RECORD_WORDS, RecordError, State, W, applyRecordDelta, diffRecord, inspectSerialized,
  serializeConnection, withQueuedWrites,
} from '../../../dataplane/tcp/record.js';

test('serialize → restore → continue: unacknowledged output is resent, unread input delivered, the app resumes', () => {
  const a = established({ rtoInitialMs: 300 }, { mss: 1012, ts: true, sack: true, ws: 7 });
  const sa = a.app.sockets[0]!;
  sa.pause();
  const response = pattern(5000, 3);
  sa.write(response);
  sa.state.set([1, 2, 3, 4]);
  a.stack.flush(10);
  const sent = out(a.link);
  assert.is(sent.length, 5);
  // The client ACKs 2000 bytes and sends 500 of its own, unread by the paused app.
  a.peer.send({ flags: 'AP', seq: a.cseq, ack: a.iss + 2000, ts: [5000, sent[0]!.ts![0]], data: pattern(500, 4) }, 20);
  a.cseq += 500;
  out(a.link);

  const bytes = a.stack.exportConnection(a.id);
  const { send, receive } = inspectSerialized(bytes);
  assert.is(send, 3000, 'unacknowledged output travels');
  assert.is(receive, 500, 'unread input travels');

  // Node B: another stack (other secrets, other clock) with the same service.
  const b = newStack({ rtoInitialMs: 300 });
  const clockDelta = 1_000_000 - 20;
  const id = b.stack.importConnection(bytes, 1_000_000, clockDelta);
  assert.ok(id >= 0);
  a.stack.dropConnection(a.id);
  assert.is(b.app.resumed, 1);
  assert.equal([...b.app.sockets[0]!.state.subarray(0, 4)], [1, 2, 3, 4], 'app state moved with the record');
  b.stack.flush(1_000_000);
  assert.is(text(Uint8Array.from(b.app.received)), text(pattern(500, 4)), 'the 500 unread bytes reach the resumed app once');
  const resent = out(b.link);
  const data = resent.filter((s) => s.data.length > 0);
  assert.ok(data.length >= 1, `unacknowledged data resent at once: ${describe(resent)}`);
  assert.is(data[0]!.seq, a.iss + 2000);
  assert.equal([...data[0]!.data], [...response.subarray(2000, 2000 + data[0]!.data.length)]);
  const last = resent[resent.length - 1]!;
  assert.is(last.ack, a.cseq, 'ACKs what the client sent to A');
  assert.ok(last.ts !== null && ((last.ts[0] - sent[0]!.ts![0]) | 0) >= 0, 'TSval stays monotonic across the move');
  assert.is(last.ts![1], 5000, 'TS.Recent carried');
  // The client goes on: ACK everything, send more; B serves it.
  b.peer.send({ flags: 'AP', seq: a.cseq, ack: a.iss + 5000, ts: [5001, last.ts![0]], data: 'after' }, 1_000_010);
  assert.ok(text(Uint8Array.from(b.app.received)).endsWith('after'));
  assert.is(b.stack.state(id), State.ESTABLISHED);
});

test('serialize → restore keeps out-of-order data and SACK ranges', () => {
  const a = established({}, { sack: true });
  a.peer.send({ flags: 'A', seq: a.cseq + 5, ack: a.iss, data: 'world' }, 10);
  out(a.link);
  const bytes = a.stack.exportConnection(a.id);
  const b = newStack();
  b.stack.importConnection(bytes, 10, 0);
  b.stack.flush(10);
  out(b.link);
  b.peer.send({ flags: 'A', seq: a.cseq, ack: a.iss, data: 'hello' }, 11);
  assert.is(b.app.text, 'helloworld');
});

test('import refuses a tuple that is already present', () => {
  const a = established();
  const bytes = a.stack.exportConnection(a.id);
  assert.is(a.stack.importConnection(bytes, 0, 0), -1);
});

test('diffRecord / applyRecordDelta: only changed words travel, and applying rebuilds the record', () => {
  const a = established();
  const u = a.stack.table.u32;
  const base = a.id * RECORD_WORDS;
  const copy = u.slice(base, base + RECORD_WORDS);
  const delta = new Uint32Array(DELTA_MAX_WORDS);
  assert.is(diffRecord(u, base, copy, 0, delta), DELTA_BITMAP_WORDS, 'no change, empty delta');
  a.peer.send({ flags: 'AP', seq: a.cseq, ack: a.iss, data: pattern(3000) }, 10);
  const n = diffRecord(u, base, copy, 0, delta);
  assert.ok(n > DELTA_BITMAP_WORDS && n < DELTA_BITMAP_WORDS + 30, `a small delta (${n} words)`);
  assert.is(applyRecordDelta(copy, 0, delta, n), n);
  assert.equal(copy, u.slice(base, base + RECORD_WORDS));
  assert.is(copy[W.RCV_NXT], (a.cseq + 3000) >>> 0);
  assert.is(applyRecordDelta(copy, 0, delta, n - 1), -1, 'a truncated delta is refused');
});

test('bad records are refused with RecordError, never half-imported', () => {
  const a = established();
  const good = a.stack.exportConnection(a.id);
  const b = newStack();
  const bad = [
    good.subarray(0, 10),
    (() => { const x = good.slice(); x[0] ^= 1; return x; })(),
    (() => { const x = good.slice(); x[4] = 99; return x; })(),
    good.subarray(0, good.length - 1),
  ];
  for (const x of bad) assert.throws(() => b.stack.importConnection(x, 0, 0), (e: unknown) => e instanceof RecordError);
  assert.is(b.stack.connections, 0);
  assert.is(b.stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT), -1);
});

test('queued writes and the output skip: the skip takes the oldest queued bytes first; what it does not cover is appended', () => {
  const a = established();
  const snd = new Uint8Array(65536);
  const rcv = new Uint8Array(65536);
  const q = [Uint8Array.from([1, 2, 3]), Uint8Array.from([4, 5, 6, 7])];
  const part = inspectSerialized(withQueuedWrites(serializeConnection(a.stack.table, a.id, snd, rcv, 5), q, false));
  assert.is(part.skip, 0, 'five of the seven queued bytes were the peer’s already');
  assert.is(part.send, 2);
  assert.is((part.words[W.SND_END]! - a.iss) | 0, 2);
  const all = inspectSerialized(withQueuedWrites(serializeConnection(a.stack.table, a.id, snd, rcv, 10), q, false));
  assert.is(all.skip, 3, 'the skip outlasts the queue: three more bytes of the next writes');
  assert.is(all.send, 0);
  assert.is(all.words[W.SND_END], a.iss);
});

test('liveOn(ip, movedSince) leaves out connections moved here by a record since then (a handover whose address follows); liveOn(ip) has them all', () => {
  // worker.ts reconcile: a restarted node that held its home address for a moment at boot imported a failback's
  // records in that moment; its snapshot of the address's live connections at the loss had them, and dropped them a
  // second later, a few ms before the address came back.
  const a = established();
  const bytes = a.stack.exportConnection(a.id);
  const b = newStack();
  const id = b.stack.importConnection(bytes, 5000, 0);
  assert.ok(id >= 0);
  b.stack.setExportedAt(id, 2, 1234, 5000);
  const all = b.stack.liveOn(SERVER_IP);
  assert.is(all.length, 2);
  assert.is(all[0], id);
  assert.equal(b.stack.liveOn(SERVER_IP, 5000 - 10_000), [], 'moved here within the window: kept');
  assert.equal(b.stack.liveOn(SERVER_IP, 5000), [], 'moved here at the window\'s start: kept');
  assert.is(b.stack.liveOn(SERVER_IP, 5001).length, 2, 'moved here before the window: in the snapshot');
  // A connection not moved here is always in it.
  const c = established();
  assert.is(c.stack.liveOn(SERVER_IP, 0).length, 2);
});

test('forgetAddress(ip, snapshot, movedSince) spares the same connection moved here by a record after the snapshot, in the slot and with the IRS of the half-open record it replaced', () => {
  // The DPDK kill loop (35caf93): node 1 answered a client's SYN at boot (half-open), lost the address (snapshot),
  // then took the connection by record from node 2 (which had served it meanwhile) into the same slot; a second
  // later the snapshot's [id, IRS] matched the moved record and dropped it.
  const a = established();
  const bytes = a.stack.exportConnection(a.id);
  const b = newStack();
  // The half-open record of the same connection on b: its client's SYN, answered.
  b.peer.send({ flags: 'S', seq: CISN, win: 65535, mss: 1460 }, 1);
  const half = b.stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.is(b.stack.state(half), State.SYN_RECEIVED);
  const snapshot = b.stack.liveOn(SERVER_IP, 2 - 10_000);
  assert.equal(snapshot.length, 2);
  b.stack.discardConnection(half);
  const id = b.stack.importConnection(bytes, 5000, 0);
  assert.is(id, half, 'the same slot');
  b.stack.setExportedAt(id, 2, 1234, 5000);
  assert.is(b.stack.forgetAddress(SERVER_IP, snapshot, 2 - 10_000), 0, 'spared');
  assert.is(b.stack.state(id), State.ESTABLISHED);
  // Without movedSince (a record moved here long before the loss), the snapshot drops it.
  assert.is(b.stack.forgetAddress(SERVER_IP, snapshot), 1);
});

test.run();
