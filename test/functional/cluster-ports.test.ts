// One address split by port range across two Baton nodes: node 1 holds
// 198.18.0.10 ports 0-7000, node 2 ports 7001-65535, both run a TCP echo
// service on 7000 and 7001 (multicast ARP policy: the client's frames for the
// address reach both nodes). Each node answers TCP only for the ports of the
// units it holds, and the other drops the rest without an RST; ICMP echo is
// the port-0 holder's. kill -9 node 1: node 2 takes its range over (the
// failover policy assigns the unit) and answers on 7000 and ICMP too.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../../control/lab.js';
import type { NodeStatus } from '../../control/node.js';
import { labName, pingCounts, startNode, type RunningNode } from './harness.js';

const KEY = '9047a11e9047a11e9047a11e9047a11e';
const LAB = labName('clp');
const ADDRESS = '198.18.0.10';
const RANGES: Record<number, [number, number]> = { 1: [0, 7000], 2: [7001, 65535] };

function config(lab: Lab, id: number): Record<string, unknown> {
  const n = lab.nodes[id - 1]!;
  return {
    node: { id, name: `${LAB}n${id}` }, port: { driver: `tap:${n.ifname}` }, addresses: [`${ADDRESS}/24`], workers: 1,
    pool: { slots: 4096 }, rings: { rx: 512, tx: 512 },
    services: [{ app: 'echo', ports: [7000, 7001] }],
    cluster: { peers: [3 - id], key: KEY, arp: 'multicast', ports: RANGES[id] },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const t = suite('cluster: one address split by port range over two nodes');
let lab: Lab;
const nodes = new Map<number, RunningNode>();

async function until(what: string, cond: () => Promise<boolean>, withinMs = 5000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(25);
  }
}

async function units(id: number): Promise<string> {
  return [...(await nodes.get(id)!.status()).answeringUnits].sort().join(' ');
}

const ECHO = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
msg = ('hello ' + sys.argv[2]).encode()
s.sendall(msg)
got = b''
while len(got) < len(msg):
    d = s.recv(100)
    if not d: break
    got += d
s.close()
print(got.decode())
`;

function echo(port: number): string {
  try {
    return lab.exec(lab.clients[0]!.ns, ['python3', '-c', ECHO, ADDRESS, String(port)], 10_000).trim();
  } catch (err) {
    return `failed: ${(err as Error).message}`;
  }
}

function ping(count = 5): { sent: number; received: number; dups: number } {
  let out: string;
  try {
    out = lab.exec(lab.clients[0]!.ns, ['ping', '-n', '-c', String(count), '-i', '0.1', '-W', '1', ADDRESS]);
  } catch (err) {
    out = String((err as Error).message);
  }
  return { ...pingCounts(out), dups: (out.match(/DUP!/g) ?? []).length };
}

async function tcp(id: number): Promise<Record<string, number>> {
  return (await nodes.get(id)!.status()).tcp;
}

t.before(async () => {
  assert.is(process.getuid?.(), 0, 'functional tests must run as root (CI does)');
  Lab.remove(LAB);
  lab = Lab.up({ name: LAB, clients: 1, nodes: ['tap', 'tap'], hub: false });
  for (const id of [1, 2]) nodes.set(id, await startNode(lab.segNs, config(lab, id)));
});

t.after(async () => {
  try {
    for (const n of nodes.values()) await n.stop();
  } finally {
    lab?.down();
  }
});

t('each node holds its own port range of the shared address', async () => {
  await until('node 1 holds 0-7000 and node 2 7001-65535', async () =>
    (await units(1)) === `${ADDRESS}:0-7000` && (await units(2)) === `${ADDRESS}:7001-65535`);
  const s = (await nodes.get(1)!.status()).cluster!;
  assert.equal(s.claims.map((c) => [c.lo, c.hi, c.home, c.holder]), [[0, 7000, 1, 1], [7001, 65535, 2, 2]]);
});

t('TCP: port 7000 is answered by node 1 only, port 7001 by node 2 only; neither resets the other’s connections', async () => {
  const before = new Map<number, Record<string, number>>([[1, await tcp(1)], [2, await tcp(2)]]);
  assert.is(echo(7000), 'hello 7000');
  assert.is(echo(7001), 'hello 7001');
  const after = new Map<number, Record<string, number>>([[1, await tcp(1)], [2, await tcp(2)]]);
  const d = (id: number, k: string): number => after.get(id)![k]! - before.get(id)![k]!;
  assert.is(d(1, 'passive_opens'), 1, 'node 1 accepted the connection to 7000');
  assert.is(d(2, 'passive_opens'), 1, 'node 2 accepted the connection to 7001');
  assert.is(d(1, 'rst_sent') + d(2, 'rst_sent'), 0, 'no RST from the node that does not hold the port');
});

t('ICMP echo to the split address is answered once, by the holder of port 0', async () => {
  const s1 = (await nodes.get(1)!.status()) as NodeStatus;
  assert.equal(ping(), { sent: 5, received: 5, dups: 0 });
  const s1b = await nodes.get(1)!.status();
  assert.ok(s1b.endpoints.reduce((a, e) => a + e.tx_frames, 0) >= s1.endpoints.reduce((a, e) => a + e.tx_frames, 0) + 5, 'node 1 sent the replies');
});

t('kill -9 node 1: node 2 takes its port range and answers on 7000 and for ICMP', async () => {
  nodes.get(1)!.child.kill('SIGKILL');
  await until('node 2 holds both ranges', async () => (await units(2)) === `${ADDRESS}:0-7000 ${ADDRESS}:7001-65535`, 3000);
  await nodes.get(1)!.stop();
  nodes.delete(1);
  const claim = (await nodes.get(2)!.status()).cluster!.claims.find((c) => c.lo === 0)!;
  assert.is(claim.holder, 2);
  assert.is(claim.home, 1);
  assert.is(claim.reason, 1 /* Takeover */);
  assert.is(echo(7000), 'hello 7000');
  assert.is(echo(7001), 'hello 7001');
  assert.equal(ping(), { sent: 5, received: 5, dups: 0 });
});

t.run();
