// echo-move: a kernel-TCP client for the handoff tests, run inside a lab namespace:
// N connections to an echo service, each streaming `bytes` of a position-
// dependent pattern in chunks every `intervalMs` (so the stream is still
// running when the test moves the connection), checking every echoed byte as
// it arrives, then half-closing and waiting for the server's close.
// Prints `connected <local port>…` once all are up, then one JSON line:
// {ok, failed, errors, sent, received, maxGapMs, ms}. maxGapMs is the longest
// silence between echoed chunks on any connection (the stall a move causes).
// Bounded: exits after `timeoutMs` whatever happens.
import { connect, type Socket } from 'node:net';

const [host, portText, countText, bytesText, chunkText, intervalText, timeoutText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText ?? '1');
const bytes = Number(bytesText ?? '1000000');
const chunk = Number(chunkText ?? '4096');
const intervalMs = Number(intervalText ?? '5');
const timeoutMs = Number(timeoutText ?? '60000');
if (host === undefined || !Number.isInteger(port)) {
  process.stderr.write('usage: echo-move HOST PORT [COUNT] [BYTES] [CHUNK] [INTERVAL_MS] [TIMEOUT_MS]\n');
  process.exit(2);
}

/** Byte at stream position i of connection c. */
function at(c: number, i: number): number {
  return (Math.imul(i + c * 7919, 2654435761) >>> 24) ^ (i & 0xff);
}

const started = Date.now();
let ok = 0;
let failed = 0;
let sent = 0;
let received = 0;
let maxGapMs = 0;
let done = 0;
let up = 0;
const errors: Record<string, number> = {};
const ports: number[] = [];

function finish(): void {
  process.stdout.write(`${JSON.stringify({ ok, failed, errors, sent, received, maxGapMs, ms: Date.now() - started })}\n`);
  process.exit(0);
}

setTimeout(() => {
  errors['timeout'] = count - done;
  failed += count - done;
  finish();
}, timeoutMs).unref();

function stream(c: number): void {
  let wrote = 0;
  let got = 0;
  let bad = -1;
  let last = 0;
  let settled = false;
  const s: Socket = connect({ host, port });
  const settle = (good: boolean, why?: string): void => {
    if (settled) return;
    settled = true;
    if (good) ok++;
    else {
      failed++;
      if (why !== undefined) errors[why] = (errors[why] ?? 0) + 1;
    }
    if (++done === count) finish();
  };
  const pump = (): void => {
    if (wrote >= bytes) return;
    const n = Math.min(chunk, bytes - wrote);
    const b = Buffer.alloc(n);
    for (let k = 0; k < n; k++) b[k] = at(c, wrote + k);
    wrote += n;
    sent += n;
    const more = s.write(b);
    if (wrote >= bytes) {
      s.end();
      return;
    }
    if (more) setTimeout(pump, intervalMs);
    else s.once('drain', () => setTimeout(pump, intervalMs));
  };
  s.on('connect', () => {
    ports.push(s.localPort ?? 0);
    if (++up === count) process.stdout.write(`connected ${ports.join(' ')}\n`);
    last = Date.now();
    pump();
  });
  s.on('data', (d: Buffer) => {
    const now = Date.now();
    if (got > 0 && now - last > maxGapMs) maxGapMs = now - last;
    last = now;
    for (let k = 0; k < d.length; k++) if (bad < 0 && d[k] !== at(c, got + k)) bad = got + k;
    got += d.length;
    received += d.length;
  });
  s.on('error', (e: NodeJS.ErrnoException) => settle(false, e.code ?? e.message));
  s.on('close', () => {
    if (bad >= 0) settle(false, `corrupt@${bad}`);
    else settle(got === bytes, `short:${got}`);
  });
}

for (let c = 0; c < count; c++) stream(c);
