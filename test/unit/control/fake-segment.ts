// A simulated cluster segment for unit tests: Cluster state machines wired
// through an in-memory broadcast medium, with an explicit clock. Nodes can be
// killed (silence), restarted (new incarnation), and partitioned; every frame
// a node sends is delivered to every node in the same partition.
import { Cluster, type ClusterSettings } from '../../../control/cluster.js';
import { ArpPolicy, FailoverPolicy, Protocol, type ClaimRecord } from '../../../control/wire/messages.js';

export const KEY = new Uint8Array(32).fill(7);
export const IP = (n: number): number => (0xc6120000 | n) >>> 0; // 198.18.0.n

export function settingsFor(id: number, ids: readonly number[], over: Partial<ClusterSettings> = {}): ClusterSettings {
  return {
    clusterId: 1, self: id, peers: ids.filter((x) => x !== id), key: KEY, heartbeatMs: 10, misses: 4, syncWindowMs: 80, requireQuorum: true,
    failover: FailoverPolicy.Backup, backups: ids.filter((x) => x !== id), arp: ArpPolicy.Unicast, protocol: Protocol.Any,
    application: 'echo', addresses: [IP(id)], ports: [0, 65535], macs: [`02:ba:70:00:00:0${id}`], ...over,
  };
}

export class FakeSegment {
  now = 1_000_000;
  readonly nodes = new Map<number, Cluster>();
  readonly held = new Map<number, readonly ClaimRecord[]>();
  /** Node id → partition label; frames cross only between equal labels. */
  readonly partition = new Map<number, number>();
  readonly dead = new Set<number>();
  /** Every payload sent, for replay tests. */
  readonly wire: { from: number; payload: Uint8Array }[] = [];
  private queue: { from: number; payload: Uint8Array }[] = [];
  private readonly settings = new Map<number, ClusterSettings>();

  /** Boots every id except those in `down` (never started, until boot(id)). */
  constructor(ids: readonly number[], over: (id: number) => Partial<ClusterSettings> = () => ({}), down: readonly number[] = []) {
    for (const id of ids) this.settings.set(id, settingsFor(id, ids, over(id)));
    for (const id of ids) if (!down.includes(id)) this.boot(id);
  }

  /**
   * Starts node `id`. `constructedAgoMs` builds its Cluster that long before
   * start(), as a real node does while its port and workers come up.
   */
  boot(id: number, constructedAgoMs = 0): Cluster {
    this.dead.delete(id);
    this.held.set(id, []);
    const c = new Cluster(this.settings.get(id)!, {
      transmit: (payload) => {
        if (!this.dead.has(id)) {
          this.queue.push({ from: id, payload });
          this.wire.push({ from: id, payload });
        }
      },
      onHeld: (held) => this.held.set(id, held),
    }, this.now - constructedAgoMs);
    this.nodes.set(id, c);
    c.start(this.now);
    return c;
  }

  kill(id: number): void {
    this.dead.add(id);
    this.held.set(id, []);
  }

  /** Injects a raw payload as if a peer had sent it. */
  inject(payload: Uint8Array, to?: number): void {
    for (const [id, c] of this.nodes) if (!this.dead.has(id) && (to === undefined || to === id)) c.receive(payload, this.now);
  }

  private deliver(): void {
    for (let rounds = 0; rounds < 50 && this.queue.length > 0; rounds++) {
      const q = this.queue;
      this.queue = [];
      for (const f of q) {
        for (const [id, c] of this.nodes) {
          if (id === f.from || this.dead.has(id)) continue;
          if ((this.partition.get(id) ?? 0) !== (this.partition.get(f.from) ?? 0)) continue;
          c.receive(f.payload, this.now);
        }
      }
    }
  }

  /** Advances the clock by `ms` in 1 ms steps, ticking every live node each step. */
  run(ms: number): void {
    for (let i = 0; i < ms; i++) {
      this.now += 1;
      for (const [id, c] of this.nodes) if (!this.dead.has(id)) c.tick(this.now);
      this.deliver();
    }
  }

  /** ip → ids of live nodes answering for it. */
  answering(): Map<number, number[]> {
    const out = new Map<number, number[]>();
    for (const [id, held] of this.held) {
      if (this.dead.has(id)) continue;
      for (const c of held) out.set(c.ip, [...(out.get(c.ip) ?? []), id]);
    }
    return out;
  }

  holderOf(ip: number): number[] {
    return this.answering().get(ip) ?? [];
  }
}
