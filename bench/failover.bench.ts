// Transparent failover (service modes snoop and mirror), end to end in the
// lab with a kernel client:
//   failover.stall_ms_p50 / _p99 — per connection, the longest gap in the
//     client's received echo stream during a trial in which the primary is
//     killed (-9) at a seeded random moment (normal gaps are a few ms);
//   failover.trials, failover.resets (connections that saw a reset or any
//     error), failover.byte_errors (connections that received a wrong, missing
//     or extra byte) — summed over every trial of both modes;
//   failover.takeover_ms_p50 / _p99 — per trial, from the kill until the
//     backup's status says it answers for the address (polled every 10 ms):
//     with the stalls, it tells a slow takeover (all of a trial's streams
//     wait for it) from a stream that stalls alone; every trial whose
//     longest stall passes 100 ms is printed with both, and with how late
//     the bench's own timers ran (a host stall), BATON_BENCH_VERBOSE every
//     trial;
//   failover.overhead_goodput_ratio (snoop) and
//   failover.mirror.overhead_goodput_ratio — one curl download's goodput with
//     the backup shadowing it, divided by the same with no backup running.
//     The primary and the client run on CPU 0, the backup on CPU 1, as if on
//     its own machine; *_shared_cpu is the same with every process free to
//     run on both cores. Measured in short rounds (with the backup, then
//     without, then the next round the other way round): this host's speed
//     drifts by a factor of two within minutes, and a ratio taken within a
//     round of a few seconds cancels it; the metric is the median of the
//     rounds' ratios.
// Bounded by count and time; the seed is printed so a run can be replayed.
// BATON_BENCH_FAILOVER_TRIALS=0 measures only the two overhead ratios (no
// kills); BATON_BENCH_FAILOVER_MODES=snoop|mirror runs one mode;
// BATON_BENCH_FAILOVER_ROUNDS sets the rounds (default 6),
// BATON_BENCH_FAILOVER_RUNS the downloads per phase (default 3),
// BATON_BENCH_FAILOVER_WARMUP the uncounted ones after the backup starts
// (default 5: with one, the with-backup goodput still rose over the next
// five, 4.5 -> 12 Gbit/s); every phase begins with one more uncounted.
// BATON_LAB_PREFIX keeps concurrent runs apart.
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../control/lab.js';
import { apiRequest } from '../control/api.js';
import { startNodeProcess, type NodeProcess } from '../control/node-process.js';
import { SHADOW_SPIN_US, type NodeStatus } from '../control/node.js';
import { SeededRandom } from '../test/unit/net/seeded-random.js';
import { median, type Metric } from './metric.js';
import { percentile } from './cluster.bench.js';

const KEY = 'f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0';
const TRIALS = Number(process.env['BATON_BENCH_FAILOVER_TRIALS'] ?? 50);
const TIME_LIMIT_MS = Number(process.env['BATON_BENCH_FAILOVER_MS'] ?? 300_000);
const CONNS = 4;
const ROUNDS = Number(process.env['BATON_BENCH_FAILOVER_ROUNDS'] ?? 6);
const RUNS = Number(process.env['BATON_BENCH_FAILOVER_RUNS'] ?? 3);
/** Uncounted downloads after the backup starts (its shadow code starts cold; it warms over a few 200 MB downloads). */
const WARMUP = Number(process.env['BATON_BENCH_FAILOVER_WARMUP'] ?? 5);
const MODES = (process.env['BATON_BENCH_FAILOVER_MODES'] ?? 'snoop,mirror').split(',');
const PREFIX = process.env['BATON_LAB_PREFIX'] ?? '';
const VERBOSE = process.env['BATON_BENCH_VERBOSE'] !== undefined;
const echoStream = fileURLToPath(new URL('../test/functional/clients/echo-stream.js', import.meta.url));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


interface ModeResult {
  stalls: number[];
  /** Per trial: from the kill until the backup answers for the address (its status), ms; NaN: not within 5 s. */
  takeovers: number[];
  trials: number;
  resets: number;
  byteErrors: number;
  overhead: number;
  overheadShared: number;
}

async function runMode(mode: 'snoop' | 'mirror', trials: number, rnd: SeededRandom, www: string, deadline: number): Promise<ModeResult> {
  const name = `${PREFIX}${mode === 'snoop' ? 'fos' : 'fom'}`;
  Lab.remove(name);
  const lab = Lab.up({ name, clients: 1, nodes: ['tap', 'tap'], hub: mode === 'snoop' });
  const a1 = lab.nodes[0]!.ip;
  // Node 1's pollers spin SHADOW_SPIN_US before parking in every phase: with node 2
  // up it shadows node 2's address and spins that long anyway (control/node.ts
  // shadowSpin), which speeds its own download up (fewer wakes); without this
  // the ratio would count that gain against the backup's cost.
  const config = (id: number): Record<string, unknown> => ({
    node: { id, name: `${name}n${id}` }, port: { driver: `tap:${lab.nodes[id - 1]!.ifname}`, ...(id === 1 ? { spinUs: SHADOW_SPIN_US } : {}) },
    addresses: [`${lab.nodes[id - 1]!.ip}/24`],
    workers: 1, pool: { slots: 8192 }, rings: { rx: 1024, tx: 1024 },
    services: [{ app: 'echo', ports: 7, mode }, { app: 'http', ports: 80, mode, options: { root: www } }],
    tcp: { timeWaitMs: 1000 }, cluster: { peers: [3 - id], key: KEY },
  });
  const nodes = new Map<number, NodeProcess>();
  const status = async (id: number): Promise<NodeStatus | null> => {
    try {
      return JSON.parse(await apiRequest(nodes.get(id)!.api, 'GET', '/status')) as NodeStatus;
    } catch {
      return null;
    }
  };
  const settled = async (backup: boolean): Promise<void> => {
    const until = Date.now() + 20_000;
    for (;;) {
      const s1 = await status(1);
      const s2 = backup ? await status(2) : null;
      if (s1 !== null && s1.answering.includes(a1) && (!backup || (s2 !== null && s2.cluster!.snoop.shadow.some((x) => x.ip === a1)))) return;
      if (Date.now() > until) throw new Error(`failover bench (${mode}): the cluster did not settle`);
      await sleep(25);
    }
  };
  // A download that fails (a stall: on this shared machine a starved node is
  // sometimes declared failed, and the takeover that follows is no kill
  // trial) counts with the goodput it reached; the median absorbs one.
  // `pinned`: curl on CPU 0, with the primary.
  const goodput = async (pinned: boolean): Promise<number> => {
    const curl = ['curl', '-sS', '--fail', '--max-time', '30', '-o', '/dev/null', '-w', '%{speed_download}\n', `http://${a1}/200m.bin`];
    const r = await Lab.run(lab.clients[0]!.ns, pinned ? ['taskset', '-c', '0', ...curl] : curl, 40_000);
    const speed = Number(/^([0-9.]+)$/m.exec(r.out)?.[1] ?? 0);
    if (r.code !== 0) process.stderr.write(`bench failover ${mode}: a download failed (${r.out.trim().replace(/\s+/g, ' ')}); counted at ${((speed * 8) / 1e9).toFixed(2)} Gbit/s\n`);
    return (speed * 8) / 1e9;
  };
  const res: ModeResult = { stalls: [], takeovers: [], trials: 0, resets: 0, byteErrors: 0, overhead: 0, overheadShared: 0 };
  try {
    nodes.set(1, await startNodeProcess(config(1), lab.segNs));
    nodes.set(2, await startNodeProcess(config(2), lab.segNs));
    await settled(true);
    // Where the nodes run. Pinned: the primary and the client on CPU 0, the
    // backup on CPU 1 — the backup as deployed, on its own machine, and only
    // what it costs the primary's side shows (in snoop mode the kernel
    // bridge's copy of every frame to the backup's TAP, in mirror mode the
    // primary's copies). At SCHED_IDLE the backup stood in for that before,
    // but took the idle moments the latency-bound download would have used,
    // and the scheduler's placement made one download 10 Gbit/s and the next
    // 20 (pinned they agree within 10 %). Unpinned: both nodes share both
    // cores, the *_shared_cpu figure.
    const place = (pinned: boolean): void => {
      for (const [id, n] of nodes) {
        const pid = n.child.pid;
        if (pid === undefined) throw new Error(`failover bench: node ${id} has no pid`);
        const r = spawnSync('taskset', ['-a', '-p', pinned ? String(id) : '3', String(pid)], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`failover bench: taskset failed: ${r.stderr}`);
      }
    };
    // One uncounted download first in each phase (the placement just
    // changed, the backup just stopped), RUNS counted.
    const phase = async (pinned: boolean): Promise<number> => {
      place(pinned);
      await goodput(pinned);
      const xs: number[] = [];
      for (let i = 0; i < RUNS; i++) xs.push(await goodput(pinned));
      return median(xs);
    };
    // WARMUP downloads, not counted, after the backup (re)starts: its shadow
    // code is compiled cold, and the phase after a start alone paid for it.
    const warm = async (): Promise<void> => {
      for (let i = 0; i < WARMUP; i++) await goodput(false);
    };
    await warm();
    // Rounds forwards (pinned and shared with the backup; it stops; shared
    // and pinned alone) and backwards in turn: the backup stops at the end
    // of one round and starts in the middle of the next.
    const pinnedRatios: number[] = [];
    const sharedRatios: number[] = [];
    const rows: string[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let withPinned: number;
      let withShared: number;
      let alonePinned: number;
      let aloneShared: number;
      if (r % 2 === 0) {
        withPinned = await phase(true);
        withShared = await phase(false);
        await nodes.get(2)!.stop();
        nodes.delete(2);
        await sleep(200);
        aloneShared = await phase(false);
        alonePinned = await phase(true);
      } else {
        alonePinned = await phase(true);
        aloneShared = await phase(false);
        nodes.set(2, await startNodeProcess(config(2), lab.segNs));
        await settled(true);
        await warm();
        withShared = await phase(false);
        withPinned = await phase(true);
      }
      pinnedRatios.push(withPinned / alonePinned);
      sharedRatios.push(withShared / aloneShared);
      rows.push(`${alonePinned.toFixed(1)}/${withPinned.toFixed(1)} ${aloneShared.toFixed(1)}/${withShared.toFixed(1)}`);
    }
    if (ROUNDS % 2 === 1) {
      // The last round stopped the backup: it runs again for the kill trials.
      nodes.set(2, await startNodeProcess(config(2), lab.segNs));
      await settled(true);
    }
    place(false);
    res.overhead = median(pinnedRatios);
    res.overheadShared = median(sharedRatios);
    const span = (xs: number[]): string => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
    process.stderr.write(`bench failover ${mode}: ${ROUNDS} rounds, Gbit/s alone/with pinned, alone/with shared: ${rows.join(', ')}; ` +
      `ratio pinned ${res.overhead.toFixed(2)} (rounds ${span(pinnedRatios)}), ` +
      `sharing the cores ${res.overheadShared.toFixed(2)} (rounds ${span(sharedRatios)})\n`);
    while (res.trials < trials && Date.now() < deadline) {
      const client = Lab.run(lab.clients[0]!.ns, [process.execPath, echoStream, a1, '7', String(CONNS), '500000', '250000', '30000'], 40_000);
      await sleep(300 + rnd.int(1200));
      // This process's own timer lateness over the trial: a host stall shows here too.
      let lag = 0;
      let tick = performance.now();
      const lagTimer = setInterval(() => {
        const t = performance.now();
        lag = Math.max(lag, t - tick - 10);
        tick = t;
      }, 10);
      nodes.get(1)!.child.kill('SIGKILL');
      const killed = performance.now();
      // The takeover: until node 2 answers for a1 (its status, every 10 ms).
      let takeover = NaN;
      while (performance.now() - killed < 5000) {
        const s2 = await status(2);
        if (s2 !== null && s2.answering.includes(a1)) {
          takeover = performance.now() - killed;
          break;
        }
        await sleep(10);
      }
      const r = await client;
      clearInterval(lagTimer);
      res.trials++;
      res.takeovers.push(takeover);
      interface StreamOut { ok: number; errors: Record<string, number>; stalls: number[] }
      let out: StreamOut | null = null;
      try {
        out = JSON.parse(r.out.trim().split('\n').pop()!) as StreamOut;
      } catch {
        // Counted below as errors on every connection.
      }
      if (out === null) {
        res.resets += CONNS;
      } else {
        res.stalls.push(...out.stalls);
        // A slow trial, told apart: a slow takeover (every stream waits for
        // it), a host stall (this process's timers late as well), or one
        // connection stalled alone.
        if (Math.max(...out.stalls) > 100 || VERBOSE) {
          process.stderr.write(`bench failover ${mode}: trial ${res.trials}: takeover ${takeover.toFixed(0)} ms, stalls ${out.stalls.join('/')} ms, bench timer late ${lag.toFixed(0)} ms\n`);
        }
        for (const [k, v] of Object.entries(out.errors)) {
          if (k === 'wrong-byte' || k === 'extra-bytes' || k === 'short') res.byteErrors += v;
          else res.resets += v;
        }
      }
      await nodes.get(1)!.stop();
      nodes.set(1, await startNodeProcess(config(1), lab.segNs));
      await settled(true);
    }
  } finally {
    for (const n of nodes.values()) await n.stop();
    lab.down();
  }
  return res;
}

export async function run(): Promise<Metric[]> {
  const seed = Number(process.env['BATON_SEED'] ?? Date.now() % 0xffffffff);
  const rnd = new SeededRandom(seed);
  process.stderr.write(`bench failover: seed ${seed}, ${TRIALS} kills per mode (snoop, mirror), at most ${TIME_LIMIT_MS / 1000} s each\n`);
  const www = mkdtempSync(join(tmpdir(), 'baton-fo-'));
  try {
    const fd = openSync(join(www, '200m.bin'), 'w');
    const chunk = randomBytes(1 << 20);
    for (let i = 0; i < 200; i++) writeSync(fd, chunk);
    closeSync(fd);
    const none: ModeResult = { stalls: [], takeovers: [], trials: 0, resets: 0, byteErrors: 0, overhead: NaN, overheadShared: NaN };
    const snoop = MODES.includes('snoop') ? await runMode('snoop', TRIALS, rnd, www, Date.now() + TIME_LIMIT_MS) : none;
    const mirror = MODES.includes('mirror') ? await runMode('mirror', TRIALS, rnd, www, Date.now() + TIME_LIMIT_MS) : none;
    const overhead: Metric[] = [];
    if (MODES.includes('snoop')) overhead.push({ name: 'failover.overhead_goodput_ratio', unit: 'ratio', value: snoop.overhead, hz: 0, samples: ROUNDS, goal: '>= 0.9' });
    if (MODES.includes('mirror')) overhead.push({ name: 'failover.mirror.overhead_goodput_ratio', unit: 'ratio', value: mirror.overhead, hz: 0, samples: ROUNDS, goal: '>= 0.9' });
    if (MODES.includes('snoop')) overhead.push({ name: 'failover.overhead_goodput_ratio_shared_cpu', unit: 'ratio', value: snoop.overheadShared, hz: 0, samples: ROUNDS });
    if (MODES.includes('mirror')) overhead.push({ name: 'failover.mirror.overhead_goodput_ratio_shared_cpu', unit: 'ratio', value: mirror.overheadShared, hz: 0, samples: ROUNDS });
    // Overhead only (no kills): the kill metrics keep their last values in latest.json.
    if (TRIALS === 0) return overhead;
    const stalls = [...snoop.stalls, ...mirror.stalls];
    if (stalls.length === 0) throw new Error('failover: no trial measured');
    const trials = snoop.trials + mirror.trials;
    process.stderr.write(`bench failover: ${trials} trials, ${stalls.length} connections; max stall ${Math.max(...stalls)} ms; resets ${snoop.resets + mirror.resets}, byte errors ${snoop.byteErrors + mirror.byteErrors}\n`);
    const p50 = percentile(stalls, 50);
    const p99 = percentile(stalls, 99);
    const takeovers = [...snoop.takeovers, ...mirror.takeovers].map((t) => (Number.isNaN(t) ? 5000 : t));
    return [
      { name: 'failover.stall_ms_p50', unit: 'ms', value: p50, hz: 1000 / p50, samples: stalls.length, goal: '' },
      { name: 'failover.stall_ms_p99', unit: 'ms', value: p99, hz: 1000 / p99, samples: stalls.length, goal: '<= 100' },
      { name: 'failover.takeover_ms_p50', unit: 'ms', value: percentile(takeovers, 50), hz: 0, samples: takeovers.length, goal: '' },
      { name: 'failover.takeover_ms_p99', unit: 'ms', value: percentile(takeovers, 99), hz: 0, samples: takeovers.length, goal: '' },
      { name: 'failover.trials', unit: 'kills', value: trials, hz: 0, samples: trials, goal: '' },
      { name: 'failover.resets', unit: 'connections', value: snoop.resets + mirror.resets, hz: 0, samples: stalls.length, goal: '= 0' },
      { name: 'failover.byte_errors', unit: 'connections', value: snoop.byteErrors + mirror.byteErrors, hz: 0, samples: stalls.length, goal: '= 0' },
      ...overhead,
    ];
  } finally {
    rmSync(www, { recursive: true, force: true });
  }
}
