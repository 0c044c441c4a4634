// `baton status --connections`: every connection with its holder, its backup
// and whether it is protected right now — its backup's shadow is exact, so a
// takeover would resume it — with the replication lag. A node knows its own
// connections and its own shadows; asked of several nodes at once (the holder
// and its backup), the listing joins each live connection with its shadow.
import type { ConnectionRow } from './node.js';

export interface NodeConnections {
  readonly node: number;
  readonly connections: readonly ConnectionRow[];
}

export interface JoinedConnection {
  readonly local: string;
  readonly remote: string;
  readonly state: string;
  readonly holder: number;
  readonly backup: number;
  /** yes: the backup's shadow is exact; no: it is not (or there is none); unknown: the backup was not asked. */
  readonly protected: 'yes' | 'no' | 'unknown';
  readonly lagBytes: number | null;
  readonly inFlight: number | null;
}

export function joinConnections(nodes: readonly NodeConnections[]): JoinedConnection[] {
  const asked = new Set(nodes.map((n) => n.node));
  const shadows = new Map<string, ConnectionRow>();
  for (const n of nodes) for (const c of n.connections) if (c.role === 'shadow') shadows.set(`${n.node}|${c.local}|${c.remote}`, c);
  const out: JoinedConnection[] = [];
  const seen = new Set<string>();
  for (const n of nodes) {
    for (const c of n.connections) {
      if (c.role !== 'live') continue;
      const s = c.backup === 0 ? undefined : shadows.get(`${c.backup}|${c.local}|${c.remote}`);
      if (s !== undefined) seen.add(`${c.backup}|${c.local}|${c.remote}`);
      const prot = c.backup === 0 ? 'no' : s !== undefined ? (s.exact === true ? 'yes' : 'no') : asked.has(c.backup) ? 'no' : 'unknown';
      out.push({ local: c.local, remote: c.remote, state: c.state, holder: n.node, backup: c.backup, protected: prot, lagBytes: s?.lagBytes ?? null, inFlight: c.inFlight });
    }
  }
  // Shadows whose holder was not asked: what the backup knows.
  for (const n of nodes) {
    for (const c of n.connections) {
      if (c.role !== 'shadow' || seen.has(`${n.node}|${c.local}|${c.remote}`) || asked.has(c.holder)) continue;
      out.push({ local: c.local, remote: c.remote, state: c.state, holder: c.holder, backup: n.node, protected: c.exact === true ? 'yes' : 'no', lagBytes: c.lagBytes, inFlight: null });
    }
  }
  return out;
}

export function renderConnections(rows: readonly JoinedConnection[]): string {
  const head = ['local', 'remote', 'state', 'holder', 'backup', 'protected', 'lag'];
  const body = rows.map((r) => [r.local, r.remote, r.state, String(r.holder || '-'), String(r.backup || '-'), r.protected, r.lagBytes === null ? '-' : `${r.lagBytes} B`]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  const prot = rows.filter((r) => r.protected === 'yes').length;
  return [line(head), ...body.map(line), `${rows.length} connections, ${prot} protected`].join('\n') + '\n';
}
