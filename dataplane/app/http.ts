// http: an HTTP/1.1 static file server (RFC 9110, RFC 9112) on the AppSocket.
//
// GET and HEAD of files under `root`, single byte ranges, keep-alive and
// pipelining (answered in order), request bodies read and dropped — or, for
// PUT/POST, hashed (and stored under `upload` when that option is set) and
// answered with their sha256. Files are read with positional readSync() in
// chunks as the socket drains: never a whole file in memory, never a wait.
// Small files (option `cacheBytes`, default 64 KiB) are kept in memory per
// worker and checked against the file system again (stat: size, mtime, inode)
// once they are `cacheValidMs` old (default 1000 ms, as nginx's
// open_file_cache_valid): a request for one costs no system call. A file
// changed on disk may be served as it was for up to that long.
//
// The connection is a record that can move (api.ts): everything needed to
// continue lives in `state`, written through at every step, so resume() on
// another holder picks up mid-head, mid-body or mid-file:
//
//   0   u32  skip: bytes at the head of the unconsumed input already processed (skip.ts)
//   4   u8   phase: HEAD (reading a request head), BODY (reading a request body),
//             SEND (streaming a file), DONE (end() called)
//   5   u8   flags: KEEP_ALIVE, HEAD_ONLY, PEER_ENDED, UPLOAD, NOT_RESUMABLE
//   6   u16  status of the planned response (BODY: answered once the body is in)
//   8   f64  next file offset to send (or the planned range's start)
//   16  f64  end file offset (exclusive)
//   24  f64  file size (for Content-Range)
//   32  f64  request body bytes still to read
//   40  u16  length of the bytes below
//   42  …    HEAD: the partial request head; BODY/SEND: the file's path below root
//
// A partial head or a path longer than the room, and an upload in progress
// (its hash lives outside `state`), mark the connection NOT_RESUMABLE: a
// holder that gets it resets it instead of sending wrong bytes.
import { closeSync, constants, openSync, readSync, statSync, writeSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AppFactory, AppOptions, AppSocket, TcpApplication } from './api.js';
import { checkOptionKeys, directoryOption, intOption } from './options.js';
import { consumeSkip, setSkip } from './skip.js';
import { REASONS, RANGE_IGNORE, RANGE_UNSATISFIABLE, contentType, parseRange, parseRequestHead, targetPath, type RequestHead } from './http-request.js';

const PHASE_HEAD = 0;
const PHASE_BODY = 1;
const PHASE_SEND = 2;
const PHASE_DONE = 3;

const F_KEEP_ALIVE = 1;
const F_HEAD_ONLY = 2;
const F_PEER_ENDED = 4;
const F_UPLOAD = 8;
const F_NOT_RESUMABLE = 16;

const S_PHASE = 4;
const S_FLAGS = 5;
const S_STATUS = 6;
const S_NEXT = 8;
const S_END = 16;
const S_SIZE = 24;
const S_REMAINING = 32;
const S_BLOB_LEN = 40;
const S_BLOB = 42;

const CRLF2 = [0x0d, 0x0a, 0x0d, 0x0a] as const;

interface HttpOptions {
  readonly root: string;
  readonly upload: string | undefined;
  readonly maxHeaderBytes: number;
  readonly chunkBytes: number;
  /** Files up to this size are kept in memory (0: no cache). */
  readonly cacheBytes: number;
  /** A cached file is checked against the file system again once it is this old (ms). */
  readonly cacheValidMs: number;
}

/** A regular file below root, as one request resolved it. */
interface FileInfo {
  /** Path below root (a directory's index.html resolved). */
  readonly path: string;
  readonly size: number;
  /** The whole file when it is cached, else null (read from an fd as the socket drains). */
  readonly data: Uint8Array | null;
}

interface CachedFile extends FileInfo {
  readonly data: Uint8Array;
  readonly mtimeMs: number;
  readonly ino: number;
  checkedAt: number;
  /** The whole-file 200 response heads, made on first use: [Connection: keep-alive, Connection: close]. */
  readonly heads: [Uint8Array | null, Uint8Array | null];
  /** `path` in UTF-8, as plan() keeps it in the connection's state. */
  readonly pathBytes: Uint8Array;
}

/** Cached files per worker, at most; the cache starts again empty past it. */
const CACHE_MAX_FILES = 1024;
const CACHE_MAX_TOTAL = 32 << 20;

/** Index of the first CRLFCRLF in b[from, to), or -1. */
function findHeadEnd(b: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (b[i] === CRLF2[0] && b[i + 1] === CRLF2[1] && b[i + 2] === CRLF2[2] && b[i + 3] === CRLF2[3]) return i;
  }
  return -1;
}

class HttpConnection {
  private readonly st: DataView;
  /** The partial request head (allocated when a head spans chunks). */
  private head: Uint8Array | null = null;
  private headLen = 0;
  /** The path (below root) of the planned or current response. */
  private path = '';
  private fd = -1;
  /** The planned response's file, when it is cached (read from memory, not fd). */
  private data: Uint8Array | null = null;
  private cached: CachedFile | null = null;
  private upload: Hash | null = null;
  private uploadFd = -1;
  private uploadPos = 0;
  private paused = false;

  constructor(private readonly app: HttpServer, private readonly socket: AppSocket) {
    this.st = new DataView(socket.state.buffer, socket.state.byteOffset, socket.state.byteLength);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.release());
  }

  private get phase(): number {
    return this.st.getUint8(S_PHASE);
  }

  private set phase(p: number) {
    this.st.setUint8(S_PHASE, p);
  }

  private flag(f: number): boolean {
    return (this.st.getUint8(S_FLAGS) & f) !== 0;
  }

  private setFlag(f: number, on: boolean): void {
    const v = this.st.getUint8(S_FLAGS);
    this.st.setUint8(S_FLAGS, on ? v | f : v & ~f);
  }

  /** Continues a connection from `state` (resume()). */
  restore(): void {
    if (this.flag(F_NOT_RESUMABLE)) {
      this.socket.destroy();
      return;
    }
    const blob = new Uint8Array(this.st.buffer, this.st.byteOffset + S_BLOB, this.st.getUint16(S_BLOB_LEN, true));
    switch (this.phase) {
      case PHASE_HEAD:
        if (blob.length > 0) {
          this.head = new Uint8Array(this.app.opts.maxHeaderBytes + 4);
          this.head.set(blob);
          this.headLen = blob.length;
        }
        break;
      case PHASE_BODY:
        this.path = Buffer.from(blob).toString('utf8');
        break;
      case PHASE_SEND:
        this.path = Buffer.from(blob).toString('utf8');
        try {
          this.fd = openForSending(join(this.app.opts.root, this.path));
        } catch {
          // The file is gone here: the response promised bytes that cannot come.
          this.socket.destroy();
          return;
        }
        this.pump();
        break;
      default:
        break;
    }
  }

  private onData(chunk: Uint8Array): void {
    let pos = consumeSkip(this.socket.state, chunk.length);
    while (pos < chunk.length) {
      const phase = this.phase;
      if (phase === PHASE_DONE) return;
      if (phase === PHASE_SEND) {
        // A pipelined request while a response streams: keep it unconsumed until the response is out.
        setSkip(this.socket.state, pos);
        this.paused = true;
        this.socket.pause();
        return;
      }
      pos = phase === PHASE_BODY ? this.readBody(chunk, pos) : this.readHead(chunk, pos);
    }
    if (this.flag(F_PEER_ENDED) && this.phase === PHASE_HEAD) this.finish();
  }

  private onDrain(): void {
    if (this.phase === PHASE_SEND) this.pump();
    if (this.phase !== PHASE_SEND && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private onEnd(): void {
    this.setFlag(F_PEER_ENDED, true);
    // Mid-request or mid-response the FIN waits for the response; between requests it ends the connection.
    if (this.phase === PHASE_HEAD && !this.paused) this.finish();
  }

  private release(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.data = null;
    this.cached = null;
    if (this.uploadFd >= 0) closeSync(this.uploadFd);
    this.uploadFd = -1;
    this.upload = null;
  }

  private finish(): void {
    if (this.phase === PHASE_DONE) return;
    this.phase = PHASE_DONE;
    this.setFlag(F_NOT_RESUMABLE, false);
    this.release();
    this.socket.end();
  }

  /** Keeps a partial head in `state` when it fits, else marks the connection not resumable. */
  private mirrorHead(): void {
    const room = this.st.byteLength - S_BLOB;
    if (this.headLen <= room) {
      this.socket.state.set(this.head!.subarray(0, this.headLen), S_BLOB);
      this.st.setUint16(S_BLOB_LEN, this.headLen, true);
      this.setFlag(F_NOT_RESUMABLE, false);
    } else {
      this.st.setUint16(S_BLOB_LEN, 0, true);
      this.setFlag(F_NOT_RESUMABLE, true);
    }
  }

  /** Reads request-head bytes from chunk[pos…]; returns the new position. */
  private readHead(chunk: Uint8Array, pos: number): number {
    const max = this.app.opts.maxHeaderBytes;
    const len = chunk.length;
    if (this.headLen === 0) {
      // RFC 9112 2.2: empty lines before a request line are ignored.
      while (pos < len && (chunk[pos] === 0x0d || chunk[pos] === 0x0a)) pos++;
      if (pos === len) return pos;
      const e = findHeadEnd(chunk, pos, len);
      if (e >= 0 && e - pos <= max) {
        this.dispatch(chunk.subarray(pos, e));
        return e + 4;
      }
      if (e >= 0 || len - pos > max + 3) {
        this.reject(431);
        return len;
      }
      this.head ??= new Uint8Array(max + 4);
      this.head.set(chunk.subarray(pos, len));
      this.headLen = len - pos;
      this.mirrorHead();
      return len;
    }
    const head = this.head!;
    const old = this.headLen;
    const n = Math.min(head.length - old, len - pos);
    head.set(chunk.subarray(pos, pos + n), old);
    this.headLen = old + n;
    const e = findHeadEnd(head, old > 3 ? old - 3 : 0, this.headLen);
    if (e >= 0) {
      this.headLen = 0;
      this.st.setUint16(S_BLOB_LEN, 0, true);
      this.dispatch(head.subarray(0, e));
      return pos + (e + 4 - old);
    }
    if (this.headLen >= head.length) {
      this.headLen = 0;
      this.reject(431);
      return len;
    }
    this.mirrorHead();
    return len;
  }

  /** Reads request-body bytes from chunk[pos…]; returns the new position. */
  private readBody(chunk: Uint8Array, pos: number): number {
    const remaining = this.st.getFloat64(S_REMAINING, true);
    const n = Math.min(remaining, chunk.length - pos);
    if (this.upload !== null) {
      const part = chunk.subarray(pos, pos + n);
      this.upload.update(part);
      if (this.uploadFd >= 0) this.uploadPos += writeSync(this.uploadFd, part, 0, n, this.uploadPos);
    }
    this.st.setFloat64(S_REMAINING, remaining - n, true);
    if (remaining - n === 0) this.bodyDone();
    return pos + n;
  }

  private bodyDone(): void {
    if (!this.flag(F_UPLOAD)) {
      this.respond();
      return;
    }
    const digest = this.upload!.digest('hex');
    const stored = this.uploadFd >= 0;
    const status = this.st.getUint16(S_STATUS, true);
    this.release();
    this.setFlag(F_UPLOAD, false);
    this.setFlag(F_NOT_RESUMABLE, false);
    if (status === 200) this.sendSmall(stored ? 201 : 200, `${digest}\n`);
    else this.sendSmall(status, `${status} ${REASONS[status] ?? ''}\n`);
    this.afterResponse();
  }

  /** A complete request head: plan the response, read any body, answer. */
  private dispatch(headBytes: Uint8Array): void {
    this.setFlag(F_NOT_RESUMABLE, false);
    // A Buffer over the same bytes (no copy) to decode them.
    const req = parseRequestHead(Buffer.from(headBytes.buffer, headBytes.byteOffset, headBytes.length).toString('latin1'));
    if (typeof req === 'number') {
      this.reject(req);
      return;
    }
    // We cannot frame a body in a transfer coding we do not decode: answer and close (RFC 9112 6.1).
    if (req.transferEncoding) {
      this.reject(501);
      return;
    }
    // A target that is not origin-form or not valid percent-encoding: nothing sensible follows (RFC 9112 3.2).
    if (targetPath(req.target) === 400) {
      this.reject(400);
      return;
    }
    this.setFlag(F_KEEP_ALIVE, req.keepAlive);
    this.setFlag(F_HEAD_ONLY, req.method === 'HEAD');
    if (req.method === 'GET' || req.method === 'HEAD') this.planFile(req);
    else if (req.method === 'PUT' || req.method === 'POST') this.planUpload(req);
    else this.plan(405, '', 0, 0, 0);
    if (req.contentLength > 0) {
      if (req.expectContinue) this.socket.write(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1'));
      this.st.setFloat64(S_REMAINING, req.contentLength, true);
      this.phase = PHASE_BODY;
      return;
    }
    if (this.flag(F_UPLOAD)) this.bodyDone();
    else this.respond();
  }

  /** Stores the planned response in `state` (`pathBytes`: `path` already encoded). */
  private plan(status: number, path: string, start: number, end: number, size: number, pathBytes?: Uint8Array): void {
    this.path = path;
    this.st.setUint16(S_STATUS, status, true);
    this.st.setFloat64(S_NEXT, start, true);
    this.st.setFloat64(S_END, end, true);
    this.st.setFloat64(S_SIZE, size, true);
    const bytes = pathBytes ?? Buffer.from(path, 'utf8');
    if (bytes.length <= this.st.byteLength - S_BLOB) {
      this.socket.state.set(bytes, S_BLOB);
      this.st.setUint16(S_BLOB_LEN, bytes.length, true);
    } else {
      this.st.setUint16(S_BLOB_LEN, 0, true);
      this.setFlag(F_NOT_RESUMABLE, true);
    }
  }

  private planFile(req: RequestHead): void {
    this.data = null;
    this.cached = null;
    const p = targetPath(req.target);
    if (typeof p === 'number') {
      this.plan(p, '', 0, 0, 0);
      return;
    }
    const file = this.app.file(p);
    if (file === null) {
      this.plan(404, '', 0, 0, 0);
      return;
    }
    const { path, size } = file;
    this.data = file.data;
    if (file.data !== null) this.cached = file as CachedFile;
    if (req.range !== null) {
      const r = parseRange(req.range, size);
      if (r === RANGE_UNSATISFIABLE) {
        this.plan(416, '', 0, 0, size);
        return;
      }
      if (r !== RANGE_IGNORE) {
        this.plan(206, path, r.start, r.end, size, this.cached?.pathBytes);
        return;
      }
    }
    this.plan(200, path, 0, size, size, this.cached?.pathBytes);
  }

  private planUpload(req: RequestHead): void {
    this.plan(200, '', 0, 0, 0);
    this.upload = createHash('sha256');
    this.setFlag(F_UPLOAD, true);
    // The running hash cannot be carried in `state`.
    this.setFlag(F_NOT_RESUMABLE, true);
    const dir = this.app.opts.upload;
    if (dir === undefined) return;
    const p = targetPath(req.target);
    if (typeof p === 'number' || p === '') {
      this.st.setUint16(S_STATUS, typeof p === 'number' ? p : 405, true);
      return;
    }
    // A file stored under root is served fresh from now on, by this worker at least.
    if (dir === this.app.opts.root) this.app.forget(p);
    try {
      this.uploadFd = openSync(join(dir, p), 'w');
      this.uploadPos = 0;
    } catch {
      this.st.setUint16(S_STATUS, 500, true);
    }
  }

  /** Sends the planned response's head, then its body (a file, or a short text for errors). */
  private respond(): void {
    const status = this.st.getUint16(S_STATUS, true);
    const size = this.st.getFloat64(S_SIZE, true);
    if (status !== 200 && status !== 206) {
      this.sendSmall(status, `${status} ${REASONS[status] ?? ''}\n`, status === 416 ? `Content-Range: bytes */${size}\r\n` : status === 405 ? 'Allow: GET, HEAD, PUT, POST\r\n' : '');
      this.afterResponse();
      return;
    }
    const start = this.st.getFloat64(S_NEXT, true);
    const end = this.st.getFloat64(S_END, true);
    if (this.data === null) {
      try {
        this.fd = openForSending(join(this.app.opts.root, this.path));
      } catch {
        this.sendSmall(404, '404 Not Found\n');
        this.afterResponse();
        return;
      }
    }
    if (status === 200 && this.cached !== null) {
      // A cached file's whole-file head is made once (the same bytes writeHead makes).
      const heads = this.cached.heads;
      const k = this.flag(F_KEEP_ALIVE) ? 0 : 1;
      this.socket.write(heads[k] ??= Buffer.from(responseHead(200, contentType(this.path), size, ACCEPT_RANGES, k === 0), 'latin1'));
    } else {
      let extra = ACCEPT_RANGES;
      if (status === 206) extra += `Content-Range: bytes ${start}-${end - 1}/${size}\r\n`;
      this.writeHead(status, contentType(this.path), end - start, extra);
    }
    if (this.flag(F_HEAD_ONLY) || start === end) {
      this.release();
      this.afterResponse();
      return;
    }
    this.phase = PHASE_SEND;
    this.pump();
  }

  /**
   * Writes file chunks until the send buffer is full or the range is sent.
   * It reads no more than the send buffer takes (writableRoom): nothing is
   * queued beyond it (a copy more, and an allocation), and the write that
   * fills it returns false, so 'drain' calls again. With no room at all (a
   * connection resumed on another holder with a full buffer: no 'drain' is
   * armed for it yet) a whole chunk is written, queued, and arms it.
   */
  private pump(): void {
    const buf = this.app.chunk;
    let next = this.st.getFloat64(S_NEXT, true);
    const end = this.st.getFloat64(S_END, true);
    const data = this.data;
    while (next < end) {
      if (!this.socket.writable) return;
      const room = this.socket.writableRoom;
      const want = Math.min(buf.length, end - next, room > 0 ? room : buf.length);
      if (data !== null) {
        // A cached file: the chunk straight from memory (write() copies it).
        const part = data.subarray(next, next + want);
        next += want;
        this.st.setFloat64(S_NEXT, next, true);
        if (!this.socket.write(part) && next < end) return;
        continue;
      }
      if (room > 0 && this.socket.writeFile !== undefined) {
        // A backup's shadow takes the range by reference (nothing read now; lazy-output.ts); a live socket takes 0.
        const took = this.socket.writeFile(this.fd, next, Math.min(end - next, room));
        if (took > 0) {
          next += took;
          this.st.setFloat64(S_NEXT, next, true);
          if (next < end && this.socket.writableRoom === 0) return;
          continue;
        }
      }
      const got = readSync(this.fd, buf, 0, want, next);
      if (got <= 0) {
        // The file shrank under us: Content-Length cannot be honoured, so the connection cannot continue.
        this.release();
        this.socket.destroy();
        return;
      }
      next += got;
      this.st.setFloat64(S_NEXT, next, true);
      if (!this.socket.write(got === buf.length ? buf : buf.subarray(0, got))) {
        if (next < end) return;
      }
    }
    this.release();
    this.afterResponse();
  }

  private afterResponse(): void {
    this.st.setUint16(S_BLOB_LEN, 0, true);
    this.path = '';
    if (!this.flag(F_KEEP_ALIVE) || (this.flag(F_PEER_ENDED) && !this.paused)) {
      this.finish();
      return;
    }
    this.phase = PHASE_HEAD;
  }

  /** Answers an unreadable request and closes: its framing cannot be trusted. */
  private reject(status: number): void {
    this.setFlag(F_KEEP_ALIVE, false);
    this.setFlag(F_HEAD_ONLY, false);
    this.sendSmall(status, `${status} ${REASONS[status] ?? ''}\n`);
    this.finish();
  }

  private sendSmall(status: number, body: string, extra = ''): void {
    const b = Buffer.from(body, 'utf8');
    this.writeHead(status, 'text/plain; charset=utf-8', b.length, extra);
    if (!this.flag(F_HEAD_ONLY)) this.socket.write(b);
  }

  private writeHead(status: number, type: string, length: number, extra: string): void {
    this.socket.write(Buffer.from(responseHead(status, type, length, extra, this.flag(F_KEEP_ALIVE)), 'latin1'));
  }
}

/** O_NOATIME (Linux): reads skip the access-time bookkeeping (a few % of a read's cost); refused unless we own the file or are root. */
const O_NOATIME = (constants as Record<string, number>)['O_NOATIME'] ?? 0;

/** Opens a file to stream it: without access-time updates where allowed. */
function openForSending(path: string): number {
  if (O_NOATIME !== 0) {
    try {
      return openSync(path, constants.O_RDONLY | O_NOATIME);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EPERM') throw err;
    }
  }
  return openSync(path, 'r');
}

class HttpServer implements TcpApplication {
  readonly name = 'http';
  readonly opts: HttpOptions;
  /** One read buffer per worker: write() copies, so every connection can reuse it. */
  readonly chunk: Uint8Array;
  /** Small files by request path below root (planFile's `p`). */
  private readonly cache = new Map<string, CachedFile>();
  private cachedTotal = 0;

  constructor(options: AppOptions) {
    checkOptionKeys(options, ['root', 'upload', 'maxHeaderBytes', 'chunkBytes', 'cacheBytes', 'cacheValidMs']);
    this.opts = {
      root: directoryOption(options, 'root', true)!,
      upload: directoryOption(options, 'upload', false),
      maxHeaderBytes: intOption(options, 'maxHeaderBytes', 8192, 256, 65536),
      chunkBytes: intOption(options, 'chunkBytes', 65536, 512, 1 << 20),
      cacheBytes: intOption(options, 'cacheBytes', 65536, 0, 1 << 20),
      cacheValidMs: intOption(options, 'cacheValidMs', 1000, 0, 3_600_000),
    };
    this.chunk = new Uint8Array(this.opts.chunkBytes);
  }

  /**
   * The regular file that request path `p` (below root) names — a directory's
   * index.html — or null (404). Small files come from the cache while it is
   * valid, are read whole into it otherwise.
   */
  file(p: string): FileInfo | null {
    const o = this.opts;
    const now = o.cacheBytes > 0 ? performance.now() : 0;
    const hit = o.cacheBytes > 0 ? this.cache.get(p) : undefined;
    if (hit !== undefined && now - hit.checkedAt < o.cacheValidMs) return hit;
    let path = p;
    let st = statSync(join(o.root, path), { throwIfNoEntry: false });
    if (st?.isDirectory() === true) {
      path = path === '' ? 'index.html' : `${path}/index.html`;
      st = statSync(join(o.root, path), { throwIfNoEntry: false });
    }
    if (hit !== undefined) {
      if (st !== undefined && hit.path === path && hit.size === st.size && hit.mtimeMs === st.mtimeMs && hit.ino === st.ino) {
        hit.checkedAt = now;
        return hit;
      }
      this.cache.delete(p);
      this.cachedTotal -= hit.data.length;
    }
    if (st === undefined || !st.isFile()) return null;
    if (st.size > o.cacheBytes) return { path, size: st.size, data: null };
    const data = readWhole(join(o.root, path), st.size);
    // Changed while being read: this request reads from an fd as the socket drains.
    if (data === null) return { path, size: st.size, data: null };
    if (this.cache.size >= CACHE_MAX_FILES || this.cachedTotal + data.length > CACHE_MAX_TOTAL) {
      this.cache.clear();
      this.cachedTotal = 0;
    }
    const entry: CachedFile = {
      path, size: st.size, data, mtimeMs: st.mtimeMs, ino: st.ino, checkedAt: now, heads: [null, null], pathBytes: Buffer.from(path, 'utf8'),
    };
    this.cache.set(p, entry);
    this.cachedTotal += data.length;
    return entry;
  }

  /** Drops the file at path `p` below root from the cache (under every request path that resolved to it). */
  forget(p: string): void {
    for (const [key, e] of this.cache) {
      if (key !== p && e.path !== p) continue;
      this.cache.delete(key);
      this.cachedTotal -= e.data.length;
    }
  }

  accept(socket: AppSocket): void {
    new HttpConnection(this, socket);
  }

  resume(socket: AppSocket): void {
    new HttpConnection(this, socket).restore();
  }

  movable(socket: AppSocket): boolean {
    return (socket.state[S_FLAGS]! & F_NOT_RESUMABLE) === 0;
  }
}

const ACCEPT_RANGES = 'Accept-Ranges: bytes\r\n';

function responseHead(status: number, type: string, length: number, extra: string, keepAlive: boolean): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? ''}\r\nServer: baton\r\nContent-Type: ${type}\r\n` +
    `Content-Length: ${length}\r\n${extra}Connection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`;
}

/** The whole file, or null when it is not `size` bytes long any more (or cannot be read). */
function readWhole(path: string, size: number): Uint8Array | null {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const data = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, data, got, size - got, got);
      if (n <= 0) return null;
      got += n;
    }
    // One byte more would mean it grew.
    if (readSync(fd, new Uint8Array(1), 0, 1, size) !== 0) return null;
    return data;
  } catch {
    return null;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

export const http: AppFactory = (options) => new HttpServer(options);

