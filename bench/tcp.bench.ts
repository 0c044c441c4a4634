// TCP end to end, Baton against the kernel in the same run, same client:
//   tcp.goodput_gbps          one curl download, Baton (1 worker) on TAP
//   tcp.goodput_kernel_gbps   the same download from a kernel TCP server (Node
//                             http) over a veth pair into another namespace
//   tcp.goodput_ratio_vs_kernel
//   tcp.goodput16_gbps        16 downloads at once from Baton
//   tcp.conn_per_s            wrk, `Connection: close` (a new connection per
//                             request, 1 KB responses), Baton and kernel, and
//   tcp.conn_per_s_per_core   Baton's rate per core of CPU its process used
//   tcp.conn_ratio_vs_kernel
// Every run is bounded in size and time; the figure is the median of samples.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../control/lab.js';
import { startNodeProcess, type NodeProcess } from '../control/node-process.js';
import { median, type Metric } from './metric.js';

/** BATON_LAB_PREFIX keeps concurrent runs (other branches' agents) apart: prefix + 'tcb' ≤ 6 characters. */
const LAB = `${process.env['BATON_LAB_PREFIX'] ?? ''}tcb`;
const FILE_MB = Number(process.env['BATON_BENCH_TCP_MB'] ?? 512);
const SAMPLES = Number(process.env['BATON_BENCH_TCP_SAMPLES'] ?? 3);
const WRK_SECONDS = 5;
const kernelHttp = fileURLToPath(new URL('./kernel-http.js', import.meta.url));

function makeFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  const chunk = randomBytes(1 << 20);
  for (let done = 0; done < bytes; done += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done));
  closeSync(fd);
}

function inNs(ns: string, args: string[], timeoutMs = 300_000): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 });
}

/** One curl download; returns Gbit/s of body bytes. */
function download(ns: string, url: string): number {
  const out = inNs(ns, ['curl', '-sf', '-m', '300', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', url]);
  const [bytes, secs] = out.trim().split(' ').map(Number) as [number, number];
  return (bytes * 8) / secs / 1e9;
}

/** n downloads at once; total Gbit/s over the wall time of all. */
function downloadMany(ns: string, url: string, n: number): number {
  const script = `for i in $(seq ${n}); do curl -sf -m 300 -o /dev/null -w '%{size_download}\\n' ${url} & done; wait`;
  const t0 = performance.now();
  const out = inNs(ns, ['sh', '-c', script]);
  const secs = (performance.now() - t0) / 1000;
  const bytes = out.trim().split('\n').reduce((a, l) => a + Number(l), 0);
  return (bytes * 8) / secs / 1e9;
}

/** wrk with a new connection per request; returns requests/s. */
function connRate(ns: string, url: string): number {
  const out = inNs(ns, ['wrk', '-t', '1', '-c', '32', '-d', `${WRK_SECONDS}s`, '-H', 'Connection: close', url], 60_000);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (m === null) throw new Error(`no wrk summary:\n${out}`);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
  if (errors !== null) process.stderr.write(`bench tcp: wrk reports ${errors[0]}\n`);
  return Number(m[1]);
}

function cpuSeconds(pid: number): number {
  const stat = execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' });
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export async function run(): Promise<Metric[]> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-www-'));
  makeFile(join(dir, 'big.bin'), FILE_MB << 20);
  makeFile(join(dir, 'part.bin'), 64 << 20);
  makeFile(join(dir, '1k.bin'), 1024);
  Lab.remove(LAB);
  const lab = Lab.up({ name: LAB, clients: 1, nodes: ['tap', 'veth'], hub: false });
  const kns = `bt${LAB}-k`;
  let node: NodeProcess | null = null;
  let kernel: ChildProcess | null = null;
  try {
    // The kernel reference: node 2's veth end moved into a namespace of its own.
    execFileSync('ip', ['netns', 'add', kns]);
    execFileSync('ip', ['-n', lab.segNs, 'link', 'set', lab.nodes[1]!.ifname, 'netns', kns]);
    execFileSync('ip', ['-n', kns, 'addr', 'add', `${lab.nodes[1]!.ip}/24`, 'dev', lab.nodes[1]!.ifname]);
    execFileSync('ip', ['-n', kns, 'link', 'set', lab.nodes[1]!.ifname, 'up']);
    execFileSync('ip', ['-n', kns, 'link', 'set', 'lo', 'up']);
    kernel = spawn('ip', ['netns', 'exec', kns, process.execPath, kernelHttp, lab.nodes[1]!.ip, '80', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      kernel!.stdout!.once('data', () => resolve());
      kernel!.once('exit', (c) => reject(new Error(`kernel http server exited ${c}`)));
    });
    node = await startNodeProcess({
      // BATON_BENCH_TCP_OFFLOAD=0: the same run without TAP segmentation offload (for before/after comparisons).
      node: { id: 1, name: `${LAB}n1` }, port: { driver: `tap:${lab.nodes[0]!.ifname}`, offload: process.env['BATON_BENCH_TCP_OFFLOAD'] !== '0' },
      addresses: [`${lab.nodes[0]!.ip}/24`],
      workers: 1, pool: { slots: 16384 }, rings: { rx: 2048, tx: 2048 },
      services: [{ app: 'http', ports: 80, options: { root: dir } }],
      tcp: { maxConnections: 65536, sendBuffer: 1 << 20, recvBuffer: 1 << 20 },
    }, lab.segNs);
    const c = lab.clients[0]!.ns;
    const baton = `http://${lab.nodes[0]!.ip}`;
    const kern = `http://${lab.nodes[1]!.ip}`;
    inNs(c, ['ping', '-c', '1', '-W', '5', lab.nodes[0]!.ip]);
    // Warm the page cache and both paths.
    download(c, `${baton}/part.bin`);
    download(c, `${kern}/part.bin`);
    const b: number[] = [];
    const k: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      b.push(download(c, `${baton}/big.bin`));
      k.push(download(c, `${kern}/big.bin`));
    }
    const b16 = downloadMany(c, `${baton}/part.bin`, 16);
    const k16 = downloadMany(c, `${kern}/part.bin`, 16);
    const cpu0 = cpuSeconds(node.child.pid!);
    const t0 = performance.now();
    const brate = connRate(c, `${baton}/1k.bin`);
    const cores = (cpuSeconds(node.child.pid!) - cpu0) / ((performance.now() - t0) / 1000);
    const krate = connRate(c, `${kern}/1k.bin`);
    const gb = median(b);
    const gk = median(k);
    process.stderr.write(`bench tcp: baton ${b.map((x) => x.toFixed(2)).join(' ')} Gbit/s, kernel ${k.map((x) => x.toFixed(2)).join(' ')} Gbit/s; ` +
      `16 streams ${b16.toFixed(2)} / ${k16.toFixed(2)}; conn/s ${brate.toFixed(0)} on ${cores.toFixed(2)} cores / kernel ${krate.toFixed(0)}\n`);
    return [
      { name: 'tcp.goodput_gbps', unit: 'Gbit/s', value: gb, hz: gb, samples: SAMPLES, goal: 'report' },
      { name: 'tcp.goodput_kernel_gbps', unit: 'Gbit/s', value: gk, hz: gk, samples: SAMPLES, goal: 'reference' },
      { name: 'tcp.goodput_ratio_vs_kernel', unit: 'ratio', value: gb / gk, hz: 0, samples: SAMPLES, goal: '>= 0.5' },
      { name: 'tcp.goodput16_gbps', unit: 'Gbit/s', value: b16, hz: b16, samples: 1, goal: 'report' },
      { name: 'tcp.goodput16_kernel_gbps', unit: 'Gbit/s', value: k16, hz: k16, samples: 1, goal: 'reference' },
      { name: 'tcp.conn_per_s', unit: 'conn/s', value: brate, hz: brate, samples: 1, goal: '' },
      { name: 'tcp.conn_per_s_per_core', unit: 'conn/s/core', value: brate / Math.max(cores, 0.01), hz: brate, samples: 1, goal: '>= 20000' },
      { name: 'tcp.conn_per_s_kernel', unit: 'conn/s', value: krate, hz: krate, samples: 1, goal: 'reference' },
      { name: 'tcp.conn_ratio_vs_kernel', unit: 'ratio', value: brate / krate, hz: 0, samples: 1, goal: '>= 0.5' },
    ];
  } finally {
    if (node !== null) await node.stop();
    if (kernel !== null && kernel.exitCode === null) kernel.kill('SIGTERM');
    try {
      execFileSync('ip', ['netns', 'del', kns]);
    } catch {
      // not created
    }
    lab.down();
    rmSync(dir, { recursive: true, force: true });
  }
}
