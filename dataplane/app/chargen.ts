// chargen (RFC 864 over TCP): an endless stream of 72-character lines of the
// 95 printable ASCII characters, each line starting one character further
// along, each ended by CRLF. The pattern is a pure function of the stream
// offset, so tests can check any byte range and a moved connection continues
// from the offset kept in `state`.
//
// Options: `bytes` — send this many bytes then close (default: until the
// client closes); `chunkBytes` — bytes per write (default 16 KiB). Writes stop
// when write() returns false and continue on 'drain': at most one chunk
// beyond the send buffer is ever queued.
//
//   state[0..8)   f64 LE: stream offset of the next byte to write
//   state[8]      flags: 1 = end() was called
import type { AppFactory, AppOptions, AppSocket, TcpApplication } from './api.js';
import { checkOptionKeys, intOption } from './options.js';

const LINE_CHARS = 72;
const LINE_BYTES = LINE_CHARS + 2;
const PRINTABLE_FIRST = 0x20;
const PRINTABLE_COUNT = 95;

/** The byte at stream offset `offset` (a non-negative integer below 2^53). */
export function chargenByte(offset: number): number {
  const line = Math.floor(offset / LINE_BYTES);
  const col = offset - line * LINE_BYTES;
  if (col === LINE_CHARS) return 0x0d;
  if (col === LINE_CHARS + 1) return 0x0a;
  return PRINTABLE_FIRST + ((line + col) % PRINTABLE_COUNT);
}

/** Fills `buf` with the stream's bytes from `streamOffset` on. */
export function chargenFill(buf: Uint8Array, streamOffset: number): void {
  let line = Math.floor(streamOffset / LINE_BYTES);
  let col = streamOffset - line * LINE_BYTES;
  let c = (line + col) % PRINTABLE_COUNT;
  for (let i = 0; i < buf.length; i++) {
    if (col < LINE_CHARS) {
      buf[i] = PRINTABLE_FIRST + c;
      c = c + 1 === PRINTABLE_COUNT ? 0 : c + 1;
    } else {
      buf[i] = col === LINE_CHARS ? 0x0d : 0x0a;
    }
    if (++col === LINE_BYTES) {
      col = 0;
      line++;
      c = line % PRINTABLE_COUNT;
    }
  }
}

const OFF_OFFSET = 0;
const OFF_FLAGS = 8;
const FLAG_ENDED = 1;

class Chargen implements TcpApplication {
  readonly name = 'chargen';
  private readonly total: number;
  private readonly chunk: Uint8Array;

  constructor(options: AppOptions) {
    checkOptionKeys(options, ['bytes', 'chunkBytes']);
    this.total = intOption(options, 'bytes', -1, 0, Number.MAX_SAFE_INTEGER);
    this.chunk = new Uint8Array(intOption(options, 'chunkBytes', 16384, 1, 1 << 20));
  }

  accept(socket: AppSocket): void {
    this.attach(socket);
  }

  resume(socket: AppSocket): void {
    this.attach(socket);
  }

  private attach(socket: AppSocket): void {
    const st = new DataView(socket.state.buffer, socket.state.byteOffset, socket.state.byteLength);
    // Input is ignored (RFC 864). Without a byte budget the stream runs until the client
    // closes; with one, a half-closed client still gets all of it.
    socket.on('data', () => {});
    socket.on('end', () => {
      if (this.total < 0) this.finish(socket, st);
    });
    socket.on('drain', () => this.pump(socket, st));
    this.pump(socket, st);
  }

  /** Writes chunks until the send buffer is full or the stream is done. */
  private pump(socket: AppSocket, st: DataView): void {
    if ((st.getUint8(OFF_FLAGS) & FLAG_ENDED) !== 0) return;
    for (;;) {
      if (!socket.writable) return;
      const offset = st.getFloat64(OFF_OFFSET, true);
      let n = this.chunk.length;
      if (this.total >= 0 && this.total - offset < n) n = this.total - offset;
      if (n <= 0) {
        this.finish(socket, st);
        return;
      }
      const buf = n === this.chunk.length ? this.chunk : this.chunk.subarray(0, n);
      chargenFill(buf, offset);
      // The offset is advanced before write() returns: the bytes are the stack's from here on.
      st.setFloat64(OFF_OFFSET, offset + n, true);
      if (!socket.write(buf)) return;
    }
  }

  private finish(socket: AppSocket, st: DataView): void {
    if ((st.getUint8(OFF_FLAGS) & FLAG_ENDED) !== 0) return;
    st.setUint8(OFF_FLAGS, st.getUint8(OFF_FLAGS) | FLAG_ENDED);
    socket.end();
  }
}

export const chargen: AppFactory = (options) => new Chargen(options);
