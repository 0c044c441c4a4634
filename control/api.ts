// The node's operator API: HTTP on a unix socket (no address on any network,
// so nothing outside the machine can reach it).
//   GET  /status              NodeStatus as JSON
//   GET  /metrics             Prometheus text format
//   POST /debug/crash-worker?n=N   fault injection: worker N dies as if it crashed
//   POST /cluster/fail?node=N      external detector: node N is failed (seed 003 claims 38–40)
//   POST /cluster/handover?ip=A    ask the holder of address A to hand it to this node
//   POST /cluster/rejoin           a fenced node starts a new incarnation and resyncs
//   POST /connections/handover?to=N[&address=A][&local-port=P][&remote=R:Q][&with-address=1]
//                                  move live connections (of address A) to node N; the report as JSON
//   POST /connections/request?from=N&address=A[&…same filters][&with-address=1]
//                                  ask node N to move its connections of A here (seed 000 claim 10)
import { createServer, request, type Server } from 'node:http';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BatonNode, NodeStatus } from './node.js';
import { BatonError } from './errors.js';
import { ipv4ToString, parseIpv4 } from '../dataplane/net/ipv4.js';
import { XFER_GAUGES } from '../dataplane/handoff/command.js';

export const API_DIR = '/run/baton';

export function defaultApiSocket(nodeName: string): string {
  return `${API_DIR}/${nodeName}.sock`;
}

function metricName(s: string): string {
  return s.replace(/[^a-zA-Z0-9_]/g, '_').toLowerCase();
}

/** Prometheus text exposition of a status snapshot. */
export function renderMetrics(s: NodeStatus): string {
  const out: string[] = [];
  const node = `node="${s.node.name}"`;
  const family = (name: string, type: 'counter' | 'gauge', help: string): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  family('baton_poller_frames_total', 'counter', 'Per-poller packet counters by name.');
  s.pollers.forEach((p, i) => {
    for (const [k, v] of Object.entries(p)) {
      if (k === 'slots_free') continue;
      out.push(`baton_poller_frames_total{${node},poller="${i}",counter="${metricName(k)}"} ${v}`);
    }
  });
  family('baton_endpoint_frames_total', 'counter', 'Per-endpoint (worker or control) counters by name.');
  s.endpoints.forEach((e, i) => {
    for (const [k, v] of Object.entries(e)) {
      if (k === 'slots_free') continue;
      out.push(`baton_endpoint_frames_total{${node},endpoint="${i}",counter="${metricName(k)}"} ${v}`);
    }
  });
  family('baton_drops_total', 'counter', 'Frames dropped by the data plane, by reason.');
  for (const [k, v] of Object.entries(s.drops)) out.push(`baton_drops_total{${node},reason="${metricName(k)}"} ${v}`);
  family('baton_worker_restarts_total', 'counter', 'Worker threads restarted after dying.');
  for (const w of s.workers) out.push(`baton_worker_restarts_total{${node},worker="${w.endpoint}"} ${w.restarts}`);
  family('baton_slots_free', 'gauge', 'Free packet pool slots.');
  out.push(`baton_slots_free{${node}} ${s.slots.free}`);
  family('baton_tcp_total', 'counter', 'TCP stack counters summed over workers, by name.');
  for (const [k, v] of Object.entries(s.tcp)) if (k !== 'connections') out.push(`baton_tcp_total{${node},counter="${metricName(k)}"} ${v}`);
  family('baton_tcp_connections', 'gauge', 'TCP connection records in use (any state).');
  out.push(`baton_tcp_connections{${node}} ${s.tcp['connections'] ?? 0}`);
  family('baton_arp_replies_total', 'counter', 'ARP requests answered.');
  out.push(`baton_arp_replies_total{${node}} ${s.arp.answered}`);
  family('baton_answering_addresses', 'gauge', 'Addresses this node answers for now.');
  out.push(`baton_answering_addresses{${node}} ${s.answering.length}`);
  if (s.transfers !== null) {
    family('baton_transfer_total', 'counter', 'Live connections moved to and from other nodes, frames, refusals by reason (dataplane/handoff).');
    for (const [k, v] of Object.entries(s.transfers)) if (!XFER_GAUGES.has(k)) out.push(`baton_transfer_total{${node},counter="${k}"} ${v}`);
    family('baton_transfer_gauge', 'gauge', 'Transfers in flight, reassemblies and their bytes, forwarding routes.');
    for (const [k, v] of Object.entries(s.transfers)) if (XFER_GAUGES.has(k)) out.push(`baton_transfer_gauge{${node},gauge="${k}"} ${v}`);
  }
  const c = s.cluster;
  if (c !== null) {
    family('baton_cluster_events_total', 'counter', 'Cluster control events and refused frames, by name (heartbeats, detections, takeovers, rx_bad_auth, …).');
    for (const [k, v] of Object.entries(c.counters)) out.push(`baton_cluster_events_total{${node},event="${k}"} ${v}`);
    out.push(`baton_cluster_events_total{${node},event="arp_announcements"} ${c.arpAnnouncements}`);
    out.push(`baton_cluster_events_total{${node},event="tx_drop_no_slot"} ${c.txDropNoSlot}`);
    family('baton_cluster_member_up', 'gauge', 'Member liveness as this node sees it (1 alive).');
    for (const m of c.members) out.push(`baton_cluster_member_up{${node},member="${m.id}",state="${m.state}"} ${m.liveness === 'alive' ? 1 : 0}`);
    family('baton_cluster_claim_epoch', 'gauge', 'Epoch of the best known claim per address, labelled with its holder.');
    for (const cl of c.claims) out.push(`baton_cluster_claim_epoch{${node},address="${ipv4ToString(cl.ip)}",holder="${cl.holder}",home="${cl.home}"} ${cl.epoch}`);
  }
  return `${out.join('\n')}\n`;
}

interface ConnectionFilters {
  address?: number;
  localPort?: number;
  remoteIp?: number;
  remotePort?: number;
  withAddress: boolean;
}

/** address=A, local-port=P, remote=R[:Q], with-address=1 of a /connections/ request. */
function connectionFilters(q: URLSearchParams): ConnectionFilters {
  const out: ConnectionFilters = { withAddress: q.get('with-address') === '1' };
  const ip = (v: string, k: string): number => {
    const n = parseIpv4(v);
    if (n < 0) throw new BatonError('BATON_ERR_USAGE', `${k}: expected an IPv4 address, got ${JSON.stringify(v)}`);
    return n;
  };
  const port = (v: string, k: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new BatonError('BATON_ERR_USAGE', `${k}: expected a port, got ${JSON.stringify(v)}`);
    return n;
  };
  const a = q.get('address');
  if (a !== null) out.address = ip(a, 'address');
  const lp = q.get('local-port');
  if (lp !== null) out.localPort = port(lp, 'local-port');
  const r = q.get('remote');
  if (r !== null) {
    const [rip, rport] = r.split(':');
    out.remoteIp = ip(rip ?? '', 'remote');
    if (rport !== undefined) out.remotePort = port(rport, 'remote');
  }
  return out;
}

export function startApi(node: BatonNode, socketPath: string): Promise<Server> {
  mkdirSync(dirname(socketPath), { recursive: true });
  rmSync(socketPath, { force: true });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://baton');
    const send = (code: number, type: string, body: string): void => {
      res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    try {
      if (req.method === 'GET' && url.pathname === '/status') {
        send(200, 'application/json', `${JSON.stringify(node.status())}\n`);
      } else if (req.method === 'GET' && url.pathname === '/connections') {
        node.connections().then(
          (rows) => send(200, 'application/json', `${JSON.stringify({ node: node.config.node.id, connections: rows })}\n`),
          (err: Error) => send(500, 'application/json', `${JSON.stringify({ error: err.message })}\n`));
      } else if (req.method === 'GET' && url.pathname === '/metrics') {
        send(200, 'text/plain; version=0.0.4', renderMetrics(node.status()));
      } else if (req.method === 'POST' && url.pathname.startsWith('/cluster/')) {
        const cl = node.cluster;
        if (cl === null) throw new BatonError('BATON_ERR_USAGE', 'this node has no cluster section in its config');
        if (url.pathname === '/cluster/fail') {
          const n = Number(url.searchParams.get('node'));
          if (!Number.isInteger(n) || n < 1 || n > 65535) throw new BatonError('BATON_ERR_USAGE', `node: expected a node id, got ${JSON.stringify(url.searchParams.get('node'))}`);
          cl.declareFailed(n);
          send(200, 'application/json', `${JSON.stringify({ ok: true, declared: n })}\n`);
        } else if (url.pathname === '/cluster/rejoin') {
          cl.rejoin();
          send(200, 'application/json', `${JSON.stringify({ ok: true, incarnation: cl.cluster.incarnation })}\n`);
        } else if (url.pathname === '/cluster/handover') {
          const ip = parseIpv4(url.searchParams.get('ip') ?? '');
          if (ip < 0) throw new BatonError('BATON_ERR_USAGE', `ip: expected an IPv4 address, got ${JSON.stringify(url.searchParams.get('ip'))}`);
          cl.handover(ip).then((o) => send(200, 'application/json', `${JSON.stringify(o)}\n`), () => send(500, 'application/json', '{"error":"handover failed"}\n'));
        } else {
          send(404, 'application/json', '{"error":"not found"}\n');
        }
      } else if (req.method === 'POST' && url.pathname.startsWith('/connections/')) {
        const q = url.searchParams;
        const nodeId = (k: string): number => {
          const n = Number(q.get(k));
          if (!Number.isInteger(n) || n < 1 || n > 65535) throw new BatonError('BATON_ERR_USAGE', `${k}: expected a node id, got ${JSON.stringify(q.get(k))}`);
          return n;
        };
        const filters = connectionFilters(q);
        const json = (o: unknown): void => send(200, 'application/json', `${JSON.stringify(o)}\n`);
        const fail = (err: unknown): void => {
          const code = err instanceof BatonError ? err.code : 'BATON_ERR_INTERNAL';
          send(code === 'BATON_ERR_USAGE' ? 400 : 500, 'application/json', `${JSON.stringify({ error: (err as Error).message, code })}\n`);
        };
        if (url.pathname === '/connections/handover') {
          node.handoverConnections({ to: nodeId('to'), ...filters }).then(json, fail);
        } else if (url.pathname === '/connections/request') {
          if (filters.address === undefined) throw new BatonError('BATON_ERR_USAGE', 'address: required');
          node.requestConnections(nodeId('from'), { ...filters, address: filters.address }).then(json, fail);
        } else {
          send(404, 'application/json', '{"error":"not found"}\n');
        }
      } else if (req.method === 'POST' && url.pathname === '/debug/crash-worker') {
        node.crashWorker(Number(url.searchParams.get('n') ?? '0'));
        send(200, 'application/json', '{"ok":true}\n');
      } else {
        send(404, 'application/json', '{"error":"not found"}\n');
      }
    } catch (err) {
      const code = err instanceof BatonError ? err.code : 'BATON_ERR_INTERNAL';
      send(400, 'application/json', `${JSON.stringify({ error: (err as Error).message, code })}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve(server));
  });
}

/** A request to a node's API socket; resolves with the body, rejects with BATON_ERR_USAGE when nobody listens. */
export function apiRequest(socketPath: string, method: 'GET' | 'POST', path: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    // A fresh connection each time (agent: false): a pooled keep-alive socket
    // that the node closed while the caller's event loop was blocked (a
    // spawnSync in a test) would fail with EPIPE.
    const req = request({ socketPath, method, path, timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 400) reject(new BatonError('BATON_ERR_USAGE', `${path}: ${body.trim()}`));
        else resolve(body);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(new BatonError('BATON_ERR_USAGE', `no Baton node answers on ${socketPath}: ${err.message}`)));
    req.end();
  });
}
