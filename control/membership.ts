// Cluster membership as this node sees it: every configured peer, its
// incarnation (wall-clock ms at its boot, so it only grows), when it was last
// heard, the state it advertises (Joining → Synced, or Fenced), the version of
// the ownership record it advertises and the record we hold. Liveness comes
// from the detector; nothing here reads a clock.
import { FailureDetector, type Liveness } from './detector.js';
import { MemberState, type OwnershipRecord } from './wire/messages.js';

export interface Member {
  readonly id: number;
  incarnation: number;
  lastHeardMs: number;
  state: MemberState;
  /** Record version the member advertises in its heartbeats. */
  advertisedVersion: number;
  record: OwnershipRecord | null;
  /** Incarnation the held record came from. */
  recordIncarnation: number;
  liveness: Liveness;
  /** When liveness last changed, and why (for status). */
  sinceMs: number;
  /** Last time we solicited this member's record (rate limit). */
  solicitedMs: number;
}

export class Membership {
  readonly self: number;
  readonly peers: readonly number[];
  readonly detector: FailureDetector;
  private readonly members = new Map<number, Member>();

  constructor(self: number, peers: readonly number[], detector: FailureDetector, now: number) {
    this.self = self;
    this.peers = [...peers].sort((a, b) => a - b);
    this.detector = detector;
    for (const id of this.peers) {
      this.members.set(id, {
        id, incarnation: -1, lastHeardMs: -Infinity, state: MemberState.Joining, advertisedVersion: 0, record: null,
        recordIncarnation: -1, liveness: 'timeout', sinceMs: now, solicitedMs: -Infinity,
      });
    }
  }

  get(id: number): Member | undefined {
    return this.members.get(id);
  }

  all(): IterableIterator<Member> {
    return this.members.values();
  }

  /** Every node of the cluster, this one included. */
  get size(): number {
    return this.peers.length + 1;
  }

  /**
   * An authenticated message from `id` at `incarnation`. A higher incarnation
   * is a restart: the old record no longer describes the node.
   */
  heard(id: number, incarnation: number, now: number): Member | undefined {
    const m = this.members.get(id);
    if (m === undefined || incarnation < m.incarnation) return undefined;
    if (incarnation > m.incarnation) {
      m.incarnation = incarnation;
      m.state = MemberState.Joining;
      m.advertisedVersion = 0;
    }
    // Messages read late (heartbeats, at the next tick) may be processed out of arrival order.
    if (now > m.lastHeardMs) m.lastHeardMs = now;
    return m;
  }

  /**
   * Re-evaluates every member's liveness; returns those whose liveness
   * changed. With `silent` (a heartbeat engine's judgment), a member heard
   * before times out only when it also says so.
   */
  sweep(now: number, silent?: (id: number) => boolean): Member[] {
    const changed: Member[] = [];
    for (const m of this.members.values()) {
      let l = this.detector.liveness(m.id, m.incarnation < 0 ? undefined : m, now);
      if (l === 'timeout' && m.incarnation >= 0 && silent !== undefined && !silent(m.id)) l = 'alive';
      if (l !== m.liveness) {
        m.liveness = l;
        m.sinceMs = now;
        changed.push(m);
      }
    }
    return changed;
  }

  isAlive(id: number): boolean {
    if (id === this.self) return true;
    return this.members.get(id)?.liveness === 'alive';
  }

  aliveCount(): number {
    let n = 1;
    for (const m of this.members.values()) if (m.liveness === 'alive') n++;
    return n;
  }
}
