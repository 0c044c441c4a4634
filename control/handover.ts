// Moving live connections to another node, from the control thread: the
// workers do the moving (dataplane/handoff/handoff.ts); this commands them
// through their mailbox words (dataplane/handoff/command.ts), waits until
// every worker reports the command done, and reads what became of each
// connection from the transfer counters.
//
// Moving an address with its connections ("hand over all of 198.18.0.7 to
// node 3", failback by records, a third node's request):
//   1. Records first: every connection of the address moves to the target.
//      From each ACCEPT the target answers for that connection; the origin
//      forwards the segments that still reach it (the client's ARP entry
//      still names the origin).
//   2. Then the address: the origin grants its claim to the target (the
//      cluster's handover), and the target announces it (gratuitous ARP).
//      Only when no connection was refused or left unresolved: a refused one
//      came back here and would be cut off by moving the address.
//   3. A second sweep moves connections that the address's clients opened
//      on the origin between 1 and 2; the target never resets a segment of a
//      connection it imported, whatever it holds.
// One command at a time per node: requests queue behind each other.
import { EndpointIo, WAKE_INDEX } from '../dataplane/endpoint.js';
import type { Arena } from '../shm/arena.js';
import { native } from '../native/addon.js';
import { MAILBOX_WORDS } from '../dataplane/mailbox.js';
import { MB_XFER_DONE, MB_XFER_SEQ, REJECT_REASONS_TO_REPORT, writeXferCommand, xferTotals, type XferSelector } from '../dataplane/handoff/command.js';
import { ABORT_DEADLINE_MS } from '../dataplane/handoff/handoff.js';
import { ipv4ToString } from '../dataplane/net/ipv4.js';

/** What one handover did (counts over every worker of this node). */
export interface HandoverReport {
  readonly to: number;
  readonly address: string | null;
  /** Connections the command selected (started, skipped or waiting included). */
  readonly selected: number;
  readonly sent: number;
  /** The target answers for these now. */
  readonly accepted: number;
  /** Refused by the target and re-imported here (they go on here). */
  readonly rejected: number;
  readonly reasons: Readonly<Record<string, number>>;
  /** No verdict within the deadline: held in limbo, not answered by this node (see handoff.ts). */
  readonly unresolved: number;
  readonly reimportFailed: number;
  /** Not in a state that moves (opening, TIME-WAIT, closed before their turn), or their app cannot resume elsewhere now (an upload in flight). */
  readonly skipped: number;
  /** null: not asked to move the address; else whether it moved, and why not. */
  readonly addressMoved: boolean | null;
  readonly addressReason: string;
  readonly ms: number;
}

const ORIGIN_COUNTERS = ['sent', 'accepted', 'rejected', 'unresolved', 'reimport_failed', 'skipped_state', 'skipped_app'] as const;

export class ConnectionMover {
  private seq = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly arena: Arena,
    private readonly mailboxes: Int32Array,
    private readonly workers: number,
    private readonly stats: SharedArrayBuffer,
  ) {
    for (let e = 0; e < workers; e++) this.seq = Math.max(this.seq, Atomics.load(mailboxes, e * MAILBOX_WORDS + MB_XFER_SEQ));
  }

  /** Runs `job` after every earlier one finished (one command at a time per node). */
  serialize<T>(job: () => Promise<T>): Promise<T> {
    const run = this.chain.then(job, job);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Commands every worker to move the selected connections to node `target`
   * (MAC `mac`) and resolves with the origin-side counter deltas once all
   * report done. Call inside serialize().
   */
  async sweep(target: number, mac: Uint8Array, sel: XferSelector): Promise<Record<string, number>> {
    const before = xferTotals(this.stats, this.workers);
    const seq = ++this.seq;
    for (let e = 0; e < this.workers; e++) {
      writeXferCommand(this.mailboxes, e * MAILBOX_WORDS, seq, target, mac, sel);
      native.futexWake(EndpointIo.bumpWake(this.arena, e), WAKE_INDEX, 1);
    }
    // Every selected connection resolves within the abort deadline after its
    // start (plus slack for the queue behind MAX_OUTSTANDING).
    const deadline = Date.now() + 2 * ABORT_DEADLINE_MS;
    for (;;) {
      let done = 0;
      for (let e = 0; e < this.workers; e++) if (Atomics.load(this.mailboxes, e * MAILBOX_WORDS + MB_XFER_DONE) === seq) done++;
      if (done === this.workers || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1));
    }
    const after = xferTotals(this.stats, this.workers);
    const delta: Record<string, number> = {};
    for (const k of [...ORIGIN_COUNTERS, ...REJECT_REASONS_TO_REPORT]) delta[k] = (after[k] ?? 0) - (before[k] ?? 0);
    return delta;
  }
}

/** Sums sweep deltas into a report. */
export function handoverReport(to: number, address: number | null, sweeps: readonly Record<string, number>[], addressMoved: boolean | null, addressReason: string, ms: number): HandoverReport {
  const sum = (k: string): number => sweeps.reduce((a, d) => a + (d[k] ?? 0), 0);
  const reasons: Record<string, number> = {};
  for (const k of REJECT_REASONS_TO_REPORT) {
    const v = sum(k);
    if (v > 0) reasons[k.slice('rejected_'.length)] = v;
  }
  const skipped = sum('skipped_state') + sum('skipped_app');
  return {
    to, address: address === null ? null : ipv4ToString(address), selected: sum('sent') + skipped, sent: sum('sent'), accepted: sum('accepted'),
    rejected: sum('rejected'), reasons, unresolved: sum('unresolved'), reimportFailed: sum('reimport_failed'), skipped, addressMoved, addressReason, ms,
  };
}
