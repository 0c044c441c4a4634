// Failure detection by a node whose own port loses frames (cluster.lossGraceMs,
// native/src/cluster_beat.h), with real node processes on a hub segment:
// a client floods the segment while the backup is starved (SIGSTOP for
// 50 ms, SIGCONT for 3 ms, over and over: a node on cores others keep
// busy) for half a second, its TAP's queue cut to 32 frames. The queue
// stays full, so most of the primary's heartbeats are lost at the backup's
// own port, and the ones it reads come further apart than the 40 ms
// detection time. With the grace the backup does not
// declare the live primary failed; with it off (lossGraceMs 0) the same run
// does. (A backup stopped once and then let run reads the heartbeats still
// queued as fresh: that case never needed the grace.) The primary, which
// hears few heartbeats from the starved backup, may fail it, as it should.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../../control/lab.js';
import { inNamespace, labName, startNode, type RunningNode } from './harness.js';

const KEY = 'de7ec7de7ec7de7ec7de7ec7de7ec7de';
const LAB = labName('dt1');

const t = suite('detector: silence heard through a port that lost frames');
let lab: Lab;
const nodes = new Map<number, RunningNode>();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function config(id: number, lossGraceMs?: number): Record<string, unknown> {
  const n = lab.nodes[id - 1]!;
  return {
    node: { id, name: `${LAB}n${id}` }, port: { driver: `tap:${n.ifname}` }, addresses: [`${n.ip}/24`], workers: 1,
    pool: { slots: 4096 }, rings: { rx: 512, tx: 512 },
    cluster: { peers: [3 - id], key: KEY, ...(lossGraceMs === undefined ? {} : { lossGraceMs }) },
  };
}

async function settled(): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await Promise.all([1, 2].map((id) => nodes.get(id)!.status()));
    const ok = s.every((x, i) => x.cluster!.state === 'synced' && x.cluster!.members.every((m) => m.liveness === 'alive') &&
      JSON.stringify(x.answering) === JSON.stringify([lab.nodes[i]!.ip]));
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the cluster did not settle: ${JSON.stringify(s.map((x) => [x.answering, x.cluster!.members]))}`);
    await sleep(50);
  }
}

// 0.8 s of small UDP datagrams to the primary's address (bounded: at most
// 80,000); on a hub every one reaches the backup's TAP too.
const FLOOD = `
const s = require('node:dgram').createSocket('udp4');
const end = Date.now() + 800; let n = 0; const b = Buffer.alloc(32);
const go = () => { for (let i = 0; i < 200 && n < 80000; i++, n++) s.send(b, 9, process.argv[1]);
  if (Date.now() < end && n < 80000) setImmediate(go); else setTimeout(() => { process.stdout.write(String(n)); s.close(); }, 50); };
go();`;

/** Floods the segment while node 2 is starved for 0.5 s; returns how many detections and excuses node 2 counted. */
async function starveUnderFlood(): Promise<{ detections: number; excused: number }> {
  const n2 = nodes.get(2)!;
  const before = (await n2.status()).cluster!;
  const flood = inNamespace(lab.clients[0]!.ns, [process.execPath, '-e', FLOOD, lab.nodes[0]!.ip], 10_000);
  await sleep(50);
  for (let i = 0; i < 10; i++) {
    n2.child.kill('SIGSTOP');
    await sleep(50);
    n2.child.kill('SIGCONT');
    await sleep(3);
  }
  const f = await flood;
  assert.is(f.code, 0, `flood: ${f.out}`);
  assert.ok(Number(f.out.trim()) > 5000, `flood sent ${JSON.stringify(f.out)} datagrams`);
  await sleep(300);
  const after = (await n2.status()).cluster!;
  return {
    detections: after.counters.detections_timeout - before.counters.detections_timeout,
    excused: after.beats.excused - before.beats.excused,
  };
}

t.before(async () => {
  assert.is(process.getuid?.(), 0, 'functional tests must run as root (CI does)');
  Lab.remove(LAB);
  lab = Lab.up({ name: LAB, clients: 1, nodes: ['tap', 'tap'], hub: true });
  nodes.set(1, await startNode(lab.segNs, config(1)));
  nodes.set(2, await startNode(lab.segNs, config(2)));
  lab.exec(lab.segNs, ['ip', 'link', 'set', lab.nodes[1]!.ifname, 'txqueuelen', '32']);
});

t.after(async () => {
  try {
    for (const n of nodes.values()) {
      n.child.kill('SIGCONT');
      await n.stop();
    }
  } finally {
    lab?.down();
  }
});

/** Three rounds (a lost heartbeat is a matter of chance), the cluster settled before each. */
async function rounds(): Promise<{ detections: number; excused: number }> {
  const sum = { detections: 0, excused: 0 };
  for (let i = 0; i < 3; i++) {
    await settled();
    const r = await starveUnderFlood();
    sum.detections += r.detections;
    sum.excused += r.excused;
  }
  return sum;
}

t('a backup starved while the segment floods it: its port lost the heartbeats, so it does not declare the live primary failed', async () => {
  const r = await rounds();
  assert.ok(r.excused >= 1, `the silence was put off (excused ${r.excused})`);
  assert.is(r.detections, 0, 'no detection of the live primary');
});

t('the same with lossGraceMs 0: the backup declares the live primary failed (what the grace prevents)', async () => {
  await nodes.get(2)!.stop();
  nodes.set(2, await startNode(lab.segNs, config(2, 0)));
  const r = await rounds();
  assert.is(r.excused, 0);
  assert.ok(r.detections >= 1, `detections ${r.detections}`);
});

t.run();
