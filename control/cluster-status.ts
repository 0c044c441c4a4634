// `baton status` rendering of the cluster layer: members, who holds what since
// when and why, and the counters (refused frames included).
import { ipv4ToString } from '../dataplane/net/ipv4.js';
import type { ClusterLinkStatus } from './cluster-link.js';
import { CLAIM_REASON_NAMES } from './ownership.js';

function table(rows: string[][]): string[] {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(w[i]!)).join('  ')}`.trimEnd());
}

function ago(ms: number, now: number): string {
  const d = now - ms;
  return d < 10_000 ? `${d} ms ago` : `${(d / 1000).toFixed(1)} s ago`;
}

export function renderCluster(c: ClusterLinkStatus, now = Date.now()): string[] {
  const lines = [`cluster: node ${c.self} ${c.state}, incarnation ${c.incarnation}, heartbeat ${c.heartbeatMs} ms × ${c.misses} misses, arp ${c.arpPolicy}${c.arpPolicy === 'multicast' ? ` (${c.clusterMac})` : ''}`];
  lines.push('members:');
  lines.push(...table([
    ['id', 'state', 'liveness', 'since', 'last heard', 'incarnation', 'record'],
    ...c.members.map((m) => [
      `${m.id}${m.self ? '*' : ''}`, m.state, m.liveness, ago(m.sinceMs, now), m.self ? '-' : m.lastHeardAgoMs < 0 ? 'never' : `${m.lastHeardAgoMs} ms`,
      String(m.incarnation), `v${m.recordVersion}`,
    ]),
  ]));
  lines.push('ownership:');
  lines.push(...table([
    ['address', 'ports', 'home', 'holder', 'epoch', 'why', 'since', 'by'],
    ...c.claims.map((cl) => [
      ipv4ToString(cl.ip), `${cl.lo}-${cl.hi}`, String(cl.home), String(cl.holder), String(cl.epoch), CLAIM_REASON_NAMES[cl.reason],
      ago(cl.sinceMs, now), String(cl.author),
    ]),
  ]));
  const counters = Object.entries(c.counters).filter(([, v]) => v !== 0).map(([k, v]) => `${k} ${v}`);
  lines.push(`cluster counters: ${counters.join(', ') || 'none'}; arp announcements ${c.arpAnnouncements}`);
  return lines;
}
