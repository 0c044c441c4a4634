// A test fixture: an in-memory AppSocket with the contract of dataplane/app/api.ts,
// driven step by step from the peer's side.
//
// - Input is delivered in chunks of at most `chunk` bytes, as views into the
//   fixture's receive buffer; after the handler returns, a consumed chunk's
//   bytes are overwritten (0xEE), so an app that keeps a view sees garbage.
// - pause() inside a data handler leaves the chunk unconsumed; it is delivered
//   again (with any later bytes) on a later step after resume().
// - The send buffer holds `sendBuffer` bytes; write() beyond it queues the
//   bytes, and a write that fills it returns false; 'drain' follows once the
//   peer has read some.
//   The peer reads `readPerStep` bytes per step, so backpressure paths run.
// - handoff() builds the socket a new holder would get: the same `state`, the
//   unconsumed input, the peer's FIN — what the connection record carries.
import { APP_STATE_BYTES, type AppSocket, type SocketError } from '../../../dataplane/app/api.js';

export interface LoopSocketOptions {
  /** Send-buffer bytes before write() returns false. */
  readonly sendBuffer?: number;
  /** Largest 'data' chunk. */
  readonly chunk?: number;
  /** Bytes the peer reads from the send buffer per step. */
  readonly readPerStep?: number;
  readonly state?: Uint8Array;
}

type Handlers = {
  data: ((chunk: Uint8Array) => void)[];
  end: (() => void)[];
  drain: (() => void)[];
  close: ((hadError: boolean) => void)[];
  error: ((err: SocketError) => void)[];
};

export class LoopSocket implements AppSocket {
  readonly localAddress = '198.18.0.1';
  readonly localPort = 80;
  readonly remoteAddress = '198.18.1.1';
  readonly remotePort = 40000;
  readonly state: Uint8Array;
  readonly sendBuffer: number;
  readonly chunk: number;
  readonly readPerStep: number;
  private readonly h: Handlers = { data: [], end: [], drain: [], close: [], error: [] };
  private rx: Uint8Array = new Uint8Array(0);
  private peerFin = false;
  private endDelivered = false;
  private paused = false;
  private inHandler = false;
  private needDrain = false;
  private queued: Uint8Array[] = [];
  private queuedBytes = 0;
  private closed = false;
  /** Every byte write() accepted, in order (what the connection's send side carries). */
  private readonly accepted: Uint8Array[] = [];
  /** Every byte the peer has read. */
  private readonly readByPeer: Uint8Array[] = [];
  /** end() was called. */
  ended = false;
  destroyed = false;
  /** Largest send-buffer occupancy seen (bounded buffering checks). */
  maxQueued = 0;
  dataEvents = 0;

  constructor(o: LoopSocketOptions = {}) {
    this.sendBuffer = o.sendBuffer ?? 65536;
    this.chunk = o.chunk ?? 65536;
    this.readPerStep = o.readPerStep ?? 1 << 30;
    this.state = o.state ?? new Uint8Array(APP_STATE_BYTES);
  }

  get writableLength(): number {
    return this.queuedBytes;
  }

  get writable(): boolean {
    return !this.ended && !this.destroyed && !this.closed;
  }

  get writableRoom(): number {
    return this.writable && this.queuedBytes < this.sendBuffer ? this.sendBuffer - this.queuedBytes : 0;
  }

  write(data: Uint8Array): boolean {
    if (!this.writable) throw new Error('write after end/destroy');
    if (data.length === 0) return this.queuedBytes <= this.sendBuffer;
    const copy = data.slice();
    this.queued.push(copy);
    this.accepted.push(copy);
    this.queuedBytes += copy.length;
    if (this.queuedBytes > this.maxQueued) this.maxQueued = this.queuedBytes;
    // Full (to the byte, or beyond): 'drain' follows once the peer has read some.
    if (this.queuedBytes >= this.sendBuffer) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  end(data?: Uint8Array): void {
    if (data !== undefined && this.writable) this.write(data);
    this.ended = true;
  }

  destroy(): void {
    this.destroyed = true;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  on(event: 'data', handler: (chunk: Uint8Array) => void): this;
  on(event: 'end' | 'drain', handler: () => void): this;
  on(event: 'close', handler: (hadError: boolean) => void): this;
  on(event: 'error', handler: (err: SocketError) => void): this;
  on(event: keyof Handlers, handler: (...args: never[]) => void): this {
    (this.h[event] as unknown[]).push(handler);
    return this;
  }

  // ---- the peer's side

  /** The peer sends bytes (delivered on later steps). */
  send(bytes: Uint8Array | string): this {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    const next = new Uint8Array(this.rx.length + b.length);
    next.set(this.rx);
    next.set(b, this.rx.length);
    this.rx = next;
    return this;
  }

  /** The peer half-closes. */
  fin(): this {
    this.peerFin = true;
    return this;
  }

  /** One step: deliver one chunk (or 'end'), then let the peer read. Returns false when nothing happened. */
  step(): boolean {
    if (this.closed) return false;
    let progress = false;
    if (this.destroyed) {
      this.close(true);
      return true;
    }
    if (!this.paused && this.rx.length > 0) {
      const n = Math.min(this.chunk, this.rx.length);
      const view = this.rx.subarray(0, n);
      this.inHandler = true;
      this.dataEvents++;
      for (const f of this.h.data) f(view);
      this.inHandler = false;
      if (!this.paused) {
        view.fill(0xee);
        this.rx = this.rx.subarray(n);
      }
      progress = true;
    } else if (!this.paused && this.peerFin && !this.endDelivered) {
      this.endDelivered = true;
      for (const f of this.h.end) f();
      progress = true;
    }
    if (this.queuedBytes > 0) {
      let budget = this.readPerStep;
      while (budget > 0 && this.queued.length > 0) {
        const head = this.queued[0]!;
        const take = Math.min(budget, head.length);
        this.readByPeer.push(head.subarray(0, take));
        if (take === head.length) this.queued.shift();
        else this.queued[0] = head.subarray(take);
        this.queuedBytes -= take;
        budget -= take;
      }
      progress = true;
      if (this.needDrain && this.queuedBytes < this.sendBuffer && this.writable) {
        this.needDrain = false;
        for (const f of this.h.drain) f();
      }
    }
    if (!progress && this.ended && this.endDelivered && this.queuedBytes === 0) {
      this.close(false);
      return true;
    }
    return progress;
  }

  /** Steps until nothing happens (or `maxSteps`); returns the steps taken. */
  run(maxSteps = 10_000_000): number {
    let n = 0;
    while (n < maxSteps && this.step()) n++;
    return n;
  }

  private close(hadError: boolean): void {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.h.close) f(hadError);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Input not yet consumed by the app. */
  get unconsumed(): number {
    return this.rx.length;
  }

  /** Every byte the app wrote (accepted by write()), whether or not the peer has read it yet. */
  written(): Uint8Array {
    return concat(this.accepted);
  }

  /** What the peer has read so far. */
  received(): Uint8Array {
    return concat(this.readByPeer);
  }

  /**
   * The socket a new holder gets when the connection moves now: the same
   * state, the unconsumed input and the peer's FIN. The bytes this socket's
   * app already wrote stay with the old socket's written().
   */
  handoff(o: LoopSocketOptions = {}): LoopSocket {
    if (this.inHandler) throw new Error('handoff inside a handler');
    const s = new LoopSocket({ sendBuffer: this.sendBuffer, chunk: this.chunk, readPerStep: this.readPerStep, ...o, state: this.state.slice() });
    s.rx = this.rx.slice();
    s.peerFin = this.peerFin;
    s.endDelivered = this.endDelivered;
    return s;
  }
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
