// The ownership table: for every unit (address, port range) the best claim
// this node knows of. A claim is a max-register ordered by (epoch, holder):
// whoever takes a unit writes epoch + 1, and every node gossips its whole
// table in its ownership record, so all tables converge on the same highest
// claim once messages flow. A node answers for a unit only while the best
// claim it knows names it; learning of a higher claim on a unit it holds is
// how it yields (split brain: after a partition heals, the two sides' claims
// meet and exactly one survives everywhere).
import { ClaimReason, type ClaimRecord, type Unit } from './wire/messages.js';

export function unitKey(u: Unit): string {
  return `${u.ip >>> 0}:${u.lo}-${u.hi}`;
}

/** > 0 when a beats b. Ties on (epoch, holder) keep what is there. */
export function compareClaims(a: ClaimRecord, b: ClaimRecord): number {
  if (a.epoch !== b.epoch) return a.epoch - b.epoch;
  return a.holder - b.holder;
}

export class ClaimTable {
  private readonly claims = new Map<string, ClaimRecord>();

  get(u: Unit): ClaimRecord | undefined {
    return this.claims.get(unitKey(u));
  }

  /** Keeps `c` if it beats what is known for its unit; returns true when the table changed. */
  merge(c: ClaimRecord): boolean {
    const k = unitKey(c);
    const cur = this.claims.get(k);
    if (cur !== undefined && compareClaims(c, cur) <= 0) return false;
    this.claims.set(k, c);
    return true;
  }

  all(): ClaimRecord[] {
    return [...this.claims.values()].sort((a, b) => (a.ip >>> 0) - (b.ip >>> 0) || a.lo - b.lo);
  }

  heldBy(node: number): ClaimRecord[] {
    return this.all().filter((c) => c.holder === node);
  }

  get size(): number {
    return this.claims.size;
  }
}

export const CLAIM_REASON_NAMES: Record<ClaimReason, string> = {
  [ClaimReason.Home]: 'home',
  [ClaimReason.Takeover]: 'takeover',
  [ClaimReason.Failback]: 'failback',
  [ClaimReason.Handover]: 'handover',
  [ClaimReason.Resolved]: 'resolved',
};
