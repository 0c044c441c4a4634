// Control → worker commands for moving connections, through the endpoint's
// mailbox words 8..15 (dataplane/mailbox.ts: 0..2 are the worker's life, 3..7
// are the snoop path's), and the per-worker transfer counters the control
// thread reads back (one float64 row per endpoint; writer: that endpoint).
//
//   Int32Array mailbox, words of endpoint e at e * MAILBOX_WORDS + …
//   [8]  XFER_SEQ    control: bumped after the words below are written
//   [9]  XFER_OP     control: op (low 8 bits) | target node id << 16
//   [10] XFER_MAC_HI control: target MAC bytes 0..3 (big-endian)
//   [11] XFER_MAC_LO control: target MAC bytes 4..5 (low 16 bits)
//   [12] XFER_LIP    control: connection's local address; 0 = any
//   [13] XFER_RIP    control: connection's remote address; 0 = any
//   [14] XFER_PORTS  control: local port << 16 | remote port; 0 halves = any
//   [15] XFER_DONE   worker: set to XFER_SEQ once every connection the
//                    command selected is resolved (accepted, rejected and
//                    re-imported, skipped, or unresolved — see handoff.ts)
//
// One command at a time per node: the control thread waits for XFER_DONE on
// every worker before it writes the next (control/handover.ts).
import { REJECT_REASON_NAMES, rejectReasonName } from './wire.js';

export const MB_XFER_SEQ = 8;
export const MB_XFER_OP = 9;
export const MB_XFER_MAC_HI = 10;
export const MB_XFER_MAC_LO = 11;
export const MB_XFER_LIP = 12;
export const MB_XFER_RIP = 13;
export const MB_XFER_PORTS = 14;
export const MB_XFER_DONE = 15;

/** XFER_OP: hand every selected connection over to the target node. */
export const XFER_OP_HANDOVER = 1;

/** What a command selects: 0 in a field matches anything. */
export interface XferSelector {
  readonly localIp: number;
  readonly localPort: number;
  readonly remoteIp: number;
  readonly remotePort: number;
}

export interface XferCommand {
  readonly seq: number;
  readonly op: number;
  readonly target: number;
  readonly mac: Uint8Array;
  readonly selector: XferSelector;
}

/** Control thread: writes a command into endpoint `base`'s words (the caller wakes the worker). */
export function writeXferCommand(mb: Int32Array, base: number, seq: number, target: number, mac: Uint8Array, sel: XferSelector): void {
  Atomics.store(mb, base + MB_XFER_OP, XFER_OP_HANDOVER | (target << 16));
  Atomics.store(mb, base + MB_XFER_MAC_HI, (mac[0]! << 24) | (mac[1]! << 16) | (mac[2]! << 8) | mac[3]!);
  Atomics.store(mb, base + MB_XFER_MAC_LO, (mac[4]! << 8) | mac[5]!);
  Atomics.store(mb, base + MB_XFER_LIP, sel.localIp | 0);
  Atomics.store(mb, base + MB_XFER_RIP, sel.remoteIp | 0);
  Atomics.store(mb, base + MB_XFER_PORTS, ((sel.localPort & 0xffff) << 16) | (sel.remotePort & 0xffff));
  Atomics.store(mb, base + MB_XFER_SEQ, seq);
}

/** Worker: the command in endpoint `base`'s words. */
export function readXferCommand(mb: Int32Array, base: number, seq: number): XferCommand {
  const op = Atomics.load(mb, base + MB_XFER_OP);
  const hi = Atomics.load(mb, base + MB_XFER_MAC_HI);
  const lo = Atomics.load(mb, base + MB_XFER_MAC_LO);
  const ports = Atomics.load(mb, base + MB_XFER_PORTS);
  return {
    seq,
    op: op & 0xff,
    target: (op >>> 16) & 0xffff,
    mac: Uint8Array.from([hi >>> 24, (hi >>> 16) & 255, (hi >>> 8) & 255, hi & 255, (lo >>> 8) & 255, lo & 255]),
    selector: {
      localIp: Atomics.load(mb, base + MB_XFER_LIP) >>> 0,
      remoteIp: Atomics.load(mb, base + MB_XFER_RIP) >>> 0,
      localPort: (ports >>> 16) & 0xffff,
      remotePort: ports & 0xffff,
    },
  };
}

// --- counters ------------------------------------------------------------------

/**
 * Transfer counters of one worker. Origin side: what it sent and what became
 * of it; target side: what it received, imported and refused. Every refusal
 * and every dropped frame has a name here.
 */
const FIXED_STATS = [
  // origin
  'commands', 'sent', 'accepted', 'rejected', 'unresolved', 'lost_unresolved', 'reimported', 'reimport_failed',
  'skipped_state', 'skipped_app', 'frames_sent', 'retransmits', 'aborts_sent', 'tx_no_slot',
  'held', 'held_drops', 'forwarded', 'forward_expired', 'forward_evicted', 'busy_window',
  // origin of shadow copies (service modes snoop and mirror: a backup asked for a connection's record)
  'copies_sent', 'copies_accepted', 'copies_refused', 'copies_lost', 'copies_busy', 'copies_skipped',
  // copies asked for while MAX_OUTSTANDING transfers were in flight: queued and started as room frees (copies_busy: not even that)
  'copies_queued',
  // copies given up because their connection moved meanwhile (a failback): their bytes are older than the moved record
  'copies_cancelled',
  // connections of a command still opening (SYN-RECEIVED) when their turn came: waited for, up to OPENING_WAIT_MS
  'opening_waited',
  // refused and not taken back: DUPLICATE (the target answers for the tuple already) or the address is no longer held here
  'left_to_target',
  // target
  'frames_received', 'rx_malformed', 'rx_bad_version', 'rx_bad_auth', 'rx_wrong_cluster', 'rx_not_for_us', 'rx_stale',
  'rx_unknown_transfer', 'rx_duplicate_fragment', 'rx_origins_full', 'verdicts_resent', 'imported', 'refused', 'expired',
  'shadows_imported',
  // live connections on an address this node does not hold, replaced by the holder's copy (as a shadow)
  'orphans_replaced',
  // copies of a connection in TIME-WAIT at its holder: no shadow kept, the client's FIN confirmed (a late HAVE; also in shadows_imported)
  'copies_closed',
  // gauges
  'in_flight', 'reassembling', 'reassembly_bytes', 'forwarding',
] as const;
export type XferStatName = (typeof FIXED_STATS)[number];

/** Every counter's name: the fixed ones, then per reason as the origin heard it and as the target decided it. */
export const XFER_STAT_NAMES: readonly string[] = [
  ...FIXED_STATS,
  ...REJECT_REASON_NAMES.map((r) => `rejected_${r.toLowerCase()}`),
  ...REJECT_REASON_NAMES.map((r) => `refused_${r.toLowerCase()}`),
];
export const XFER_STAT_COUNT = XFER_STAT_NAMES.length;
/** The origin's per-reason counters, as a handover report lists them. */
export const REJECT_REASONS_TO_REPORT: readonly string[] = REJECT_REASON_NAMES.map((r) => `rejected_${r.toLowerCase()}`);
export const XFER_GAUGES: ReadonlySet<string> = new Set(['in_flight', 'reassembling', 'reassembly_bytes', 'forwarding']);

/** Index of a fixed counter in a row. */
export const XS = Object.fromEntries(FIXED_STATS.map((n, i) => [n, i])) as Readonly<Record<XferStatName, number>>;

/** Index of the per-reason counter: `rejected_<reason>` (origin) or `refused_<reason>` (target). */
export function reasonStat(side: 'rejected' | 'refused', code: number): number {
  const i = XFER_STAT_NAMES.indexOf(`${side}_${rejectReasonName(code)}`);
  return i;
}

export function createXferStats(endpoints: number): SharedArrayBuffer {
  return new SharedArrayBuffer(endpoints * XFER_STAT_COUNT * 8);
}

export function xferRow(sab: SharedArrayBuffer, endpoint: number): Float64Array {
  return new Float64Array(sab, endpoint * XFER_STAT_COUNT * 8, XFER_STAT_COUNT);
}

/** Every counter summed over `endpoints` rows. */
export function xferTotals(sab: SharedArrayBuffer, endpoints: number): Record<string, number> {
  const out: Record<string, number> = {};
  XFER_STAT_NAMES.forEach((name, k) => {
    let sum = 0;
    for (let e = 0; e < endpoints; e++) sum += xferRow(sab, e)[k]!;
    out[name] = sum;
  });
  return out;
}
