// io.{tap,af_packet,dpdk_tap}.ratio_vs_testpmd: Baton's UDP reflect rate
// over a kernel virtual device ÷ dpdk-testpmd's io-forward rate over the
// same device, both measured in the same run with the same generator.
//
//   generator: dpdk-testpmd 5tswap           device under test (DUT side)
//   ┌──────────────┐   gen0 ═══ wire ═══ dut0   ┌─────────────────────────────┐
//   │ tx_first N,  │ ─────────────────────────▶ │ 1. dpdk-testpmd io forward   │
//   │ swap, resend │ ◀───────────────────────── │ 2. Baton, udp-reflect, 1 wkr │
//   └──────────────┘                            └─────────────────────────────┘
//
// The generator injects 256 frames (1024 on AF_PACKET, see IN_FLIGHT_BURSTS) (UDP to 198.18.0.2:9) and sends
// back everything it receives with addresses and ports swapped; the DUT
// sends each frame back too (testpmd unchanged, Baton reflected). The frames
// circulate with a fixed number in flight and the generator's Rx-pps is the
// loop's rate, which the slower side sets: the DUT (the generator is the
// same C program in both runs). Everything lives in one network namespace.
// Runs alternate (testpmd, Baton) BATON_IO_ROUNDS times (default 3); the
// ratio is the median of the rounds' ratios.
//
//   tap       gen0, dut0 TAPs joined by tc mirred both ways; DUT: Baton's TAP
//             backend (tap:dut0), or testpmd's net_tap on dut0.
//   af_packet gen0 ═ dut0 a veth pair; DUT: Baton's TPACKET_V3 backend
//             (af_packet:dut0), or testpmd's net_af_packet on dut0.
//   dpdk_tap  as tap, DUT: Baton's DPDK backend on net_tap (dpdk:--vdev=
//             net_tap0,iface=dut0), or testpmd's net_tap on dut0.
// The generator uses net_tap on the TAP cases, net_af_packet on the veth.
// testpmd's forwarding lcores are pinned (generator CPU 1, reference CPU 0),
// and Baton's poller and worker run on CPU 0 too: the same core budget as
// the reference, and never time-sliced with the busy generator (a node the
// scheduler put there crawled: 11 k/s against 1.5 M/s on memif in one run of
// five). Main threads are free on both sides. BATON_IO_PIN=0: unpinned.
import { execFileSync } from 'node:child_process';
import { median, type Metric } from './metric.js';
import { Testpmd } from './testpmd.js';
import { startNodeProcess, type NodeProcess } from '../control/node-process.js';

export type DeviceKind = 'tap' | 'af_packet' | 'dpdk_tap';

/**
 * Bursts of 64 injected by the generator (frames in flight = 64 × this).
 * AF_PACKET gets more: Baton reads it through TPACKET_V3, whose kernel hands
 * a partly filled block over only when the next frame does not fit or after
 * the block timeout (1 ms, the least there is), so a closed loop of 256
 * frames ran at one block a millisecond (~234 k/s, flat over every round)
 * whatever either side could do. 1024 in flight keeps the device the limit.
 */
const IN_FLIGHT_BURSTS: Record<DeviceKind, number> = { tap: 4, af_packet: 16, dpdk_tap: 4 };
const WARMUP_MS = 3000;
const SAMPLES = 4;
const BATON_MAC = '02:ba:70:00:00:06';

function ip(args: readonly string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function nsName(): string {
  return `${process.env['BATON_LAB_PREFIX'] ?? ''}iob`;
}

function removeNs(ns: string): void {
  try {
    ip(['netns', 'del', ns]);
  } catch {
    // not there
  }
}

/** Joins two interfaces of the namespace point to point: whatever one receives leaves by the other. */
function wire(ns: string, a: string, b: string): void {
  for (const [from, to] of [[a, b], [b, a]] as const) {
    ip(['-n', ns, 'link', 'set', from, 'up']);
    ip(['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', from, 'clsact']);
    ip(['netns', 'exec', ns, 'tc', 'filter', 'add', 'dev', from, 'ingress', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0',
      'action', 'mirred', 'egress', 'redirect', 'dev', to]);
  }
}

async function generator(kind: DeviceKind, ns: string): Promise<Testpmd> {
  const vdev = kind === 'af_packet' ? '--vdev=net_af_packet0,iface=gen0,framecnt=2048' : '--vdev=net_tap0,iface=gen0';
  const gen = await Testpmd.start({
    name: `${ns}gen`, ns, vdev, fwdCpu: 1,
    args: ['--forward-mode=5tswap', '--burst=64', `--eth-peer=0,${BATON_MAC}`, '--tx-ip=198.18.0.1,198.18.0.2'],
  });
  // testpmd took gen0's MAC as its port's when it started. The veth's own
  // MAC moves away, so that frames addressed to testpmd (Baton's replies; not
  // testpmd io's unchanged frames) are not the kernel's to route on gen0 as
  // well: a cost of the wiring that is neither DUT's (it was 10 % of Baton's
  // poller: ip_route_input_slow). Packet sockets see every frame anyway.
  if (kind === 'af_packet') ip(['-n', ns, 'link', 'set', 'gen0', 'address', '02:ba:70:00:00:0f']);
  return gen;
}

/** Injects the frames, lets the loop settle, samples the generator's Rx-pps. */
async function measure(gen: Testpmd, kind: DeviceKind): Promise<number[]> {
  gen.send(`start tx_first ${IN_FLIGHT_BURSTS[kind]}`);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  return gen.sampleRxPps(SAMPLES);
}

/** Reference: testpmd io-forward on dut0. */
async function reference(kind: DeviceKind, ns: string): Promise<number[]> {
  let fwd: Testpmd | null = null;
  let gen: Testpmd | null = null;
  try {
    const vdev = kind === 'af_packet' ? '--vdev=net_af_packet0,iface=dut0,framecnt=2048' : '--vdev=net_tap0,iface=dut0';
    fwd = await Testpmd.start({ name: `${ns}fwd`, ns, vdev, fwdCpu: 0, args: ['--forward-mode=io', '--burst=32'] });
    gen = await generator(kind, ns);
    if (kind !== 'af_packet') wire(ns, 'gen0', 'dut0');
    fwd.send('start');
    return await measure(gen, kind);
  } finally {
    await gen?.stop();
    await fwd?.stop();
  }
}

/**
 * Puts every thread of the node but its main thread on CPU 0, as testpmd's
 * forwarding lcore is: the poller and the worker work there, while the main
 * thread (control, and net_tap's SIGIO handler, like testpmd's idle main
 * lcore) may use either core.
 */
export function pinDataPlane(pid: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', '0', String(pid)], { stdio: 'ignore' });
  execFileSync('taskset', ['-p', '-c', '0-1', String(pid)], { stdio: 'ignore' });
}

/** Baton reflecting UDP on dut0 with one worker. */
async function baton(kind: DeviceKind, ns: string): Promise<number[]> {
  if (kind === 'tap') {
    // Baton attaches to a TAP by name with these flags (as the lab makes them).
    ip(['-n', ns, 'tuntap', 'add', 'dev', 'dut0', 'mode', 'tap', 'multi_queue', 'vnet_hdr']);
  }
  const driver = kind === 'tap' ? 'tap:dut0' : kind === 'af_packet' ? 'af_packet:dut0' : 'dpdk:--vdev=net_tap0,iface=dut0';
  let node: NodeProcess | null = null;
  let gen: Testpmd | null = null;
  try {
    node = await startNodeProcess({
      node: { id: 6, name: `bench-${kind}` },
      port: { driver, mac: BATON_MAC },
      addresses: ['198.18.0.2/24'],
      workers: 1,
      pool: { slots: 8192 },
      rings: { rx: 2048, tx: 2048 },
      services: [{ app: 'udp-reflect', ports: [9, 9] }],
    }, ns, 20_000);
    if (process.env['BATON_IO_PIN'] !== '0') pinDataPlane(node.child.pid!);
    gen = await generator(kind, ns);
    if (kind !== 'af_packet') wire(ns, 'gen0', 'dut0');
    return await measure(gen, kind);
  } finally {
    await gen?.stop();
    await node?.stop();
    if (kind === 'tap') ip(['-n', ns, 'link', 'del', 'dut0']);
  }
}

/**
 * ROUNDS rounds of (testpmd, Baton) on one device kind, each pair back to
 * back so that both see the same machine: [Baton reflect pps, testpmd io
 * pps (medians of every sample), ratio (median of the rounds' ratios)].
 */
export async function deviceRatio(kind: DeviceKind): Promise<Metric[]> {
  const ns = nsName();
  const rounds = Number(process.env['BATON_IO_ROUNDS'] ?? 3);
  removeNs(ns);
  ip(['netns', 'add', ns]);
  try {
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    if (kind === 'af_packet') {
      ip(['-n', ns, 'link', 'add', 'gen0', 'type', 'veth', 'peer', 'name', 'dut0']);
      ip(['-n', ns, 'link', 'set', 'gen0', 'up']);
      ip(['-n', ns, 'link', 'set', 'dut0', 'up']);
    }
    const refAll: number[] = [];
    const oursAll: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const ref = await reference(kind, ns);
      const ours = await baton(kind, ns);
      if (process.env['BATON_BENCH_VERBOSE'] !== undefined) process.stderr.write(`io.${kind}: testpmd io ${ref.join(' ')}; baton ${ours.join(' ')}\n`);
      if (median(ref) === 0) throw new Error(`io.${kind}: testpmd forwarded nothing (samples ${ref.join(', ')})`);
      ratios.push(median(ours) / median(ref));
      refAll.push(...ref);
      oursAll.push(...ours);
    }
    const hz = median(oursAll);
    const refHz = median(refAll);
    return [
      { name: `io.${kind}.reflect_pps`, unit: 'packets/s', value: hz, hz, samples: oursAll.length },
      { name: `io.${kind}.testpmd_io_pps`, unit: 'packets/s', value: refHz, hz: refHz, samples: refAll.length },
      { name: `io.${kind}.ratio_vs_testpmd`, unit: 'ratio', value: median(ratios), hz: 0, samples: ratios.length, goal: '>= 0.8' },
    ];
  } finally {
    removeNs(ns);
  }
}
