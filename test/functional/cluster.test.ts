// Cluster membership, ownership and failure detection with real Baton node
// processes and a real kernel client, three nodes on one segment:
// boot announcement and solicitation; kill -9 → a survivor answers for the
// address and the client's pings resume; failback after a restart; the
// external detector (`baton fail`) and rejoin; partition and heal with never
// two owners once settled; a handover request (accepted, and refused with a
// reason); garbage and forged frames from a peer.
import { spawn } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../../control/lab.js';
import type { NodeStatus } from '../../control/node.js';
import { cpuSeconds, voluntarySwitches, labName, pingCounts, runCli, startNode, type RunningNode } from './harness.js';

const KEY = '5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e';
const LAB = labName('cl1');
const IDS = [1, 2, 3];

function clusterConfig(lab: Lab, id: number): Record<string, unknown> {
  const n = lab.nodes[id - 1]!;
  return {
    node: { id, name: `${LAB}n${id}` }, port: { driver: `tap:${n.ifname}` }, addresses: [`${n.ip}/24`], workers: 1,
    pool: { slots: 4096 }, rings: { rx: 512, tx: 512 },
    cluster: { peers: IDS.filter((x) => x !== id), key: KEY },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => Promise<boolean>, withinMs = 5000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(25);
  }
}

const t = suite('cluster: three nodes, one kernel client');
let lab: Lab;
const nodes = new Map<number, RunningNode>();

async function statuses(): Promise<Map<number, NodeStatus>> {
  const out = new Map<number, NodeStatus>();
  for (const [id, n] of nodes) {
    if (n.child.exitCode !== null || n.child.signalCode !== null) continue;
    try {
      out.set(id, await n.status());
    } catch {
      // Killed a moment ago: its API is gone before its exit is reported.
    }
  }
  return out;
}

/** address → ids of live nodes answering for it. */
async function answering(): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [id, s] of await statuses()) for (const a of s.answering) out.set(a, [...(out.get(a) ?? []), id]);
  return out;
}

async function holders(ip: string): Promise<number[]> {
  return ((await answering()).get(ip) ?? []).sort();
}

function ping(ip: string, count = 3): { sent: number; received: number } {
  try {
    return pingCounts(lab.exec(lab.clients[0]!.ns, ['ping', '-c', String(count), '-i', '0.2', '-W', '1', ip]));
  } catch {
    return { sent: count, received: 0 };
  }
}

/** What every node and the client think, for a failure message. */
async function diagnose(): Promise<string> {
  const lines = [lab.exec(lab.clients[0]!.ns, ['ip', 'neigh']).trim()];
  for (const [id, s] of await statuses()) {
    lines.push(`node ${id}: ${s.cluster!.state} answering ${s.answering.join(' ')} members ${s.cluster!.members.map((m) => `${m.id}:${m.liveness}/${m.state}`).join(' ')}`);
    lines.push(`  claims ${s.cluster!.claims.map((c) => `${c.ip & 255}→${c.holder}@${c.epoch}`).join(' ')} garp ${s.cluster!.arpAnnouncements} arp ${s.arp.answered}`);
  }
  return lines.join('\n');
}

function neighMac(ip: string): string {
  return /lladdr (\S+)/.exec(lab.exec(lab.clients[0]!.ns, ['ip', 'neigh', 'show', ip]))?.[1] ?? '';
}

async function boot(id: number): Promise<RunningNode> {
  const n = await startNode(lab.segNs, clusterConfig(lab, id));
  nodes.set(id, n);
  return n;
}

t.before(async () => {
  assert.is(process.getuid?.(), 0, 'functional tests must run as root (CI does)');
  Lab.remove(LAB);
  lab = Lab.up({ name: LAB, clients: 1, nodes: ['tap', 'tap', 'tap'], hub: false });
  for (const id of IDS) await boot(id);
});

t.after(async () => {
  try {
    for (const n of nodes.values()) await n.stop();
  } finally {
    lab?.down();
  }
});

t('boot: every node announces its record and solicits the others; each answers for its own address', async () => {
  await until('all synced, each holding its home', async () => {
    const a = await answering();
    return IDS.every((id) => JSON.stringify(a.get(lab.nodes[id - 1]!.ip)) === `[${id}]`);
  });
  for (const [id, s] of await statuses()) {
    const c = s.cluster!;
    assert.is(c.state, 'synced', `node ${id}`);
    for (const m of c.members) assert.is(m.liveness, 'alive', `node ${id} sees ${m.id}`);
    for (const peer of IDS) assert.ok(c.records[String(peer)] !== null, `node ${id} holds node ${peer}'s record`);
    assert.ok(c.counters.records_received > 0, `node ${id} received records`);
    // Node 3 booted last and solicited the records of nodes 1 and 2.
    if (id !== 3) assert.ok(c.counters.solicits_received > 0, `node ${id} was solicited`);
  }
  for (const n of lab.nodes) assert.equal(ping(n.ip), { sent: 3, received: 3 });
  assert.is(neighMac('198.18.0.2'), '02:ba:70:00:00:02');
});

t('idle: every node of an idle 3-node cluster (default heartbeats) parks between heartbeats: at most 600 wakes a second, under 20 % of one core', async () => {
  // Resource bounds, not timings, from /proc over two 5 s windows. Wakes
  // (voluntary context switches of all threads) are what the design fixes:
  // 10 ms heartbeats to and from two peers, about 200-300 a second. CPU time
  // is what this host's other tenants blur (one idle window 11 %, the next
  // 1.6 %; a fresh-clone CI once had both windows over 10 %, 10.8 and 11.2,
  // at the usual 220 wakes/s): the lower window counts, against a bound a
  // spin would break (a poller that spins after each wake: 30 % and more;
  // one that never parks: 100 %, with few wakes).
  const pids = IDS.map((id) => nodes.get(id)!.child.pid!);
  const window = async (): Promise<{ cpu: number[]; wakes: number[] }> => {
    const c0 = pids.map(cpuSeconds);
    const w0 = pids.map(voluntarySwitches);
    await sleep(5000);
    return { cpu: pids.map((pid, i) => ((cpuSeconds(pid) - c0[i]!) / 5) * 100), wakes: pids.map((pid, i) => (voluntarySwitches(pid) - w0[i]!) / 5) };
  };
  const a = await window();
  const b = await window();
  const all = `(windows: ${a.cpu.map((x) => x.toFixed(1)).join(', ')} %, ${a.wakes.map((x) => x.toFixed(0)).join(', ')} wakes/s; ` +
    `${b.cpu.map((x) => x.toFixed(1)).join(', ')} %, ${b.wakes.map((x) => x.toFixed(0)).join(', ')} wakes/s)`;
  for (const [i, id] of IDS.entries()) {
    assert.ok(Math.min(a.cpu[i]!, b.cpu[i]!) < 20, `node ${id} used ${Math.min(a.cpu[i]!, b.cpu[i]!).toFixed(1)} % of a core while idle ${all}`);
    assert.ok(Math.max(a.wakes[i]!, b.wakes[i]!) < 600, `node ${id} woke ${Math.max(a.wakes[i]!, b.wakes[i]!).toFixed(0)} times a second while idle ${all}`);
  }
});

t('baton status shows members and ownership; /metrics has the cluster counters', async () => {
  const r = await runCli(lab.segNs, ['status', '--api', nodes.get(1)!.api]);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /members:/);
  // Under load a stalled heartbeat can cause a takeover and failback at boot: the epoch may be past 1.
  assert.match(r.out, /198\.18\.0\.2\s+0-65535\s+2\s+2\s+\d+\s+(home|failback)/);
  const j = await runCli(lab.segNs, ['status', '--json', '--api', nodes.get(1)!.api]);
  assert.is((JSON.parse(j.out) as NodeStatus).cluster!.members.length, 3);
  const m = await (await import('../../control/api.js')).apiRequest(nodes.get(1)!.api, 'GET', '/metrics');
  assert.match(m, new RegExp(`baton_cluster_events_total\\{node="${LAB}n1",event="heartbeats_received"\\} \\d+`));
  assert.match(m, new RegExp(`baton_cluster_member_up\\{node="${LAB}n1",member="2",state="synced"\\} 1`));
});

t('kill -9: the first backup answers for the address and the client’s pings resume', async () => {
  // A client pinging every 10 ms across the kill.
  const pinger = spawn('ip', ['netns', 'exec', lab.clients[0]!.ns, 'ping', '-i', '0.01', '-c', '400', '-W', '1', '198.18.0.2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  pinger.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<void>((r) => pinger.once('exit', () => r()));
  try {
    await sleep(800);
    const seqBefore = Math.max(...[...out.matchAll(/icmp_seq=(\d+)/g)].map((x) => Number(x[1])));
    nodes.get(2)!.child.kill('SIGKILL');
    await until('node 1 answers for 198.18.0.2', async () => JSON.stringify(await holders('198.18.0.2')) === '[1]', 3000);
    await done;
    const seqs = [...out.matchAll(/icmp_seq=(\d+)/g)].map((x) => Number(x[1]));
    assert.ok(seqs.some((s) => s > seqBefore + 20), `pings resumed after the kill (last before ${seqBefore}, got ${seqs.slice(-3).join(',')})`);
  } finally {
    if (pinger.exitCode === null) pinger.kill('SIGKILL');
  }
  await nodes.get(2)!.stop();
  nodes.delete(2);
  assert.is(neighMac('198.18.0.2'), '02:ba:70:00:00:01', 'gratuitous ARP moved the client to node 1');
  assert.equal(ping('198.18.0.2'), { sent: 3, received: 3 });
  const c1 = (await nodes.get(1)!.status()).cluster!;
  const claim = c1.claims.find((c) => c.home === 2)!;
  assert.is(claim.holder, 1);
  assert.is(claim.reason, 1 /* Takeover */);
  assert.is(c1.members.find((m) => m.id === 2)!.liveness, 'timeout');
});

t('handover: node 3 asks node 1 for the assumed address and gets it; a home address is refused with a reason', async () => {
  const r = await runCli(lab.segNs, ['handover', '198.18.0.2', '--api', nodes.get(3)!.api]);
  assert.is(r.code, 0, r.out);
  assert.equal(JSON.parse(r.out), { ...JSON.parse(r.out), accepted: true });
  await until('node 3 answers for 198.18.0.2', async () => JSON.stringify(await holders('198.18.0.2')) === '[3]', 2000);
  assert.equal(ping('198.18.0.2'), { sent: 3, received: 3 });
  const no = await runCli(lab.segNs, ['handover', '198.18.0.1', '--api', nodes.get(3)!.api]);
  assert.is(no.code, 1);
  assert.match(no.out, /"accepted":false,"reason":"a home address is not handed over"/);
});

t('failback: the restarted node resyncs, then answers for its address again', async () => {
  const n2 = await boot(2);
  await until('node 2 answers for 198.18.0.2 again', async () => JSON.stringify(await holders('198.18.0.2')) === '[2]', 5000);
  const s = (await n2.status()).cluster!;
  const claim = s.claims.find((c) => c.home === 2)!;
  assert.is(claim.reason, 2 /* Failback */);
  assert.is(claim.author, 3, 'the holder since the handover gave it back');
  assert.ok(s.counters.records_received > 0 && s.counters.solicits_sent > 0, 'it solicited records before');
  await until('client moved back to node 2', async () => neighMac('198.18.0.2') === '02:ba:70:00:00:02', 3000);
  assert.equal(ping('198.18.0.2'), { sent: 3, received: 3 });
});

t('external detector: `baton fail 3` moves its address as a timeout would; `baton rejoin` brings it back', async () => {
  const r = await runCli(lab.segNs, ['fail', '3', '--api', nodes.get(2)!.api]);
  assert.is(r.code, 0, r.out);
  await until('node 1 answers for 198.18.0.3', async () => JSON.stringify(await holders('198.18.0.3')) === '[1]', 2000);
  const s3 = (await nodes.get(3)!.status()).cluster!;
  assert.is(s3.state, 'fenced');
  assert.equal(ping('198.18.0.3'), { sent: 3, received: 3 });
  assert.is((await nodes.get(1)!.status()).cluster!.members.find((m) => m.id === 3)!.liveness, 'declared');
  const rj = await runCli(lab.segNs, ['rejoin', '--api', nodes.get(3)!.api]);
  assert.is(rj.code, 0, rj.out);
  await until('node 3 answers for 198.18.0.3 again', async () => JSON.stringify(await holders('198.18.0.3')) === '[3]', 3000);
});

t('partition and heal: the majority takes the isolated node’s address; after the heal, one owner per address', async () => {
  lab.exec(lab.segNs, ['ip', 'link', 'set', 'n1tap', 'nomaster']);
  try {
    await until('node 2 answers for 198.18.0.1', async () => ((await answering()).get('198.18.0.1') ?? []).includes(2), 3000);
    const p = ping('198.18.0.1');
    if (p.received !== 3) assert.unreachable(`pings to the isolated node's address: ${JSON.stringify(p)}\n${await diagnose()}`);
    const isolated = await nodes.get(1)!.status();
    assert.equal(isolated.answering, ['198.18.0.1'], 'the minority takes nothing over');
  } finally {
    lab.exec(lab.segNs, ['ip', 'link', 'set', 'n1tap', 'master', 'br0', 'up']);
  }
  await until('settled: every address answered by exactly its home', async () => {
    const a = await answering();
    return IDS.every((id) => JSON.stringify(a.get(lab.nodes[id - 1]!.ip)) === `[${id}]`);
  }, 5000);
  // Settled means it stays so.
  await sleep(500);
  const a = await answering();
  for (const id of IDS) assert.equal(a.get(lab.nodes[id - 1]!.ip), [id]);
  const tables = [...(await statuses()).values()].map((s) => JSON.stringify(s.cluster!.claims.map((c) => [c.ip, c.holder, c.epoch])));
  assert.ok(tables.every((x) => x === tables[0]), 'every node has the same ownership table');
  assert.equal(ping('198.18.0.1'), { sent: 3, received: 3 });
});

t('garbage, forged and truncated cluster frames from a host on the segment are counted and ignored', async () => {
  const before = (await nodes.get(1)!.status()).cluster!.counters;
  // A raw AF_PACKET sender in the client namespace: ethertype 0x88b5, broadcast.
  const py = `
import socket, os
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
hdr = b"\\xff"*6 + bytes.fromhex("02aabbccddee") + b"\\x88\\xb5"
frames = [os.urandom(60), b"\\x42\\x63\\x01\\x00\\x00\\x10" + os.urandom(16) + os.urandom(32), b"\\x42\\x63\\x01\\x00\\x00\\x40" + b"\\x00"*8]
for i in range(30):
    s.send(hdr + frames[i % 3])
`;
  lab.exec(lab.clients[0]!.ns, ['python3', '-c', py]);
  await until('node 1 counted them', async () => {
    const c = (await nodes.get(1)!.status()).cluster!.counters;
    return c.rx_malformed - before.rx_malformed >= 20 && c.rx_bad_auth - before.rx_bad_auth >= 10;
  }, 3000);
  const s = (await nodes.get(1)!.status()).cluster!;
  for (const m of s.members) assert.is(m.liveness, 'alive');
  assert.equal(await holders('198.18.0.2'), [2]);
  const m = await (await import('../../control/api.js')).apiRequest(nodes.get(1)!.api, 'GET', '/metrics');
  assert.match(m, /event="rx_bad_auth"\} [1-9]/);
});

t.run();
