// The cluster state machine on a simulated segment with an explicit clock:
// boot announcement and solicitation, kill → takeover within the detection
// time, failback after resync, external declarations, partitions and heals,
// flapping (seeded), handover requests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FakeSegment, IP } from './fake-segment.js';
import { SeededRandom } from '../net/seeded-random.js';
import { ClaimReason, FailoverPolicy, MemberState } from '../../../control/wire/messages.js';
import { Cluster } from '../../../control/cluster.js';
import { settingsFor } from './fake-segment.js';
import { SEAL_FLAGS_OFFSET, SEAL_FLAG_HEARTBEAT } from '../../../control/wire/frame.js';

function settled(seg: FakeSegment): FakeSegment {
  seg.run(300);
  return seg;
}

function assertSingleOwners(seg: FakeSegment, ips: readonly number[], ctx = ''): void {
  for (const ip of ips) assert.is(seg.holderOf(ip).length, 1, `${ctx} ${ip & 0xff} answered by [${seg.holderOf(ip).join(',')}]`);
}

test('boot: every node announces its record, solicits the others, and then holds its home address', () => {
  const seg = settled(new FakeSegment([1, 2, 3]));
  for (const id of [1, 2, 3]) {
    assert.equal(seg.holderOf(IP(id)), [id]);
    const s = seg.nodes.get(id)!.status(seg.now);
    assert.is(s.state, 'synced');
    for (const m of s.members) assert.is(m.liveness, 'alive');
    for (const r of Object.values(s.records)) assert.ok(r !== null && r.addresses.length === 1);
    assert.ok(s.counters.solicits_received >= 2 && s.counters.records_received >= 2);
    assert.is(s.claims.length, 3);
  }
});

test('staggered boot: a node that comes up later is waited for, not taken over', () => {
  const seg = new FakeSegment([1, 2, 3], undefined, [2, 3]);
  seg.run(300);
  seg.boot(2);
  seg.run(150);
  seg.boot(3);
  seg.run(300);
  for (const id of [1, 2, 3]) {
    assert.equal(seg.holderOf(IP(id)), [id]);
    assert.is(seg.nodes.get(id)!.counters.takeovers, 0, `node ${id} took something over`);
  }
});

test('a node that does not finish its sync window claims nothing', () => {
  const seg = new FakeSegment([1, 2, 3]);
  seg.run(40);
  for (const id of [1, 2, 3]) assert.equal(seg.holderOf(IP(id)), []);
});

test('kill: the first backup owns the address within heartbeat × misses + one interval', () => {
  const seg = settled(new FakeSegment([1, 2, 3]));
  seg.kill(2);
  let t = 0;
  while (seg.holderOf(IP(2)).length === 0 && t < 200) {
    seg.run(1);
    t++;
  }
  assert.ok(t <= 50, `takeover after ${t} ms`);
  assert.equal(seg.holderOf(IP(2)), [1], 'node 2 lists backups [1, 3]: node 1 first');
  const c = seg.nodes.get(1)!.claims.get({ ip: IP(2), lo: 0, hi: 65535 })!;
  assert.is(c.reason, ClaimReason.Takeover);
  assert.is(c.epoch, 2);
  seg.run(100);
  assertSingleOwners(seg, [IP(1), IP(2), IP(3)]);
  assert.is(seg.nodes.get(3)!.counters.detections_timeout, 1);
});

test('kill the backup too, without quorum: the last survivor takes everything', () => {
  const seg = settled(new FakeSegment([1, 2, 3], () => ({ requireQuorum: false })));
  seg.kill(2);
  seg.run(100);
  seg.kill(1);
  seg.run(100);
  assert.equal(seg.holderOf(IP(1)), [3]);
  assert.equal(seg.holderOf(IP(2)), [3]);
  assert.equal(seg.holderOf(IP(3)), [3]);
});

test('kill the backup too, with quorum: one node of three takes nothing more', () => {
  const seg = settled(new FakeSegment([1, 2, 3]));
  seg.kill(2);
  seg.run(100);
  seg.kill(1);
  seg.run(100);
  assert.equal(seg.holderOf(IP(1)), []);
  assert.equal(seg.holderOf(IP(2)), []);
  assert.equal(seg.holderOf(IP(3)), [3]);
});

test('cold start: nobody takes over a node that is still joining', () => {
  const seg = settled(new FakeSegment([1, 2, 3]));
  for (const id of [1, 2, 3]) {
    assert.is(seg.nodes.get(id)!.counters.takeovers, 0);
    assert.is(seg.nodes.get(id)!.claims.get({ ip: IP(id), lo: 0, hi: 65535 })!.epoch, 1);
  }
});

test('spread policy: deterministic, same answer on every survivor', () => {
  const ids = [1, 2, 3, 4, 5];
  const seg = settled(new FakeSegment(ids, (id) => ({ failover: FailoverPolicy.Spread, addresses: [IP(id), IP(10 + id), IP(20 + id)] })));
  seg.kill(3);
  seg.run(150);
  const ips = [IP(3), IP(13), IP(23)];
  assertSingleOwners(seg, ips);
  for (const id of [1, 2, 4, 5]) {
    const table = seg.nodes.get(id)!.claims.all().map((c) => `${c.ip}:${c.holder}:${c.epoch}`);
    assert.equal(table, seg.nodes.get(1)!.claims.all().map((c) => `${c.ip}:${c.holder}:${c.epoch}`));
  }
});

test('failback: a restarted node resyncs first, then gets its address back with a higher incarnation', () => {
  const seg = settled(new FakeSegment([1, 2, 3]));
  const before = seg.nodes.get(2)!.incarnation;
  seg.kill(2);
  seg.run(100);
  assert.equal(seg.holderOf(IP(2)), [1]);
  const n2 = seg.boot(2);
  assert.ok(n2.incarnation > before);
  // Joining: it answers for nothing, and node 1 keeps the address meanwhile.
  seg.run(20);
  assert.is(n2.status(seg.now).state, 'joining');
  assert.equal(seg.holderOf(IP(2)), [1]);
  seg.run(200);
  assert.equal(seg.holderOf(IP(2)), [2]);
  const c = n2.claims.get({ ip: IP(2), lo: 0, hi: 65535 })!;
  assert.is(c.reason, ClaimReason.Failback);
  assert.is(c.author, 1);
  assert.is(seg.nodes.get(1)!.counters.failbacks, 1);
  assertSingleOwners(seg, [IP(1), IP(2), IP(3)]);
});

test('a node whose port took longer than the sync window to come up still waits a window after start: no home claim before it hears the holder', () => {
  // A DPDK node builds its Cluster before opening the port; opening it can
  // take longer than the sync window. The window counts from start(), when
  // the node can first hear anyone, or the node would find no live peer,
  // claim its home address for a moment, and yield it on the first record.
  const seg = settled(new FakeSegment([1, 2]));
  seg.kill(2);
  seg.run(100);
  assert.equal(seg.holderOf(IP(2)), [1]);
  const n2 = seg.boot(2, 200);
  for (let i = 0; i < 300; i++) {
    const mine = seg.held.get(2)!.map((c) => c.ip);
    if (mine.includes(IP(2))) {
      assert.ok(seg.holderOf(IP(2)).length === 1 && n2.claims.get({ ip: IP(2), lo: 0, hi: 65535 })!.reason === ClaimReason.Failback, `ms ${i}: node 2 answers for its home address before node 1 failed it back`);
    }
    seg.run(1);
  }
  assert.equal(seg.holderOf(IP(2)), [2]);
  assert.is(n2.counters.yields, 0, 'node 2 never held and yielded its home address');
});

test('external declaration: the declared node is fenced and its address moves as on a timeout', () => {
  const seg = settled(new FakeSegment([1, 2, 3]));
  seg.nodes.get(3)!.declareFailed(2, seg.now);
  seg.run(5);
  assert.equal(seg.holderOf(IP(2)), [1]);
  assert.is(seg.nodes.get(2)!.status(seg.now).state, 'fenced');
  assert.equal(seg.held.get(2), []);
  assert.is(seg.nodes.get(1)!.status(seg.now).members.find((m) => m.id === 2)!.liveness, 'declared');
  // Still heartbeating, it stays failed: a declaration holds for that incarnation.
  seg.run(300);
  assert.equal(seg.holderOf(IP(2)), [1]);
  // Rejoining (a new incarnation) resyncs, then fails back.
  seg.nodes.get(2)!.rejoin(seg.now);
  seg.run(300);
  assert.equal(seg.holderOf(IP(2)), [2]);
  assertSingleOwners(seg, [IP(1), IP(2), IP(3)]);
});

test('partition {1} | {2,3}: the majority takes node 1’s address, the minority takes nothing; heal leaves one owner each', () => {
  const seg = settled(new FakeSegment([1, 2, 3]));
  for (let step = 0; step < 10; step++) {
    // Start the partition at every phase of the heartbeat interval: the timeouts of 2 and 3 then fire at different ticks.
    seg.run(1);
    seg.partition.set(1, 1);
    for (let i = 0; i < 200; i++) {
      seg.run(1);
      assert.equal(seg.held.get(1)!.map((c) => c.ip), [IP(1)], `phase ${step}: minority keeps its own address, takes no other`);
    }
    seg.partition.delete(1);
    seg.run(300);
  }
  seg.partition.set(1, 1);
  seg.run(200);
  assert.equal(seg.holderOf(IP(1)).sort(), [1, 2], 'both sides answer for node 1’s address during the partition');
  seg.partition.delete(1);
  seg.run(300);
  assertSingleOwners(seg, [IP(1), IP(2), IP(3)], 'after heal');
  assert.equal(seg.holderOf(IP(1)), [1], 'failback to the healed home');
  assert.ok(seg.nodes.get(1)!.counters.yields >= 1, 'node 1 yielded to the higher claim');
});

test('two-node cluster split: both sides take over; the heal resolves to one owner per address', () => {
  const seg = settled(new FakeSegment([1, 2]));
  seg.partition.set(2, 1);
  seg.run(200);
  assert.equal(seg.holderOf(IP(1)).sort(), [1, 2]);
  seg.partition.delete(2);
  seg.run(300);
  assertSingleOwners(seg, [IP(1), IP(2)]);
  assert.equal(seg.holderOf(IP(1)), [1]);
  assert.equal(seg.holderOf(IP(2)), [2]);
});

test('flapping partitions and kills (seeded): once settled, never two owners and every table agrees', () => {
  const seed = Number(process.env['BATON_SEED'] ?? 0x5eed);
  const rnd = new SeededRandom(seed);
  const ids = [1, 2, 3, 4];
  const seg = settled(new FakeSegment(ids));
  for (let round = 0; round < 40; round++) {
    const id = ids[rnd.int(ids.length)]!;
    const what = rnd.int(4);
    if (what === 0) seg.partition.set(id, rnd.int(3));
    else if (what === 1) seg.partition.clear();
    else if (what === 2 && !seg.dead.has(id) && seg.dead.size < 2) seg.kill(id);
    else if (seg.dead.has(id)) seg.boot(id);
    seg.run(rnd.range(1, 120));
  }
  seg.partition.clear();
  for (const id of [...seg.dead]) seg.boot(id);
  seg.run(600);
  const ips = ids.map(IP);
  assertSingleOwners(seg, ips, `seed ${seed}`);
  for (const id of ids) assert.equal(seg.holderOf(IP(id)), [id], `seed ${seed}: home ${id}`);
  const ref = JSON.stringify(seg.nodes.get(1)!.claims.all().map((c) => [c.ip, c.holder, c.epoch]));
  for (const id of ids) assert.is(JSON.stringify(seg.nodes.get(id)!.claims.all().map((c) => [c.ip, c.holder, c.epoch])), ref, `seed ${seed}`);
});

test('handover: a third node asks the holder for an assumed address; a home address is refused with a reason', () => {
  const replies: { accepted: boolean; reason: string }[] = [];
  const seg = settled(new FakeSegment([1, 2, 3]));
  seg.kill(2);
  seg.run(100);
  assert.equal(seg.holderOf(IP(2)), [1]);
  const n3 = seg.nodes.get(3)!;
  (n3 as unknown as { hooks: { onHandoverReply: (o: { accepted: boolean; reason: string }) => void } }).hooks.onHandoverReply = (o) => replies.push(o);
  assert.type(n3.requestHandover(IP(2), seg.now), 'number');
  seg.run(20);
  assert.equal(replies.map((r) => r.accepted), [true]);
  assert.equal(seg.holderOf(IP(2)), [3]);
  assert.is(n3.claims.get({ ip: IP(2), lo: 0, hi: 65535 })!.reason, ClaimReason.Handover);
  n3.requestHandover(IP(1), seg.now);
  seg.run(20);
  assert.equal(replies[1], { ...replies[1]!, accepted: false, reason: 'a home address is not handed over' });
  assert.equal(seg.holderOf(IP(1)), [1]);
  // Node 2 returns: the address fails back to it from node 3.
  seg.boot(2);
  seg.run(300);
  assert.equal(seg.holderOf(IP(2)), [2]);
});

test('connection request (seed 000 claim 10): refused with a reason before anything moves, or handed to the hook; its answer comes back', () => {
  const seg = settled(new FakeSegment([1, 2, 3]));
  seg.kill(2);
  seg.run(100);
  const n1 = seg.nodes.get(1)!;
  const n3 = seg.nodes.get(3)!;
  const asked: { from: number; ip: number; withAddress: boolean }[] = [];
  const answers: { accepted: boolean; reason: string; moved: number }[] = [];
  (n1 as unknown as { hooks: Record<string, unknown> }).hooks['onConnectionRequest'] = (from: number, requestId: number, sel: { ip: number; withAddress: boolean }) => {
    asked.push({ from, ip: sel.ip, withAddress: sel.withAddress });
    n1.replyConnections(from, { requestId, accepted: true, reason: 'accepted', selected: 2, moved: 2, rejected: 0, unresolved: 0, addressMoved: false });
  };
  (n3 as unknown as { hooks: Record<string, unknown> }).hooks['onConnectionReply'] = (o: { accepted: boolean; reason: string; moved: number }) => answers.push(o);
  const sel = { ip: IP(2), localPort: 0, remoteIp: 0, remotePort: 0, withAddress: true };
  assert.type(n3.requestConnections(1, sel), 'number');
  seg.run(20);
  assert.equal(asked, [{ from: 3, ip: IP(2), withAddress: true }]);
  assert.equal(answers.map((a) => [a.accepted, a.moved]), [[true, 2]]);
  // A home address is refused by the cluster before any connection moves.
  n3.requestConnections(1, { ...sel, ip: IP(1) });
  seg.run(20);
  assert.is(asked.length, 1);
  assert.equal(answers[1], { ...answers[1]!, accepted: false, reason: 'a home address is not handed over' });
  assert.is(n3.requestConnections(2, sel), 'node 2 is not alive');
});

test('deferred grant: failback waits while the holder moves the address\'s connections, then happens', () => {
  const seg = settled(new FakeSegment([1, 2, 3]));
  seg.kill(2);
  seg.run(100);
  assert.equal(seg.holderOf(IP(2)), [1]);
  let moving = true;
  const deferred: number[] = [];
  (seg.nodes.get(1)! as unknown as { hooks: Record<string, unknown> }).hooks['deferGrant'] = (c: { ip: number; holder: number }) => {
    deferred.push(c.holder);
    return moving;
  };
  seg.boot(2);
  seg.run(300);
  assert.ok(deferred.length > 0 && deferred.every((h) => h === 2), 'the failback to node 2 was held back');
  assert.equal(seg.holderOf(IP(2)), [1], 'no grant while its connections move');
  moving = false;
  seg.run(50);
  assert.equal(seg.holderOf(IP(2)), [2]);
});

test('external heartbeats: none are transmitted; the content is set on start and on every change; noteHeard keeps a peer alive', () => {
  // Node 1 with its heartbeats in an external engine, node 2 as usual; node 2's heartbeats reach node 1 only through noteHeard.
  let now = 1_000_000;
  const sets: string[] = [];
  let seq = 100;
  const toTwo: Uint8Array[] = [];
  const toOne: Uint8Array[] = [];
  const one = new Cluster(settingsFor(1, [1, 2]), {
    transmit: (p) => toTwo.push(p), onHeld: () => {},
    heartbeats: { nextSeq: () => ++seq, set: (inc, ver, st) => sets.push(`${inc}/${ver}/${st}`) },
  }, now);
  const two = new Cluster(settingsFor(2, [1, 2]), { transmit: (p) => toOne.push(p), onHeld: () => {} }, now);
  one.start(now);
  two.start(now);
  let heardTwo = now;
  for (let i = 0; i < 300; i++) {
    now++;
    two.tick(now);
    for (const p of toOne.splice(0)) {
      // The engine ends heartbeats that say nothing new; the rest reach the state machine.
      if ((p[SEAL_FLAGS_OFFSET]! & SEAL_FLAG_HEARTBEAT) !== 0) heardTwo = now;
      one.receive(p, now);
    }
    one.noteHeard(2, two.incarnation, heardTwo);
    if (one.nextDueMs() <= now) one.tick(now);
    for (const p of toTwo.splice(0)) {
      assert.is(p[SEAL_FLAGS_OFFSET]! & SEAL_FLAG_HEARTBEAT, 0, 'node 1 sent a heartbeat itself');
      two.receive(p, now);
    }
    // Node 1 hands node 2 its heartbeats through the engine: here, directly.
    if (i % 10 === 0) two.noteHeard(1, one.incarnation, now);
  }
  assert.is(one.state, MemberState.Synced);
  assert.is(one.members.get(2)!.liveness, 'alive');
  assert.ok(sets.length >= 2, `content set ${sets.length} times`);
  assert.is(sets[0], `${one.incarnation}/1/${MemberState.Joining}`);
  assert.ok(sets.at(-1)!.endsWith(`/${MemberState.Synced}`), sets.join(' '));
  assert.ok(seq > 100, 'messages take sequence numbers from the shared counter');
  // Healthy and synced: the next tick is a slow one.
  assert.ok(one.nextDueMs() - now > 100, `next due in ${one.nextDueMs() - now} ms`);
  // Silence past the detection time: node 2 times out at the next tick.
  now += 41;
  one.tick(now);
  assert.is(one.members.get(2)!.liveness, 'timeout');
});

test.run();
