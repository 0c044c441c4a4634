// HTTP/1.1 request heads, ranges and paths for the built-in file server
// (RFC 9112 message syntax, RFC 9110 semantics). Pure functions over strings:
// no I/O, so they are tested on their own.

export interface RequestHead {
  readonly method: string;
  /** The request target as sent (origin-form). */
  readonly target: string;
  /** HTTP/1.x minor version. */
  readonly minor: number;
  /** RFC 9112 9.3: persistent unless `close` (1.1) or unless `keep-alive` was asked (1.0). */
  readonly keepAlive: boolean;
  /** Body bytes that follow the head (Content-Length), 0 when none. */
  readonly contentLength: number;
  readonly transferEncoding: boolean;
  readonly expectContinue: boolean;
  /** The Range header's value, or null. */
  readonly range: string | null;
}

/** RFC 9110 5.6.2 tchar, by char code (0–127). */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

/** text[from, to) is a non-empty token. */
function isToken(text: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Parses a request head (request line and header fields, without the final
 * empty line) given as latin1 text. Returns the head, or the status code to
 * answer with: 400 malformed, 505 a major version other than 1.
 *
 * Lines end at CRLF; the text is scanned in place (no split, no regular
 * expressions: this runs once per request).
 */
export function parseRequestHead(text: string): RequestHead | number {
  const len = text.length;
  let eol = text.indexOf('\r\n');
  if (eol < 0) eol = len;
  // RFC 9112 3: method SP request-target SP HTTP-version, single spaces.
  const sp1 = text.indexOf(' ');
  if (sp1 < 0 || sp1 >= eol) return 400;
  const sp2 = text.indexOf(' ', sp1 + 1);
  if (sp2 < 0 || sp2 >= eol) return 400;
  const sp3 = text.indexOf(' ', sp2 + 1);
  if (sp3 >= 0 && sp3 < eol) return 400;
  if (!isToken(text, 0, sp1) || sp2 === sp1 + 1) return 400;
  // HTTP-version = "HTTP/" DIGIT "." DIGIT
  const v = sp2 + 1;
  if (eol - v !== 8 || !text.startsWith('HTTP/', v) || !isDigit(text.charCodeAt(v + 5)) || text.charCodeAt(v + 6) !== 0x2e ||
      !isDigit(text.charCodeAt(v + 7))) return 400;
  if (text.charCodeAt(v + 5) !== 0x31) return 505;
  const method = text.slice(0, sp1);
  const target = text.slice(sp1 + 1, sp2);
  const minor = text.charCodeAt(v + 7) - 0x30;
  let connClose = false;
  let connKeepAlive = false;
  let contentLength = -1;
  let transferEncoding = false;
  let expectContinue = false;
  let range: string | null = null;
  let host = 0;
  // Each field line starts after a CRLF (a head that ends in one has an empty last line: 400).
  for (let pos = eol; pos < len;) {
    const start = pos + 2;
    let end = text.indexOf('\r\n', start);
    if (end < 0) end = len;
    pos = end;
    const colon = text.indexOf(':', start);
    // RFC 9112 5.1: no whitespace between name and colon; 5.2: obs-fold is rejected.
    if (colon < 0 || colon >= end || !isToken(text, start, colon)) return 400;
    const name = text.slice(start, colon).toLowerCase();
    switch (name) {
      case 'host':
        host++;
        break;
      case 'connection': {
        const value = text.slice(colon + 1, end).trim();
        // The usual single value, as clients send it.
        if (value === 'close') {
          connClose = true;
          break;
        }
        if (value === 'keep-alive') {
          connKeepAlive = true;
          break;
        }
        for (const opt of value.toLowerCase().split(',')) {
          const o = opt.trim();
          if (o === 'close') connClose = true;
          else if (o === 'keep-alive') connKeepAlive = true;
        }
        break;
      }
      case 'content-length': {
        // RFC 9112 6.3: a list of identical values is one value; anything else is an error.
        for (const part of text.slice(colon + 1, end).trim().split(',')) {
          const s = part.trim();
          if (s.length === 0 || s.length > 15) return 400;
          for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return 400;
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
        if (text.slice(colon + 1, end).trim().toLowerCase() === '100-continue') expectContinue = true;
        break;
      case 'range':
        range = text.slice(colon + 1, end).trim();
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

/** A byte range [start, end) of a representation. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export const RANGE_IGNORE = 0;
export const RANGE_UNSATISFIABLE = 1;

/**
 * RFC 9110 14.2: one `bytes=a-b`, `bytes=a-` or `bytes=-n` range against a
 * representation of `size` bytes. Anything else (other units, several
 * ranges, bad syntax) is ignored — the server then sends the whole thing,
 * which the RFC allows.
 */
export function parseRange(value: string, size: number): ByteRange | typeof RANGE_IGNORE | typeof RANGE_UNSATISFIABLE {
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(value.trim());
  if (m === null) return RANGE_IGNORE;
  const a = m[1]!;
  const b = m[2]!;
  if (a === '' && b === '') return RANGE_IGNORE;
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return RANGE_UNSATISFIABLE;
    return { start: n >= size ? 0 : size - n, end: size };
  }
  const start = Number(a);
  if (b !== '' && Number(b) < start) return RANGE_IGNORE;
  if (start >= size) return RANGE_UNSATISFIABLE;
  const last = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  return { start, end: last + 1 };
}

/**
 * The path below the root that a request target names, without a leading
 * slash ('' is the root itself), or the status to answer: 400 for a target
 * that is not origin-form or not valid percent-encoding, 404 for one that
 * would leave the root. The query is ignored.
 */
export function targetPath(target: string): string | number {
  if (!target.startsWith('/')) return 400;
  // The common case in one pass: nothing to decode, no query, no empty, `.`
  // or `..` segment, no trailing slash — the path is the target less its slash.
  let plain = target.length > 1 && target.charCodeAt(target.length - 1) !== 0x2f;
  for (let i = 1; plain && i < target.length; i++) {
    const c = target.charCodeAt(i);
    const prev = target.charCodeAt(i - 1);
    if (c === 0x25 || c === 0x3f || c === 0x23 || c === 0 || (prev === 0x2f && (c === 0x2f || c === 0x2e))) plain = false;
  }
  return plain ? target.slice(1) : decodeTargetPath(target);
}

/** targetPath's answer by the general route (decode, then walk the segments), for any target; targetPath takes it unless the target is plain. */
export function decodeTargetPath(target: string): string | number {
  if (!target.startsWith('/')) return 400;
  const q = target.search(/[?#]/);
  const raw = q < 0 ? target : target.slice(0, q);
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return 400;
  }
  if (decoded.includes('\0')) return 400;
  const out: string[] = [];
  for (const seg of decoded.split('/')) {
    if (seg === '' || seg === '.') continue;
    // Never climb: `..` anywhere (after decoding, so %2e%2e too) is refused, not resolved.
    if (seg === '..') return 404;
    out.push(seg);
  }
  return out.join('/');
}

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  json: 'application/json',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
};

export function contentType(path: string): string {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  if (dot <= slash + 1) return 'application/octet-stream';
  return TYPES[path.slice(dot + 1).toLowerCase()] ?? 'application/octet-stream';
}

export const REASONS: Readonly<Record<number, string>> = {
  100: 'Continue',
  200: 'OK',
  201: 'Created',
  206: 'Partial Content',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  416: 'Range Not Satisfiable',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};
