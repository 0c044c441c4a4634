// Per-endpoint drop counters: every frame an endpoint refuses is counted
// under a name. The table is the wire codecs' reason codes (dataplane/net/
// reason.ts) followed by the endpoint's own reasons, in one SharedArrayBuffer
// of float64 counters (one writer per row: its endpoint), so the control
// thread prints them in `baton status` and /metrics without asking anyone.
import { REASON_COUNT, reasonName } from './net/reason.js';

/** Endpoint-level reasons, numbered after the codec reasons. */
export const Drop = {
  /** IPv4 to an address this node does not serve. */
  NOT_OUR_ADDRESS: REASON_COUNT + 0,
  /** No handler for this protocol yet (e.g. TCP before a service listens). */
  NO_HANDLER: REASON_COUNT + 1,
  /** ICMP other than echo request. */
  ICMP_NOT_ECHO: REASON_COUNT + 2,
  /** No free slot to build a reply in. */
  NO_SLOT: REASON_COUNT + 3,
  /** Frames lost inside an endpoint thread that died (counted at restart). */
  LOST_IN_CRASH: REASON_COUNT + 4,
  /** A new flow found the worker's flow table full. */
  FLOW_TABLE_FULL: REASON_COUNT + 5,
  /** A SYN for an address about to go to another node (dataplane/owned.ts OWNED_DRAINING): the client's retry reaches that node. */
  SYN_DRAINING: REASON_COUNT + 6,
} as const;

export const DROP_COUNT = REASON_COUNT + Object.keys(Drop).length;

export function dropName(code: number): string {
  if (code < REASON_COUNT) return reasonName(code);
  for (const [k, v] of Object.entries(Drop)) if (v === code) return k;
  return 'UNKNOWN';
}

export function createDropTable(endpoints: number): SharedArrayBuffer {
  return new SharedArrayBuffer(endpoints * DROP_COUNT * 8);
}

/** One endpoint's row (writer: that endpoint). */
export function dropRow(sab: SharedArrayBuffer, endpoint: number): Float64Array {
  return new Float64Array(sab, endpoint * DROP_COUNT * 8, DROP_COUNT);
}

/** Non-zero drops of every endpoint, by name, summed. For status and metrics. */
export function dropTotals(sab: SharedArrayBuffer, endpoints: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let e = 0; e < endpoints; e++) {
    const row = dropRow(sab, e);
    for (let i = 0; i < DROP_COUNT; i++) {
      const v = row[i]!;
      if (v !== 0) out[dropName(i)] = (out[dropName(i)] ?? 0) + v;
    }
  }
  return out;
}
