// Moving a live connection between two workers' stacks over the transfer
// frames: the codec (authentication, truncation, garbage), the target's
// reassembly bounds and verdict window (replays, lost answers, ABORT), and
// whole moves under loss, with the client's conversation continuing on the
// target — or, refused, on the origin.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CISN, CLIENT_IP, CLIENT_MAC, CLIENT_PORT, SERVER_IP, SERVER_PORT, describe, none, one, out, pattern, text } from '../tcp/harness.js';
import { State } from '../../../dataplane/tcp/record.js';
import { REPAIR_HAVE, Stat } from '../../../dataplane/tcp/stack.js';
import { XFER_STAT_NAMES } from '../../../dataplane/handoff/command.js';
import { FrameMeta, parseFrame, VERIFY_ALL } from '../../../dataplane/net/frame.js';
import { Reason } from '../../../dataplane/net/reason.js';
import { ETHERTYPE_IPV4, writeEthernet } from '../../../dataplane/net/ethernet.js';
import { IP_PROTO_TCP, IPV4_FLAG_DF, writeIpv4Header } from '../../../dataplane/net/ipv4.js';
import { TCP_FLAG_ACK, TCP_FLAG_PSH, TCP_HEADER_LEN, tcpChecksumFill, writeTcpHeader } from '../../../dataplane/net/tcp.js';
import {
  FRAGMENT_BYTES, HEADER_LEN, HMAC_LEN, HandoffHeader, MAX_RECORD_BYTES, MsgType, RejectReason, decodeHandoff, encodeHandoff,
} from '../../../dataplane/handoff/wire.js';
import { ROUTE_HELD, ROUTE_FORWARD, ROUTE_LOCAL, ABORT_DEADLINE_MS, MAX_OUTSTANDING, OPENING_POLL_MS, OPENING_WAIT_MS } from '../../../dataplane/handoff/handoff.js';
import { MAX_REASSEMBLY_BYTES, REASSEMBLY_IDLE_MS } from '../../../dataplane/handoff/target.js';
import type { XferCommand } from '../../../dataplane/handoff/command.js';
import { SeededRandom, testSeed, withSeed } from '../net/seeded-random.js';
import { CLUSTER, KEY, MAC_A, MAC_B, deliver, run, side, type Side } from './wire-link.js';

// ------------------------------------------------------------ helpers

/** A connection in ESTABLISHED on `a` (timestamps, SACK, window scale), with its server ISS+1. */
function connect(a: Side): { iss: number; cseq: number } {
  a.peer.send({ flags: 'S', seq: CISN, mss: 1460, ws: 7, sackPerm: true, ts: [1000, 0] }, 0);
  const synAck = one(a.link, { flags: 'SA', ack: CISN + 1 });
  a.peer.send({ flags: 'A', seq: CISN + 1, ack: synAck.seq + 1, ts: [1001, synAck.ts![0]] }, 1);
  none(a.link);
  return { iss: (synAck.seq + 1) >>> 0, cseq: CISN + 1 };
}

/** A copy of connection `id` to node 2 whose frames are held back (returned) until its origin gave it up (copies_lost). */
function lateCopy(a: Side, id: number, clock: { t: number }): Uint8Array[] {
  assert.ok(a.handoff.startCopy(id, 2, MAC_B, clock.t));
  const late = a.wire.frames.splice(0);
  for (let i = 0; i < 3000; i += 50) {
    clock.t += 50;
    a.handoff.tick(clock.t);
    a.wire.frames.splice(0);
  }
  return late;
}

function idOf(s: Side): number {
  return s.stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
}

/** The client's segment to the server as a frame, parsed (what a worker hands to route()). */
function segment(seq: number, ack: number, data: string): { meta: FrameMeta; bytes: Uint8Array; len: number } {
  const payload = new TextEncoder().encode(data);
  const bytes = new Uint8Array(14 + 20 + TCP_HEADER_LEN + payload.length);
  writeEthernet(bytes, 0, MAC_A, 0, CLIENT_MAC, 0, ETHERTYPE_IPV4);
  writeTcpHeader(bytes, 34, CLIENT_PORT, SERVER_PORT, seq >>> 0, ack >>> 0, TCP_HEADER_LEN, TCP_FLAG_ACK | TCP_FLAG_PSH, 65535, 0);
  bytes.set(payload, 34 + TCP_HEADER_LEN);
  writeIpv4Header(bytes, 14, 0, 20 + TCP_HEADER_LEN + payload.length, 1, IPV4_FLAG_DF, 64, IP_PROTO_TCP, CLIENT_IP, SERVER_IP);
  tcpChecksumFill(bytes, 34, TCP_HEADER_LEN + payload.length, CLIENT_IP, SERVER_IP);
  const meta = new FrameMeta();
  assert.is(parseFrame(bytes, 0, bytes.length, meta, VERIFY_ALL), Reason.OK);
  return { meta, bytes, len: bytes.length };
}

function route(s: Side, seg: { meta: FrameMeta; bytes: Uint8Array; len: number }, now: number): number {
  return s.handoff.route(seg.meta, seg.bytes, 0, seg.len, 0, now);
}

function header(over: Partial<HandoffHeader> = {}): HandoffHeader {
  const h = new HandoffHeader();
  Object.assign(h, {
    type: MsgType.DATA, localIp: SERVER_IP, remoteIp: CLIENT_IP, localPort: SERVER_PORT, remotePort: CLIENT_PORT, cluster: CLUSTER,
    origin: 1, target: 2, endpoint: 0, incarnation: 0, xid: 1, total: 100, index: 0, length: 100, clock: 5,
  }, over);
  return h;
}

function frame(h: HandoffHeader, payload: Uint8Array | null = null, key = KEY): Uint8Array {
  const b = new Uint8Array(14 + HEADER_LEN + FRAGMENT_BYTES + HMAC_LEN);
  b.set(MAC_B, 0);
  b.set(MAC_A, 6);
  b[12] = 0x88;
  b[13] = 0xb6;
  const n = encodeHandoff(key, b, 14, h, payload ?? new Uint8Array(h.length), 0);
  return b.slice(0, 14 + n);
}

// ------------------------------------------------------------ codec

test('codec: a frame decodes to the fields it was encoded from', () => {
  const h = header({ xid: 0xfffffff0, incarnation: 1.7e12, clock: 12345.678, index: 3, length: 17, total: 4217 });
  const payload = pattern(17);
  const f = frame(h, payload);
  const d = new HandoffHeader();
  assert.is(decodeHandoff(KEY, f, 14, f.length - 14, d), null);
  for (const k of ['type', 'localIp', 'remoteIp', 'localPort', 'remotePort', 'cluster', 'origin', 'target', 'xid', 'total', 'index', 'length', 'clock', 'incarnation'] as const) {
    assert.is(d[k], h[k], k);
  }
  assert.equal([...f.subarray(d.payloadOff, d.payloadOff + 17)], [...payload]);
  // Ethernet padding after the MAC is allowed.
  const padded = new Uint8Array(f.length + 20);
  padded.set(f);
  assert.is(decodeHandoff(KEY, padded, 14, padded.length - 14, d), null);
});

test('codec: every truncation is malformed, every flipped bit is refused, another key is bad_auth — never a throw', () => {
  const f = frame(header({ length: 40, total: 40 }), pattern(40));
  const d = new HandoffHeader();
  for (let len = 0; len < f.length - 14; len++) assert.is(decodeHandoff(KEY, f, 14, len, d), 'malformed', `length ${len}`);
  for (let i = 14; i < f.length; i++) {
    for (const bit of [0, 3, 7]) {
      const g = f.slice();
      g[i] ^= 1 << bit;
      assert.ok(decodeHandoff(KEY, g, 14, g.length - 14, d) !== null, `flipped byte ${i} bit ${bit}`);
    }
  }
  assert.is(decodeHandoff(Uint8Array.from(KEY, (x) => x ^ 1), f, 14, f.length - 14, d), 'bad_auth');
  withSeed('handoff garbage', testSeed(), (rnd) => {
    const g = new Uint8Array(1600);
    for (let i = 0; i < 2000; i++) {
      rnd.fill(g, 0, g.length);
      if (i % 2 === 0) {
        g[14] = 0x42;
        g[15] = 0x78;
        g[16] = 1;
      }
      const r = decodeHandoff(KEY, g, 14, 14 + rnd.int(1586), d);
      assert.ok(r !== null);
    }
  });
});

// ------------------------------------------------------------ whole moves

test('move: the target imports, the origin forgets and forwards; the client goes on with the target, bytes intact both ways', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B);
  const { iss, cseq } = connect(a);
  // Mid-stream: 3000 bytes unacknowledged from A, 500 unread by a paused app.
  const sa = a.app.sockets[0]!;
  sa.write(pattern(3000, 1));
  a.stack.flush(2);
  const first = out(a.link);
  assert.ok(first.length >= 2);
  sa.pause();
  a.peer.send({ flags: 'AP', seq: cseq, ack: iss + 1000, ts: [1002, first[0]!.ts![0]], data: pattern(500, 2) }, 3);
  out(a.link);
  const id = idOf(a);
  const clock = { t: 10 };
  a.handoff.startTransfer(id, 2, MAC_B, clock.t);
  assert.is(idOf(a), -1, 'the origin stops answering the moment it exports');
  // The client sends more while the record travels: held, then forwarded to the target.
  assert.is(route(a, segment(cseq + 500, iss + 1000, 'during the move'), clock.t), ROUTE_HELD);
  assert.is(a.stat('held'), 1);
  run(a, b, clock, 1_000_000, 200, () => a.stat('accepted') + a.stat('rejected') > 0);
  assert.is(a.stat('accepted'), 1);
  assert.is(b.stat('imported'), 1);
  assert.is(b.app.resumed, 1);
  const bid = idOf(b);
  assert.ok(bid >= 0);
  assert.is(b.stack.state(bid), State.ESTABLISHED);
  assert.is(b.forwarded, 1, 'the held segment went to the target');
  assert.is(text(Uint8Array.from(b.app.received)), text(pattern(500, 2)) + 'during the move', 'unread input and what came during the move, once, on the target');
  const resent = out(b.link);
  const data = resent.filter((s) => s.data.length > 0);
  assert.ok(data.length > 0 && data[0]!.seq === iss + 1000, `unacknowledged output resent from the target: ${describe(resent)}`);
  assert.is(route(a, segment(cseq + 515, iss + 1000, 'x'), clock.t), ROUTE_FORWARD);
  assert.equal([...a.handoff.forwardMac], [...MAC_B], 'later segments reaching the origin go to the target');
  // The client acknowledges everything and sends more: the target's app gets it.
  b.peer.send({ flags: 'AP', seq: cseq + 515, ack: iss + 3000, ts: [1003, data[0]!.ts![0]], data: 'after the move' }, clock.t + 1_000_000);
  assert.ok(b.app.text.endsWith('after the move'));
  assert.is(a.stat('frames_sent'), Math.ceil(a.stat('frames_sent')));
});

test('shadow copy: the origin keeps answering; a backup that shadows the address installs an exact shadow and sends nothing; others refuse', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B, { shadowed: (ip) => ip === SERVER_IP });
  const { iss, cseq } = connect(a);
  // Mid-stream: 3000 bytes unacknowledged from A, 500 unread by a paused app.
  const sa = a.app.sockets[0]!;
  sa.write(pattern(3000, 1));
  a.stack.flush(2);
  const first = out(a.link);
  sa.pause();
  a.peer.send({ flags: 'AP', seq: cseq, ack: iss + 1000, ts: [1002, first[0]!.ts![0]], data: pattern(500, 2) }, 3);
  out(a.link);
  const id = idOf(a);
  const clock = { t: 10 };
  assert.ok(a.handoff.startCopy(id, 2, MAC_B, clock.t));
  assert.is(idOf(a), id, 'the origin still holds it');
  assert.is(a.handoff.routing, 0, 'nothing is held or forwarded for a copy');
  assert.not.ok(a.handoff.startCopy(id, 2, MAC_B, clock.t), 'one copy of a connection on its way at a time');
  run(a, b, clock, 0, 200, () => a.stat('copies_accepted') + a.stat('copies_refused') > 0);
  assert.is(a.stat('copies_accepted'), 1);
  assert.is(b.stat('shadows_imported'), 1);
  assert.is(b.stat('imported'), 0, 'not a move');
  const bid = idOf(b);
  assert.ok(bid >= 0 && b.stack.isShadow(bid));
  assert.ok(b.stack.shadowExact(bid));
  assert.is(b.app.resumed, 1, 'the shadow application resumed from the record');
  none(b.link);
  // The connection goes on at the origin.
  sa.resume();
  a.stack.flush(clock.t);
  assert.is(text(Uint8Array.from(a.app.received)), text(pattern(500, 2)));
  // A second copy finds an exact shadow: refused as a duplicate, the shadow stays.
  assert.ok(a.handoff.startCopy(id, 2, MAC_B, clock.t));
  run(a, b, clock, 0, 200, () => a.stat('copies_accepted') + a.stat('copies_refused') > 1);
  assert.is(a.stat('copies_refused'), 1);
  assert.is(b.stat('refused_duplicate'), 1);
  assert.is(idOf(b), bid);
  // A node that does not shadow the address (not its backup now) refuses; and no copy ever becomes a live connection.
  const c = side(2, MAC_B, { shadowed: () => false, incarnation: 1 });
  assert.ok(a.handoff.startCopy(id, 2, MAC_B, clock.t));
  run(a, c, clock, 0, 200, () => a.stat('copies_accepted') + a.stat('copies_refused') > 2);
  assert.is(c.stat('refused_not_our_address'), 1);
  assert.is(idOf(c), -1);
  assert.is(idOf(a), id);
});

test('shadow copies beyond MAX_OUTSTANDING wait for a transfer slot and all go (a backup that missed a burst of SYNs)', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B, { shadowed: (ip) => ip === SERVER_IP });
  const N = MAX_OUTSTANDING + 8;
  const ids: number[] = [];
  for (let i = 0; i < N; i++) {
    const port = CLIENT_PORT + i;
    a.peer.send({ flags: 'S', srcPort: port, seq: CISN, mss: 1460, ws: 7, sackPerm: true, ts: [1000, 0] }, 0);
    const synAck = one(a.link, { flags: 'SA', ack: CISN + 1 });
    a.peer.send({ flags: 'A', srcPort: port, seq: CISN + 1, ack: synAck.seq + 1, ts: [1001, synAck.ts![0]] }, 1);
    ids.push(a.stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, port));
  }
  none(a.link);
  const clock = { t: 10 };
  for (const id of ids) assert.ok(a.handoff.startCopy(id, 2, MAC_B, clock.t), 'sent or waiting');
  assert.is(a.stat('copies_sent'), MAX_OUTSTANDING);
  assert.is(a.stat('copies_queued'), 8);
  assert.not.ok(a.handoff.startCopy(ids.at(-1)!, 2, MAC_B, clock.t), 'waiting already: not twice');
  run(a, b, clock, 0, 400, () => a.stat('copies_accepted') + a.stat('copies_refused') >= N);
  assert.is(a.stat('copies_accepted'), N);
  assert.is(a.stat('copies_busy'), 0);
  assert.is(b.stat('shadows_imported'), N);
  for (let i = 0; i < N; i++) assert.ok(b.stack.isShadow(b.stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT + i)));
});

test('copyAddress: a new backup gets a copy of every live connection of the address at once (idle ones too), exact shadows; other addresses and shadows are not copied', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B, { shadowed: (ip) => ip === SERVER_IP });
  const N = MAX_OUTSTANDING + 4;
  for (let i = 0; i < N; i++) {
    const port = CLIENT_PORT + i;
    a.peer.send({ flags: 'S', srcPort: port, seq: CISN, mss: 1460, ws: 7, sackPerm: true, ts: [1000, 0] }, 0);
    const synAck = one(a.link, { flags: 'SA', ack: CISN + 1 });
    a.peer.send({ flags: 'A', srcPort: port, seq: CISN + 1, ack: synAck.seq + 1, ts: [1001, synAck.ts![0]] }, 1);
  }
  none(a.link);
  const clock = { t: 10 };
  assert.is(a.handoff.copyAddress((SERVER_IP + 1) >>> 0, 2, MAC_B, clock.t), 0, 'another address: nothing');
  assert.is(a.handoff.copyAddress(SERVER_IP, 2, MAC_B, clock.t), N, 'every connection sent or waiting');
  run(a, b, clock, 0, 400, () => a.stat('copies_accepted') + a.stat('copies_refused') >= N);
  assert.is(a.stat('copies_accepted'), N);
  for (let i = 0; i < N; i++) {
    const id = b.stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT + i);
    assert.ok(id >= 0 && b.stack.isShadow(id) && b.stack.shadowExact(id), `connection ${i} is protected`);
  }
  none(b.link);
  // B's shadows are never copied on (to A or anyone): only live connections are.
  assert.is(b.handoff.copyAddress(SERVER_IP, 1, MAC_A, clock.t), 0);
});

test('onImported: a connection moved in (not a copy, not taken back after a refusal) is reported with its address', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B);
  connect(a);
  const seen: [number, number][] = [];
  b.handoff.onImported = (id, ip) => seen.push([id, ip >>> 0]);
  a.handoff.onImported = (id, ip) => seen.push([-id - 1, ip >>> 0]);
  const clock = { t: 10 };
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  run(a, b, clock, 1_000_000, 200, () => a.stat('accepted') + a.stat('rejected') > 0);
  assert.is(a.stat('accepted'), 1);
  assert.equal(seen, [[idOf(b), SERVER_IP >>> 0]]);
});

test('a stale copy never takes a shadow back: exported before client bytes the (non-exact) shadow holds, it is refused STALE; the shadow keeps them', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B, { shadowed: (ip) => ip === SERVER_IP });
  const { iss, cseq } = connect(a);
  const id = idOf(a);
  const clock = { t: 10 };
  // A copy at RCV_NXT = cseq, delayed on the way (its transfer given up by the origin meanwhile).
  const late = lateCopy(a, id, clock);
  assert.is(a.stat('copies_lost'), 1);
  // 500 client bytes reach the primary; a fresh copy installs the shadow with them.
  a.peer.send({ flags: 'AP', seq: cseq, ack: iss, ts: [1002, 0], data: pattern(500, 2) }, clock.t);
  out(a.link);
  assert.ok(a.handoff.startCopy(id, 2, MAC_B, clock.t));
  run(a, b, clock, 0, 200, () => a.stat('copies_accepted') > 0);
  const bid = idOf(b);
  assert.ok(bid >= 0 && b.stack.shadowExact(bid));
  assert.is(b.stack.rcvNxt(bid), (cseq + 500) >>> 0);
  // The primary's ACK seen ahead of the shadow's bytes: not exact for a moment (so a copy may replace it).
  (b.stack as unknown as { shadowAcked: Uint32Array }).shadowAcked[bid] = (cseq + 600) >>> 0;
  assert.not.ok(b.stack.shadowExact(bid));
  // The late copy arrives now: refused, the shadow keeps its 500 bytes.
  for (const f of late) b.handoff.input(f, 0, f.length, 0, clock.t);
  assert.is(b.stat('refused_stale'), 1);
  assert.is(b.stat('shadows_imported'), 1);
  assert.is(idOf(b), bid);
  assert.is(b.stack.rcvNxt(bid), (cseq + 500) >>> 0);
});

test('a copy exported before a move and arriving after it (a failback: the moved record lands before the address does) is refused STALE: it never replaces the moved connection with its older state; the origin stops sending a copy of what it moved', () => {
  const a = side(1, MAC_A);
  // Node 2 takes its address back (a failback): it backs node 1 up until the address reaches it, and does not hold it yet.
  const b = side(2, MAC_B, { shadowed: () => true, holds: () => false });
  const { iss, cseq } = connect(a);
  const id = idOf(a);
  const clock = { t: 10 };
  // A copy on its way, late (queued behind other frames, or a retransmission round).
  assert.ok(a.handoff.startCopy(id, 2, MAC_B, clock.t));
  const late = a.wire.frames.splice(0);
  // The client's request reaches node 1 after the copy was made: only the moved record has it.
  clock.t += 5;
  a.peer.send({ flags: 'AP', seq: cseq, ack: iss, ts: [1002, 0], data: pattern(300, 3) }, clock.t);
  out(a.link);
  clock.t += 5;
  a.handoff.startTransfer(id, 2, MAC_B, clock.t);
  run(a, b, clock, 0, 200, () => a.stat('accepted') + a.stat('rejected') > 0);
  assert.is(a.stat('accepted'), 1);
  const bid = idOf(b);
  assert.ok(bid >= 0 && !b.stack.isShadow(bid));
  assert.is(b.stack.rcvNxt(bid), (cseq + 300) >>> 0);
  // The origin gave up the copy when the connection left: no retransmission round sends it again.
  for (let i = 0; i < 40; i++) {
    clock.t += 50;
    a.handoff.tick(clock.t);
  }
  assert.is(a.wire.frames.length, 0, 'nothing more of the copy');
  // The late copy arrives now: refused, the moved connection stays as it came.
  for (const f of late) b.handoff.input(f, 0, f.length, 0, clock.t);
  assert.is(b.stat('refused_stale'), 1);
  assert.is(b.stat('orphans_replaced'), 0);
  assert.is(idOf(b), bid);
  assert.not.ok(b.stack.isShadow(bid));
  assert.is(b.stack.rcvNxt(bid), (cseq + 300) >>> 0, 'the request the client saw acknowledged is still here');
});

test('a copy of a connection in TIME-WAIT is not installed but confirmed: the backup answers a HAVE of the client\'s FIN, and the holder, which withheld its ACK for that backup, acknowledges it', () => {
  // A snoop service on both (the holder withholds ACKs for its backup).
  const a = side(1, MAC_A, { shadowed: () => false });
  const b = side(2, MAC_B, { shadowed: (ip) => ip === SERVER_IP });
  const { iss, cseq } = connect(a);
  const id = idOf(a);
  a.stack.setBackedUp([SERVER_IP], 2);
  // The server ends first; the client acknowledges its FIN, then sends its own.
  a.app.sockets[0]!.end();
  a.stack.flush(3);
  const fin = out(a.link).find((x) => x.flags.includes('F'));
  assert.ok(fin !== undefined, 'the server\'s FIN');
  a.peer.send({ flags: 'A', seq: cseq, ack: fin.seq + 1, ts: [1003, fin.ts![0]] }, 4);
  a.peer.send({ flags: 'FA', seq: cseq, ack: fin.seq + 1, ts: [1004, fin.ts![0]] }, 5);
  a.stack.flush(5);
  assert.is(a.stack.state(id), State.TIME_WAIT);
  assert.not.ok(out(a.link).some((x) => x.ack === cseq + 1), 'the ACK of the client\'s FIN waits for the backup');
  // The backup has no shadow of it (it came up late): it asks for a copy, and a TIME-WAIT one is what it gets.
  const clock = { t: 10 };
  assert.ok(a.handoff.startCopy(id, 2, MAC_B, clock.t));
  run(a, b, clock, 0, 200, () => a.stat('copies_accepted') + a.stat('copies_refused') > 0);
  assert.is(a.stat('copies_accepted'), 1);
  assert.is(b.stat('copies_closed'), 1, 'confirmed (counted among the copies taken, shadows_imported, too)');
  assert.is(idOf(b), -1, 'no shadow kept: nothing left to take over');
  const haves: number[] = [];
  b.stack.takeRepairs((li, lp, ri, rp, from, _to, kind) => {
    if (kind !== REPAIR_HAVE) return;
    haves.push(from);
    a.stack.backupHave(li, lp, ri, rp, from, clock.t);
  });
  assert.equal(haves, [(cseq + 1) >>> 0], 'the client\'s bytes and its FIN confirmed');
  a.stack.flush(clock.t);
  assert.ok(out(a.link).some((x) => x.ack === ((cseq + 1) >>> 0)), 'the holder acknowledges the client\'s FIN');
  void iss;
});

test('an older copy that arrives after a TIME-WAIT copy of the same connection is refused STALE: it never brings back a shadow that would miss the end (and be reset, or hang, at the next takeover)', () => {
  const a = side(1, MAC_A, { shadowed: () => false });
  const b = side(2, MAC_B, { shadowed: (ip) => ip === SERVER_IP });
  const { cseq } = connect(a);
  const id = idOf(a);
  a.stack.setBackedUp([SERVER_IP], 2);
  const clock = { t: 10 };
  // A copy while the connection is established, delayed on its way (its transfer given up by the origin meanwhile).
  const late = lateCopy(a, id, clock);
  // Both sides close; a copy in TIME-WAIT reaches the backup, which confirms the client's FIN and keeps no shadow.
  a.app.sockets[0]!.end();
  a.stack.flush(clock.t);
  const fin = out(a.link).find((x) => x.flags.includes('F'))!;
  a.peer.send({ flags: 'FA', seq: cseq, ack: fin.seq + 1, ts: [1004, fin.ts![0]] }, clock.t);
  a.stack.flush(clock.t);
  out(a.link);
  assert.is(a.stack.state(id), State.TIME_WAIT);
  assert.ok(a.handoff.startCopy(id, 2, MAC_B, clock.t));
  run(a, b, clock, 0, 200, () => a.stat('copies_accepted') > 0);
  assert.is(b.stat('copies_closed'), 1);
  assert.is(idOf(b), -1);
  // The older copy arrives now: refused, no shadow comes back.
  for (const f of late) b.handoff.input(f, 0, f.length, 0, clock.t);
  assert.is(b.stat('refused_stale'), 1);
  assert.is(idOf(b), -1, 'no shadow of a connection that is over');
});

test('a snoop connection closed passively by a holder not (yet) backed up lingers in TIME-WAIT, so the shadow its new backup got meanwhile is ended by a TIME-WAIT copy, not left to be reset at the next takeover', () => {
  // A failback: node 1 took the connection back by record, and serves it before it knows node 2 backs it up (no
  // withheld ACK yet); node 2, which granted the address, shadows it already from a copy made before the client's FIN.
  const a = side(1, MAC_A, { shadowed: () => false });
  const b = side(2, MAC_B, { shadowed: (ip) => ip === SERVER_IP });
  const { iss, cseq } = connect(a);
  const id = idOf(a);
  const clock = { t: 10 };
  assert.ok(a.handoff.startCopy(id, 2, MAC_B, clock.t));
  run(a, b, clock, 0, 200, () => a.stat('copies_accepted') > 0);
  const bid = idOf(b);
  assert.ok(bid >= 0 && b.stack.isShadow(bid));
  // The client closes; node 1 acknowledges its FIN at once (nothing withheld), closes too, and gets the ACK of its FIN.
  a.peer.send({ flags: 'FA', seq: cseq, ack: iss, ts: [1004, 0] }, clock.t);
  a.app.sockets[0]!.end();
  a.stack.flush(clock.t);
  const closing = out(a.link);
  const fin = closing.find((x) => x.flags.includes('F'))!;
  assert.ok(fin !== undefined && fin.ack === ((cseq + 1) >>> 0), `FIN with the ACK of the client's: ${closing.map((x) => `${x.flags} ${x.ack - cseq}`).join(', ')}`);
  a.peer.send({ flags: 'A', seq: cseq + 1, ack: fin.seq + 1, ts: [1005, fin.ts![0]] }, clock.t + 1);
  assert.is(a.stack.state(id), State.TIME_WAIT, 'not freed: a short TIME-WAIT');
  // Node 2's shadow lacks the FIN and asks for the record: the TIME-WAIT copy ends it.
  assert.ok(a.handoff.startCopy(id, 2, MAC_B, clock.t));
  run(a, b, clock, 0, 200, () => a.stat('copies_accepted') > 1);
  assert.is(b.stat('copies_closed'), 1);
  assert.is(idOf(b), -1, 'no shadow left to reset at a takeover');
});

test('a connection in TIME-WAIT moves with a failback: the new holder answers the client\'s FIN sent again with its ACK (left behind, it would be reset after the quiet period)', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B);
  const { cseq } = connect(a);
  const id = idOf(a);
  a.app.sockets[0]!.end();
  a.stack.flush(3);
  const fin = out(a.link).find((x) => x.flags.includes('F'))!;
  a.peer.send({ flags: 'FA', seq: cseq, ack: fin.seq + 1, ts: [1004, fin.ts![0]] }, 5);
  out(a.link);
  assert.is(a.stack.state(id), State.TIME_WAIT);
  const clock = { t: 10 };
  a.handoff.startTransfer(id, 2, MAC_B, clock.t);
  run(a, b, clock, 0, 200, () => a.stat('accepted') + a.stat('rejected') > 0);
  assert.is(a.stat('accepted'), 1);
  assert.is(idOf(a), -1);
  const bid = idOf(b);
  assert.ok(bid >= 0 && b.stack.state(bid) === State.TIME_WAIT);
  out(b.link);
  // The client did not get the ACK of its FIN: it sends the FIN again, to the new holder.
  b.peer.send({ flags: 'FA', seq: cseq, ack: fin.seq + 1, ts: [1300, fin.ts![0]] }, clock.t + 1);
  b.stack.flush(clock.t + 1);
  const segs = out(b.link);
  assert.ok(segs.some((x) => x.ack === ((cseq + 1) >>> 0) && !x.flags.includes('R')), `acknowledged, not reset: ${segs.map((x) => x.flags).join(' ')}`);
});

test('shadow copy that arrives after the takeover (the primary sent it, then died): installed and served at once, the client prompted', () => {
  const a = side(1, MAC_A);
  // Node 2 holds the address already (it took it over); its roles may or may not still say it shadows it.
  const b = side(2, MAC_B, { shadowed: () => false, holds: (ip) => ip === SERVER_IP });
  const { cseq } = connect(a);
  const sa = a.app.sockets[0]!;
  sa.write(pattern(3000, 1));
  a.stack.flush(2);
  out(a.link);
  const clock = { t: 10 };
  assert.ok(a.handoff.startCopy(idOf(a), 2, MAC_B, clock.t));
  run(a, b, clock, 0, 200, () => a.stat('copies_accepted') + a.stat('copies_refused') > 0);
  assert.is(a.stat('copies_accepted'), 1);
  const bid = idOf(b);
  assert.ok(bid >= 0);
  assert.not.ok(b.stack.isShadow(bid), 'live: nothing else would promote it, and a downloading client would wait for ever');
  assert.is(b.stack.stats[Stat.SHADOW_PROMOTED], 1);
  b.stack.flush(clock.t);
  const segs = out(b.link);
  assert.ok(segs.length >= 1 && segs[0]!.ack === cseq, `the client is prompted (its unacknowledged output again): ${segs.map((x) => x.flags).join(' ')}`);
});

test('a shadow copy replaces a live orphan on an address this node does not hold (it would answer beside the holder); a live one on an address held here is refused', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B, { shadowed: () => true, holds: () => false });
  connect(a);
  connect(b); // the orphan: live on b, whose address is a's now
  out(b.link);
  const clock = { t: 10 };
  assert.ok(a.handoff.startCopy(idOf(a), 2, MAC_B, clock.t));
  run(a, b, clock, 0, 200, () => a.stat('copies_accepted') + a.stat('copies_refused') > 0);
  assert.is(a.stat('copies_accepted'), 1);
  assert.is(b.stat('orphans_replaced'), 1);
  assert.ok(b.stack.isShadow(idOf(b)), 'a shadow now, fed by what the holder acknowledges');
  const c = side(2, MAC_B, { shadowed: () => true, holds: () => true });
  connect(c);
  assert.ok(a.handoff.startCopy(idOf(a), 2, MAC_B, clock.t));
  run(a, c, clock, 0, 200, () => a.stat('copies_accepted') + a.stat('copies_refused') > 1);
  assert.is(a.stat('copies_refused'), 1);
  assert.is(c.stat('refused_duplicate'), 1);
  assert.not.ok(c.stack.isShadow(idOf(c)));
});

test('a moved connection live here again (a shadow promoted at a later takeover) is answered here: its forwarding route goes', () => {
  const a = side(1, MAC_A, { shadowed: () => true });
  const b = side(2, MAC_B);
  const { iss, cseq } = connect(a);
  const clock = { t: 10 };
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  run(a, b, clock, 0, 200, () => a.stat('accepted') > 0);
  assert.is(route(a, segment(cseq, iss, 'x'), clock.t), ROUTE_FORWARD);
  // Node 2 serves it; node 1 shadows it (a copy), then node 2 dies and node 1 promotes the shadow.
  const id = a.stack.importShadow(b.stack.exportConnection(idOf(b)), clock.t, 0);
  assert.ok(id >= 0);
  assert.is(route(a, segment(cseq, iss, 'y'), clock.t), ROUTE_FORWARD, 'a shadow does not answer: still forwarded');
  assert.ok(a.stack.promoteShadow(id, clock.t));
  assert.is(route(a, segment(cseq, iss, 'z'), clock.t), ROUTE_LOCAL);
  assert.is(a.handoff.routing, 0);
});

test('move with writes queued beyond the send buffer (a slow reader): they travel with the record and arrive in order', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B);
  const { iss, cseq } = connect(a);
  const body = pattern(100_000, 5);
  const sa = a.app.sockets[0]!;
  assert.is(sa.write(body), false, 'more than the 64 KB send buffer: the rest is queued');
  sa.end();
  a.stack.flush(2);
  out(a.link); // lost on the way: the target resends
  const clock = { t: 10 };
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  run(a, b, clock, 0, 500, () => a.stat('accepted') > 0);
  assert.is(a.stat('accepted'), 1);
  // The client reads everything from the target, acknowledging as it goes.
  const got = new Uint8Array(body.length);
  let acked = iss;
  let fin = false;
  for (let round = 0; round < 200 && !fin; round++) {
    b.handoff.tick(clock.t);
    b.stack.flush(clock.t);
    b.stack.tick(clock.t);
    for (const seg of out(b.link)) {
      const off = (seg.seq - iss) | 0;
      if (seg.data.length > 0 && off >= 0 && off + seg.data.length <= body.length) got.set(seg.data, off);
      if (((seg.seq + seg.data.length - acked) | 0) > 0 && off <= ((acked - iss) | 0)) acked = (seg.seq + seg.data.length) >>> 0;
      if (seg.flags.includes('F') && ((seg.seq - iss) | 0) === body.length) fin = true;
    }
    b.peer.send({ flags: 'A', seq: cseq, ack: fin ? acked + 1 : acked, win: 65535 }, clock.t);
    clock.t += 250;
  }
  assert.ok(fin, 'the FIN queued behind the writes went out after the last byte');
  assert.equal([...got], [...body], 'every byte, in order, exactly once');
});

test('there and back again: a connection moved back to its first node is served there, not forwarded away', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B);
  const { iss, cseq } = connect(a);
  const clock = { t: 10 };
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  run(a, b, clock, 0, 100, () => a.stat('accepted') > 0);
  assert.is(route(a, segment(cseq, iss, 'x'), clock.t), ROUTE_FORWARD);
  b.handoff.startTransfer(idOf(b), 1, MAC_A, clock.t);
  run(b, a, clock, 0, 100, () => b.stat('accepted') > 0);
  assert.is(b.stat('accepted'), 1);
  assert.ok(idOf(a) >= 0 && idOf(b) === -1);
  assert.is(route(a, segment(cseq, iss, 'x'), clock.t), ROUTE_LOCAL, 'the old forwarding route went with the import');
  assert.is(route(b, segment(cseq, iss, 'x'), clock.t), ROUTE_FORWARD, 'and the other node forwards to it now');
  assert.equal([...b.handoff.forwardMac], [...MAC_A]);
  a.peer.send({ flags: 'AP', seq: cseq, ack: iss, data: 'home again' }, clock.t);
  assert.ok(a.app.text.endsWith('home again'));
});

test('command: selects by address and port, moves what it selects, leaves what its app cannot resume elsewhere', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B);
  connect(a);
  const clock = { t: 10 };
  const cmd = (localPort: number): XferCommand => ({ seq: localPort, op: 1, target: 2, mac: MAC_B, selector: { localIp: SERVER_IP, localPort, remoteIp: 0, remotePort: 0 } });
  a.handoff.command(cmd(SERVER_PORT + 1), clock.t);
  assert.ok(a.handoff.commandDone(), 'nothing on that port: done at once');
  assert.is(a.stat('sent'), 0);
  a.handoff.endCommand();
  (a.app as unknown as { movable: () => boolean }).movable = () => false;
  a.handoff.command(cmd(SERVER_PORT), clock.t);
  assert.ok(a.handoff.commandDone());
  assert.is(a.stat('skipped_app'), 1);
  assert.ok(idOf(a) >= 0, 'it stays, and is served here');
  a.handoff.endCommand();
  delete (a.app as unknown as { movable?: () => boolean }).movable;
  a.handoff.command(cmd(SERVER_PORT), clock.t);
  assert.not.ok(a.handoff.commandDone(), 'one transfer in flight');
  run(a, b, clock, 0, 100, () => a.handoff.commandDone());
  assert.is(a.stat('accepted'), 1);
  assert.ok(idOf(b) >= 0);
});

test('command: a connection still opening (SYN-RECEIVED) is waited for and moved once established; one that never is stays, skipped, after OPENING_WAIT_MS', () => {
  // A failback's sweep used to skip it: it stayed live on a node that no longer held its address.
  const a = side(1, MAC_A);
  const b = side(2, MAC_B);
  const clock = { t: 10 };
  a.peer.send({ flags: 'S', seq: CISN, mss: 1460, ws: 7, sackPerm: true, ts: [1000, 0] }, clock.t);
  const synAck = one(a.link, { flags: 'SA', ack: CISN + 1 });
  assert.is(a.stack.state(idOf(a)), State.SYN_RECEIVED);
  const cmd: XferCommand = { seq: 1, op: 1, target: 2, mac: MAC_B, selector: { localIp: SERVER_IP, localPort: 0, remoteIp: 0, remotePort: 0 } };
  a.handoff.command(cmd, clock.t);
  assert.not.ok(a.handoff.commandDone(), 'waiting for the handshake');
  assert.is(a.stat('opening_waited'), 1);
  assert.is(a.stat('skipped_state'), 0);
  run(a, b, clock, 0, 20, () => false);
  assert.not.ok(a.handoff.commandDone(), 'still opening: still waited for');
  assert.is(a.stat('sent'), 0);
  // The client's ACK completes it: it moves at the next look.
  a.peer.send({ flags: 'A', seq: CISN + 1, ack: synAck.seq + 1, ts: [1001, synAck.ts![0]] }, clock.t);
  none(a.link);
  assert.ok(a.handoff.nextDeadline() <= clock.t + OPENING_POLL_MS, 'looked at again within OPENING_POLL_MS');
  run(a, b, clock, 0, 200, () => a.handoff.commandDone());
  assert.ok(a.handoff.commandDone());
  assert.is(a.stat('accepted'), 1);
  assert.is(idOf(a), -1);
  assert.ok(idOf(b) >= 0, 'established on the target');
  a.handoff.endCommand();

  // A handshake that never completes: given up after OPENING_WAIT_MS, counted skipped, left where it is.
  const c = side(1, MAC_A);
  const d = side(2, MAC_B);
  const k = { t: 10 };
  c.peer.send({ flags: 'S', seq: CISN, mss: 1460, ws: 7, sackPerm: true, ts: [1000, 0] }, k.t);
  one(c.link, { flags: 'SA', ack: CISN + 1 });
  c.handoff.command(cmd, k.t);
  run(c, d, k, 0, OPENING_WAIT_MS + 50, () => c.handoff.commandDone());
  assert.ok(c.handoff.commandDone());
  assert.ok(k.t >= 10 + OPENING_WAIT_MS, `done at ${k.t}`);
  assert.is(c.stat('skipped_state'), 1);
  assert.is(c.stat('sent'), 0);
  assert.ok(idOf(c) >= 0);
});

test('move under 30 % loss both ways: exactly one import, one accept, retransmissions counted', () => {
  withSeed('handoff loss', testSeed(), (rnd: SeededRandom) => {
    for (let trial = 0; trial < 10; trial++) {
      const a = side(1, MAC_A);
      const b = side(2, MAC_B);
      connect(a);
      a.app.sockets[0]!.write(pattern(60_000, trial));
      a.stack.flush(2);
      out(a.link);
      const clock = { t: 10 };
      a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
      run(a, b, clock, 0, 20_000, () => a.stat('accepted') + a.stat('rejected') + a.stat('unresolved') > 0, 0.3, rnd);
      assert.is(a.stat('accepted'), 1, `trial ${trial}: accepted ${a.stat('accepted')} rejected ${a.stat('rejected')} unresolved ${a.stat('unresolved')} b imported ${b.stat('imported')} refused ${XFER_STAT_NAMES.filter((n) => n.startsWith('refused_') && b.stat(n) > 0).join(',')}`);
      assert.is(b.stat('imported'), 1);
      assert.is(b.stat('refused'), 0);
      assert.ok(idOf(b) >= 0 && idOf(a) === -1, 'one holder');
      assert.ok(a.stat('retransmits') > 0);
    }
  });
});

test('lost ACCEPT: the origin asks again and gets the same verdict; the target imports once', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B);
  connect(a);
  const clock = { t: 10 };
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  deliver(a, b, clock.t);
  assert.is(b.stat('imported'), 1);
  b.wire.frames.length = 0; // the ACCEPT is lost
  run(a, b, clock, 0, 1000, () => a.stat('accepted') > 0);
  assert.is(a.stat('accepted'), 1);
  assert.ok(b.stat('verdicts_resent') >= 1);
  assert.is(b.stat('imported'), 1);
});

test('replay: the frames of a finished transfer, sent again, import nothing', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B);
  connect(a);
  const clock = { t: 10 };
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  const captured = a.wire.frames.map((f) => f.slice());
  run(a, b, clock, 0, 100, () => a.stat('accepted') > 0);
  // The connection leaves B again (say, back to A): a replay must not resurrect it.
  b.stack.dropConnection(idOf(b));
  for (const f of captured) b.handoff.input(f, 0, f.length, 0, clock.t);
  assert.is(idOf(b), -1);
  assert.is(b.stat('imported'), 1);
  assert.ok(b.stat('verdicts_resent') >= 1);
  // A target that restarted since (its windows are gone) refuses the old transfer as stale.
  const b2 = side(2, MAC_B, { incarnation: 1_000_000 });
  for (const f of captured) b2.handoff.input(f, 0, f.length, 0, clock.t);
  assert.is(b2.stat('imported'), 0);
  assert.ok(b2.stat('rx_stale') >= 1);
});

test('forged: frames sealed with another key are counted and never imported', () => {
  const a = side(1, MAC_A, { key: Uint8Array.from(KEY, (x) => x ^ 0x55) });
  const b = side(2, MAC_B);
  connect(a);
  const clock = { t: 10 };
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  deliver(a, b, clock.t);
  assert.ok(b.stat('rx_bad_auth') >= 1);
  assert.is(b.stat('imported'), 0);
  assert.is(b.wire.frames.length, 0, 'no answer to a forgery');
});

test('refused (no service): the origin takes its copy back and the connection goes on there', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B, { listen: false });
  const { iss, cseq } = connect(a);
  const clock = { t: 10 };
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  assert.is(route(a, segment(cseq, iss, 'sent during the move, '), clock.t), ROUTE_HELD);
  run(a, b, clock, 0, 100, () => a.stat('rejected') > 0);
  assert.is(a.stat('rejected_no_service'), 1);
  assert.is(a.app.text, 'sent during the move, ', 'held segments go to the connection once it is back');
  assert.is(b.stat('refused_no_service'), 1);
  assert.is(a.stat('reimported'), 1);
  assert.ok(idOf(a) >= 0);
  assert.is(route(a, segment(cseq + 22, iss, 'still here'), clock.t), ROUTE_LOCAL);
  a.peer.send({ flags: 'AP', seq: cseq + 22, ack: iss, data: 'still here' }, clock.t);
  assert.ok(a.app.text.endsWith('still here'));
});

test('refusals by reason: not our address (taken back), duplicate tuple (left to the target, which answers for it already)', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B, { servable: () => false });
  const { iss, cseq } = connect(a);
  const clock = { t: 10 };
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  run(a, b, clock, 0, 100, () => a.stat('rejected') > 0);
  assert.is(a.stat('rejected_not_our_address'), 1);
  assert.is(a.stat('reimported'), 1);
  const c = side(2, MAC_B);
  connect(c); // the same tuple already lives on c
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  assert.is(route(a, segment(cseq, iss, 'sent during the move'), clock.t), ROUTE_HELD);
  run(a, c, clock, 0, 100, () => a.stat('rejected') > 1);
  assert.is(a.stat('rejected_duplicate'), 1);
  assert.is(a.stat('reimported'), 1, 'a duplicate is never taken back: both would answer');
  assert.is(a.stat('left_to_target'), 1);
  assert.is(idOf(a), -1);
  assert.is(a.stat('forwarded'), 1, 'what the client sent meanwhile goes to the node that answers');
  assert.is(route(a, segment(cseq, iss, 'later'), clock.t), ROUTE_FORWARD);
  out(a.link);
  connect(a); // the tuple again, for the next case
  // Where the target does not hold the address (it lost it to the origin: a
  // false detection, a partition), its copy is an orphan: the moved record replaces it.
  const d = side(2, MAC_B, { holds: () => false, incarnation: 1 });
  connect(d);
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  run(a, d, clock, 0, 100, () => a.stat('accepted') > 0);
  assert.is(a.stat('accepted'), 1);
  assert.is(d.stat('imported'), 1);
  assert.ok(idOf(d) >= 0);
  assert.is(d.app.resumed, 1, 'the moved record lives on d now, resumed from its app state');
});

test('refused after the address left the origin (a sweep behind a grant): not taken back, where it would answer beside the holder; a dead target still gives it back', () => {
  let held = true;
  const a = side(1, MAC_A, { holds: () => held });
  const b = side(2, MAC_B, { listen: false });
  connect(a);
  const clock = { t: 10 };
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  held = false; // the grant went out while the record was on its way
  run(a, b, clock, 0, 100, () => a.stat('rejected') > 0);
  assert.is(a.stat('rejected_no_service'), 1);
  assert.is(a.stat('reimported'), 0);
  assert.is(a.stat('left_to_target'), 1);
  assert.is(idOf(a), -1);
  connect(a);
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  for (let i = 0; i < 20; i++) {
    clock.t += 1;
    a.wire.frames.length = 0;
    a.handoff.tick(clock.t);
  }
  assert.is(a.handoff.targetFailed(2, clock.t), 1);
  assert.is(a.stat('reimported'), 1, 'its address comes back here with the takeover');
  assert.ok(idOf(a) >= 0);
});

test('silent target: ABORT, then unresolved (never re-imported on silence); a late answer resolves it', () => {
  const a = side(1, MAC_A);
  const b = side(2, MAC_B);
  connect(a);
  const clock = { t: 10 };
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  for (let i = 0; i < ABORT_DEADLINE_MS + 100; i++) {
    clock.t += 1;
    a.wire.frames.length = 0; // the target hears nothing
    a.handoff.tick(clock.t);
  }
  assert.is(a.stat('unresolved'), 1);
  assert.ok(a.stat('aborts_sent') > 0);
  assert.is(a.stat('reimported'), 0);
  assert.is(idOf(a), -1, 'no verdict: the origin does not answer for it');
  // The target comes back: the next ABORT is answered REJECT(ABORTED) and the origin resumes.
  run(a, b, clock, 0, 2000, () => a.stat('rejected') > 0);
  assert.is(a.stat('rejected_aborted'), 1);
  assert.is(b.stat('imported'), 0);
  assert.ok(idOf(a) >= 0);
});

test('a target that dies before its verdict (the cluster declares it failed): the move comes back, the client is answered here again', () => {
  const a = side(1, MAC_A);
  const { iss, cseq } = connect(a);
  const clock = { t: 10 };
  a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
  for (let i = 0; i < 50; i++) {
    clock.t += 1;
    a.wire.frames.length = 0; // the target hears nothing: it is dead
    a.handoff.tick(clock.t);
  }
  assert.is(idOf(a), -1, 'still waiting for a verdict');
  assert.is(a.handoff.targetFailed(3, clock.t), 0, 'another node: nothing of it');
  assert.is(a.handoff.targetFailed(2, clock.t), 1);
  assert.is(a.stat('rejected_target_failed'), 1);
  assert.is(a.stat('reimported'), 1);
  assert.ok(idOf(a) >= 0, 'served here again');
  assert.is(a.handoff.routing, 0, 'no route left to the dead node');
  a.stack.flush(clock.t);
  out(a.link);
  a.peer.send({ flags: 'AP', seq: cseq, ack: iss, data: new TextEncoder().encode('still here') }, clock.t + 1);
  a.stack.flush(clock.t + 1);
  a.stack.tick(clock.t + 500); // the delayed ACK
  a.stack.flush(clock.t + 500);
  assert.ok(out(a.link).some((x) => x.ack === cseq + 10), 'the client’s bytes are acknowledged here');
  assert.ok(a.app.text.endsWith('still here'));
  // A node declared failed later (or again) has nothing left to take back.
  assert.is(a.handoff.targetFailed(2, clock.t + 2), 0);
});

// ------------------------------------------------------------ target bounds

test('target: reassembly memory is bounded (BUSY), oversized records refused, stalled ones expire', () => {
  const b = side(2, MAC_B);
  const big = MAX_RECORD_BYTES;
  const fits = Math.floor(MAX_REASSEMBLY_BYTES / big);
  for (let x = 1; x <= fits + 1; x++) {
    const f = frame(header({ xid: x, total: big, length: FRAGMENT_BYTES }));
    b.handoff.input(f, 0, f.length, 0, 0);
  }
  assert.is(b.stat('reassembling'), fits);
  assert.is(b.stat('refused_busy'), 1);
  const huge = frame(header({ xid: 50, total: big + 1, length: FRAGMENT_BYTES }));
  b.handoff.input(huge, 0, huge.length, 0, 0);
  assert.is(b.stat('refused_too_large'), 1);
  b.handoff.tick(REASSEMBLY_IDLE_MS + 1);
  assert.is(b.stat('reassembling'), 0);
  assert.is(b.stat('reassembly_bytes'), 0);
  assert.is(b.stat('expired'), fits);
  // Once refused, always refused: more fragments of an expired transfer get the verdict again.
  const again = frame(header({ xid: 1, total: big, index: 1, length: FRAGMENT_BYTES }));
  b.handoff.input(again, 0, again.length, 0, REASSEMBLY_IDLE_MS + 2);
  assert.is(b.stat('reassembling'), 0);
  assert.ok(b.stat('verdicts_resent') >= 1);
});

test('target: a malformed record and a tuple mismatch are refused MALFORMED; wrong cluster and other targets ignored', () => {
  const b = side(2, MAC_B);
  const f = frame(header({ xid: 1, total: 100, length: 100 }), pattern(100));
  b.handoff.input(f, 0, f.length, 0, 0);
  assert.is(b.stat('refused_malformed'), 1);
  const wc = frame(header({ xid: 2, cluster: CLUSTER + 1 }));
  b.handoff.input(wc, 0, wc.length, 0, 0);
  assert.is(b.stat('rx_wrong_cluster'), 1);
  const other = frame(header({ xid: 3, target: 9 }));
  b.handoff.input(other, 0, other.length, 0, 0);
  assert.is(b.stat('rx_not_for_us'), 1);
  assert.is(b.stat('imported'), 0);
  // Garbage of every length through the worker entry point: counted, never thrown.
  for (let n = 0; n < 120; n++) b.handoff.input(new Uint8Array(n + 14), 0, n + 14, 0, 0);
  assert.ok(b.stat('rx_malformed') >= 100);
  void RejectReason;
});

test.run();
