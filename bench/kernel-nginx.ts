// The kernel HTTP reference for the connection-rate bench: nginx from Debian
// (`nginx-light`, installed by scripts/ensure-deps.sh), one worker process,
// serving a directory over the kernel's TCP inside a lab namespace.
//
// Missing nginx is an error, never a silent fall-back to a weaker reference.
// `cpuSeconds()` is the CPU time (user + system) of nginx's master and worker
// processes, so the bench can report nginx's own rate per core.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NGINX = '/usr/sbin/nginx';

export interface Nginx {
  readonly pid: number;
  /** CPU seconds used so far by the master and all its children (the worker). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** Throws unless nginx and wrk are installed (see scripts/ensure-deps.sh). */
export function requireNginxAndWrk(): void {
  const missing = [NGINX, '/usr/bin/wrk'].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(`bench tcp: ${missing.join(' and ')} missing: the connection-rate bench needs Debian's nginx-light and wrk ` +
      '(run ./scripts/ensure-deps.sh as root to install them)');
  }
}

function procCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0; // exited
  }
}

function children(pid: number): number[] {
  const out: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
    if (text !== '') out.push(...text.split(' ').map(Number));
  }
  return out;
}

/** Starts nginx in `ns`, listening on address:port, serving `root`; resolves once it accepts. */
export async function startNginx(ns: string, address: string, port: number, root: string): Promise<Nginx> {
  requireNginxAndWrk();
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-nginx-'));
  const conf = join(dir, 'nginx.conf');
  // A plain static-file server: one worker, no access log, sendfile; temp paths
  // in our own directory so nothing outside it is written.
  writeFileSync(conf, `
user root;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 5s;
  default_type application/octet-stream;
  types { }
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen ${address}:${port} backlog=4096;
    root ${root};
    location / { }
  }
}
`);
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, NGINX, '-c', conf, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  // Ready when the worker exists and the port accepts.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${stderr}`);
    let up = false;
    try {
      const ss = execFileSync('ip', ['netns', 'exec', ns, 'ss', '-ltnH', `sport = :${port}`], { encoding: 'utf8' });
      up = ss.includes(`${address}:${port}`) && children(child.pid!).length > 0;
    } catch {
      up = false;
    }
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not start listening on ${address}:${port}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = child.pid!;
  return {
    pid,
    cpuSeconds(): number {
      let total = procCpu(pid);
      for (const c of children(pid)) total += procCpu(c);
      return total;
    },
    async stop(): Promise<void> {
      if (child.exitCode === null) {
        child.kill('SIGTERM'); // nginx: fast shutdown; the master stops its worker
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
