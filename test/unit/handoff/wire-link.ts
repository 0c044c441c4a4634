// Two Handoff workers joined by a fake segment: every transfer frame one
// transmits is kept as bytes and delivered to the other when the test says,
// through a seeded loss filter. Time is passed in, never read.
import type { TcpLink } from '../../../dataplane/tcp/link.js';
import { Handoff } from '../../../dataplane/handoff/handoff.js';
import { XFER_STAT_COUNT, XFER_STAT_NAMES } from '../../../dataplane/handoff/command.js';
import { TcpStack } from '../../../dataplane/tcp/stack.js';
import { SequenceSecrets } from '../../../dataplane/tcp/isn.js';
import { FakeLink, Peer, RecordingApp, SERVER_IP, SERVER_PORT } from '../tcp/harness.js';
import { SeededRandom } from '../net/seeded-random.js';
import * as assert from 'uvu/assert';
import { FrameMeta, parseFrame, VERIFY_ALL } from '../../../dataplane/net/frame.js';
import { Reason } from '../../../dataplane/net/reason.js';

export const KEY = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
export const CLUSTER = 7;
export const MAC_A = Uint8Array.from([0x02, 0xba, 0x70, 0, 0, 1]);
export const MAC_B = Uint8Array.from([0x02, 0xba, 0x70, 0, 0, 2]);

/** Captures raw frames (transfer frames are not TCP, so the TCP harness's link would refuse them). */
export class WireLink implements TcpLink {
  readonly bytes: Uint8Array;
  private readonly free: number[] = [];
  readonly frames: Uint8Array[] = [];
  constructor(slots = 512) {
    this.bytes = new Uint8Array(slots * 2048);
    for (let i = slots - 1; i >= 0; i--) this.free.push(i);
  }
  allocSlot(): number {
    return this.free.pop() ?? -1;
  }
  frameStart(slot: number): number {
    return slot * 2048 + 128;
  }
  transmit(slot: number, len: number): void {
    const s = this.frameStart(slot);
    this.frames.push(this.bytes.slice(s, s + len));
    this.free.push(slot);
  }
}

export interface Side {
  readonly stack: TcpStack;
  readonly link: FakeLink;
  readonly wire: WireLink;
  readonly peer: Peer;
  readonly app: RecordingApp;
  readonly handoff: Handoff;
  readonly stats: Float64Array;
  readonly mac: Uint8Array;
  /** TCP segments another side forwarded here. */
  forwarded: number;
  stat(name: string): number;
}

export function side(node: number, mac: Uint8Array, opts: {
  listen?: boolean; incarnation?: number; key?: Uint8Array; servable?: (ip: number) => boolean; holds?: (ip: number) => boolean;
  /** The service runs in snoop mode and this node shadows these addresses (shadow copies). */
  shadowed?: (ip: number) => boolean;
} = {}): Side {
  const link = new FakeLink(512);
  const stack = new TcpStack({ maxConnections: 64, sendBuffer: 65536, recvBuffer: 65536 }, link,
    { secrets: new SequenceSecrets(Uint32Array.from([node, 2, 3, 4])), localMac: mac });
  const app = new RecordingApp();
  if (opts.listen !== false) stack.listen(SERVER_IP, SERVER_PORT, SERVER_PORT, app, opts.shadowed !== undefined);
  const wire = new WireLink();
  const stats = new Float64Array(XFER_STAT_COUNT);
  const handoff = new Handoff({
    key: opts.key ?? KEY, cluster: CLUSTER, node, endpoint: 0, incarnation: opts.incarnation ?? 0, mac,
    servable: opts.servable ?? ((ip) => ip === SERVER_IP),
    ...(opts.shadowed === undefined ? {} : { shadowed: opts.shadowed }),
    ...(opts.holds === undefined ? {} : { holds: opts.holds }),
  }, stack, wire, stats);
  return {
    stack, link, wire, peer: new Peer(stack, link), app, handoff, stats, mac, forwarded: 0,
    stat: (name) => stats[XFER_STAT_NAMES.indexOf(name)]!,
  };
}

const meta = new FrameMeta();

/**
 * Delivers what `from` transmitted to `to` (dropping a seeded fraction):
 * transfer frames to its Handoff, forwarded TCP segments to its stack.
 * Returns how many were delivered.
 */
export function deliver(from: Side, to: Side, now: number, loss = 0, rnd: SeededRandom | null = null): number {
  const frames = from.wire.frames.splice(0);
  let n = 0;
  for (const f of frames) {
    if (loss > 0 && rnd !== null && rnd.u32() / 2 ** 32 < loss) continue;
    if (f[12] === 0x08 && f[13] === 0x00) {
      assert.is(parseFrame(f, 0, f.length, meta, VERIFY_ALL), Reason.OK);
      assert.equal([...f.subarray(0, 6)], [...to.mac], 'forwarded to the target');
      to.stack.input(f, meta, 0, now);
      to.forwarded++;
    } else {
      to.handoff.input(f, 0, f.length, 0, now);
    }
    n++;
  }
  to.stack.flush(now);
  return n;
}

/** Runs both sides, 1 ms per step, until `done()` or `steps` run out. */
export function run(a: Side, b: Side, clockA: { t: number }, offsetB: number, steps: number, done: () => boolean, loss = 0, rnd: SeededRandom | null = null): void {
  for (let i = 0; i < steps && !done(); i++) {
    clockA.t += 1;
    deliver(a, b, clockA.t + offsetB, loss, rnd);
    deliver(b, a, clockA.t, loss, rnd);
    a.handoff.tick(clockA.t);
    b.handoff.tick(clockA.t + offsetB);
    a.stack.flush(clockA.t);
    b.stack.flush(clockA.t + offsetB);
  }
  // What the last step sent (forwarded segments after a verdict) arrives too.
  deliver(a, b, clockA.t + offsetB, loss, rnd);
}
