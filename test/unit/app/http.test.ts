// The http app on the in-memory socket: conversations of raw request bytes
// in, parsed responses out. Keep-alive, pipelining, ranges, errors, traversal,
// streaming under a bounded send buffer, uploads, and resume() mid-way.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { http } from '../../../dataplane/app/http.js';
import { AppConfigError, type AppOptions } from '../../../dataplane/app/api.js';
import { SeededRandom } from '../net/seeded-random.js';
import { LoopSocket, concat, type LoopSocketOptions } from './loop-socket.js';

interface Response {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly text: string;
}

/** Splits a response stream; `methods` says which requests were HEAD (no body). Interim 1xx are skipped. */
function parseResponses(out: Uint8Array, methods: readonly string[]): Response[] {
  const res: Response[] = [];
  const s = Buffer.from(out);
  let o = 0;
  let m = 0;
  while (o < s.length) {
    const e = s.indexOf('\r\n\r\n', o, 'latin1');
    if (e < 0) throw new Error(`truncated head at ${o}: ${JSON.stringify(s.subarray(o, o + 80).toString('latin1'))}`);
    const lines = s.subarray(o, e).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(lines[0]!)?.[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
    }
    o = e + 4;
    if (status === 100) continue;
    const len = methods[m++] === 'HEAD' ? 0 : Number(headers['content-length']);
    const body = new Uint8Array(s.subarray(o, o + len));
    if (body.length !== len) throw new Error(`truncated body: ${body.length} of ${len}`);
    o += len;
    res.push({ status, headers, body, text: Buffer.from(body).toString('latin1') });
  }
  return res;
}

function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const t = suite('http');
let root: string;
let outside: string;
let uploads: string;
let big: Uint8Array;
const LONG_NAME = `${'x'.repeat(220)}.txt`;

t.before(() => {
  outside = mkdtempSync(join(tmpdir(), 'baton-http-'));
  root = join(outside, 'www');
  uploads = join(outside, 'up');
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(uploads);
  writeFileSync(join(outside, 'secret.txt'), 'secret\n');
  writeFileSync(join(root, 'a.txt'), 'hello\n');
  writeFileSync(join(root, 'index.html'), '<h1>hi</h1>\n');
  writeFileSync(join(root, 'sub', 'data.json'), '{"k":1}\n');
  writeFileSync(join(root, 'sub', 'index.html'), 'sub index\n');
  writeFileSync(join(root, 'empty.bin'), '');
  writeFileSync(join(root, LONG_NAME), 'long name\n');
  big = new SeededRandom(7).bytes(1_000_003);
  writeFileSync(join(root, 'big.bin'), big);
});

t.after(() => rmSync(outside, { recursive: true, force: true }));

/** One connection: sends `input` (then FIN if asked), runs to quiescence, parses the responses. */
function converse(input: string | Uint8Array, methods: readonly string[], o: LoopSocketOptions & { fin?: boolean; options?: AppOptions } = {}): { s: LoopSocket; r: Response[] } {
  const s = new LoopSocket(o);
  http({ root, ...o.options }).accept(s);
  s.send(input);
  if (o.fin === true) s.fin();
  s.run();
  return { s, r: parseResponses(s.received(), methods) };
}

t('GET a file: 200, type, length, body; the connection stays open (HTTP/1.1)', () => {
  const { s, r } = converse(get('/a.txt'), ['GET']);
  assert.is(r.length, 1);
  assert.is(r[0]!.status, 200);
  assert.is(r[0]!.headers['content-type'], 'text/plain; charset=utf-8');
  assert.is(r[0]!.headers['content-length'], '6');
  assert.is(r[0]!.headers['accept-ranges'], 'bytes');
  assert.is(r[0]!.headers['connection'], 'keep-alive');
  assert.is(r[0]!.text, 'hello\n');
  assert.not.ok(s.ended);
});

t('keep-alive: a sequence on one connection, closed by Connection: close', () => {
  const s = new LoopSocket();
  http({ root }).accept(s);
  s.send(get('/a.txt')).run();
  s.send(get('/sub/data.json')).run();
  assert.not.ok(s.ended);
  s.send(get('/', 'Connection: close\r\n')).run();
  assert.ok(s.ended);
  const r = parseResponses(s.received(), ['GET', 'GET', 'GET']);
  assert.equal(r.map((x) => x.status), [200, 200, 200]);
  assert.equal(r.map((x) => x.text), ['hello\n', '{"k":1}\n', '<h1>hi</h1>\n']);
  assert.is(r[1]!.headers['content-type'], 'application/json');
  assert.is(r[2]!.headers['connection'], 'close');
});

t('HTTP/1.0 closes unless keep-alive is asked', () => {
  const a = converse('GET /a.txt HTTP/1.0\r\n\r\n', ['GET']);
  assert.is(a.r[0]!.status, 200);
  assert.ok(a.s.ended);
  const b = converse('GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', ['GET']);
  assert.is(b.r[0]!.headers['connection'], 'keep-alive');
  assert.not.ok(b.s.ended);
});

t('pipelined requests are answered in order', () => {
  const { r } = converse(get('/a.txt') + get('/missing') + get('/sub/') + get('/a.txt', 'Range: bytes=1-2\r\n'), ['GET', 'GET', 'GET', 'GET']);
  assert.equal(r.map((x) => x.status), [200, 404, 200, 206]);
  assert.equal(r.map((x) => x.text), ['hello\n', '404 Not Found\n', 'sub index\n', 'el']);
});

t('pipelined requests behind a large streamed response wait their turn', () => {
  const { s, r } = converse(get('/big.bin') + get('/a.txt') + get('/big.bin', 'Range: bytes=-10\r\n'), ['GET', 'GET', 'GET'], { sendBuffer: 4096, readPerStep: 3000 });
  assert.equal(r.map((x) => x.status), [200, 200, 206]);
  assert.is(sha(r[0]!.body), sha(big));
  assert.is(r[1]!.text, 'hello\n');
  assert.equal(r[2]!.body, big.subarray(big.length - 10));
  assert.ok(s.maxQueued <= 4096 + 16384);
});

t('Range: a-b, a-, -n give 206 with Content-Range; a-b past the end is clamped', () => {
  const cases: [string, string, string][] = [
    ['bytes=0-4', 'hello', 'bytes 0-4/6'],
    ['bytes=2-', 'llo\n', 'bytes 2-5/6'],
    ['bytes=-2', 'o\n', 'bytes 4-5/6'],
    ['bytes=-100', 'hello\n', 'bytes 0-5/6'],
    ['bytes=3-1000', 'lo\n', 'bytes 3-5/6'],
  ];
  for (const [range, body, cr] of cases) {
    const { r } = converse(get('/a.txt', `Range: ${range}\r\n`), ['GET']);
    assert.is(r[0]!.status, 206, range);
    assert.is(r[0]!.text, body, range);
    assert.is(r[0]!.headers['content-range'], cr, range);
    assert.is(r[0]!.headers['content-length'], String(body.length), range);
  }
});

t('Range: unsatisfiable is 416 with bytes */size; unsupported forms are ignored (200)', () => {
  for (const range of ['bytes=6-', 'bytes=100-200', 'bytes=-0']) {
    const { s, r } = converse(get('/a.txt', `Range: ${range}\r\n`), ['GET']);
    assert.is(r[0]!.status, 416, range);
    assert.is(r[0]!.headers['content-range'], 'bytes */6', range);
    assert.not.ok(s.ended, 'a 416 keeps the connection');
  }
  for (const range of ['bytes=0-1,3-4', 'items=0-1', 'bytes=4-2', 'bytes=x-']) {
    const { r } = converse(get('/a.txt', `Range: ${range}\r\n`), ['GET']);
    assert.is(r[0]!.status, 200, range);
    assert.is(r[0]!.text, 'hello\n', range);
  }
});

t('HEAD: the GET headers without a body, and the connection goes on', () => {
  const { r } = converse(`HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n${get('/a.txt')}HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n`, ['HEAD', 'GET', 'HEAD']);
  assert.is(r[0]!.status, 200);
  assert.is(r[0]!.headers['content-length'], String(big.length));
  assert.is(r[0]!.body.length, 0);
  assert.is(r[1]!.text, 'hello\n');
  assert.is(r[2]!.status, 404);
});

t('404 for missing files and directories without an index; empty files are 200 with length 0', () => {
  mkdirSync(join(root, 'noindex'), { recursive: true });
  const { r } = converse(get('/nope.txt') + get('/noindex/') + get('/empty.bin'), ['GET', 'GET', 'GET']);
  assert.equal(r.map((x) => x.status), [404, 404, 200]);
  assert.is(r[2]!.headers['content-length'], '0');
  assert.is(r[2]!.headers['content-type'], 'application/octet-stream');
});

t('malformed requests get 400 and the connection is closed', () => {
  for (const bad of [
    'GET /a.txt\r\nHost: t\r\n\r\n',
    'GET  /a.txt HTTP/1.1\r\nHost: t\r\n\r\n',
    'GET /a.txt HTTP/1.1\r\n\r\n',
    'GET /a.txt HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n',
    'GET /a.txt HTTP/1.1\r\nHost : t\r\n\r\n',
    'GET /a.txt HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n',
    'GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n',
    'GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 1, 2\r\n\r\n',
    'GET a.txt HTTP/1.1\r\nHost: t\r\n\r\n',
    'GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n',
    'G(T /a.txt HTTP/1.1\r\nHost: t\r\n\r\n',
  ]) {
    const { s, r } = converse(bad + get('/a.txt'), ['GET']);
    assert.is(r.length, 1, JSON.stringify(bad));
    assert.is(r[0]!.status, 400, JSON.stringify(bad));
    assert.is(r[0]!.headers['connection'], 'close');
    assert.ok(s.ended);
  }
});

t('405 for other methods (with Allow), 505 for HTTP/2.0, 501 for Transfer-Encoding', () => {
  const a = converse(`DELETE /a.txt HTTP/1.1\r\nHost: t\r\n\r\n${get('/a.txt')}`, ['DELETE', 'GET']);
  assert.equal(a.r.map((x) => x.status), [405, 200]);
  assert.is(a.r[0]!.headers['allow'], 'GET, HEAD, PUT, POST');
  assert.is(converse('GET / HTTP/2.0\r\nHost: t\r\n\r\n', ['GET']).r[0]!.status, 505);
  const te = converse('POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', ['POST']);
  assert.is(te.r.length, 1);
  assert.is(te.r[0]!.status, 501);
  assert.ok(te.s.ended);
});

t('a head over maxHeaderBytes is 431 and closes, whether it comes in one chunk or many', () => {
  const huge = get('/a.txt', `X-Big: ${'y'.repeat(9000)}\r\n`);
  for (const chunk of [65536, 100]) {
    const { s, r } = converse(huge, ['GET'], { chunk });
    assert.is(r.length, 1);
    assert.is(r[0]!.status, 431, `chunk ${chunk}`);
    assert.ok(s.ended);
  }
  const ok = converse(get('/a.txt', `X-Big: ${'y'.repeat(7000)}\r\n`), ['GET'], { chunk: 100 });
  assert.is(ok.r[0]!.status, 200, 'just under the limit is fine');
});

t('path traversal never leaves the root', () => {
  const attempts = ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/../../secret.txt', '/..%2fsecret.txt', '/sub/%2E%2E/%2E%2E/secret.txt', '/./../secret.txt', '/%2e%2e%2f%2e%2e%2fetc/passwd'];
  const { r } = converse(attempts.map((p) => get(p)).join(''), attempts.map(() => 'GET'));
  assert.is(r.length, attempts.length);
  for (let i = 0; i < attempts.length; i++) {
    assert.is(r[i]!.status, 404, attempts[i]);
    assert.not.match(r[i]!.text, /secret/);
  }
  // Dot segments that stay inside are just not honoured either: /sub/../a.txt is refused, /./a.txt is fine.
  const ok = converse(get('/./a.txt') + get('/sub//data.json?x=1'), ['GET', 'GET']);
  assert.equal(ok.r.map((x) => x.status), [200, 200]);
});

t('a large file streams in chunks through a small send buffer and arrives intact', () => {
  const { s, r } = converse(get('/big.bin'), ['GET'], { sendBuffer: 8192, readPerStep: 1500, options: { chunkBytes: 4096 } });
  assert.is(r[0]!.status, 200);
  assert.is(r[0]!.body.length, big.length);
  assert.is(sha(r[0]!.body), sha(big));
  assert.ok(s.maxQueued <= 8192 + 4096, `queued ${s.maxQueued}`);
});

t('requests split one byte at a time are parsed the same', () => {
  const input = `\r\n${get('/a.txt')}HEAD /sub/data.json HTTP/1.1\r\nHost: t\r\n\r\n${get('/a.txt', 'Range: bytes=-3\r\nConnection: close\r\n')}`;
  const { s, r } = converse(input, ['GET', 'HEAD', 'GET'], { chunk: 1 });
  assert.equal(r.map((x) => x.status), [200, 200, 206]);
  assert.is(r[0]!.text, 'hello\n');
  assert.is(r[1]!.headers['content-length'], '8');
  assert.is(r[2]!.text, 'lo\n');
  assert.ok(s.ended);
});

t('a request body given by Content-Length is read and dropped; the next request follows', () => {
  const { r } = converse(`GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world${get('/sub/data.json')}`, ['GET', 'GET'], { chunk: 5 });
  assert.equal(r.map((x) => x.text), ['hello\n', '{"k":1}\n']);
});

t('PUT without an upload directory: 200 with the sha256 of the body', () => {
  const body = new SeededRandom(3).bytes(200_000);
  const head = `PUT /f.bin HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`;
  const { s, r } = converse(concat([Buffer.from(head, 'latin1'), body, Buffer.from(get('/a.txt'), 'latin1')]), ['PUT', 'GET'], { chunk: 1400 });
  assert.match(Buffer.from(s.received()).toString('latin1'), /^HTTP\/1\.1 100 Continue\r\n\r\n/);
  assert.is(r[0]!.status, 200);
  assert.is(r[0]!.text, `${sha(body)}\n`);
  assert.is(r[1]!.text, 'hello\n');
});

t('PUT and POST into the upload directory store the bytes: 201 with the sha256', () => {
  const body = new SeededRandom(4).bytes(70_000);
  const put = `PUT /up.bin HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n`;
  const post = 'POST /empty.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n';
  const { r } = converse(concat([Buffer.from(put, 'latin1'), body, Buffer.from(post, 'latin1')]), ['PUT', 'POST'], { chunk: 999, options: { upload: uploads } });
  assert.equal(r.map((x) => x.status), [201, 201]);
  assert.is(r[0]!.text, `${sha(body)}\n`);
  assert.equal(new Uint8Array(readFileSync(join(uploads, 'up.bin'))), body);
  assert.is(r[1]!.text, `${sha(new Uint8Array(0))}\n`);
  const bad = converse(`PUT /../x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi${get('/a.txt')}`, ['PUT', 'GET'], { options: { upload: uploads } });
  assert.equal(bad.r.map((x) => x.status), [404, 200]);
});

/** Runs `input` uninterrupted, then again moving the connection after `steps` steps; both outputs must match. */
function resumeMatches(input: string, steps: number, o: LoopSocketOptions): { first: LoopSocket; moved: LoopSocket } {
  const whole = new LoopSocket(o);
  http({ root }).accept(whole);
  whole.send(input).fin().run();
  const a = new LoopSocket(o);
  http({ root }).accept(a);
  a.send(input).fin();
  a.run(steps);
  const b = a.handoff();
  http({ root }).resume(b);
  b.run();
  const joined = concat([a.written(), b.written()]);
  assert.is(joined.length, whole.written().length, `moved after ${steps} steps`);
  assert.ok(Buffer.from(joined).equals(Buffer.from(whole.written())), `moved after ${steps} steps: outputs differ`);
  return { first: a, moved: b };
}

t('resume(): moved mid-response, a fresh instance continues the file exactly', () => {
  const input = get('/big.bin') + get('/a.txt', 'Range: bytes=1-3\r\n');
  for (const steps of [1, 2, 5, 40, 200, 333, 640]) {
    const { first, moved } = resumeMatches(input, steps, { sendBuffer: 4096, readPerStep: 3000 });
    assert.ok(first.ended !== moved.ended, 'exactly one holder ends the connection');
  }
});

t('resume(): moved mid-head, mid-body and between pipelined requests', () => {
  const input = `${get('/a.txt')}GET /sub/data.json HTTP/1.1\r\nHost: t\r\nContent-Length: 30\r\n\r\n${'z'.repeat(30)}${get('/big.bin', 'Range: bytes=1000-99999\r\n')}${get('/index.html')}`;
  for (let steps = 1; steps < 140; steps += 3) resumeMatches(input, steps, { chunk: 7, sendBuffer: 2048, readPerStep: 1024 });
});

t('resume(): a path too long for state makes the connection not resumable (reset, no wrong bytes)', () => {
  const a = new LoopSocket({ sendBuffer: 1, readPerStep: 1 });
  http({ root }).accept(a);
  a.send(get(`/${LONG_NAME}`));
  a.run(1);
  const b = a.handoff();
  http({ root }).resume(b);
  b.run();
  assert.ok(b.destroyed);
  assert.is(b.written().length, 0);
  // Served normally when it does not move.
  const { r } = converse(get(`/${LONG_NAME}`), ['GET']);
  assert.is(r[0]!.text, 'long name\n');
});

/** Requests on fresh connections to one app instance (one worker's cache). */
function onApp(app: ReturnType<typeof http>, path: string): Response {
  const s = new LoopSocket();
  app.accept(s);
  s.send(get(path, 'Connection: close\r\n')).run();
  return parseResponses(s.received(), ['GET'])[0]!;
}

t('file cache: a small file is served from memory until cacheValidMs, then checked again (size, mtime)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-http-cache-'));
  try {
    writeFileSync(join(dir, 'c.txt'), 'one\n');
    const cached = http({ root: dir, cacheValidMs: 3_600_000 });
    const fresh = http({ root: dir, cacheValidMs: 0 });
    assert.is(onApp(cached, '/c.txt').text, 'one\n');
    assert.is(onApp(fresh, '/c.txt').text, 'one\n');
    // A new size: the valid cache still answers with what it holds; a check sees it.
    writeFileSync(join(dir, 'c.txt'), 'three\n');
    assert.is(onApp(cached, '/c.txt').text, 'one\n');
    const r = onApp(fresh, '/c.txt');
    assert.is(r.text, 'three\n');
    assert.is(r.headers['content-length'], '6');
    // Same size, new bytes and a new mtime.
    writeFileSync(join(dir, 'c.txt'), 'THREE\n');
    utimesSync(join(dir, 'c.txt'), 1_000_000, 1_000_000);
    assert.is(onApp(fresh, '/c.txt').text, 'THREE\n');
    // Gone: 404 once checked.
    rmSync(join(dir, 'c.txt'));
    assert.is(onApp(fresh, '/c.txt').status, 404);
    assert.is(onApp(cached, '/c.txt').text, 'one\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('file cache: files over cacheBytes, and every file with cacheBytes 0, are read from the file system each time', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-http-cache-'));
  try {
    writeFileSync(join(dir, 'b.bin'), 'x'.repeat(600));
    writeFileSync(join(dir, 's.txt'), 'small\n');
    const app = http({ root: dir, cacheBytes: 512, cacheValidMs: 3_600_000 });
    const off = http({ root: dir, cacheBytes: 0, cacheValidMs: 3_600_000 });
    assert.is(onApp(app, '/b.bin').body.length, 600);
    assert.is(onApp(off, '/s.txt').text, 'small\n');
    writeFileSync(join(dir, 'b.bin'), 'y'.repeat(700));
    writeFileSync(join(dir, 's.txt'), 'SMALL!\n');
    const big = onApp(app, '/b.bin');
    assert.is(big.body.length, 700);
    assert.is(big.text, 'y'.repeat(700));
    assert.is(onApp(off, '/s.txt').text, 'SMALL!\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('file cache: ranges, HEAD and a directory index come from the cached file; an upload into root is served fresh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-http-cache-'));
  try {
    writeFileSync(join(dir, 'index.html'), 'index page\n');
    const app = http({ root: dir, upload: dir, cacheValidMs: 3_600_000 });
    assert.is(onApp(app, '/').text, 'index page\n');
    const s = new LoopSocket();
    app.accept(s);
    s.send(get('/index.html', 'Range: bytes=6-9\r\n') + 'HEAD / HTTP/1.1\r\nHost: t\r\n\r\n').run();
    const r = parseResponses(s.received(), ['GET', 'HEAD']);
    assert.is(r[0]!.status, 206);
    assert.is(r[0]!.text, 'page');
    assert.is(r[1]!.status, 200);
    assert.is(r[1]!.headers['content-length'], '11');
    const put = new LoopSocket();
    app.accept(put);
    put.send('PUT /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nnew\n').run();
    assert.is(parseResponses(put.received(), ['PUT'])[0]!.status, 201);
    assert.is(onApp(app, '/index.html').text, 'new\n');
    assert.is(onApp(app, '/').text, 'new\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('options: root is required and must be a directory; unknown options are refused', () => {
  const cases: [AppOptions, string][] = [
    [{}, 'root'],
    [{ root: join(outside, 'nope') }, 'root'],
    [{ root: join(root, 'a.txt') }, 'root'],
    [{ root, upload: join(outside, 'nope') }, 'upload'],
    [{ root, maxHeaderBytes: 10 }, 'maxHeaderBytes'],
    [{ root, cacheBytes: -1 }, 'cacheBytes'],
    [{ root, cacheValidMs: 'soon' }, 'cacheValidMs'],
    [{ root, index: 'x' }, 'index'],
  ];
  for (const [opts, key] of cases) {
    try {
      http(opts);
      assert.unreachable(JSON.stringify(opts));
    } catch (e) {
      assert.instance(e, AppConfigError);
      assert.is((e as AppConfigError).key, key);
    }
  }
});

t.run();
