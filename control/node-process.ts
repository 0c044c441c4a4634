// A Baton node as a child process: `baton run` with a config written to a
// private temporary directory, optionally inside a network namespace, waited
// for until its API answers, and stopped by pid (SIGTERM, then SIGKILL).
// Used by the demo, the functional tests and the end-to-end benchmarks.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiRequest } from './api.js';
import { BatonError } from './errors.js';

const cli = fileURLToPath(new URL('./cli.js', import.meta.url));

export interface NodeProcess {
  readonly child: ChildProcess;
  /** The node's API socket (in the temporary directory). */
  readonly api: string;
  /** Everything the node printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, SIGKILL after 5 s; removes the temporary directory. Resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `baton run` with `config` (in namespace `ns` when given) and resolves once its API answers. */
export async function startNodeProcess(config: unknown, ns?: string, upWithinMs = 15_000): Promise<NodeProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-node-'));
  const api = join(dir, 'api.sock');
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const argv = [process.execPath, cli, 'run', '--config', file, '--api', api];
  const child = ns === undefined ? spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const node: NodeProcess = {
    child,
    api,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
      return child.exitCode;
    },
  };
  const deadline = Date.now() + upWithinMs;
  for (;;) {
    if (child.exitCode !== null) {
      await node.stop();
      throw new BatonError('BATON_ERR_NATIVE', `baton run exited with ${child.exitCode}:\n${out}`);
    }
    if (out.includes(' up on ')) {
      try {
        await apiRequest(api, 'GET', '/status', 1000);
        return node;
      } catch {
        // API not listening yet
      }
    }
    if (Date.now() > deadline) {
      await node.stop();
      throw new BatonError('BATON_ERR_NATIVE', `baton run did not come up in ${upWithinMs / 1000} s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
