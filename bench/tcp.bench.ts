// TCP end to end, Baton against the kernel in the same run, same client:
//   tcp.goodput_gbps          one curl download, Baton (1 worker) on TAP
//   tcp.goodput_kernel_gbps   the same download from a kernel TCP server (Node
//                             http) over a veth pair into another namespace
//   tcp.goodput_ratio_vs_kernel
//   tcp.goodput16_gbps        16 downloads at once from Baton
//   tcp.conn_per_s            wrk, `Connection: close` (a new connection per
//                             request, 1 KB responses) against Baton, and
//   tcp.conn_per_s_per_core   Baton's rate per core of CPU its process used
//                             (process CPU time over the run, not wall time:
//                             wrk shares the same cores)
//   tcp.conn_per_s_kernel     the same wrk run against nginx (Debian's
//                             nginx-light, one worker process, same file) on
//                             the kernel's TCP over veth, and
//   tcp.conn_per_s_kernel_per_core  nginx's rate per core of CPU it used
//   tcp.conn_ratio_vs_kernel  Baton's conn/s over nginx's
//   tcp.conn_per_s_kernel_node  the old, weaker reference (Node's http module)
// Baton and nginx runs alternate, after one uncounted 2 s run each; each
// conn figure is the median of BATON_BENCH_TCP_CONN_SAMPLES runs (default 5). BATON_BENCH_TCP_PARTS=conn
// runs only the connection-rate part (skips the downloads).
// Every run is bounded in size and time; the figure is the median of samples.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../control/lab.js';
import { startNodeProcess, type NodeProcess } from '../control/node-process.js';
import { median, type Metric } from './metric.js';
import { requireNginxAndWrk, startNginx, type Nginx } from './kernel-nginx.js';

/** BATON_LAB_PREFIX keeps concurrent runs (other branches' agents) apart: prefix + 'tcb' ≤ 6 characters. */
const LAB = `${process.env['BATON_LAB_PREFIX'] ?? ''}tcb`;
const FILE_MB = Number(process.env['BATON_BENCH_TCP_MB'] ?? 512);
const SAMPLES = Number(process.env['BATON_BENCH_TCP_SAMPLES'] ?? 3);
const CONN_SAMPLES = Number(process.env['BATON_BENCH_TCP_CONN_SAMPLES'] ?? 5);
const PARTS = process.env['BATON_BENCH_TCP_PARTS'] ?? 'all';
const WRK_SECONDS = 5;
const NGINX_PORT = 8080;
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
function connRate(ns: string, url: string, seconds = WRK_SECONDS): number {
  const out = inNs(ns, ['wrk', '-t', '1', '-c', '32', '-d', `${seconds}s`, '-H', 'Connection: close', url], 60_000);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (m === null) throw new Error(`no wrk summary:\n${out}`);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
  if (errors !== null) process.stderr.write(`bench tcp: wrk reports ${errors[0]}\n`);
  return Number(m[1]);
}

function bridgeNetfilterOff(ns: string): void {
  for (const key of ['iptables', 'ip6tables', 'arptables']) {
    try {
      execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.bridge.bridge-nf-call-${key}=0`], { stdio: 'ignore' });
    } catch {
      // br_netfilter not loaded: nothing to turn off
    }
  }
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** One wrk run; returns conn/s and the cores `cpu` (CPU seconds so far) went up by per second of wall time. */
function measuredRate(ns: string, url: string, cpu: () => number): { rate: number; cores: number } {
  const cpu0 = cpu();
  const t0 = performance.now();
  const rate = connRate(ns, url);
  const cores = (cpu() - cpu0) / ((performance.now() - t0) / 1000);
  return { rate, cores };
}

/** CPU seconds per thread name of a process (poller, worker, main, libuv…), for where Baton's time goes. */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
  }
  return out;
}

function cpuSeconds(pid: number): number {
  const stat = execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' });
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export async function run(): Promise<Metric[]> {
  requireNginxAndWrk();
  const downloads = PARTS !== 'conn';
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-www-'));
  if (downloads) {
    makeFile(join(dir, 'big.bin'), FILE_MB << 20);
    makeFile(join(dir, 'part.bin'), 64 << 20);
  }
  makeFile(join(dir, '1k.bin'), 1024);
  Lab.remove(LAB);
  const lab = Lab.up({ name: LAB, clients: 1, nodes: ['tap', 'veth'], hub: false });
  // The lab's bridge runs every frame through iptables hooks when the host has
  // br_netfilter loaded (bridge-nf-call-*, per namespace), with no rules to
  // apply: about a fifth of the CPU spent writing a frame into the TAP went
  // there, charged to the process that writes — Baton's poller, and nginx
  // for its own replies. Both paths cross this bridge; the bench turns the
  // hooks off in the segment namespace for both (BATON_BENCH_TCP_BRNF=1 keeps them).
  if (process.env['BATON_BENCH_TCP_BRNF'] !== '1') bridgeNetfilterOff(lab.segNs);
  const kns = `bt${LAB}-k`;
  let node: NodeProcess | null = null;
  let kernel: ChildProcess | null = null;
  let nginx: Nginx | null = null;
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
    nginx = await startNginx(kns, lab.nodes[1]!.ip, NGINX_PORT, dir);
    node = await startNodeProcess({
      // BATON_BENCH_TCP_OFFLOAD=0: the same run without TAP segmentation offload (for before/after comparisons).
      // BATON_BENCH_TCP_SPIN_US: the node's port.spinUs (idle spin before parking), for before/after comparisons.
      node: { id: 1, name: `${LAB}n1` }, port: { driver: `tap:${lab.nodes[0]!.ifname}`, offload: process.env['BATON_BENCH_TCP_OFFLOAD'] !== '0',
        ...(process.env['BATON_BENCH_TCP_SPIN_US'] !== undefined ? { spinUs: Number(process.env['BATON_BENCH_TCP_SPIN_US']) } : {}) },
      addresses: [`${lab.nodes[0]!.ip}/24`],
      workers: 1, pool: { slots: 16384 }, rings: { rx: 2048, tx: 2048 },
      services: [{ app: 'http', ports: 80, options: { root: dir } }],
      // BATON_BENCH_TCP_SNDBUF_MAX: tcp.sendBufferMax (send-buffer autotuning; 1048576 turns it off here), for before/after comparisons.
      tcp: { maxConnections: 65536, sendBuffer: 1 << 20, recvBuffer: 1 << 20,
        ...(process.env['BATON_BENCH_TCP_SNDBUF_MAX'] !== undefined ? { sendBufferMax: Number(process.env['BATON_BENCH_TCP_SNDBUF_MAX']) } : {}) },
    }, lab.segNs);
    const c = lab.clients[0]!.ns;
    const baton = `http://${lab.nodes[0]!.ip}`;
    const kern = `http://${lab.nodes[1]!.ip}`;
    const ngx = `http://${lab.nodes[1]!.ip}:${NGINX_PORT}`;
    inNs(c, ['ping', '-c', '1', '-W', '5', lab.nodes[0]!.ip]);
    const metrics: Metric[] = [];
    if (downloads) {
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
      const gb = median(b);
      const gk = median(k);
      process.stderr.write(`bench tcp: baton ${b.map((x) => x.toFixed(2)).join(' ')} Gbit/s, kernel ${k.map((x) => x.toFixed(2)).join(' ')} Gbit/s; ` +
        `16 streams ${b16.toFixed(2)} / ${k16.toFixed(2)}\n`);
      metrics.push(
        { name: 'tcp.goodput_gbps', unit: 'Gbit/s', value: gb, hz: gb, samples: SAMPLES, goal: 'report' },
        { name: 'tcp.goodput_kernel_gbps', unit: 'Gbit/s', value: gk, hz: gk, samples: SAMPLES, goal: 'reference' },
        { name: 'tcp.goodput_ratio_vs_kernel', unit: 'ratio', value: gb / gk, hz: 0, samples: SAMPLES, goal: '>= 0.5' },
        { name: 'tcp.goodput16_gbps', unit: 'Gbit/s', value: b16, hz: b16, samples: 1, goal: 'report' },
        { name: 'tcp.goodput16_kernel_gbps', unit: 'Gbit/s', value: k16, hz: k16, samples: 1, goal: 'reference' },
      );
    }

    // Connection rate: Baton and nginx alternate, same client, same wrk settings.
    const batonPid = node.child.pid!;
    const ngxRef = nginx;
    // One uncounted run each first: the first sample of a fresh node ran its
    // code cold (the worker's JIT; the control thread spent 0.4 s of 5 s).
    connRate(c, `${baton}/1k.bin`, 2);
    connRate(c, `${ngx}/1k.bin`, 2);
    const load0 = loadAverage();
    const br: number[] = [];
    const bc: number[] = [];
    const nr: number[] = [];
    const nc: number[] = [];
    for (let i = 0; i < CONN_SAMPLES; i++) {
      const threads0 = threadCpu(batonPid);
      const bm = measuredRate(c, `${baton}/1k.bin`, () => cpuSeconds(batonPid));
      const threads = [...threadCpu(batonPid)].map(([n, s]) => [n, s - (threads0.get(n) ?? 0)] as const).filter(([, s]) => s > 0.05);
      const nm = measuredRate(c, `${ngx}/1k.bin`, () => ngxRef.cpuSeconds());
      br.push(bm.rate);
      bc.push(bm.rate / Math.max(bm.cores, 0.01));
      nr.push(nm.rate);
      nc.push(nm.rate / Math.max(nm.cores, 0.01));
      process.stderr.write(`bench tcp: conn/s baton ${bm.rate.toFixed(0)} on ${bm.cores.toFixed(2)} cores ` +
        `(${(bm.rate / Math.max(bm.cores, 0.01)).toFixed(0)}/core), nginx ${nm.rate.toFixed(0)} on ${nm.cores.toFixed(2)} cores ` +
        `(${(nm.rate / Math.max(nm.cores, 0.01)).toFixed(0)}/core); load ${loadAverage()}; ` +
        `baton threads (CPU s over ${WRK_SECONDS} s): ${threads.map(([n, s]) => `${n} ${s.toFixed(2)}`).join(', ')}\n`);
    }
    const nodeRate = connRate(c, `${kern}/1k.bin`);
    const brate = median(br);
    const krate = median(nr);
    const ratios = br.map((x, i) => x / nr[i]!);
    process.stderr.write(`bench tcp: conn/s medians baton ${brate.toFixed(0)} (${median(bc).toFixed(0)}/core), ` +
      `nginx ${krate.toFixed(0)} (${median(nc).toFixed(0)}/core), ratio ${median(ratios).toFixed(2)}, ` +
      `node http ${nodeRate.toFixed(0)}; load before ${load0}, after ${loadAverage()}\n`);
    metrics.push(
      { name: 'tcp.conn_per_s', unit: 'conn/s', value: brate, hz: brate, samples: CONN_SAMPLES, goal: '' },
      { name: 'tcp.conn_per_s_per_core', unit: 'conn/s/core', value: median(bc), hz: brate, samples: CONN_SAMPLES, goal: '>= 20000' },
      { name: 'tcp.conn_per_s_kernel', unit: 'conn/s', value: krate, hz: krate, samples: CONN_SAMPLES, goal: 'reference (nginx)' },
      { name: 'tcp.conn_per_s_kernel_per_core', unit: 'conn/s/core', value: median(nc), hz: krate, samples: CONN_SAMPLES, goal: 'reference (nginx)' },
      { name: 'tcp.conn_ratio_vs_kernel', unit: 'ratio', value: median(ratios), hz: 0, samples: CONN_SAMPLES, goal: '>= 0.5' },
      { name: 'tcp.conn_per_s_kernel_node', unit: 'conn/s', value: nodeRate, hz: nodeRate, samples: 1, goal: 'reference (Node http)' },
    );
    return metrics;
  } finally {
    if (node !== null) await node.stop();
    if (nginx !== null) await nginx.stop();
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
