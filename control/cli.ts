#!/usr/bin/env node
// `baton` — the command line. Every command is one entry in `commands`, so
// `baton --help` always lists exactly what exists.
import { parseArgs } from 'node:util';
import { BatonError, UsageError } from './errors.js';
import { DEFAULT_LAB, Lab, type Attachment, type LabSpec } from './lab.js';
import { loadConfig } from './config.js';
import { BatonNode, type NodeStatus } from './node.js';
import { apiRequest, defaultApiSocket, startApi } from './api.js';
import { runDemo } from './demo.js';
import { renderCluster } from './cluster-status.js';
import { joinConnections, renderConnections, type NodeConnections } from './connections-status.js';

interface Command {
  readonly usage: string;
  readonly summary: string;
  run(argv: string[]): Promise<number> | number;
}

function labSpecFrom(argv: string[]): LabSpec {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      clients: { type: 'string' },
      nodes: { type: 'string' },
      switch: { type: 'boolean' },
    },
  });
  const name = positionals[0] ?? DEFAULT_LAB.name;
  const clients = values.clients === undefined ? DEFAULT_LAB.clients : Number(values.clients);
  if (!Number.isInteger(clients) || clients < 0) throw new UsageError(`--clients: expected a whole number, got ${values.clients}`);
  let nodes: Attachment[] = [...DEFAULT_LAB.nodes];
  if (values.nodes !== undefined) {
    nodes = values.nodes.split(',').filter((s) => s !== '').map((s) => {
      if (s !== 'tap' && s !== 'veth' && s !== 'none') throw new UsageError(`--nodes: each node is tap, veth or none, got ${JSON.stringify(s)}`);
      return s;
    });
  }
  return { name, clients, nodes, hub: values.switch !== true };
}

function describe(lab: Lab): string {
  const lines = [`lab ${lab.spec.name}: segment namespace ${lab.segNs}, bridge ${lab.bridge} (${lab.spec.hub ? 'hub: floods unicast' : 'learning switch'})`];
  for (const c of lab.clients) lines.push(`  client ${c.index}: namespace ${c.ns}, ${c.ip}`);
  for (const n of lab.nodes) lines.push(`  node ${n.index}: ${n.attachment} ${n.ifname} in ${lab.segNs}, service address ${n.ip}`);
  return lines.join('\n');
}

function renderStatus(s: NodeStatus): string {
  const lines = [
    `node ${s.node.name} (id ${s.node.id}) mac ${s.node.mac} addresses ${s.node.addresses.join(' ')}`,
    `port ${s.port.driver} queues ${s.port.queues}, up ${(s.uptimeMs / 1000).toFixed(1)} s`,
    `workers: ${s.workers.map((w) => `${w.endpoint}:${w.running ? 'running' : 'down'}${w.restarts > 0 ? ` (${w.restarts} restarts)` : ''}`).join(' ')}`,
  ];
  s.pollers.forEach((p, i) => {
    lines.push(`poller ${i}: rx ${p.rx_frames} tx ${p.tx_frames} to-control ${p.rx_to_control} drops: no-slot ${p.rx_drop_no_slot} ring-full ${p.rx_drop_ring_full} not-ours ${p.rx_drop_not_ours} oversize ${p.rx_drop_oversize} tx-driver ${p.tx_drop_driver}`);
  });
  const drops = Object.entries(s.drops).map(([k, v]) => `${k} ${v}`).join(', ');
  lines.push(`drops: ${drops === '' ? 'none' : drops}`);
  const t = s.tcp;
  if (t !== undefined && (t['passive_opens'] ?? 0) + (t['active_opens'] ?? 0) + (t['connections'] ?? 0) > 0) {
    lines.push(`tcp: connections ${t['connections']} opened ${t['passive_opens']} established ${t['established']} closed ${t['closed']} resets ${t['resets']} ` +
      `retransmits ${t['retransmits']} (rto ${t['rto_fired']}, fast ${t['fast_retransmits']}) syn-cookies ${t['syn_cookies_sent']} no-slot ${t['no_slot']}`);
  }
  const faults: Record<string, number> = {};
  for (const e of s.endpoints) {
    for (const [k, v] of Object.entries(e)) if (k.startsWith('fault_') && v !== 0) faults[k.slice(6)] = (faults[k.slice(6)] ?? 0) + v;
  }
  if (Object.keys(faults).length > 0) lines.push(`injected faults: ${Object.entries(faults).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`arp: ${s.arp.answered} answered; neighbours ${Object.entries(s.arp.neighbours).map(([ip, mac]) => `${ip}=${mac}`).join(' ') || 'none'}`);
  lines.push(`slots: ${s.slots.free} free, ${s.slots.inRings} in rings, ${s.slots.unaccounted} in hand of ${s.slots.poolSlots}`);
  const x = s.transfers;
  if (x !== null && x !== undefined && (x['sent'] ?? 0) + (x['frames_received'] ?? 0) > 0) {
    lines.push(`transfers: sent ${x['sent']} accepted ${x['accepted']} rejected ${x['rejected']} unresolved ${x['unresolved']} reimported ${x['reimported']} ` +
      `imported ${x['imported']} refused ${x['refused']} forwarded ${x['forwarded']} held-drops ${x['held_drops']} retransmits ${x['retransmits']} ` +
      `rx-bad-auth ${x['rx_bad_auth']} rx-stale ${x['rx_stale']}`);
  }
  lines.push(`answering for: ${s.answering.join(' ') || 'nothing'}`);
  if (s.cluster !== null) lines.push(...renderCluster(s.cluster));
  return `${lines.join('\n')}\n`;
}

type StringOption = { type: 'string' };

/** The options every `baton connections` command takes, plus `extra`. */
function connectionOptions<T extends Record<string, StringOption>>(extra: T) {
  return {
    ...extra,
    address: { type: 'string' }, 'local-port': { type: 'string' }, remote: { type: 'string' }, 'with-address': { type: 'boolean' },
    node: { type: 'string' }, api: { type: 'string' },
  } as const;
}

function connectionQuery(v: { address?: string | undefined; 'local-port'?: string | undefined; remote?: string | undefined; 'with-address'?: boolean | undefined }): string {
  const q = new URLSearchParams();
  if (v.address !== undefined) q.set('address', v.address);
  if (v['local-port'] !== undefined) q.set('local-port', v['local-port']);
  if (v.remote !== undefined) q.set('remote', v.remote);
  if (v['with-address'] === true) q.set('with-address', '1');
  return q.toString();
}

const commands: Record<string, Command> = {
  run: {
    usage: 'baton run --config FILE [--api SOCKET]',
    summary: 'start a node from a JSON config; runs until SIGINT/SIGTERM',
    async run(argv) {
      const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, api: { type: 'string' } } });
      if (values.config === undefined) throw new UsageError('run: --config FILE is required');
      const config = loadConfig(values.config);
      const node = await BatonNode.start(config);
      const socket = values.api ?? defaultApiSocket(config.node.name);
      const server = await startApi(node, socket);
      process.stdout.write(`baton: node ${config.node.name} up on ${config.port.kind}:${config.port.target} (${config.addresses.map((a) => a.text).join(' ')}), api ${socket}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      server.close();
      await node.stop();
      process.stdout.write(`baton: node ${config.node.name} stopped\n`);
      return 0;
    },
  },
  status: {
    usage: 'baton status [--json] [--connections] [--node NAME | --api SOCKET]…',
    summary: 'a running node\'s workers, counters, drops, neighbours, slot census, cluster members and ownership; ' +
      'with --connections every connection, its holder, its backup and whether it is protected (ask the holder and its backup together)',
    async run(argv) {
      const { values } = parseArgs({
        args: argv,
        options: { json: { type: 'boolean' }, connections: { type: 'boolean' }, node: { type: 'string', multiple: true }, api: { type: 'string', multiple: true } },
      });
      const sockets = [...(values.api ?? []), ...(values.node ?? []).map((n) => defaultApiSocket(n))];
      if (sockets.length === 0) sockets.push(defaultApiSocket('n1'));
      if (values.connections === true) {
        const nodes: NodeConnections[] = [];
        for (const socket of sockets) nodes.push(JSON.parse(await apiRequest(socket, 'GET', '/connections')) as NodeConnections);
        const joined = joinConnections(nodes);
        process.stdout.write(values.json === true ? `${JSON.stringify(joined)}\n` : renderConnections(joined));
        return 0;
      }
      if (sockets.length > 1) throw new UsageError('status: one node at a time (several only with --connections)');
      const body = await apiRequest(sockets[0]!, 'GET', '/status');
      process.stdout.write(values.json === true ? body : renderStatus(JSON.parse(body) as NodeStatus));
      return 0;
    },
  },
  fail: {
    usage: 'baton fail NODE-ID [--node NAME | --api SOCKET]',
    summary: 'external failure detector: declare a cluster member failed; its addresses move as on a heartbeat timeout',
    async run(argv) {
      const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { node: { type: 'string' }, api: { type: 'string' } } });
      const id = Number(positionals[0]);
      if (positionals.length !== 1 || !Number.isInteger(id) || id < 1 || id > 65535) throw new UsageError('fail: expected one node id, e.g. baton fail 2 --node n1');
      const socket = values.api ?? defaultApiSocket(values.node ?? 'n1');
      process.stdout.write(await apiRequest(socket, 'POST', `/cluster/fail?node=${id}`));
      return 0;
    },
  },
  handover: {
    usage: 'baton handover ADDRESS [--node NAME | --api SOCKET]',
    summary: 'ask the node holding an assumed address to hand it over to this node (accept or reject, with a reason)',
    async run(argv) {
      const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { node: { type: 'string' }, api: { type: 'string' } } });
      if (positionals.length !== 1) throw new UsageError('handover: expected one address, e.g. baton handover 198.18.0.2 --node n3');
      const socket = values.api ?? defaultApiSocket(values.node ?? 'n1');
      const body = await apiRequest(socket, 'POST', `/cluster/handover?ip=${encodeURIComponent(positionals[0]!)}`);
      process.stdout.write(body);
      return (JSON.parse(body) as { accepted: boolean }).accepted ? 0 : 1;
    },
  },
  'connections handover': {
    usage: 'baton connections handover --to NODE [--address IP] [--local-port P] [--remote IP[:PORT]] [--with-address] [--node NAME | --api SOCKET]',
    summary: 'move live connections (all, or of an address) to another node, then the address too with --with-address; prints what moved',
    async run(argv) {
      const { values } = parseArgs({ args: argv, options: connectionOptions({ to: { type: 'string' } }) });
      if (values.to === undefined) throw new UsageError('connections handover: --to NODE is required');
      const body = await apiRequest(values.api ?? defaultApiSocket(values.node ?? 'n1'), 'POST', `/connections/handover?to=${encodeURIComponent(values.to)}&${connectionQuery(values)}`, 30_000);
      process.stdout.write(body);
      const r = JSON.parse(body) as { rejected: number; unresolved: number; addressMoved: boolean | null };
      return r.rejected === 0 && r.unresolved === 0 && r.addressMoved !== false ? 0 : 1;
    },
  },
  'connections request': {
    usage: 'baton connections request --from NODE --address IP [--local-port P] [--remote IP[:PORT]] [--with-address] [--node NAME | --api SOCKET]',
    summary: 'ask the node holding connections of an address to move them (and the address) to this node; accepted or refused with a reason',
    async run(argv) {
      const { values } = parseArgs({ args: argv, options: connectionOptions({ from: { type: 'string' } }) });
      if (values.from === undefined || values.address === undefined) throw new UsageError('connections request: --from NODE and --address IP are required');
      const body = await apiRequest(values.api ?? defaultApiSocket(values.node ?? 'n1'), 'POST', `/connections/request?from=${encodeURIComponent(values.from)}&${connectionQuery(values)}`, 30_000);
      process.stdout.write(body);
      return (JSON.parse(body) as { accepted: boolean }).accepted ? 0 : 1;
    },
  },
  rejoin: {
    usage: 'baton rejoin [--node NAME | --api SOCKET]',
    summary: 'a node declared failed starts a new incarnation, resyncs, and gets its addresses back',
    async run(argv) {
      const { values } = parseArgs({ args: argv, options: { node: { type: 'string' }, api: { type: 'string' } } });
      process.stdout.write(await apiRequest(values.api ?? defaultApiSocket(values.node ?? 'n1'), 'POST', '/cluster/rejoin'));
      return 0;
    },
  },
  'lab up': {
    usage: 'baton lab up [NAME] [--clients N] [--nodes tap,veth,none] [--switch]',
    summary: 'build a lab: a segment (hub unless --switch), kernel client hosts, node attachments',
    run(argv) {
      const lab = Lab.up(labSpecFrom(argv));
      process.stdout.write(`${describe(lab)}\nremove it with: baton lab down ${lab.spec.name}\n`);
      return 0;
    },
  },
  'lab down': {
    usage: 'baton lab down [NAME]',
    summary: 'remove every namespace (and so every device) of a lab',
    run(argv) {
      const name = argv[0] ?? DEFAULT_LAB.name;
      const gone = Lab.remove(name);
      process.stdout.write(gone.length === 0 ? `lab ${name}: nothing to remove\n` : `removed ${gone.join(' ')}\n`);
      return 0;
    },
  },
  demo: {
    usage: 'baton demo',
    summary: 'the main job on the embedded default: a lab, a Baton node on TAP, real kernel traffic, teardown',
    run() {
      return runDemo(renderStatus);
    },
  },
};

function help(): string {
  const w = Math.max(...Object.values(commands).map((c) => c.usage.length));
  const rows = Object.values(commands).map((c) => `  ${c.usage.padEnd(w)}  ${c.summary}`);
  return `baton — keeps TCP connections alive when the node serving them dies\n\nusage:\n${rows.join('\n')}\n  baton --help\n`;
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(help());
    return 0;
  }
  const two = `${argv[0]} ${argv[1] ?? ''}`;
  const key = commands[two] !== undefined ? two : argv[0]!;
  const cmd = commands[key];
  if (cmd === undefined) throw new UsageError(`unknown command ${JSON.stringify(argv.join(' '))}; see baton --help`);
  return cmd.run(argv.slice(key.split(' ').length));
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const nodeCode = (err as { code?: unknown }).code;
    if (typeof nodeCode === 'string' && nodeCode.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`baton: ${(err as Error).message}; see baton --help [BATON_ERR_USAGE]\n`);
      process.exitCode = 64;
    } else if (err instanceof BatonError) {
      process.stderr.write(`baton: ${err.message} [${err.code}]\n`);
      process.exitCode = err.code === 'BATON_ERR_USAGE' ? 64 : 1;
    } else {
      process.stderr.write(`baton: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 70;
    }
  },
);
