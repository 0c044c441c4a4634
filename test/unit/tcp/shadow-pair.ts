// The two-node rig of the shadow tests: a primary stack serving a client,
// and a backup stack that observes every frame of both directions (a hub
// segment) or, with trimToBackup, the primary's output cut after its headers
// but in sampled segments (mirror mode's copies); kill() makes the backup
// answer for the address.
import * as assert from 'uvu/assert';
import { ACCEPT_TRIMMED, FrameMeta, parseFrame, VERIFY_ALL } from '../../../dataplane/net/frame.js';
import { Reason } from '../../../dataplane/net/reason.js';
import type { TcpLink } from '../../../dataplane/tcp/link.js';
import { REPAIR_HAVE, TcpStack } from '../../../dataplane/tcp/stack.js';
import { SequenceSecrets } from '../../../dataplane/tcp/isn.js';
import { appFactory } from '../../../dataplane/app/registry.js';
import type { TcpApplication } from '../../../dataplane/app/api.js';
import { sampled } from '../../../dataplane/tcp/lazy-output.js';
import { State, W, inspectSerialized } from '../../../dataplane/tcp/record.js';
import { seqGt } from '../../../dataplane/tcp/seq.js';
import { CISN, FakeLink, Peer, SERVER_IP, SERVER_MAC, SERVER_PORT, out, segFromMeta, type Seg, type SegIn } from './harness.js';

/** The byte at stream offset k of a storm client's writes (the echo sends them back). */
export function byteAt(k: number): number {
  const x = Math.imul((k + 1) ^ 0x9e3779b1, 0x85ebca6b) >>> 0;
  return (x ^ (x >>> 13)) & 0xff;
}

/** The client's bytes at stream offsets [off, off + n). */
export function chunkAt(off: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = byteAt(off + i);
  return b;
}

export const SLOT = 2048;
export const HEADROOM = 128;

/** The primary's link: every frame it sends reaches the client (recorded) and, unless `cut`, the backup's snoop path. */
export class HubLink implements TcpLink {
  readonly bytes = new Uint8Array(256 * SLOT);
  private readonly free: number[] = [];
  readonly sent: Seg[] = [];
  readonly meta = new FrameMeta();
  backup: TcpStack | null = null;
  now = 0;
  /** Frames to the backup are lost while this returns true. */
  dropToBackup: (s: Seg) => boolean = () => false;
  /** The backup gets the primary's data segments cut after their headers, but sampled ones (mirror mode's copies). */
  trimToBackup = false;
  private readonly cut = new Uint8Array(SLOT);
  private readonly cutMeta = new FrameMeta();
  constructor() {
    for (let i = 255; i >= 0; i--) this.free.push(i);
  }
  allocSlot(): number {
    return this.free.pop() ?? -1;
  }
  frameStart(slot: number): number {
    return slot * SLOT + HEADROOM;
  }
  transmit(slot: number, len: number): void {
    const start = this.frameStart(slot);
    assert.is(parseFrame(this.bytes, start, len, this.meta, VERIFY_ALL), Reason.OK);
    const seg = segFromMeta(this.bytes, this.meta);
    this.sent.push(seg);
    if (this.backup !== null && !this.dropToBackup(seg)) {
      const m = this.meta;
      if (this.trimToBackup && m.payloadLen > 0 && !sampled(m.seq)) {
        const hdr = m.payloadOff - start;
        this.cut.set(this.bytes.subarray(start, start + hdr));
        assert.is(parseFrame(this.cut, 0, hdr, this.cutMeta, VERIFY_ALL | ACCEPT_TRIMMED), Reason.OK);
        this.backup.snoop(this.cut, this.cutMeta, false, 0, this.now);
      } else {
        this.backup.snoop(this.bytes, m, false, 0, this.now);
      }
    }
    this.free.push(slot);
  }
}

export interface Pair {
  primary: TcpStack;
  backup: TcpStack;
  hub: HubLink;
  backupLink: FakeLink;
  peer: Peer;
  /** Client segments to the backup are lost while this returns true. */
  lose: (s: SegIn) => boolean;
  send(s: SegIn, now: number): void;
  /** The primary died: client segments reach only the backup, which now answers for the address. */
  kill(now: number): [number, number];
}

export function pair(opts: { primaryApp?: TcpApplication; backupApp?: TcpApplication; withhold?: boolean; app?: 'echo' | 'chargen'; clusterSecrets?: boolean } = {}): Pair {
  const hub = new HubLink();
  const cfg = { maxConnections: 16, sendBuffer: 65536, recvBuffer: 65536 };
  const primary = new TcpStack(cfg, hub, { secrets: new SequenceSecrets(Uint32Array.from([1, 2, 3, 4])), localMac: SERVER_MAC });
  primary.listen(SERVER_IP, SERVER_PORT, SERVER_PORT, opts.primaryApp ?? appFactory(opts.app ?? 'echo')({}), opts.withhold === true);
  // Withheld ACK: the primary's address has a backup (the cluster's roles say so).
  if (opts.withhold === true) primary.setBackedUp([SERVER_IP], 0);
  const backupLink = new FakeLink();
  // Another node: other secrets (or, clusterSecrets, the ones its cluster key gives every node), same service in snoop mode.
  const backup = new TcpStack(cfg, backupLink, { secrets: new SequenceSecrets(Uint32Array.from(opts.clusterSecrets === true ? [1, 2, 3, 4] : [9, 8, 7, 6])), localMac: SERVER_MAC });
  backup.listen(SERVER_IP, SERVER_PORT, SERVER_PORT, opts.backupApp ?? appFactory(opts.app ?? 'echo')({}), true);
  hub.backup = backup;
  const peer = new Peer(primary, new FakeLink());
  let dead = false;
  const p: Pair = {
    primary, backup, hub, backupLink, peer, lose: () => false,
    send(s, now) {
      hub.now = now;
      const m = peer.build(s);
      if (!p.lose(s) && !dead) backup.snoop(peer.frame, m, true, 0, now);
      else if (dead) backup.input(peer.frame, m, 0, now);
      if (!dead) {
        const m2 = peer.build(s);
        primary.input(peer.frame, m2, 0, now);
        primary.flush(now);
      }
      backup.flush(now);
    },
    kill(now) {
      dead = true;
      hub.backup = null;
      const r = backup.promoteShadows(SERVER_IP, now);
      backup.flush(now);
      return r;
    },
  };
  return p;
}

export const fromPrimary = (p: Pair): Seg[] => p.hub.sent.splice(0);

/** The backup's confirmations (HAVE) reach the primary; returns the confirmed sequence numbers. */
export function confirm(p: Pair, now: number): number[] {
  const seqs: number[] = [];
  p.backup.takeRepairs((li, lp, ri, rp, from, _to, kind) => {
    if (kind !== REPAIR_HAVE) return;
    seqs.push(from);
    p.primary.backupHave(li, lp, ri, rp, from, now);
  });
  p.primary.flush(now);
  return seqs;
}
export const fromBackup = (p: Pair): Seg[] => out(p.backupLink);

/** Handshake with timestamps, window scale and SACK; returns the primary's ISS + 1 and its SYN-ACK. */
export function handshake(p: Pair): { sseq: number; synAck: Seg } {
  p.send({ flags: 'S', seq: CISN, win: 65535, mss: 1460, ws: 7, sackPerm: true, ts: [1000, 0] }, 0);
  const synAck = fromPrimary(p)[0]!;
  assert.is(synAck.flags, 'SA');
  p.send({ flags: 'A', seq: CISN + 1, ack: synAck.seq + 1, win: 512, ts: [1001, synAck.ts![0]] }, 1);
  assert.equal(fromBackup(p), [], 'the backup sends nothing while it shadows');
  return { sseq: (synAck.seq + 1) >>> 0, synAck };
}

/** What importCopyModel did with a record copy: handoff.ts importCopy's verdicts. */
export type CopyVerdict = 'applied' | 'closed' | 'stale' | 'stale-after-move' | 'duplicate' | 'malformed' | 'app-refused';

/**
 * handoff.ts importRecord (FLAG_COPY) and importCopy, for the storms that
 * carry copies themselves: applies copy `rec`, exported at `exported` by node
 * `origin`, on `st`, which holds the copy's address (`holds`) or backs it up.
 * Keep it in step with importCopy: it is the storms' model of its rules.
 */
export function importCopyModel(st: TcpStack, rec: Uint8Array, origin: number, exported: number, holds: boolean, now: number): { verdict: CopyVerdict; id: number } {
  const words = inspectSerialized(rec).words;
  const st0 = words[W.STATE]!;
  if (!((st0 >= State.ESTABLISHED && st0 <= State.LAST_ACK) || st0 === State.TIME_WAIT)) return { verdict: 'malformed', id: -1 };
  let here = st.find(words[W.LOCAL_IP]!, words[W.LOCAL_PORT]!, words[W.REMOTE_IP]!, words[W.REMOTE_PORT]!);
  // A connection this node forgot since the copy was made (moved away, closed).
  if (here < 0 && st.staleCopy(words)) return { verdict: 'stale', id: -1 };
  if (here >= 0 && !st.isShadow(here) && !holds) {
    // A live connection on an address this node does not hold: an orphan, unless a record exported after this copy moved it here.
    if (st.exportedAt(here, origin) >= exported) return { verdict: 'stale-after-move', id: -1 };
    st.discardConnection(here);
    here = -1;
  }
  if (st0 === State.TIME_WAIT) {
    // Over on both sides: any shadow is done, the client's FIN confirmed.
    if (here >= 0 && !st.isShadow(here)) return { verdict: 'duplicate', id: -1 };
    if (here >= 0) st.discardConnection(here);
    st.rememberClosed(words);
    st.confirmClosed(words[W.LOCAL_IP]!, words[W.LOCAL_PORT]!, words[W.REMOTE_IP]!, words[W.REMOTE_PORT]!, words[W.RCV_NXT]!);
    return { verdict: 'closed', id: -1 };
  }
  if (here >= 0) {
    if (!st.isShadow(here) || st.shadowExact(here)) return { verdict: 'duplicate', id: -1 };
    if (seqGt(st.rcvNxt(here), words[W.RCV_NXT]!)) return { verdict: 'stale', id: -1 };
    st.dropConnection(here);
  }
  let id = -1;
  try {
    id = st.importShadow(rec, now, 0);
  } catch {
    return { verdict: 'malformed', id: -1 };
  }
  if (id < 0) return { verdict: 'app-refused', id: -1 };
  // The takeover came before the copy: served from here at once.
  if (holds) st.promoteShadow(id, now);
  return { verdict: 'applied', id };
}
