// The per-worker TCP stack: connection records, listeners, segment arrival
// (RFC 9293 §3.10.7, checks in the RFC's order), output, timers and the
// socket glue for applications. Run to completion: the worker feeds it every
// TCP frame of a burst with input(), then calls flush() (deliver data to
// applications, send what is due) and tick() (timers).
//
// Everything about a connection is in its record (record.ts) and its two
// byte rings; objects exist only for the application's socket.
import { FrameMeta } from '../net/frame.js';
import type { TcpApplication } from '../app/api.js';
import type { TcpLink } from './link.js';
import { ETHERTYPE_IPV4, ETH_HEADER_LEN } from '../net/ethernet.js';
import { IPV4_FLAG_DF, IPV4_HEADER_LEN, IP_PROTO_TCP, writeIpv4Header } from '../net/ipv4.js';
import {
  TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_RST, TCP_FLAG_SYN, TCP_HEADER_LEN,
  TCP_MAX_WSCALE, tcpChecksumFill, writeTcpHeader, writeTcpOptions,
} from '../net/tcp.js';
import { flowHash } from '../net/flow-hash.js';
import { pseudoHeaderSum } from '../net/checksum.js';
import { writeU16 } from '../net/byte-order.js';
import { copyBytes } from '../net/copy.js';
import { FlowTable } from '../flow-table.js';
import {
  F, Flag, RECORD_WORDS, State, TcbTable, W, macHi, macLo, recordF64, serializeConnection,
  RecordError, restoreConnection, inspectSerialized, rebaseTimers, withQueuedWrites, writeMac,
} from './record.js';
import { seqGe, seqGt, seqLe, seqLt, seqMax } from './seq.js';
import { SequenceSecrets, type CookieOptions } from './isn.js';
import { TimerWheel, backedOffRto, rttSample, type TimerSink } from './timers.js';
import { CC_CUBIC, CC_RENO, ccOnAck, ccOnCongestion, ccOnRto, initialWindow } from './congestion.js';
import {
  oooAdvance, oooInsert, sackBlocksToSend, sackHigh, sackSkip, sackTrim, sackUpdate, sackedBelow,
} from './reassembly.js';
import { TcpSocket, type SocketHost } from './socket.js';
import { LazyOutput, sampled } from './lazy-output.js';

export interface TcpConfig {
  /** MSS we announce (MTU 1500 − 40). */
  readonly mss: number;
  /** Per-connection send and receive buffers, bytes, powers of two. */
  readonly sendBuffer: number;
  readonly recvBuffer: number;
  /**
   * Send-buffer autotuning (as Linux's tcp_sndbuf_expand): a connection whose
   * application waits for room while the peer's window and the congestion
   * window reach past its buffer gets it doubled, up to this (a power of two
   * ≥ sendBuffer; equal: no tuning), and within sendBufferBudget bytes of
   * grown buffers per stack. A single stream is otherwise latency-bound:
   * 256 KiB drain in 150 µs at 14 Gbit/s, so every µs of delay in the path
   * (a backup's hub port, a busy core) costs goodput.
   */
  readonly sendBufferMax: number;
  readonly sendBufferBudget: number;
  readonly maxConnections: number;
  /** Half-open connections before SYN cookies take over (RFC 4987 §3.6). */
  readonly synBacklog: number;
  /** 2MSL. */
  readonly timeWaitMs: number;
  readonly finWait2Ms: number;
  readonly delayedAckMs: number;
  readonly rtoInitialMs: number;
  readonly rtoMinMs: number;
  readonly rtoMaxMs: number;
  /** Retransmission timeouts in a row before the connection is dropped. */
  readonly maxRetries: number;
  readonly synRetries: number;
  /** 0 = keepalive off. */
  readonly keepaliveIdleMs: number;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveProbes: number;
  readonly congestion: 'cubic' | 'reno';
  /** RFC 5961 §7: challenge ACKs per second, stack-wide. */
  readonly challengeAckLimit: number;
  /** Offer window scaling, timestamps and SACK when the peer does. */
  readonly windowScale: boolean;
  readonly timestamps: boolean;
  readonly sack: boolean;
  /**
   * Answer segments of unknown connections with RST (RFC 9293 §3.10.7.1).
   * A node that just took over an address turns this off for a grace period.
   */
  readonly resetUnknown: boolean;
  /**
   * After this node takes an address over, segments of connections it does
   * not know are dropped and counted, not reset, for this long: their records
   * may still be on their way (a handover), and a reset there is the classic
   * way failover loses connections.
   */
  readonly takeoverQuietMs: number;
}

export const DEFAULT_TCP_CONFIG: TcpConfig = {
  mss: 1460,
  sendBuffer: 256 * 1024,
  recvBuffer: 256 * 1024,
  sendBufferMax: 4 * 1024 * 1024,
  sendBufferBudget: 64 * 1024 * 1024,
  maxConnections: 4096,
  synBacklog: 1024,
  timeWaitMs: 60_000,
  finWait2Ms: 60_000,
  delayedAckMs: 40,
  rtoInitialMs: 1000,
  rtoMinMs: 200,
  rtoMaxMs: 60_000,
  maxRetries: 15,
  synRetries: 5,
  keepaliveIdleMs: 7_200_000,
  keepaliveIntervalMs: 75_000,
  keepaliveProbes: 9,
  congestion: 'cubic',
  challengeAckLimit: 1000,
  windowScale: true,
  timestamps: true,
  sack: true,
  resetUnknown: true,
  takeoverQuietMs: 3000,
};

/** Stack counters (one Float64Array; names in TCP_STAT_NAMES). */
export const enum Stat {
  SEGS_IN, SEGS_OUT, BYTES_IN, BYTES_OUT, RETRANSMITS, RTO_FIRED, FAST_RETRANSMITS, DUPACKS_IN,
  CHALLENGE_ACKS, RST_SENT, RST_RECEIVED, PASSIVE_OPENS, ACTIVE_OPENS, ESTABLISHED, CLOSED,
  RESETS, TIMEOUTS, SYN_COOKIES_SENT, SYN_COOKIES_OK, SYN_COOKIES_BAD, PAWS_DROPS,
  OUT_OF_WINDOW, OOO_SEGMENTS, OOO_DROPS, NO_SLOT, TABLE_FULL, NO_LISTENER, APP_ERRORS,
  BAD_ACK, UNKNOWN_DROPPED, KEEPALIVE_PROBES, WINDOW_PROBES, TIME_WAIT_REUSED, TIME_WAIT_EVICTED,
  /** Gauge: connection records in use (any state), refreshed at every flush. */
  CONNECTIONS,
  /** Gauges: records per state (State.SYN_SENT … TIME_WAIT), refreshed every 100 ms. */
  IN_SYN_SENT, IN_SYN_RECEIVED, IN_ESTABLISHED, IN_FIN_WAIT_1, IN_FIN_WAIT_2, IN_CLOSE_WAIT, IN_CLOSING, IN_LAST_ACK, IN_TIME_WAIT,
  /** Snooping (service mode snoop): segments of other nodes' connections observed. */
  SNOOPED,
  /** Observed segments that belong to no shadow (a connection whose SYN was not seen). */
  SNOOP_UNKNOWN,
  SHADOW_OPENS,
  /** Shadows promoted to live connections at a takeover. */
  SHADOW_PROMOTED,
  /** Shadows that could not be resumed exactly and were reset at a takeover. */
  SHADOW_RESET,
  /** Shadows given up before a takeover (handshake not seen whole). */
  SHADOW_LOST,
  /** The primary sent bytes that differ from the shadow application's (never resumed). */
  SHADOW_DIVERGED,
  /** The primary acknowledged client bytes this node did not see. */
  SHADOW_GAPS,
  /** Primary output bytes compared with the shadow application's and found equal. */
  SHADOW_BYTES_CHECKED,
  /** Gauge: shadow records (not counted in IN_*). */
  IN_SHADOW,
  /** Service mode mirror: copies sent to the backup, copies not sent (no slot), mirror frames received. */
  MIRRORED, MIRROR_NO_SLOT, MIRROR_IN,
  /** Gauge: shadows that could be resumed exactly right now (the connections this node protects). */
  IN_SHADOW_EXACT,
  /** Gap repairs: requests sent (backup), requests answered with bytes (primary). */
  REPAIRS_ASKED, REPAIRS_SERVED,
  /** Record copies: asked of the primary (backup), installed as shadows (backup). */
  COPIES_ASKED, SHADOW_COPIES,
  /** Live connections dropped because their address went to another node. */
  ADDRESS_LOST_DROPS,
  /**
   * Withheld ACK (seed 003): ACKs the primary held back because its backup had
   * not confirmed the bytes yet; confirmations sent (backup) and received
   * (primary); client bytes pushed to a backup that lagged.
   */
  ACKS_WITHHELD, HAVES_OUT, HAVES_IN, PUSHES,
  /**
   * Shadows of a handshake the primary's answer to which this node never saw,
   * whose client never went past its SYN: dropped at a takeover without a
   * word (there is nothing to reset); the client's SYN retry opens the
   * connection here.
   */
  SHADOW_SYNS_DROPPED,
  /**
   * Primary output bytes not compared: the shadow application handed them by
   * reference (lazy-output.ts) and the segment was not one of the sampled ones.
   */
  SHADOW_BYTES_UNCHECKED,
  /**
   * Primary: connections whose withheld ACK went out unconfirmed because
   * their address lost its backup (setBackedUp) while the backup had not
   * confirmed every byte: a backup that comes back may lack those bytes.
   * Also a TIME-WAIT that ends with the ACK of the client's FIN unconfirmed:
   * it goes out then (both sides closed, nothing left to take over).
   */
  ACKS_RELEASED,
  /**
   * Segments of a live connection on an address this node lost to another
   * holder (a failback's leftover), served here during the forget grace.
   */
  LOST_SERVED,
  /** Client segments addressed to this node for an address another node holds (a stale ARP cache), passed on to the holder. */
  TO_HOLDER,
  /** Send buffers doubled by autotuning (TcpConfig.sendBufferMax). */
  SEND_BUFFER_GROWN,
  /** Shadows whose missed SYN-ACK was derived from the client's ACK (the cluster's ISS), not repaired. */
  SHADOW_HANDSHAKES_DERIVED,
  /**
   * Shadows whose client acknowledged output too far past what they saw sent
   * (CATCH_UP_MAX: the backup lost frames for a while): not exact, a copy of
   * the primary's record asked for.
   */
  SHADOW_LOST_TRACK,
  /**
   * Primary output bytes this node never saw go (a snooped or mirrored frame
   * lost): a later segment of the primary started past them, or the client
   * acknowledged them first; and a shadow installed from a copy of the
   * record counts all its primary had sent before. Not compared; the shadow
   * stays exact (its application makes the same bytes), but nothing checked
   * that it would.
   */
  SHADOW_BYTES_UNSEEN,
  /**
   * Primary output bytes seen before the shadow application had made them (it
   * lagged: its client bytes came late, by a repair or a push): not compared.
   */
  SHADOW_BYTES_AHEAD,
  COUNT,
}

export const TCP_STAT_NAMES = [
  'segs_in', 'segs_out', 'bytes_in', 'bytes_out', 'retransmits', 'rto_fired', 'fast_retransmits', 'dupacks_in',
  'challenge_acks', 'rst_sent', 'rst_received', 'passive_opens', 'active_opens', 'established', 'closed',
  'resets', 'timeouts', 'syn_cookies_sent', 'syn_cookies_ok', 'syn_cookies_bad', 'paws_drops',
  'out_of_window', 'ooo_segments', 'ooo_drops', 'no_slot', 'table_full', 'no_listener', 'app_errors',
  'bad_ack', 'unknown_dropped', 'keepalive_probes', 'window_probes', 'time_wait_reused', 'time_wait_evicted',
  'connections',
  'in_syn_sent', 'in_syn_received', 'in_established', 'in_fin_wait_1', 'in_fin_wait_2', 'in_close_wait', 'in_closing', 'in_last_ack', 'in_time_wait',
  'snooped', 'snoop_unknown', 'shadow_opens', 'shadow_promoted', 'shadow_reset', 'shadow_lost', 'shadow_diverged', 'shadow_gaps',
  'shadow_bytes_checked', 'in_shadow', 'mirrored', 'mirror_no_slot', 'mirror_in', 'in_shadow_exact', 'repairs_asked', 'repairs_served',
  'copies_asked', 'shadow_copies', 'address_lost_drops',
  'acks_withheld', 'haves_out', 'haves_in', 'pushes', 'shadow_syns_dropped',
  'shadow_bytes_unchecked', 'acks_released', 'lost_served', 'to_holder', 'send_buffer_grown',
  'shadow_handshakes_derived', 'shadow_lost_track', 'shadow_bytes_unseen', 'shadow_bytes_ahead',
] as const;

interface Listener {
  /** 0 = every address. */
  readonly ip: number;
  readonly lo: number;
  readonly hi: number;
  readonly app: TcpApplication;
  /** Service mode snoop: this node also shadows the service's connections on addresses it backs up. */
  readonly snoop: boolean;
}

/** 2^n for a window-scale shift: a shift for the ones negotiation allows (≤ 14), not a call into Math.pow per segment. */
function pow2(n: number): number {
  return n < 31 ? 1 << n : 2 ** n;
}

/** TSval clock: milliseconds (RFC 7323 §5.4 allows 1 ms to 1 s per tick). */
function tsClock(now: number, offset: number): number {
  return (Math.floor(now) + offset) >>> 0;
}

/** RFC 7323 §5.5: TS.Recent older than 24 days is stale. */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/** RFC 9293 §3.7.1 default when the SYN carries no MSS option. */
const DEFAULT_SND_MSS = 536;
const DUPACK_THRESHOLD = 3;
/** Retry delay when no slot was free to send in. */
const NO_SLOT_RETRY_MS = 1;
const SHADOW_SYN_WORDS = 6;
/** A shadow asks its primary to repair a gap at most this often. */
const REPAIR_INTERVAL_MS = 5;
/** A backup asks its primary for a copy of one connection's record at most this often. */
const COPY_INTERVAL_MS = 200;
/** Copy requests waiting for the worker to send them, and the connections asked about recently. */
const COPY_QUEUE = 64;
const COPY_RECENT_MAX = 4096;
/** takeRepairs() kinds: client bytes (or, from = to, the handshake) again; the whole record (a copy). */
export const REPAIR_BYTES = 0;
export const REPAIR_RECORD = 1;
/** takeRepairs() kind: "this backup holds every client byte below `from`" (a withheld-ACK confirmation). */
export const REPAIR_HAVE = 2;
/**
 * How far past SND_UNA a shadow takes a client's ACK of output it never saw
 * sent (frames the backup lost in a burst, or a record copy that came late):
 * the primary sent it, and the application will write the same bytes.
 * Further than this the shadow has lost track (a starved backup whose port
 * dropped frames for a while): it is not exact, and asks its primary for a
 * copy of the record instead of making its application produce and drop
 * that much output.
 */
const CATCH_UP_MAX = 64 << 20;
/**
 * The same for a connection promoted from a shadow: its primary is gone, so
 * no copy can come, and the client holds every byte the primary sent. A
 * shadow that fell this far behind just before the failure still resumes
 * (its application produces and drops the difference), on a client ACK that
 * echoes a timestamp this node's output carried (catchUpReach); an ACK
 * further ahead than this (a quarter of the sequence space) is bogus.
 */
const CATCH_UP_MAX_PROMOTED = 1 << 30;
/** Least linger of a passive close of a service with shadows (TcpStack.ourFinAcked): three of Linux's FIN retransmissions. */
const FIN_ACK_LINGER_MIN_MS = 2000;
/**
 * A primary whose backup has not confirmed withheld bytes for this long sends
 * them to it again: PUSH_MS, or more while the backup's confirmations take
 * longer (a push timeout from their smoothed delay, RFC 6298's way, at most
 * PUSH_MAX_MS). A backup that is only slow (its queues full of frames it has
 * not read yet) is not sent what it will confirm anyway.
 */
const PUSH_MS = 4;
const PUSH_MAX_MS = 128;
/** Pushes back off while the backup confirms nothing new: the n-th waits the push timeout << min(n, PUSH_MAX_SHIFT), at most PUSH_BACKOFF_MAX_MS. */
const PUSH_MAX_SHIFT = 6;
const PUSH_BACKOFF_MAX_MS = 500;
/**
 * Pushes per takePushes() call (one worker pass, at most a burst of frames
 * read): the rest wait for the next pass. A primary so loaded that its
 * backup's confirmations queue behind its own rx ring would otherwise push
 * for nearly every connection at once (8,146 pushes in 1.8 s at 1,000
 * connections), onto a tx ring that was already full.
 */
const PUSH_BUDGET = 16;
/** How many forgotten connections a node remembers to refuse late copies of them (TcpStack.staleCopy). */
const TOMBS = 1024;
/** report(): Int32 words per connection, and the bits of its state word. */
export const CONN_ROW_WORDS = 28;
/** report(): the leading bytes of the application state a row carries (diagnostics). */
export const CONN_ROW_APP_BYTES = 32;
export const CONN_SHADOW = 1 << 8;
export const CONN_EXACT = 1 << 9;

export class TcpStack implements TimerSink, SocketHost {
  readonly config: TcpConfig;
  readonly table: TcbTable;
  /** Counters (Stat); a view into shared memory when the worker passes one, so the control thread reads them. */
  readonly stats: Float64Array;
  private readonly u: Uint32Array;
  private readonly f: Float64Array;
  private readonly flows: FlowTable;
  private readonly link: TcpLink;
  private readonly secrets: SequenceSecrets;
  private readonly wheel: TimerWheel;
  private readonly snd: (Uint8Array | null)[];
  private readonly rcv: (Uint8Array | null)[];
  private readonly sockets: (TcpSocket | null)[];
  private readonly listeners: Listener[] = [];
  /** Recycled buffers (allocation per connection, never per packet). */
  private readonly freeSnd: Uint8Array[] = [];
  /** Bytes of send rings beyond the configured size (autotuned or imported larger), against sendBufferBudget. */
  private grownBytes = 0;
  private readonly freeRcv: Uint8Array[] = [];
  private readonly dirty: Int32Array;
  private readonly isDirty: Uint8Array;
  private dirtyCount = 0;
  private readonly ccAlgo: number;
  private readonly localMac = new Uint8Array(6);
  private readonly hasLocalMac: boolean;
  private readonly sackOut = new Uint32Array(8);
  private readonly cookieOut: CookieOptions = { mss: 0, wscale: -1, sackPermitted: 0 };
  private ipIdent = 0;
  private halfOpen = 0;
  /**
   * Connections that entered TIME-WAIT, oldest first (ids; stale entries are
   * skipped). A server that closes first keeps one record per closed
   * connection for 2MSL; when the table is full the oldest TIME-WAIT record
   * makes room for a new connection, as Linux does past tcp_max_tw_buckets.
   */
  private readonly timeWaitFifo: Int32Array;
  private twHead = 0;
  private twCount = 0;
  private challengeWindowStart = 0;
  private challengeCount = 0;
  private now = 0;
  /** The connection whose next output may send a segment sender SWS avoidance would hold back (the override timer fired). */
  private swsOverride = -1;
  /** Set while reset-unknown is suspended (takeover grace period), until this time. */
  private quietUntil = 0;
  // Shadow bookkeeping (service mode snoop), per record id; only this node needs it, so it is not in the record.
  /** 0: not a shadow; 1: client SYN seen, waiting for the primary's SYN-ACK; 2: synchronized. */
  private readonly shadowPhase: Uint8Array;
  /** The primary's last acknowledgment of the client stream (what its application may have consumed). */
  private readonly shadowAcked: Uint32Array;
  /** Bytes of application output to drop (the client acknowledged them before this application produced them). */
  private readonly shadowSkip: Uint32Array;
  /** Diagnostics (report): output bytes this node's skipOutputTo added to the skip of each connection, since it came here. */
  private readonly skipAdded: Float64Array;
  /**
   * The newest TSval this node knows its connection's holder sent (a shadow:
   * the primary's, as observed; a restored record: this node's clock at
   * the restore). A promoted connection's client ACK that echoes a newer one
   * answers output sent after it, and may catch up to CATCH_UP_MAX_PROMOTED.
   */
  private readonly tsSeen: Uint32Array;
  /**
   * Debugging (BATON_TRACE_CONNS): told of every event that changes which
   * record a connection is (export, import, shadow copy, promotion, drop)
   * and of output skipped on a live connection, and of every RST sent and
   * abort; describe(id) says its state (id -1: a segment of no connection).
   */
  trace: ((event: string, id: number) => void) | null = null;
  /** When the record a connection was moved here by was exported (its origin's wall ms; 0: not moved here), and by which node: setExportedAt. */
  private readonly exportedAtMs: Float64Array;
  private readonly exportedBy: Uint16Array;
  /** When (this stack's clock) a record moved connection `id` here (setExportedAt); 0: it was not moved here. */
  private readonly movedInAt: Float64Array;
  /** The client SYN's options, until the primary's SYN-ACK: mss, wscale (-1 none), sack-permitted, ts present, tsVal, window. */
  private readonly shadowSyn: Int32Array;
  /** The SYN-ACK a shadow derives when it missed the primary's (synthesizeSynAck). */
  private readonly synth = new FrameMeta();
  /** When each shadow last asked its primary to repair a gap (ms; 0 never). */
  private readonly shadowRepairAt: Float64Array;
  /** Shadows with a gap (or an unseen handshake) to ask their primary about, drained by takeRepairs(); the range is read then. */
  private readonly repairQueue = new Int32Array(64);
  private repairCount = 0;
  /** Record copies to ask for: 4-tuples (local ip, local port, remote ip, remote port), drained by takeRepairs(). */
  private readonly copyQueue = new Uint32Array(COPY_QUEUE * 4);
  private copyCount = 0;
  /** When a copy was last asked for, by flow hash (bounded: cleared when full). */
  private readonly copyAskedAt = new Map<number, number>();
  // Withheld ACK (seed 003 claim 24; service modes snoop and mirror). On the
  // primary, a connection on an address that has a backup acknowledges only
  // the client bytes the backup confirmed it holds (backupHas), so a takeover
  // never finds a byte the client believes delivered missing from the shadow.
  /** Addresses this node holds that have a backup now (setBackedUp). */
  private backedUp = new Uint32Array(0);
  /** Per connection: the backup holds every client byte below this (valid while HAVE_VALID is set in haveFlags). */
  private readonly backupHas: Uint32Array;
  /** Per connection: bit 0 backupHas valid; bit 1 queued for a push check; bit 2 (backup side) queued for a HAVE. */
  private readonly haveFlags: Uint8Array;
  /** Primary: connections whose ACK is withheld (one entry each, any number). */
  private readonly pushQueue: Int32Array;
  /** Per connection: when its next push is due. */
  private readonly pushAt: Float64Array;
  private pushCount = 0;
  /** Per connection: pushes since the backup last confirmed progress (the backoff), and the confirmed point at the last one. */
  private readonly pushTries: Uint8Array;
  private readonly pushFrom: Uint32Array;
  /** Per connection: when its ACK began to wait for the backup (a confirmation delay sample when none was pushed); -1: all confirmed since, the next wait starts afresh. */
  private readonly pushStart: Float64Array;
  /** Smoothed delay of the backup's confirmations and its variation (ms; 0: no sample yet). */
  private confirmSrtt = 0;
  private confirmVar = 0;
  /** When the earliest push is due (ms); meaningful while pushCount > 0. */
  private pushDue = Infinity;
  /** Backup: shadows with new client bytes to confirm. */
  private readonly haveQueue = new Int32Array(256);
  private haveCount = 0;
  /**
   * Confirmations of shadows that closed with one queued (their client's FIN
   * and the ACK of the primary's FIN seen in one pass): by value, since the
   * record is gone — the primary waits for this one to acknowledge the FIN.
   * [localIp, localPort, remoteIp, remotePort, seq] each.
   */
  /**
   * The last TOMBS connections of snoop and mirror services this node forgot
   * (closed, moved away, dropped): [localIp, localPort, remoteIp, remotePort,
   * IRS, RCV_NXT] each, a ring. A shadow copy exported before the end it
   * records is refused (staleCopy): a late copy would install a state from
   * before client bytes the client saw acknowledged (handoff.ts importCopy).
   */
  private readonly tombs = new Uint32Array(TOMBS * 6);
  private tombNext = 0;
  private readonly lateHaves = new Uint32Array(64 * 5);
  private lateHaveCount = 0;
  /** The last frame buffer shadowCompare saw, and a Buffer over it (memcmp without a view per segment). */
  private frameBytes: Uint8Array | null = null;
  private frameBuffer: Buffer | null = null;
  /** Shadows' output handed by reference (socketWriteFile; lazy-output.ts), per record id. */
  private readonly lazy: (LazyOutput | null)[];
  /** Sampled compares of referenced output: the shadow's bytes are put together here. */
  private compareScratch: Buffer | null = null;
  /** Non-referenced pieces of a compared range ([seq, len] pairs; LazyOutput.gaps). */
  private readonly gapList: number[] = [];
  // Segmentation offload (link.ts): the largest payload one emit may carry
  // (0: one MSS, no offload), whether the device finishes TCP checksums, and
  // the large buffer output() reserved for the segment it is about to emit.
  private readonly largePayload: number;
  private readonly csumOffload: boolean;
  private largeSlot = -1;

  constructor(config: Partial<TcpConfig>, link: TcpLink, opts: { secrets?: SequenceSecrets; localMac?: Uint8Array; stats?: Float64Array } = {}) {
    this.config = { ...DEFAULT_TCP_CONFIG, ...config };
    this.stats = opts.stats ?? new Float64Array(Stat.COUNT);
    const c = this.config;
    for (const [k, v] of [['sendBuffer', c.sendBuffer], ['recvBuffer', c.recvBuffer], ['sendBufferMax', c.sendBufferMax]] as const) {
      if (v < 4096 || (v & (v - 1)) !== 0) throw new RangeError(`tcp.${k} must be a power of two ≥ 4096, got ${v}`);
    }
    if (c.sendBufferMax < c.sendBuffer) throw new RangeError(`tcp.sendBufferMax (${c.sendBufferMax}) is below tcp.sendBuffer (${c.sendBuffer})`);
    this.table = new TcbTable(c.maxConnections);
    this.u = this.table.u32;
    this.f = this.table.f64;
    this.flows = new FlowTable(c.maxConnections);
    this.link = link;
    this.secrets = opts.secrets ?? SequenceSecrets.random();
    this.wheel = new TimerWheel(c.maxConnections);
    this.snd = new Array<Uint8Array | null>(c.maxConnections).fill(null);
    this.rcv = new Array<Uint8Array | null>(c.maxConnections).fill(null);
    this.sockets = new Array<TcpSocket | null>(c.maxConnections).fill(null);
    this.dirty = new Int32Array(c.maxConnections * 2);
    this.timeWaitFifo = new Int32Array(c.maxConnections * 2);
    this.isDirty = new Uint8Array(c.maxConnections);
    this.shadowPhase = new Uint8Array(c.maxConnections);
    this.shadowAcked = new Uint32Array(c.maxConnections);
    this.shadowSkip = new Uint32Array(c.maxConnections);
    this.skipAdded = new Float64Array(c.maxConnections);
    this.tsSeen = new Uint32Array(c.maxConnections);
    this.exportedAtMs = new Float64Array(c.maxConnections);
    this.exportedBy = new Uint16Array(c.maxConnections);
    this.movedInAt = new Float64Array(c.maxConnections);
    this.shadowSyn = new Int32Array(c.maxConnections * SHADOW_SYN_WORDS);
    this.shadowRepairAt = new Float64Array(c.maxConnections);
    this.lazy = new Array<LazyOutput | null>(c.maxConnections).fill(null);
    this.backupHas = new Uint32Array(c.maxConnections);
    this.haveFlags = new Uint8Array(c.maxConnections);
    this.pushQueue = new Int32Array(c.maxConnections);
    this.pushAt = new Float64Array(c.maxConnections);
    this.pushTries = new Uint8Array(c.maxConnections);
    this.pushFrom = new Uint32Array(c.maxConnections);
    this.pushStart = new Float64Array(c.maxConnections);
    this.ccAlgo = c.congestion === 'reno' ? CC_RENO : CC_CUBIC;
    this.hasLocalMac = opts.localMac !== undefined;
    if (opts.localMac !== undefined) this.localMac.set(opts.localMac.subarray(0, 6));
    const large = link.largeFrame ?? 0;
    // Room for Ethernet, IPv4 and the longest TCP header (60 bytes).
    this.largePayload = large > 0 && link.allocLarge !== undefined ? large - ETH_HEADER_LEN - IPV4_HEADER_LEN - 60 : 0;
    this.csumOffload = link.csumOffload === true;
  }

  get connections(): number {
    return this.flows.size;
  }

  /** Serves `app` on local address `ip` (0 = any) and ports lo..hi. */
  listen(ip: number, lo: number, hi: number, app: TcpApplication, snoop = false): void {
    this.listeners.push({ ip: ip >>> 0, lo, hi, app, snoop });
  }

  private findListener(ip: number, port: number): number {
    const l = this.listeners;
    for (let i = 0; i < l.length; i++) {
      const x = l[i]!;
      if ((x.ip === 0 || x.ip === ip) && port >= x.lo && port <= x.hi) return i;
    }
    return -1;
  }

  /** Suspends RST replies to unknown connections until `until` (takeover grace period). */
  quietUnknownUntil(until: number): void {
    this.quietUntil = until;
  }

  // ---------------------------------------------------------------- segment arrival

  /**
   * One received TCP segment, already parsed (and checksum-verified) into
   * `m`, its bytes in `b`. The frame's slot stays the caller's.
   */
  input(b: Uint8Array, m: FrameMeta, poller: number, now: number): void {
    this.now = now;
    this.stats[Stat.SEGS_IN]! += 1;
    const id = this.flows.lookup(m.hash, m.srcIp, m.dstIp, m.srcPort, m.dstPort, IP_PROTO_TCP);
    if (id < 0) {
      this.inputNoConnection(b, m, poller, now);
      return;
    }
    const u = this.u;
    const base = id * RECORD_WORDS;
    // A shadow whose address this node now answers for (the worker noticed the takeover after this frame).
    if ((u[base + W.FLAGS]! & Flag.SHADOW) !== 0 && !this.promoteShadow(id, now)) {
      // A handshake dropped without a word: this segment (the client's SYN retry) opens it here.
      if (u[base + W.STATE] === State.CLOSED) this.inputNoConnection(b, m, poller, now);
      return;
    }
    const st = u[base + W.STATE]!;
    if (st === State.SYN_SENT) {
      this.inputSynSent(id, b, m, now);
    } else if (st === State.TIME_WAIT && (m.tcpFlags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) === TCP_FLAG_SYN && this.timeWaitReusable(id, m)) {
      // RFC 6191: a new SYN for a TIME-WAIT connection with a later sequence
      // number (or timestamp) starts a new incarnation.
      this.stats[Stat.TIME_WAIT_REUSED]! += 1;
      this.freeConnection(id);
      this.inputNoConnection(b, m, poller, now);
      return;
    } else {
      this.inputSynchronized(id, b, m, now);
    }
    this.afterInput(id);
  }

  private timeWaitReusable(id: number, m: FrameMeta): boolean {
    const base = id * RECORD_WORDS;
    if ((this.u[base + W.FLAGS]! & Flag.TS_OK) !== 0 && m.tsPresent !== 0) return seqGt(m.tsVal, this.u[base + W.TS_RECENT]!);
    return seqGt(m.seq, this.u[base + W.RCV_NXT]!);
  }

  private afterInput(id: number): void {
    if (this.u[id * RECORD_WORDS + W.STATE] !== State.CLOSED) this.markDirty(id);
  }

  /** RFC 9293 §3.10.7.1 (CLOSED) and §3.10.7.2 (LISTEN). */
  private inputNoConnection(b: Uint8Array, m: FrameMeta, poller: number, now: number): void {
    const fl = m.tcpFlags;
    if ((fl & TCP_FLAG_RST) !== 0) return; // An incoming RST is discarded.
    const li = this.findListener(m.dstIp, m.dstPort);
    if (li < 0) {
      this.stats[Stat.NO_LISTENER]! += 1;
      this.resetFor(b, m, poller, now);
      return;
    }
    if ((fl & TCP_FLAG_ACK) !== 0) {
      // Possibly the third segment of a handshake answered with a SYN cookie.
      if ((fl & TCP_FLAG_SYN) === 0 && this.tryCookie(b, m, poller, li, now)) return;
      this.resetFor(b, m, poller, now);
      return;
    }
    if ((fl & TCP_FLAG_SYN) === 0) return; // Neither SYN nor RST nor ACK: drop.
    if (this.halfOpen >= this.config.synBacklog) {
      this.sendCookieSynAck(b, m, poller, now);
      return;
    }
    let id = this.flows.lookupOrInsert(m.hash, m.srcIp, m.dstIp, m.srcPort, m.dstPort, IP_PROTO_TCP);
    if (id < 0 && this.evictTimeWait()) id = this.flows.lookupOrInsert(m.hash, m.srcIp, m.dstIp, m.srcPort, m.dstPort, IP_PROTO_TCP);
    if (id < 0) {
      this.stats[Stat.TABLE_FULL]! += 1;
      return;
    }
    this.openRecord(id, b, m, poller, li, now);
    const u = this.u;
    const base = id * RECORD_WORDS;
    const iss = this.secrets.passiveIsn(m.dstIp, m.dstPort, m.srcIp, m.srcPort, m.seq);
    u[base + W.STATE] = State.SYN_RECEIVED;
    u[base + W.FLAGS] |= Flag.PASSIVE;
    this.setIss(id, iss);
    this.negotiate(id, m.mss, m.wscale, m.sackPermitted, m.tsPresent, m.tsVal, now);
    this.setIrs(id, m.seq);
    this.halfOpen++;
    this.stats[Stat.PASSIVE_OPENS]! += 1;
    this.sendSyn(id, now);
    this.f[recordF64(id) + F.T_RTO] = now + this.f[recordF64(id) + F.RTO]!;
    this.rearm(id);
  }

  /** Zeroes and fills the identity of a new record from the frame that opens it. */
  private openRecord(id: number, b: Uint8Array, m: FrameMeta, poller: number, service: number, now: number): void {
    const l2 = m.l2Off;
    const mac = this.hasLocalMac ? this.localMac : b;
    const macOff = this.hasLocalMac ? 0 : l2;
    this.initRecord(id, m.dstIp, m.dstPort, m.srcIp, m.srcPort, macHi(mac, macOff), macLo(mac, macOff),
      macHi(b, l2 + 6), macLo(b, l2 + 6), poller, service, now);
  }

  /** Zeroes record `id`, fills its identity and defaults, and gives it buffers. */
  private initRecord(id: number, localIp: number, localPort: number, remoteIp: number, remotePort: number,
    localMacHi: number, localMacLo: number, remoteMacHi: number, remoteMacLo: number, poller: number, service: number, now: number): void {
    this.table.clear(id);
    const u = this.u;
    const base = id * RECORD_WORDS;
    const fb = recordF64(id);
    u[base + W.LOCAL_IP] = localIp;
    u[base + W.REMOTE_IP] = remoteIp;
    u[base + W.LOCAL_PORT] = localPort;
    u[base + W.REMOTE_PORT] = remotePort;
    u[base + W.LOCAL_MAC_HI] = localMacHi;
    u[base + W.LOCAL_MAC_LO] = localMacLo;
    u[base + W.REMOTE_MAC_HI] = remoteMacHi;
    u[base + W.REMOTE_MAC_LO] = remoteMacLo;
    u[base + W.POLLER] = poller;
    u[base + W.SERVICE] = service;
    u[base + W.RCV_MSS] = this.config.mss;
    u[base + W.SND_MSS] = DEFAULT_SND_MSS;
    u[base + W.SND_BUF_BYTES] = this.config.sendBuffer;
    u[base + W.RCV_BUF_BYTES] = this.config.recvBuffer;
    this.f[fb + F.RTO] = this.config.rtoInitialMs;
    this.f[fb + F.CREATED] = now;
    this.f[fb + F.LAST_RECV] = now;
    this.snd[id] = this.freeSnd.pop() ?? Buffer.alloc(this.config.sendBuffer);
    this.rcv[id] = this.freeRcv.pop() ?? Buffer.alloc(this.config.recvBuffer);
  }

  private setIss(id: number, iss: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    u[base + W.ISS] = iss;
    u[base + W.SND_UNA] = iss;
    u[base + W.SND_NXT] = iss;
    u[base + W.SND_MAX] = iss;
    u[base + W.SND_END] = (iss + 1) >>> 0;
    u[base + W.RECOVER] = iss;
    u[base + W.RTX_NEXT] = iss;
  }

  private setIrs(id: number, irs: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    u[base + W.IRS] = irs;
    u[base + W.RCV_NXT] = (irs + 1) >>> 0;
    u[base + W.RCV_READ] = (irs + 1) >>> 0;
    u[base + W.RCV_ADV] = (irs + 1) >>> 0;
    u[base + W.LAST_ACK_SENT] = (irs + 1) >>> 0;
  }

  /** Options agreed from the peer's SYN (RFC 9293 §3.7.1, RFC 7323 §2.2/§3.2, RFC 2018 §2). */
  private negotiate(id: number, mss: number, wscale: number, sackPerm: number, tsPresent: number, tsVal: number, now: number): void {
    const c = this.config;
    const u = this.u;
    const base = id * RECORD_WORDS;
    let flags = u[base + W.FLAGS]!;
    if (c.windowScale && wscale >= 0) {
      flags |= Flag.WS_OK;
      u[base + W.SND_SHIFT] = Math.min(wscale, TCP_MAX_WSCALE);
      u[base + W.RCV_SHIFT] = this.ourWindowShift();
    }
    if (c.sack && sackPerm !== 0) flags |= Flag.SACK_OK;
    if (c.timestamps && tsPresent !== 0) {
      flags |= Flag.TS_OK;
      u[base + W.TS_RECENT] = tsVal;
      this.f[recordF64(id) + F.TS_RECENT_AGE] = now;
    }
    u[base + W.TS_OFFSET] = this.secrets.tsOffset(u[base + W.LOCAL_IP]!, u[base + W.LOCAL_PORT]!, u[base + W.REMOTE_IP]!, u[base + W.REMOTE_PORT]!);
    u[base + W.FLAGS] = flags;
    let sndMss = mss > 0 ? mss : DEFAULT_SND_MSS;
    if (sndMss > c.mss) sndMss = c.mss;
    // The timestamp option rides on every segment: leave room for it (RFC 7323 §3.2, as Linux does).
    if ((flags & Flag.TS_OK) !== 0) sndMss -= 12;
    u[base + W.SND_MSS] = sndMss;
    u[base + W.CWND] = initialWindow(sndMss);
    u[base + W.SSTHRESH] = 0x3fffffff;
  }

  /** RFC 7323 §2.3: the smallest shift that lets the 16-bit field cover our receive buffer. */
  private ourWindowShift(): number {
    let shift = 0;
    while (shift < TCP_MAX_WSCALE && this.config.recvBuffer >>> shift > 0xffff) shift++;
    return shift;
  }

  /** A SYN-ACK whose ISS is a cookie; nothing is remembered. */
  private sendCookieSynAck(b: Uint8Array, m: FrameMeta, poller: number, now: number): void {
    const c = this.config;
    const o = this.cookieOut;
    o.mss = m.mss > 0 ? m.mss : DEFAULT_SND_MSS;
    o.wscale = c.windowScale ? m.wscale : -1;
    o.sackPermitted = c.sack ? m.sackPermitted : 0;
    const iss = this.secrets.cookie(m.dstIp, m.dstPort, m.srcIp, m.srcPort, m.seq, now, o);
    const shift = o.wscale >= 0 ? this.ourWindowShift() : -1;
    const ts = c.timestamps && m.tsPresent !== 0;
    const tsVal = ts ? tsClock(now, this.secrets.tsOffset(m.dstIp, m.dstPort, m.srcIp, m.srcPort)) : 0;
    this.stats[Stat.SYN_COOKIES_SENT]! += 1;
    this.replyTo(b, m, poller, iss, (m.seq + 1) >>> 0, TCP_FLAG_SYN | TCP_FLAG_ACK, Math.min(c.recvBuffer, 0xffff),
      c.mss, shift, o.sackPermitted, ts ? 1 : 0, tsVal, m.tsVal);
  }

  /** RFC 4987 §3.6: the ACK completing a cookie handshake rebuilds the connection. */
  private tryCookie(b: Uint8Array, m: FrameMeta, poller: number, li: number, now: number): boolean {
    const iss = (m.ack - 1) >>> 0;
    const irs = (m.seq - 1) >>> 0;
    const o = this.cookieOut;
    if (!this.secrets.checkCookie(m.dstIp, m.dstPort, m.srcIp, m.srcPort, irs, iss, now, o)) {
      this.stats[Stat.SYN_COOKIES_BAD]! += 1;
      return false;
    }
    let id = this.flows.lookupOrInsert(m.hash, m.srcIp, m.dstIp, m.srcPort, m.dstPort, IP_PROTO_TCP);
    if (id < 0 && this.evictTimeWait()) id = this.flows.lookupOrInsert(m.hash, m.srcIp, m.dstIp, m.srcPort, m.dstPort, IP_PROTO_TCP);
    if (id < 0) {
      this.stats[Stat.TABLE_FULL]! += 1;
      return true;
    }
    this.stats[Stat.SYN_COOKIES_OK]! += 1;
    this.openRecord(id, b, m, poller, li, now);
    const u = this.u;
    const base = id * RECORD_WORDS;
    u[base + W.STATE] = State.SYN_RECEIVED;
    u[base + W.FLAGS] |= Flag.PASSIVE | Flag.FROM_COOKIE;
    this.setIss(id, iss);
    u[base + W.SND_NXT] = (iss + 1) >>> 0;
    u[base + W.SND_MAX] = (iss + 1) >>> 0;
    // Timestamps: the cookie ACK echoes our TSval, so the client did offer them.
    this.negotiate(id, o.mss, o.wscale, o.sackPermitted, m.tsPresent, m.tsVal, now);
    this.setIrs(id, irs);
    this.halfOpen++;
    this.stats[Stat.PASSIVE_OPENS]! += 1;
    this.inputSynchronized(id, b, m, now);
    this.afterInput(id);
    return true;
  }

  /** RFC 9293 §3.10.7.3: SYN-SENT. */
  private inputSynSent(id: number, b: Uint8Array, m: FrameMeta, now: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const fl = m.tcpFlags;
    const iss = u[base + W.ISS]!;
    const hasAck = (fl & TCP_FLAG_ACK) !== 0;
    // First, check the ACK bit.
    if (hasAck && (seqLe(m.ack, iss) || seqGt(m.ack, u[base + W.SND_MAX]!))) {
      if ((fl & TCP_FLAG_RST) === 0) this.sendControl(id, m.ack, 0, TCP_FLAG_RST, now);
      return;
    }
    // Second, the RST bit.
    if ((fl & TCP_FLAG_RST) !== 0) {
      if (hasAck) {
        this.stats[Stat.RST_RECEIVED]! += 1;
        this.abort(id, 'ECONNREFUSED', 'connection refused');
      }
      return;
    }
    // Fourth, the SYN bit.
    if ((fl & TCP_FLAG_SYN) === 0) return;
    this.negotiate(id, m.mss, m.wscale, m.sackPermitted, m.tsPresent, m.tsVal, now);
    // negotiate() chose RCV_SHIFT only when the peer scales; our SYN offered it.
    this.setIrs(id, m.seq);
    if (hasAck && seqGt(m.ack, iss)) {
      u[base + W.SND_UNA] = m.ack;
      this.updateWindow(id, m, true);
      u[base + W.STATE] = State.ESTABLISHED;
      this.f[recordF64(id) + F.T_RTO] = 0;
      this.stats[Stat.ESTABLISHED]! += 1;
      if ((u[base + W.FLAGS]! & Flag.TS_OK) !== 0 && m.tsEcr !== 0) {
        rttSample(this.f, id, tsClock(now, u[base + W.TS_OFFSET]!) - m.tsEcr, this.config.rtoMinMs, this.config.rtoMaxMs);
      }
      u[base + W.FLAGS] |= Flag.ACK_NOW;
      this.startKeepalive(id, now);
      this.established(id);
      // Data or FIN on the SYN-ACK: continue with the text steps.
      if (m.payloadLen > 0 || (fl & TCP_FLAG_FIN) !== 0) this.processText(id, b, m, now);
    } else {
      // Simultaneous open (RFC 9293 Figure 8): answer SYN,ACK with our ISS.
      u[base + W.STATE] = State.SYN_RECEIVED;
      u[base + W.SND_NXT] = iss;
      this.sendSyn(id, now);
    }
  }

  /** RFC 9293 §3.10.7.4: every state after SYN-SENT. */
  private inputSynchronized(id: number, b: Uint8Array, m: FrameMeta, now: number): void {
    const u = this.u;
    const f = this.f;
    const base = id * RECORD_WORDS;
    const fb = recordF64(id);
    const fl = m.tcpFlags;
    let st = u[base + W.STATE]!;
    const rcvNxt = u[base + W.RCV_NXT]!;
    const flags = u[base + W.FLAGS]!;
    let segLen = m.payloadLen;
    if ((fl & TCP_FLAG_SYN) !== 0) segLen++;
    if ((fl & TCP_FLAG_FIN) !== 0) segLen++;
    f[fb + F.LAST_RECV] = now;
    u[base + W.KEEPALIVE_PROBES] = 0;

    // RFC 7323 §5.3: PAWS, before the sequence number check.
    if ((flags & Flag.TS_OK) !== 0 && m.tsPresent !== 0 && (fl & TCP_FLAG_RST) === 0) {
      if (seqLt(m.tsVal, u[base + W.TS_RECENT]!) && now - f[fb + F.TS_RECENT_AGE]! < PAWS_IDLE_MS) {
        this.stats[Stat.PAWS_DROPS]! += 1;
        u[base + W.FLAGS] |= Flag.ACK_NOW;
        return;
      }
    }

    // A retransmitted SYN while we are in SYN-RECEIVED: our SYN-ACK was lost.
    if (st === State.SYN_RECEIVED && (fl & (TCP_FLAG_SYN | TCP_FLAG_ACK)) === TCP_FLAG_SYN && m.seq === u[base + W.IRS]) {
      this.sendSyn(id, now);
      return;
    }

    // Simultaneous open: the peer's SYN,ACK answering our SYN while we are in
    // SYN-RECEIVED is the handshake's ACK, not a new SYN (the RFC 5961 §4.2
    // exception Linux makes too). Process it as that ACK.
    if (st === State.SYN_RECEIVED && (flags & Flag.PASSIVE) === 0 && (fl & (TCP_FLAG_SYN | TCP_FLAG_ACK)) === (TCP_FLAG_SYN | TCP_FLAG_ACK) &&
        ((m.seq + 1) >>> 0) === rcvNxt && m.ack === u[base + W.SND_NXT]) {
      m.seq = rcvNxt;
      m.tcpFlags = fl & ~TCP_FLAG_SYN;
      this.inputSynchronized(id, b, m, now);
      return;
    }

    // First, check the sequence number (the four acceptability cases).
    // Modulo 2^32: the edge may have wrapped past zero while RCV.NXT has not.
    const wnd = (this.receiveWindowEdge(id) - rcvNxt) | 0;
    let ok: boolean;
    if (segLen === 0) {
      ok = wnd <= 0 ? m.seq === rcvNxt : seqGe(m.seq, rcvNxt) && seqLt(m.seq, (rcvNxt + wnd) >>> 0);
    } else if (wnd <= 0) {
      ok = false;
    } else {
      const end = (rcvNxt + wnd) >>> 0;
      const last = (m.seq + segLen - 1) >>> 0;
      // The RFC's two tests, and a segment spanning the whole window (it starts
      // below RCV.NXT and ends past the edge; Linux takes it too): trimmed at
      // both ends, its bytes that fit are new.
      ok = (seqGe(m.seq, rcvNxt) && seqLt(m.seq, end)) || (seqGe(last, rcvNxt) && seqLt(last, end)) || (seqLt(m.seq, rcvNxt) && seqGe(last, end));
    }
    if (!ok) {
      // A zero window still takes valid ACKs and RSTs (§3.10.7.4 note): a
      // segment that covers RCV.NXT (starts at or below it, ends at or past
      // it) carries a usable ACK even if none of its data fits. That is the
      // retransmission of a peer whose later segments all lie past the
      // closed window, as Linux's tcp_sequence takes it; a pure ACK exactly
      // at RCV.NXT is the case of length zero. Its data counts, so it is
      // never a duplicate ACK.
      if ((fl & TCP_FLAG_RST) === 0) {
        this.stats[Stat.OUT_OF_WINDOW]! += 1;
        u[base + W.FLAGS] |= Flag.ACK_NOW;
        // §3.10.7.4 TIME-WAIT: a retransmitted FIN is acknowledged and restarts 2MSL.
        if (st === State.TIME_WAIT && (fl & TCP_FLAG_FIN) !== 0) f[fb + F.T_LINGER] = now + this.config.timeWaitMs;
        if (!(wnd <= 0 && (fl & TCP_FLAG_ACK) !== 0 && seqLe(m.seq, rcvNxt) && seqGe((m.seq + segLen) >>> 0, rcvNxt))) return;
        this.processAck(id, m, segLen, now);
      }
      return;
    }

    // Second, the RST bit (RFC 5961 §3.2).
    if ((fl & TCP_FLAG_RST) !== 0) {
      if (m.seq !== rcvNxt) {
        this.challengeAck(id, now);
        return;
      }
      this.stats[Stat.RST_RECEIVED]! += 1;
      if (st === State.SYN_RECEIVED && (flags & Flag.PASSIVE) !== 0) {
        // Back to LISTEN: the listener never saw this connection.
        this.freeConnection(id);
        return;
      }
      if (st === State.CLOSING || st === State.LAST_ACK || st === State.TIME_WAIT) {
        this.closeConnection(id, false);
        return;
      }
      this.abort(id, st === State.SYN_RECEIVED ? 'ECONNREFUSED' : 'ECONNRESET', 'connection reset by peer');
      return;
    }

    // Fourth, the SYN bit (RFC 5961 §4.2): in a synchronized state, challenge.
    if ((fl & TCP_FLAG_SYN) !== 0) {
      this.challengeAck(id, now);
      return;
    }

    // Fifth, the ACK field.
    if ((fl & TCP_FLAG_ACK) === 0) return;
    if (st === State.SYN_RECEIVED) {
      if (seqGt(m.ack, u[base + W.SND_UNA]!) && seqLe(m.ack, u[base + W.SND_MAX]!)) {
        u[base + W.STATE] = State.ESTABLISHED;
        st = State.ESTABLISHED;
        this.halfOpen--;
        this.stats[Stat.ESTABLISHED]! += 1;
        this.updateWindow(id, m, true);
        this.startKeepalive(id, now);
        this.established(id);
        if (u[base + W.STATE] === State.CLOSED) return;
      } else {
        this.sendControl(id, m.ack, 0, TCP_FLAG_RST, now);
        return;
      }
    }
    if (!this.processAck(id, m, m.payloadLen, now)) return;
    st = u[base + W.STATE]!;
    if (st === State.CLOSED) return;

    // TS.Recent update (RFC 7323 §4.3), once the segment is known acceptable.
    if ((u[base + W.FLAGS]! & Flag.TS_OK) !== 0 && m.tsPresent !== 0 && seqGe(m.tsVal, u[base + W.TS_RECENT]!) && seqLe(m.seq, u[base + W.LAST_ACK_SENT]!)) {
      u[base + W.TS_RECENT] = m.tsVal;
      f[fb + F.TS_RECENT_AGE] = now;
    }

    if (st === State.TIME_WAIT) {
      // Only a retransmitted FIN can arrive: acknowledge it and restart 2MSL.
      if ((fl & TCP_FLAG_FIN) !== 0) {
        u[base + W.FLAGS] |= Flag.ACK_NOW;
        f[fb + F.T_LINGER] = now + this.config.timeWaitMs;
      }
      return;
    }
    // Seventh and eighth: segment text and FIN.
    this.processText(id, b, m, now);
  }

  /**
   * The ACK field in a synchronized state (RFC 9293 §3.10.7.4 fifth step,
   * RFC 5961 §5.2, RFC 5681/6582 loss recovery, RFC 6298 timer). Returns
   * false when the segment must be dropped.
   */
  private processAck(id: number, m: FrameMeta, payloadLen: number, now: number): boolean {
    const u = this.u;
    const f = this.f;
    const base = id * RECORD_WORDS;
    const fb = recordF64(id);
    const c = this.config;
    const una = u[base + W.SND_UNA]!;
    const ack = m.ack;
    const mss = u[base + W.SND_MSS]!;
    // Acknowledges something not yet sent — unless a primary this node took over sent it.
    if (seqGt(ack, u[base + W.SND_MAX]!) && ((u[base + W.FLAGS]! & Flag.PROMOTED) === 0 || !this.catchUpOutput(id, ack, this.catchUpReach(id, m, now)))) {
      this.stats[Stat.BAD_ACK]! += 1;
      u[base + W.FLAGS] |= Flag.ACK_NOW;
      return false;
    }
    const sndMax = u[base + W.SND_MAX]!;
    if (seqLt(ack, (una - Math.max(u[base + W.MAX_SND_WND]!, 1)) >>> 0)) {
      this.challengeAck(id, now);
      return false;
    }
    let flags = u[base + W.FLAGS]!;
    if ((flags & Flag.SACK_OK) !== 0 && m.sackCount > 0) sackUpdate(u, base, m.sackBlocks, m.sackCount, una, sndMax);
    const oldWnd = u[base + W.SND_WND]!;
    if (seqGt(ack, una)) {
      let acked = (ack - una) >>> 0;
      // RTT (RFC 7323 §4.1 with timestamps; Karn's algorithm without).
      if ((flags & Flag.TS_OK) !== 0 && m.tsPresent !== 0 && m.tsEcr !== 0) {
        rttSample(f, id, tsClock(now, u[base + W.TS_OFFSET]!) - m.tsEcr, c.rtoMinMs, c.rtoMaxMs);
      } else if ((flags & Flag.RTX_PENDING) === 0 && f[fb + F.RTT_TIME] !== 0 && seqGt(ack, u[base + W.RTT_SEQ]!)) {
        rttSample(f, id, now - f[fb + F.RTT_TIME]!, c.rtoMinMs, c.rtoMaxMs);
        f[fb + F.RTT_TIME] = 0;
      }
      u[base + W.SND_UNA] = ack;
      if (seqLt(u[base + W.SND_NXT]!, ack)) u[base + W.SND_NXT] = ack;
      // A shadow (or one promoted) whose application has not written yet what
      // the client acknowledges (the primary's frames said it was sent): the
      // buffer starts at the ACK, and those bytes are dropped when written.
      if ((flags & (Flag.SHADOW | Flag.PROMOTED)) !== 0 && (flags & Flag.FIN_QUEUED) === 0 && seqGt(ack, u[base + W.SND_END]!)) this.skipOutputTo(id, ack);
      if (seqLt(u[base + W.RTX_NEXT]!, ack)) u[base + W.RTX_NEXT] = ack;
      sackTrim(u, base, ack);
      u[base + W.RTX_COUNT] = 0;
      flags &= ~Flag.RTX_PENDING;
      u[base + W.DUPACKS] = 0;
      // Our FIN (at SND_END) does not occupy the buffer. It may be acknowledged
      // while a timeout has rewound SND_NXT (FIN_SENT cleared, not yet resent):
      // an ACK of SND_END + 1 (≤ SND_MAX, checked above) acknowledges it all the same.
      const finAcked = (flags & Flag.FIN_QUEUED) !== 0 && ack === ((u[base + W.SND_END]! + 1) >>> 0);
      if (finAcked) {
        acked--;
        flags |= Flag.FIN_SENT;
      }
      if ((flags & Flag.IN_RECOVERY) !== 0) {
        if (seqGe(ack, u[base + W.RECOVER]!)) {
          // RFC 6582 §3.2 step 3: full acknowledgment.
          const flight = (sndMax - ack) | 0;
          u[base + W.CWND] = Math.min(u[base + W.SSTHRESH]!, Math.max(flight, mss) + mss);
          flags &= ~Flag.IN_RECOVERY;
        } else if ((flags & Flag.SACK_OK) === 0) {
          // Step 4: partial acknowledgment — retransmit the next hole, deflate.
          this.retransmitFirst(id, now);
          const cw = u[base + W.CWND]! - acked + mss;
          u[base + W.CWND] = cw > mss ? cw : mss;
        }
      } else {
        ccOnAck(u, f, id, acked, mss, now, this.ccAlgo);
      }
      u[base + W.FLAGS] = flags;
      // RFC 6298 §5.2/5.3: stop the timer when all is acknowledged, else restart.
      f[fb + F.T_RTO] = ack === u[base + W.SND_MAX] ? 0 : now + f[fb + F.RTO]!;
      f[fb + F.PROBE_BACKOFF] = 0;
      const sock = this.sockets[id];
      if (sock !== null && sock !== undefined && (sock.pendingBytes > 0 || sock.needDrain)) this.markDirty(id);
      this.updateWindow(id, m, false);
      if (finAcked) this.ourFinAcked(id, now);
      return true;
    }
    this.updateWindow(id, m, false);
    // RFC 5681 §2 duplicate ACK: no data, no window change, data outstanding.
    if (ack === una && payloadLen === 0 && (m.tcpFlags & (TCP_FLAG_SYN | TCP_FLAG_FIN)) === 0 &&
        u[base + W.SND_WND] === oldWnd && una !== sndMax) {
      this.stats[Stat.DUPACKS_IN]! += 1;
      const d = u[base + W.DUPACKS]! + 1;
      u[base + W.DUPACKS] = d;
      if ((flags & Flag.IN_RECOVERY) !== 0) {
        // RFC 6582 step 5 / RFC 5681 §3.2 step 4: inflate (Reno); SACK recovery counts pipe instead.
        if ((flags & Flag.SACK_OK) === 0) u[base + W.CWND] = u[base + W.CWND]! + mss;
      } else if (d >= DUPACK_THRESHOLD || ((flags & Flag.SACK_OK) !== 0 && u[base + W.SACKED_BYTES]! > DUPACK_THRESHOLD * mss)) {
        // RFC 6582 §3.2 step 2: only when the ACK covers more than recover.
        if (seqGt(ack, u[base + W.RECOVER]!) || una === u[base + W.ISS]! + 1 || u[base + W.RECOVER] === u[base + W.ISS]) {
          this.enterRecovery(id, now);
        }
      }
    }
    return true;
  }

  private enterRecovery(id: number, now: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const mss = u[base + W.SND_MSS]!;
    const flight = (u[base + W.SND_MAX]! - u[base + W.SND_UNA]!) | 0;
    const ssthresh = ccOnCongestion(u, this.f, id, flight, mss, this.ccAlgo);
    u[base + W.RECOVER] = u[base + W.SND_MAX]!;
    u[base + W.FLAGS] |= Flag.IN_RECOVERY;
    // RFC 5681 §3.2 step 3 (Reno inflation); RFC 6675 §5 sets cwnd = ssthresh.
    u[base + W.CWND] = (u[base + W.FLAGS]! & Flag.SACK_OK) !== 0 ? ssthresh : ssthresh + 3 * mss;
    this.stats[Stat.FAST_RETRANSMITS]! += 1;
    u[base + W.RTX_NEXT] = u[base + W.SND_UNA]!;
    this.retransmitFirst(id, now);
  }

  /** Retransmits the segment at SND_UNA (fast retransmit, NewReno partial ACK). */
  private retransmitFirst(id: number, now: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const una = u[base + W.SND_UNA]!;
    const end = u[base + W.SND_END]!;
    let len = Math.min((end - una) | 0, u[base + W.SND_MSS]!);
    let fl = TCP_FLAG_ACK;
    if (len <= 0) {
      len = 0;
      if ((u[base + W.FLAGS]! & Flag.FIN_SENT) === 0) return;
      fl |= TCP_FLAG_FIN;
    }
    this.emit(id, una, len, fl, now);
    this.stats[Stat.RETRANSMITS]! += 1;
    if (seqLt(u[base + W.RTX_NEXT]!, (una + len) >>> 0)) u[base + W.RTX_NEXT] = (una + len) >>> 0;
    this.f[recordF64(id) + F.T_RTO] = now + this.f[recordF64(id) + F.RTO]!;
  }

  /** RFC 9293 §3.10.7.4: SND.WND update when the segment is newer (WL1/WL2). */
  private updateWindow(id: number, m: FrameMeta, force: boolean): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    if (force || seqLt(u[base + W.SND_WL1]!, m.seq) || (u[base + W.SND_WL1] === m.seq && seqLe(u[base + W.SND_WL2]!, m.ack))) {
      // Window fields of SYN segments are never scaled (RFC 7323 §2.2).
      const shift = (m.tcpFlags & TCP_FLAG_SYN) !== 0 ? 0 : u[base + W.SND_SHIFT]!;
      const wnd = m.window * pow2(shift);
      const was = u[base + W.SND_WND]!;
      u[base + W.SND_WND] = wnd;
      u[base + W.SND_WL1] = m.seq;
      u[base + W.SND_WL2] = m.ack;
      if (wnd > u[base + W.MAX_SND_WND]!) u[base + W.MAX_SND_WND] = wnd;
      if (was === 0 && wnd > 0) {
        // The zero window opened: stop probing, send at once.
        u[base + W.FLAGS] &= ~Flag.PERSIST;
        this.f[recordF64(id) + F.T_PERSIST] = 0;
      }
    }
  }

  private ourFinAcked(id: number, now: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    switch (u[base + W.STATE]) {
      case State.FIN_WAIT_1:
        u[base + W.STATE] = State.FIN_WAIT_2;
        // Not in the RFC but in every stack: a FIN-WAIT-2 whose peer never closes is reaped.
        if ((u[base + W.FLAGS]! & Flag.FIN_RCVD) === 0) this.f[recordF64(id) + F.T_LINGER] = now + this.config.finWait2Ms;
        break;
      case State.CLOSING:
        this.enterTimeWait(id, now);
        break;
      case State.LAST_ACK:
        if ((u[base + W.FLAGS]! & Flag.SHADOW) !== 0) {
          // Closed, or TIME-WAIT while the primary withholds the ACK of the client's FIN.
          this.enterTimeWait(id, now);
          break;
        }
        if (seqLt(u[base + W.LAST_ACK_SENT]!, u[base + W.RCV_NXT]!)) {
          if (this.withholds(id) && seqLt(this.confirmed(id), u[base + W.RCV_NXT]!)) {
            // The ACK of the client's FIN still waits for the backup: the client
            // (CLOSING) sends its FIN again until it comes, and a freed record
            // would answer that with RST. TIME-WAIT answers it, and sends the
            // ACK when the backup confirms (or goes away).
            this.enterTimeWait(id, now);
            break;
          }
          // Confirmed since our FIN went (in this very pass), not sent yet: sent now, before the record goes.
          this.sendControl(id, u[base + W.SND_NXT]!, u[base + W.RCV_NXT]!, TCP_FLAG_ACK, now);
        }
        if (this.listeners[u[base + W.SERVICE]!]?.snoop === true) {
          // A service with shadows: the record lingers in a short TIME-WAIT
          // (a few of the client's retransmission intervals, not 2MSL: the
          // client keeps the real one). Three reasons the client may send its
          // FIN again, which a freed record would answer with RST: our FIN
          // left before the ACK of the client's (withheld for the backup),
          // and that ACK, sent apart, was lost; or this record was promoted
          // and its primary had closed first (a passive close here, while
          // the client is in LAST-ACK). And a backup whose shadow missed the
          // client's FIN (the home node served before it knew of that backup,
          // at a failback, and withheld nothing) asks for the record: this
          // TIME-WAIT goes as a copy and ends the shadow, which would
          // otherwise be reset at the next takeover.
          this.enterTimeWait(id, now, Math.min(this.config.timeWaitMs, Math.max(FIN_ACK_LINGER_MIN_MS, 4 * this.f[recordF64(id) + F.RTO]!)));
          break;
        }
        this.closeConnection(id, false);
        break;
      default:
        break;
    }
  }

  /** Seventh (segment text) and eighth (FIN) steps. */
  private processText(id: number, b: Uint8Array, m: FrameMeta, now: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const st = u[base + W.STATE]!;
    const fl = m.tcpFlags;
    if (st !== State.ESTABLISHED && st !== State.FIN_WAIT_1 && st !== State.FIN_WAIT_2) {
      // CLOSE-WAIT, CLOSING, LAST-ACK: the peer already sent FIN; ignore text.
      if ((fl & TCP_FLAG_FIN) !== 0 || m.payloadLen > 0) u[base + W.FLAGS] |= Flag.ACK_NOW;
      return;
    }
    let seq = m.seq;
    let len = m.payloadLen;
    let off = m.payloadOff;
    if ((fl & TCP_FLAG_SYN) !== 0) seq = (seq + 1) >>> 0;
    let finSeq = -1;
    if ((fl & TCP_FLAG_FIN) !== 0) finSeq = (seq + len) >>> 0;
    if (len > 0) {
      const rcvNxt = u[base + W.RCV_NXT]!;
      // Trim what we already have.
      if (seqLt(seq, rcvNxt)) {
        const skip = (rcvNxt - seq) | 0;
        if (skip >= len) {
          len = 0;
        } else {
          seq = rcvNxt;
          off += skip;
          len -= skip;
        }
        u[base + W.FLAGS] |= Flag.ACK_NOW;
      }
      // Trim what does not fit the buffer (beyond the window).
      const edge = this.receiveWindowEdge(id);
      if (len > 0 && seqGt((seq + len) >>> 0, edge)) {
        const fit = (edge - seq) | 0;
        len = fit > 0 ? fit : 0;
        finSeq = -1;
      }
      if (len > 0) this.receiveBytes(id, b, off, seq, len, now);
      this.stats[Stat.BYTES_IN]! += len;
    }
    if (finSeq >= 0) {
      if (finSeq === u[base + W.RCV_NXT]) this.finArrived(id, now);
      else if (seqGt(finSeq, u[base + W.RCV_NXT]!)) {
        u[base + W.FLAGS] |= Flag.FIN_PENDING;
        u[base + W.FIN_SEQ] = finSeq;
      }
    }
  }

  /** Copies [seq, seq+len) of the segment into the receive ring and moves RCV_NXT. */
  private receiveBytes(id: number, b: Uint8Array, off: number, seq: number, len: number, now: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const ring = this.rcv[id]!;
    const i = seq & (ring.length - 1);
    const first = Math.min(len, ring.length - i);
    // Out of the arena (shared memory): net/copy.ts.
    copyBytes(ring, i, b, off, first);
    if (first < len) copyBytes(ring, 0, b, off + first, len - first);
    const rcvNxt = u[base + W.RCV_NXT]!;
    if (seq === rcvNxt) {
      const had = u[base + W.OOO_COUNT]!;
      const nxt = oooAdvance(u, base, (seq + len) >>> 0);
      u[base + W.RCV_NXT] = nxt;
      // RFC 5681 §4.2: ACK at once when a segment fills (part of) a gap.
      if (had > 0) u[base + W.FLAGS] |= Flag.ACK_NOW;
      if ((u[base + W.FLAGS]! & Flag.FIN_PENDING) !== 0 && u[base + W.FIN_SEQ] === nxt) this.finArrived(id, now);
    } else {
      this.stats[Stat.OOO_SEGMENTS]! += 1;
      if (!oooInsert(u, base, seq, (seq + len) >>> 0)) this.stats[Stat.OOO_DROPS]! += 1;
      // RFC 5681 §4.2: an out-of-order segment is acknowledged at once (a duplicate ACK, with SACK).
      u[base + W.FLAGS] |= Flag.ACK_NOW;
    }
  }

  /** The peer's FIN is in order: RFC 9293 §3.10.7.4 eighth step. */
  private finArrived(id: number, now: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    u[base + W.RCV_NXT] = (u[base + W.RCV_NXT]! + 1) >>> 0;
    u[base + W.FLAGS] = (u[base + W.FLAGS]! | Flag.FIN_RCVD | Flag.ACK_NOW) & ~Flag.FIN_PENDING;
    switch (u[base + W.STATE]) {
      case State.SYN_RECEIVED:
      case State.ESTABLISHED:
        u[base + W.STATE] = State.CLOSE_WAIT;
        break;
      case State.FIN_WAIT_1:
        // Our FIN not yet acknowledged (else we would be in FIN-WAIT-2): simultaneous close.
        u[base + W.STATE] = State.CLOSING;
        break;
      case State.FIN_WAIT_2:
        this.enterTimeWait(id, now);
        break;
      default:
        break;
    }
  }

  /** Right edge of what we can accept: the receive buffer's end (never left of what we advertised). */
  private receiveWindowEdge(id: number): number {
    const base = id * RECORD_WORDS;
    return seqMax((this.u[base + W.RCV_READ]! + this.u[base + W.RCV_BUF_BYTES]!) >>> 0, this.u[base + W.RCV_ADV]!);
  }

  private challengeAck(id: number, now: number): void {
    // RFC 5961 §7: a stack-wide limit on challenge ACKs per second.
    if (now - this.challengeWindowStart >= 1000) {
      this.challengeWindowStart = now;
      this.challengeCount = 0;
    }
    if (this.challengeCount >= this.config.challengeAckLimit) return;
    this.challengeCount++;
    this.stats[Stat.CHALLENGE_ACKS]! += 1;
    const base = id * RECORD_WORDS;
    this.sendControl(id, this.u[base + W.SND_NXT]!, this.u[base + W.RCV_NXT]!, TCP_FLAG_ACK, now);
  }

  // ---------------------------------------------------------------- connection lifecycle

  /** The connection reached ESTABLISHED: give it to its application. */
  private established(id: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const svc = u[base + W.SERVICE]!;
    const listener = this.listeners[svc];
    if (listener === undefined || (u[base + W.FLAGS]! & Flag.PASSIVE) === 0) return;
    const sock = this.attachSocket(id);
    try {
      listener.app.accept(sock);
    } catch {
      this.appError(id);
    }
  }

  private attachSocket(id: number): TcpSocket {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const sock = new TcpSocket(this, id, u[base + W.LOCAL_IP]!, u[base + W.LOCAL_PORT]!, u[base + W.REMOTE_IP]!, u[base + W.REMOTE_PORT]!, this.table.appState(id));
    this.sockets[id] = sock;
    return sock;
  }

  private appError(id: number): void {
    this.stats[Stat.APP_ERRORS]! += 1;
    if (this.u[id * RECORD_WORDS + W.STATE] !== State.CLOSED) {
      this.sendReset(id, this.now);
      this.abort(id, 'ECONNABORTED', 'application handler threw');
    }
  }

  private startKeepalive(id: number, now: number): void {
    if (this.config.keepaliveIdleMs > 0) this.f[recordF64(id) + F.T_KEEPALIVE] = now + this.config.keepaliveIdleMs;
  }

  private enterTimeWait(id: number, now: number, lingerMs = this.config.timeWaitMs): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const fb = recordF64(id);
    if ((u[base + W.FLAGS]! & Flag.SHADOW) !== 0 && !seqLt(u[base + W.LAST_ACK_SENT]!, u[base + W.RCV_NXT]!)) {
      // Both sides closed, and the primary acknowledged the client's FIN: nothing left to take over.
      this.closeConnection(id, false);
      return;
    }
    // A shadow too, while the primary has not been seen to acknowledge the
    // client's FIN (it withholds that ACK for this node's HAVE): a primary
    // that dies now leaves a client in CLOSING or LAST-ACK sending its FIN
    // until someone acknowledges it — promoted, this TIME-WAIT does. It goes
    // when the primary's ACK of the FIN passes (shadowFromServer), or at its end.
    u[base + W.STATE] = State.TIME_WAIT;
    this.f[fb + F.T_RTO] = 0;
    this.f[fb + F.T_PERSIST] = 0;
    this.f[fb + F.T_KEEPALIVE] = 0;
    this.f[fb + F.T_LINGER] = now + lingerMs;
    this.detachSocket(id, false, null);
    this.releaseBuffers(id);
    // Output held by reference is all acknowledged: its files close now (a
    // TIME-WAIT shadow promoted later has nothing to read them for, and no
    // ring to read them into).
    this.lazy[id]?.close();
    const fifo = this.timeWaitFifo;
    if (this.twCount === fifo.length) {
      this.twHead = (this.twHead + 1) % fifo.length;
      this.twCount--;
    }
    fifo[(this.twHead + this.twCount) % fifo.length] = id;
    this.twCount++;
  }

  /** Frees the oldest record still in TIME-WAIT; false when there is none. */
  private evictTimeWait(): boolean {
    const fifo = this.timeWaitFifo;
    while (this.twCount > 0) {
      const id = fifo[this.twHead]!;
      this.twHead = (this.twHead + 1) % fifo.length;
      this.twCount--;
      if (this.u[id * RECORD_WORDS + W.STATE] === State.TIME_WAIT) {
        this.stats[Stat.TIME_WAIT_EVICTED]! += 1;
        this.freeConnection(id);
        return true;
      }
    }
    return false;
  }

  /** Aborts with an error for the application (reset received, timeout, refused). */
  private abort(id: number, code: string, message: string): void {
    this.stats[Stat.RESETS]! += 1;
    this.trace?.(`abort ${code}`, id);
    this.detachSocket(id, true, { code, message });
    this.freeConnection(id);
  }

  /** A normal end: both sides closed (or TIME-WAIT ended). */
  private closeConnection(id: number, hadError: boolean): void {
    if (this.trace !== null && this.withholds(id) && seqLt(this.u[id * RECORD_WORDS + W.LAST_ACK_SENT]!, this.u[id * RECORD_WORDS + W.RCV_NXT]!)) this.trace('close-withheld', id);
    this.detachSocket(id, hadError, null);
    this.freeConnection(id);
  }

  private detachSocket(id: number, hadError: boolean, err: { code: string; message: string } | null): void {
    const sock = this.sockets[id];
    if (sock === null || sock === undefined) return;
    this.sockets[id] = null;
    sock.id = -1;
    sock.pending.length = 0;
    sock.pendingBytes = 0;
    try {
      if (err !== null && sock.onError !== null) sock.onError(err);
      if (sock.onClose !== null) sock.onClose(hadError);
    } catch {
      this.stats[Stat.APP_ERRORS]! += 1;
    }
  }

  private releaseBuffers(id: number): void {
    const s = this.snd[id];
    if (s !== null && s !== undefined) {
      // Only rings of the configured size are kept for reuse; a grown or imported larger one goes back to the budget.
      if (s.length === this.config.sendBuffer) this.freeSnd.push(s);
      else if (s.length > this.config.sendBuffer) this.grownBytes -= s.length - this.config.sendBuffer;
    }
    const r = this.rcv[id];
    if (r !== null && r !== undefined) this.freeRcv.push(r);
    this.snd[id] = null;
    this.rcv[id] = null;
  }

  /** Forgets record `id` entirely. */
  private freeConnection(id: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    if (u[base + W.STATE] === State.SYN_RECEIVED) this.halfOpen--;
    if (u[base + W.STATE]! >= State.ESTABLISHED && this.listeners[u[base + W.SERVICE]!]?.snoop === true) {
      this.tomb(u[base + W.LOCAL_IP]!, u[base + W.LOCAL_PORT]!, u[base + W.REMOTE_IP]!, u[base + W.REMOTE_PORT]!, u[base + W.IRS]!, u[base + W.RCV_NXT]!);
    }
    if ((this.haveFlags[id]! & 4) !== 0 && (u[base + W.FLAGS]! & Flag.SHADOW) !== 0 && this.shadowPhase[id] === 2) {
      this.confirmClosed(u[base + W.LOCAL_IP]!, u[base + W.LOCAL_PORT]!, u[base + W.REMOTE_IP]!, u[base + W.REMOTE_PORT]!, u[base + W.RCV_NXT]!);
    }
    if (this.sockets[id] !== null) this.detachSocket(id, false, null);
    const li = u[base + W.LOCAL_IP]!;
    const ri = u[base + W.REMOTE_IP]!;
    const lp = u[base + W.LOCAL_PORT]!;
    const rp = u[base + W.REMOTE_PORT]!;
    this.flows.remove(flowHash(ri, li, rp, lp, IP_PROTO_TCP), ri, li, rp, lp, IP_PROTO_TCP);
    this.wheel.cancel(id);
    this.releaseBuffers(id);
    u[base + W.STATE] = State.CLOSED;
    this.isDirty[id] = 0;
    this.shadowPhase[id] = 0;
    this.shadowSkip[id] = 0;
    this.skipAdded[id] = 0;
    this.tsSeen[id] = 0;
    this.exportedAtMs[id] = 0;
    this.movedInAt[id] = 0;
    this.exportedBy[id] = 0;
    this.shadowRepairAt[id] = 0;
    this.haveFlags[id] = 0;
    this.lazy[id]?.close();
    this.stats[Stat.CLOSED]! += 1;
  }

  // ---------------------------------------------------------------- application side

  private markDirty(id: number): void {
    if (this.isDirty[id] !== 0) return;
    this.isDirty[id] = 1;
    if (this.dirtyCount < this.dirty.length) this.dirty[this.dirtyCount++] = id;
  }

  /**
   * After a burst: deliver received data to applications, move queued
   * writes into send buffers, send everything that is due. Returns the number
   * of connections serviced.
   */
  flush(now: number): number {
    this.now = now;
    this.stats[Stat.CONNECTIONS] = this.flows.size;
    if (now - this.censusAt >= 100) this.stateCensus(now);
    let done = 0;
    // Handlers may dirty more connections (their own, after write()); a bounded number of rounds.
    for (let round = 0; round < 4 && this.dirtyCount > 0; round++) {
      const n = this.dirtyCount;
      this.dirtyCount = 0;
      for (let i = 0; i < n; i++) {
        const id = this.dirty[i]!;
        if (this.isDirty[id] === 0) continue;
        this.isDirty[id] = 0;
        this.service(id, now);
        done++;
      }
    }
    return done;
  }

  private censusAt = -Infinity;

  /** Per-state gauges for status and metrics: one pass over the records' state words. */
  private stateCensus(now: number): void {
    this.censusAt = now;
    const st = this.stats;
    for (let k = Stat.IN_SYN_SENT; k <= Stat.IN_TIME_WAIT; k++) st[k] = 0;
    st[Stat.IN_SHADOW] = 0;
    st[Stat.IN_SHADOW_EXACT] = 0;
    if (this.flows.size === 0) return;
    const u = this.u;
    // Only ids the flow table has handed out (not the whole table: a server
    // sized for 64 k connections scanned it ten times a second).
    const limit = this.flows.idLimit;
    for (let id = 0; id < limit; id++) {
      const s = u[id * RECORD_WORDS + W.STATE]!;
      if (s < State.SYN_SENT) continue;
      if ((u[id * RECORD_WORDS + W.FLAGS]! & Flag.SHADOW) !== 0) {
        st[Stat.IN_SHADOW]! += 1;
        if (this.shadowExact(id)) st[Stat.IN_SHADOW_EXACT]! += 1;
      } else st[Stat.IN_SYN_SENT + s - State.SYN_SENT]! += 1;
    }
  }

  private service(id: number, now: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    if (u[base + W.STATE] === State.CLOSED) return;
    const sock = this.sockets[id];
    if (sock !== null && sock !== undefined) {
      this.movePending(id, sock);
      this.deliver(id, sock);
      if (u[base + W.STATE] === State.CLOSED) return;
    }
    // A shadow's output is suppressed (its bytes stay in the send buffer until the client acknowledges them).
    if ((u[base + W.FLAGS]! & Flag.SHADOW) !== 0) {
      // Its one timer: the end of a TIME-WAIT (enterTimeWait).
      if (u[base + W.STATE] === State.TIME_WAIT) this.rearm(id);
      return;
    }
    this.output(id, now);
    this.rearm(id);
  }

  /** Hands in-order received bytes to the application (RCV_READ → RCV_NXT). */
  private deliver(id: number, sock: TcpSocket): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const flags = u[base + W.FLAGS]!;
    if ((flags & Flag.PAUSED) !== 0) return;
    const ring = this.rcv[id];
    if (ring === null || ring === undefined) return;
    const cap = ring.length;
    const end = (flags & Flag.FIN_RCVD) !== 0 ? (u[base + W.RCV_NXT]! - 1) >>> 0 : u[base + W.RCV_NXT]!;
    let read = u[base + W.RCV_READ]!;
    // A shadow's application takes every in-order client byte, as the
    // primary's does the moment it receives it (the primary acknowledges them
    // later: withheld ACK). Both applications see the same byte stream, so
    // their output lines up byte for byte and is compared as it goes; a byte
    // the primary never received is one the client sent and the shadow
    // answers after a takeover.
    let consumed = false;
    while (read !== end) {
      const i = read & (cap - 1);
      const n = Math.min((end - read) | 0, cap - i);
      if (sock.onData !== null) {
        try {
          sock.onData(ring.subarray(i, i + n));
        } catch {
          this.appError(id);
          return;
        }
        if (sock.id < 0) return;
        if ((u[base + W.FLAGS]! & Flag.PAUSED) !== 0) break;
      }
      read = (read + n) >>> 0;
      u[base + W.RCV_READ] = read;
      consumed = true;
    }
    if (consumed) {
      // Receiver-side SWS avoidance (RFC 9293 §3.8.6.2.2): announce the
      // reopened window once it grew by min(buffer/2, MSS).
      const edge = (read + cap) >>> 0;
      const grown = (edge - u[base + W.RCV_ADV]!) | 0;
      if (grown >= Math.min(cap >>> 1, u[base + W.RCV_MSS]!) && (u[base + W.RCV_ADV]! - u[base + W.RCV_NXT]!) >>> 0 < (cap >>> 1)) {
        u[base + W.FLAGS] |= Flag.WINDOW_UPDATE;
      }
    }
    const fl2 = u[base + W.FLAGS]!;
    if ((fl2 & Flag.FIN_RCVD) !== 0 && read === end && (fl2 & Flag.END_DELIVERED) === 0 && (fl2 & Flag.PAUSED) === 0) {
      u[base + W.FLAGS] = fl2 | Flag.END_DELIVERED;
      if (sock.onEnd !== null) {
        try {
          sock.onEnd();
        } catch {
          this.appError(id);
        }
      }
    }
  }

  /** Moves bytes queued by write() into the send buffer; 'drain' when all fit. */
  private movePending(id: number, sock: TcpSocket): void {
    if (sock.pendingBytes > 0) {
      while (sock.pending.length > 0) {
        const head = sock.pending[0]!;
        const n = this.copyToSendBuffer(id, head);
        sock.pendingBytes -= n;
        if (n < head.length) {
          sock.pending[0] = head.subarray(n);
          return;
        }
        sock.pending.shift();
      }
      if (sock.ending) this.queueFin(id);
    }
    if (sock.needDrain && this.sendSpace(id) > 0) {
      sock.needDrain = false;
      if (sock.onDrain !== null) {
        try {
          sock.onDrain();
        } catch {
          this.appError(id);
        }
      }
    }
  }

  /**
   * Doubles connection `id`'s send ring (TcpConfig.sendBufferMax) when the
   * peer's window and the congestion window both reach past twice what it
   * holds, within the stack's budget: the bytes written and not yet
   * acknowledged move to the same sequence positions in the larger ring.
   */
  private growSendBuffer(id: number): boolean {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const cur = u[base + W.SND_BUF_BYTES]!;
    const c = this.config;
    if (cur >= c.sendBufferMax || u[base + W.SND_WND]! < 2 * cur || u[base + W.CWND]! < cur) return false;
    const old = this.snd[id];
    if (old === null || old === undefined) return false;
    const next = cur * 2;
    const more = next > old.length ? next - Math.max(old.length, c.sendBuffer) : 0;
    if (this.grownBytes + more > c.sendBufferBudget) return false;
    if (next > old.length) {
      const ring = Buffer.alloc(next);
      const una = u[base + W.SND_UNA]!;
      const held = (u[base + W.SND_END]! - una) | 0;
      const om = old.length - 1;
      const nm = next - 1;
      // [SND_UNA, SND_END) in at most three pieces (where either ring wraps).
      for (let done = 0; done < held;) {
        const seq = (una + done) >>> 0;
        const i = seq & om;
        const j = seq & nm;
        const n = Math.min(held - done, old.length - i, next - j);
        ring.set(old.subarray(i, i + n), j);
        done += n;
      }
      this.snd[id] = ring;
      this.grownBytes += more;
    }
    u[base + W.SND_BUF_BYTES] = next;
    this.stats[Stat.SEND_BUFFER_GROWN]! += 1;
    return true;
  }

  private sendSpace(id: number): number {
    const base = id * RECORD_WORDS;
    const u = this.u;
    return u[base + W.SND_BUF_BYTES]! - ((u[base + W.SND_END]! - u[base + W.SND_UNA]!) | 0);
  }

  private copyToSendBuffer(id: number, data: Uint8Array): number {
    const skip = this.shadowSkip[id]!;
    if (skip > 0) {
      // A shadow whose client acknowledged output before this application
      // produced it: those bytes are delivered already, drop them.
      const k = Math.min(skip, data.length);
      this.shadowSkip[id] = skip - k;
      return k === data.length ? k : k + this.copyToSendBuffer(id, data.subarray(k));
    }
    const u = this.u;
    const base = id * RECORD_WORDS;
    const ring = this.snd[id]!;
    const n = Math.min(data.length, this.sendSpace(id));
    if (n <= 0) return 0;
    const end = u[base + W.SND_END]!;
    const i = end & (ring.length - 1);
    const first = Math.min(n, ring.length - i);
    ring.set(data.subarray(0, first), i);
    if (first < n) ring.set(data.subarray(first, n), 0);
    u[base + W.SND_END] = (end + n) >>> 0;
    return n;
  }

  socketWrite(s: TcpSocket, data: Uint8Array): boolean {
    const id = s.id;
    if (id < 0 || s.ending || data.length === 0) return id >= 0 && !s.ending;
    const st = this.u[id * RECORD_WORDS + W.STATE]!;
    if (st !== State.ESTABLISHED && st !== State.CLOSE_WAIT) return false;
    let n = 0;
    if (s.pendingBytes === 0) {
      n = this.copyToSendBuffer(id, data);
      // Full: a buffer the path could use more of grows, and takes more now.
      while (n < data.length && this.growSendBuffer(id)) n += this.copyToSendBuffer(id, data.subarray(n));
    }
    if (n < data.length) {
      // Beyond the send buffer: keep a copy (the caller's bytes may be a view that is reused: a chunk of the
      // receive ring, whose space new client bytes take once it is consumed). A copy for sure: on a Buffer, as
      // every chunk handed to an application is, slice() is a view.
      s.pending.push(new Uint8Array(data.subarray(n)));
      s.pendingBytes += data.length - n;
      s.needDrain = true;
    } else if (this.sendSpace(id) <= 0 && !this.growSendBuffer(id)) {
      // Full to the byte (an application that writes what writableRoom says): wait for 'drain' (writableRoom is 0 until then).
      s.needDrain = true;
    }
    this.markDirty(id);
    return !s.needDrain;
  }

  socketEnd(s: TcpSocket): void {
    const id = s.id;
    if (id < 0 || s.ending) return;
    s.ending = true;
    if (s.pendingBytes === 0) this.queueFin(id);
    this.markDirty(id);
  }

  /** RFC 9293 §3.10.4 CLOSE: queue a FIN after the buffered bytes. */
  private queueFin(id: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    if ((u[base + W.FLAGS]! & Flag.FIN_QUEUED) !== 0) return;
    u[base + W.FLAGS] |= Flag.FIN_QUEUED;
    const st = u[base + W.STATE]!;
    if (st === State.ESTABLISHED || st === State.SYN_RECEIVED) u[base + W.STATE] = State.FIN_WAIT_1;
    else if (st === State.CLOSE_WAIT) u[base + W.STATE] = State.LAST_ACK;
    if (this.shadowSkip[id] === 1) {
      // The application wrote all it will and one skipped sequence number is
      // left: the previous holder's FIN, which the client acknowledged before
      // this application ended (skipOutputTo took it for an output byte). Ours
      // is that FIN: sent already, and acknowledged if SND_UNA is past it.
      // Placed one further, it would wait for an ACK the client never sends.
      this.shadowSkip[id] = 0;
      const end = (u[base + W.SND_END]! - 1) >>> 0;
      u[base + W.SND_END] = end;
      u[base + W.FLAGS] |= Flag.FIN_SENT;
      if (seqGt(u[base + W.SND_UNA]!, end)) this.ourFinAcked(id, this.now);
    }
  }

  socketDestroy(s: TcpSocket): void {
    const id = s.id;
    if (id < 0) return;
    // RFC 9293 §3.10.5 ABORT: send RST, forget the connection.
    this.sendReset(id, this.now);
    this.detachSocket(id, false, null);
    this.freeConnection(id);
  }

  socketPause(s: TcpSocket, paused: boolean): void {
    const id = s.id;
    if (id < 0) return;
    const base = id * RECORD_WORDS;
    if (paused) this.u[base + W.FLAGS] |= Flag.PAUSED;
    else {
      this.u[base + W.FLAGS] &= ~Flag.PAUSED;
      this.markDirty(id);
    }
  }

  socketWritableRoom(s: TcpSocket): number {
    if (s.pendingBytes > 0) return 0;
    const st = this.u[s.id * RECORD_WORDS + W.STATE]!;
    if (st !== State.ESTABLISHED && st !== State.CLOSE_WAIT) return 0;
    const room = this.sendSpace(s.id);
    return room > 0 ? room : 0;
  }

  /**
   * AppSocket.writeFile: a shadow keeps file output as a reference
   * (lazy-output.ts): SND_END moves as if the bytes were written, and they
   * are read only for a sampled compare, a takeover or an export. Anything
   * else (a live connection, queued bytes, a file that cannot be
   * referenced) returns 0: the application writes the bytes itself.
   */
  socketWriteFile(s: TcpSocket, fd: number, position: number, length: number): number {
    const id = s.id;
    if (id < 0 || s.ending || s.pendingBytes > 0 || length <= 0) return 0;
    const u = this.u;
    const base = id * RECORD_WORDS;
    if ((u[base + W.FLAGS]! & Flag.SHADOW) === 0) return 0;
    const st = u[base + W.STATE]!;
    if (st !== State.ESTABLISHED && st !== State.CLOSE_WAIT) return 0;
    let taken = 0;
    const skip = this.shadowSkip[id]!;
    if (skip > 0) {
      // Output the client acknowledged before this application made it: dropped (as copyToSendBuffer does).
      taken = Math.min(skip, length);
      this.shadowSkip[id] = skip - taken;
      if (taken === length) return taken;
    }
    const n = Math.min(length - taken, this.sendSpace(id));
    if (n <= 0) return taken;
    const lazy = this.lazy[id] ??= new LazyOutput();
    lazy.prune(u[base + W.SND_UNA]!);
    const end = u[base + W.SND_END]!;
    if (!lazy.add(end, n, fd, position + taken)) return taken;
    u[base + W.SND_END] = (end + n) >>> 0;
    if (this.sendSpace(id) <= 0) s.needDrain = true;
    this.markDirty(id);
    return taken + n;
  }

  /** Reads a shadow's referenced output [SND_UNA, SND_END) into its send buffer; false (and not exact) when a file changed. */
  private materializeLazy(id: number): void {
    const lazy = this.lazy[id];
    if (lazy === null || lazy === undefined || lazy.empty) return;
    const u = this.u;
    const base = id * RECORD_WORDS;
    const una = u[base + W.SND_UNA]!;
    const ring = this.snd[id];
    const ok = ring !== null && ring !== undefined && lazy.materialize(una, (u[base + W.SND_END]! - una) | 0, ring);
    if (!ok && (u[base + W.FLAGS]! & Flag.DIVERGED) === 0) {
      // The file changed under the reference: these bytes may not be the primary's.
      this.stats[Stat.SHADOW_DIVERGED]! += 1;
      u[base + W.FLAGS] |= Flag.DIVERGED;
    }
  }

  socketWritableLength(s: TcpSocket): number {
    const base = s.id * RECORD_WORDS;
    return ((this.u[base + W.SND_END]! - this.u[base + W.SND_UNA]!) | 0) + s.pendingBytes;
  }

  /** The socket of connection `id` (tests, importers). */
  socketOf(id: number): TcpSocket | null {
    return this.sockets[id] ?? null;
  }

  // ---------------------------------------------------------------- active open

  /**
   * Opens a connection (RFC 9293 §3.10.1 OPEN, active). `remoteMac` is the
   * next hop's MAC. The returned socket's 'connect' is its first 'drain'… —
   * callers watch `state(id)` or write once ESTABLISHED.
   */
  connect(localIp: number, localPort: number, remoteIp: number, remotePort: number, remoteMac: Uint8Array, poller: number, now: number): TcpSocket | null {
    this.now = now;
    const h = flowHash(remoteIp, localIp, remotePort, localPort, IP_PROTO_TCP);
    const id = this.flows.lookupOrInsert(h, remoteIp, localIp, remotePort, localPort, IP_PROTO_TCP);
    if (id < 0 || this.u[id * RECORD_WORDS + W.STATE] !== State.CLOSED) return null;
    this.initRecord(id, localIp >>> 0, localPort, remoteIp >>> 0, remotePort, macHi(this.localMac, 0), macLo(this.localMac, 0),
      macHi(remoteMac, 0), macLo(remoteMac, 0), poller, 0xffffffff, now);
    const u = this.u;
    const base = id * RECORD_WORDS;
    const fb = recordF64(id);
    this.setIss(id, this.secrets.isn(localIp, localPort, remoteIp, remotePort, now));
    u[base + W.STATE] = State.SYN_SENT;
    u[base + W.TS_OFFSET] = this.secrets.tsOffset(localIp, localPort, remoteIp, remotePort);
    u[base + W.RCV_SHIFT] = this.ourWindowShift();
    this.stats[Stat.ACTIVE_OPENS]! += 1;
    const sock = this.attachSocket(id);
    this.sendSyn(id, now);
    this.f[fb + F.T_RTO] = now + this.config.rtoInitialMs;
    this.rearm(id);
    return sock;
  }

  // ---------------------------------------------------------------- output

  /**
   * Sends what connection `id` may send now: retransmissions in recovery,
   * new data within min(SND.WND, cwnd), a FIN, and the ACK or window update
   * that is due (delayed ACK otherwise).
   */
  output(id: number, now: number): void {
    const u = this.u;
    const f = this.f;
    const base = id * RECORD_WORDS;
    const fb = recordF64(id);
    const st = u[base + W.STATE]!;
    if (st === State.CLOSED || st === State.LISTEN) return;
    if (st === State.SYN_SENT || st === State.SYN_RECEIVED) {
      if ((u[base + W.FLAGS]! & Flag.ACK_NOW) !== 0) {
        u[base + W.FLAGS] &= ~Flag.ACK_NOW;
        if (st === State.SYN_RECEIVED) this.sendControl(id, u[base + W.SND_NXT]!, u[base + W.RCV_NXT]!, TCP_FLAG_ACK, now);
      }
      return;
    }
    let sent = false;
    if (st !== State.TIME_WAIT && this.snd[id] !== null) {
      const flags = u[base + W.FLAGS]!;
      const mss = u[base + W.SND_MSS]!;
      if ((flags & Flag.IN_RECOVERY) !== 0 && (flags & Flag.SACK_OK) !== 0) sent = this.sendSackRecovery(id, now);
      for (let guard = 0; guard < 1024; guard++) {
        let nxt = u[base + W.SND_NXT]!;
        const sndMax = u[base + W.SND_MAX]!;
        if ((flags & Flag.SACK_OK) !== 0 && seqLt(nxt, sndMax)) {
          // Go-back-N after a timeout skips what the peer SACKed.
          const skip = sackSkip(u, base, nxt);
          if (skip !== nxt) {
            nxt = seqLt(skip, sndMax) ? skip : sndMax;
            u[base + W.SND_NXT] = nxt;
          }
        }
        const end = u[base + W.SND_END]!;
        const avail = (end - nxt) | 0;
        const una = u[base + W.SND_UNA]!;
        const cwnd = u[base + W.CWND]!;
        const swnd = u[base + W.SND_WND]!;
        const inRecovery = (u[base + W.FLAGS]! & Flag.IN_RECOVERY) !== 0;
        // In SACK recovery new data goes out from sendSackRecovery only.
        if (inRecovery && (flags & Flag.SACK_OK) !== 0 && !seqLt(nxt, sndMax)) break;
        const wnd = Math.min(swnd, cwnd);
        const usable = (una + wnd - nxt) | 0;
        let len = avail < mss ? avail : mss;
        if (len > usable) len = usable;
        if (len < 0) len = 0;
        if (len === mss && this.largePayload > 0 && avail > mss && usable > mss) len = this.largeLength(avail, usable, mss);
        const finOk = (u[base + W.FLAGS]! & Flag.FIN_QUEUED) !== 0 && ((nxt + len) >>> 0) === end &&
          (st === State.FIN_WAIT_1 || st === State.CLOSING || st === State.LAST_ACK);
        if (len === 0 && !(finOk && avail === 0)) break;
        // Sender SWS avoidance (RFC 9293 §3.8.6.2.1), without Nagle: a short
        // segment goes only if it empties the buffer or the window is large,
        // or when the override timer (the persist timer, below) fired.
        if (len > 0 && len < mss && len < avail && len < (u[base + W.MAX_SND_WND]! >>> 1) && id !== this.swsOverride) break;
        this.swsOverride = -1;
        let fl = TCP_FLAG_ACK;
        if (len > 0 && ((nxt + len) >>> 0) === end) fl |= TCP_FLAG_PSH;
        if (finOk) fl |= TCP_FLAG_FIN;
        const isNew = !seqLt(nxt, sndMax);
        if (!this.emit(id, nxt, len, fl, now)) {
          // No slot: try again shortly (the timer finds nothing outstanding and just calls output).
          if (f[fb + F.T_RTO] === 0) f[fb + F.T_RTO] = now + NO_SLOT_RETRY_MS;
          break;
        }
        sent = true;
        if (!isNew) {
          this.stats[Stat.RETRANSMITS]! += 1;
        } else if ((flags & Flag.TS_OK) === 0 && f[fb + F.RTT_TIME] === 0 && len > 0) {
          u[base + W.RTT_SEQ] = nxt;
          f[fb + F.RTT_TIME] = now;
        }
        let next = (nxt + len) >>> 0;
        if ((fl & TCP_FLAG_FIN) !== 0) {
          next = (next + 1) >>> 0;
          u[base + W.FLAGS] |= Flag.FIN_SENT;
        }
        u[base + W.SND_NXT] = next;
        if (seqGt(next, sndMax)) u[base + W.SND_MAX] = next;
        if (f[fb + F.T_RTO] === 0) f[fb + F.T_RTO] = now + backedOffRto(u, f, id, this.config.rtoMaxMs);
        if ((fl & TCP_FLAG_FIN) !== 0) break;
      }
      // Data waiting and nothing in flight, held back by the window: a zero
      // window is probed (RFC 9293 §3.8.6.1); a window too small to send into
      // without silly-window syndrome is used anyway when the same timer
      // fires (the §3.8.6.2.1 override timeout). Without it a peer whose
      // window update went missing — or a stale window a takeover inherited —
      // leaves both sides waiting for ever.
      const una = u[base + W.SND_UNA]!;
      const pendingData = seqLt(u[base + W.SND_NXT]!, u[base + W.SND_END]!) ||
        ((u[base + W.FLAGS]! & (Flag.FIN_QUEUED | Flag.FIN_SENT)) === Flag.FIN_QUEUED);
      if (pendingData && una === u[base + W.SND_MAX] && f[fb + F.T_PERSIST] === 0) {
        u[base + W.FLAGS] |= Flag.PERSIST;
        const backoff = f[fb + F.PROBE_BACKOFF]! > 0 ? f[fb + F.PROBE_BACKOFF]! : f[fb + F.RTO]!;
        f[fb + F.T_PERSIST] = now + backoff;
      }
    }
    if (!sent) {
      const flags = u[base + W.FLAGS]!;
      const ackable = this.ackToSend(id, now);
      const unacked = (ackable - u[base + W.LAST_ACK_SENT]!) | 0;
      if ((flags & (Flag.ACK_NOW | Flag.WINDOW_UPDATE)) !== 0 || unacked >= 2 * u[base + W.RCV_MSS]!) {
        if (unacked === 0 && (flags & Flag.WINDOW_UPDATE) === 0 && ackable !== u[base + W.RCV_NXT]) {
          // Withheld (the backup has not confirmed the new bytes): an ACK that
          // repeats the last one would only be a duplicate ACK to the client.
          u[base + W.FLAGS] = flags & ~Flag.ACK_NOW;
          this.stats[Stat.ACKS_WITHHELD]! += 1;
        } else {
          this.emit(id, u[base + W.SND_NXT]!, 0, TCP_FLAG_ACK, now);
        }
      } else if (unacked > 0 && f[fb + F.T_DELACK] === 0) {
        // RFC 9293 §3.8.6.3: delay the ACK, but not for long.
        f[fb + F.T_DELACK] = now + this.config.delayedAckMs;
      }
    }
  }

  /**
   * Segmentation offload: how much of `avail` bytes (window room `usable`,
   * both > mss) one segment carries — as much as a large buffer holds, in
   * whole MSS-size pieces unless it ends the buffered data (only the device's
   * last cut segment may be short, as Linux's TSO sizes them). Reserves the
   * large buffer for emitRaw; with none free it is one MSS, as without offload.
   */
  private largeLength(avail: number, usable: number, mss: number): number {
    let len = avail < usable ? avail : usable;
    if (len > this.largePayload) len = this.largePayload;
    if (len < avail) len -= len % mss;
    if (len <= mss) return mss;
    if (this.largeSlot < 0) this.largeSlot = this.link.allocLarge!();
    return this.largeSlot < 0 ? mss : len;
  }

  /**
   * Loss recovery with SACK (RFC 6675 in spirit): retransmit the holes below
   * the highest SACKed byte, then new data, while the estimated bytes in
   * the network (pipe) stay under cwnd.
   */
  private sendSackRecovery(id: number, now: number): boolean {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const una = u[base + W.SND_UNA]!;
    const high = sackHigh(u, base, una);
    const mss = u[base + W.SND_MSS]!;
    let rtxNext = u[base + W.RTX_NEXT]!;
    if (seqLt(rtxNext, una)) rtxNext = una;
    // pipe ≈ bytes sent above the highest SACK + holes already retransmitted.
    let pipe = ((u[base + W.SND_MAX]! - high) | 0) + (((rtxNext - una) | 0) - sackedBelow(u, base, rtxNext));
    const cwnd = u[base + W.CWND]!;
    let sent = false;
    for (let guard = 0; guard < 256 && pipe < cwnd; guard++) {
      rtxNext = sackSkip(u, base, rtxNext);
      if (seqLt(rtxNext, high)) {
        // The hole runs to the next SACK block.
        const holeEnd = this.nextSackStart(base, rtxNext, high);
        const len = Math.min((holeEnd - rtxNext) | 0, mss);
        if (!this.emit(id, rtxNext, len, TCP_FLAG_ACK, now)) break;
        this.stats[Stat.RETRANSMITS]! += 1;
        rtxNext = (rtxNext + len) >>> 0;
        pipe += len;
        sent = true;
        continue;
      }
      // No hole left: new data, within the peer's window.
      const nxt = u[base + W.SND_MAX]!;
      const end = u[base + W.SND_END]!;
      const usable = (una + u[base + W.SND_WND]! - nxt) | 0;
      const len = Math.min((end - nxt) | 0, mss, usable);
      if (len <= 0) break;
      if (!this.emit(id, nxt, len, TCP_FLAG_ACK | (((nxt + len) >>> 0) === end ? TCP_FLAG_PSH : 0), now)) break;
      u[base + W.SND_NXT] = (nxt + len) >>> 0;
      u[base + W.SND_MAX] = (nxt + len) >>> 0;
      pipe += len;
      sent = true;
    }
    u[base + W.RTX_NEXT] = rtxNext;
    if (sent && this.f[recordF64(id) + F.T_RTO] === 0) this.f[recordF64(id) + F.T_RTO] = now + this.f[recordF64(id) + F.RTO]!;
    return sent;
  }

  private nextSackStart(base: number, seq: number, high: number): number {
    const u = this.u;
    const n = u[base + W.SACK_COUNT]!;
    for (let i = 0; i < n; i++) {
      const s = u[base + W.SACK_BASE + 2 * i]!;
      if (seqGt(s, seq)) return s;
    }
    return high;
  }

  /** SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) with our options. */
  private sendSyn(id: number, now: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const st = u[base + W.STATE]!;
    const fl = st === State.SYN_SENT ? TCP_FLAG_SYN : TCP_FLAG_SYN | TCP_FLAG_ACK;
    this.emit(id, u[base + W.ISS]!, 0, fl, now);
    const next = (u[base + W.ISS]! + 1) >>> 0;
    u[base + W.SND_NXT] = next;
    if (seqGt(next, u[base + W.SND_MAX]!)) u[base + W.SND_MAX] = next;
  }

  /** A segment without data from the connection's identity (RST, challenge ACK). */
  private sendControl(id: number, seq: number, ack: number, flags: number, now: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const saveAck = u[base + W.RCV_NXT]!;
    if ((flags & TCP_FLAG_ACK) === 0) {
      // RST <SEQ=SEG.ACK> without ACK: emit() always writes RCV_NXT as ack; zero it via flags.
      this.emitRaw(id, seq, 0, flags, now);
    } else {
      u[base + W.RCV_NXT] = ack;
      this.emit(id, seq, 0, flags, now);
      u[base + W.RCV_NXT] = saveAck;
    }
    if ((flags & TCP_FLAG_RST) !== 0) this.stats[Stat.RST_SENT]! += 1;
  }

  private sendReset(id: number, now: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const st = u[base + W.STATE]!;
    if (st === State.CLOSED || st === State.TIME_WAIT || st === State.SYN_SENT) return;
    this.trace?.('rst', id);
    this.sendControl(id, u[base + W.SND_NXT]!, u[base + W.RCV_NXT]!, TCP_FLAG_RST | TCP_FLAG_ACK, now);
  }

  private emit(id: number, seq: number, len: number, flags: number, now: number): boolean {
    return this.emitRaw(id, seq, len, flags | 0x100, now);
  }

  /**
   * Builds and sends one segment of connection `id`: `len` payload bytes
   * from the send buffer at `seq`. Bit 0x100 of `flags` (internal) means
   * "ack = RCV_NXT and this is a normal segment": it updates LAST_ACK_SENT
   * and RCV_ADV and cancels the delayed ACK.
   */
  private emitRaw(id: number, seq: number, len: number, flags: number, now: number): boolean {
    if ((this.u[id * RECORD_WORDS + W.FLAGS]! & Flag.SHADOW) !== 0) return false;
    const link = this.link;
    // A segment longer than the MSS goes in the large buffer output() reserved for it.
    let slot = this.largeSlot;
    this.largeSlot = -1;
    if (slot < 0) slot = link.allocSlot();
    if (slot < 0) {
      this.stats[Stat.NO_SLOT]! += 1;
      return false;
    }
    const u = this.u;
    const base = id * RECORD_WORDS;
    const fb = recordF64(id);
    const b = link.bytes;
    const start = link.frameStart(slot);
    const normal = (flags & 0x100) !== 0;
    const tcpFlags = flags & 0xff;
    const cflags = u[base + W.FLAGS]!;
    const st = u[base + W.STATE]!;
    // Ethernet
    writeMac(b, start, u[base + W.REMOTE_MAC_HI]!, u[base + W.REMOTE_MAC_LO]!);
    writeMac(b, start + 6, u[base + W.LOCAL_MAC_HI]!, u[base + W.LOCAL_MAC_LO]!);
    b[start + 12] = ETHERTYPE_IPV4 >>> 8;
    b[start + 13] = ETHERTYPE_IPV4 & 0xff;
    const l3 = start + ETH_HEADER_LEN;
    const l4 = l3 + IPV4_HEADER_LEN;
    // Options
    const syn = (tcpFlags & TCP_FLAG_SYN) !== 0;
    const rst = (tcpFlags & TCP_FLAG_RST) !== 0;
    const ts = !rst && (syn ? (st === State.SYN_SENT ? this.config.timestamps : (cflags & Flag.TS_OK) !== 0) : (cflags & Flag.TS_OK) !== 0);
    let optLen = 0;
    const optOff = l4 + TCP_HEADER_LEN;
    if (syn) {
      const active = st === State.SYN_SENT;
      const offerWs = active ? this.config.windowScale : (cflags & Flag.WS_OK) !== 0;
      const offerSack = active ? this.config.sack : (cflags & Flag.SACK_OK) !== 0;
      optLen = writeTcpOptions(b, optOff, u[base + W.RCV_MSS]!, offerWs ? u[base + W.RCV_SHIFT]! : -1, offerSack ? 1 : 0,
        tsClock(now, u[base + W.TS_OFFSET]!), active ? 0 : u[base + W.TS_RECENT]!, ts ? 1 : 0, this.sackOut, 0);
    } else if (!rst) {
      let nSack = 0;
      if ((cflags & Flag.SACK_OK) !== 0 && u[base + W.OOO_COUNT]! > 0) nSack = sackBlocksToSend(u, base, this.sackOut);
      optLen = writeTcpOptions(b, optOff, 0, -1, 0, tsClock(now, u[base + W.TS_OFFSET]!), u[base + W.TS_RECENT]!, ts ? 1 : 0, this.sackOut, nSack);
    }
    const hlen = TCP_HEADER_LEN + optLen;
    const ring = this.snd[id];
    if (len > 0 && ring !== null && ring !== undefined) {
      const p = l4 + hlen;
      const i = seq & (ring.length - 1);
      const first = Math.min(len, ring.length - i);
      // Into the arena (shared memory): net/copy.ts.
      copyBytes(b, p, ring, i, first);
      if (first < len) copyBytes(b, p + first, ring, 0, len - first);
    }
    // Window (RFC 7323 §2.3: never scaled in a SYN).
    const ack = (tcpFlags & TCP_FLAG_ACK) === 0 ? 0 : rst || syn ? u[base + W.RCV_NXT]! : this.ackToSend(id, now);
    let window = 0;
    if (!rst) {
      const rcvNxt = u[base + W.RCV_NXT]!;
      const cap = u[base + W.RCV_BUF_BYTES]!;
      let edge = (u[base + W.RCV_READ]! + cap) >>> 0;
      // Receiver SWS avoidance: do not advance the edge by less than min(cap/2, MSS).
      const adv = u[base + W.RCV_ADV]!;
      if (seqGt(edge, adv) && ((edge - adv) | 0) < Math.min(cap >>> 1, u[base + W.RCV_MSS]!) && seqGe(adv, rcvNxt)) edge = adv;
      // The window counts from the ACK sent (below RCV_NXT while withheld): the right edge stays where it is.
      const from = syn || ack === 0 ? rcvNxt : ack;
      let wnd = (edge - from) | 0;
      if (wnd < 0) wnd = 0;
      const shift = syn ? 0 : u[base + W.RCV_SHIFT]!;
      let field = Math.floor(wnd / pow2(shift));
      if (field > 0xffff) field = 0xffff;
      window = field;
      if (normal) {
        const newAdv = (from + field * pow2(shift)) >>> 0;
        if (seqGt(newAdv, adv)) u[base + W.RCV_ADV] = newAdv;
      }
    }
    writeTcpHeader(b, l4, u[base + W.LOCAL_PORT]!, u[base + W.REMOTE_PORT]!, seq, ack, hlen, tcpFlags, window, 0);
    const tcpLen = hlen + len;
    writeIpv4Header(b, l3, 0, IPV4_HEADER_LEN + tcpLen, this.ipIdent = (this.ipIdent + 1) & 0xffff, IPV4_FLAG_DF, 64, IP_PROTO_TCP,
      u[base + W.LOCAL_IP]!, u[base + W.REMOTE_IP]!);
    // Cut size of a large segment: the MSS less option bytes beyond the timestamps SND_MSS allows for (SACK blocks).
    let mss = u[base + W.SND_MSS]!;
    const extra = hlen - TCP_HEADER_LEN - (ts ? 12 : 0);
    if (extra > 0) mss -= extra;
    if (this.csumOffload) {
      // The device finishes it (link.ts): the field holds the pseudo-header sum, as Linux's CHECKSUM_PARTIAL.
      writeU16(b, l4 + 16, pseudoHeaderSum(u[base + W.LOCAL_IP]!, u[base + W.REMOTE_IP]!, IP_PROTO_TCP, tcpLen));
    } else {
      tcpChecksumFill(b, l4, tcpLen, u[base + W.LOCAL_IP]!, u[base + W.REMOTE_IP]!);
    }
    if (link.transmit(slot, ETH_HEADER_LEN + IPV4_HEADER_LEN + tcpLen, u[base + W.POLLER]!, len > mss ? mss : 0) === false) {
      // The tx ring is full (a burst as large as the send buffer allows): not sent; the caller tries again shortly.
      this.stats[Stat.NO_SLOT]! += 1;
      return false;
    }
    // Counted as the wire sees it: a large segment is cut into ⌈len / MSS⌉.
    this.stats[Stat.SEGS_OUT]! += len > mss ? Math.ceil(len / mss) : 1;
    this.stats[Stat.BYTES_OUT]! += len;
    if (normal && (tcpFlags & TCP_FLAG_ACK) !== 0) {
      u[base + W.LAST_ACK_SENT] = ack;
      u[base + W.FLAGS] &= ~(Flag.ACK_NOW | Flag.WINDOW_UPDATE);
      this.f[fb + F.T_DELACK] = 0;
    }
    return true;
  }

  /**
   * A segment answering a frame that has no connection (RST, cookie
   * SYN-ACK): addresses and ports swapped from `m`.
   */
  private replyTo(b: Uint8Array, m: FrameMeta, poller: number, seq: number, ack: number, flags: number, window: number,
    mss: number, wscale: number, sackPerm: number, tsPresent: number, tsVal: number, tsEcr: number): void {
    const link = this.link;
    const slot = link.allocSlot();
    if (slot < 0) {
      this.stats[Stat.NO_SLOT]! += 1;
      return;
    }
    const o = link.bytes;
    const start = link.frameStart(slot);
    const l2 = m.l2Off;
    for (let i = 0; i < 6; i++) o[start + i] = b[l2 + 6 + i]!;
    if (this.hasLocalMac) o.set(this.localMac, start + 6);
    else for (let i = 0; i < 6; i++) o[start + 6 + i] = b[l2 + i]!;
    o[start + 12] = ETHERTYPE_IPV4 >>> 8;
    o[start + 13] = ETHERTYPE_IPV4 & 0xff;
    const l3 = start + ETH_HEADER_LEN;
    const l4 = l3 + IPV4_HEADER_LEN;
    const optLen = (flags & TCP_FLAG_SYN) !== 0
      ? writeTcpOptions(o, l4 + TCP_HEADER_LEN, mss, wscale, sackPerm, tsVal, tsEcr, tsPresent, this.sackOut, 0)
      : 0;
    const hlen = TCP_HEADER_LEN + optLen;
    writeTcpHeader(o, l4, m.dstPort, m.srcPort, seq, ack, hlen, flags, window, 0);
    writeIpv4Header(o, l3, 0, IPV4_HEADER_LEN + hlen, this.ipIdent = (this.ipIdent + 1) & 0xffff, IPV4_FLAG_DF, 64, IP_PROTO_TCP, m.dstIp, m.srcIp);
    tcpChecksumFill(o, l4, hlen, m.dstIp, m.srcIp);
    link.transmit(slot, ETH_HEADER_LEN + IPV4_HEADER_LEN + hlen, poller);
    this.stats[Stat.SEGS_OUT]! += 1;
    if ((flags & TCP_FLAG_RST) !== 0) this.stats[Stat.RST_SENT]! += 1;
  }

  /** Whether the frame at `l2Off` is addressed to this stack's MAC. */
  private toLocalMac(b: Uint8Array, l2Off: number): boolean {
    const mac = this.localMac;
    for (let i = 0; i < 6; i++) if (b[l2Off + i] !== mac[i]) return false;
    return true;
  }

  /** RFC 9293 §3.10.7.1: the reset for a segment that matches no connection. */
  private resetFor(b: Uint8Array, m: FrameMeta, poller: number, now: number): void {
    if (!this.config.resetUnknown || now < this.quietUntil) {
      this.stats[Stat.UNKNOWN_DROPPED]! += 1;
      this.trace?.(`unknown-dropped ${m.srcPort} fl ${m.tcpFlags.toString(16)} seq ${m.seq >>> 0} ack ${m.ack >>> 0} len ${m.payloadLen}`, -1);
      return;
    }
    if (this.hasLocalMac && (b[m.l2Off]! & 1) === 0 && !this.toLocalMac(b, m.l2Off)) {
      // Sent to another node's MAC (a hub, or a flooding bridge, shows it
      // here too): the client believes that node holds the address, and the
      // connection is that node's to answer. A restarted node that held its
      // home address for a moment at boot reset a download its holder served
      // (the DPDK kill loop: 1 in 380 kills).
      this.stats[Stat.UNKNOWN_DROPPED]! += 1;
      this.trace?.(`unknown-not-to-us ${m.srcPort} fl ${m.tcpFlags.toString(16)}`, -1);
      return;
    }
    if (this.trace !== null) this.trace(`rst-unknown ${m.srcPort} fl ${m.tcpFlags.toString(16)} seq ${m.seq >>> 0} ack ${m.ack >>> 0} len ${m.payloadLen}`, -1);
    if ((m.tcpFlags & TCP_FLAG_ACK) !== 0) {
      this.replyTo(b, m, poller, m.ack, 0, TCP_FLAG_RST, 0, 0, -1, 0, 0, 0, 0);
    } else {
      let segLen = m.payloadLen;
      if ((m.tcpFlags & TCP_FLAG_SYN) !== 0) segLen++;
      if ((m.tcpFlags & TCP_FLAG_FIN) !== 0) segLen++;
      this.replyTo(b, m, poller, 0, (m.seq + segLen) >>> 0, TCP_FLAG_RST | TCP_FLAG_ACK, 0, 0, -1, 0, 0, 0, 0);
    }
  }

  // ---------------------------------------------------------------- timers

  /** Fires due timers. */
  tick(now: number): void {
    this.now = now;
    this.wheel.advance(now, this);
  }

  /** Earliest timer deadline (for the worker's park timeout), Infinity when none. */
  nextDeadline(): number {
    const t = this.wheel.earliest();
    return this.pushCount > 0 && this.pushDue < t ? this.pushDue : t;
  }

  /** Schedules connection `id` at its earliest deadline. */
  private rearm(id: number): void {
    // A shadow keeps no timers, but for the end of a TIME-WAIT (enterTimeWait).
    if ((this.u[id * RECORD_WORDS + W.FLAGS]! & Flag.SHADOW) !== 0 && this.u[id * RECORD_WORDS + W.STATE] !== State.TIME_WAIT) {
      this.wheel.cancel(id);
      return;
    }
    const f = this.f;
    const fb = recordF64(id);
    let t = Infinity;
    for (let k = F.T_RTO; k <= F.T_LINGER; k++) {
      const d = f[fb + k]!;
      if (d !== 0 && d < t) t = d;
    }
    if (t === Infinity) this.wheel.cancel(id);
    else this.wheel.schedule(id, t, this.now);
  }

  onTimer(id: number, now: number): void {
    const u = this.u;
    const f = this.f;
    const base = id * RECORD_WORDS;
    const fb = recordF64(id);
    const st = u[base + W.STATE]!;
    if (st === State.CLOSED) return;
    if (f[fb + F.T_LINGER] !== 0 && f[fb + F.T_LINGER]! <= now) {
      // TIME-WAIT over (or FIN-WAIT-2 gave up).
      f[fb + F.T_LINGER] = 0;
      if (st === State.TIME_WAIT && (u[base + W.FLAGS]! & Flag.SHADOW) === 0 && seqLt(u[base + W.LAST_ACK_SENT]!, u[base + W.RCV_NXT]!) &&
          (u[base + W.FLAGS]! & Flag.FIN_RCVD) !== 0 && !seqLt(this.confirmed(id), (u[base + W.RCV_NXT]! - 1) >>> 0)) {
        // The ACK of the client's FIN (and of nothing else) still waits for a
        // backup that never confirmed it: the client (CLOSING, LAST-ACK) sends
        // its FIN until it comes, and once the record is gone that FIN draws a
        // RST. Both sides are closed, our FIN acknowledged, every client byte
        // in the backup: nothing is left for it to take over, so the ACK goes
        // now, before the record does. Client bytes the backup lacks are never
        // acknowledged unconfirmed: the client sends them again, and the
        // backup's shadow fills its gap from them.
        this.stats[Stat.ACKS_RELEASED]! += 1;
        // Released as if confirmed: ackToSend gives RCV_NXT.
        this.backupHas[id] = u[base + W.RCV_NXT]!;
        this.haveFlags[id] = this.haveFlags[id]! | 1;
        this.sendControl(id, u[base + W.SND_NXT]!, u[base + W.RCV_NXT]!, TCP_FLAG_ACK, now);
      }
      this.closeConnection(id, false);
      return;
    }
    if (f[fb + F.T_RTO] !== 0 && f[fb + F.T_RTO]! <= now) {
      f[fb + F.T_RTO] = 0;
      this.retransmitTimeout(id, now);
      if (u[base + W.STATE] === State.CLOSED) return;
    }
    if (f[fb + F.T_PERSIST] !== 0 && f[fb + F.T_PERSIST]! <= now) {
      f[fb + F.T_PERSIST] = 0;
      this.windowProbe(id, now);
    }
    if (f[fb + F.T_KEEPALIVE] !== 0 && f[fb + F.T_KEEPALIVE]! <= now) {
      f[fb + F.T_KEEPALIVE] = 0;
      this.keepalive(id, now);
      if (u[base + W.STATE] === State.CLOSED) return;
    }
    if (f[fb + F.T_DELACK] !== 0 && f[fb + F.T_DELACK]! <= now) {
      f[fb + F.T_DELACK] = 0;
      u[base + W.FLAGS] |= Flag.ACK_NOW;
      this.output(id, now);
    }
    this.rearm(id);
  }

  /** RFC 6298 §5.4–5.7 and RFC 5681 §3.1: retransmit from SND_UNA, back off. */
  private retransmitTimeout(id: number, now: number): void {
    const u = this.u;
    const f = this.f;
    const base = id * RECORD_WORDS;
    const fb = recordF64(id);
    const st = u[base + W.STATE]!;
    const c = this.config;
    if (u[base + W.SND_UNA] === u[base + W.SND_MAX] && st !== State.SYN_SENT && st !== State.SYN_RECEIVED) {
      // Nothing outstanding: the timer was a retry after a slot shortage.
      this.output(id, now);
      return;
    }
    this.stats[Stat.RTO_FIRED]! += 1;
    const limit = st === State.SYN_SENT || st === State.SYN_RECEIVED ? c.synRetries : c.maxRetries;
    if (u[base + W.RTX_COUNT]! >= limit) {
      this.stats[Stat.TIMEOUTS]! += 1;
      if (st === State.SYN_RECEIVED && (u[base + W.FLAGS]! & Flag.PASSIVE) !== 0) {
        this.freeConnection(id);
        return;
      }
      this.sendReset(id, now);
      this.abort(id, 'ETIMEDOUT', 'connection timed out');
      return;
    }
    if (st === State.SYN_SENT || st === State.SYN_RECEIVED) {
      u[base + W.RTX_COUNT] = u[base + W.RTX_COUNT]! + 1;
      this.sendSyn(id, now);
      this.stats[Stat.RETRANSMITS]! += 1;
      f[fb + F.T_RTO] = now + backedOffRto(u, f, id, c.rtoMaxMs);
      return;
    }
    const una = u[base + W.SND_UNA]!;
    const flight = (u[base + W.SND_MAX]! - una) | 0;
    ccOnRto(u, f, id, flight, u[base + W.SND_MSS]!, this.ccAlgo);
    u[base + W.RTX_COUNT] = u[base + W.RTX_COUNT]! + 1;
    u[base + W.FLAGS] = (u[base + W.FLAGS]! & ~Flag.IN_RECOVERY) | Flag.RTX_PENDING;
    // RFC 6582 §4: after a timeout, recover = the highest sequence number sent.
    u[base + W.RECOVER] = u[base + W.SND_MAX]!;
    u[base + W.DUPACKS] = 0;
    u[base + W.SND_NXT] = una;
    u[base + W.RTX_NEXT] = una;
    f[fb + F.RTT_TIME] = 0;
    // The FIN is sent again when SND_NXT reaches SND_END.
    if ((u[base + W.FLAGS]! & Flag.FIN_SENT) !== 0) u[base + W.FLAGS] &= ~Flag.FIN_SENT;
    f[fb + F.T_RTO] = now + backedOffRto(u, f, id, c.rtoMaxMs);
    this.output(id, now);
    // output() arms the RTO only when it was off; keep the backed-off deadline.
  }

  /** Zero-window probe: a segment one byte below SND_UNA, which the peer must ACK with its window. */
  private windowProbe(id: number, now: number): void {
    const u = this.u;
    const f = this.f;
    const base = id * RECORD_WORDS;
    const fb = recordF64(id);
    if (u[base + W.SND_WND] !== 0) {
      // A window below a segment: send into it now (the SWS override).
      u[base + W.FLAGS] &= ~Flag.PERSIST;
      this.swsOverride = id;
      this.output(id, now);
      this.swsOverride = -1;
      return;
    }
    this.stats[Stat.WINDOW_PROBES]! += 1;
    this.emitRaw(id, (u[base + W.SND_UNA]! - 1) >>> 0, 0, TCP_FLAG_ACK, now);
    const prev = f[fb + F.PROBE_BACKOFF]! > 0 ? f[fb + F.PROBE_BACKOFF]! : f[fb + F.RTO]!;
    const next = Math.min(prev * 2, this.config.rtoMaxMs);
    f[fb + F.PROBE_BACKOFF] = next;
    f[fb + F.T_PERSIST] = now + next;
  }

  /** RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6: probe an idle peer; give up after N unanswered probes. */
  private keepalive(id: number, now: number): void {
    const u = this.u;
    const f = this.f;
    const base = id * RECORD_WORDS;
    const fb = recordF64(id);
    const c = this.config;
    const st = u[base + W.STATE]!;
    if (st !== State.ESTABLISHED && st !== State.CLOSE_WAIT && st !== State.FIN_WAIT_2) return;
    const idle = now - f[fb + F.LAST_RECV]!;
    if (idle < c.keepaliveIdleMs) {
      f[fb + F.T_KEEPALIVE] = f[fb + F.LAST_RECV]! + c.keepaliveIdleMs;
      return;
    }
    const probes = u[base + W.KEEPALIVE_PROBES]!;
    if (probes >= c.keepaliveProbes) {
      this.stats[Stat.TIMEOUTS]! += 1;
      this.sendReset(id, now);
      this.abort(id, 'ETIMEDOUT', 'keepalive timed out');
      return;
    }
    u[base + W.KEEPALIVE_PROBES] = probes + 1;
    this.stats[Stat.KEEPALIVE_PROBES]! += 1;
    this.emitRaw(id, (u[base + W.SND_UNA]! - 1) >>> 0, 0, TCP_FLAG_ACK, now);
    f[fb + F.T_KEEPALIVE] = now + c.keepaliveIntervalMs;
  }

  // ---------------------------------------------------------------- moving connections

  /** Connection id of a 4-tuple (local, remote), or -1. */
  find(localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
    const h = flowHash(remoteIp, localIp, remotePort, localPort, IP_PROTO_TCP);
    return this.flows.lookup(h, remoteIp >>> 0, localIp >>> 0, remotePort, localPort, IP_PROTO_TCP);
  }

  state(id: number): number {
    return this.u[id * RECORD_WORDS + W.STATE]!;
  }

  /** Record slots (connection ids are 0 … capacity − 1). */
  get capacity(): number {
    return this.table.capacity;
  }

  /** Connection `id`'s 4-tuple into out: [localIp, localPort, remoteIp, remotePort]. */
  tupleOf(id: number, out: Uint32Array): void {
    const base = id * RECORD_WORDS;
    out[0] = this.u[base + W.LOCAL_IP]!;
    out[1] = this.u[base + W.LOCAL_PORT]!;
    out[2] = this.u[base + W.REMOTE_IP]!;
    out[3] = this.u[base + W.REMOTE_PORT]!;
  }

  /** False when connection `id`'s application says it cannot resume elsewhere now (TcpApplication.movable). */
  appMovable(id: number): boolean {
    const sock = this.sockets[id];
    const app = this.listeners[this.u[id * RECORD_WORDS + W.SERVICE]!]?.app;
    return sock === null || sock === undefined || app?.movable === undefined || app.movable(sock);
  }

  /** Index of the service (listener) for local ip:port, or -1 (what W.SERVICE of an imported record must name). */
  serviceFor(ip: number, port: number): number {
    return this.findListener(ip >>> 0, port);
  }

  /** The movable form of connection `id` (record + stream bytes). */
  exportConnection(id: number): Uint8Array {
    this.trace?.('export', id);
    this.materializeLazy(id);
    const bytes = serializeConnection(this.table, id, this.snd[id] ?? new Uint8Array(this.config.sendBuffer), this.rcv[id] ?? new Uint8Array(this.config.recvBuffer),
      this.shadowSkip[id]!);
    // What the application wrote beyond the send buffer moves too (an HTTP file to a slow reader), and its end().
    const sock = this.sockets[id];
    return sock !== null && sock !== undefined && sock.pendingBytes > 0 ? withQueuedWrites(bytes, sock.pending, sock.ending) : bytes;
  }

  /**
   * Installs a connection exported elsewhere and continues it: the
   * application of its service resumes from the record's app state, and the
   * peer is prompted at once (an ACK; unacknowledged data goes out again).
   * Returns the new id, or -1 when it cannot be taken (table full, tuple
   * already present).
   */
  importConnection(bytes: Uint8Array, now: number, clockDelta: number): number {
    const id = this.restoreRecord(bytes, clockDelta);
    if (id < 0) return -1;
    const u = this.u;
    const base = id * RECORD_WORDS;
    const fb = recordF64(id);
    u[base + W.FLAGS] = (u[base + W.FLAGS]! | Flag.RESUMED | Flag.ACK_NOW) & ~Flag.PAUSED;
    const st = u[base + W.STATE]!;
    if (st === State.SYN_RECEIVED) this.halfOpen++;
    // Unacknowledged data is sent again at once rather than after the peer's or our timer.
    if (u[base + W.SND_UNA] !== u[base + W.SND_MAX]) {
      u[base + W.SND_NXT] = u[base + W.SND_UNA]!;
      u[base + W.FLAGS] &= ~Flag.FIN_SENT;
      this.f[fb + F.T_RTO] = now + this.f[fb + F.RTO]!;
    }
    if (!this.resumeApp(id)) {
      this.appError(id);
      return -1;
    }
    this.trace?.('import', id);
    this.markDirty(id);
    this.rearm(id);
    return id;
  }

  /**
   * A restored passive connection in a state with an application gets a
   * socket and its service's application resumes on it (from the record's
   * app state). False when the application refused (its resume threw).
   */
  private resumeApp(id: number): boolean {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const st = u[base + W.STATE]!;
    const listener = this.listeners[u[base + W.SERVICE]!];
    const live = st === State.ESTABLISHED || st === State.CLOSE_WAIT || st === State.FIN_WAIT_1 || st === State.FIN_WAIT_2 || st === State.CLOSING || st === State.LAST_ACK;
    if (listener === undefined || !live || (u[base + W.FLAGS]! & Flag.PASSIVE) === 0) return true;
    const sock = this.attachSocket(id);
    if ((u[base + W.FLAGS]! & Flag.FIN_QUEUED) !== 0) sock.ending = true;
    try {
      listener.app.resume(sock);
    } catch {
      return false;
    }
    return true;
  }

  /**
   * Installs an exported record in a free slot of this table with buffers of
   * its own: stream positions kept, capacities widened to ours, this node's
   * MAC, times rebased to our clock. Returns the id, or -1 (tuple present,
   * table full).
   */
  private restoreRecord(bytes: Uint8Array, clockDelta: number): number {
    const { words, skip, send, receive } = inspectSerialized(bytes);
    // A record whose stream bytes exceed its own buffers cannot be restored: refused before it takes a flow entry.
    if (send > Math.max(this.config.sendBuffer, words[W.SND_BUF_BYTES]!) || receive > Math.max(this.config.recvBuffer, words[W.RCV_BUF_BYTES]!)) {
      throw new RecordError(`record holds ${send}/${receive} stream bytes, more than its buffers`);
    }
    const li = words[W.LOCAL_IP]!;
    const ri = words[W.REMOTE_IP]!;
    const lp = words[W.LOCAL_PORT]!;
    const rp = words[W.REMOTE_PORT]!;
    if (this.find(li, lp, ri, rp) >= 0) return -1;
    const h = flowHash(ri, li, rp, lp, IP_PROTO_TCP);
    const id = this.flows.lookupOrInsert(h, ri, li, rp, lp, IP_PROTO_TCP);
    if (id < 0) {
      this.stats[Stat.TABLE_FULL]! += 1;
      return -1;
    }
    const needSnd = Math.max(this.config.sendBuffer, words[W.SND_BUF_BYTES]!);
    const needRcv = Math.max(this.config.recvBuffer, words[W.RCV_BUF_BYTES]!);
    const snd = this.config.sendBuffer === needSnd ? this.freeSnd.pop() ?? Buffer.alloc(needSnd) : Buffer.alloc(needSnd);
    if (needSnd > this.config.sendBuffer) this.grownBytes += needSnd - this.config.sendBuffer;
    const rcv = this.config.recvBuffer === needRcv ? this.freeRcv.pop() ?? Buffer.alloc(needRcv) : Buffer.alloc(needRcv);
    restoreConnection(this.table, id, bytes, snd, rcv);
    this.snd[id] = snd;
    this.rcv[id] = rcv;
    const u = this.u;
    const base = id * RECORD_WORDS;
    // Our buffers may be larger: keep the stream positions, widen capacities.
    u[base + W.SND_BUF_BYTES] = snd.length;
    u[base + W.RCV_BUF_BYTES] = rcv.length;
    if (this.hasLocalMac) {
      u[base + W.LOCAL_MAC_HI] = macHi(this.localMac, 0);
      u[base + W.LOCAL_MAC_LO] = macLo(this.localMac, 0);
    }
    // Times are on our clock from here; deadlines already past fire at the next tick.
    if (clockDelta !== 0) rebaseTimers(this.table, id, clockDelta);
    // Output the peer has that the application has not written yet: its next writes drop that many bytes.
    this.shadowSkip[id] = skip;
    this.tsSeen[id] = tsClock(this.now, u[base + W.TS_OFFSET]!);
    return id;
  }

  /**
   * Installs a copy of a connection its primary serves (exported there, not
   * moved) as an exact shadow: service modes snoop and mirror, when this
   * backup missed the connection's start or lost track of it. The shadow
   * application resumes from the record's app state; from here the shadow
   * follows the observed segments as any other (a gap between the export
   * and the first segment seen is one more gap to repair). Nothing is sent.
   * Returns the id, or -1 (tuple present, table full, the application
   * refused).
   */
  importShadow(bytes: Uint8Array, now: number, clockDelta: number): number {
    this.now = now;
    const id = this.restoreRecord(bytes, clockDelta);
    if (id < 0) return -1;
    const u = this.u;
    const f = this.f;
    const base = id * RECORD_WORDS;
    const fb = recordF64(id);
    u[base + W.FLAGS] = (u[base + W.FLAGS]! | Flag.SHADOW) & ~(Flag.PAUSED | Flag.ACK_NOW | Flag.WINDOW_UPDATE | Flag.RESUMED | Flag.DIVERGED);
    // A shadow keeps no timers: promoteShadow() sets them at a takeover.
    f[fb + F.T_RTO] = 0;
    f[fb + F.T_DELACK] = 0;
    f[fb + F.T_PERSIST] = 0;
    f[fb + F.T_KEEPALIVE] = 0;
    f[fb + F.T_LINGER] = 0;
    this.shadowPhase[id] = 2;
    // The primary has (or will have) acknowledged every byte it received; its application consumed up to RCV_READ.
    this.shadowAcked[id] = u[base + W.RCV_NXT]!;
    // shadowSkip as the record says (restoreRecord): the primary's own, a connection it promoted.
    this.shadowRepairAt[id] = 0;
    if (!this.resumeApp(id)) {
      this.dropConnection(id);
      return -1;
    }
    this.stats[Stat.SHADOW_COPIES]! += 1;
    // Everything the primary sent before the copy went by this shadow unseen (a FIN is no output byte).
    const sent = (u[base + W.SND_MAX]! - u[base + W.ISS]! - 1) >>> 0;
    this.stats[Stat.SHADOW_BYTES_UNSEEN]! += (u[base + W.FLAGS]! & Flag.FIN_SENT) !== 0 && sent > 0 ? sent - 1 : sent;
    this.trace?.('import-shadow', id);
    this.afterInput(id);
    // The primary may be withholding ACKs for this connection: confirm what the copy holds.
    this.queueHave(id);
    return id;
  }

  /** dropConnection, and its application instance is told it is done with it (an HTTP file closes). */
  discardConnection(id: number): void {
    const sock = this.sockets[id];
    this.dropConnection(id);
    if (sock !== null && sock !== undefined && sock.onClose !== null) {
      try {
        sock.onClose(false);
      } catch {
        // The application's own problem; the connection is gone either way.
      }
    }
  }

  /** Forgets connection `id` without telling the peer (it has moved elsewhere). */
  dropConnection(id: number): void {
    if (this.u[id * RECORD_WORDS + W.STATE] === State.CLOSED) return;
    this.trace?.('drop', id);
    const sock = this.sockets[id];
    if (sock !== null && sock !== undefined) {
      this.sockets[id] = null;
      sock.id = -1;
    }
    this.freeConnection(id);
  }

  // ---------------------------------------------------------------- withheld ACK (seed 003)
  //
  // A primary serving a snoop or mirror service on an address that has a
  // backup acknowledges a client byte only once the backup confirmed it holds
  // it (a HAVE: dataplane/mirror.ts). The client keeps every byte it sent
  // until then, so whichever node serves the connection next has each byte
  // the client believes delivered: the shadow can never lack one, and a loss
  // of what the backup sees costs a retransmission, never a reset. Bytes are
  // still taken in and handed to the application at once; only the ACK
  // waits. A backup that lags PUSH_MS gets the withheld bytes pushed to it
  // from the receive buffer (they are recent: unacknowledged); a backup that
  // goes away (the cluster's roles move) releases every withheld ACK.

  /**
   * The addresses this node holds that have a backup right now; withheld ACKs
   * of the others go out — but only on addresses still in `held` (when
   * given): a connection whose address went to another node never answers
   * again from here, least of all with an ACK its backup never confirmed.
   */
  setBackedUp(ips: readonly number[], now: number, held?: readonly number[]): void {
    const next = Uint32Array.from(ips, (x) => x >>> 0);
    const old = this.backedUp;
    this.backedUp = next;
    const u = this.u;
    for (let id = 0; id < this.table.capacity; id++) {
      const base = id * RECORD_WORDS;
      if (u[base + W.STATE] === State.CLOSED || (u[base + W.FLAGS]! & Flag.SHADOW) !== 0) continue;
      const ip = u[base + W.LOCAL_IP]!;
      const was = old.includes(ip);
      const is = next.includes(ip);
      if (was && !is && held !== undefined && !held.some((h) => h >>> 0 === ip)) continue;
      if (was && !is) {
        if (seqLt(this.confirmed(id), u[base + W.RCV_NXT]!)) this.stats[Stat.ACKS_RELEASED]! += 1;
        u[base + W.FLAGS] |= Flag.ACK_NOW;
        this.markDirty(id);
      } else if (is && !was) {
        // A new backup: nothing of this connection is confirmed by it yet.
        this.haveFlags[id] = this.haveFlags[id]! & ~1;
      }
    }
    this.now = now;
  }

  /** Whether connections on address `ip` withhold their ACKs for a backup now (setBackedUp). */
  isBackedUp(ip: number): boolean {
    return this.backedUp.includes(ip >>> 0);
  }

  private withholds(id: number): boolean {
    const bu = this.backedUp;
    if (bu.length === 0) return false;
    const u = this.u;
    const base = id * RECORD_WORDS;
    if (u[base + W.STATE]! < State.ESTABLISHED || (u[base + W.FLAGS]! & Flag.SHADOW) !== 0) return false;
    if (this.listeners[u[base + W.SERVICE]!]?.snoop !== true) return false;
    const ip = u[base + W.LOCAL_IP]!;
    for (let i = 0; i < bu.length; i++) if (bu[i] === ip) return true;
    return false;
  }

  /** The acknowledgment number connection `id` may send now: RCV_NXT, or less while its backup lags. */
  private ackToSend(id: number, now: number): number {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const nxt = u[base + W.RCV_NXT]!;
    if (!this.withholds(id)) return nxt;
    const a = this.confirmed(id);
    if (!seqLt(a, nxt)) return nxt;
    this.queuePush(id, now);
    return a;
  }

  /** The highest acknowledgment connection `id` may send as far as its backup goes: the last one sent, or what the backup confirmed since. */
  private confirmed(id: number): number {
    const sent = this.u[id * RECORD_WORDS + W.LAST_ACK_SENT]!;
    return (this.haveFlags[id]! & 1) !== 0 && seqGt(this.backupHas[id]!, sent) ? this.backupHas[id]! : sent;
  }

  private queuePush(id: number, now: number): void {
    const fl = this.haveFlags[id]!;
    const queued = (fl & 2) !== 0;
    // Queued, and waiting since before the backup's last full confirmation: that wait is over, this one starts now.
    if ((queued && this.pushStart[id]! >= 0) || (!queued && this.pushCount >= this.pushQueue.length)) return;
    this.pushTries[id] = 0;
    this.pushStart[id] = now;
    const at = now + this.pushTimeout();
    this.pushAt[id] = at;
    if (!queued) {
      this.haveFlags[id] = fl | 2;
      this.pushQueue[this.pushCount++] = id;
    }
    if (at < this.pushDue || this.pushCount === 1) this.pushDue = at;
  }

  /** How long a withheld ACK waits for the backup before its bytes are pushed: PUSH_MS … PUSH_MAX_MS. */
  private pushTimeout(): number {
    const t = this.confirmSrtt + 4 * this.confirmVar;
    return t < PUSH_MS ? PUSH_MS : t > PUSH_MAX_MS ? PUSH_MAX_MS : t;
  }

  /**
   * Primary: the backup of connection (local, remote) holds every client byte
   * below `seq`. Returns false when it is no connection of this node.
   */
  backupHave(localIp: number, localPort: number, remoteIp: number, remotePort: number, seq: number, now: number): boolean {
    const id = this.find(localIp, localPort, remoteIp, remotePort);
    if (id < 0 || this.isShadow(id)) {
      this.trace?.(`have-in ${remotePort} ${seq >>> 0} for no connection`, -1);
      return false;
    }
    const u = this.u;
    const base = id * RECORD_WORDS;
    this.stats[Stat.HAVES_IN]! += 1;
    this.trace?.(`have-in ${seq >>> 0} ack-sent ${u[base + W.LAST_ACK_SENT]}`, id);
    // Sanity: nothing beyond what the client may send (the receive buffer's reach).
    if (seqGt(seq, (u[base + W.RCV_NXT]! + u[base + W.RCV_BUF_BYTES]!) >>> 0)) return true;
    const fl = this.haveFlags[id]!;
    if ((fl & 1) === 0 || seqGt(seq, this.backupHas[id]!)) {
      if ((fl & 2) !== 0 && this.pushStart[id]! >= 0 && !seqLt(seq, u[base + W.RCV_NXT]!)) {
        // Everything withheld confirmed, with no push in between (Karn): a sample of the backup's delay.
        if (this.pushTries[id] === 0) {
          const d = now - this.pushStart[id]!;
          if (this.confirmSrtt === 0) {
            this.confirmSrtt = d;
            this.confirmVar = d / 2;
          } else {
            this.confirmVar += (Math.abs(this.confirmSrtt - d) - this.confirmVar) / 4;
            this.confirmSrtt += (d - this.confirmSrtt) / 8;
          }
        }
        this.pushStart[id] = -1;
      }
      this.backupHas[id] = seq;
      this.haveFlags[id] = fl | 1;
      if (seqGt(seq, u[base + W.LAST_ACK_SENT]!)) {
        this.now = now;
        u[base + W.FLAGS] |= Flag.ACK_NOW;
        this.markDirty(id);
      }
    }
    return true;
  }

  /**
   * Primary: for each connection whose ACK has been withheld PUSH_MS without
   * news from the backup, calls `send(localIp, localPort, remoteIp,
   * remotePort, from, to)` to push client bytes [from, to) to it again; the
   * pushes of one connection back off while its backup confirms nothing new.
   */
  takePushes(now: number, send: (localIp: number, localPort: number, remoteIp: number, remotePort: number, from: number, to: number) => void): void {
    if (this.pushCount === 0 || now < this.pushDue) return;
    const u = this.u;
    const q = this.pushQueue;
    const dueAt = this.pushAt;
    let w = 0;
    let due = Infinity;
    let budget = PUSH_BUDGET;
    for (let i = 0; i < this.pushCount; i++) {
      const id = q[i]!;
      const base = id * RECORD_WORDS;
      let keep = u[base + W.STATE] !== State.CLOSED && this.withholds(id);
      let from = 0;
      if (keep) {
        from = this.confirmed(id);
        keep = seqLt(from, u[base + W.RCV_NXT]!);
      }
      if (!keep) {
        this.haveFlags[id] = this.haveFlags[id]! & ~2;
        continue;
      }
      // All confirmed and nothing withheld since: no push (the next withholding restarts the clock).
      if (this.pushStart[id]! < 0) {
        q[w++] = id;
        continue;
      }
      let at = dueAt[id]!;
      if (now >= at && budget > 0) {
        budget--;
        const nxt = u[base + W.RCV_NXT]!;
        const end = (u[base + W.FLAGS]! & Flag.FIN_RCVD) !== 0 ? (nxt - 1) >>> 0 : nxt;
        if (seqLt(from, end)) send(u[base + W.LOCAL_IP]!, u[base + W.LOCAL_PORT]!, u[base + W.REMOTE_IP]!, u[base + W.REMOTE_PORT]!, from, end);
        this.stats[Stat.PUSHES]! += 1;
        // The backup confirmed something since the last push: it is alive and reading, no backoff.
        let tries = from !== this.pushFrom[id] ? 0 : this.pushTries[id]!;
        if (tries < PUSH_MAX_SHIFT) tries++;
        this.pushTries[id] = tries;
        this.pushFrom[id] = from;
        const wait = this.pushTimeout() * (1 << tries);
        at = now + (wait < PUSH_BACKOFF_MAX_MS ? wait : PUSH_BACKOFF_MAX_MS);
      }
      q[w++] = id;
      dueAt[id] = at;
      if (at < due) due = at;
    }
    this.pushCount = w;
    this.pushDue = due;
  }

  /** Backup: shadow `id` took client bytes; confirm what it holds to the primary (takeRepairs, kind REPAIR_HAVE). */
  private queueHave(id: number): void {
    const fl = this.haveFlags[id]!;
    if ((fl & 4) !== 0 || this.haveCount >= this.haveQueue.length) return;
    this.haveFlags[id] = fl | 4;
    this.haveQueue[this.haveCount++] = id;
  }

  // ---------------------------------------------------------------- shadows (service mode snoop)
  //
  // A backup keeps, for every connection of an address it would take over, a
  // shadow: a record in this same table, marked Flag.SHADOW, built from the
  // segments it observes (a hub segment in promiscuous mode, or copies the
  // primary mirrors to it) and never sent from. Client → primary segments go
  // through the ordinary arrival code (sequence checks, reassembly, SACK
  // scoreboard, RTT and congestion state from the client's ACKs); primary →
  // client segments tell the shadow what the primary has acknowledged (its
  // application is fed exactly those bytes), what it has sent (compared with
  // the shadow application's output byte for byte), its window and its
  // timestamp clock. The shadow application runs on an ordinary socket; its
  // output waits in the send buffer until the client acknowledges it.
  // promoteShadow() turns a shadow into a live connection at a takeover.

  /**
   * One observed segment of a connection on an address this node shadows.
   * `fromClient`: addressed to the shadowed address (client → primary);
   * otherwise sent from it (primary → client). Nothing is ever sent in
   * answer. The frame's slot stays the caller's.
   */
  snoop(b: Uint8Array, m: FrameMeta, fromClient: boolean, poller: number, now: number): void {
    this.now = now;
    this.stats[Stat.SNOOPED]! += 1;
    const id = fromClient
      ? this.flows.lookup(m.hash, m.srcIp, m.dstIp, m.srcPort, m.dstPort, IP_PROTO_TCP)
      : this.flows.lookup(m.hash, m.dstIp, m.srcIp, m.dstPort, m.srcPort, IP_PROTO_TCP);
    if (id < 0) {
      if (fromClient && (m.tcpFlags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) === TCP_FLAG_SYN) {
        this.shadowOpen(b, m, poller, now);
        return;
      }
      this.stats[Stat.SNOOP_UNKNOWN]! += 1;
      // A connection whose start this node missed (a lost SYN, a backup that
      // came up or took the role later): its primary sends a copy of the record.
      if ((m.tcpFlags & TCP_FLAG_RST) === 0 && (m.tcpFlags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) !== TCP_FLAG_SYN) {
        if (fromClient) this.askCopy(m.hash, m.dstIp, m.dstPort, m.srcIp, m.srcPort, now);
        else this.askCopy(m.hash, m.srcIp, m.srcPort, m.dstIp, m.dstPort, now);
      }
      return;
    }
    // A connection this node serves itself (promoted already): not a shadow any more.
    if ((this.u[id * RECORD_WORDS + W.FLAGS]! & Flag.SHADOW) === 0) return;
    // Client bytes are never cut short on purpose: one that was is a lost frame (the gap is repaired).
    if (fromClient && m.trimmed !== 0) return;
    if (fromClient) {
      // Queued before the segment is taken as well: a FIN that closes the
      // shadow (FIN-WAIT-2) frees it in there, and only a HAVE queued by then
      // leaves a late HAVE of it — the primary withholds that FIN's ACK.
      if ((m.payloadLen > 0 || (m.tcpFlags & TCP_FLAG_FIN) !== 0) && this.shadowPhase[id] === 2) this.queueHave(id);
      this.shadowFromClient(id, b, m, now);
      // Client bytes (new or again): tell the primary what this backup holds, so it may acknowledge them.
      if ((m.payloadLen > 0 || (m.tcpFlags & TCP_FLAG_FIN) !== 0) && this.shadowPhase[id] === 2) this.queueHave(id);
    } else {
      this.shadowFromServer(id, m, b, now);
    }
    this.afterInput(id);
  }

  /** A client's SYN to a snoop service on a shadowed address: a new shadow, waiting for the primary's SYN-ACK. */
  private shadowOpen(b: Uint8Array, m: FrameMeta, poller: number, now: number): void {
    const li = this.findListener(m.dstIp, m.dstPort);
    if (li < 0 || !this.listeners[li]!.snoop) {
      this.stats[Stat.SNOOP_UNKNOWN]! += 1;
      return;
    }
    const id = this.flows.lookupOrInsert(m.hash, m.srcIp, m.dstIp, m.srcPort, m.dstPort, IP_PROTO_TCP);
    if (id < 0) {
      this.stats[Stat.TABLE_FULL]! += 1;
      return;
    }
    this.openRecord(id, b, m, poller, li, now);
    const u = this.u;
    const base = id * RECORD_WORDS;
    u[base + W.STATE] = State.SYN_RECEIVED;
    u[base + W.FLAGS] = Flag.PASSIVE | Flag.SHADOW;
    this.setIrs(id, m.seq);
    this.halfOpen++;
    this.shadowPhase[id] = 1;
    this.shadowAcked[id] = (m.seq + 1) >>> 0;
    const o = id * SHADOW_SYN_WORDS;
    const syn = this.shadowSyn;
    syn[o] = m.mss;
    syn[o + 1] = m.wscale;
    syn[o + 2] = m.sackPermitted;
    syn[o + 3] = m.tsPresent;
    syn[o + 4] = m.tsVal | 0;
    syn[o + 5] = m.window;
    this.stats[Stat.SHADOW_OPENS]! += 1;
  }

  /** Client → primary: the ordinary arrival code, output suppressed. */
  private shadowFromClient(id: number, b: Uint8Array, m: FrameMeta, now: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const fl = m.tcpFlags;
    if (this.shadowPhase[id] === 1) {
      // The primary's SYN-ACK was not seen: its options (window scale, MSS,
      // timestamps) are unknown until the primary repeats them (a handshake
      // repair: from = to = IRS + 1). Until then client segments are only
      // counted; the bytes they carried come back as gaps to repair.
      if ((fl & TCP_FLAG_SYN) !== 0 && (fl & TCP_FLAG_ACK) === 0) return; // a retransmitted SYN
      // An ACK of the cluster's ISS: the handshake is known after all, and this segment goes on as any other.
      const derived = (fl & (TCP_FLAG_ACK | TCP_FLAG_RST | TCP_FLAG_SYN)) === TCP_FLAG_ACK && this.synthesizeSynAck(id, m, now);
      if (!derived) {
        // The client answered the primary's SYN-ACK: its ACK tells the primary's
        // ISS, so a takeover before the repair can at least reset it at once.
        if ((fl & TCP_FLAG_ACK) !== 0 && (fl & TCP_FLAG_RST) === 0 && u[base + W.SND_MAX] === 0) {
          u[base + W.SND_NXT] = m.ack;
          u[base + W.SND_MAX] = m.ack;
        }
        this.queueRepair(id, now);
        return;
      }
    }
    // The client acknowledges what the primary sent; frames of the primary
    // this node missed are known sent from that alone. Too far ahead (or past
    // the FIN the application queued), this shadow lost track: not exact any
    // more, and a copy of the primary's record is asked for.
    if ((fl & TCP_FLAG_ACK) !== 0 && seqGt(m.ack, u[base + W.SND_MAX]!) && !this.catchUpOutput(id, m.ack, CATCH_UP_MAX)) {
      if ((u[base + W.FLAGS]! & Flag.DIVERGED) === 0) this.stats[Stat.SHADOW_LOST_TRACK]! += 1;
      u[base + W.FLAGS] |= Flag.DIVERGED;
      this.askCopyOf(id, now);
    }
    this.inputSynchronized(id, b, m, now);
  }

  /** The client has output up to `ack` this application has not written yet: SND_END moves there, and those bytes are dropped when written. */
  private skipOutputTo(id: number, ack: number): void {
    const base = id * RECORD_WORDS;
    const add = (ack - this.u[base + W.SND_END]!) >>> 0;
    if (this.trace !== null && (this.u[base + W.FLAGS]! & (Flag.SHADOW | Flag.PROMOTED)) !== Flag.SHADOW) this.trace(`skip+${add}`, id);
    this.shadowSkip[id] = this.shadowSkip[id]! + add;
    this.skipAdded[id] = this.skipAdded[id]! + add;
    this.u[base + W.SND_END] = ack;
  }

  /**
   * How far a promoted connection's output may catch up to this client ACK:
   * CATCH_UP_MAX_PROMOTED when the ACK echoes a timestamp newer than any its
   * old holder was seen to send and not newer than this node's clock (the
   * client answers output sent since: a blind ACK cannot know that value),
   * CATCH_UP_MAX otherwise.
   */
  private catchUpReach(id: number, m: FrameMeta, now: number): number {
    const base = id * RECORD_WORDS;
    const u = this.u;
    const fresh = (u[base + W.FLAGS]! & Flag.TS_OK) !== 0 && m.tsPresent !== 0 && seqGt(m.tsEcr, this.tsSeen[id]!) &&
      seqLe(m.tsEcr, tsClock(now, u[base + W.TS_OFFSET]!));
    return fresh ? CATCH_UP_MAX_PROMOTED : CATCH_UP_MAX;
  }

  /**
   * A shadow (or a connection promoted from one) whose client acknowledges
   * output past SND_MAX: the primary sent it and this node did not see it go.
   * This node's output moves up to `ack`; application bytes below it that
   * are not written yet are dropped when they are (shadowSkip), since the
   * client has them. Only within `max` of SND_UNA, and never past a queued
   * FIN. Returns whether `ack` is within SND_MAX now.
   */
  private catchUpOutput(id: number, ack: number, max: number): boolean {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const finQueued = (u[base + W.FLAGS]! & Flag.FIN_QUEUED) !== 0;
    const end = u[base + W.SND_END]!;
    const limit = finQueued ? (end + 1) >>> 0 : end;
    if (!seqLe(ack, (u[base + W.SND_UNA]! + max) >>> 0) || (finQueued && seqGt(ack, limit))) return false;
    if ((u[base + W.FLAGS]! & (Flag.SHADOW | Flag.PROMOTED)) === Flag.SHADOW) {
      // The primary's output the client has and this node never saw go (a FIN is no output byte).
      const unseen = (ack - u[base + W.SND_MAX]!) >>> 0;
      this.stats[Stat.SHADOW_BYTES_UNSEEN]! += finQueued && ack === limit && (u[base + W.FLAGS]! & Flag.FIN_SENT) === 0 ? unseen - 1 : unseen;
    }
    if (seqGt(ack, limit)) {
      this.skipOutputTo(id, ack);
      if (seqGt(ack, u[base + W.SND_UNA]!)) {
        // Acknowledged up to `ack` too: the skipped bytes never enter the
        // ring, and SND_END − SND_UNA must stay within it even if the segment
        // is then dropped (a record spanning more cannot be imported anywhere).
        u[base + W.SND_UNA] = ack;
        if (seqLt(u[base + W.RTX_NEXT]!, ack)) u[base + W.RTX_NEXT] = ack;
        sackTrim(u, base, ack);
        u[base + W.RTX_COUNT] = 0;
        this.markDirty(id);
      }
    }
    u[base + W.SND_MAX] = ack;
    if (seqLt(u[base + W.SND_NXT]!, ack)) u[base + W.SND_NXT] = ack;
    if (finQueued && ack === limit) u[base + W.FLAGS] |= Flag.FIN_SENT;
    return true;
  }

  /** Primary → client: what the primary acknowledged, sent, advertised and timestamped. */
  private shadowFromServer(id: number, m: FrameMeta, b: Uint8Array, now: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const fl = m.tcpFlags;
    if ((fl & TCP_FLAG_RST) !== 0) {
      // The primary reset it; so would this node.
      this.closeConnection(id, true);
      return;
    }
    if (this.shadowPhase[id] === 1) {
      if ((fl & (TCP_FLAG_SYN | TCP_FLAG_ACK)) === (TCP_FLAG_SYN | TCP_FLAG_ACK) && m.ack === ((u[base + W.IRS]! + 1) >>> 0)) this.shadowSynAck(id, m, now);
      return;
    }
    if ((fl & TCP_FLAG_SYN) !== 0) return; // a retransmitted SYN-ACK
    let flags = u[base + W.FLAGS]!;
    if ((flags & Flag.TS_OK) !== 0 && m.tsPresent !== 0) {
      if (seqGt(m.tsVal, tsClock(now, u[base + W.TS_OFFSET]!))) {
        // Keep this node's TSval clock at or past the primary's: monotonic across a takeover.
        u[base + W.TS_OFFSET] = (m.tsVal - Math.floor(now)) >>> 0;
      }
      if (seqGt(m.tsVal, this.tsSeen[id]!)) this.tsSeen[id] = m.tsVal;
    }
    if ((fl & TCP_FLAG_ACK) !== 0 && seqGt(m.ack, this.shadowAcked[id]!)) {
      const ack = m.ack;
      this.shadowAcked[id] = ack;
      u[base + W.LAST_ACK_SENT] = ack;
      if (u[base + W.STATE] === State.TIME_WAIT && !seqLt(ack, u[base + W.RCV_NXT]!)) {
        // The primary acknowledged the client's FIN: nothing left to take over.
        this.closeConnection(id, false);
        return;
      }
      if (seqGt(ack, u[base + W.RCV_NXT]!)) {
        this.stats[Stat.SHADOW_GAPS]! += 1;
        this.queueRepair(id, now);
      }
      // The primary's advertised right edge, as far as this node's buffer reaches.
      const shift = u[base + W.RCV_SHIFT]!;
      let edge = (ack + m.window * 2 ** shift) >>> 0;
      const cap = (u[base + W.RCV_READ]! + u[base + W.RCV_BUF_BYTES]!) >>> 0;
      if (seqGt(edge, cap)) edge = cap;
      if (seqGt(edge, u[base + W.RCV_ADV]!)) u[base + W.RCV_ADV] = edge;
      // Feed the application now, so that its answer exists when the primary's (maybe in this very segment) is compared.
      const sock = this.sockets[id];
      if (sock !== null && sock !== undefined) {
        this.movePending(id, sock);
        this.deliver(id, sock);
        if (u[base + W.STATE] === State.CLOSED) return;
      }
    }
    const len = m.payloadLen;
    let seq = m.seq;
    if (len > 0) {
      // Output the application has room to make and has not made yet (its
      // 'drain' waits for the next flush; the client's ACK freed the room):
      // made now, so the primary's bytes are compared, not passed unchecked.
      const sock = this.sockets[id];
      if (sock !== null && sock !== undefined && sock.needDrain && seqLt(u[base + W.SND_END]!, (seq + len) >>> 0)) {
        this.movePending(id, sock);
        if (u[base + W.STATE] === State.CLOSED) return;
      }
      this.shadowCompare(id, b, m.payloadOff, seq, len, m.trimmed !== 0);
      flags = u[base + W.FLAGS]!;
      const end = (seq + len) >>> 0;
      if (seqGt(end, u[base + W.SND_MAX]!)) {
        // The primary's output between what this node last saw and this segment went by unseen.
        if (seqGt(seq, u[base + W.SND_MAX]!)) this.stats[Stat.SHADOW_BYTES_UNSEEN]! += (seq - u[base + W.SND_MAX]!) >>> 0;
        if ((flags & Flag.TS_OK) === 0 && this.f[recordF64(id) + F.RTT_TIME] === 0) {
          // Time a segment (Karn) as the primary would: the client's ACK gives an RTT sample.
          u[base + W.RTT_SEQ] = seq;
          this.f[recordF64(id) + F.RTT_TIME] = now;
        }
        u[base + W.SND_MAX] = end;
        u[base + W.SND_NXT] = end;
      }
      seq = end;
    }
    if ((fl & TCP_FLAG_FIN) !== 0 && (flags & Flag.FIN_QUEUED) !== 0 && seq === u[base + W.SND_END]) {
      u[base + W.FLAGS] = flags | Flag.FIN_SENT;
      const after = (seq + 1) >>> 0;
      if (seqGt(after, u[base + W.SND_MAX]!)) {
        u[base + W.SND_MAX] = after;
        u[base + W.SND_NXT] = after;
      }
    }
  }

  /**
   * The primary acknowledged client bytes this shadow never saw (a snooped or
   * mirrored frame was lost), or its SYN-ACK was never seen: ask the primary
   * for [RCV_NXT, its ACK) while it still holds them in its receive buffer,
   * or for its handshake. At most one request per connection per
   * REPAIR_INTERVAL_MS; takeRepairs() reads the range when the worker sends.
   */
  private queueRepair(id: number, now: number): void {
    const at = this.shadowRepairAt[id]!;
    if ((at !== 0 && now - at < REPAIR_INTERVAL_MS) || this.repairCount >= this.repairQueue.length) return;
    this.shadowRepairAt[id] = now;
    this.repairQueue[this.repairCount++] = id;
  }

  /**
   * Queues a request for a copy of connection (local, remote)'s record from
   * its primary, if the connection is a snoop service's and was not asked
   * about within COPY_INTERVAL_MS.
   */
  private askCopy(hash: number, localIp: number, localPort: number, remoteIp: number, remotePort: number, now: number): void {
    const li = this.findListener(localIp >>> 0, localPort);
    if (li < 0 || !this.listeners[li]!.snoop || this.copyCount >= COPY_QUEUE) return;
    const recent = this.copyAskedAt;
    const at = recent.get(hash);
    if (at !== undefined && now - at < COPY_INTERVAL_MS) return;
    if (recent.size >= COPY_RECENT_MAX) recent.clear();
    recent.set(hash, now);
    this.trace?.(`ask-copy ${remotePort}`, -1);
    const q = this.copyQueue;
    const o = this.copyCount++ * 4;
    q[o] = localIp;
    q[o + 1] = localPort;
    q[o + 2] = remoteIp;
    q[o + 3] = remotePort;
    this.stats[Stat.COPIES_ASKED]! += 1;
  }

  /** Shadow `id` cannot be made exact from what this node sees (it diverged): ask for the primary's record. */
  private askCopyOf(id: number, now: number): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const li = u[base + W.LOCAL_IP]!;
    const lp = u[base + W.LOCAL_PORT]!;
    const ri = u[base + W.REMOTE_IP]!;
    const rp = u[base + W.REMOTE_PORT]!;
    this.askCopy(flowHash(ri, li, rp, lp, IP_PROTO_TCP), li, lp, ri, rp, now);
  }

  /**
   * Drains the repair requests: calls `send(localIp, localPort, remoteIp,
   * remotePort, from, to, kind)` for each gap still open (kind REPAIR_BYTES;
   * from = to: the handshake) and each record copy wanted (kind
   * REPAIR_RECORD). Returns how many.
   */
  takeRepairs(send: (localIp: number, localPort: number, remoteIp: number, remotePort: number, from: number, to: number, kind: number) => void): number {
    const q = this.repairQueue;
    const u = this.u;
    let n = 0;
    const c = this.copyQueue;
    for (let i = 0; i < this.copyCount; i++) {
      const o = i * 4;
      // It may have become known since (a retransmitted SYN, a repair).
      const known = this.find(c[o]!, c[o + 1]!, c[o + 2]!, c[o + 3]!);
      if (known >= 0 && (!this.isShadow(known) || this.shadowExact(known))) continue;
      send(c[o]!, c[o + 1]!, c[o + 2]!, c[o + 3]!, 0, 0, REPAIR_RECORD);
      n++;
    }
    this.copyCount = 0;
    const hq = this.haveQueue;
    for (let i = 0; i < this.haveCount; i++) {
      const id = hq[i]!;
      this.haveFlags[id] = this.haveFlags[id]! & ~4;
      const base = id * RECORD_WORDS;
      if (u[base + W.STATE] === State.CLOSED || (u[base + W.FLAGS]! & Flag.SHADOW) === 0 || this.shadowPhase[id] !== 2) continue;
      send(u[base + W.LOCAL_IP]!, u[base + W.LOCAL_PORT]!, u[base + W.REMOTE_IP]!, u[base + W.REMOTE_PORT]!, u[base + W.RCV_NXT]!, 0, REPAIR_HAVE);
      this.trace?.('have-out', id);
      this.stats[Stat.HAVES_OUT]! += 1;
      n++;
    }
    this.haveCount = 0;
    const lh = this.lateHaves;
    for (let i = 0; i < this.lateHaveCount; i++) {
      const o = i * 5;
      send(lh[o]!, lh[o + 1]!, lh[o + 2]!, lh[o + 3]!, lh[o + 4]!, 0, REPAIR_HAVE);
      this.trace?.(`late-have-out ${lh[o + 3]} ${lh[o + 4]}`, -1);
      this.stats[Stat.HAVES_OUT]! += 1;
      n++;
    }
    this.lateHaveCount = 0;
    for (let i = 0; i < this.repairCount; i++) {
      const id = q[i]!;
      const base = id * RECORD_WORDS;
      if (u[base + W.STATE] === State.CLOSED || (u[base + W.FLAGS]! & Flag.SHADOW) === 0) continue;
      if (this.shadowPhase[id] === 1) {
        const h = (u[base + W.IRS]! + 1) >>> 0;
        send(u[base + W.LOCAL_IP]!, u[base + W.LOCAL_PORT]!, u[base + W.REMOTE_IP]!, u[base + W.REMOTE_PORT]!, h, h, REPAIR_BYTES);
        n++;
        continue;
      }
      const from = u[base + W.RCV_NXT]!;
      const to = this.shadowAcked[id]!;
      if (!seqGt(to, from)) continue;
      send(u[base + W.LOCAL_IP]!, u[base + W.LOCAL_PORT]!, u[base + W.REMOTE_IP]!, u[base + W.REMOTE_PORT]!, from, to, REPAIR_BYTES);
      n++;
    }
    this.repairCount = 0;
    return n;
  }

  /**
   * The primary's side of a repair: client bytes [from, to) of one of its
   * connections, as still held in its receive buffer (consumed bytes stay
   * there until newer ones overwrite them). Calls `chunk(ring, ringIndex,
   * seq, len)` for each contiguous run (at most `max` bytes each; the ring is
   * passed so no copy is made) and returns the connection id, or -1 when the
   * bytes are gone or it is not a connection of this node. Also fills
   * `info`: [remote MAC hi, remote MAC lo, SND_UNA, window field, poller].
   */
  repairSource(localIp: number, localPort: number, remoteIp: number, remotePort: number, from: number, to: number, max: number,
    info: Uint32Array, chunk: (ring: Uint8Array, index: number, seq: number, len: number) => void): number {
    const id = this.find(localIp, localPort, remoteIp, remotePort);
    if (id < 0) return -1;
    const u = this.u;
    const base = id * RECORD_WORDS;
    const ring = this.rcv[id];
    if (ring === null || ring === undefined || (u[base + W.FLAGS]! & Flag.SHADOW) !== 0) return -1;
    const rcvNxt = u[base + W.RCV_NXT]!;
    const dataEnd = (u[base + W.FLAGS]! & Flag.FIN_RCVD) !== 0 ? (rcvNxt - 1) >>> 0 : rcvNxt;
    let end = seqGt(to, dataEnd) ? dataEnd : to;
    // Bytes one buffer behind the highest byte received (in order or not) have been overwritten.
    let high = rcvNxt;
    for (let k = 0; k < u[base + W.OOO_COUNT]!; k++) high = seqMax(high, u[base + W.OOO_BASE + 2 * k + 1]!);
    if (seqLt(from, (high - ring.length) >>> 0) || seqLt(from, (u[base + W.IRS]! + 1) >>> 0) || !seqLt(from, end)) return -1;
    info[0] = u[base + W.REMOTE_MAC_HI]!;
    info[1] = u[base + W.REMOTE_MAC_LO]!;
    info[2] = u[base + W.SND_UNA]!;
    info[3] = Math.min(0xffff, Math.floor(u[base + W.SND_WND]! / 2 ** u[base + W.SND_SHIFT]!));
    info[4] = u[base + W.POLLER]!;
    const mask = ring.length - 1;
    let seq = from;
    while (seqLt(seq, end)) {
      const i = seq & mask;
      const n = Math.min((end - seq) | 0, max, ring.length - i);
      chunk(ring, i, seq, n);
      seq = (seq + n) >>> 0;
    }
    end = seq;
    this.stats[Stat.REPAIRS_SERVED]! += 1;
    return id;
  }

  /**
   * The primary's side of a handshake repair: what its SYN-ACK carried, for
   * a backup that missed it. Fills `out`: [ISS, IRS, MSS, window shift (-1
   * none), SACK permitted, timestamps (0/1), TSval now, TSecr, remote MAC hi,
   * lo, poller]. False when this is no connection of this node.
   */
  handshakeSource(localIp: number, localPort: number, remoteIp: number, remotePort: number, now: number, out: Int32Array): boolean {
    const id = this.find(localIp, localPort, remoteIp, remotePort);
    if (id < 0) return false;
    const u = this.u;
    const base = id * RECORD_WORDS;
    const flags = u[base + W.FLAGS]!;
    if ((flags & Flag.SHADOW) !== 0 || (flags & Flag.PASSIVE) === 0) return false;
    out[0] = u[base + W.ISS]! | 0;
    out[1] = u[base + W.IRS]! | 0;
    out[2] = u[base + W.RCV_MSS]!;
    out[3] = (flags & Flag.WS_OK) !== 0 ? u[base + W.RCV_SHIFT]! : -1;
    out[4] = (flags & Flag.SACK_OK) !== 0 ? 1 : 0;
    out[5] = (flags & Flag.TS_OK) !== 0 ? 1 : 0;
    out[6] = tsClock(now, u[base + W.TS_OFFSET]!) | 0;
    out[7] = u[base + W.TS_RECENT]! | 0;
    out[8] = u[base + W.REMOTE_MAC_HI]! | 0;
    out[9] = u[base + W.REMOTE_MAC_LO]! | 0;
    out[10] = u[base + W.POLLER]! | 0;
    this.stats[Stat.REPAIRS_SERVED]! += 1;
    return true;
  }

  /**
   * A shadow that saw the client's SYN but not the primary's SYN-ACK, and now
   * the client's ACK of it: passive ISS is F_k(4-tuple) + the client's ISN
   * with k the cluster's (SequenceSecrets.passiveIsn), so when the ACK
   * acknowledges exactly that ISS, the primary answered as this node would
   * have — the same ISS, and options from the same tcp configuration (a
   * cluster's nodes share it) — and the ACK's TSecr is the SYN-ACK's TSval.
   * The handshake is taken as seen, without waiting for a repair: a takeover
   * in between reset such connections (1 % of a backup's frames lost, a
   * snoop kill loop). A SYN cookie's ISS does not match: the repair stays.
   */
  private synthesizeSynAck(id: number, m: FrameMeta, now: number): boolean {
    const c = this.config;
    const u = this.u;
    const base = id * RECORD_WORDS;
    const iss = (m.ack - 1) >>> 0;
    const irs = u[base + W.IRS]!;
    if (this.secrets.passiveIsn(u[base + W.LOCAL_IP]!, u[base + W.LOCAL_PORT]!, u[base + W.REMOTE_IP]!, u[base + W.REMOTE_PORT]!, irs) !== iss) return false;
    const o = id * SHADOW_SYN_WORDS;
    const syn = this.shadowSyn;
    const f = this.synth;
    f.seq = iss;
    f.ack = (irs + 1) >>> 0;
    f.window = Math.min(c.recvBuffer, 0xffff);
    f.mss = c.mss;
    f.wscale = c.windowScale && syn[o + 1]! >= 0 ? this.ourWindowShift() : -1;
    f.sackPermitted = c.sack && syn[o + 2] !== 0 ? 1 : 0;
    f.tsPresent = c.timestamps && syn[o + 3] !== 0 && m.tsPresent !== 0 ? 1 : 0;
    f.tsVal = m.tsEcr;
    this.shadowSynAck(id, f, now);
    this.stats[Stat.SHADOW_HANDSHAKES_DERIVED]! += 1;
    return true;
  }

  /** The primary's SYN-ACK: its ISS and options complete the shadow's handshake view. */
  private shadowSynAck(id: number, m: FrameMeta, now: number): void {
    const c = this.config;
    const u = this.u;
    const base = id * RECORD_WORDS;
    const o = id * SHADOW_SYN_WORDS;
    const syn = this.shadowSyn;
    this.setIss(id, m.seq);
    u[base + W.SND_NXT] = (m.seq + 1) >>> 0;
    u[base + W.SND_MAX] = (m.seq + 1) >>> 0;
    let flags = u[base + W.FLAGS]!;
    if (syn[o + 1]! >= 0 && m.wscale >= 0) {
      flags |= Flag.WS_OK;
      u[base + W.SND_SHIFT] = Math.min(syn[o + 1]!, TCP_MAX_WSCALE);
      u[base + W.RCV_SHIFT] = Math.min(m.wscale, TCP_MAX_WSCALE);
    }
    if (syn[o + 2] !== 0 && m.sackPermitted !== 0) flags |= Flag.SACK_OK;
    if (syn[o + 3] !== 0 && m.tsPresent !== 0) {
      flags |= Flag.TS_OK;
      u[base + W.TS_RECENT] = syn[o + 4]! >>> 0;
      this.f[recordF64(id) + F.TS_RECENT_AGE] = now;
      // This node's TSval clock runs in step with the primary's.
      u[base + W.TS_OFFSET] = (m.tsVal - Math.floor(now)) >>> 0;
    } else {
      u[base + W.TS_OFFSET] = this.secrets.tsOffset(u[base + W.LOCAL_IP]!, u[base + W.LOCAL_PORT]!, u[base + W.REMOTE_IP]!, u[base + W.REMOTE_PORT]!);
    }
    u[base + W.FLAGS] = flags;
    let sndMss = syn[o]! > 0 ? syn[o]! : DEFAULT_SND_MSS;
    if (sndMss > c.mss) sndMss = c.mss;
    if ((flags & Flag.TS_OK) !== 0) sndMss -= 12;
    u[base + W.SND_MSS] = sndMss;
    u[base + W.RCV_MSS] = m.mss > 0 ? m.mss : DEFAULT_SND_MSS;
    u[base + W.CWND] = initialWindow(sndMss);
    u[base + W.SSTHRESH] = 0x3fffffff;
    // Windows of SYN segments are not scaled (RFC 7323 §2.2).
    u[base + W.SND_WND] = syn[o + 5]!;
    u[base + W.MAX_SND_WND] = syn[o + 5]!;
    u[base + W.SND_WL1] = u[base + W.IRS]!;
    u[base + W.SND_WL2] = m.seq;
    const edge = (m.ack + m.window) >>> 0;
    u[base + W.RCV_ADV] = edge;
    this.shadowPhase[id] = 2;
  }

  /**
   * Compares primary output [seq, seq+len) with what the shadow application
   * wrote, where both exist. Output the application handed by reference
   * (lazy-output.ts) is read and compared only in sampled segments; in the
   * others only the bytes it wrote are (headers, small files), and the rest
   * is counted unchecked.
   */
  private shadowCompare(id: number, b: Uint8Array, off: number, seq: number, len: number, trimmed: boolean): void {
    const u = this.u;
    const base = id * RECORD_WORDS;
    const una = u[base + W.SND_UNA]!;
    const end = u[base + W.SND_END]!;
    let from = seq;
    let at = off;
    let n = len;
    if (seqLt(from, una)) {
      // Acknowledged already: compared when it first passed, or counted unseen when the client's ACK came first.
      const skip = (una - from) | 0;
      if (skip >= n) return;
      from = una;
      at += skip;
      n -= skip;
    }
    const ring = this.snd[id];
    if (ring === null || ring === undefined) {
      this.stats[Stat.SHADOW_BYTES_AHEAD]! += n;
      return;
    }
    const have = (end - from) | 0;
    if (have < n) {
      // The shadow application has not made them yet: they pass uncompared.
      this.stats[Stat.SHADOW_BYTES_AHEAD]! += have <= 0 ? n : n - have;
      if (have <= 0) return;
      n = have;
    }
    if (trimmed) {
      // A copy cut after its headers (mirror.ts, the TAP snoop filter): nothing to compare.
      this.stats[Stat.SHADOW_BYTES_UNCHECKED]! += n;
      return;
    }
    // Rings are Buffers (initRecord); the frame buffer's Buffer view is made once per buffer.
    const rb = Buffer.isBuffer(ring) ? ring : Buffer.from(ring.buffer, ring.byteOffset, ring.length);
    if (this.frameBytes !== b) {
      this.frameBytes = b;
      this.frameBuffer = Buffer.from(b.buffer, b.byteOffset, b.length);
    }
    const bb = this.frameBuffer!;
    const lazy = this.lazy[id];
    let same: boolean;
    let checked = n;
    if (lazy !== null && lazy !== undefined && !lazy.empty && lazy.overlaps(from, n)) {
      lazy.prune(una);
      if (sampled(seq)) {
        // The shadow's bytes put together (written ones from the ring, referenced ones read), then one memcmp.
        let sc = this.compareScratch;
        if (sc === null || sc.length < n) sc = this.compareScratch = Buffer.allocUnsafe(Math.max(n, 65536));
        const i = from & (ring.length - 1);
        const first = Math.min(n, ring.length - i);
        rb.copy(sc, 0, i, i + first);
        if (first < n) rb.copy(sc, first, 0, n - first);
        same = lazy.read(from, n, null, sc, 0) && sc.compare(bb, at, at + n, 0, n) === 0;
      } else {
        // Only the pieces this application wrote; the referenced ones wait for a sampled segment.
        const gaps = this.gapList;
        const referenced = lazy.gaps(from, n, gaps);
        same = true;
        for (let k = 0; k < gaps.length && same; k += 2) same = this.ringEquals(rb, bb, at + ((gaps[k]! - from) | 0), gaps[k]!, gaps[k + 1]!);
        checked = n - referenced;
        this.stats[Stat.SHADOW_BYTES_UNCHECKED]! += referenced;
      }
    } else {
      same = this.ringEquals(rb, bb, at, from, n);
    }
    if (!same) {
      if ((u[base + W.FLAGS]! & Flag.DIVERGED) === 0) this.stats[Stat.SHADOW_DIVERGED]! += 1;
      u[base + W.FLAGS] |= Flag.DIVERGED;
      this.askCopyOf(id, this.now);
      return;
    }
    this.stats[Stat.SHADOW_BYTES_CHECKED]! += checked;
  }

  /** Send ring bytes [from, from+n) equal frame bytes [at, at+n): a memcmp (the byte loop in JS cost the backup more than the rest of its work). */
  private ringEquals(rb: Buffer, bb: Buffer, at: number, from: number, n: number): boolean {
    const i = from & (rb.length - 1);
    const first = Math.min(n, rb.length - i);
    return rb.compare(bb, at, at + first, i, i + first) === 0 && (first === n || rb.compare(bb, at + first, at + n, 0, n - first) === 0);
  }

  /**
   * Whether shadow `id` can be resumed exactly: its handshake was seen, its
   * application's output matched the primary's, and it holds every client
   * byte the primary acknowledged.
   */
  shadowExact(id: number): boolean {
    const base = id * RECORD_WORDS;
    const u = this.u;
    return this.shadowPhase[id] === 2 && (u[base + W.FLAGS]! & Flag.DIVERGED) === 0 && !seqGt(this.shadowAcked[id]!, u[base + W.RCV_NXT]!);
  }

  /**
   * Takeover: shadow `id` becomes a live connection of this node. The client
   * is prompted at once (an ACK, and the unacknowledged output again), with
   * sequence numbers, windows and timestamps continuing the primary's; RTT and
   * congestion state are what the shadow learnt from the client's ACKs. A
   * shadow that cannot be resumed exactly is reset instead (and counted).
   * Returns false when it was reset.
   */
  promoteShadow(id: number, now: number): boolean {
    const u = this.u;
    const f = this.f;
    const base = id * RECORD_WORDS;
    const fb = recordF64(id);
    this.now = now;
    // Output held by reference is read now: a takeover retransmits it.
    this.materializeLazy(id);
    const exact = this.shadowExact(id);
    let flags = u[base + W.FLAGS]! & ~Flag.SHADOW;
    this.shadowPhase[id] = 0;
    if (!exact) {
      u[base + W.FLAGS] = flags;
      if (u[base + W.ISS] === 0 && u[base + W.SND_MAX] === 0) {
        // Only the client's SYN was seen: nothing the client holds to reset.
        this.stats[Stat.SHADOW_SYNS_DROPPED]! += 1;
        this.closeConnection(id, false);
        return false;
      }
      this.stats[Stat.SHADOW_RESET]! += 1;
      // Never resumed with wrong bytes: the client learns at once.
      this.sendReset(id, now);
      this.abort(id, 'ECONNRESET', 'shadow could not be resumed exactly');
      return false;
    }
    const st = u[base + W.STATE]!;
    // TSval continues from the primary's (the offset followed its clock).
    f[fb + F.T_DELACK] = 0;
    f[fb + F.T_PERSIST] = 0;
    f[fb + F.T_LINGER] = st === State.FIN_WAIT_2 ? now + this.config.finWait2Ms : st === State.TIME_WAIT ? now + this.config.timeWaitMs : 0;
    f[fb + F.T_KEEPALIVE] = st !== State.SYN_RECEIVED && st !== State.TIME_WAIT && this.config.keepaliveIdleMs > 0 ? now + this.config.keepaliveIdleMs : 0;
    flags |= Flag.RESUMED | Flag.ACK_NOW | Flag.PROMOTED;
    flags &= ~Flag.IN_RECOVERY;
    u[base + W.DUPACKS] = 0;
    if (st === State.SYN_RECEIVED) {
      // The handshake was in flight: answer the client's next SYN or ACK as the primary would have.
      u[base + W.FLAGS] = flags;
      f[fb + F.T_RTO] = now + f[fb + F.RTO]!;
    } else {
      // Unacknowledged output goes out again now, not after the client's or our timer.
      if (u[base + W.SND_UNA] !== u[base + W.SND_MAX]) {
        u[base + W.SND_NXT] = u[base + W.SND_UNA]!;
        u[base + W.RTX_NEXT] = u[base + W.SND_UNA]!;
        if (u[base + W.SND_UNA] !== ((u[base + W.SND_END]! + 1) >>> 0)) flags &= ~Flag.FIN_SENT;
        f[fb + F.T_RTO] = now + f[fb + F.RTO]!;
      } else {
        f[fb + F.T_RTO] = 0;
      }
      u[base + W.FLAGS] = flags;
      const avail = (u[base + W.SND_END]! - u[base + W.SND_NXT]!) | 0;
      if (u[base + W.SND_UNA] === u[base + W.SND_MAX] && avail > 0 && u[base + W.SND_WND]! < Math.min(avail, u[base + W.SND_MSS]!) &&
          (st === State.ESTABLISHED || st === State.CLOSE_WAIT)) {
        // Output waits for the window, with nothing in flight to retransmit,
        // and a plain ACK draws no answer: a probe one byte below SND_UNA
        // does — the client's ACK with its window now. The window this shadow
        // last saw may be stale (an update sent while no node answered);
        // otherwise the output would wait for the persist timer.
        this.emitRaw(id, (u[base + W.SND_UNA]! - 1) >>> 0, 0, TCP_FLAG_ACK, now);
      }
    }
    this.stats[Stat.SHADOW_PROMOTED]! += 1;
    this.trace?.('promote', id);
    this.markDirty(id);
    this.rearm(id);
    return true;
  }

  /**
   * Connection `id` resumes here after another node may have served it for a
   * moment (a move whose target died before its verdict): a client ACK of
   * output this node never sent moves its output up (catchUpOutput).
   */
  allowCatchUp(id: number): void {
    this.u[id * RECORD_WORDS + W.FLAGS] |= Flag.PROMOTED;
  }

  /** Takeover of address `ip`: every shadow on it is promoted, or reset (or dropped, a bare handshake). Returns [promoted, not promoted]. */
  promoteShadows(ip: number, now: number): [number, number] {
    let promoted = 0;
    let reset = 0;
    const u = this.u;
    const x = ip >>> 0;
    for (let id = 0; id < this.table.capacity; id++) {
      const base = id * RECORD_WORDS;
      if (u[base + W.STATE] === State.CLOSED || (u[base + W.FLAGS]! & Flag.SHADOW) === 0 || u[base + W.LOCAL_IP] !== x) continue;
      if (this.promoteShadow(id, now)) promoted++;
      else reset++;
    }
    return [promoted, reset];
  }

  /**
   * This node no longer holds `ip`: its live connections on it (or only
   * those of `only`, from liveOn) are dropped without a word to the peer
   * (another node answers for the address now). Shadows stay. Returns how many.
   */
  forgetAddress(ip: number, only: readonly number[] = this.liveOn(ip), movedSince = Infinity): number {
    let n = 0;
    const u = this.u;
    const x = ip >>> 0;
    for (let i = 0; i + 1 < only.length; i += 2) {
      const id = only[i]!;
      const base = id * RECORD_WORDS;
      if (u[base + W.STATE] === State.CLOSED || (u[base + W.FLAGS]! & Flag.SHADOW) !== 0 || u[base + W.LOCAL_IP] !== x || u[base + W.IRS] !== only[i + 1]) continue;
      // The same connection moved here by a record since (liveOn's movedSince): in the slot, with the IRS, of the
      // half-open record it replaced (a client's SYN answered at boot, while the holder served it).
      if (this.movedHereSince(id, movedSince)) continue;
      this.discardConnection(id);
      this.stats[Stat.ADDRESS_LOST_DROPS]! += 1;
      n++;
    }
    return n;
  }

  /**
   * The live connections on `ip` now, as [id, IRS] pairs: given to
   * forgetAddress later, it drops those and nothing that arrived since
   * (records moved here before their address, as a failback moves them).
   * With `movedSince`: not those moved here by a record since then either
   * (setExportedAt) — a handover in progress, whose address follows them.
   */
  liveOn(ip: number, movedSince = Infinity): number[] {
    const out: number[] = [];
    const u = this.u;
    const x = ip >>> 0;
    for (let id = 0; id < this.table.capacity; id++) {
      const base = id * RECORD_WORDS;
      if (u[base + W.STATE] === State.CLOSED || (u[base + W.FLAGS]! & Flag.SHADOW) !== 0 || u[base + W.LOCAL_IP] !== x) continue;
      if (this.movedHereSince(id, movedSince)) continue;
      out.push(id, u[base + W.IRS]!);
    }
    return out;
  }

  /** This node no longer backs up `ip`: its shadows are forgotten. Returns how many. */
  dropShadows(ip: number): number {
    let n = 0;
    const u = this.u;
    const x = ip >>> 0;
    for (let id = 0; id < this.table.capacity; id++) {
      const base = id * RECORD_WORDS;
      if (u[base + W.STATE] === State.CLOSED || (u[base + W.FLAGS]! & Flag.SHADOW) === 0 || u[base + W.LOCAL_IP] !== x) continue;
      this.closeConnection(id, false);
      n++;
    }
    return n;
  }

  /**
   * The connection list for `baton status --connections`: CONN_ROW_WORDS
   * Int32 words per connection into `out` (at most out.length / CONN_ROW_WORDS
   * rows); returns how many. Row: local ip, remote ip, local port << 16 |
   * remote port, state | flags (bit 8 shadow, bit 9 exact), bytes in flight
   * (SND_MAX − SND_UNA), shadow lag (client bytes the primary acknowledged
   * and the shadow lacks), ms since the last segment from the client; then
   * the send side: bytes written and not yet sent (SND_END − SND_NXT), the
   * peer's window, the congestion window, application bytes waiting for
   * buffer space, and (shadows) output bytes still to skip; last, the raw
   * sequence numbers RCV_NXT, SND_UNA and SND_NXT (to read beside a capture),
   * SND_END, the record's flags, the socket's bits (1: waiting for 'drain',
   * 2: ending, 4: paused) and the first CONN_ROW_APP_BYTES of the
   * application's state (what a stuck application thinks it is doing), and
   * the output bytes this node added to the skip (the rest came in a record),
   * and RCV_READ (received bytes below RCV_NXT the application has not read).
   */
  report(out: Int32Array, now: number): number {
    const u = this.u;
    const max = Math.floor(out.length / CONN_ROW_WORDS);
    let n = 0;
    for (let id = 0; id < this.table.capacity && n < max; id++) {
      const base = id * RECORD_WORDS;
      const st = u[base + W.STATE]!;
      if (st === State.CLOSED) continue;
      const shadow = (u[base + W.FLAGS]! & Flag.SHADOW) !== 0;
      const o = n * CONN_ROW_WORDS;
      out[o] = u[base + W.LOCAL_IP]! | 0;
      out[o + 1] = u[base + W.REMOTE_IP]! | 0;
      out[o + 2] = ((u[base + W.LOCAL_PORT]! << 16) | u[base + W.REMOTE_PORT]!) | 0;
      out[o + 3] = st | (shadow ? CONN_SHADOW : 0) | (shadow && this.shadowExact(id) ? CONN_EXACT : 0);
      out[o + 4] = (u[base + W.SND_MAX]! - u[base + W.SND_UNA]!) | 0;
      const gap = shadow ? (this.shadowAcked[id]! - u[base + W.RCV_NXT]!) | 0 : 0;
      out[o + 5] = gap > 0 ? gap : 0;
      out[o + 6] = Math.min(0x7fffffff, Math.max(0, Math.round(now - this.f[recordF64(id) + F.LAST_RECV]!)));
      out[o + 7] = (u[base + W.SND_END]! - u[base + W.SND_NXT]!) | 0;
      out[o + 8] = u[base + W.SND_WND]! | 0;
      out[o + 9] = u[base + W.CWND]! | 0;
      out[o + 10] = this.sockets[id]?.pendingBytes ?? 0;
      out[o + 11] = this.shadowSkip[id]! | 0;
      out[o + 12] = u[base + W.RCV_NXT]! | 0;
      out[o + 13] = u[base + W.SND_UNA]! | 0;
      out[o + 14] = u[base + W.SND_NXT]! | 0;
      out[o + 15] = u[base + W.SND_END]! | 0;
      out[o + 16] = u[base + W.FLAGS]! | 0;
      const sock = this.sockets[id];
      out[o + 17] = sock === null || sock === undefined ? 0 : (sock.needDrain ? 1 : 0) | (sock.ending ? 2 : 0) | ((u[base + W.FLAGS]! & Flag.PAUSED) !== 0 ? 4 : 0);
      const app = this.table.appState(id);
      for (let k = 0; k < CONN_ROW_APP_BYTES / 4; k++) {
        out[o + 18 + k] = (app[4 * k]! | (app[4 * k + 1]! << 8) | (app[4 * k + 2]! << 16) | (app[4 * k + 3]! << 24)) | 0;
      }
      out[o + 26] = Math.min(0x7fffffff, this.skipAdded[id]!);
      out[o + 27] = u[base + W.RCV_READ]! | 0;
      n++;
    }
    return n;
  }

  /** Remembers a connection this node forgot, at its client's ISN and RCV_NXT: the ring staleCopy reads (the oldest of TOMBS goes). */
  private tomb(localIp: number, localPort: number, remoteIp: number, remotePort: number, irs: number, rcvNxt: number): void {
    const o = this.tombNext * 6;
    this.tombNext = (this.tombNext + 1) % TOMBS;
    const t = this.tombs;
    t[o] = localIp;
    t[o + 1] = localPort;
    t[o + 2] = remoteIp;
    t[o + 3] = remotePort;
    t[o + 4] = irs;
    t[o + 5] = rcvNxt;
  }

  /**
   * A copy (its record's `words`) says the connection is over at its holder
   * (TIME-WAIT): remembered as closed at the copy's RCV_NXT, its FIN
   * included, so that an older copy still on its way (exported before the
   * client's FIN, delivered after this one) is refused as stale instead of
   * bringing back a shadow that never sees the end (staleCopy).
   */
  rememberClosed(words: Uint32Array): void {
    this.tomb(words[W.LOCAL_IP]!, words[W.LOCAL_PORT]!, words[W.REMOTE_IP]!, words[W.REMOTE_PORT]!, words[W.IRS]!, words[W.RCV_NXT]!);
  }

  /**
   * Whether a copy (its record's `words`) of a connection this node has no
   * record of predates one this node forgot: the same connection (tuple and
   * the client's ISN), and client bytes below what it held then. Installed,
   * it would lack bytes the client saw acknowledged (a copy that was on its
   * way while the connection moved away from here, or closed).
   */
  staleCopy(words: Uint32Array): boolean {
    const t = this.tombs;
    for (let o = 0; o < t.length; o += 6) {
      if (t[o + 3] !== words[W.REMOTE_PORT] || t[o + 2] !== words[W.REMOTE_IP] || t[o + 1] !== words[W.LOCAL_PORT] ||
          t[o] !== words[W.LOCAL_IP] || t[o + 4] !== words[W.IRS]) continue;
      if (seqLt(words[W.RCV_NXT]!, t[o + 5]!)) return true;
    }
    return false;
  }

  /**
   * Backup: a late HAVE of connection (local, remote) up to `rcvNxt` (its
   * FIN included), for one it keeps no shadow of: a shadow that closed here
   * with a HAVE due, or one a copy says is in TIME-WAIT at its holder (both
   * sides closed, nothing to take over). The holder may then acknowledge the
   * client's FIN, whose ACK it withholds for this backup. False when the late
   * HAVEs are full (the backup asks again on the client's next FIN).
   */
  confirmClosed(localIp: number, localPort: number, remoteIp: number, remotePort: number, rcvNxt: number): boolean {
    if (this.lateHaveCount >= this.lateHaves.length / 5) return false;
    const o = this.lateHaveCount++ * 5;
    this.lateHaves[o] = localIp;
    this.lateHaves[o + 1] = localPort;
    this.lateHaves[o + 2] = remoteIp;
    this.lateHaves[o + 3] = remotePort;
    this.lateHaves[o + 4] = rcvNxt;
    return true;
  }

  /** Whether a record moved connection `id` here at or after `since` (this stack's clock: setExportedAt). */
  private movedHereSince(id: number, since: number): boolean {
    return this.exportedBy[id] !== 0 && this.movedInAt[id]! >= since;
  }

  /** Connection `id` was moved here by a record node `origin` exported at `wallMs` (its clock; handoff: an older copy from it never replaces it), at `now` (this stack's clock: liveOn). */
  setExportedAt(id: number, origin: number, wallMs: number, now: number): void {
    this.exportedBy[id] = origin;
    this.exportedAtMs[id] = wallMs;
    this.movedInAt[id] = now;
  }

  /** When node `origin` exported the record connection `id` was moved here by (its wall ms); 0 when it was not moved here by that node. */
  exportedAt(id: number, origin: number): number {
    return this.exportedBy[id] === origin ? this.exportedAtMs[id]! : 0;
  }

  /** Debugging: connection `id`'s stream positions, skip, flags and application state, one line. */
  describe(id: number): string {
    if (id < 0) return '';
    const u = this.u;
    const base = id * RECORD_WORDS;
    const app = Buffer.from(this.table.appState(id).subarray(0, 32)).toString('hex');
    return `${u[base + W.REMOTE_PORT]} st ${u[base + W.STATE]} fl ${u[base + W.FLAGS]!.toString(16)} rcv ${u[base + W.RCV_READ]}/${u[base + W.RCV_NXT]} ` +
      `snd ${u[base + W.SND_UNA]}/${u[base + W.SND_NXT]}/${u[base + W.SND_END]} skip ${this.shadowSkip[id]} app ${app}`;
  }

  /** The poller (queue) connection `id`'s segments go out on. */
  pollerOf(id: number): number {
    return this.u[id * RECORD_WORDS + W.POLLER]!;
  }

  /** The next client byte this connection (or shadow) expects: what it holds in order below it. */
  rcvNxt(id: number): number {
    return this.u[id * RECORD_WORDS + W.RCV_NXT]!;
  }

  /** Whether record `id` is a shadow (tests, status). */
  isShadow(id: number): boolean {
    return this.u[id * RECORD_WORDS + W.STATE] !== State.CLOSED && (this.u[id * RECORD_WORDS + W.FLAGS]! & Flag.SHADOW) !== 0;
  }
}
