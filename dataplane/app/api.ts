// The contract between Baton's TCP stack and the applications that run on it.
//
// An application is a module whose handler runs inside every data-plane
// worker, run to completion: no callback ever blocks for long, and nothing an
// application does is asynchronous in the Node sense (no promises, no timers
// of its own) — it reacts to socket events delivered by the worker loop.
//
// A connection is a record that can move (ARCHITECTURE.md): when it moves to
// another worker or node (failover, handoff) the application instance there
// is rebuilt from `socket.state`, the opaque application-state bytes stored in
// the connection record. An application that wants its connections to survive
// a move keeps everything it needs to continue in `state`, and is a
// deterministic function of the client bytes it was fed (snoop mode feeds a
// shadow instance the same bytes on the backup).

/** Bytes of opaque application state carried in every connection record. */
export const APP_STATE_BYTES = 256;

export type SocketEvent = 'data' | 'end' | 'close' | 'error' | 'drain';

export interface SocketError {
  /** Stable code: 'ECONNRESET' (peer reset), 'ETIMEDOUT' (retransmission or keepalive gave up), 'ECONNABORTED' (reset by this node). */
  readonly code: string;
  readonly message: string;
}

/**
 * A Node-`net`-like socket over one TCP connection.
 *
 * - `data` chunks are views into the connection's receive buffer, valid only
 *   until the handler returns: copy what you keep. The bytes are consumed
 *   (and the window re-opened) when the handler returns, unless the socket was
 *   paused inside the handler, in which case the same bytes are delivered
 *   again after resume() (nothing is lost, nothing is duplicated).
 * - `end` : the peer sent FIN (half-close); the socket may still write.
 * - `close`: the connection is gone (both sides closed, reset, or timed out);
 *   the argument tells whether it ended with an error.
 * - `drain`: the send buffer has room again after write() returned false.
 */
export interface AppSocket {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** APP_STATE_BYTES bytes that move with the connection record. */
  readonly state: Uint8Array;
  /** Bytes accepted by write() that the peer has not acknowledged yet (queued included). */
  readonly writableLength: number;
  /** False once end() or destroy() was called, or the connection closed. */
  readonly writable: boolean;
  /**
   * Bytes write() takes now without queueing beyond the send buffer (0 when
   * it is full). An application that produces output on demand (a file
   * read) makes no more than this, and no bytes are copied twice.
   */
  readonly writableRoom: number;
  /**
   * Copies `data` into the connection's send buffer. Returns false when the
   * send buffer is full (some bytes may be queued beyond it): stop writing
   * until 'drain'. Bytes written are never dropped.
   */
  write(data: Uint8Array): boolean;
  /**
   * Optional: output bytes [position, position+length) of the open file
   * `fd`, handed by reference where the stack can keep one (a backup's
   * shadow: its output is read only if a takeover sends it, and sampled for
   * comparison; dataplane/tcp/lazy-output.ts). Returns how many bytes it
   * took (no more than writableRoom); 0: write them yourself. When the send
   * buffer fills, 'drain' follows as after write(). The file must not change
   * while the response streams (one that did is never sent: the connection
   * is reset at a takeover instead).
   */
  writeFile?(fd: number, position: number, length: number): number;
  /** Writes `data` if given, then half-closes (FIN after the queued bytes). */
  end(data?: Uint8Array): void;
  /** Aborts the connection (RST); 'close' follows. */
  destroy(): void;
  /** Stops 'data' events; the receive window closes as the buffer fills (backpressure to the peer). */
  pause(): void;
  resume(): void;
  on(event: 'data', handler: (chunk: Uint8Array) => void): this;
  on(event: 'end' | 'drain', handler: () => void): this;
  on(event: 'close', handler: (hadError: boolean) => void): this;
  on(event: 'error', handler: (err: SocketError) => void): this;
}

/** Options from the service's config entry (`services[i].options`), validated by the application. */
export type AppOptions = Readonly<Record<string, unknown>>;

export interface TcpApplication {
  readonly name: string;
  /** A new connection was established on the service's address and ports. */
  accept(socket: AppSocket): void;
  /**
   * A connection arrived from elsewhere (failover, handoff) with `socket.state`
   * as the previous holder left it; continue exactly where it stopped.
   */
  resume(socket: AppSocket): void;
  /**
   * Optional: false when `socket`'s connection cannot be resumed elsewhere
   * right now (its state does not fit `state`); a move then leaves it here
   * instead of the new holder resetting it. Absent: always movable.
   */
  movable?(socket: AppSocket): boolean;
}

/**
 * Builds one application instance per worker. Throws AppConfigError for bad
 * options (the node reports it with the option's key path and does not start).
 */
export type AppFactory = (options: AppOptions) => TcpApplication;

export class AppConfigError extends Error {
  readonly code = 'BATON_APP_CONFIG';
  constructor(readonly key: string, message: string) {
    super(`${key}: ${message}`);
    this.name = 'AppConfigError';
  }
}
