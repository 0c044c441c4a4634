// The application's view of one connection: a Node-`net`-like socket whose
// operations the stack carries out (see dataplane/app/api.ts for the
// contract). Handlers are single fields rather than listener arrays: the
// worker calls them per chunk, and one application owns each socket.
import type { AppSocket, SocketError } from '../app/api.js';

/** The stack side of a socket (implemented by TcpStack). */
export interface SocketHost {
  socketWrite(s: TcpSocket, data: Uint8Array): boolean;
  socketEnd(s: TcpSocket): void;
  socketDestroy(s: TcpSocket): void;
  socketPause(s: TcpSocket, paused: boolean): void;
  socketWritableLength(s: TcpSocket): number;
  socketWritableRoom(s: TcpSocket): number;
  socketWriteFile(s: TcpSocket, fd: number, position: number, length: number): number;
}

function ipText(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

export class TcpSocket implements AppSocket {
  /** Record id while attached; -1 once the connection closed. */
  id: number;
  readonly localIp: number;
  readonly remoteIp: number;
  readonly localPort: number;
  readonly remotePort: number;
  readonly state: Uint8Array;
  /** Bytes accepted by write() beyond the send buffer, in order. */
  pending: Uint8Array[] = [];
  pendingBytes = 0;
  /** write() returned false: emit 'drain' when everything fits again. */
  needDrain = false;
  /** end() was called; the FIN follows the pending bytes. */
  ending = false;
  onData: ((chunk: Uint8Array) => void) | null = null;
  onEnd: (() => void) | null = null;
  onDrain: (() => void) | null = null;
  onClose: ((hadError: boolean) => void) | null = null;
  onError: ((err: SocketError) => void) | null = null;
  private readonly host: SocketHost;

  constructor(host: SocketHost, id: number, localIp: number, localPort: number, remoteIp: number, remotePort: number, state: Uint8Array) {
    this.host = host;
    this.id = id;
    this.localIp = localIp;
    this.localPort = localPort;
    this.remoteIp = remoteIp;
    this.remotePort = remotePort;
    this.state = state;
  }

  get localAddress(): string {
    return ipText(this.localIp);
  }
  get remoteAddress(): string {
    return ipText(this.remoteIp);
  }
  get writableLength(): number {
    return this.id < 0 ? 0 : this.host.socketWritableLength(this);
  }
  get writableRoom(): number {
    return this.id < 0 || this.ending ? 0 : this.host.socketWritableRoom(this);
  }
  get writable(): boolean {
    return this.id >= 0 && !this.ending;
  }

  write(data: Uint8Array): boolean {
    return this.host.socketWrite(this, data);
  }
  writeFile(fd: number, position: number, length: number): number {
    return this.host.socketWriteFile(this, fd, position, length);
  }
  end(data?: Uint8Array): void {
    if (data !== undefined && data.length > 0) this.host.socketWrite(this, data);
    this.host.socketEnd(this);
  }
  destroy(): void {
    this.host.socketDestroy(this);
  }
  pause(): void {
    this.host.socketPause(this, true);
  }
  resume(): void {
    this.host.socketPause(this, false);
  }

  on(event: 'data', handler: (chunk: Uint8Array) => void): this;
  on(event: 'end' | 'drain', handler: () => void): this;
  on(event: 'close', handler: (hadError: boolean) => void): this;
  on(event: 'error', handler: (err: SocketError) => void): this;
  on(event: string, handler: (...args: never[]) => void): this {
    switch (event) {
      case 'data': this.onData = handler as (chunk: Uint8Array) => void; break;
      case 'end': this.onEnd = handler as () => void; break;
      case 'drain': this.onDrain = handler as () => void; break;
      case 'close': this.onClose = handler as (hadError: boolean) => void; break;
      case 'error': this.onError = handler as (err: SocketError) => void; break;
      default: throw new TypeError(`unknown socket event '${event}'`);
    }
    return this;
  }
}
