// A kernel-TCP client for failover tests, run inside a lab namespace: N
// connections to an echo service each stream BYTES of a per-connection
// pattern at RATE bytes/s (so the stream spans the moment a node is killed),
// check every echoed byte in order, then half-close and wait for the
// server's close. Records the longest gap in each connection's received
// stream while bytes were outstanding (the stall). Prints one JSON line:
//   {ok, failed, errors, maxStallMs, stalls[], bytes, ms}
// Bounded: exits after TIMEOUT_MS whatever happens.
import { connect } from 'node:net';

const [host, portText, countText, bytesText, rateText, timeoutText, tickText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText ?? '10');
const bytes = Number(bytesText ?? '1000000');
const rate = Number(rateText ?? '1000000');
const timeoutMs = Number(timeoutText ?? '60000');
if (host === undefined || !Number.isInteger(port)) {
  process.stderr.write('usage: echo-stream HOST PORT [COUNT] [BYTES] [RATE_BYTES_PER_S] [TIMEOUT_MS] [TICK_MS]\n');
  process.exit(2);
}

function byteAt(conn: number, k: number): number {
  // A cheap keyed pattern: any misplaced, lost or repeated byte shows.
  const x = Math.imul((k + 1) ^ Math.imul(conn + 1, 0x9e3779b1), 0x85ebca6b) >>> 0;
  return (x ^ (x >>> 13)) & 0xff;
}

const started = Date.now();
let ok = 0;
let failed = 0;
let done = 0;
let total = 0;
const errors: Record<string, number> = {};
const stalls: number[] = new Array<number>(count).fill(0);

function finish(): void {
  process.stdout.write(`${JSON.stringify({ ok, failed, errors, maxStallMs: Math.max(0, ...stalls), stalls, bytes: total, ms: Date.now() - started })}\n`);
  process.exit(0);
}

setTimeout(() => {
  errors['timeout'] = count - done;
  failed += count - done;
  finish();
}, timeoutMs).unref();

// One write per connection every TICK_MS (default 5): RATE sets the bytes, TICK_MS the packet rate.
const TICK_MS = Number(tickText ?? '5');
const perTick = Math.max(1, Math.floor((rate * TICK_MS) / 1000));

for (let i = 0; i < count; i++) {
  let sent = 0;
  let received = 0;
  let lastData = 0;
  let settled = false;
  const s = connect({ host, port });
  s.setNoDelay(true);
  const settle = (good: boolean, why?: string): void => {
    if (settled) return;
    settled = true;
    clearInterval(timer);
    if (good) ok++;
    else {
      failed++;
      if (why !== undefined) errors[why] = (errors[why] ?? 0) + 1;
      s.destroy();
    }
    if (++done === count) finish();
  };
  const timer = setInterval(() => {
    if (sent >= bytes || settled) return;
    const now = Date.now();
    if (received < sent && lastData !== 0) stalls[i] = Math.max(stalls[i]!, now - lastData);
    if (s.writableLength > 4 * perTick) return;
    const n = Math.min(perTick, bytes - sent);
    const b = Buffer.allocUnsafe(n);
    for (let k = 0; k < n; k++) b[k] = byteAt(i, sent + k);
    if (sent === 0) lastData = now;
    sent += n;
    s.write(b);
    if (sent >= bytes) s.end();
  }, TICK_MS);
  s.on('data', (c: Buffer) => {
    const now = Date.now();
    if (lastData !== 0) stalls[i] = Math.max(stalls[i]!, now - lastData);
    lastData = now;
    for (let k = 0; k < c.length; k++) {
      if (c[k] !== byteAt(i, received + k)) {
        settle(false, received + k >= sent ? 'extra-bytes' : 'wrong-byte');
        return;
      }
    }
    received += c.length;
    total += c.length;
    if (received > bytes) settle(false, 'extra-bytes');
  });
  s.on('end', () => settle(received === bytes, received < bytes ? 'short' : undefined));
  s.on('error', (e: NodeJS.ErrnoException) => settle(false, e.code ?? e.message));
  s.on('close', () => settle(received === bytes, 'closed-early'));
}
