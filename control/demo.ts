// `baton demo`, the main job on the embedded default: build the default lab,
// start a Baton node on its TAP attachment, drive real kernel traffic at it
// (ARP, ping, an echo flood), print the node's own account, tear it all down.
import { DEFAULT_LAB, Lab } from './lab.js';
import { apiRequest } from './api.js';
import type { NodeStatus } from './node.js';
import { startNodeProcess, type NodeProcess } from './node-process.js';

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

export async function runDemo(render: (s: NodeStatus) => string): Promise<number> {
  // A default lab left by an interrupted demo is ours by name: clear it first.
  Lab.remove(DEFAULT_LAB.name);
  const lab = Lab.up(DEFAULT_LAB);
  const target = lab.nodes[0]!;
  const config = {
    node: { id: 1, name: 'demo1' },
    port: { driver: `tap:${target.ifname}` },
    addresses: [`${target.ip}/24`],
    workers: 2,
  };
  let node: NodeProcess | null = null;
  try {
    say(`lab ${lab.spec.name}: segment ${lab.segNs}; clients ${lab.clients.map((c) => `${c.ns}=${c.ip}`).join(', ')}`);
    node = await startNodeProcess(config, lab.segNs);
    process.stdout.write(node.output());
    const client = lab.clients[0]!;
    const ping = lab.exec(client.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', target.ip]);
    say(`client ${client.ip} -> Baton ${target.ip}: ${ping.split('\n').find((l) => l.includes('transmitted'))?.trim()}`);
    say(`client neighbour table: ${lab.exec(client.ns, ['ip', 'neigh', 'show', target.ip]).trim()}`);
    const flood = lab.exec(client.ns, ['ping', '-f', '-l', '64', '-c', '20000', '-W', '1', '-q', target.ip], 60_000);
    say(`echo flood: ${flood.split('\n').find((l) => l.includes('transmitted'))?.trim()}`);
    say('\nthe node reports:');
    process.stdout.write(render(JSON.parse(await apiRequest(node.api, 'GET', '/status')) as NodeStatus));
    return 0;
  } finally {
    if (node !== null) {
      await node.stop();
      process.stdout.write(node.output().split('\n').filter((l) => l.includes('stopped')).map((l) => `${l}\n`).join(''));
    }
    lab.down();
    say(`lab ${lab.spec.name} removed`);
  }
}
