// Failure detection (seed 003 claims 36–40): a member is failed when it has
// missed `misses` heartbeat intervals (the automatic scheme), or when an
// external detector or the operator declared its current incarnation failed
// (`baton fail NODE`, POST /cluster/fail). A declaration is per incarnation:
// the node is back only when it restarts (or rejoins) with a higher one.
// Pure: every answer takes `now`.

export interface DetectorConfig {
  readonly heartbeatMs: number;
  readonly misses: number;
}

export type Liveness = 'alive' | 'timeout' | 'declared';

export interface Heard {
  readonly incarnation: number;
  readonly lastHeardMs: number;
}

export class FailureDetector {
  readonly config: DetectorConfig;
  /** node → highest incarnation declared failed. */
  private readonly declared = new Map<number, number>();

  constructor(config: DetectorConfig) {
    this.config = config;
  }

  /** Time without a heartbeat after which a member is failed. */
  get timeoutMs(): number {
    return this.config.heartbeatMs * this.config.misses;
  }

  /** Records a declaration; returns true when it is news. */
  declare(node: number, incarnation: number): boolean {
    const d = this.declared.get(node);
    if (d !== undefined && d >= incarnation) return false;
    this.declared.set(node, incarnation);
    return true;
  }

  declaredIncarnation(node: number): number {
    return this.declared.get(node) ?? -1;
  }

  liveness(node: number, heard: Heard | undefined, now: number): Liveness {
    if (heard === undefined) return 'timeout';
    if (heard.incarnation <= this.declaredIncarnation(node)) return 'declared';
    return now - heard.lastHeardMs > this.timeoutMs ? 'timeout' : 'alive';
  }
}
