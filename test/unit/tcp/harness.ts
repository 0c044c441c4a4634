// Packet-level TCP test harness (smoltcp's send!/recv! idea): a fake link
// that parses every frame the stack transmits into a Seg, and a peer that
// builds real frames from fields, runs them through the real parser and into
// the stack at an explicit `now`. No clock is ever read.
import * as assert from 'uvu/assert';
import { FrameMeta, parseFrame, VERIFY_ALL, VERIFY_IP_CSUM } from '../../../dataplane/net/frame.js';
import { finishChecksum, segmentTcpFrame, type SegmentSink } from '../../../dataplane/net/segment.js';
import { pseudoHeaderSum } from '../../../dataplane/net/checksum.js';
import { readU16 } from '../../../dataplane/net/byte-order.js';
import { LARGE_MAX_FRAME, LARGE_RUN_SLOTS } from '../../../shm/layout.js';
import { Reason } from '../../../dataplane/net/reason.js';
import { writeEthernet, ETHERTYPE_IPV4 } from '../../../dataplane/net/ethernet.js';
import { IPV4_FLAG_DF, IP_PROTO_TCP, parseIpv4 as parseIp, writeIpv4Header } from '../../../dataplane/net/ipv4.js';
import {
  TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_RST, TCP_FLAG_SYN, TCP_HEADER_LEN,
  tcpChecksumFill, writeTcpHeader, writeTcpOptions,
} from '../../../dataplane/net/tcp.js';
import { flowHash } from '../../../dataplane/net/flow-hash.js';
import type { TcpLink } from '../../../dataplane/tcp/link.js';
import { TcpStack, type TcpConfig } from '../../../dataplane/tcp/stack.js';
import { SequenceSecrets } from '../../../dataplane/tcp/isn.js';
import type { AppSocket, TcpApplication } from '../../../dataplane/app/api.js';

export const SERVER_IP = parseIp('198.18.0.1');
export const CLIENT_IP = parseIp('198.18.0.101');
export const SERVER_MAC = Uint8Array.from([0x02, 0, 0, 0, 0, 0x01]);
export const CLIENT_MAC = Uint8Array.from([0x02, 0, 0, 0, 0, 0x65]);
export const SERVER_PORT = 80;
export const CLIENT_PORT = 40000;
/** The client's initial sequence number in every conversation. */
export const CISN = 0x10000000;

/** A segment as fields. Flags as a string: S A F R P in any order. */
export interface Seg {
  flags: string;
  seq: number;
  ack: number;
  win: number;
  data: Uint8Array;
  mss: number;
  ws: number;
  sackPerm: boolean;
  ts: [number, number] | null;
  sack: [number, number][];
  srcPort: number;
  dstPort: number;
}

export function flagsToString(f: number): string {
  let s = '';
  if (f & TCP_FLAG_SYN) s += 'S';
  if (f & TCP_FLAG_ACK) s += 'A';
  if (f & TCP_FLAG_FIN) s += 'F';
  if (f & TCP_FLAG_RST) s += 'R';
  if (f & TCP_FLAG_PSH) s += 'P';
  return s;
}

function flagsFromString(s: string): number {
  let f = 0;
  for (const c of s) {
    if (c === 'S') f |= TCP_FLAG_SYN;
    else if (c === 'A') f |= TCP_FLAG_ACK;
    else if (c === 'F') f |= TCP_FLAG_FIN;
    else if (c === 'R') f |= TCP_FLAG_RST;
    else if (c === 'P') f |= TCP_FLAG_PSH;
    else throw new Error(`bad flag ${c}`);
  }
  return f;
}

const SLOT = 2048;
const HEADROOM = 128;
/** Large buffers of the offload link: as shm/layout.ts sizes them. */
const LARGE = LARGE_RUN_SLOTS * SLOT;
const LARGE_COUNT = 16;

/** A frame the stack handed to an offloading link, before the "device" cut it. */
export interface Handed {
  /** Frame length (headers included) and the segment size asked for (0: not a large segment). */
  len: number;
  gso: number;
  seq: number;
  payload: number;
}

export class FakeLink implements TcpLink {
  readonly bytes: Uint8Array;
  private readonly free: number[] = [];
  private readonly freeLarge: number[] = [];
  readonly sent: Seg[] = [];
  /** Offload links: every frame as handed over (the wire segments it became are in `sent`). */
  readonly handed: Handed[] = [];
  /** Set to drop every transmitted frame (a dead link). */
  blackhole = false;
  /** Frames refused as by a full tx ring (transmit returns false) while this is above 0; each refusal counts it down. */
  refuse = 0;
  private readonly meta = new FrameMeta();
  private readonly slots: number;
  readonly largeFrame: number;
  readonly csumOffload: boolean;

  /**
   * `offload`: the link plays a TAP with segmentation offload (link.ts): it
   * hands out large buffers, checks that each frame's TCP checksum field holds
   * the pseudo-header sum, and cuts large segments as the kernel would
   * (net/segment.ts) before parsing what reaches the wire.
   */
  constructor(slots = 256, offload = false) {
    this.slots = slots;
    this.bytes = new Uint8Array(slots * SLOT + (offload ? LARGE_COUNT * LARGE : 0));
    for (let i = slots - 1; i >= 0; i--) this.free.push(i);
    if (offload) for (let i = LARGE_COUNT - 1; i >= 0; i--) this.freeLarge.push(slots + i);
    this.largeFrame = offload ? LARGE_MAX_FRAME : 0;
    this.csumOffload = offload;
  }
  allocSlot(): number {
    return this.free.pop() ?? -1;
  }
  allocLarge(): number {
    return this.freeLarge.pop() ?? -1;
  }
  frameStart(slot: number): number {
    return slot < this.slots ? slot * SLOT + HEADROOM : this.slots * SLOT + (slot - this.slots) * LARGE + HEADROOM;
  }
  transmit(slot: number, len: number, poller: number, gsoSize = 0): boolean | void {
    assert.is(poller, 0);
    if (this.refuse > 0) {
      this.refuse--;
      if (slot < this.slots) this.free.push(slot);
      else this.freeLarge.push(slot);
      return false;
    }
    const start = this.frameStart(slot);
    if (this.csumOffload) {
      assert.ok(slot >= this.slots || len <= SLOT - HEADROOM, 'a frame fits its buffer');
      assert.ok(gsoSize === 0 || slot >= this.slots, 'a large segment is in a large buffer');
      const r = parseFrame(this.bytes, start, len, this.meta, VERIFY_IP_CSUM);
      assert.is(r, Reason.OK, `the stack sent a frame that does not parse (reason ${r})`);
      const m = this.meta;
      assert.is(readU16(this.bytes, m.l4Off + 16), pseudoHeaderSum(m.srcIp, m.dstIp, IP_PROTO_TCP, m.l4Len), 'checksum field: the pseudo-header sum');
      if (gsoSize > 0) assert.ok(m.payloadLen > gsoSize, `a large segment (${m.payloadLen}) is longer than its cut size (${gsoSize})`);
      this.handed.push({ len, gso: gsoSize, seq: m.seq, payload: m.payloadLen });
      // The "device": cut (or just finish the checksum), then what the wire sees is parsed as before.
      const sink: SegmentSink = {
        allocSlot: () => this.free.pop() ?? -1,
        frameStart: (s) => this.frameStart(s),
        deliver: (s, n) => this.wire(s, n),
      };
      const pieces = Math.ceil(m.payloadLen / gsoSize);
      if (gsoSize > 0) assert.is(segmentTcpFrame(this.bytes, start, len, gsoSize, sink), pieces);
      else {
        finishChecksum(this.bytes, start, len);
        const s = this.free.pop()!;
        this.bytes.copyWithin(this.frameStart(s), start, start + len);
        this.wire(s, len);
      }
      if (slot >= this.slots) this.freeLarge.push(slot);
      else this.free.push(slot);
      return;
    }
    this.wire(slot, len);
  }
  private wire(slot: number, len: number): void {
    const start = this.frameStart(slot);
    const r = parseFrame(this.bytes, start, len, this.meta, VERIFY_ALL);
    assert.is(r, Reason.OK, `the stack sent a frame that does not parse (reason ${r})`);
    if (!this.blackhole) this.sent.push(segFromMeta(this.bytes, this.meta));
    this.free.push(slot);
  }
  release(slot: number): void {
    this.free.push(slot);
  }
  /** Frames still available (leak check). */
  get freeSlots(): number {
    return this.free.length;
  }
  get freeLargeBuffers(): number {
    return this.freeLarge.length;
  }
}

export function segFromMeta(b: Uint8Array, m: FrameMeta): Seg {
  const sack: [number, number][] = [];
  for (let i = 0; i < m.sackCount; i++) sack.push([m.sackBlocks[2 * i]!, m.sackBlocks[2 * i + 1]!]);
  return {
    flags: flagsToString(m.tcpFlags),
    seq: m.seq,
    ack: m.ack,
    win: m.window,
    data: b.slice(m.payloadOff, m.payloadOff + m.payloadLen),
    mss: m.mss,
    ws: m.wscale,
    sackPerm: m.sackPermitted !== 0,
    ts: m.tsPresent !== 0 ? [m.tsVal, m.tsEcr] : null,
    sack,
    srcPort: m.srcPort,
    dstPort: m.dstPort,
  };
}

export interface SegIn {
  flags: string;
  seq: number;
  ack?: number;
  win?: number;
  data?: Uint8Array | string;
  mss?: number;
  ws?: number;
  sackPerm?: boolean;
  ts?: [number, number];
  sack?: [number, number][];
  srcPort?: number;
  dstPort?: number;
}

const enc = new TextEncoder();
export function bytes(s: string): Uint8Array {
  return enc.encode(s);
}
export function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

/** Builds a frame from fields and feeds it to the stack. */
export class Peer {
  private readonly buf = new Uint8Array(70000);
  private readonly meta = new FrameMeta();
  constructor(readonly stack: TcpStack, readonly link: FakeLink) {}

  send(s: SegIn, now: number): void {
    const m = this.build(s);
    this.stack.input(this.buf, m, 0, now);
    this.stack.flush(now);
  }

  /** Builds the client's frame for `s` in `buf` and parses it; returns the parsed meta. */
  build(s: SegIn): FrameMeta {
    const b = this.buf;
    const data = typeof s.data === 'string' ? bytes(s.data) : s.data ?? new Uint8Array(0);
    writeEthernet(b, 0, SERVER_MAC, 0, CLIENT_MAC, 0, ETHERTYPE_IPV4);
    const l4 = 14 + 20;
    const blocks = new Uint32Array(8);
    (s.sack ?? []).forEach(([l, r], i) => {
      blocks[2 * i] = l;
      blocks[2 * i + 1] = r;
    });
    const optLen = writeTcpOptions(b, l4 + TCP_HEADER_LEN, s.mss ?? 0, s.ws ?? -1, s.sackPerm ? 1 : 0,
      s.ts?.[0] ?? 0, s.ts?.[1] ?? 0, s.ts ? 1 : 0, blocks, s.sack?.length ?? 0);
    const hlen = TCP_HEADER_LEN + optLen;
    writeTcpHeader(b, l4, s.srcPort ?? CLIENT_PORT, s.dstPort ?? SERVER_PORT, s.seq >>> 0, (s.ack ?? 0) >>> 0, hlen,
      flagsFromString(s.flags), s.win ?? 65535, 0);
    b.set(data, l4 + hlen);
    const tcpLen = hlen + data.length;
    writeIpv4Header(b, 14, 0, 20 + tcpLen, 1, IPV4_FLAG_DF, 64, IP_PROTO_TCP, CLIENT_IP, SERVER_IP);
    tcpChecksumFill(b, l4, tcpLen, CLIENT_IP, SERVER_IP);
    const r = parseFrame(b, 0, 14 + 20 + tcpLen, this.meta, VERIFY_ALL);
    assert.is(r, Reason.OK);
    assert.is(this.meta.hash, flowHash(CLIENT_IP, SERVER_IP, s.srcPort ?? CLIENT_PORT, s.dstPort ?? SERVER_PORT, 6));
    return this.meta;
  }

  /** The buffer build() writes frames into. */
  get frame(): Uint8Array {
    return this.buf;
  }
}

/** What the stack sent since the last call. */
export function out(link: FakeLink): Seg[] {
  return link.sent.splice(0);
}

/** Asserts exactly one segment was sent and returns it, checking the given fields. */
export function one(link: FakeLink, want: Partial<Omit<Seg, 'data'>> & { data?: string | number }): Seg {
  const segs = out(link);
  assert.is(segs.length, 1, `expected one segment, got ${segs.length}: ${describe(segs)}`);
  const s = segs[0]!;
  check(s, want);
  return s;
}

export function check(s: Seg, want: Partial<Omit<Seg, 'data'>> & { data?: string | number }): void {
  for (const [k, v] of Object.entries(want)) {
    if (k === 'data') {
      if (typeof v === 'number') assert.is(s.data.length, v, `payload length (${describe([s])})`);
      else assert.is(text(s.data), v, 'payload');
    } else {
      assert.equal((s as unknown as Record<string, unknown>)[k], v, `${k} (${describe([s])})`);
    }
  }
}

export function none(link: FakeLink): void {
  const segs = out(link);
  assert.is(segs.length, 0, `expected nothing sent, got ${describe(segs)}`);
}

export function describe(segs: Seg[]): string {
  return segs.map((s) => `[${s.flags} seq=${s.seq} ack=${s.ack} win=${s.win} len=${s.data.length}${s.ts ? ` ts=${s.ts}` : ''}${s.sack.length ? ` sack=${JSON.stringify(s.sack)}` : ''}]`).join(' ');
}

/** An application recording everything that happens to its sockets. */
export class RecordingApp implements TcpApplication {
  readonly name = 'recording';
  sockets: AppSocket[] = [];
  received: number[] = [];
  chunks = 0;
  ends = 0;
  closes: boolean[] = [];
  errors: string[] = [];
  resumed = 0;
  /** Called from accept/resume to add behaviour. */
  onSocket: ((s: AppSocket) => void) | null = null;

  accept(s: AppSocket): void {
    this.sockets.push(s);
    this.wire(s);
  }
  resume(s: AppSocket): void {
    this.resumed++;
    this.sockets.push(s);
    this.wire(s);
  }
  private wire(s: AppSocket): void {
    s.on('data', (c) => {
      this.chunks++;
      for (const x of c) this.received.push(x);
    });
    s.on('end', () => this.ends++);
    s.on('close', (e) => this.closes.push(e));
    s.on('error', (e) => this.errors.push(e.code));
    this.onSocket?.(s);
  }
  get text(): string {
    return text(Uint8Array.from(this.received));
  }
}

export const FIXED_KEY = Uint32Array.from([1, 2, 3, 4]);

export interface Conversation {
  stack: TcpStack;
  link: FakeLink;
  peer: Peer;
  app: RecordingApp;
  /** Server ISS (from the SYN-ACK). */
  iss: number;
  /** Client's next sequence number. */
  cseq: number;
  /** The id of the connection. */
  id: number;
}

export function newStack(config: Partial<TcpConfig> = {}, slots = 256, offload = false): { stack: TcpStack; link: FakeLink; peer: Peer; app: RecordingApp } {
  const link = new FakeLink(slots, offload);
  const stack = new TcpStack({ maxConnections: 64, sendBuffer: 65536, recvBuffer: 65536, ...config }, link,
    { secrets: new SequenceSecrets(FIXED_KEY), localMac: SERVER_MAC });
  const app = new RecordingApp();
  stack.listen(SERVER_IP, SERVER_PORT, SERVER_PORT, app);
  return { stack, link, peer: new Peer(stack, link), app };
}

/**
 * A connection in ESTABLISHED through a real handshake at t=0..1.
 * `opts` chooses the client's SYN options.
 */
export function established(config: Partial<TcpConfig> = {}, opts: { ts?: boolean; ws?: number; sack?: boolean; mss?: number; win?: number; offload?: boolean } = {}): Conversation {
  const { stack, link, peer, app } = newStack(config, 256, opts.offload ?? false);
  const ts = opts.ts ?? false;
  peer.send({ flags: 'S', seq: CISN, win: opts.win ?? 65535, mss: opts.mss ?? 1460, ws: opts.ws ?? -1, sackPerm: opts.sack ?? false, ...(ts ? { ts: [1000, 0] as [number, number] } : {}) }, 0);
  const synAck = one(link, { flags: 'SA', ack: CISN + 1 });
  const iss = synAck.seq;
  peer.send({ flags: 'A', seq: CISN + 1, ack: iss + 1, win: opts.win ?? 65535, ...(ts ? { ts: [1001, synAck.ts![0]] as [number, number] } : {}) }, 1);
  none(link);
  assert.is(app.sockets.length, 1, 'the application accepted the connection');
  const id = stack.find(SERVER_IP, SERVER_PORT, CLIENT_IP, CLIENT_PORT);
  assert.ok(id >= 0);
  return { stack, link, peer, app, iss: (iss + 1) >>> 0, cseq: CISN + 1, id };
}

export function pattern(n: number, seed = 7): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
