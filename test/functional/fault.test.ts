// The fault injector end to end: a Baton node on TAP with impairments in its
// config, pinged by a kernel host. Loss shows as missing replies, send-side
// duplication as ping's DUP!s, delay as round-trip time, corruption as
// checksum drops — and every injected event is in the node's counters.
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../../control/lab.js';
import type { NodeStatus } from '../../control/node.js';
import { labName, pingCounts, startNode, type RunningNode } from './harness.js';

const LAB = labName('fa1');
const t = suite('fault injection over tap');
let lab: Lab;

t.before(() => {
  assert.is(process.getuid?.(), 0, 'functional tests must run as root (CI does)');
  Lab.remove(LAB);
  lab = Lab.up({ name: LAB, clients: 1, nodes: ['tap'], hub: false });
});

t.after(() => lab?.down());

/** Runs `body` against a one-worker node with `faults` in its config; the node is stopped whatever happens. */
async function withNode(faults: Record<string, unknown>, body: (node: RunningNode) => Promise<void>): Promise<void> {
  const n = lab.nodes[0]!;
  const node = await startNode(lab.segNs, {
    node: { id: 1, name: `${LAB}n1` },
    port: { driver: `tap:${n.ifname}` },
    addresses: [`${n.ip}/24`],
    workers: 1,
    pool: { slots: 4096 },
    rings: { rx: 512, tx: 512 },
    faults,
  });
  try {
    // Resolve the node's MAC first (ARP goes to the control thread, never impaired) so no
    // measured request waits for it; this echo itself may well be impaired.
    ping(['-c', '1', '-W', '1', '-q']);
    await body(node);
  } finally {
    await node.stop();
  }
}

function faultCount(s: NodeStatus, name: string): number {
  return (s.endpoints[0] as unknown as Record<string, number>)[name] ?? 0;
}

/** ping's output; unlike lab.exec, missing replies (exit status 1) are a result here, not an error. */
function ping(args: readonly string[]): string {
  const argv = Lab.inNs(lab.clients[0]!.ns, ['ping', ...args, lab.nodes[0]!.ip]);
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  if ((r.status !== 0 && r.status !== 1) || !r.stdout.includes('packets transmitted')) throw new Error(`ping failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The client's ICMP counters (its namespace's /proc/net/snmp): what its kernel sent and received, whoever was listening. */
function clientIcmp(): { outEchos: number; inEchoReps: number } {
  const lines = lab.exec(lab.clients[0]!.ns, ['cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Icmp: '));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/).map(Number);
  return { outEchos: values[names.indexOf('OutEchos')]!, inEchoReps: values[names.indexOf('InEchoReps')]! };
}

/**
 * Counter deltas of the node's worker and of the client's kernel over `body`,
 * read once the traffic has settled. ping alone cannot say what was lost: with
 * -c it stops waiting twice the slowest round trip so far after its last request,
 * so a last reply a little late (the worker woken from its park on a busy machine)
 * counted as lost though the node sent it, and the node's counters were read
 * before it had even handled the last request (two CI runs failed on one loss
 * "too many"). The client kernel's count of echo replies has no such deadline.
 */
async function deltas(node: RunningNode, body: () => void): Promise<{ fault: (name: string) => number; drops: number; seen: string; requests: number; replies: number }> {
  const a = await node.status();
  const ia = clientIcmp();
  body();
  // Settled: the client's echo-reply count unchanged for 200 ms (bounded: 3 s).
  let ib = clientIcmp();
  for (let i = 0; i < 15; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const now = clientIcmp();
    if (now.inEchoReps === ib.inEchoReps) break;
    ib = now;
  }
  const b = await node.status();
  const sum = (s: NodeStatus): number => Object.values(s.drops).reduce((x, y) => x + y, 0);
  // What the worker saw and sent meanwhile, for a failure's message: a reply lost outside the injector shows here.
  const seen = ['rx_frames', 'tx_frames', 'tx_drop_ring_full', 'tx_drop_no_slot', 'parks'].map((k) => `${k} ${faultCount(b, k) - faultCount(a, k)}`).join(', ') +
    `, drops ${JSON.stringify(Object.fromEntries(Object.entries(b.drops).map(([k, v]) => [k, v - (a.drops[k] ?? 0)]).filter(([, v]) => v !== 0)))}`;
  return {
    fault: (name) => faultCount(b, name) - faultCount(a, name),
    drops: sum(b) - sum(a),
    seen,
    requests: ib.outEchos - ia.outEchos,
    replies: ib.inEchoReps - ia.inEchoReps,
  };
}

t('rx loss 0.05 loses ~5 % of 400 echo requests, each one counted', async () => {
  await withNode({ seed: 1, rx: { loss: 0.05 } }, async (node) => {
    let out = '';
    const d = await deltas(node, () => (out = ping(['-c', '400', '-i', '0.002', '-W', '1', '-q'])));
    const { sent, received } = pingCounts(out);
    assert.is(sent, 400);
    assert.is(d.requests, 400);
    // Lost: never answered, late replies included (ping may have given up on the last one).
    const lost = d.requests - d.replies;
    assert.ok(sent - received >= lost, `ping lost ${sent - received}, the client's kernel ${lost}`);
    // Binomial(400, 0.05): mean 20, sd 4.4; the bound is loose (about ±3.4 sd).
    assert.ok(lost >= 5 && lost <= 35, `lost ${lost} of 400`);
    assert.is(d.fault('fault_rx_loss'), lost, `every loss is an injected one (worker: ${d.seen})`);
  });
});

t('tx duplicate 0.5 makes ping report duplicates', async () => {
  await withNode({ seed: 2, tx: { duplicate: 0.5 } }, async (node) => {
    let out = '';
    const d = await deltas(node, () => (out = ping(['-c', '40', '-i', '0.01', '-W', '1', '-q'])));
    assert.is(pingCounts(out).received, 40);
    const m = /\+(\d+) duplicates/.exec(out);
    assert.ok(m !== null, `no duplicates reported:\n${out}`);
    const dups = Number(m[1]);
    assert.ok(dups >= 8 && dups <= 32, `${dups} duplicates of 40`);
    // The kernel's count has every duplicate, a late one ping left unread too.
    assert.is(d.replies - 40, d.fault('fault_tx_duplicate'));
  });
});

t('rx delay 20 ms shows in every round-trip time', async () => {
  await withNode({ seed: 3, rx: { delayMs: 20 } }, async (node) => {
    let out = '';
    const d = await deltas(node, () => (out = ping(['-c', '5', '-i', '0.05', '-W', '2', '-q'])));
    assert.is(pingCounts(out).received, 5);
    const m = /= ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(out);
    assert.ok(m !== null, `no rtt summary:\n${out}`);
    assert.ok(Number(m[1]) >= 20, `min rtt ${m[1]} ms`);
    assert.ok(Number(m[3]) < 200, `max rtt ${m[3]} ms`);
    assert.is(d.fault('fault_rx_delay'), 5);
  });
});

t('tx delay with jitter and reordering still answers every request', async () => {
  await withNode({ seed: 4, tx: { delayMs: 5, jitterMs: 10, reorder: 0.2 } }, async (node) => {
    let out = '';
    const d = await deltas(node, () => (out = ping(['-c', '100', '-i', '0.002', '-W', '2', '-q'])));
    assert.is(pingCounts(out).received, 100);
    assert.is(d.replies, 100);
    assert.ok(d.fault('fault_tx_reorder') > 0);
    assert.is(d.fault('fault_tx_delay') + d.fault('fault_tx_reorder'), 100);
  });
});

t('rx corruption of every frame is caught downstream: (almost) no replies, the rest dropped with a reason', async () => {
  await withNode({ seed: 5, rx: { corrupt: 1 } }, async (node) => {
    let out = '';
    const d = await deltas(node, () => (out = ping(['-c', '40', '-i', '0.005', '-W', '1', '-q'])));
    const { sent, received } = pingCounts(out);
    assert.is(sent, 40);
    assert.is(d.fault('fault_rx_corrupt'), 40);
    // A flipped bit in the Ethernet addresses is no checksum's business (no FCS here): such
    // a request may still be answered; every other flip is dropped with a reason.
    assert.ok(received <= 8, `${received} corrupted requests answered`);
    assert.ok(d.drops >= 40 - received - 6, `${d.drops} drops for ${40 - received} unanswered`);
  });
});

t.run();
