// Functional-test harness: Baton nodes as real processes inside lab
// namespaces, driven like an operator would (config file, `baton run`, the
// API socket), and torn down by pid even when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { apiRequest } from '../../control/api.js';
import { Lab } from '../../control/lab.js';
import type { NodeStatus } from '../../control/node.js';
import { startNodeProcess } from '../../control/node-process.js';

const cli = fileURLToPath(new URL('../../control/cli.js', import.meta.url));

export interface RunningNode {
  readonly name: string;
  readonly api: string;
  readonly child: ChildProcess;
  output(): string;
  status(): Promise<NodeStatus>;
  post(path: string): Promise<string>;
  get(path: string): Promise<string>;
  /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) if (c.exitCode === null && c.pid !== undefined) c.kill('SIGKILL');
});

/** Runs `baton` with args inside namespace ns; resolves with its exit code and output. */
export function runCli(ns: string, args: readonly string[], timeoutMs = 20_000): Promise<{ code: number | null; out: string }> {
  return inNamespace(ns, [process.execPath, cli, ...args], timeoutMs);
}

/** Runs `argv` inside namespace ns (a client tool, say); resolves with its exit code and output; killed after timeoutMs or when the test process exits. */
export function inNamespace(ns: string, argv: readonly string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return Lab.run(ns, argv, timeoutMs, (child) => {
    live.add(child);
    child.once('exit', () => live.delete(child));
  });
}

/**
 * Starts `argv` inside namespace ns with a pipe to its stdin (a long-lived
 * client the test talks to) and its stdout and stderr piped; killed when the
 * test process exits.
 */
export function spawnInNamespace(ns: string, argv: readonly string[]): ChildProcess {
  const a = Lab.inNs(ns, argv);
  const child = spawn(a[0]!, a.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Starts `baton run` with `config` in namespace ns and waits until its API answers. */
export async function startNode(ns: string, config: Record<string, unknown>): Promise<RunningNode> {
  const p = await startNodeProcess(config, ns);
  live.add(p.child);
  p.child.once('exit', () => live.delete(p.child));
  return {
    name: String((config['node'] as { name: string }).name),
    api: p.api,
    child: p.child,
    output: p.output,
    status: async () => JSON.parse(await apiRequest(p.api, 'GET', '/status')) as NodeStatus,
    post: (path) => apiRequest(p.api, 'POST', path),
    get: (path) => apiRequest(p.api, 'GET', path),
    stop: p.stop,
  };
}

/** Parses `ping -q` output: transmitted and received counts. */
export function pingCounts(out: string): { sent: number; received: number } {
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  if (m === null) throw new Error(`no ping summary in:\n${out}`);
  return { sent: Number(m[1]), received: Number(m[2]) };
}

/**
 * A lab name for a suite: `base`, behind BATON_LAB_PREFIX when set, so two
 * people (or agents) running the same suite on one machine do not collide.
 * Lab names have at most 6 characters.
 */
export function labName(base: string): string {
  const name = `${process.env['BATON_LAB_PREFIX'] ?? ''}${base}`;
  if (name.length > 6) throw new Error(`lab name ${name}: BATON_LAB_PREFIX + ${base} is longer than 6 characters`);
  return name;
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Voluntary context switches of every thread of process `pid` (each one a wake from a park or a wait). */
export function voluntarySwitches(pid: number): number {
  let n = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      n += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // a thread that ended meanwhile
    }
  }
  return n;
}
