// Shadow connections (service mode snoop), packet by packet: a primary stack
// serves a client while a backup stack observes every frame of both
// directions (as on a hub segment) and keeps a shadow; at the takeover the
// backup's shadow becomes the connection and the client's next segments are
// answered with the right sequence numbers, acknowledgments, timestamps and
// application bytes. The backup never sends anything while it shadows.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ACCEPT_TRIMMED, FrameMeta, parseFrame, VERIFY_ALL } from '../../../dataplane/net/frame.js';
import { Reason } from '../../../dataplane/net/reason.js';
import { REPAIR_RECORD, Stat, TcpStack } from '../../../dataplane/tcp/stack.js';
import { SequenceSecrets } from '../../../dataplane/tcp/isn.js';
import { inspectSerialized } from '../../../dataplane/tcp/record.js';
import { State } from '../../../dataplane/tcp/record.js';
import { seqGt } from '../../../dataplane/tcp/seq.js';
import { appFactory } from '../../../dataplane/app/registry.js';
import { chargenByte } from '../../../dataplane/app/chargen.js';
import type { AppSocket, TcpApplication } from '../../../dataplane/app/api.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAMPLE_MASK, SAMPLE_SHIFT } from '../../../dataplane/tcp/lazy-output.js';
import { SeededRandom } from '../net/seeded-random.js';
import {
  CISN, CLIENT_IP, CLIENT_PORT, FakeLink, Peer, SERVER_IP, SERVER_MAC, SERVER_PORT, describe, out, pattern, text, type Seg,
} from './harness.js';
import { confirm, fromBackup, fromPrimary, handshake, pair, type Pair } from './shadow-pair.js';

/** Echo, but upper-case: an application that does not behave like the shadow's. */
const shouting: TcpApplication = {
  name: 'shouting',
  accept(s: AppSocket): void {
    s.on('data', (c) => s.write(new TextEncoder().encode(text(c).toUpperCase())));
    s.on('end', () => s.end());
  },
  resume(): void {},
};


/** The client's FIN sent again (the ACK of it lost) at `now`: `node` answers with that ACK, and never with RST. */
function finAgainAcknowledged(p: Pair, fin: Seg, now: number, node: 'primary' | 'backup'): void {
  p.send({ flags: 'FA', seq: CISN + 1, ack: (fin.seq + 1) >>> 0, ts: [1004, fin.ts![0]] }, now);
  const again = node === 'primary' ? fromPrimary(p) : fromBackup(p);
  assert.ok(again.length === 1 && again[0]!.flags === 'A' && again[0]!.ack === CISN + 2, `acknowledged, not reset: ${describe(again)}`);
  assert.is(p[node].stats[Stat.RST_SENT], 0, 'never reset');
}

const t = suite('tcp shadow (snoop): observe, then take over');

t('a client SYN to a snoop service on a shadowed address opens a shadow; nothing is ever sent', () => {
  const p = pair();
  handshake(p);
  const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.ok(id >= 0);
  assert.ok(p.backup.isShadow(id));
  assert.is(p.backup.state(id), State.ESTABLISHED);
  assert.ok(p.backup.shadowExact(id));
  assert.is(p.backup.stats[Stat.SHADOW_OPENS], 1);
  assert.is(p.backupLink.freeSlots, 256, 'no slot taken');
});

t('the shadow application gets client bytes only once the primary acknowledged them; its output is checked against the primary’s', () => {
  const p = pair();
  const { sseq } = handshake(p);
  // The backup sees the client's data before the primary's ACK (the primary answers within the same send()).
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, 0], data: 'hello' }, 2);
  const echoed = fromPrimary(p);
  assert.is(echoed.length, 1, describe(echoed));
  assert.is(text(echoed[0]!.data), 'hello');
  assert.is(p.backup.stats[Stat.SHADOW_BYTES_CHECKED], 5, 'the primary’s 5 bytes equal the shadow application’s');
  assert.equal(fromBackup(p), []);
  // Only the primary's acknowledgment releases bytes to the shadow application.
  p.lose = () => false;
  const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.ok(p.backup.shadowExact(id));
});

t('takeover mid-stream: the unacknowledged output goes out again at once, sequence space, ACK and TSval continue', () => {
  const p = pair();
  const { sseq, synAck } = handshake(p);
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]], data: 'abcdefgh' }, 10);
  const echoed = fromPrimary(p)[0]!;
  assert.is(text(echoed.data), 'abcdefgh');
  const lastTsVal = echoed.ts![0];
  // The client never acknowledged the echo: the primary dies.
  const [promoted, reset] = p.kill(500);
  assert.equal([promoted, reset], [1, 0]);
  const segs = fromBackup(p);
  assert.ok(segs.length >= 1, 'the client is prompted at once');
  const first = segs[0]!;
  assert.is(first.seq, sseq, 'retransmission from SND.UNA');
  assert.is(text(first.data), 'abcdefgh');
  assert.is(first.ack, CISN + 1 + 8, 'ACK continues the primary’s');
  assert.ok(first.ts![0] >= lastTsVal, `TSval monotonic: ${first.ts![0]} >= ${lastTsVal}`);
  assert.is(first.ts![1], 1002, 'TSecr echoes the client’s latest TSval');
  // The conversation continues with the backup.
  p.send({ flags: 'PA', seq: CISN + 9, ack: sseq + 8, ts: [1100, first.ts![0]], data: 'more' }, 520);
  const next = fromBackup(p);
  assert.is(next.length, 1, describe(next));
  assert.is(next[0]!.seq, sseq + 8);
  assert.is(text(next[0]!.data), 'more');
  assert.is(next[0]!.ack, CISN + 13);
  assert.is(p.backup.stats[Stat.SHADOW_PROMOTED], 1);
});

t('after a takeover, the client acknowledges output the backup never saw sent (its frames and the ACKs lost): the output catches up, no stall', () => {
  const p = pair();
  const { sseq, synAck } = handshake(p);
  // The primary's echo and the client's ACK of it never reach the backup (a burst of lost frames).
  p.hub.dropToBackup = (s) => s.data.length > 0;
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]], data: 'abcdefgh' }, 10);
  const echoed = fromPrimary(p)[0]!;
  assert.is(text(echoed.data), 'abcdefgh');
  p.lose = (s) => s.ack === sseq + 8;
  p.send({ flags: 'A', seq: CISN + 9, ack: sseq + 8, ts: [1003, echoed.ts![0]] }, 11);
  const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.ok(p.backup.shadowExact(id), 'every client byte is there: exact');
  assert.equal(p.kill(500), [1, 0]);
  fromBackup(p); // the prompt: the echo again, which the client has
  p.lose = () => false;
  // The client's next segment acknowledges the echo: taken, not refused as an ACK of unsent data.
  p.send({ flags: 'PA', seq: CISN + 9, ack: sseq + 8, ts: [1100, echoed.ts![0]], data: 'next' }, 520);
  const next = fromBackup(p);
  assert.is(p.backup.stats[Stat.BAD_ACK], 0);
  const data = next.filter((x) => x.data.length > 0);
  assert.is(data.length, 1, describe(next));
  assert.is(data[0]!.seq, sseq + 8, 'the new output follows what the client has');
  assert.is(text(data[0]!.data), 'next');
  assert.is(data[0]!.ack, CISN + 13);
});

t('a promoted shadow whose client acknowledged output its application has not written yet moves on by record: the importer drops those bytes when written, never sends them twice', () => {
  const p = pair({ withhold: true });
  const { sseq, synAck } = handshake(p);
  // The client's bytes do not reach the backup (lost on its way); the primary echoes them, its ACK waiting for the backup.
  p.lose = (x) => x.data !== undefined;
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]], data: 'abcdefgh' }, 10);
  p.lose = () => false;
  const echoed = fromPrimary(p)[0]!;
  assert.is(echoed.ack, CISN + 1, 'the ACK waits for the backup');
  // The client acknowledges the echo: the backup's shadow application has not written it (it has not had the bytes).
  p.send({ flags: 'A', seq: CISN + 1, ack: sseq + 8, ts: [1003, echoed.ts![0]] }, 11);
  const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.ok(p.backup.promoteShadow(id, 50), 'promoted (no flush yet: the application has not run)');
  const rec = p.backup.exportConnection(id);
  assert.is(inspectSerialized(rec).skip, 8, 'the record says 8 bytes of output are the client’s already');
  // A third node takes it (a failback by records) and runs the application.
  const link = new FakeLink();
  const third = new TcpStack({ maxConnections: 16, sendBuffer: 65536, recvBuffer: 65536 }, link, { secrets: new SequenceSecrets(Uint32Array.from([5, 5, 5, 5])), localMac: SERVER_MAC });
  third.listen(SERVER_IP, SERVER_PORT, SERVER_PORT, appFactory('echo')({}), false);
  assert.ok(third.importConnection(rec, 60, 0) >= 0);
  third.flush(60);
  out(link);
  // The client sends its unacknowledged bytes again: the application echoes them, and those bytes are the client's already.
  const peer = new Peer(third, link);
  peer.send({ flags: 'PA', seq: CISN + 1, ack: sseq + 8, ts: [1100, echoed.ts![0]], data: 'abcdefgh' }, 65);
  const again = out(link).filter((x) => x.data.length > 0);
  assert.equal(again, [], `the echo of abcdefgh is not sent a second time: ${describe(again)}`);
  peer.send({ flags: 'PA', seq: CISN + 9, ack: sseq + 8, ts: [1101, echoed.ts![0]], data: 'next' }, 70);
  const data = out(link).filter((x) => x.data.length > 0);
  assert.is(data.length, 1, describe(data));
  assert.is(data[0]!.seq, (sseq + 8) >>> 0);
  assert.is(text(data[0]!.data), 'next', 'the output continues where the client is');
});

t('takeover with output waiting on a window the shadow last saw nearly closed: the client is probed at once and answers with its window', () => {
  const p = pair({ app: 'chargen' });
  const { synAck } = handshake(p);
  const sent = fromPrimary(p);
  const hi = sent.reduce((a, x) => Math.max(a, (x.seq - synAck.seq - 1 + x.data.length) >>> 0), 0);
  // The client acknowledges everything with 100 bytes of room (its application is slow); then, unseen, it reads and opens the window.
  p.send({ flags: 'A', seq: CISN + 1, ack: (synAck.seq + 1 + hi) >>> 0, win: 1, ts: [1002, synAck.ts![0]] }, 5);
  fromPrimary(p);
  assert.equal(p.kill(100), [1, 0]);
  const segs = fromBackup(p);
  const probe = segs.find((x) => x.data.length === 0 && x.seq === ((synAck.seq + hi) >>> 0));
  assert.ok(probe !== undefined, `a probe one byte below SND.UNA: ${describe(segs)}`);
  // The client's answer: its window now. Output resumes at once.
  p.send({ flags: 'A', seq: CISN + 1, ack: (synAck.seq + 1 + hi) >>> 0, win: 512, ts: [1003, probe.ts![0]] }, 101);
  const next = fromBackup(p).filter((x) => x.data.length > 0);
  assert.ok(next.length > 0 && next[0]!.seq === ((synAck.seq + 1 + hi) >>> 0), describe(next));
});

t('after a takeover, an ACK past everything the application could have written is still refused', () => {
  const p = pair();
  const { sseq } = handshake(p);
  p.kill(100);
  fromBackup(p);
  p.send({ flags: 'A', seq: CISN + 1, ack: (sseq + 100_000_000) >>> 0 }, 120);
  assert.is(p.backup.stats[Stat.BAD_ACK], 1);
});

t('client bytes the primary never acknowledged are kept and answered after the takeover', () => {
  const p = pair();
  const { sseq } = handshake(p);
  // The primary dies between the client's send and its processing: only the backup saw the segment.
  const m = p.peer.build({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, 0], data: 'lost-on-primary' });
  p.backup.snoop(p.peer.frame, m, true, 0, 20);
  p.backup.flush(20);
  assert.equal(fromBackup(p), []);
  p.kill(300);
  const segs = fromBackup(p);
  assert.is(segs.length, 1, describe(segs));
  assert.is(text(segs[0]!.data), 'lost-on-primary', 'the shadow application answers what it now holds');
  assert.is(segs[0]!.ack, CISN + 1 + 15);
});

t('a gap (the primary acknowledged bytes the backup never saw) means no exact resume: reset at takeover, counted', () => {
  const p = pair();
  const { sseq } = handshake(p);
  p.lose = (s) => s.data === 'missed';
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, 0], data: 'missed' }, 5);
  fromPrimary(p);
  const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.not.ok(p.backup.shadowExact(id));
  assert.ok(p.backup.stats[Stat.SHADOW_GAPS]! >= 1);
  assert.equal(p.kill(100), [0, 1]);
  const segs = fromBackup(p);
  assert.is(segs.length, 1, describe(segs));
  assert.ok(segs[0]!.flags.includes('R'), 'the client is reset, not fed wrong bytes');
  assert.is(p.backup.stats[Stat.SHADOW_RESET], 1);
  assert.is(p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT), -1);
});

t('a gap the client’s retransmission fills makes the shadow exact again', () => {
  const p = pair();
  const { sseq } = handshake(p);
  p.lose = (s) => s.data === 'once';
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, 0], data: 'once' }, 5);
  fromPrimary(p);
  const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.not.ok(p.backup.shadowExact(id));
  // The client did not get the echo's ACK in time and sends the segment again.
  p.lose = () => false;
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1003, 0], data: 'once' }, 300);
  assert.ok(p.backup.shadowExact(id));
});

t('an application that answers differently from the primary’s is caught (diverged) and reset at takeover', () => {
  const p = pair({ primaryApp: shouting });
  const { sseq } = handshake(p);
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, 0], data: 'quiet' }, 5);
  assert.is(text(fromPrimary(p)[0]!.data), 'QUIET');
  assert.is(p.backup.stats[Stat.SHADOW_DIVERGED], 1);
  assert.equal(p.kill(50), [0, 1]);
});

t('the primary’s SYN-ACK unseen: the backup asks the primary to repeat its handshake; unrepaired, it is reset at takeover', () => {
  const p = pair();
  p.hub.dropToBackup = (s) => s.flags === 'SA';
  p.send({ flags: 'S', seq: CISN, win: 65535, mss: 1460, ws: 7, sackPerm: true, ts: [1000, 0] }, 0);
  const synAck = fromPrimary(p)[0]!;
  p.send({ flags: 'A', seq: CISN + 1, ack: synAck.seq + 1, win: 512, ts: [1001, synAck.ts![0]] }, 1);
  assert.equal(fromBackup(p), []);
  const asked: number[][] = [];
  p.backup.takeRepairs((li, lp, ri, rp, from, to) => asked.push([li, lp, ri, rp, from, to]));
  assert.equal(asked, [[SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT, CISN + 1, CISN + 1]], 'a handshake repair: from = to = IRS + 1');
  // What the primary would repeat: its ISS and options.
  const hs = new Int32Array(11);
  assert.ok(p.primary.handshakeSource(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT, 2, hs));
  assert.is(hs[0]! >>> 0, synAck.seq);
  assert.is(hs[3], synAck.ws);
  assert.is(hs[5], 1);
  // No repair came: the shadow cannot be resumed and is reset, counted. The
  // client's ACK told the primary's ISS, so the client learns at once: an RST
  // at exactly the sequence number it expects.
  assert.equal(p.kill(100), [0, 1]);
  const rst = fromBackup(p);
  assert.is(rst.length, 1, describe(rst));
  assert.is(rst[0]!.flags, 'AR');
  assert.is(rst[0]!.seq, (synAck.seq + 1) >>> 0);
  assert.is(rst[0]!.ack, CISN + 1);
  assert.is(p.backup.stats[Stat.SHADOW_RESET], 1);
});

t('the primary’s SYN-ACK unseen, in a cluster (one ISS secret): the client’s ACK tells it all — the shadow derives the handshake, is exact without a repair, and takes over mid-stream', () => {
  const p = pair({ clusterSecrets: true });
  p.hub.dropToBackup = (s) => s.flags === 'SA';
  p.send({ flags: 'S', seq: CISN, win: 65535, mss: 1460, ws: 7, sackPerm: true, ts: [1000, 0] }, 0);
  const synAck = fromPrimary(p)[0]!;
  p.hub.dropToBackup = () => false;
  p.send({ flags: 'A', seq: CISN + 1, ack: synAck.seq + 1, win: 512, ts: [1001, synAck.ts![0]] }, 1);
  assert.is(p.backup.stats[Stat.SHADOW_HANDSHAKES_DERIVED], 1);
  const kinds: number[] = [];
  p.backup.takeRepairs((_li, _lp, _ri, _rp, from, to, kind) => kinds.push(from === to ? -1 : kind));
  assert.not.ok(kinds.includes(-1), 'no handshake repair asked');
  p.send({ flags: 'PA', seq: CISN + 1, ack: synAck.seq + 1, win: 512, ts: [1002, synAck.ts![0]], data: 'hello' }, 2);
  const echo = fromPrimary(p).find((x) => x.data.length > 0)!;
  p.send({ flags: 'A', seq: CISN + 6, ack: echo.seq + 5, win: 512, ts: [1003, echo.ts![0]] }, 3);
  const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.ok(p.backup.shadowExact(id), 'exact');
  assert.equal(p.kill(50), [1, 0]);
  fromBackup(p);
  p.send({ flags: 'PA', seq: CISN + 6, ack: echo.seq + 5, win: 512, ts: [1100, echo.ts![0]], data: 'more' }, 60);
  const more = fromBackup(p).filter((x) => x.data.length > 0);
  assert.is(more.length, 1, describe(more));
  assert.is(more[0]!.seq, (echo.seq + 5) >>> 0);
  assert.is(text(more[0]!.data), 'more');
  assert.ok(((more[0]!.ts![0] - echo.ts![0]) | 0) >= 0, 'TSval did not go back');
  // The window it advertises is scaled as the primary's SYN-ACK said (the same field, give or take the bytes in flight).
  assert.ok(Math.abs(more[0]!.win - echo.win) * 2 < echo.win, `window field ${more[0]!.win} against the primary's ${echo.win}`);
});

t('a takeover while the client has sent only its SYN: the shadow goes without a word, and the client’s SYN retry opens a connection here', () => {
  const p = pair();
  p.hub.dropToBackup = (s) => s.flags === 'SA';
  p.send({ flags: 'S', seq: CISN, win: 65535, mss: 1460, ws: 7, sackPerm: true, ts: [1000, 0] }, 0);
  fromPrimary(p);
  // The primary dies before the client's ACK: the client may not even have its SYN-ACK.
  assert.equal(p.kill(100), [0, 1]);
  assert.equal(fromBackup(p), [], 'nothing to reset: the client never went past its SYN');
  assert.is(p.backup.stats[Stat.SHADOW_RESET], 0);
  assert.is(p.backup.stats[Stat.SHADOW_SYNS_DROPPED], 1);
  // The client's SYN again (its retransmission timer): answered as a new connection.
  p.send({ flags: 'S', seq: CISN, win: 65535, mss: 1460, ws: 7, sackPerm: true, ts: [2000, 0] }, 1100);
  const synAck = fromBackup(p);
  assert.is(synAck.length, 1, describe(synAck));
  assert.is(synAck[0]!.flags, 'SA');
  assert.is(synAck[0]!.ack, CISN + 1);
});

t('the client’s SYN unseen: the backup asks for a copy of the record; installed as a shadow mid-stream, it takes over byte-exact', () => {
  const p = pair();
  p.lose = (s) => s.flags === 'S';
  const { sseq, synAck } = handshake(p);
  assert.is(p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT), -1, 'no shadow without the SYN');
  // Mid-stream: the echo of 'first' is unacknowledged when the copy is taken.
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]], data: 'first' }, 10);
  assert.is(text(fromPrimary(p)[0]!.data), 'first');
  const asked: number[][] = [];
  p.backup.takeRepairs((li, lp, ri, rp, from, to, kind) => asked.push([li, lp, ri, rp, from, to, kind]));
  assert.equal(asked, [[SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT, 0, 0, REPAIR_RECORD]], 'one record request, whatever the segments seen');
  assert.ok(p.backup.stats[Stat.SNOOP_UNKNOWN]! >= 3);
  assert.is(p.backup.stats[Stat.COPIES_ASKED], 1);
  // The primary's answer (dataplane/handoff carries it between nodes).
  const pid = p.primary.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  const id = p.backup.importShadow(p.primary.exportConnection(pid), 20, 0);
  assert.ok(id >= 0 && p.backup.isShadow(id) && p.backup.shadowExact(id));
  assert.is(p.primary.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT), pid, 'the primary keeps it');
  assert.equal(fromBackup(p), [], 'a shadow copy sends nothing');
  // The stream goes on; the shadow checks the primary's output from here.
  p.send({ flags: 'PA', seq: CISN + 6, ack: sseq, ts: [1003, synAck.ts![0]], data: 'second' }, 30);
  const echo = fromPrimary(p);
  assert.is(text(echo[0]!.data), 'second');
  assert.is(p.backup.stats[Stat.SHADOW_BYTES_CHECKED], 6);
  assert.is(p.backup.stats[Stat.SHADOW_BYTES_UNSEEN], 5, 'the output sent before the copy: its 5 bytes were never compared');
  assert.ok(p.backup.shadowExact(id));
  // The primary dies with 'first' and 'second' unacknowledged: the backup resends both, and the stream continues.
  assert.equal(p.kill(500), [1, 0]);
  const segs = fromBackup(p);
  assert.is(segs[0]!.seq, sseq);
  assert.is(text(Uint8Array.from(segs.flatMap((x) => [...x.data]))), 'firstsecond');
  assert.is(segs[0]!.ack, CISN + 12);
  p.send({ flags: 'PA', seq: CISN + 12, ack: sseq + 11, ts: [1100, segs[0]!.ts![0]], data: 'third' }, 520);
  const next = fromBackup(p);
  assert.is(next[0]!.seq, sseq + 11);
  assert.is(text(next[0]!.data), 'third');
});

t('a diverged shadow asks for a copy of the record', () => {
  const p = pair({ primaryApp: shouting });
  const { sseq } = handshake(p);
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, 0], data: 'quiet' }, 5);
  const kinds: number[] = [];
  p.backup.takeRepairs((_li, _lp, _ri, _rp, _f, _t, kind) => kinds.push(kind));
  assert.ok(kinds.includes(REPAIR_RECORD), `${kinds}`);
});

t('withheld ACK: the primary acknowledges client bytes only once its backup confirmed them; no duplicate ACKs meanwhile', () => {
  const p = pair({ withhold: true });
  const { sseq, synAck } = handshake(p);
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]], data: 'hello' }, 2);
  const echo = fromPrimary(p);
  assert.is(echo.length, 1, describe(echo));
  assert.is(text(echo[0]!.data), 'hello', 'the application got the bytes at once');
  assert.is(echo[0]!.ack, CISN + 1, 'but their ACK waits for the backup');
  // More data before the confirmation: the echo carries the same ACK, and no pure duplicate ACK is sent.
  p.send({ flags: 'PA', seq: CISN + 6, ack: sseq, ts: [1003, synAck.ts![0]], data: ' world' }, 3);
  const more = fromPrimary(p);
  assert.ok(more.every((x) => x.data.length > 0), `only data segments: ${describe(more)}`);
  assert.is(more[0]!.ack, CISN + 1);
  assert.equal(confirm(p, 4), [CISN + 12], 'the backup holds both');
  const acks = fromPrimary(p);
  assert.is(acks.length, 1, describe(acks));
  assert.is(acks[0]!.ack, CISN + 12, 'acknowledged once confirmed');
  assert.ok(p.primary.stats[Stat.HAVES_IN]! >= 1 && p.backup.stats[Stat.HAVES_OUT]! >= 1);
});

t('withheld ACK: a client segment the backup lost is never acknowledged; the takeover finds it retransmitted, no reset', () => {
  const p = pair({ withhold: true });
  const { sseq, synAck } = handshake(p);
  p.lose = (s) => s.data === 'lost';
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]], data: 'lost' }, 2);
  const echo = fromPrimary(p);
  assert.is(echo[0]!.ack, CISN + 1);
  assert.equal(confirm(p, 3), [], 'the backup has nothing to confirm');
  // The primary pushes the withheld bytes after PUSH_MS (here: asked for them).
  const pushed: number[][] = [];
  p.primary.takePushes(10, (_li, _lp, _ri, _rp, from, to) => pushed.push([from, to]));
  assert.equal(pushed, [[CISN + 1, CISN + 5]]);
  // The primary dies before the push arrives: the shadow is exact (nothing it lacks was acknowledged).
  const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.ok(p.backup.shadowExact(id));
  assert.equal(p.kill(20), [1, 0], 'promoted, not reset');
  const first = fromBackup(p);
  assert.ok(first.length >= 1);
  // The client never saw 'lost' acknowledged: it sends it again, to the backup now.
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1100, first[0]!.ts![0]], data: 'lost' }, 300);
  const segs = fromBackup(p);
  assert.is(text(Uint8Array.from(segs.flatMap((x) => [...x.data]))), 'lost', describe(segs));
  assert.is(segs.at(-1)!.ack, CISN + 5);
});

t('withheld ACK: pushes back off while the backup confirms nothing (PUSH_MS, then twice as long each time)', () => {
  const p = pair({ withhold: true });
  const { sseq, synAck } = handshake(p);
  p.lose = (s) => s.data === 'lost';
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]], data: 'lost' }, 2);
  fromPrimary(p);
  const at: number[] = [];
  for (let now = 3; now <= 70; now++) p.primary.takePushes(now, () => at.push(now));
  assert.equal(at, [6, 14, 30, 62], 'withheld at 2: pushed 4, 8, 16, 32 ms after the previous one');
  assert.is(p.primary.stats[Stat.PUSHES], 4);
});

t('withheld ACK: a backup that confirms slowly (but confirms) gets its first push later, from the measured delay', () => {
  const p = pair({ withhold: true });
  const { sseq, synAck } = handshake(p);
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]], data: 'abc' }, 2);
  fromPrimary(p);
  // Confirmed 30 ms later, with no push in between: the push timeout becomes 30 + 4 × 15 = 90 ms.
  assert.equal(confirm(p, 32), [CISN + 4]);
  fromPrimary(p);
  p.lose = (s) => s.data === 'def';
  p.send({ flags: 'PA', seq: CISN + 4, ack: sseq + 3, ts: [1003, synAck.ts![0]], data: 'def' }, 40);
  fromPrimary(p);
  const at: number[] = [];
  for (let now = 41; now <= 140; now++) p.primary.takePushes(now, () => at.push(now));
  assert.equal(at, [130], 'not at 44 (PUSH_MS): at 40 + 90');
});

t('withheld ACK: when the address loses its backup, every withheld ACK goes out at once (counted: acks_released)', () => {
  const p = pair({ withhold: true });
  const { sseq } = handshake(p);
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, 0], data: 'abc' }, 2);
  assert.is(fromPrimary(p)[0]!.ack, CISN + 1);
  assert.is(p.primary.stats[Stat.ACKS_RELEASED], 0);
  p.primary.setBackedUp([], 5);
  assert.is(p.primary.stats[Stat.ACKS_RELEASED], 1, 'one connection had bytes its backup had not confirmed');
  p.primary.flush(5);
  const acks = fromPrimary(p);
  assert.is(acks.length, 1, describe(acks));
  assert.is(acks[0]!.ack, CISN + 4);
  // And from now on ACKs are immediate.
  p.send({ flags: 'PA', seq: CISN + 4, ack: sseq + 3, ts: [1003, 0], data: 'd' }, 6);
  assert.is(fromPrimary(p).at(-1)!.ack, CISN + 5);
});

t('withheld ACK: an address that went to another node (its backup) releases nothing — its connections never ACK from here again', () => {
  // The mirror kill loop's stuck stream: at a failback the old holder lost the
  // address, the roles dropped its backup, and every withheld ACK went out —
  // acknowledging client bytes whose mirror copy the new holder (the backup,
  // promoted) dropped once it held the address.
  const p = pair({ withhold: true });
  const { sseq } = handshake(p);
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, 0], data: 'abc' }, 2);
  assert.is(fromPrimary(p)[0]!.ack, CISN + 1);
  assert.ok(p.primary.isBackedUp(SERVER_IP));
  p.primary.setBackedUp([], 5, []);
  assert.ok(!p.primary.isBackedUp(SERVER_IP));
  assert.is(p.primary.stats[Stat.ACKS_RELEASED], 0, 'nothing released');
  p.primary.flush(5);
  assert.equal(fromPrimary(p), [], 'no ACK for bytes the backup never confirmed');
  // Still held (the backup died instead): released as before.
  const q = pair({ withhold: true });
  const h = handshake(q);
  q.send({ flags: 'PA', seq: CISN + 1, ack: h.sseq, ts: [1002, 0], data: 'abc' }, 2);
  fromPrimary(q);
  q.primary.setBackedUp([], 5, [SERVER_IP]);
  assert.is(q.primary.stats[Stat.ACKS_RELEASED], 1);
  q.primary.flush(5);
  assert.is(fromPrimary(q).at(-1)!.ack, CISN + 4);
});

t('close: FINs both ways and their ACKs free the shadow; a primary RST frees it too', () => {
  const p = pair();
  const { sseq } = handshake(p);
  p.send({ flags: 'FA', seq: CISN + 1, ack: sseq, ts: [1002, 0] }, 5);
  // echo ends when the client ends: the primary sends FIN (with or after its ACK).
  const fin = fromPrimary(p).find((s) => s.flags.includes('F'))!;
  assert.ok(fin !== undefined);
  p.send({ flags: 'A', seq: CISN + 2, ack: fin.seq + 1, ts: [1003, fin.ts![0]] }, 6);
  assert.is(p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT), -1, 'the shadow is gone with the connection');
  assert.equal(fromBackup(p), []);

  const q = pair();
  const h = handshake(q);
  q.send({ flags: 'R', seq: CISN + 1, ack: h.sseq }, 5);
  assert.is(q.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT), -1);
});


t('withheld ACK at a close: the client’s FIN is acknowledged once the backup confirms it, also after the client acknowledged our FIN (no RST to its retransmitted FIN)', () => {
  const p = pair({ withhold: true });
  const { sseq, synAck } = handshake(p);
  // The client closes first; echo ends too: the primary's FIN cannot acknowledge the client's yet.
  p.send({ flags: 'FA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]] }, 5);
  const fin = fromPrimary(p).find((s) => s.flags.includes('F'))!;
  assert.ok(fin !== undefined, 'the primary closes');
  assert.is(fin.ack, CISN + 1, 'its FIN waits with the ACK of the client’s FIN');
  // The client (CLOSING) acknowledges our FIN before the backup's confirmation reaches the primary.
  p.send({ flags: 'A', seq: CISN + 2, ack: (fin.seq + 1) >>> 0, ts: [1003, fin.ts![0]] }, 6);
  assert.equal(fromPrimary(p), [], 'nothing yet');
  // The shadow stays, in TIME-WAIT, while the primary has not acknowledged the client's FIN: were the primary to die
  // now, it is the one that would (the client, in CLOSING, sends its FIN until someone does).
  const sid = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.ok(sid >= 0 && p.backup.state(sid) === State.TIME_WAIT, 'the shadow waits in TIME-WAIT');
  assert.equal(confirm(p, 7), [CISN + 2], 'the backup confirmed the FIN');
  const last = fromPrimary(p);
  assert.is(last.length, 1, describe(last));
  assert.is(last[0]!.flags, 'A');
  assert.is(last[0]!.ack, CISN + 2, 'the client’s FIN acknowledged');
  assert.is(p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT), -1, 'the primary\'s ACK of the FIN passed: the shadow is gone');
  // Lost: the client's FIN comes again and is answered, never reset.
  finAgainAcknowledged(p, fin, 300, 'primary');
});

t('withheld ACK at a close: the confirmation and the client’s ACK of our FIN in one pass — the ACK of the client’s FIN still goes out before the record is freed', () => {
  const p = pair({ withhold: true });
  const { sseq, synAck } = handshake(p);
  p.send({ flags: 'FA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]] }, 5);
  const fin = fromPrimary(p).find((s) => s.flags.includes('F'))!;
  assert.is(fin.ack, CISN + 1);
  // The HAVE arrives, and before the primary's next flush the client's ACK of our FIN.
  assert.ok(p.primary.backupHave(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT, CISN + 2, 6));
  p.send({ flags: 'A', seq: CISN + 2, ack: (fin.seq + 1) >>> 0, ts: [1003, fin.ts![0]] }, 6);
  const last = fromPrimary(p);
  assert.ok(last.length === 1 && last[0]!.flags === 'A' && last[0]!.ack === CISN + 2, describe(last));
  // To the client our FIN came before the ACK of its own: were that ACK lost, it sends its FIN again, and a freed
  // record would answer with RST. A short TIME-WAIT answers it, then goes.
  const id = p.primary.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.is(p.primary.state(id), State.TIME_WAIT, 'a short TIME-WAIT');
  finAgainAcknowledged(p, fin, 300, 'primary');
});

t('a FIN that left before the ACK of the client’s FIN, then that ACK lost: the client’s FIN again is acknowledged, not reset; the short TIME-WAIT then ends', () => {
  const p = pair({ withhold: true });
  const { sseq, synAck } = handshake(p);
  p.send({ flags: 'FA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]] }, 5);
  const fin = fromPrimary(p).find((s) => s.flags.includes('F'))!;
  assert.is(fin.ack, CISN + 1, 'the FIN went with the ACK of the client’s FIN withheld');
  // The backup confirms; the ACK goes out (and is lost on its way).
  assert.equal(confirm(p, 6), [CISN + 2]);
  const ack = fromPrimary(p);
  assert.ok(ack.length === 1 && ack[0]!.ack === CISN + 2, describe(ack));
  // The client (CLOSING: it has our FIN, not the ACK of its own) acknowledges our FIN, then sends its FIN again.
  p.send({ flags: 'A', seq: CISN + 2, ack: (fin.seq + 1) >>> 0, ts: [1003, fin.ts![0]] }, 7);
  const id = p.primary.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.ok(id >= 0 && p.primary.state(id) === State.TIME_WAIT, 'not freed: a short TIME-WAIT');
  fromPrimary(p);
  finAgainAcknowledged(p, fin, 250, 'primary');
  // A few retransmission intervals later (not 2MSL) the record goes.
  p.primary.tick(250 + 60_000);
  assert.is(p.primary.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT), -1);
});

t('promoted in LAST-ACK: its FIN and the ACK of the client’s FIN lost, the client acknowledges the old primary’s FIN; the client’s FIN again is acknowledged, not reset', () => {
  const p = pair({ withhold: true });
  const { sseq, synAck } = handshake(p);
  p.send({ flags: 'FA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]] }, 5);
  const fin = fromPrimary(p).find((s) => s.flags.includes('F'))!;
  assert.is(fin.ack, CISN + 1);
  const sid = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.is(p.backup.state(sid), State.LAST_ACK);
  // The primary dies; the backup takes over, and what it sends at once (its FIN, with the ACK of the client's) is lost.
  p.kill(10);
  fromBackup(p);
  // The client had the old primary's FIN: it acknowledges it, and sends its own FIN again (CLOSING).
  p.send({ flags: 'A', seq: CISN + 2, ack: (fin.seq + 1) >>> 0, ts: [1003, fin.ts![0]] }, 11);
  const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.ok(id >= 0 && p.backup.state(id) === State.TIME_WAIT, 'not freed: a short TIME-WAIT');
  fromBackup(p);
  finAgainAcknowledged(p, fin, 250, 'backup');
});

t('withheld ACK at a close, the backup silent: the ACK of the client’s FIN goes out when the backup goes away (acks_released)', () => {
  const p = pair({ withhold: true });
  const { sseq, synAck } = handshake(p);
  p.lose = () => true;
  p.send({ flags: 'FA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]] }, 5);
  const fin = fromPrimary(p).find((s) => s.flags.includes('F'))!;
  p.send({ flags: 'A', seq: CISN + 2, ack: (fin.seq + 1) >>> 0, ts: [1003, fin.ts![0]] }, 6);
  assert.equal(confirm(p, 7), []);
  assert.equal(fromPrimary(p), []);
  p.primary.setBackedUp([], 8);
  p.primary.flush(8);
  const last = fromPrimary(p);
  assert.ok(last.length === 1 && last[0]!.ack === CISN + 2, describe(last));
});

t('withheld ACK at a close, the backup silent for all of TIME-WAIT: the ACK of the client’s FIN goes out as the record ends (acks_released), before the client’s next FIN could draw a RST', () => {
  // The DPDK kill loop's capture: a download's client closed first right after a failback; the new holder's FIN went
  // with the ACK of the client's FIN withheld, the client acknowledged it, and no HAVE came within TIME-WAIT (1 s in
  // the lab). The record went silently and the client, still in CLOSING, drew a RST with its eighth FIN.
  const p = pair({ withhold: true });
  const { sseq, synAck } = handshake(p);
  p.lose = () => true;
  p.send({ flags: 'FA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]] }, 5);
  const fin = fromPrimary(p).find((s) => s.flags.includes('F'))!;
  assert.is(fin.ack, CISN + 1, 'withheld');
  p.send({ flags: 'A', seq: CISN + 2, ack: (fin.seq + 1) >>> 0, ts: [1003, fin.ts![0]] }, 6);
  const id = p.primary.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.is(p.primary.state(id), State.TIME_WAIT);
  assert.equal(confirm(p, 7), []);
  // The client's FIN again within TIME-WAIT: still withheld (the backup may yet confirm it).
  p.send({ flags: 'FA', seq: CISN + 1, ack: (fin.seq + 1) >>> 0, ts: [1004, fin.ts![0]] }, 300);
  assert.equal(fromPrimary(p).filter((s) => s.ack === CISN + 2), []);
  const released = p.primary.stats[Stat.ACKS_RELEASED]!;
  // TIME-WAIT ends (60 s here): the ACK, then the record goes.
  p.primary.tick(61_000);
  p.primary.flush(61_000);
  const last = fromPrimary(p);
  assert.ok(last.length === 1 && last[0]!.flags === 'A' && last[0]!.ack === CISN + 2 && last[0]!.seq === fin.seq + 1, describe(last));
  assert.is(p.primary.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT), -1, 'the record is gone');
  assert.is(p.primary.stats[Stat.ACKS_RELEASED], released + 1);
  assert.is(p.primary.stats[Stat.RST_SENT], 0);
});

t('withheld ACK at a close, client bytes unconfirmed when TIME-WAIT ends: they are not acknowledged then (the client sends them again, for the backup)', () => {
  // The DPDK kill loop, on a first cut of the release above: it acknowledged 7,000 echo bytes the backup's shadow
  // lacked (a gap); the client stopped sending them, the gap never filled, and the next takeover reset the shadow.
  const p = pair({ withhold: true });
  const { sseq, synAck } = handshake(p);
  p.lose = () => true;
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]], data: 'hello' }, 5);
  const echo = fromPrimary(p);
  assert.ok(echo.some((s) => s.data.length === 5) && !echo.some((s) => s.ack === CISN + 6), 'echoed, withheld');
  p.send({ flags: 'FA', seq: CISN + 6, ack: sseq + 5, ts: [1003, synAck.ts![0]] }, 6);
  const fin = fromPrimary(p).find((s) => s.flags.includes('F'))!;
  p.send({ flags: 'A', seq: CISN + 7, ack: (fin.seq + 1) >>> 0, ts: [1004, fin.ts![0]] }, 7);
  assert.is(p.primary.state(p.primary.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT)), State.TIME_WAIT);
  p.primary.tick(61_000);
  p.primary.flush(61_000);
  assert.equal(fromPrimary(p).filter((s) => seqGt(s.ack, CISN + 1)), [], 'nothing the backup lacks is acknowledged');
  assert.is(p.primary.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT), -1);
});
t('streaming with a full send buffer: after the takeover the client receives exactly the primary’s stream continued', () => {
  const p = pair();
  const { sseq, synAck } = handshake(p);
  const data = pattern(200_000, 3);
  const got: number[] = [];
  let cseq = CISN + 1;
  let cack = sseq;
  let now = 10;
  let tsEcr = synAck.ts![0];
  let sent = 0;
  // Client sends in 1000-byte pieces, acks everything it receives; kill after ~half.
  const absorb = (segs: Seg[]): void => {
    for (const s of segs) {
      if (s.data.length > 0 && s.seq === cack) {
        for (const x of s.data) got.push(x);
        cack = (cack + s.data.length) >>> 0;
      }
      if (s.ts !== null) tsEcr = s.ts[0];
    }
  };
  while (sent < 100_000) {
    const n = 1000;
    p.send({ flags: 'PA', seq: cseq, ack: cack, win: 512, ts: [2000 + now, tsEcr], data: data.subarray(sent, sent + n) }, now);
    cseq += n;
    sent += n;
    now += 1;
    absorb(fromPrimary(p));
  }
  assert.equal(fromBackup(p), []);
  p.kill(now + 100);
  absorb(fromBackup(p));
  while (sent < data.length) {
    const n = 1000;
    p.send({ flags: 'PA', seq: cseq, ack: cack, win: 512, ts: [2000 + now, tsEcr], data: data.subarray(sent, sent + n) }, now);
    cseq += n;
    sent += n;
    now += 1;
    absorb(fromBackup(p));
  }
  // Drain: a few pure ACKs.
  for (let i = 0; i < 50 && got.length < data.length; i++) {
    p.send({ flags: 'A', seq: cseq, ack: cack, win: 512, ts: [2000 + now, tsEcr] }, now);
    now += 250;
    p.backup.tick(now);
    p.backup.flush(now);
    absorb(fromBackup(p));
  }
  assert.is(got.length, data.length);
  assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'every byte, in order, once');
});

t('a download: every byte the primary sends is compared with the shadow application’s, also bytes the client’s ACK made room for just before', () => {
  // The shadow's application refills its send buffer on 'drain'; the
  // primary's next segment (answering the same ACK) may arrive before the
  // backup's flush: the shadow makes its output first, then compares.
  const p = pair({ app: 'chargen' });
  const { sseq, synAck } = handshake(p);
  let cack = sseq;
  let now = 10;
  let tsEcr = synAck.ts![0];
  let got = 0;
  let sent = 0;
  const absorb = (segs: Seg[]): void => {
    for (const s of segs) {
      sent += s.data.length;
      if (s.data.length > 0 && s.seq === cack) {
        cack = (cack + s.data.length) >>> 0;
        got += s.data.length;
      }
      if (s.ts !== null) tsEcr = s.ts[0];
    }
  };
  absorb(fromPrimary(p));
  for (let i = 0; i < 1000 && got < 300_000; i++) {
    p.send({ flags: 'A', seq: CISN + 1, ack: cack, win: 512, ts: [2000 + now, tsEcr] }, now);
    now += 1;
    absorb(fromPrimary(p));
  }
  assert.ok(got >= 300_000, `downloaded ${got}`);
  assert.is(p.backup.stats[Stat.SHADOW_BYTES_CHECKED], sent, 'every byte the primary sent was compared');
  assert.is(p.backup.stats[Stat.SHADOW_DIVERGED], 0);
  assert.ok(p.backup.shadowExact(p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT)));
  assert.equal(fromBackup(p), []);
});

t('primary output the backup never saw go is counted unseen: a segment of it lost mid-burst (the next one starts past it), and one lost last (the client’s ACK comes first)', () => {
  const p = pair();
  const { sseq, synAck } = handshake(p);
  const b = p.backup.stats;
  // Lost last: the echo of 'abcdefgh' never reaches the backup; the client's ACK of it does.
  p.hub.dropToBackup = (s) => text(s.data) === 'abcdefgh';
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]], data: 'abcdefgh' }, 10);
  let tsEcr = fromPrimary(p)[0]!.ts![0];
  p.send({ flags: 'A', seq: CISN + 9, ack: sseq + 8, ts: [1003, tsEcr] }, 11);
  assert.is(b[Stat.SHADOW_BYTES_UNSEEN], 8);
  // Lost mid-burst: the echo of 'ijkl' is lost, the echo of 'mnop' (sent before the client acknowledged either) is seen and compared.
  p.hub.dropToBackup = (s) => text(s.data) === 'ijkl';
  p.send({ flags: 'PA', seq: CISN + 9, ack: sseq + 8, ts: [1004, tsEcr] }, 12);
  p.send({ flags: 'PA', seq: CISN + 9, ack: sseq + 8, ts: [1004, tsEcr], data: 'ijkl' }, 12);
  p.send({ flags: 'PA', seq: CISN + 13, ack: sseq + 8, ts: [1005, tsEcr], data: 'mnop' }, 13);
  const echoes = fromPrimary(p).filter((x) => x.data.length > 0);
  assert.equal(echoes.map((x) => text(x.data)), ['ijkl', 'mnop']);
  tsEcr = echoes[1]!.ts![0];
  assert.is(b[Stat.SHADOW_BYTES_UNSEEN], 12, 'the gap before the seen segment');
  assert.is(b[Stat.SHADOW_BYTES_CHECKED], 4, 'the seen segment compared');
  p.send({ flags: 'A', seq: CISN + 17, ack: sseq + 16, ts: [1006, tsEcr] }, 14);
  assert.is(b[Stat.SHADOW_BYTES_UNSEEN], 12, 'acknowledged, not counted again');
  assert.is(b[Stat.SHADOW_BYTES_AHEAD], 0);
  assert.is(b[Stat.SHADOW_BYTES_UNCHECKED], 0);
  assert.ok(p.backup.shadowExact(p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT)), 'exact: its application made the same bytes');
});

t('the primary’s answer to client bytes the shadow has not had yet (a lost client frame) passes uncompared, counted ahead; the retransmission fills the gap', () => {
  const p = pair();
  const { sseq, synAck } = handshake(p);
  const b = p.backup.stats;
  p.lose = (s) => s.data === 'once';
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1002, synAck.ts![0]], data: 'once' }, 5);
  const echo = fromPrimary(p).filter((x) => x.data.length > 0);
  assert.equal(echo.map((x) => text(x.data)), ['once']);
  assert.is(b[Stat.SHADOW_BYTES_AHEAD], 4);
  assert.is(b[Stat.SHADOW_BYTES_CHECKED], 0);
  p.lose = () => false;
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, ts: [1003, synAck.ts![0]], data: 'once' }, 300);
  p.send({ flags: 'A', seq: CISN + 5, ack: sseq + 4, ts: [1004, echo[0]!.ts![0]] }, 301);
  assert.is(b[Stat.SHADOW_BYTES_AHEAD], 4);
  assert.is(b[Stat.SHADOW_BYTES_UNSEEN], 0);
  assert.ok(p.backup.shadowExact(p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT)));
});

t('a download whose backup loses one in seven of the primary’s segments: compared and unseen bytes add up to exactly what the primary sent, and the takeover continues the stream exactly', () => {
  const p = pair({ app: 'chargen' });
  const { synAck } = handshake(p);
  const c = chargenClient(p, synAck);
  let k = 0;
  let sent = 0;
  let dropped = 0;
  let losing = true;
  // The first flight (sent as the handshake completed) is compared already.
  const before = p.backup.stats[Stat.SHADOW_BYTES_CHECKED]!;
  p.hub.dropToBackup = (s) => {
    if (s.data.length === 0) return false;
    sent += s.data.length;
    if (!losing || ++k % 7 !== 0) return false;
    dropped += s.data.length;
    return true;
  };
  c.absorb(fromPrimary(p));
  while (c.got < 300_000) c.step(() => fromPrimary(p));
  // One more round seen whole: the client's ACK covers a segment lost last.
  losing = false;
  c.step(() => fromPrimary(p));
  const b = p.backup.stats;
  assert.is(b[Stat.RETRANSMITS], 0);
  assert.is(b[Stat.SHADOW_BYTES_UNSEEN], dropped, 'every lost byte counted unseen');
  assert.is(b[Stat.SHADOW_BYTES_CHECKED]! - before + b[Stat.SHADOW_BYTES_UNSEEN]! + b[Stat.SHADOW_BYTES_AHEAD]!, sent, `of ${sent} bytes: checked ${b[Stat.SHADOW_BYTES_CHECKED]! - before}, unseen ${b[Stat.SHADOW_BYTES_UNSEEN]}, ahead ${b[Stat.SHADOW_BYTES_AHEAD]}`);
  assert.is(b[Stat.SHADOW_DIVERGED], 0);
  assert.ok(p.backup.shadowExact(p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT)));
  assert.equal(p.kill(c.now + 100), [1, 0]);
  c.afterTakeover(500_000);
  assert.is(c.bad, -1, `byte ${c.bad} differs from the pattern`);
});

/**
 * A client of a chargen download: ACKs what arrives in order (window 512 ×
 * scale), checks every byte against the pattern (`bad`: the first that
 * differs, or -1); `step` sends one ACK and takes what `from` answers.
 */
function chargenClient(p: Pair, synAck: Seg) {
  const c = {
    got: 0,
    bad: -1,
    cack: (synAck.seq + 1) >>> 0,
    tsEcr: synAck.ts![0]!,
    now: 10,
    absorb(segs: Seg[]): void {
      for (const x of segs) {
        if (x.data.length > 0 && x.seq === c.cack) {
          for (let i = 0; i < x.data.length; i++) if (x.data[i] !== chargenByte(c.got + i) && c.bad < 0) c.bad = c.got + i;
          c.got += x.data.length;
          c.cack = (c.cack + x.data.length) >>> 0;
        }
        if (x.ts !== null) c.tsEcr = x.ts[0]!;
      }
    },
    step(from: () => Seg[]): void {
      p.send({ flags: 'A', seq: CISN + 1, ack: c.cack, win: 512, ts: [2000 + c.now, c.tsEcr] }, c.now);
      c.now += 1;
      c.absorb(from());
    },
    /** After a takeover: ACK what the backup sends (its timers fired now and then) until `until` bytes arrived, 2,000 rounds at most. */
    afterTakeover(until: number): void {
      c.absorb(fromBackup(p));
      for (let i = 0; i < 2000 && c.got < until; i++) {
        c.step(() => fromBackup(p));
        if (i % 50 === 49) {
          c.now += 300;
          p.backup.tick(c.now);
          p.backup.flush(c.now);
          c.absorb(fromBackup(p));
        }
      }
    },
  };
  return c;
}

t('a download the backup went blind to for a while (every frame both ways lost, far past its send buffer): the shadow catches up on the next ACK it sees, and after the takeover the stream continues exactly', () => {
  const p = pair({ app: 'chargen' });
  const { synAck } = handshake(p);
  const c = chargenClient(p, synAck);
  c.absorb(fromPrimary(p));
  while (c.got < 100_000) c.step(() => fromPrimary(p));
  // Blind: nothing of either direction reaches the backup for 300 KB (its send buffer is 64 KB).
  p.lose = () => true;
  p.hub.dropToBackup = () => true;
  while (c.got < 400_000) c.step(() => fromPrimary(p));
  p.lose = () => false;
  p.hub.dropToBackup = () => false;
  while (c.got < 500_000) c.step(() => fromPrimary(p));
  const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.ok(p.backup.shadowExact(id));
  assert.is(p.backup.stats[Stat.APP_ERRORS], 0);
  assert.equal(p.kill(c.now + 100), [1, 0]);
  c.afterTakeover(800_000);
  assert.is(c.bad, -1, `byte ${c.bad} differs from the pattern`);
  assert.ok(c.got >= 800_000, `the stream continued after the takeover: ${c.got} bytes`);
  assert.is(p.backup.stats[Stat.BAD_ACK], 0);
});

/** A chargen download through a fresh pair, 100 KB of it received by the client. */
function chargenStarted() {
  const p = pair({ app: 'chargen' });
  const { synAck } = handshake(p);
  const c = chargenClient(p, synAck);
  c.absorb(fromPrimary(p));
  while (c.got < 100_000) c.step(() => fromPrimary(p));
  return { p, c };
}

t('a shadow whose client acknowledges output far past what it saw sent (its port dropped frames for longer than 64 MiB of output) has lost track: not exact, counted, and it asks the primary for a copy instead of catching up', () => {
  const { p, c } = chargenStarted();
  const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.ok(p.backup.shadowExact(id));
  const written = p.backup.stats[Stat.BYTES_OUT];
  // The first ACK the backup sees again is 80 MB on.
  p.send({ flags: 'A', seq: CISN + 1, ack: (c.cack + 80_000_000) >>> 0, win: 512, ts: [2000 + c.now, c.tsEcr] }, c.now);
  assert.not.ok(p.backup.shadowExact(id), 'not protected any more');
  assert.is(p.backup.stats[Stat.SHADOW_LOST_TRACK], 1);
  assert.is(p.backup.stats[Stat.BYTES_OUT], written);
  const asked: number[] = [];
  p.backup.takeRepairs((_li, _lp, _ri, rp, _from, _to, kind) => asked.push(kind, rp));
  assert.equal(asked, [REPAIR_RECORD, CLIENT_PORT], 'a copy of the record is asked for');
  // The next such ACK counts nothing more.
  p.send({ flags: 'A', seq: CISN + 1, ack: (c.cack + 80_001_000) >>> 0, win: 512, ts: [2001 + c.now, c.tsEcr] }, c.now + 1);
  assert.is(p.backup.stats[Stat.SHADOW_LOST_TRACK], 1);
});

t('a connection promoted from a shadow that fell 80 MB behind just before the failure (no primary left to copy from): the client’s ACK moves its output up, and the stream continues exactly from there', () => {
  const { p, c } = chargenStarted();
  assert.equal(p.kill(c.now + 100), [1, 0]);
  c.absorb(fromBackup(p)); // the prompt: its timestamp is what the client echoes next
  c.now += 100;
  // The dead primary had sent 80 MB more, which the client has; the backup saw none of it go.
  const ahead = 80_000_000;
  c.got += ahead;
  c.cack = (c.cack + ahead) >>> 0;
  c.afterTakeover(c.got + 300_000);
  assert.is(c.bad, -1, `byte ${c.bad} differs from the pattern`);
  assert.ok(c.got >= ahead + 400_000, `the stream continued: ${c.got - ahead} bytes past the jump`);
  assert.is(p.backup.stats[Stat.BAD_ACK], 0);
});

t('a promoted connection: an ACK 80 MB past its output that echoes no timestamp of its own is refused (a blind ACK), one within 64 MiB is taken', () => {
  const { p, c } = chargenStarted();
  const primaryTs = c.tsEcr;
  assert.equal(p.kill(c.now + 100), [1, 0]);
  fromBackup(p);
  p.send({ flags: 'A', seq: CISN + 1, ack: (c.cack + 80_000_000) >>> 0, win: 512, ts: [3000, primaryTs] }, c.now + 200);
  assert.is(p.backup.stats[Stat.BAD_ACK], 1, 'an old echo: refused');
  p.send({ flags: 'A', seq: CISN + 1, ack: (c.cack + 80_000_000) >>> 0, win: 512, ts: [3001, (primaryTs + 5_000_000) >>> 0] }, c.now + 201);
  assert.is(p.backup.stats[Stat.BAD_ACK], 2, 'an echo from the future: refused');
  c.got += 1_000_000;
  c.cack = (c.cack + 1_000_000) >>> 0;
  c.afterTakeover(c.got + 100_000);
  assert.is(c.bad, -1, `byte ${c.bad} differs from the pattern`);
  assert.is(p.backup.stats[Stat.BAD_ACK], 2);
});

// ---- a shadow's file output by reference (lazy-output.ts)

/** A file of `n` seeded random bytes in a new directory; returns [dir, bytes]. */
function www(n: number, seed: number): [string, Uint8Array] {
  const dir = mkdtempSync(join(tmpdir(), 'baton-lazy-'));
  const rnd = new SeededRandom(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rnd.int(256);
  writeFileSync(join(dir, 'f.bin'), b);
  return [dir, b];
}

/**
 * An HTTP download of /f.bin through pair `p`: the client ACKs what it got
 * until `until` bytes (head included) arrived, from the primary while
 * `live()`; returns the client's state to continue with.
 */
function download(p: Pair, opts: { sseq: number; tsEcr: number }) {
  const st = { cack: opts.sseq, tsEcr: opts.tsEcr, now: 10, got: [] as number[], bytes: 0 };
  const buf: Uint8Array[] = [];
  const absorb = (segs: Seg[]): void => {
    for (const s of segs) {
      if (s.data.length > 0 && s.seq === st.cack) {
        buf.push(s.data);
        st.bytes += s.data.length;
        st.cack = (st.cack + s.data.length) >>> 0;
      }
      if (s.ts !== null) st.tsEcr = s.ts[0];
    }
  };
  const step = (from: () => Seg[]): void => {
    p.send({ flags: 'A', seq: CISN + 1 + REQ.length, ack: st.cack, win: 512, ts: [2000 + st.now, st.tsEcr] }, st.now);
    st.now += 1;
    absorb(from());
  };
  const body = (): Uint8Array => {
    const all = Buffer.concat(buf);
    const at = all.indexOf('\r\n\r\n');
    return all.subarray(at + 4);
  };
  return { st, absorb, step, body };
}

const REQ = 'GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n';

function startDownload(p: Pair) {
  const { sseq, synAck } = handshake(p);
  const d = download(p, { sseq, tsEcr: synAck.ts![0] });
  p.send({ flags: 'PA', seq: CISN + 1, ack: sseq, win: 512, data: REQ, ts: [1002, synAck.ts![0]] }, 2);
  d.absorb(fromPrimary(p));
  return d;
}

t('an HTTP download of a file: the shadow keeps its output by reference (nothing read), compares the response head and the sampled segments, and after a takeover sends the file’s bytes exactly', () => {
  const size = 3 << 20;
  const [dir, file] = www(size, 7);
  try {
    const http = appFactory('http');
    const p = pair({ primaryApp: http({ root: dir }), backupApp: http({ root: dir }) });
    const d = startDownload(p);
    while (d.st.bytes < 2_200_000) d.step(() => fromPrimary(p));
    const b = p.backup.stats;
    assert.is(b[Stat.SHADOW_DIVERGED], 0);
    assert.ok(b[Stat.SHADOW_BYTES_UNCHECKED]! > 1_000_000, `unchecked ${b[Stat.SHADOW_BYTES_UNCHECKED]}`);
    // 2.2 MB of sequence space hold at least two sampled 64 KiB windows (one in 16).
    const windows = Math.floor(2_200_000 / ((SAMPLE_MASK + 1) << SAMPLE_SHIFT));
    assert.ok(b[Stat.SHADOW_BYTES_CHECKED]! >= windows * (1 << SAMPLE_SHIFT) - 2 * 1460, `checked ${b[Stat.SHADOW_BYTES_CHECKED]}`);
    const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
    assert.ok(p.backup.shadowExact(id));
    assert.equal(p.kill(d.st.now + 100), [1, 0]);
    d.absorb(fromBackup(p));
    for (let i = 0; i < 20_000 && d.body().length < size; i++) {
      d.step(() => fromBackup(p));
      if (i % 50 === 49) {
        d.st.now += 300;
        p.backup.tick(d.st.now);
        p.backup.flush(d.st.now);
        d.absorb(fromBackup(p));
      }
    }
    const got = d.body();
    assert.is(got.length, size, 'the whole file arrived');
    assert.ok(Buffer.from(got).equals(Buffer.from(file)), 'byte for byte the file');
    assert.is(p.backup.stats[Stat.SHADOW_RESET], 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('an HTTP download whole, the client closes, the primary dies between its FIN and the ACK of the client\'s: the TIME-WAIT shadow (its output by reference all acknowledged) is promoted, not reset, and acknowledges the FIN', () => {
  // The DPDK kill loop: such a shadow was reset at the takeover (shadow_diverged): its file references were read
  // at the promotion into a send ring TIME-WAIT had released, and failed.
  const size = 300_000;
  const [dir, file] = www(size, 13);
  try {
    const http = appFactory('http');
    const p = pair({ primaryApp: http({ root: dir }), backupApp: http({ root: dir }), withhold: true });
    const d = startDownload(p);
    for (let i = 0; i < 20_000 && d.body().length < size; i++) {
      d.step(() => fromPrimary(p));
      confirm(p, d.st.now);
      d.absorb(fromPrimary(p));
    }
    assert.ok(Buffer.from(d.body()).equals(Buffer.from(file)), 'the file, whole');
    const cfin = CISN + 1 + REQ.length;
    p.send({ flags: 'FA', seq: cfin, ack: d.st.cack, win: 512, ts: [3000, d.st.tsEcr] }, d.st.now + 1);
    p.backup.takeRepairs(() => undefined); // the HAVE of the FIN is lost with the primary
    const fin = fromPrimary(p).find((s) => s.flags.includes('F'))!;
    assert.ok(fin !== undefined, 'the primary closes too');
    assert.is(fin.ack, cfin, 'the ACK of the client\'s FIN withheld');
    p.send({ flags: 'A', seq: cfin + 1, ack: (fin.seq + fin.data.length + 1) >>> 0, win: 512, ts: [3001, fin.ts![0]] }, d.st.now + 2);
    const sid = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
    assert.ok(sid >= 0 && p.backup.state(sid) === State.TIME_WAIT, 'the shadow waits in TIME-WAIT');
    p.backup.takeRepairs(() => undefined);
    assert.equal(p.kill(d.st.now + 300), [1, 0], 'promoted, not reset');
    assert.is(p.backup.stats[Stat.SHADOW_DIVERGED], 0);
    const out = fromBackup(p);
    assert.ok(out.some((s) => s.flags === 'A' && s.ack === cfin + 1), `the ACK of the client's FIN: ${describe(out)}`);
    assert.equal(out.filter((s) => s.flags.includes('R')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const killAt of [150_000, 400_000, 700_000]) {
  t(`an HTTP download taken over at ${killAt} bytes, then moved on by record (a failback) mid-response: the file arrives whole`, () => {
    const size = 1 << 20;
    const [dir, file] = www(size, 11);
    try {
      const http = appFactory('http');
      const p = pair({ primaryApp: http({ root: dir }), backupApp: http({ root: dir }), withhold: true });
      const d = startDownload(p);
      while (d.st.bytes < killAt) {
        d.step(() => fromPrimary(p));
        confirm(p, d.st.now);
        d.absorb(fromPrimary(p));
      }
      assert.equal(p.kill(d.st.now + 100), [1, 0]);
      d.absorb(fromBackup(p));
      for (let i = 0; i < 30; i++) d.step(() => fromBackup(p));
      // Failback by record: the backup's connection moves to a fresh node mid-response.
      const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
      const rec = p.backup.exportConnection(id);
      p.backup.discardConnection(id);
      const link = new FakeLink();
      const home = new TcpStack({ maxConnections: 16, sendBuffer: 65536, recvBuffer: 65536 }, link, { secrets: new SequenceSecrets(Uint32Array.from([1, 2, 3, 4])), localMac: SERVER_MAC });
      home.listen(SERVER_IP, SERVER_PORT, SERVER_PORT, http({ root: dir }), false);
      assert.ok(home.importConnection(rec, d.st.now, 0) >= 0);
      home.flush(d.st.now);
      const peer = new Peer(home, link);
      d.absorb(out(link));
      for (let i = 0; i < 20_000 && d.body().length < size; i++) {
        peer.send({ flags: 'A', seq: CISN + 1 + REQ.length, ack: d.st.cack, win: 512, ts: [5000 + d.st.now, d.st.tsEcr] }, d.st.now);
        d.st.now += 1;
        d.absorb(out(link));
        if (i % 50 === 49) {
          d.st.now += 300;
          home.tick(d.st.now);
          home.flush(d.st.now);
          d.absorb(out(link));
        }
      }
      const got = d.body();
      assert.is(got.length, size, `the whole file arrived (${got.length})`);
      assert.ok(Buffer.from(got).equals(Buffer.from(file)), 'byte for byte the file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

t('an HTTP download whose shadow would send other bytes than the primary (another file by the same name and size): a sampled segment shows it (diverged; a copy of the record is asked for)', () => {
  const size = 3 << 20;
  const [dirA] = www(size, 7);
  const [dirB] = www(size, 8);
  try {
    const http = appFactory('http');
    const p = pair({ primaryApp: http({ root: dirA }), backupApp: http({ root: dirB }) });
    const d = startDownload(p);
    while (d.st.bytes < 2_200_000 && p.backup.stats[Stat.SHADOW_DIVERGED] === 0) d.step(() => fromPrimary(p));
    assert.is(p.backup.stats[Stat.SHADOW_DIVERGED], 1, 'a sampled segment differed');
    const kinds: number[] = [];
    p.backup.takeRepairs((_li, _lp, _ri, _rp, _from, _to, kind) => kinds.push(kind));
    assert.ok(kinds.includes(REPAIR_RECORD), 'the primary’s record is asked for');
    const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
    assert.not.ok(p.backup.shadowExact(id));
  } finally {
    rmSync(dirA, { recursive: true, force: true });
    rmSync(dirB, { recursive: true, force: true });
  }
});

t('a file that changes while its range is held by reference: the takeover resets the connection (counted) instead of sending bytes that may not be the primary’s', () => {
  const size = 1 << 20;
  const [dir] = www(size, 9);
  try {
    const http = appFactory('http');
    const p = pair({ primaryApp: http({ root: dir }), backupApp: http({ root: dir }) });
    const d = startDownload(p);
    while (d.st.bytes < 300_000) d.step(() => fromPrimary(p));
    assert.is(p.backup.stats[Stat.SHADOW_DIVERGED], 0);
    // Rewritten in place (same inode, new mtime): the bytes the shadow holds by reference are not what it saw.
    writeFileSync(join(dir, 'f.bin'), new Uint8Array(size));
    assert.equal(p.kill(d.st.now + 100), [0, 1]);
    assert.is(p.backup.stats[Stat.SHADOW_RESET], 1);
    assert.ok(fromBackup(p).some((s) => s.flags.includes('R')), 'the client is told at once');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('the primary’s output reaches the backup cut after its headers but in sampled segments (mirror mode’s copies): the shadow follows the sequence space from the headers, compares the sampled segments, and takes over exactly', () => {
  const p = pair({ app: 'chargen' });
  p.hub.trimToBackup = true;
  const { synAck } = handshake(p);
  const c = chargenClient(p, synAck);
  c.absorb(fromPrimary(p));
  while (c.got < 2_200_000) c.step(() => fromPrimary(p));
  const b = p.backup.stats;
  assert.is(b[Stat.SHADOW_DIVERGED], 0);
  assert.ok(b[Stat.SHADOW_BYTES_UNCHECKED]! > 1_500_000, `unchecked ${b[Stat.SHADOW_BYTES_UNCHECKED]}`);
  assert.ok(b[Stat.SHADOW_BYTES_CHECKED]! >= 2 * ((1 << SAMPLE_SHIFT) - 1460), `checked ${b[Stat.SHADOW_BYTES_CHECKED]}`);
  const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.ok(p.backup.shadowExact(id));
  assert.equal(p.kill(c.now + 100), [1, 0]);
  c.afterTakeover(2_500_000);
  assert.is(c.bad, -1, `byte ${c.bad} differs from the pattern`);
  assert.ok(c.got >= 2_500_000, `the stream continued after the takeover: ${c.got} bytes`);
});

t('a client segment cut short reaches a shadow (never done on purpose): taken as a lost frame, never as bytes', () => {
  const p = pair();
  const { sseq } = handshake(p);
  const m = p.peer.build({ flags: 'PA', seq: CISN + 1, ack: sseq, win: 512, data: 'hello world' });
  const hdr = m.payloadOff - m.l2Off;
  const cut = p.peer.frame.slice(m.l2Off, m.l2Off + hdr);
  const cm = new FrameMeta();
  assert.is(parseFrame(cut, 0, hdr, cm, VERIFY_ALL | ACCEPT_TRIMMED), Reason.OK);
  p.backup.snoop(cut, cm, true, 0, 5);
  const id = p.backup.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.is(p.backup.stats[Stat.BYTES_IN], 0, 'no byte taken');
  assert.ok(id >= 0);
});

t.run();
