// A long-lived kernel-TCP client population for failover kill loops, run
// inside a lab namespace. One process holds every population the loop
// needs, each connection recording its own timeline, so a single run spans
// many kills of the server's primary:
//
//   echo   — COUNT streams to an echo service, each writing a per-connection
//            pattern every TICK_MS and checking every echoed byte in order
//            (both ways: what it sent must come back, nothing else), living
//            LIFE_MS (random in the range) and then half-closing and
//            waiting for the server's close; a new stream replaces it.
//   many   — COUNT connections to the echo service opened at the start (a
//            few per tick, not one SYN burst), each writing SIZE bytes every
//            PERIOD_MS (random phase) and checking the echo; they live until
//            the end, so every kill falls inside all of them.
//   http   — downloads, one loop per entry: PATH of BYTES with sha256 SHA,
//            read at RATE bytes/s (the reader pauses the socket: TCP's
//            window holds the server back, as curl --limit-rate does),
//            one after another on one keep-alive connection (keepAlive) or
//            on a new connection each.
//
// Every connection prints one JSON line when it ends (or is still running at
// the end):  {k, id, name, start, firstRx, lastRx, end, port, ok, err, bytes, gaps}
// — times in ms since the epoch; gaps are [from, to] pairs of silences of at
// least GAP_MS while bytes were due (echo: sent and not yet back; http: a
// response unfinished and the reader not paused). The last line is
// {"summary": …}.
//
// {"stuck": {k, id, port, sent, received, since}} says at once that an echo
// connection has had bytes due for 5 s.
//
// stdin: "stop" — start nothing new; echo streams and the many connections
// half-close after their current write, downloads finish at full speed;
// then print and exit. Bounded: everything still open at TIMEOUT_MS counts
// as failed ('timeout') and the process exits.
import { createHash } from 'node:crypto';
import { request, Agent, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

interface Spec {
  host: string;
  echoPort: number;
  httpPort: number;
  timeoutMs: number;
  gapMs?: number;
  echo?: { count: number; rate: number; tickMs: number; lifeMs: [number, number] };
  many?: { count: number; size: number; periodMs: number; openPerTick?: number };
  /** delayMs: the first download starts this much later (two loops of one size out of phase). */
  http?: { name: string; path: string; bytes: number; sha: string; rate: number; keepAlive: boolean; delayMs?: number }[];
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
const GAP_MS = spec.gapMs ?? 20;
const MAX_GAPS = 2000;
/** Bytes due this long: the connection prints a "stuck" line (once). */
const STUCK_MS = 5000;

/** One connection's timeline, printed as a JSON line (read by snoop.test.ts). */
export interface LoadRecord {
  k: 'echo' | 'many' | 'http';
  id: number;
  name: string;
  start: number;
  firstRx: number;
  lastRx: number;
  end: number;
  /** The client's port (which connection, in the nodes' listings). */
  port: number;
  ok: boolean;
  err: string;
  bytes: number;
  gaps: [number, number][];
}

let stopping = false;
let open = 0;
let nextId = 0;
const results = { echo: { ok: 0, failed: 0 }, many: { ok: 0, failed: 0 }, http: { ok: 0, failed: 0 } };
const running = new Set<{ rec: LoadRecord; abort: (why: string) => void; state: (() => object) | undefined }>();
let onIdle: (() => void) | null = null;

function newRecord(k: LoadRecord['k'], name: string): LoadRecord {
  return { k, id: nextId++, name, start: Date.now(), firstRx: 0, lastRx: 0, end: 0, port: 0, ok: false, err: '', bytes: 0, gaps: [] };
}

function gap(rec: LoadRecord, from: number, to: number): void {
  if (to - from >= GAP_MS && rec.gaps.length < MAX_GAPS) rec.gaps.push([from, to]);
}

function track(rec: LoadRecord, abort: (why: string) => void, state?: () => object): (ok: boolean, err?: string) => void {
  open++;
  const entry = { rec, abort, state };
  running.add(entry);
  let done = false;
  return (ok, err) => {
    if (done) return;
    done = true;
    running.delete(entry);
    rec.end = Date.now();
    rec.ok = ok;
    rec.err = err ?? '';
    results[rec.k][ok ? 'ok' : 'failed']++;
    process.stdout.write(`${JSON.stringify(rec)}\n`);
    open--;
    if (open === 0 && onIdle !== null) onIdle();
  };
}

function byteAt(conn: number, k: number): number {
  const x = Math.imul((k + 1) ^ Math.imul(conn + 1, 0x9e3779b1), 0x85ebca6b) >>> 0;
  return (x ^ (x >>> 13)) & 0xff;
}

/**
 * Where the wrong bytes at stream offset `at` (c[i]…) came from: the stream
 * offset whose bytes they are (a chunk skipped or repeated), or none.
 */
function whence(tag: number, c: Buffer, i: number, at: number, sent: number): string {
  const n = Math.min(32, c.length - i);
  for (let k = Math.max(0, at - (1 << 20)); k + n <= sent; k++) {
    let j = 0;
    while (j < n && c[i + j] === byteAt(tag, k + j)) j++;
    if (j === n) return `${n} bytes of @${k} in a ${c.length}-byte read`;
  }
  return `${n} bytes of no offset, in a ${c.length}-byte read`;
}

/**
 * One connection to the echo service: writes `perWrite` bytes every `everyMs`
 * (the first after `phaseMs`) until `until()` says stop, checks the echo,
 * half-closes, and ends well only when every byte came back and the server
 * closed.
 */
function echoConn(k: 'echo' | 'many', perWrite: number, everyMs: number, phaseMs: number, until: () => boolean): void {
  const rec = newRecord(k, k);
  const tag = rec.id;
  const s: Socket = connect({ host: spec.host, port: spec.echoPort });
  s.setNoDelay(true);
  let sent = 0;
  let received = 0;
  /** When the oldest byte not yet echoed was sent (0: none due). */
  let dueSince = 0;
  let ended = false;
  /** When our FIN went (0: not yet). */
  let endedAt = 0;
  let timer: NodeJS.Timeout | null = null;
  // What an 'open' report says of it: where its write timer chain and its socket are.
  const state = (): object => ({ sent, received, ended, endedAt, timer: timer !== null, wrong, writableLength: s.writableLength, readyState: s.readyState, destroyed: s.destroyed, bytesWritten: s.bytesWritten });
  const finish = track(rec, (why) => fail(why), state);
  /** The wrong bytes seen (the connection is held open a moment after them): whatever ends it, this is why it failed. */
  let wrong = '';
  const fail = (why: string): void => {
    if (timer !== null) clearTimeout(timer);
    s.destroy();
    finish(false, wrong !== '' ? wrong : why);
  };
  const write = (): void => {
    timer = null;
    if (ended) return;
    if (until()) {
      ended = true;
      endedAt = Date.now();
      s.end();
      return;
    }
    // Back-pressure: a connection that is not being served keeps at most a few writes queued.
    if (s.writableLength <= 4 * perWrite) {
      const b = Buffer.allocUnsafe(perWrite);
      for (let i = 0; i < perWrite; i++) b[i] = byteAt(tag, sent + i);
      if (received === sent) dueSince = Date.now();
      sent += perWrite;
      s.write(b);
    }
    timer = setTimeout(write, everyMs);
  };
  s.once('connect', () => {
    rec.port = s.localPort ?? 0;
    timer = setTimeout(write, phaseMs);
  });
  // A connection with bytes due for STUCK_MS says so at once (the test looks at it while it is stuck).
  const watch = setInterval(() => {
    // Bytes due, or everything echoed and our FIN sent but the server's never came.
    const since = dueSince !== 0 ? dueSince : endedAt !== 0 && received === sent ? endedAt : 0;
    if (since !== 0 && Date.now() - since > STUCK_MS) {
      process.stdout.write(`${JSON.stringify({ stuck: { k, id: rec.id, port: rec.port, sent, received, since, closing: dueSince === 0 } })}\n`);
      clearInterval(watch);
    }
  }, 1000);
  s.once('close', () => clearInterval(watch));
  s.on('data', (c: Buffer) => {
    const now = Date.now();
    if (rec.firstRx === 0) rec.firstRx = now;
    if (dueSince !== 0) gap(rec, dueSince, now);
    rec.lastRx = now;
    for (let i = 0; i < c.length; i++) {
      if (c[i] !== byteAt(tag, received + i)) {
        const why = received + i >= sent ? 'extra-bytes' : `wrong-byte@${received + i} (${whence(tag, c, i, received + i, sent)})`;
        wrong = why;
        // Held open (not read) for a moment, and said at once: the test reads both nodes' rows of it while it exists.
        process.stdout.write(`${JSON.stringify({ stuck: { k, id: rec.id, port: rec.port, sent, received: received + i, why } })}\n`);
        clearInterval(watch);
        s.pause();
        if (timer !== null) clearTimeout(timer);
        timer = null;
        ended = true;
        setTimeout(() => fail(why), 3000);
        return;
      }
    }
    received += c.length;
    rec.bytes = received;
    if (received > sent) {
      fail('extra-bytes');
      return;
    }
    dueSince = received < sent ? now : 0;
  });
  s.on('end', () => {
    if (!ended) fail(`server-closed@${received}/${sent}`);
    else if (received !== sent) fail(`short@${received}/${sent}`);
    else {
      s.destroy();
      finish(true);
    }
  });
  s.on('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message));
  s.on('close', () => fail(`closed@${received}/${sent}`));
}

function startEcho(): void {
  const e = spec.echo;
  if (e === undefined) return;
  const perWrite = Math.max(1, Math.floor((e.rate * e.tickMs) / 1000));
  const one = (): void => {
    if (stopping) return;
    const life = e.lifeMs[0] + Math.random() * (e.lifeMs[1] - e.lifeMs[0]);
    const t0 = Date.now();
    echoConn('echo', perWrite, e.tickMs, 0, () => {
      if (stopping || Date.now() - t0 >= life) {
        // Its successor starts now (the population stays at count).
        setImmediate(one);
        return true;
      }
      return false;
    });
  };
  // Staggered starts, so the streams do not all end together.
  for (let i = 0; i < e.count; i++) setTimeout(one, i * 50);
}

function startMany(): void {
  const m = spec.many;
  if (m === undefined) return;
  const per = m.openPerTick ?? 50;
  let made = 0;
  const batch = (): void => {
    if (stopping) return;
    for (let i = 0; i < per && made < m.count; i++, made++) {
      echoConn('many', m.size, m.periodMs, Math.floor(Math.random() * m.periodMs), () => stopping);
    }
    if (made < m.count) setTimeout(batch, 50);
  };
  batch();
}

function startHttp(): void {
  for (const h of spec.http ?? []) {
    const agent = new Agent({ keepAlive: h.keepAlive, maxSockets: 1 });
    const one = (): void => {
      if (stopping) return;
      const rec = newRecord('http', h.name);
      const hash = createHash('sha256');
      let paused = false;
      let lastFlow = 0;
      let pauseTimer: NodeJS.Timeout | null = null;
      let res: IncomingMessage | null = null;
      const finish = track(rec, (why) => fail(why));
      const fail = (why: string): void => {
        if (pauseTimer !== null) clearTimeout(pauseTimer);
        req.destroy();
        finish(false, why);
      };
      const req = request({ host: spec.host, port: spec.httpPort, path: h.path, agent }, (r) => {
        res = r;
        if (r.statusCode !== 200) {
          fail(`status ${r.statusCode}`);
          return;
        }
        lastFlow = Date.now();
        const t0 = Date.now();
        // A download with no byte for STUCK_MS while it is not paused says so at once (the test captures it while stuck).
        const port = req.socket?.localPort ?? 0;
        const watch = setInterval(() => {
          if (!paused && Date.now() - lastFlow > STUCK_MS) {
            process.stdout.write(`${JSON.stringify({ stuck: { k: 'http', id: rec.id, port, sent: 0, received: rec.bytes, since: lastFlow } })}\n`);
            clearInterval(watch);
          }
        }, 1000);
        r.once('close', () => clearInterval(watch));
        r.on('data', (c: Buffer) => {
          const now = Date.now();
          if (rec.firstRx === 0) rec.firstRx = now;
          if (!paused) gap(rec, lastFlow, now);
          lastFlow = now;
          rec.lastRx = now;
          rec.bytes += c.length;
          hash.update(c);
          // Token bucket: ahead of RATE, pause until the schedule catches up (unless stopping: full speed).
          if (!stopping) {
            const ahead = (rec.bytes / h.rate) * 1000 - (now - t0);
            if (ahead > 5 && !paused) {
              paused = true;
              r.pause();
              pauseTimer = setTimeout(() => {
                pauseTimer = null;
                paused = false;
                lastFlow = Date.now();
                r.resume();
              }, ahead);
            }
          }
        });
        r.on('end', () => {
          if (rec.bytes !== h.bytes) fail(`short@${rec.bytes}/${h.bytes}`);
          else if (hash.digest('hex') !== h.sha) fail('sha256');
          else {
            finish(true);
            setImmediate(one);
          }
        });
        r.on('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message));
        r.on('aborted', () => fail(`aborted@${rec.bytes}`));
      });
      req.on('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message));
      req.end();
      req.on('socket', (so: Socket) => {
        const named = (): void => void (rec.port = so.localPort ?? 0);
        if (so.localPort !== undefined) named();
        else so.once('connect', named);
      });
      // Stopping: a paused download resumes at full speed.
      resumeNow = () => {
        if (pauseTimer !== null) {
          clearTimeout(pauseTimer);
          pauseTimer = null;
          paused = false;
          res?.resume();
        }
      };
    };
    let resumeNow = (): void => {};
    stopHooks.push(() => resumeNow());
    if ((h.delayMs ?? 0) > 0) setTimeout(one, h.delayMs);
    else one();
  }
}

const stopHooks: (() => void)[] = [];

function end(): void {
  process.stdout.write(`${JSON.stringify({ summary: results })}\n`);
  process.exit(0);
}

setTimeout(() => {
  for (const r of [...running]) r.abort('timeout');
  end();
}, spec.timeoutMs).unref();

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'stop' || stopping) return;
  stopping = true;
  for (const f of stopHooks.splice(0)) f();
  if (open === 0) end();
  else {
    onIdle = end;
    // Still open long after "stop": say which, so a test that gives up on this client can tell what never ended.
    setTimeout(() => {
      const left = [...running].slice(0, 20).map(({ rec, state }) => ({ k: rec.k, id: rec.id, port: rec.port, bytes: rec.bytes, lastRx: rec.lastRx, ...state?.() }));
      process.stdout.write(`${JSON.stringify({ open: left, count: running.size })}\n`);
    }, 90_000).unref();
  }
});

startEcho();
startMany();
startHttp();
