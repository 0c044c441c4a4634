// parseRequestHead scans the head in place; its first version split it into
// lines and used regular expressions. That version is kept here as the
// reference: both must give the same answer for well-formed heads, for the
// malformed ones the http tests name, and for thousands of random mutations.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeTargetPath, parseRequestHead, targetPath, type RequestHead } from '../../../dataplane/app/http-request.js';
import { SeededRandom } from '../net/seeded-random.js';

// ---- the reference: the split-and-regex parser, unchanged
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VERSION_RE = /^HTTP\/(\d)\.(\d)$/;

/**
 * Parses a request head (request line and header fields, without the final
 * empty line) given as latin1 text. Returns the head, or the status code to
 * answer with: 400 malformed, 505 a major version other than 1.
 */
function referenceParse(text: string): RequestHead | number {
  const lines = text.split('\r\n');
  // RFC 9112 3: method SP request-target SP HTTP-version, single spaces.
  const parts = lines[0]!.split(' ');
  if (parts.length !== 3) return 400;
  const [method, target, version] = parts as [string, string, string];
  if (!TOKEN_RE.test(method) || target === '') return 400;
  const v = VERSION_RE.exec(version);
  if (v === null) return 400;
  if (v[1] !== '1') return 505;
  const minor = Number(v[2]);
  let connClose = false;
  let connKeepAlive = false;
  let contentLength = -1;
  let transferEncoding = false;
  let expectContinue = false;
  let range: string | null = null;
  let host = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    // RFC 9112 5.1: no whitespace between name and colon; 5.2: obs-fold is rejected.
    if (colon <= 0) return 400;
    const name = line.slice(0, colon);
    if (!TOKEN_RE.test(name)) return 400;
    const value = line.slice(colon + 1).trim();
    switch (name.toLowerCase()) {
      case 'host':
        host++;
        break;
      case 'connection':
        for (const opt of value.toLowerCase().split(',')) {
          const o = opt.trim();
          if (o === 'close') connClose = true;
          else if (o === 'keep-alive') connKeepAlive = true;
        }
        break;
      case 'content-length': {
        // RFC 9112 6.3: a list of identical values is one value; anything else is an error.
        const vals = value.split(',').map((s) => s.trim());
        for (const s of vals) {
          if (!/^\d{1,15}$/.test(s)) return 400;
          const n = Number(s);
          if (contentLength >= 0 && n !== contentLength) return 400;
          contentLength = n;
        }
        break;
      }
      case 'transfer-encoding':
        transferEncoding = true;
        break;
      case 'expect':
        if (value.toLowerCase() === '100-continue') expectContinue = true;
        break;
      case 'range':
        range = value;
        break;
      default:
        break;
    }
  }
  // RFC 9112 3.2: a 1.1 request without exactly one Host is a 400.
  if (minor >= 1 && host !== 1) return 400;
  if (host > 1) return 400;
  const keepAlive = minor >= 1 ? !connClose : connKeepAlive && !connClose;
  return { method, target, minor, keepAlive, contentLength: contentLength < 0 ? 0 : contentLength, transferEncoding, expectContinue, range };
}

// ----

const HEADS = [
  'GET /1k.bin HTTP/1.1\r\nHost: 198.18.0.1\r\nConnection: close',
  'GET / HTTP/1.1\r\nHost: t',
  'GET /a.txt HTTP/1.0',
  'GET /a.txt HTTP/1.0\r\nConnection: Keep-Alive',
  'HEAD /x HTTP/1.1\r\nhost:t\r\nRange:  bytes=1-2 \r\nConnection: keep-alive, close',
  'POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 30\r\nExpect: 100-Continue',
  'PUT /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\nTransfer-Encoding: chunked',
  'GET /a.txt\r\nHost: t',
  'GET  /a.txt HTTP/1.1\r\nHost: t',
  'GET /a.txt HTTP/1.1',
  'GET /a.txt HTTP/1.1\r\nHost: t\r\nHost: u',
  'GET /a.txt HTTP/1.1\r\nHost : t',
  'GET /a.txt HTTP/1.1\r\nHost: t\r\n folded',
  'GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: abc',
  'GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 1, 2',
  'GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 1234567890123456',
  'GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: ',
  'G(T /a.txt HTTP/1.1\r\nHost: t',
  'GET / HTTP/2.0\r\nHost: t',
  'GET / HTTP/1.12\r\nHost: t',
  'GET / HTTP/1.x\r\nHost: t',
  'GET / http/1.1\r\nHost: t',
  'GET / HTTP/1.1 \r\nHost: t',
  'GET / HTTP/1.1\r\nHost: t\r\n',
  'GET / HTTP/1.1\r\n\r\nHost: t',
  'GET / HTTP/1.1\r\nHost: t\nX: y',
  'GET / HTTP/1.1\r\nX-\u00e9: 1\r\nHost: t',
  'GET / HTTP/1.1\r\nHost: \u00a0t\u00a0\r\nRange: \u00a0bytes=0-0',
  'GET /%20a HTTP/1.1\r\nHost: t\r\n:x',
  '',
  ' ',
  'GET',
  'GET / HTTP/1.1\r',
];

/** A result in comparable form. */
function show(r: unknown): string {
  return JSON.stringify(r);
}

test('the listed heads parse exactly as the reference parses them', () => {
  for (const h of HEADS) assert.is(show(parseRequestHead(h)), show(referenceParse(h)), JSON.stringify(h));
});

test('random mutations of real heads parse exactly as the reference parses them', () => {
  const alphabet = [' ', '\r', '\n', '\r\n', ':', ',', '/', '.', '1', '0', '2', 'H', 'T', 'P', 'a', '\t', '(', '\u00a0', 'close', 'keep-alive', 'Host', 'Content-Length'];
  for (const seed of [1, 2, 3, 4, 5]) {
    const r = new SeededRandom(seed);
    for (let n = 0; n < 4000; n++) {
      let h = HEADS[r.int(7)]!;
      const edits = 1 + r.int(4);
      for (let e = 0; e < edits; e++) {
        const at = r.int(h.length + 1);
        const kind = r.int(3);
        if (kind === 0) h = h.slice(0, at) + alphabet[r.int(alphabet.length)]! + h.slice(at);
        else if (kind === 1) h = h.slice(0, at) + h.slice(at + 1 + r.int(3));
        else h = h.slice(0, at) + alphabet[r.int(alphabet.length)]! + h.slice(at + 1);
      }
      assert.is(show(parseRequestHead(h)), show(referenceParse(h)), `seed ${seed}: ${JSON.stringify(h)}`);
    }
  }
});

test('targetPath (its one-pass fast path) gives the general decoder\'s answer for plain, encoded, dotted and odd targets', () => {
  const targets = ['/', '/1k.bin', '/a.txt', '/sub/data.json', '/sub/', '/sub//x', '//x', '/.hidden', '/a/.b', '/a./b', '/a..b', '/..',
    '/a/..', '/%2e%2e/x', '/x%20y', '/x?y=1', '/x#f', '/x\u0000', 'x', '', '/a/b/c/', '/a%', '/\u00e9'];
  for (const t of targets) assert.is(show(targetPath(t)), show(decodeTargetPath(t)), JSON.stringify(t));
  const r = new SeededRandom(9);
  const parts = ['/', '.', '..', 'a', 'b.txt', '%2e', '%2f', '%zz', '?', '#', '//', '\u0000', 'x'];
  for (let n = 0; n < 20000; n++) {
    let t = '/';
    for (let k = r.int(6); k >= 0; k--) t += parts[r.int(parts.length)]!;
    assert.is(show(targetPath(t)), show(decodeTargetPath(t)), JSON.stringify(t));
  }
});

test.run();
