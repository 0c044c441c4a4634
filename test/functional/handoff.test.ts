// Moving live TCP connections between Baton nodes with real kernel clients:
// three nodes on one segment, a kernel client streaming echo data (every
// byte checked both ways) while its connections move:
//   - node 1 → node 2 mid-stream, the address staying with node 1, which
//     forwards the client's segments to node 2 (seed 004's routing stack);
//   - refused (node 2 has no such service): the connection goes on at node 1;
//   - seed 000 claim 10: node 2 has assumed node 1's address; node 3 asks
//     node 2 for its connections and the address, and gets both;
//   - failback: node 1 rejoins and gets its address back with the live
//     connections on it, records first;
//   - an HTTP download (curl, sha256) moved mid-transfer.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../../control/lab.js';
import type { NodeStatus } from '../../control/node.js';
import { labName, runCli, startNode, type RunningNode } from './harness.js';

const echoStream = fileURLToPath(new URL('./clients/echo-move.js', import.meta.url));
const KEY = '0ddba11c0ffee0ddba11c0ffee0ddba1';
const LAB = labName('xf1');
const IDS = [1, 2, 3];
/** Node 1 alone serves echo on 1007 too: moving such a connection is refused (no service). */
const ONLY_ON_1 = 1007;

const www = mkdtempSync(join(tmpdir(), 'baton-xf-www-'));
const file = randomBytes(8 << 20);
writeFileSync(join(www, '8m.bin'), file);
const fileSha = createHash('sha256').update(file).digest('hex');
process.on('exit', () => rmSync(www, { recursive: true, force: true }));

function config(lab: Lab, id: number): Record<string, unknown> {
  const n = lab.nodes[id - 1]!;
  return {
    node: { id, name: `${LAB}n${id}` }, port: { driver: `tap:${n.ifname}`, offload: process.env['BATON_HANDOFF_OFFLOAD'] !== '0' }, addresses: [`${n.ip}/24`], workers: 2,
    pool: { slots: 8192 }, rings: { rx: 1024, tx: 1024 },
    services: [
      { app: 'echo', ports: 7 },
      { app: 'http', ports: 80, options: { root: www } },
      ...(id === 1 ? [{ app: 'echo', ports: ONLY_ON_1 }] : []),
    ],
    tcp: { maxConnections: 1024 },
    // Detection at 200 ms rather than the default 40: on this 2-core machine, a
    // stalled heartbeat under the streams' load would make a peer take node 1's
    // address over mid-test without its records and reset the connections —
    // failover by snooping is [snoop-failover]'s job; these tests are about moves.
    cluster: { peers: IDS.filter((x) => x !== id), key: KEY, heartbeatMs: 20, misses: 10 },
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

const t = suite('handoff: live connections move between nodes, kernel client');

/** A test whose failure message ends with every node's counters. */
function tcase(name: string, body: () => Promise<void>): void {
  t(name, async () => {
    try {
      await body();
    } catch (err) {
      (err as Error).message += `\n${await diagnose().catch((e: Error) => e.message)}`;
      throw err;
    }
  });
}
let lab: Lab;
const nodes = new Map<number, RunningNode>();

async function status(id: number): Promise<NodeStatus> {
  return nodes.get(id)!.status();
}

async function holders(ip: string): Promise<number[]> {
  const out: number[] = [];
  for (const id of nodes.keys()) if ((await status(id)).answering.includes(ip)) out.push(id);
  return out.sort();
}

interface StreamResult { ok: number; failed: number; errors: Record<string, number>; sent: number; received: number; maxGapMs: number; ms: number }

/** Starts the streaming echo client; resolves `connected` once every connection is up. */
function streamEcho(ip: string, port: number, count: number, bytes: number): { connected: Promise<void>; result: Promise<StreamResult> } {
  const child = spawn('ip', ['netns', 'exec', lab.clients[0]!.ns, process.execPath, echoStream, ip, String(port), String(count), String(bytes), '8192', '4', '60000'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onConnected: () => void = () => {};
  const connected = new Promise<void>((r) => (onConnected = r));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('connected')) onConnected();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const result = new Promise<StreamResult>((resolve, reject) => {
    child.once('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) reject(new Error(`echo-stream printed no result:\n${out}\n${err}`));
      else resolve(JSON.parse(line) as StreamResult);
    });
  });
  return { connected, result };
}

/** Every node's TCP, drop and transfer counters (non-zero), for a failure message. */
async function diagnose(): Promise<string> {
  const lines: string[] = [];
  for (const id of nodes.keys()) {
    const st = await status(id);
    const nz = (o: Record<string, number> | null): string => Object.entries(o ?? {}).filter(([, v]) => v !== 0).map(([k, v]) => `${k}=${v}`).join(' ');
    const c = st.cluster!.counters;
    lines.push(`node ${id}: answering ${st.answering.join(' ')}; takeovers ${c.takeovers} failbacks ${c.failbacks} timeouts ${c.detections_timeout}`,
      `  tcp ${nz(st.tcp)}`, `  drops ${nz(st.drops)}`, `  transfers ${nz(st.transfers)}`);
  }
  return lines.join('\n');
}

async function cli(id: number, args: string[]): Promise<{ code: number | null; out: string; json: Record<string, unknown> }> {
  const r = await runCli(lab.segNs, [...args, '--api', nodes.get(id)!.api], 40_000);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(r.out) as Record<string, unknown>;
  } catch {
    // not JSON: the caller's assertion shows r.out
  }
  return { ...r, json };
}

t.before(async () => {
  assert.is(process.getuid?.(), 0, 'functional tests must run as root (CI does)');
  Lab.remove(LAB);
  lab = Lab.up({ name: LAB, clients: 1, nodes: ['tap', 'tap', 'tap'], hub: false });
  // A client with small socket buffers: the servers' sends stay in flight
  // (and queued in their apps) instead of landing in the client's kernel at once.
  lab.exec(lab.clients[0]!.ns, ['sysctl', '-q', '-w', 'net.ipv4.tcp_rmem=4096 65536 131072', 'net.ipv4.tcp_wmem=4096 65536 131072']);
  for (const id of IDS) nodes.set(id, await startNode(lab.segNs, config(lab, id)));
});

t.after(async () => {
  try {
    for (const n of nodes.values()) await n.stop();
  } finally {
    lab?.down();
  }
});

t('boot: three synced nodes, each answering for its own address', async () => {
  await until('every node holds its home address', async () => {
    for (const id of IDS) if (JSON.stringify(await holders(lab.nodes[id - 1]!.ip)) !== `[${id}]`) return false;
    return true;
  }, 8000);
});

tcase('mid-stream: node 1 hands 4 echo connections to node 2; every byte arrives intact both ways, no reset', async () => {
  const s = streamEcho('198.18.0.1', 7, 4, 8 << 20);
  await s.connected;
  await sleep(700);
  const r = await cli(1, ['connections', 'handover', '--to', '2', '--address', '198.18.0.1']);
  assert.is(r.code, 0, r.out);
  assert.is(r.json['accepted'], 4, r.out);
  assert.is(r.json['rejected'], 0);
  const res = await s.result;
  assert.is(res.ok, 4, `${JSON.stringify(res)}\n${r.out}`);
  assert.is(res.received, 4 * (8 << 20));
  const s1 = await status(1);
  const s2 = await status(2);
  assert.is(s2.transfers!['imported'], 4);
  assert.ok(s1.transfers!['forwarded']! > 0, 'the client kept sending to node 1, which forwarded to node 2');
  assert.is(s1.tcp['resets'] ?? 0, 0);
  assert.is(s2.tcp['resets'] ?? 0, 0);
  const x1 = s1.transfers!;
  process.stdout.write(`  [handoff] 4 connections moved in ${Number(r.json['ms']).toFixed(1)} ms; longest client stall ${res.maxGapMs} ms; ` +
    `held ${x1['held']} held-drops ${x1['held_drops']} forwarded ${x1['forwarded']} frames ${x1['frames_sent']} retransmits ${x1['retransmits']}; ` +
    `node 2 tcp retransmits ${s2.tcp['retransmits']} (rto ${s2.tcp['rto_fired']})\n`);
});

tcase('refused: node 2 has no service on the port; the connection stays on node 1 and keeps working', async () => {
  const before = (await status(1)).transfers!;
  const s = streamEcho('198.18.0.1', ONLY_ON_1, 1, 6 << 20);
  await s.connected;
  await sleep(300);
  const r = await cli(1, ['connections', 'handover', '--to', '2', '--address', '198.18.0.1', '--local-port', String(ONLY_ON_1)]);
  assert.is(r.code, 1, r.out);
  assert.is(r.json['rejected'], 1, r.out);
  assert.equal(r.json['reasons'], { no_service: 1 });
  const res = await s.result;
  assert.is(res.ok, 1, `${JSON.stringify(res)}\n${r.out}`);
  const after = (await status(1)).transfers!;
  assert.is(after['reimported']! - before['reimported']!, 1);
  assert.is((await status(2)).transfers!['refused_no_service'], 1);
});

tcase('seed 000 claim 10: node 3 asks node 2, which assumed node 1\'s address, for its connections and the address', async () => {
  // Node 1 is declared failed: node 2 (its first backup) assumes 198.18.0.1.
  const f = await cli(2, ['fail', '1']);
  assert.is(f.code, 0, f.out);
  await until('node 2 answers for 198.18.0.1', async () => JSON.stringify(await holders('198.18.0.1')) === '[2]', 3000);
  const s = streamEcho('198.18.0.1', 7, 2, 8 << 20);
  await s.connected;
  await sleep(700);
  const r = await cli(3, ['connections', 'request', '--from', '2', '--address', '198.18.0.1', '--with-address']);
  assert.is(r.code, 0, r.out);
  assert.is(r.json['accepted'], true, r.out);
  assert.is(r.json['moved'], 2, r.out);
  assert.is(r.json['addressMoved'], true);
  await until('node 3 answers for 198.18.0.1', async () => JSON.stringify(await holders('198.18.0.1')) === '[3]', 3000);
  const res = await s.result;
  assert.is(res.ok, 2, `${JSON.stringify(res)}\n${r.out}`);
  assert.is((await status(3)).transfers!['imported'], 2);
  // A home address is not handed over by request: refused with the cluster's reason.
  const no = await cli(3, ['connections', 'request', '--from', '2', '--address', '198.18.0.2', '--with-address']);
  assert.is(no.code, 1, no.out);
  assert.is(no.json['reason'], 'a home address is not handed over');
});

tcase('failback by records: node 1 rejoins; node 3 moves its live connections of 198.18.0.1 home first, then the address', async () => {
  const before = (await status(1)).transfers!['imported']!;
  const s = streamEcho('198.18.0.1', 7, 2, 8 << 20);
  await s.connected;
  await sleep(500);
  const rj = await cli(1, ['rejoin']);
  assert.is(rj.code, 0, rj.out);
  await until('node 1 answers for 198.18.0.1 again', async () => JSON.stringify(await holders('198.18.0.1')) === '[1]', 8000);
  const res = await s.result;
  assert.is(res.ok, 2, JSON.stringify(res));
  assert.is((await status(1)).transfers!['imported']! - before, 2, 'both came home as records');
  const c3 = (await status(3)).cluster!;
  assert.is(c3.claims.find((c) => c.home === 1)!.reason, 2 /* Failback */);
});

tcase('HTTP download moved mid-transfer: curl gets the whole file (sha256)', async () => {
  // The client reaches node 1 again after the failback (its ARP entry moved back).
  await until('the client reaches 198.18.0.1', async () => {
    try {
      lab.exec(lab.clients[0]!.ns, ['ping', '-c', '1', '-W', '1', '198.18.0.1']);
      return true;
    } catch {
      return false;
    }
  }, 5000);
  const dir = mkdtempSync(join(tmpdir(), 'baton-xf-dl-'));
  const got = join(dir, '8m.bin');
  try {
    // 8 MB at 2 MB/s: about 4 s; moved once a quarter has arrived (the client buffers at most 128 KB).
    const curl = spawn('ip', ['netns', 'exec', lab.clients[0]!.ns, 'curl', '-sS', '--fail', '--limit-rate', '2M', '-o', got, 'http://198.18.0.1/8m.bin'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    curl.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const done = new Promise<number | null>((r) => curl.once('exit', (c) => r(c)));
    await until('a quarter of the file arrived', async () => (existsSync(got) ? statSync(got).size : 0) >= 2 << 20, 10_000);
    const r = await cli(1, ['connections', 'handover', '--to', '3', '--address', '198.18.0.1', '--local-port', '80']);
    assert.is(r.json['accepted'], 1, r.out);
    const code = await done;
    assert.is(code, 0, err);
    assert.is(createHash('sha256').update(readFileSync(got)).digest('hex'), fileSha, `curl: ${err}`);
    assert.is((await status(3)).transfers!['imported'], 3, 'two echo connections earlier, this one now');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
