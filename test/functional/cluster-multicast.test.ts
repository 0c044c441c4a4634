// The `multicast` ARP ownership policy with three Baton nodes and a kernel
// client: ARP for a cluster address resolves to the cluster multicast MAC, the
// bridge floods the client's frames to every node, only the holder answers
// (every echo answered exactly once), and after kill -9 of the holder a
// survivor answers with no ARP change at all (no gratuitous ARP, the client's
// neighbour entry untouched).
import { spawn } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../../control/lab.js';
import type { NodeStatus } from '../../control/node.js';
import { labName, startNode, type RunningNode } from './harness.js';

const KEY = '3c1a55e53c1a55e53c1a55e53c1a55e5';
const LAB = labName('clm');
const IDS = [1, 2, 3];
const CLUSTER_ID = 7;
const CLUSTER_MAC = '03:ba:70:00:00:07';
const TARGET = '198.18.0.2';

function config(lab: Lab, id: number): Record<string, unknown> {
  const n = lab.nodes[id - 1]!;
  return {
    node: { id, name: `${LAB}n${id}` }, port: { driver: `tap:${n.ifname}` }, addresses: [`${n.ip}/24`], workers: 1,
    pool: { slots: 4096 }, rings: { rx: 512, tx: 512 },
    cluster: { id: CLUSTER_ID, peers: IDS.filter((x) => x !== id), key: KEY, arp: 'multicast' },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const t = suite('cluster: multicast ARP policy, three nodes, one kernel client');
let lab: Lab;
const nodes = new Map<number, RunningNode>();

async function until(what: string, cond: () => Promise<boolean>, withinMs = 5000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(25);
  }
}

async function answering(id: number): Promise<readonly string[]> {
  return (await nodes.get(id)!.status()).answering;
}

function neighMac(ip: string): string {
  return /lladdr (\S+)/.exec(lab.exec(lab.clients[0]!.ns, ['ip', 'neigh', 'show', ip]))?.[1] ?? '';
}

/** `ping` output: replies per icmp_seq (a duplicate shows as a second line for one seq, marked DUP!). */
function pingRun(ip: string, count: number, intervalS: string): { out: string; replies: Map<number, number>; dups: number } {
  let out: string;
  try {
    out = lab.exec(lab.clients[0]!.ns, ['ping', '-n', '-c', String(count), '-i', intervalS, '-W', '1', ip], 60_000);
  } catch (err) {
    out = String((err as Error).message);
  }
  const replies = new Map<number, number>();
  for (const m of out.matchAll(/icmp_seq=(\d+)/g)) replies.set(Number(m[1]), (replies.get(Number(m[1])) ?? 0) + 1);
  return { out, replies, dups: (out.match(/DUP!/g) ?? []).length };
}

function notOurs(s: NodeStatus): number {
  return s.drops['NOT_OUR_ADDRESS'] ?? 0;
}

t.before(async () => {
  assert.is(process.getuid?.(), 0, 'functional tests must run as root (CI does)');
  Lab.remove(LAB);
  lab = Lab.up({ name: LAB, clients: 1, nodes: ['tap', 'tap', 'tap'], hub: false });
  for (const id of IDS) nodes.set(id, await startNode(lab.segNs, config(lab, id)));
});

t.after(async () => {
  try {
    for (const n of nodes.values()) await n.stop();
  } finally {
    lab?.down();
  }
});

t('ARP for a cluster address resolves to the cluster multicast MAC; every node receives the frames; only the holder answers, once', async () => {
  await until('each node holds its home address', async () => {
    for (const id of IDS) if (JSON.stringify(await answering(id)) !== JSON.stringify([lab.nodes[id - 1]!.ip])) return false;
    return true;
  });
  const before = new Map<number, NodeStatus>();
  for (const id of IDS) before.set(id, await nodes.get(id)!.status());
  const r = pingRun(TARGET, 20, '0.05');
  assert.is(r.dups, 0, `duplicate replies:\n${r.out}`);
  assert.is(r.replies.size, 20, r.out);
  for (const [seq, n] of r.replies) assert.is(n, 1, `icmp_seq ${seq} answered ${n} times`);
  assert.is(neighMac(TARGET), CLUSTER_MAC, 'the client resolved the address to the cluster MAC');
  const after = new Map<number, NodeStatus>();
  for (const id of IDS) after.set(id, await nodes.get(id)!.status());
  // The holder answered (ARP with the cluster MAC, and every echo); the others saw every echo and dropped it.
  assert.ok(after.get(2)!.arp.answered > before.get(2)!.arp.answered, 'node 2 answered the ARP');
  for (const id of [1, 3]) {
    assert.is(after.get(id)!.arp.answered, before.get(id)!.arp.answered, `node ${id} answered ARP for an address it does not hold`);
    const seen = notOurs(after.get(id)!) - notOurs(before.get(id)!);
    assert.ok(seen >= 20, `node ${id} received ${seen} of the 20 echo requests sent to the cluster MAC`);
  }
  assert.is(notOurs(after.get(2)!) - notOurs(before.get(2)!), 0, 'the holder dropped none');
  assert.is(after.get(2)!.cluster!.arpPolicy, 'multicast');
});

t('kill -9 of the holder: a survivor answers with no ARP change (no gratuitous ARP, same neighbour entry), exactly once', async () => {
  const garpBefore = (await nodes.get(1)!.status()).cluster!.arpAnnouncements;
  // A client pinging every 10 ms across the kill, and watching ARP on its wire.
  const ns = lab.clients[0]!.ns;
  const arpWatch = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', 'eth0', '-n', '-l', 'arp'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let arpOut = '';
  arpWatch.stdout.on('data', (d: Buffer) => (arpOut += d.toString()));
  const pinger = spawn('ip', ['netns', 'exec', ns, 'ping', '-n', '-i', '0.01', '-c', '300', '-W', '1', TARGET], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  pinger.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<void>((r) => pinger.once('exit', () => r()));
  try {
    await sleep(800);
    const seqBefore = Math.max(...[...out.matchAll(/icmp_seq=(\d+)/g)].map((x) => Number(x[1])));
    nodes.get(2)!.child.kill('SIGKILL');
    await until('node 1 answers for 198.18.0.2', async () => (await answering(1)).includes(TARGET), 3000);
    await done;
    const seqs = [...out.matchAll(/icmp_seq=(\d+)/g)].map((x) => Number(x[1]));
    assert.ok(seqs.some((s) => s > seqBefore + 20), `pings resumed after the kill (last before ${seqBefore})`);
    assert.is((out.match(/DUP!/g) ?? []).length, 0, 'no duplicate replies across the takeover');
  } finally {
    if (pinger.exitCode === null) pinger.kill('SIGKILL');
    arpWatch.kill('SIGINT');
  }
  await nodes.get(2)!.stop();
  nodes.delete(2);
  assert.is(neighMac(TARGET), CLUSTER_MAC, 'the client still sends to the cluster MAC');
  const s1 = (await nodes.get(1)!.status()).cluster!;
  assert.is(s1.arpAnnouncements, garpBefore, 'no gratuitous ARP under the multicast policy');
  assert.not.match(arpOut, /tell 198\.18\.0\.2,/, `gratuitous ARP for the address on the wire:\n${arpOut}`);
  const r = pingRun(TARGET, 20, '0.05');
  assert.is(r.dups, 0, r.out);
  assert.is(r.replies.size, 20, r.out);
  // The remaining non-holder (node 3) still receives the address's frames and stays silent.
  assert.equal(await answering(3), ['198.18.0.3']);
});

t.run();
