// Fail-over decisions. Every node runs the same pure function over the same
// inputs (the ownership records, the claim table, who is alive and synced) and
// so reaches the same answer with no coordinator. For each unit:
//
//   desired holder =
//     the home node, when it is alive, not fenced, and synced (or still holds it);
//     else the current holder, when it is eligible (no needless moves);
//     else nobody yet, when the home is alive but still joining;
//     else the fail-over policy over the eligible survivors:
//       backup — the home's ordered backup list, first eligible entry
//                (spread over survivors when none of the list is left);
//       spread — rendezvous hashing of (address, port range) over the sorted
//                survivor ids: each unit to the survivor with the highest hash,
//                so a failure moves only the failed node's units.
//
// This node then writes a claim when it is the desired holder and the current
// holder is failed (takeover), or when it holds a unit that should be
// elsewhere (a grant: failback to a resynced home, a handover). It never takes
// a unit from a live holder: that holder hands it over itself, so at most one
// node answers at a time. With `requireQuorum`, takeovers need a majority of
// the cluster (when it has three or more nodes), so the minority side of a
// partition does not grab the majority's addresses; the price is that the
// last survivor of a 3-node cluster takes nothing over.
import { compareClaims, unitKey } from './ownership.js';
import { ClaimReason, FailoverPolicy, type ClaimRecord, type OwnershipRecord, type Unit } from './wire/messages.js';

export interface NodeView {
  readonly alive: boolean;
  /**
   * Heard within half the detection time (⌊misses/2⌋ heartbeat intervals).
   * Only fresh nodes count towards a quorum: when a partition starts, every
   * peer across it goes silent at once, so at the moment the first one times
   * out the others are already stale, and the minority cannot count them
   * (see hasQuorum). (misses − 1) intervals was too loose on a loaded
   * machine: a peer whose last heartbeat came a few ms after the failed one's
   * still counted, and the isolated node took an address over.)
   */
  readonly fresh: boolean;
  readonly synced: boolean;
  readonly fenced: boolean;
}

export interface ClusterView {
  readonly self: number;
  readonly clusterSize: number;
  readonly requireQuorum: boolean;
  /** Liveness as this node sees it, for every node including itself. */
  readonly nodes: ReadonlyMap<number, NodeView>;
  /** Ownership records by node id (this node's own included). */
  readonly records: ReadonlyMap<number, OwnershipRecord>;
  readonly claims: ReadonlyMap<string, ClaimRecord>;
  /** Every unit known: home units from the records, and units claims speak of. */
  readonly units: ReadonlyMap<string, Unit & { readonly home: number }>;
}

function eligible(v: ClusterView, id: number): boolean {
  const n = v.nodes.get(id);
  return n !== undefined && n.alive && n.synced && !n.fenced;
}

/** 32-bit FNV-1a over the unit and a node id: the rendezvous weight. */
export function rendezvousWeight(u: Unit, node: number): number {
  let h = 0x811c9dc5;
  const mix = (x: number): void => {
    for (let i = 0; i < 4; i++) {
      h ^= (x >>> (i * 8)) & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  };
  mix(u.ip >>> 0);
  mix(((u.lo & 0xffff) << 16) | (u.hi & 0xffff));
  mix(node);
  // Finalise (murmur3 fmix32) so nearby ids do not give nearby weights.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** The policy's choice among `survivors`, or 0 when there is none. */
export function policyHolder(u: Unit, home: OwnershipRecord | undefined, survivors: readonly number[]): number {
  if (survivors.length === 0) return 0;
  if (home !== undefined && home.failover === FailoverPolicy.Backup) {
    for (const b of home.backups) if (survivors.includes(b)) return b;
  }
  let best = 0;
  let bestW = -1;
  for (const s of [...survivors].sort((a, b) => a - b)) {
    const w = rendezvousWeight(u, s);
    if (w > bestW) {
      bestW = w;
      best = s;
    }
  }
  return best;
}

export function desiredHolder(v: ClusterView, u: Unit & { readonly home: number }, current: ClaimRecord | undefined): number {
  const home = v.nodes.get(u.home);
  if (home !== undefined && home.alive && !home.fenced) {
    if (home.synced || current?.holder === u.home) return u.home;
    if (current !== undefined && eligible(v, current.holder)) return current.holder;
    // A live home still joining (a cold start, a restart) is waited for, not taken over.
    return 0;
  }
  if (current !== undefined && eligible(v, current.holder)) return current.holder;
  const survivors: number[] = [];
  for (const [id] of v.nodes) if (eligible(v, id)) survivors.push(id);
  return policyHolder(u, v.records.get(u.home), survivors);
}

function hasQuorum(v: ClusterView): boolean {
  if (!v.requireQuorum || v.clusterSize < 3) return true;
  let alive = 0;
  for (const n of v.nodes.values()) if (n.alive && n.fresh && !n.fenced) alive++;
  return alive * 2 > v.clusterSize;
}

/** The claims this node writes now, given its view. Pure: same view, same claims. */
export function planClaims(v: ClusterView, now: number): ClaimRecord[] {
  const out: ClaimRecord[] = [];
  const me = v.nodes.get(v.self);
  if (me === undefined || me.fenced || !me.synced) return out;
  const quorum = hasQuorum(v);
  for (const [k, u] of v.units) {
    const cur = v.claims.get(k);
    const want = desiredHolder(v, u, cur);
    if (want === 0) continue;
    const epoch = (cur?.epoch ?? 0) + 1;
    const claim = (holder: number, reason: ClaimReason): ClaimRecord =>
      ({ ip: u.ip, lo: u.lo, hi: u.hi, home: u.home, holder, epoch, author: v.self, sinceMs: now, reason });
    if (want === v.self && cur?.holder !== v.self) {
      if (cur === undefined) {
        // Nobody ever claimed it: the home's first claim, or a takeover of a home that never came up.
        if (u.home === v.self) out.push(claim(v.self, ClaimReason.Home));
        else if (quorum) out.push(claim(v.self, ClaimReason.Takeover));
        continue;
      }
      const holder = v.nodes.get(cur.holder);
      const holderGone = holder === undefined || !holder.alive || holder.fenced;
      if (holderGone && quorum) out.push(claim(v.self, u.home === v.self ? ClaimReason.Home : ClaimReason.Takeover));
      // A live holder hands the unit over itself (the grant below, on its side).
    } else if (cur?.holder === v.self && want !== v.self) {
      out.push(claim(want, want === u.home ? ClaimReason.Failback : ClaimReason.Resolved));
    }
  }
  return out;
}

/** True when `c` would replace `cur` in a claim table. */
export function beats(c: ClaimRecord, cur: ClaimRecord | undefined): boolean {
  return cur === undefined || compareClaims(c, cur) > 0;
}

/** Who would hold `u` if `failed` failed now, by the same rule every node applies (0: nobody). */
export function successor(v: ClusterView, u: Unit & { readonly home: number }, failed: number): number {
  const nodes = new Map(v.nodes);
  const n = nodes.get(failed);
  if (n !== undefined) nodes.set(failed, { ...n, alive: false, fresh: false });
  return desiredHolder({ ...v, nodes }, u, v.claims.get(unitKey(u)));
}

export interface SnoopRoles {
  /** Units held by a live peer that this node would take over: it keeps shadows of their connections. */
  readonly shadow: { readonly ip: number; readonly holder: number }[];
  /** Units this node holds, and the node that would take each over (mirror-mode copies go there). */
  readonly mirrorTo: { readonly ip: number; readonly backup: number }[];
  /** Peers known and not alive now (failed, declared, fenced): connection moves to them come back. */
  readonly failed?: readonly number[];
}

/**
 * Service modes snoop and mirror (seeds 000–002): the backup of a unit is
 * its successor should its holder fail now, so the node that shadows a
 * connection is the node that will assume it.
 */
export function snoopRoles(v: ClusterView): SnoopRoles {
  const shadow: { ip: number; holder: number }[] = [];
  const mirrorTo: { ip: number; backup: number }[] = [];
  const me = v.nodes.get(v.self);
  const failed: number[] = [];
  for (const [id, n] of v.nodes) if (id !== v.self && (!n.alive || n.fenced)) failed.push(id);
  failed.sort((a, b) => a - b);
  if (me === undefined || me.fenced) return { shadow, mirrorTo, failed };
  for (const [k, u] of v.units) {
    const cur = v.claims.get(k);
    if (cur === undefined) continue;
    const holder = v.nodes.get(cur.holder);
    if (holder === undefined || !holder.alive || holder.fenced) continue;
    if (cur.holder === v.self) {
      const b = successor(v, u, v.self);
      if (b !== 0 && b !== v.self) mirrorTo.push({ ip: u.ip, backup: b });
    } else if (me.synced && successor(v, u, cur.holder) === v.self) {
      shadow.push({ ip: u.ip, holder: cur.holder });
    }
  }
  return { shadow, mirrorTo, failed };
}
