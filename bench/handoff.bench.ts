// Moving live connections between nodes (dataplane/handoff/):
//
//   handoff.record_bytes_idle / _full   serialized record of an idle connection,
//                                        and of one with 64 KB unacknowledged and
//                                        64 KB unread (the test harness's buffers)
//   handoff.frames_full                  transfer frames for the full one
//   handoff.move_cpu_us_idle / _full     one move between two stacks in this
//                                        process, no wire: export, HMAC-sealed
//                                        fragments, reassembly, import, ACCEPT
//                                        (the CPU cost of a move; median)
//   handoff.move_ms_p50 / _p99           lab: `POST /connections/handover` of one
//                                        echo connection mid-stream between two
//                                        Baton nodes on TAP (a new one each trial)
//   handoff.stall_ms_p50 / _p99          lab: the longest gap in the kernel
//                                        client's echoed stream around each move
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Lab } from '../control/lab.js';
import { apiRequest } from '../control/api.js';
import { startNodeProcess, type NodeProcess } from '../control/node-process.js';
import type { NodeStatus } from '../control/node.js';
import { inspectSerialized } from '../dataplane/tcp/record.js';
import { fragmentCount } from '../dataplane/handoff/wire.js';
import { CISN, CLIENT_IP, CLIENT_PORT, SERVER_IP, SERVER_PORT, out, pattern } from '../test/unit/tcp/harness.js';
import { MAC_A, MAC_B, run as exchange, side, type Side } from '../test/unit/handoff/wire-link.js';
import { median, type Metric } from './metric.js';
import { percentile } from './cluster.bench.js';

const LAB = `${process.env['BATON_LAB_PREFIX'] ?? ''}xfb`;
const KEY = 'feedfacefeedfacefeedfacefeedface';
const TRIALS = Number(process.env['BATON_BENCH_MOVES'] ?? 20);
const echoStream = fileURLToPath(new URL('../test/functional/clients/echo-move.js', import.meta.url));

function established(a: Side, full: boolean): void {
  a.peer.send({ flags: 'S', seq: CISN, mss: 1460, ws: 7, sackPerm: true, ts: [1000, 0] }, 0);
  const synAck = out(a.link)[0]!;
  a.peer.send({ flags: 'A', seq: CISN + 1, ack: synAck.seq + 1, ts: [1001, synAck.ts![0]] }, 1);
  if (!full) return;
  const s = a.app.sockets[0]!;
  s.write(pattern(65536, 1));
  a.stack.flush(2);
  out(a.link);
  s.pause();
  for (let k = 0; k < 64; k++) {
    a.peer.send({ flags: 'A', seq: CISN + 1 + k * 1024, ack: synAck.seq + 1, win: 65535, ts: [1002, synAck.ts![0]], data: pattern(1024, k) }, 3);
  }
  out(a.link);
}

function idOf(s: Side): number {
  return s.stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
}

/** CPU time of one move between two in-process stacks (no loss), µs; and the record's size. */
function inProcess(full: boolean): { us: number; bytes: number; frames: number; samples: number } {
  const times: number[] = [];
  let bytes = 0;
  let frames = 0;
  for (let i = 0; i < 200; i++) {
    const a = side(1, MAC_A);
    const b = side(2, MAC_B);
    established(a, full);
    const rec = a.stack.exportConnection(idOf(a));
    const { send, receive } = inspectSerialized(rec);
    bytes = rec.length;
    frames = fragmentCount(rec.length);
    void send;
    void receive;
    const clock = { t: 10 };
    const t0 = performance.now();
    a.handoff.startTransfer(idOf(a), 2, MAC_B, clock.t);
    exchange(a, b, clock, 0, 100, () => a.stat('accepted') > 0);
    times.push((performance.now() - t0) * 1000);
    if (a.stat('accepted') !== 1) throw new Error('bench handoff: the in-process move did not complete');
  }
  return { us: median(times), bytes, frames, samples: times.length };
}

function config(lab: Lab, id: number): Record<string, unknown> {
  const n = lab.nodes[id - 1]!;
  return {
    node: { id, name: `${LAB}n${id}` }, port: { driver: `tap:${n.ifname}` }, addresses: [`${n.ip}/24`], workers: 1,
    pool: { slots: 8192 }, rings: { rx: 1024, tx: 1024 }, services: [{ app: 'echo', ports: 7 }],
    cluster: { peers: [1, 2].filter((x) => x !== id), key: KEY, heartbeatMs: 20, misses: 10 },
  };
}

/** Moves one streaming echo connection back and forth TRIALS times; returns move times and client stalls. */
async function inLab(): Promise<{ moves: number[]; stalls: number[] }> {
  Lab.remove(LAB);
  const lab = Lab.up({ name: LAB, clients: 1, nodes: ['tap', 'tap'], hub: false });
  const nodes: NodeProcess[] = [];
  const moves: number[] = [];
  const stalls: number[] = [];
  try {
    for (const id of [1, 2]) nodes.push(await startNodeProcess(config(lab, id), lab.segNs));
    for (let t = 0; t < 100; t++) {
      const s = JSON.parse(await apiRequest(nodes[0]!.api, 'GET', '/status')) as NodeStatus;
      if (s.answering.includes('198.18.0.1') && s.cluster!.state === 'synced') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    for (let trial = 0; trial < TRIALS; trial++) {
      // A new connection each trial, streaming 4 MB at ~2 MB/s; moved from node 1 to node 2 after 0.5 s.
      const child = spawn('ip', ['netns', 'exec', lab.clients[0]!.ns, process.execPath, echoStream, '198.18.0.1', '7', '1', String(4 << 20), '8192', '4', '30000'],
        { stdio: ['ignore', 'pipe', 'ignore'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      while (!text.includes('connected')) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 500));
      const r = JSON.parse(await apiRequest(nodes[0]!.api, 'POST', '/connections/handover?to=2&address=198.18.0.1', 20_000)) as { accepted: number; ms: number };
      if (r.accepted === 1) moves.push(r.ms);
      await exited;
      const res = JSON.parse(text.split('\n').find((l) => l.startsWith('{')) ?? '{}') as { ok?: number; maxGapMs?: number };
      if (res.ok === 1 && r.accepted === 1) stalls.push(res.maxGapMs ?? 0);
      else process.stderr.write(`bench handoff: trial ${trial}: move ${JSON.stringify(r)} client ${JSON.stringify(res)}\n`);
    }
  } finally {
    for (const n of nodes) await n.stop();
    lab.down();
  }
  return { moves, stalls };
}

export async function run(): Promise<Metric[]> {
  const idle = inProcess(false);
  const full = inProcess(true);
  const lab = await inLab();
  const m = (name: string, unit: string, value: number, samples: number): Metric => ({ name, unit, value, hz: 0, samples });
  return [
    m('handoff.record_bytes_idle', 'bytes', idle.bytes, 1),
    m('handoff.record_bytes_full', 'bytes', full.bytes, 1),
    m('handoff.frames_full', 'frames', full.frames, 1),
    m('handoff.move_cpu_us_idle', 'µs', idle.us, idle.samples),
    m('handoff.move_cpu_us_full', 'µs', full.us, full.samples),
    m('handoff.move_ms_p50', 'ms', lab.moves.length > 0 ? percentile(lab.moves, 50) : NaN, lab.moves.length),
    m('handoff.move_ms_p99', 'ms', lab.moves.length > 0 ? percentile(lab.moves, 99) : NaN, lab.moves.length),
    m('handoff.stall_ms_p50', 'ms', lab.stalls.length > 0 ? percentile(lab.stalls, 50) : NaN, lab.stalls.length),
    m('handoff.stall_ms_p99', 'ms', lab.stalls.length > 0 ? percentile(lab.stalls, 99) : NaN, lab.stalls.length),
  ];
}
