// A kernel-TCP client for functional tests, run inside a lab namespace:
// opens N connections to an echo service at once, writes a distinct
// pattern on each, reads it back, checks every byte, half-closes and waits
// for the server's close. Prints one JSON line: {ok, failed, errors, ms}.
// Bounded: exits after `timeoutMs` whatever happens.
import { connect } from 'node:net';

const [host, portText, countText, bytesText, timeoutText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText ?? '1000');
const bytes = Number(bytesText ?? '1000');
const timeoutMs = Number(timeoutText ?? '60000');
if (host === undefined || !Number.isInteger(port)) {
  process.stderr.write('usage: echo-many HOST PORT [COUNT] [BYTES] [TIMEOUT_MS]\n');
  process.exit(2);
}

function payload(i: number): Buffer {
  const b = Buffer.alloc(bytes);
  let x = (i * 2654435761) >>> 0;
  for (let k = 0; k < bytes; k++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[k] = x >>> 24;
  }
  return b;
}

const started = Date.now();
let ok = 0;
let failed = 0;
const errors: Record<string, number> = {};
let done = 0;

function finish(): void {
  process.stdout.write(`${JSON.stringify({ ok, failed, errors, ms: Date.now() - started })}\n`);
  process.exit(0);
}

setTimeout(() => {
  errors['timeout'] = count - done;
  failed += count - done;
  finish();
}, timeoutMs).unref();

for (let i = 0; i < count; i++) {
  const want = payload(i);
  const got: Buffer[] = [];
  let len = 0;
  let settled = false;
  const s = connect({ host, port });
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
  s.on('connect', () => s.end(want));
  s.on('data', (d: Buffer) => {
    got.push(d);
    len += d.length;
  });
  s.on('error', (e: NodeJS.ErrnoException) => settle(false, e.code ?? e.message));
  s.on('close', () => settle(len === bytes && Buffer.concat(got).equals(want), len === bytes ? 'corrupt' : `short:${len}`));
}
