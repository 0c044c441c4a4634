// Opening connections: RFC 9293 §3.5 and §3.10.7.1–3, RFC 7323 / 2018
// option negotiation, RFC 4987 SYN cookies, RFC 6528 ISNs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CISN, CLIENT_IP, CLIENT_MAC, CLIENT_PORT, SERVER_IP, SERVER_PORT, established, newStack, none, one, out, describe,
} from './harness.js';
import { State } from '../../../dataplane/tcp/record.js';
import { Stat } from '../../../dataplane/tcp/stack.js';
import { SequenceSecrets } from '../../../dataplane/tcp/isn.js';

test('listen_syn: SYN gets SYN-ACK carrying MSS, window scale, SACK-permitted and the echoed timestamp', () => {
  const { link, peer, stack } = newStack();
  peer.send({ flags: 'S', seq: CISN, mss: 1460, ws: 7, sackPerm: true, ts: [5000, 0] }, 0);
  const s = one(link, { flags: 'SA', ack: CISN + 1, mss: 1460, sackPerm: true });
  assert.ok(s.ws >= 0 && s.ws <= 14, 'window scale offered back');
  assert.is(s.ts![1], 5000, 'TSecr echoes the SYN TSval');
  assert.is(stack.state(stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT)), State.SYN_RECEIVED);
});

test('listen_syn_no_options: a bare SYN gets a SYN-ACK with MSS only, window unscaled', () => {
  const { link, peer } = newStack();
  peer.send({ flags: 'S', seq: CISN }, 0);
  const s = one(link, { flags: 'SA', ack: CISN + 1, mss: 1460, ws: -1, sackPerm: false, ts: null });
  assert.is(s.win, 65535);
});

test('syn_received_ack: the handshake ACK establishes and hands the socket to the application', () => {
  const c = established();
  assert.is(c.stack.state(c.id), State.ESTABLISHED);
  assert.is(c.app.sockets[0]!.remoteAddress, '198.18.0.101');
  assert.is(c.app.sockets[0]!.remotePort, CLIENT_PORT);
  assert.is(c.app.sockets[0]!.localPort, SERVER_PORT);
});

test('closed_syn: SYN to a port nobody serves gets RST,ACK acking SEQ+1 (§3.10.7.1)', () => {
  const { link, peer, stack } = newStack();
  peer.send({ flags: 'S', seq: CISN, dstPort: 81 }, 0);
  one(link, { flags: 'AR', seq: 0, ack: CISN + 1 });
  assert.is(stack.stats[Stat.NO_LISTENER], 1);
});

test('closed_ack: an ACK for no connection gets RST with SEQ = SEG.ACK', () => {
  const { link, peer } = newStack();
  peer.send({ flags: 'A', seq: 5, ack: 777, dstPort: 81 }, 0);
  one(link, { flags: 'R', seq: 777 });
});

test('closed_rst: an RST for no connection is dropped silently', () => {
  const { link, peer } = newStack();
  peer.send({ flags: 'R', seq: 5, dstPort: 81 }, 0);
  none(link);
});

test('listen_ack: a stray ACK to a listening port (no cookie) gets RST', () => {
  const { link, peer, stack } = newStack();
  peer.send({ flags: 'A', seq: 5, ack: 12345 }, 0);
  one(link, { flags: 'R', seq: 12345 });
  assert.is(stack.stats[Stat.SYN_COOKIES_BAD], 1);
});

test('syn_received_syn_retransmit: a repeated SYN gets the same SYN-ACK again', () => {
  const { link, peer } = newStack();
  peer.send({ flags: 'S', seq: CISN }, 0);
  const a = one(link, { flags: 'SA' });
  peer.send({ flags: 'S', seq: CISN }, 10);
  one(link, { flags: 'SA', seq: a.seq, ack: CISN + 1 });
});

test('syn_received_rto: SYN-ACK retransmitted with backoff, then the half-open connection is forgotten', () => {
  const { link, peer, stack } = newStack({ synRetries: 2, rtoInitialMs: 1000 });
  peer.send({ flags: 'S', seq: CISN }, 0);
  const a = one(link, { flags: 'SA' });
  stack.tick(999);
  none(link);
  stack.tick(1000);
  one(link, { flags: 'SA', seq: a.seq });
  stack.tick(2999);
  none(link);
  stack.tick(3000);
  one(link, { flags: 'SA', seq: a.seq });
  stack.tick(7000);
  none(link);
  assert.is(stack.connections, 0, 'gone after synRetries');
});

test('syn_received_bad_ack: an ACK outside (SND.UNA, SND.NXT] gets RST <SEQ=SEG.ACK>', () => {
  const { link, peer, stack } = newStack();
  peer.send({ flags: 'S', seq: CISN }, 0);
  const a = one(link, { flags: 'SA' });
  peer.send({ flags: 'A', seq: CISN + 1, ack: a.seq + 5 }, 1);
  one(link, { flags: 'R', seq: a.seq + 5 });
  assert.is(stack.state(stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT)), State.SYN_RECEIVED);
});

test('syn_received_rst: RST in SYN-RECEIVED (passive) returns to LISTEN; no application saw it', () => {
  const { link, peer, stack, app } = newStack();
  peer.send({ flags: 'S', seq: CISN }, 0);
  out(link);
  peer.send({ flags: 'R', seq: CISN + 1 }, 1);
  none(link);
  assert.is(stack.connections, 0);
  assert.is(app.sockets.length, 0);
  // The port still listens.
  peer.send({ flags: 'S', seq: CISN + 1000 }, 2);
  one(link, { flags: 'SA', ack: CISN + 1001 });
});

test('isn: RFC 6528 — different per 4-tuple, advancing with the clock, unpredictable without the key', () => {
  const s = new SequenceSecrets(Uint32Array.from([1, 2, 3, 4]));
  const a = s.isn(SERVER_IP, 80, CLIENT_IP, 40000, 0);
  const b = s.isn(SERVER_IP, 80, CLIENT_IP, 40001, 0);
  assert.is.not(a, b);
  assert.is(s.isn(SERVER_IP, 80, CLIENT_IP, 40000, 1), (a + 250) >>> 0, 'M advances every 4 µs');
  const other = new SequenceSecrets(Uint32Array.from([9, 2, 3, 4]));
  assert.is.not(other.isn(SERVER_IP, 80, CLIENT_IP, 40000, 0), a);
});

test('isn_passive: two stacks sharing the secrets answer one SYN with one ISS whatever their clocks; the ACK for either SYN-ACK establishes on both (a SYN answered by the old and the new holder around a handover)', () => {
  const a = newStack();
  const b = newStack();
  a.peer.send({ flags: 'S', seq: CISN, mss: 1460, ws: 7, sackPerm: true, ts: [5000, 0] }, 0);
  const sa = one(a.link, { flags: 'SA', ack: CISN + 1 });
  b.peer.send({ flags: 'S', seq: CISN, mss: 1460, ws: 7, sackPerm: true, ts: [5000, 0] }, 37);
  const sb = one(b.link, { flags: 'SA', ack: CISN + 1 });
  assert.is(sb.seq, sa.seq, 'the same ISS 37 ms later, on another stack');
  assert.is(sb.ws, sa.ws);
  assert.is(sb.mss, sa.mss);
  b.peer.send({ flags: 'A', seq: CISN + 1, ack: (sa.seq + 1) >>> 0, ts: [5001, sa.ts![0]] }, 38);
  none(b.link);
  assert.is(b.stack.state(b.stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT)), State.ESTABLISHED);
  assert.is(b.stack.stats[Stat.RST_SENT], 0);
  // Keyed, and a later incarnation (a higher client ISN) gets a higher ISS.
  const k = new SequenceSecrets(Uint32Array.from([1, 2, 3, 4]));
  const i1 = k.passiveIsn(SERVER_IP, 80, CLIENT_IP, 40000, 1000);
  assert.is(k.passiveIsn(SERVER_IP, 80, CLIENT_IP, 40000, 251_000), (i1 + 250_000) >>> 0);
  assert.is.not(k.passiveIsn(SERVER_IP, 80, CLIENT_IP, 40001, 1000), i1);
  assert.is.not(new SequenceSecrets(Uint32Array.from([9, 2, 3, 4])).passiveIsn(SERVER_IP, 80, CLIENT_IP, 40000, 1000), i1);
  assert.equal(SequenceSecrets.fromKey(new Uint8Array(16).fill(7)).passiveIsn(SERVER_IP, 80, CLIENT_IP, 40000, 1),
    SequenceSecrets.fromKey(new Uint8Array(16).fill(7)).passiveIsn(SERVER_IP, 80, CLIENT_IP, 40000, 1), 'one cluster key, one secret');
});

test('syn_cookies: past the backlog the SYN-ACK carries a cookie and no record; the ACK rebuilds MSS, WS and SACK', () => {
  const { link, peer, stack, app } = newStack({ synBacklog: 0 });
  peer.send({ flags: 'S', seq: CISN, mss: 1220, ws: 6, sackPerm: true, ts: [700, 0] }, 0);
  const sa = one(link, { flags: 'SA', ack: CISN + 1 });
  assert.is(stack.connections, 0, 'no state kept for a cookie');
  assert.is(stack.stats[Stat.SYN_COOKIES_SENT], 1);
  peer.send({ flags: 'A', seq: CISN + 1, ack: sa.seq + 1, ts: [701, sa.ts![0]], data: 'hello' }, 5);
  assert.is(stack.stats[Stat.SYN_COOKIES_OK], 1);
  assert.is(app.sockets.length, 1);
  assert.is(app.text, 'hello', 'data on the cookie ACK is delivered');
  const id = stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.is(stack.state(id), State.ESTABLISHED);
  // The server sends with the cookie's MSS (1220 − 12 bytes of timestamps).
  app.sockets[0]!.write(new Uint8Array(5000));
  stack.flush(6);
  const segs = out(link);
  assert.ok(segs.length >= 2, describe(segs));
  assert.is(segs[0]!.data.length, 1208);
  assert.ok(segs[0]!.ts !== null, 'timestamps on');
});

test('syn_cookies: a forged or stale cookie is refused with RST', () => {
  const { link, peer, stack } = newStack({ synBacklog: 0 });
  peer.send({ flags: 'S', seq: CISN }, 0);
  const sa = one(link, { flags: 'SA' });
  peer.send({ flags: 'A', seq: CISN + 1, ack: (sa.seq + 2) >>> 0 }, 1);
  one(link, { flags: 'R' });
  // Valid cookie, but 3 minutes later.
  peer.send({ flags: 'A', seq: CISN + 1, ack: (sa.seq + 1) >>> 0 }, 200_000);
  one(link, { flags: 'R' });
  assert.is(stack.connections, 0);
  assert.is(stack.stats[Stat.SYN_COOKIES_BAD], 2);
});

test('active_open: connect sends SYN with options; SYN-ACK establishes and ACKs', () => {
  const { link, stack, peer } = newStack();
  const sock = stack.connect(SERVER_IP, 5555, CLIENT_IP, 7, CLIENT_MAC, 0, 0)!;
  const syn = one(link, { flags: 'S', mss: 1460, sackPerm: true });
  assert.ok(syn.ws >= 0 && syn.ts !== null);
  peer.send({ flags: 'SA', seq: 9000, ack: syn.seq + 1, srcPort: 7, dstPort: 5555, mss: 1400, ws: 2, sackPerm: true, ts: [1, syn.ts![0]] }, 3);
  one(link, { flags: 'A', seq: syn.seq + 1, ack: 9001 });
  assert.is(stack.state(sock.id), State.ESTABLISHED);
});

test('syn_sent_rst: RST with an acceptable ACK refuses the connection (ECONNREFUSED)', () => {
  const { link, stack, peer } = newStack();
  const sock = stack.connect(SERVER_IP, 5555, CLIENT_IP, 7, CLIENT_MAC, 0, 0)!;
  const errs: string[] = [];
  sock.on('error', (e) => errs.push(e.code));
  const syn = one(link, { flags: 'S' });
  peer.send({ flags: 'RA', seq: 0, ack: syn.seq + 1, srcPort: 7, dstPort: 5555 }, 1);
  assert.equal(errs, ['ECONNREFUSED']);
  assert.is(stack.connections, 0);
});

test('syn_sent_bad_ack: a SYN-ACK acking the wrong number gets RST', () => {
  const { link, stack, peer } = newStack();
  stack.connect(SERVER_IP, 5555, CLIENT_IP, 7, CLIENT_MAC, 0, 0);
  const syn = one(link, { flags: 'S' });
  peer.send({ flags: 'SA', seq: 9000, ack: syn.seq + 10, srcPort: 7, dstPort: 5555 }, 1);
  one(link, { flags: 'R', seq: syn.seq + 10 });
});

test('simultaneous_open: SYN crosses SYN → SYN-RECEIVED, SYN-ACK, then ESTABLISHED (RFC 9293 Figure 8)', () => {
  const { link, stack, peer } = newStack();
  const sock = stack.connect(SERVER_IP, 5555, CLIENT_IP, 7, CLIENT_MAC, 0, 0)!;
  const syn = one(link, { flags: 'S' });
  peer.send({ flags: 'S', seq: 9000, srcPort: 7, dstPort: 5555 }, 1);
  one(link, { flags: 'SA', seq: syn.seq, ack: 9001 });
  assert.is(stack.state(sock.id), State.SYN_RECEIVED);
  peer.send({ flags: 'SA', seq: 9000, ack: syn.seq + 1, srcPort: 7, dstPort: 5555 }, 2);
  assert.is(stack.state(sock.id), State.ESTABLISHED);
});

test('syn_sent_rto: SYN retransmitted, then ETIMEDOUT', () => {
  const { link, stack } = newStack({ synRetries: 1 });
  const sock = stack.connect(SERVER_IP, 5555, CLIENT_IP, 7, CLIENT_MAC, 0, 0)!;
  const errs: string[] = [];
  sock.on('error', (e) => errs.push(e.code));
  one(link, { flags: 'S' });
  stack.tick(1000);
  one(link, { flags: 'S' });
  stack.tick(3000);
  assert.equal(errs, ['ETIMEDOUT']);
});

test('a segment of no connection sent to another node\'s MAC is dropped and counted, not reset: the client believes that node holds the address (ours: RST)', () => {
  // The DPDK kill loop: a restarted node held its home address for a moment at boot and, on the hub, reset a
  // download whose client sent to the holder's MAC.
  const { stack, link, peer } = newStack();
  const m = peer.build({ flags: 'A', seq: CISN + 100, ack: 12345, win: 512 });
  peer.frame.set([0x02, 0, 0, 0, 0, 0x99], m.l2Off);
  stack.input(peer.frame, m, 0, 10);
  stack.flush(10);
  none(link);
  assert.is(stack.stats[Stat.RST_SENT], 0);
  assert.is(stack.stats[Stat.UNKNOWN_DROPPED], 1);
  // To this node's MAC: RFC 9293 §3.10.7.1, a reset.
  peer.send({ flags: 'A', seq: CISN + 100, ack: 12345, win: 512 }, 20);
  const r = one(link, { flags: 'R' });
  assert.is(r.seq, 12345);
});

test.run();
