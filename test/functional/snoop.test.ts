// Transparent TCP failover (service modes snoop and mirror), with real Baton
// node processes and real kernel clients: node 2 backs up node 1's address
// and shadows every connection — seen on a hub segment in promiscuous mode
// (snoop), or from the copies node 1 sends it on an ordinary learning bridge
// (mirror). kill -9 node 1 at a random moment while clients stream echo data
// and download over HTTP, and the clients must never notice — no reset, no
// error, every byte intact — while node 2 serves their connections from
// where node 1 stopped.
//
// Trials per case: BATON_SNOOP_TRIALS (default 3; the bench runs 50).
// Cases: BATON_SNOOP_CASES, a comma list of snoop, mirror, snoop-loss (over TAP),
// snoop-dpdk (over DPDK net_tap, at most 2 trials), failback (inside the
// snoop suite) and 1000 (1,000 connections, one kill); default all but 1000
// (see CASES below).
// The TAP cases run with segmentation and checksum offload (port.offload:
// the primary sends 64 KB segments, the backup snoops or is mirrored them
// whole and trusts their partial checksums, the node taking over sends large
// segments); BATON_SNOOP_OFFLOAD=0 runs them without.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../../control/lab.js';
import type { NodeStatus } from '../../control/node.js';
import { inNamespace, labName, runCli, startNode, type RunningNode } from './harness.js';

const KEY = '5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e';
const TRIAL_COUNT = Number(process.env['BATON_SNOOP_TRIALS'] ?? '3');
const OFFLOAD = process.env['BATON_SNOOP_OFFLOAD'] !== '0';
const echoStream = fileURLToPath(new URL('./clients/echo-stream.js', import.meta.url));

const www = mkdtempSync(join(tmpdir(), 'baton-snoop-www-'));
process.on('exit', () => rmSync(www, { recursive: true, force: true }));
let fileSum = '';
{
  const fd = openSync(join(www, '20m.bin'), 'w');
  const h = createHash('sha256');
  const chunk = randomBytes(1 << 20);
  for (let i = 0; i < 20; i++) {
    chunk[i] ^= 0x5a;
    writeSync(fd, chunk);
    h.update(chunk);
  }
  closeSync(fd);
  fileSum = h.digest('hex');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A file of `mb` MiB of random bytes in the web root (made once, when a case needs it); its sha256. */
const made = new Map<string, string>();
function bigFile(name: string, mb: number): string {
  const known = made.get(name);
  if (known !== undefined) return known;
  const fd = openSync(join(www, name), 'w');
  const h = createHash('sha256');
  const chunk = randomBytes(1 << 20);
  for (let i = 0; i < mb; i++) {
    chunk[i % chunk.length] ^= 0xa5;
    chunk[(i * 7919) % chunk.length] ^= i & 0xff;
    writeSync(fd, chunk);
    h.update(chunk);
  }
  closeSync(fd);
  const sum = h.digest('hex');
  made.set(name, sum);
  return sum;
}

// Every case but one runs by default; BATON_SNOOP_CASES picks some. 1000
// (1,000 concurrent connections, a suite of its own) runs on request only,
// and the suite says so: every shadow is exact before the kill now, but on a
// loaded 2-core machine some runs still see a false detection before the
// kill, or a few connections stall after the takeover until the client
// gives up.
const CASES = (process.env['BATON_SNOOP_CASES'] ?? 'snoop,mirror,snoop-loss,snoop-dpdk,failback').split(',');
for (const c of ['1000']) {
  if (!CASES.includes(c)) process.stderr.write(`snoop.test: case ${c} not run by default (known issue, see the header); BATON_SNOOP_CASES=snoop,${c} runs it\n`);
}

async function until(what: string, cond: () => Promise<boolean>, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(25);
  }
}

/** `many`: the 1,000-connection case alone (its own lab and nodes: larger rings, a detection that tolerates its load). */
function failoverSuite(mode: 'snoop' | 'mirror', hub: boolean, LAB: string, backend: 'tap' | 'dpdk', TRIALS: number, backupLoss = 0, many = false): void {
  let lab: Lab;
  const nodes = new Map<number, RunningNode>();

  function nodeConfig(id: number): Record<string, unknown> {
    const n = lab.nodes[id - 1]!;
    return {
      node: { id, name: `${LAB}n${id}` },
      port: backend === 'dpdk' ? { driver: `dpdk:--vdev=net_tap0,iface=${dpdkIf(id)}` } : { driver: `tap:${n.ifname}`, offload: OFFLOAD },
      addresses: [`${n.ip}/24`], workers: 1,
      // Rings for bursts: 1,000 clients' SYNs (and the primary's SYN-ACKs, seen by the backup) arrive at once, and a takeover prompts every client at once.
      ...(many ? { pool: { slots: 16384 }, rings: { rx: 4096, tx: 2048 } } : { pool: { slots: 8192 }, rings: { rx: 1024, tx: 1024 } }),
      services: [
        { app: 'echo', ports: 7, mode },
        { app: 'http', ports: 80, mode, options: { root: www } },
      ],
      tcp: { timeWaitMs: 1000 },
      // 10 ms heartbeats, 10 misses: on a 2-core machine running two nodes, their
      // pollers and the clients, a 40 ms silence happens without any failure, and
      // a false detection is a different test (cluster.test.ts partitions).
      // With 1,000 streaming connections (and other work on the machine) a node's
      // poller misses the CPU for over 100 ms now and then: 30 misses there.
      cluster: { peers: [3 - id], key: KEY, heartbeatMs: 10, misses: many ? 30 : 10 },
      // The backup misses some of what it snoops; gap repair from the primary must cover it.
      ...(id === 2 && backupLoss > 0 ? { faults: { seed: 7, rx: { loss: backupLoss } } } : {}),
    };
  }

  /** DPDK's net_tap creates its interface when the node starts (and it goes when the process dies): bridged after each start. */
  function dpdkIf(id: number): string {
    return `${LAB}d${id}`;
  }

  async function boot(id: number): Promise<RunningNode> {
    const n = await startNode(lab.segNs, nodeConfig(id));
    nodes.set(id, n);
    if (backend === 'dpdk') lab.attach(dpdkIf(id));
    return n;
  }

  async function status(id: number): Promise<NodeStatus | null> {
    const n = nodes.get(id);
    if (n === undefined || n.child.exitCode !== null || n.child.signalCode !== null) return null;
    try {
      return await n.status();
    } catch {
      return null;
    }
  }

  /** Node 1 holds its address and node 2 shadows it. */
  async function settled(): Promise<void> {
    const a1 = lab.nodes[0]!.ip;
    await until('node 1 holds its address and node 2 shadows it', async () => {
      const s1 = await status(1);
      const s2 = await status(2);
      return s1 !== null && s2 !== null && s1.answering.includes(a1) && !s2.answering.includes(a1) &&
        s2.cluster!.snoop.shadow.some((x) => x.ip === a1);
    }, 20_000);
  }

  interface StreamResult {
    ok: number;
    failed: number;
    errors: Record<string, number>;
    maxStallMs: number;
    bytes: number;
  }

  function inClient(args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
    return inNamespace(lab.clients[0]!.ns, args, timeoutMs);
  }

  /** kill -9 node 1, then bring it back as a fresh process and wait until the cluster settles again. */
  async function killPrimary(): Promise<void> {
    const n = nodes.get(1)!;
    n.child.kill('SIGKILL');
  }

  async function restorePrimary(): Promise<void> {
    const n = nodes.get(1)!;
    if (n.child.exitCode === null && n.child.signalCode === null) await new Promise((r) => n.child.once('exit', r));
    await boot(1);
    await settled();
    if (process.env['BATON_SNOOP_VERBOSE'] !== undefined) {
      for (const id of [1, 2]) {
        const st = (await status(id))!;
        const c = st.cluster!;
        process.stderr.write(`restored: n${id} answering ${st.answering.join(',')} members ${JSON.stringify(c.members.map((m) => [m.id, m.liveness, m.incarnation]))} beats ${JSON.stringify(c.beats)} shadow ${JSON.stringify(c.snoop)} tcp live ${st.tcp['in_established']} shadows ${st.tcp['in_shadow']}\n`);
      }
    }
  }

  const t = suite(`${mode}: transparent failover over ${backend === 'dpdk' ? 'DPDK net_tap' : 'TAP'}, kernel clients (${hub ? 'hub segment' : 'learning bridge'}${backupLoss > 0 ? `, ${backupLoss * 100} % of the backup's frames lost` : ''})`);

  t.before(async () => {
    assert.is(process.getuid?.(), 0, 'functional tests must run as root (CI does)');
    Lab.remove(LAB);
    lab = Lab.up({ name: LAB, clients: 1, nodes: backend === 'dpdk' ? ['none', 'none'] : ['tap', 'tap'], hub });
    await boot(1);
    await boot(2);
    await settled();
  });

  t.after(async () => {
    try {
      for (const n of nodes.values()) await n.stop();
    } finally {
      lab?.down();
    }
  });

  if (!many) t('the backup shadows the primary’s connections and sends nothing for them', async () => {
    const a1 = lab.nodes[0]!.ip;
    // 3 s streams: the listing below is taken while they run.
    const client = inClient([process.execPath, echoStream, a1, '7', '4', '1200000', '400000', '20000'], 30_000);
    // Mid-stream: every connection is protected (its backup's shadow is exact) — asked of both nodes,
    // as soon as they are all up (client processes start slowly on a loaded machine).
    let listing = { code: null as number | null, out: '' };
    let rows: string[] = [];
    const deadline = Date.now() + 2500;
    do {
      await sleep(200);
      listing = await runCli(lab.segNs, ['status', '--connections', '--api', nodes.get(1)!.api, '--api', nodes.get(2)!.api]);
      assert.is(listing.code, 0, listing.out);
      rows = listing.out.split('\n').filter((l) => l.includes(`${a1}:7 `));
    } while ((rows.length !== 4 || rows.some((l) => !/ESTABLISHED\s+1\s+2\s+yes/.test(l))) && Date.now() < deadline);
    const why = async (): Promise<string> => {
      const c = [(await status(1))?.cluster, (await status(2))?.cluster];
      return `${listing.out}\ncluster: ${JSON.stringify(c.map((x) => x === undefined || x === null ? null : { counters: x.counters, snoop: x.snoop, beats: x.beats }))}\nnode 2 says: ${nodes.get(2)!.output().slice(-800)}`;
    };
    if (rows.length !== 4 || rows.some((l) => !/ESTABLISHED\s+1\s+2\s+yes/.test(l))) assert.unreachable(await why());
    const r = await client;
    const res = JSON.parse(r.out.trim().split('\n').pop()!) as StreamResult;
    if (res.ok !== 4) {
      const pick = (x: Record<string, number> | undefined): string => ['acks_withheld', 'haves_out', 'haves_in', 'pushes', 'repairs_served', 'in_shadow', 'in_shadow_exact', 'retransmits'].map((k) => `${k} ${x?.[k]}`).join(' ');
      assert.unreachable(`${r.out} | node 1: ${pick((await status(1))?.tcp)} | node 2: ${pick((await status(2))?.tcp)}`);
    }
    const s2 = (await status(2))!;
    assert.ok(s2.tcp['shadow_opens']! >= 4, `shadows opened: ${s2.tcp['shadow_opens']}; node 2: snooped ${s2.tcp['snooped']} unknown ${s2.tcp['snoop_unknown']} drops ${JSON.stringify(s2.drops)} roles ${JSON.stringify(s2.cluster!.snoop)} rx ${JSON.stringify(s2.endpoints)}`);
    assert.ok(s2.tcp['shadow_bytes_checked']! > 0, 'the primary’s output was checked against the shadows’');
    assert.is(s2.tcp['shadow_diverged'], 0);
    if (s2.tcp['segs_out'] !== 0) assert.unreachable(`the backup sent ${s2.tcp['segs_out']} TCP segments: promoted ${s2.tcp['shadow_promoted']} rst_sent ${s2.tcp['rst_sent']} established ${s2.tcp['in_established']}\n${await why()}`);
    if (mode === 'mirror') {
      const s1 = (await status(1))!;
      assert.ok(s1.tcp['mirrored']! > 0 && s2.tcp['mirror_in']! > 0, `mirrored ${s1.tcp['mirrored']}, received ${s2.tcp['mirror_in']}`);
    }
  });

  if (!many && backend === 'tap' && OFFLOAD) {
    t('offload: the primary sends large segments, and the backup shadows (and compares) them whole', async () => {
      const a1 = lab.nodes[0]!.ip;
      const b1 = (await status(1))!;
      const b2 = (await status(2))!;
      const r = await inClient(['sh', '-c', `curl -sS --fail --max-time 30 http://${a1}/20m.bin | sha256sum`], 40_000);
      assert.is(r.code, 0, r.out);
      assert.match(r.out, fileSum);
      const s1 = (await status(1))!;
      const s2 = (await status(2))!;
      const frames = s1.endpoints[0]!.tx_frames - b1.endpoints[0]!.tx_frames;
      const segs = s1.tcp['segs_out']! - b1.tcp['segs_out']!;
      // A 20 MB download in MSS frames would be ~14,500 frames; with offload a frame carries many wire segments.
      assert.ok(segs > frames * 4, `primary: ${frames} frames carried ${segs} wire segments`);
      // The shadow holds the file by reference (lazy-output.ts) and compares the segments that start in one 64 KiB
      // window in 16 (about 1.3 MB of 20; less when the fault injector cuts them into wire segments); every byte is accounted.
      const checked = s2.tcp['shadow_bytes_checked']! - b2.tcp['shadow_bytes_checked']!;
      const unchecked = (s2.tcp['shadow_bytes_unchecked'] ?? 0) - (b2.tcp['shadow_bytes_unchecked'] ?? 0);
      assert.ok(checked + unchecked > 19_000_000, `the backup accounted ${checked} + ${unchecked} bytes of the 20 MB download`);
      assert.ok(checked > 100_000, `the backup compared ${checked} bytes (sampled) of the 20 MB download`);
      assert.is(s2.tcp['shadow_diverged'], 0);
      assert.is(s2.tcp['segs_out'], b2.tcp['segs_out'], 'the backup sent no TCP segment');
    });
  }

  if (!many && mode === 'snoop' && backend === 'tap' && backupLoss === 0 && CASES.includes('failback')) {
    t('failback under load: the primary dies, comes back and takes its connections back as records; the backup shadows them again (copies) and takes them over at a second kill', async () => {
      const a1 = lab.nodes[0]!.ip;
      const before2 = (await status(2))!;
      // 8 streams of 2.4 MB at 200 KB/s: about 12 s each, spanning both kills and the failback.
      const echo = inClient([process.execPath, echoStream, a1, '7', '8', '2400000', '200000', '60000'], 70_000);
      let diag = '';
      try {
        await sleep(1000);
        await killPrimary();
        await until('node 2 holds the address', async () => (await status(2))?.answering.includes(a1) === true);
        const n = nodes.get(1)!;
        if (n.child.exitCode === null && n.child.signalCode === null) await new Promise((r) => n.child.once('exit', r));
        await boot(1);
        // Failback: records first (node 2 → node 1), then the address.
        await until('node 1 holds its address again', async () => {
          const s1 = await status(1);
          const s2 = await status(2);
          return s1 !== null && s2 !== null && s1.answering.includes(a1) && !s2.answering.includes(a1);
        }, 20_000);
        const s1 = (await status(1))!;
        diag += `after failback: node 1 live ${s1.tcp['in_established']} imported ${s1.transfers?.['imported']}; `;
        assert.ok((s1.transfers?.['imported'] ?? 0) >= 8, `node 1 took the live connections back as records: ${diag}`);
        // Protected again: node 2 shadows every one of them (copies of node 1's records).
        await until('node 2 shadows the connections again', async () => ((await status(2))?.tcp['in_shadow_exact'] ?? 0) >= 8, 10_000);
        const s2 = (await status(2))!;
        diag += `node 2 shadows ${s2.tcp['in_shadow']} exact ${s2.tcp['in_shadow_exact']} copies ${s2.tcp['shadow_copies']! - before2.tcp['shadow_copies']!}; `;
        const pick = (x: Record<string, number>): string => ['bytes_in', 'bytes_out', 'acks_withheld', 'haves_in', 'haves_out', 'pushes', 'repairs_served', 'in_shadow', 'in_established', 'snooped', 'snoop_unknown'].map((k) => `${k} ${x[k]}`).join(' ');
        const a = (await status(1))!.tcp;
        const b2 = (await status(2))!.tcp;
        await sleep(500);
        diag += `node 1 then: ${pick(a)}; node 1 +500 ms: ${pick((await status(1))!.tcp)}; node 2 then: ${pick(b2)}; node 2 +500 ms: ${pick((await status(2))!.tcp)}; `;
        const listing = await runCli(lab.segNs, ['status', '--connections', '--api', nodes.get(1)!.api, '--api', nodes.get(2)!.api]);
        diag += listing.out.split('\n').filter((l) => l.includes(`${a1}:7 `)).slice(0, 3).join(' // ');
        await killPrimary();
      } catch (e) {
        diag += String(e);
      }
      const e = await echo;
      const res = JSON.parse(e.out.trim().split('\n').pop()!) as StreamResult;
      const after2 = (await status(2))!;
      diag = `echo ${e.out.trim()} | ${diag} | node 2: promoted ${after2.tcp['shadow_promoted']! - before2.tcp['shadow_promoted']!}, reset ${after2.tcp['shadow_reset']! - before2.tcp['shadow_reset']!}, address_lost_drops ${after2.tcp['address_lost_drops']}`;
      try {
        assert.is(res.failed, 0, diag);
        assert.is(res.ok, 8, diag);
        assert.is(after2.tcp['shadow_reset']! - before2.tcp['shadow_reset']!, 0, diag);
        assert.ok(after2.tcp['shadow_promoted']! - before2.tcp['shadow_promoted']! >= 16, `promoted at both kills: ${diag}`);
        if (process.env['BATON_SNOOP_VERBOSE'] !== undefined) process.stderr.write(`failback: ${diag}\n`);
      } finally {
        await restorePrimary();
      }
    });
  }

  if (!many && mode === 'snoop' && backend === 'tap' && backupLoss === 0) {
    t('HTTP downloads across a kill: 1 GB at full speed, and 1 MB files one after another on a keep-alive connection; sha256 intact', async () => {
      const a1 = lab.nodes[0]!.ip;
      const gSum = bigFile('1g.bin', 1024);
      bigFile('1m.bin', 1);
      const one = createHash('sha256');
      const COUNT = 40;
      const mBytes = readFileSync(join(www, '1m.bin'));
      for (let i = 0; i < COUNT; i++) one.update(mBytes);
      const mSum = one.digest('hex');
      const before = (await status(2))!.tcp;
      try {
        const big = inClient(['sh', '-c', `curl -sS --fail --max-time 150 http://${a1}/1g.bin | sha256sum`], 160_000);
        const urls = Array.from({ length: COUNT }, () => `http://${a1}/1m.bin`).join(' ');
        const small = inClient(['sh', '-c', `curl -sS --fail --max-time 150 --limit-rate 4M ${urls} | sha256sum`], 160_000);
        await until('both downloads are under way', async () => ((await status(1))?.tcp['in_established'] ?? 0) >= 2, 10_000);
        // Soon: at full speed (about 10 Gbit/s with offload on a quiet machine) the 1 GB download takes under a second.
        await sleep(Math.floor(Math.random() * 400));
        await killPrimary();
        const [g, m] = await Promise.all([big, small]);
        const after = (await status(2))!.tcp;
        const diag = `1 GB: ${g.out.trim()} | 1 MB × ${COUNT}: ${m.out.trim()} | node 2: promoted ${after['shadow_promoted']! - before['shadow_promoted']!}, reset ${after['shadow_reset']! - before['shadow_reset']!}, bad_ack ${after['bad_ack']}, retransmits ${after['retransmits']}`;
        assert.is(g.code, 0, diag);
        assert.match(g.out, gSum, diag);
        assert.is(m.code, 0, diag);
        assert.match(m.out, mSum, diag);
        assert.is(after['shadow_reset']! - before['shadow_reset']!, 0, diag);
        assert.ok(after['shadow_promoted']! - before['shadow_promoted']! >= 2, diag);
        if (process.env['BATON_SNOOP_VERBOSE'] !== undefined) process.stderr.write(`downloads: ${diag}\n`);
      } finally {
        await restorePrimary();
      }
    });
  }

  if (many) {
    t('1,000 concurrent connections: kill -9 the primary while every one streams; all continue on the backup, bytes intact', async () => {
      const a1 = lab.nodes[0]!.ip;
      const before = (await status(2))!.tcp;
      const N = 1000;
      // 40 KB each at 8 KB/s: about 5 s per connection, all open together.
      const TICK = process.env['BATON_SNOOP_1000_TICK'] ?? '100';
      const BYTES = process.env['BATON_SNOOP_1000_BYTES'] ?? '40000';
      // Experiment: the backup starts after the connections (every shadow a record copy).
      const late = process.env['BATON_SNOOP_1000_LATE'] !== undefined;
      if (late) {
        const n2 = nodes.get(2)!;
        n2.child.kill('SIGKILL');
        await new Promise((r) => n2.child.once('exit', r));
      }
      const echo = inClient(['sh', '-c', `ulimit -n 8192; exec ${process.execPath} ${echoStream} ${a1} 7 ${N} ${BYTES} 8000 60000 ${TICK}`], 70_000);
      if (late) {
        await sleep(1500);
        await boot(2);
        for (const k of Object.keys(before)) before[k] = 0;
      }
      let diag = '';
      const verbose = process.env['BATON_SNOOP_VERBOSE'] !== undefined;
      const t0 = Date.now();
      const sample = async (): Promise<string> => {
        const [s1, s2] = [await status(1), await status(2)];
        const pick = (s: NodeStatus | null, keys: string[]): string => s === null ? 'down' :
          `${keys.map((k) => `${k} ${s.tcp[k]}`).join(' ')} ring_full ${s.pollers.map((p) => p.rx_drop_ring_full).join('/')} tx_drv ${s.pollers.map((p) => p.tx_drop_driver).join('/')} ep_tx_full ${s.endpoints.map((x) => x.tx_drop_ring_full).join('/')} no_slot ${s.endpoints.map((x) => x.tx_drop_no_slot).join('/')} det ${s.cluster?.counters['detections_timeout']} xfer ${['copies_sent', 'copies_accepted', 'copies_busy', 'copies_lost', 'copies_refused', 'shadows_imported', 'retransmits'].map((k) => `${k} ${s.transfers?.[k]}`).join(' ')}`;
        const tapDrops = lab.nodes.map((n) => { try { return execFileSync('ip', ['netns', 'exec', lab.segNs, 'cat', `/sys/class/net/${n.ifname}/statistics/tx_dropped`]).toString().trim(); } catch { return '?'; } }).join('/');
        return `t+${Date.now() - t0} ms tap_tx_dropped ${tapDrops} | n1: ${pick(s1, ['passive_opens', 'in_established', 'syn_cookies_sent', 'acks_withheld', 'pushes', 'haves_in', 'repairs_served', 'retransmits'])} | n2: ${pick(s2, ['snooped', 'snoop_unknown', 'shadow_opens', 'in_shadow', 'in_shadow_exact', 'shadow_lost', 'shadow_gaps', 'shadow_diverged', 'repairs_asked', 'copies_asked', 'shadow_copies', 'haves_out', 'table_full', 'in_established', 'segs_out', 'retransmits', 'rto_fired', 'out_of_window', 'bad_ack', 'unknown_dropped', 'paws_drops', 'ooo_segments', 'window_probes'])}`;
      };
      let sampling = verbose;
      const sampler = (async () => {
        while (sampling) {
          process.stderr.write(`1000 sample ${await sample()}\n`);
          await sleep(500);
        }
      })();
      try {
        await until(`node 2 shadows all ${N} connections exactly`, async () => ((await status(2))?.tcp['in_shadow_exact'] ?? 0) >= N, 20_000);
        await sleep(Math.floor(Math.random() * 1000));
      } catch (e) {
        diag += `${String(e)} (${await sample()}); `;
      }
      // Killed either way: the clients finish, and restorePrimary waits for node 1's exit.
      await killPrimary();
      if (verbose) {
        void (async () => {
          await sleep(15_000);
          if (!sampling) return;
          const ss = await inClient(['ss', '-tnio', 'state', 'established', 'state', 'fin-wait-1', 'state', 'fin-wait-2', 'state', 'close-wait', 'state', 'last-ack', 'state', 'closing', 'dport', '7'], 10_000);
          const listing = await runCli(lab.segNs, ['status', '--connections', '--api', nodes.get(2)!.api]);
          process.stderr.write(`1000: 15 s after the kill, client sockets:\n${ss.out.slice(0, 6000)}\nnode 2:\n${listing.out.split('\n').filter((l) => l.includes(`${a1}:7 `)).slice(0, 30).join('\n')}\n`);
        })();
      }
      const e = await echo;
      sampling = false;
      await sampler;
      if (verbose) {
        const listing = await runCli(lab.segNs, ['status', '--connections', '--api', nodes.get(2)!.api]);
        process.stderr.write(`1000: node 2 connections left:\n${listing.out.split('\n').filter((l) => l.includes(`${a1}:7 `)).slice(0, 20).join('\n')}\n`);
      }
      const res = JSON.parse(e.out.trim().split('\n').pop()!) as StreamResult;
      const after = (await status(2))!.tcp;
      const stalls = (res as StreamResult & { stalls: number[] }).stalls.slice().sort((x, y) => x - y);
      const q = (f: number): number => stalls[Math.min(stalls.length - 1, Math.floor(f * stalls.length))]!;
      diag += `echo ok ${res.ok} failed ${res.failed} ${JSON.stringify(res.errors)} maxStall ${res.maxStallMs} stall p50 ${q(0.5)} p99 ${q(0.99)} >1s ${stalls.filter((x) => x > 1000).length} | node 2: promoted ${after['shadow_promoted']! - before['shadow_promoted']!}, reset ${after['shadow_reset']! - before['shadow_reset']!}, copies ${after['shadow_copies']! - before['shadow_copies']!}`;
      try {
        assert.is(res.failed, 0, diag);
        assert.is(res.ok, N, diag);
        assert.is(after['shadow_reset']! - before['shadow_reset']!, 0, diag);
        assert.ok(after['shadow_promoted']! - before['shadow_promoted']! >= N, diag);
        if (process.env['BATON_SNOOP_VERBOSE'] !== undefined) process.stderr.write(`1000: ${diag}\n`);
      } finally {
        await restorePrimary();
      }
    });
  }

  for (let trial = 1; trial <= TRIALS; trial++) {
    t(`kill -9 the primary mid-stream (trial ${trial}/${TRIALS}): 8 echo streams and an HTTP download continue, bytes intact`, async () => {
      const a1 = lab.nodes[0]!.ip;
      const before = (await status(2))!.tcp;
      try {
        const echo = inClient([process.execPath, echoStream, a1, '7', '8', '600000', '300000', '40000'], 60_000);
        const curl = inClient(['sh', '-c', `curl -sS --fail --max-time 50 --limit-rate 8M http://${a1}/20m.bin | sha256sum`], 60_000);
        // Mid-stream: once all nine connections are up (client processes start
        // slowly on a loaded machine; a kill during the handshakes is a unit test).
        await until('the nine connections are established at the primary', async () => ((await status(1))?.tcp['in_established'] ?? 0) >= 9, 10_000);
        await sleep(100 + Math.floor(Math.random() * 1000));
        const atKill = (await status(2))!;
        const rowsAtKill = JSON.stringify((JSON.parse(await nodes.get(2)!.get('/connections')) as { connections: { local: string }[] }).connections.filter((r) => r.local === `${a1}:80`));
        await killPrimary();
        // A download still running long after it should have ended: what its connection looks like at node 2.
        let stalled = '';
        let curlDone = false;
        const watch = (async () => {
          let next = Date.now() + 8000;
          while (!curlDone && stalled.length < 4000) {
            await sleep(100);
            if (Date.now() < next) continue;
            next = Date.now() + 2000;
            try {
              const rows = (JSON.parse(await nodes.get(2)!.get('/connections')) as { connections: { local: string }[] }).connections;
              const t2 = (await status(2))?.tcp ?? {};
              const xs = (await status(2))?.transfers ?? {};
              stalled += ` @${Date.now() % 100000}: ${JSON.stringify(rows.filter((r) => r.local === `${a1}:80`))} tcp ${['shadow_opens', 'shadow_copies', 'shadow_promoted', 'shadow_syns_dropped', 'address_lost_drops', 'in_shadow', 'in_established'].map((k) => `${k} ${t2[k]}`).join(' ')} xfer ${JSON.stringify(Object.entries(xs).filter(([, v]) => v !== 0))}`;
            } catch (err) {
              stalled += ` ${String(err)}`;
            }
          }
        })();
        const [e, c] = await Promise.all([echo, curl.finally(() => (curlDone = true))]);
        await watch;
        const res = JSON.parse(e.out.trim().split('\n').pop()!) as StreamResult;
        const after = (await status(2))!.tcp;
        const conns = c.code === 0 ? '' : (await runCli(lab.segNs, ['status', '--connections', '--api', nodes.get(2)!.api])).out.split('\n').filter((l) => l.includes(`${a1}:80 `)).join(' // ');
        const diag = `echo ${e.out.trim()} | curl ${c.out.trim()} ${conns} at the kill ${rowsAtKill} ${stalled} | tcp ${['retransmits', 'rto_fired', 'window_probes', 'out_of_window', 'bad_ack', 'app_errors', 'unknown_dropped'].map((k) => `${k} ${after[k]}`).join(' ')} | node 2: promoted ${after['shadow_promoted']! - before['shadow_promoted']!}, reset ${after['shadow_reset']! - before['shadow_reset']!}, gaps ${after['shadow_gaps']}, repairs asked ${after['repairs_asked']}, lost ${after['shadow_lost']}, diverged ${after['shadow_diverged']} | node 2 at the kill: shadows ${atKill.tcp['in_shadow']} (exact ${atKill.tcp['in_shadow_exact']}), live ${atKill.tcp['in_established']}, unknown ${atKill.tcp['snoop_unknown']}, copies asked ${atKill.tcp['copies_asked']}, shadow copies ${atKill.tcp['shadow_copies']}, answering ${atKill.answering.join(' ')}, cluster ${JSON.stringify(atKill.cluster?.counters)} | node 2 says: ${nodes.get(2)!.output().slice(-600)}`;
        assert.is(res.failed, 0, diag);
        assert.is(res.ok, 8, diag);
        assert.is(c.code, 0, diag);
        assert.match(c.out, fileSum, diag);
        assert.is(after['shadow_reset']! - before['shadow_reset']!, 0, diag);
        assert.ok(after['shadow_promoted']! - before['shadow_promoted']! >= 9, diag);
        if (process.env['BATON_SNOOP_VERBOSE'] !== undefined) process.stderr.write(`trial ${trial}: ${diag} | node 2 tcp ${JSON.stringify(after)}\n`);
      } finally {
        // A failed trial must not leave the next one without a primary.
        await restorePrimary();
      }
    });
  }

  t.run();
}

if (CASES.includes('snoop')) failoverSuite('snoop', true, labName('sn1'), 'tap', TRIAL_COUNT);
if (CASES.includes('mirror')) failoverSuite('mirror', false, labName('sn2'), 'tap', TRIAL_COUNT);
if (CASES.includes('snoop-loss')) failoverSuite('snoop', true, labName('sn4'), 'tap', TRIAL_COUNT, 0.01);
if (CASES.includes('snoop-dpdk')) failoverSuite('snoop', true, labName('sn3'), 'dpdk', Math.min(TRIAL_COUNT, 2));
if (CASES.includes('1000')) failoverSuite('snoop', true, labName('sn5'), 'tap', 0, 0, true);
