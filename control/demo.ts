// `baton demo`, the main job on the embedded default: build the default lab,
// start a Baton node on its TAP attachment, drive real kernel traffic at it
// (ARP, ping, an echo flood), print the node's own account, tear it all down.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LAB, Lab } from './lab.js';
import { apiRequest } from './api.js';
import type { NodeStatus } from './node.js';

const cli = fileURLToPath(new URL('./cli.js', import.meta.url));

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

export async function runDemo(render: (s: NodeStatus) => string): Promise<number> {
  // A default lab left by an interrupted demo is ours by name: clear it first.
  Lab.remove(DEFAULT_LAB.name);
  const lab = Lab.up(DEFAULT_LAB);
  const dir = mkdtempSync(join(tmpdir(), 'baton-demo-'));
  const api = join(dir, 'api.sock');
  const target = lab.nodes[0]!;
  const config = {
    node: { id: 1, name: 'demo1' },
    port: { driver: `tap:${target.ifname}` },
    addresses: [`${target.ip}/24`],
    workers: 2,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const child = spawn('ip', ['netns', 'exec', lab.segNs, process.execPath, cli, 'run', '--config', join(dir, 'config.json'), '--api', api], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    say(`lab ${lab.spec.name}: segment ${lab.segNs}; clients ${lab.clients.map((c) => `${c.ns}=${c.ip}`).join(', ')}`);
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await apiRequest(api, 'GET', '/status', 1000);
        break;
      } catch (err) {
        if (child.exitCode !== null || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const client = lab.clients[0]!;
    const ping = lab.exec(client.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', target.ip]);
    say(`client ${client.ip} -> Baton ${target.ip}: ${ping.split('\n').find((l) => l.includes('transmitted'))?.trim()}`);
    say(`client neighbour table: ${lab.exec(client.ns, ['ip', 'neigh', 'show', target.ip]).trim()}`);
    const flood = lab.exec(client.ns, ['ping', '-f', '-l', '64', '-c', '20000', '-W', '1', '-q', target.ip], 60_000);
    say(`echo flood: ${flood.split('\n').find((l) => l.includes('transmitted'))?.trim()}`);
    say('\nthe node reports:');
    process.stdout.write(render(JSON.parse(await apiRequest(api, 'GET', '/status')) as NodeStatus));
    return 0;
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    lab.down();
    rmSync(dir, { recursive: true, force: true });
    say(`lab ${lab.spec.name} removed`);
  }
}
