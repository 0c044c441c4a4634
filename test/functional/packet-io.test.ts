// Packet I/O end to end, for each back-end (TAP, AF_PACKET, DPDK net_tap): a kernel host in a lab namespace
// resolves the node's MAC and pings it; a flood of 100,000 echo requests is
// answered (or every loss is counted); no pool slot leaks; an idle node costs
// next to nothing; a worker thread that dies is restarted.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../../control/lab.js';
import { cpuSeconds, labName as prefixedLab, pingCounts, runCli, startNode, type RunningNode } from './harness.js';

const POOL = 4096;

function nodeConfig(name: string, driver: string, ip: string, workers: number): Record<string, unknown> {
  return { node: { id: 1, name }, port: { driver }, addresses: [`${ip}/24`], workers, pool: { slots: POOL }, rings: { rx: 512, tx: 512 } };
}

async function quiescentSlots(node: RunningNode): Promise<{ poolSlots: number; free: number; inRings: number; unaccounted: number }> {
  // Workers publish their free-slot gauge once per loop pass; give them a moment after the load.
  let s = (await node.status()).slots;
  for (let i = 0; i < 20 && s.unaccounted !== 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    s = (await node.status()).slots;
  }
  return s;
}

const ATTACH = { tap: 'tap', af_packet: 'veth', dpdk: 'none' } as const;

for (const backend of ['tap', 'af_packet', 'dpdk'] as const) {
  const t = suite(`packet-io over ${backend}`);
  const labBase = { tap: 'pio1', af_packet: 'pio2', dpdk: 'pio4' }[backend];
  const labName = prefixedLab(labBase);
  let lab: Lab;
  let node: RunningNode;

  t.before(async () => {
    assert.is(process.getuid?.(), 0, 'functional tests must run as root (CI does)');
    Lab.remove(labName);
    lab = Lab.up({ name: labName, clients: 1, nodes: [ATTACH[backend]], hub: false });
    // DPDK's net_tap virtual device creates its own TAP, which the lab then bridges in.
    const driver = backend === 'dpdk' ? 'dpdk:--vdev=net_tap0,iface=n1dtap' : `${backend}:${lab.nodes[0]!.ifname}`;
    node = await startNode(lab.segNs, nodeConfig(`${labName}n1`, driver, lab.nodes[0]!.ip, 2));
    if (backend === 'dpdk') lab.attach('n1dtap');
  });

  t.after(async () => {
    try {
      if (node !== undefined) await node.stop();
    } finally {
      lab?.down();
    }
  });

  t('a kernel host resolves the node MAC by ARP and gets echo replies', () => {
    const c = lab.clients[0]!;
    const out = lab.exec(c.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', lab.nodes[0]!.ip]);
    assert.equal(pingCounts(out), { sent: 3, received: 3 });
    const neigh = lab.exec(c.ns, ['ip', 'neigh', 'show', lab.nodes[0]!.ip]);
    assert.match(neigh, /lladdr 02:ba:70:00:00:01/);
  });

  t('100,000 echo requests are all answered or counted as dropped, and no slot leaks', async () => {
    const c = lab.clients[0]!;
    const before = (await node.status()).pollers[0]!;
    // -l 64 keeps 64 requests in flight: a flood that does not wait a round trip per packet.
    const out = lab.exec(c.ns, ['ping', '-f', '-l', '64', '-c', '100000', '-W', '1', '-q', lab.nodes[0]!.ip], 120_000);
    const { sent, received } = pingCounts(out);
    assert.is(sent, 100_000);
    const s = await node.status();
    const p = s.pollers[0]!;
    const counted =
      p.rx_drop_no_slot - before.rx_drop_no_slot +
      p.rx_drop_ring_full - before.rx_drop_ring_full +
      p.tx_drop_driver - before.tx_drop_driver;
    assert.ok(received + counted >= sent, `received ${received} + counted drops ${counted} < sent ${sent}`);
    assert.ok(p.rx_frames - before.rx_frames >= received, 'every reply was a received request');
    const slots = await quiescentSlots(node);
    assert.is(slots.unaccounted, 0, `slots: ${JSON.stringify(slots)}`);
    // TAP with offload adds large buffers (port.offload): each is one more unit that circulates.
    assert.is(slots.free + slots.inRings, slots.poolSlots);
    if (backend === 'tap') assert.ok(slots.poolSlots > POOL, 'large buffers');
    else assert.is(slots.poolSlots, POOL);
  });

  t('an idle node uses under 3 % of one core over 5 seconds', async () => {
    const pid = node.child.pid!;
    const a = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 5000));
    const used = cpuSeconds(pid) - a;
    assert.ok(used < 0.15, `idle node used ${(used / 5 * 100).toFixed(1)} % of a core`);
  });

  t('a worker thread that dies is restarted and the node keeps answering', async () => {
    await node.post('/debug/crash-worker?n=1');
    const deadline = Date.now() + 10_000;
    let st = await node.status();
    while ((st.workers[1]!.restarts < 1 || !st.workers[1]!.running) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      st = await node.status();
    }
    assert.is(st.workers[1]!.restarts, 1);
    assert.ok(st.workers[1]!.running);
    const out = lab.exec(lab.clients[0]!.ns, ['ping', '-f', '-l', '16', '-c', '2000', '-W', '1', '-q', lab.nodes[0]!.ip], 60_000);
    assert.is(pingCounts(out).received, 2000);
    assert.match(node.output(), /worker 1 died/);
  });

  t.run();
}

const errors = suite('packet-io configuration errors');
let elab: Lab;
errors.before(() => {
  Lab.remove(prefixedLab('pio3'));
  elab = Lab.up({ name: prefixedLab('pio3'), clients: 0, nodes: ['tap'], hub: false });
});
errors.after(() => elab?.down());

errors('a missing interface is a clear error, not a stack trace', async () => {
  const r = await runCli(elab.segNs, ['run', '--config', writeTemp(nodeConfig('e1', 'af_packet:nosuch0', '198.18.0.9', 1))]);
  assert.is(r.code, 1);
  assert.match(r.out, /af_packet:nosuch0: interface nosuch0 does not exist/);
  assert.match(r.out, /BATON_ERR_PORT/);
  assert.not.match(r.out, /at .*\.js:\d+/);
});

errors('a second node on a busy interface is refused', async () => {
  const first = await startNode(elab.segNs, nodeConfig('e2', `tap:${elab.nodes[0]!.ifname}`, '198.18.0.1', 1));
  try {
    const r = await runCli(elab.segNs, ['run', '--config', writeTemp(nodeConfig('e3', `tap:${elab.nodes[0]!.ifname}`, '198.18.0.1', 1))]);
    assert.is(r.code, 1);
    assert.match(r.out, /is busy/);
  } finally {
    await first.stop();
  }
});

errors('bad config names the key', async () => {
  const r = await runCli(elab.segNs, ['run', '--config', writeTemp({ node: { id: 1 }, port: { driver: 'tap:x' }, addresses: ['198.18.0.1'], wrokers: 2 })]);
  assert.is(r.code, 1);
  assert.match(r.out, /config wrokers: unknown key/);
});

errors.run();

function writeTemp(obj: unknown): string {
  const f = join(mkdtempSync(join(tmpdir(), 'baton-cfg-')), 'c.json');
  writeFileSync(f, JSON.stringify(obj));
  return f;
}
