// The lab: network namespaces that stand in for a LAN segment, kernel-stack
// client hosts and the attachments that Baton nodes bind.
//
//   ns <lab>-c1 (kernel client)        ns <lab>-seg (the segment, the "switch room")
//   ┌─────────────┐                    ┌──────────────────────────────────────────┐
//   │ eth0 ───────┼── veth ──── c1p ───┤ br0 (ageing_time 0 = hub when spec.hub)  │
//   │ 198.18.0.101│                    │   ├── n1tap  (TAP: Baton node 1 binds)   │
//   └─────────────┘                    │   └── n2nic ─ veth ─ n2wire (AF_PACKET)  │
//                                      └──────────────────────────────────────────┘
//
// Baton node processes run inside the segment namespace, so a TAP they open by
// name and an AF_PACKET socket they bind are both found there; the bridge has
// no address, so the segment's own kernel stack never answers for anything.
// Addresses come from 198.18.0.0/24 (RFC 2544 benchmarking range) and exist
// only inside namespaces the lab made.
//
// Cleanup is structural: every namespace carries the lab's prefix, and
// `down()` deletes them all (which removes every veth, TAP and bridge inside),
// also from another process (`baton lab down`) after a crash.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { BatonError } from './errors.js';

export type Attachment = 'tap' | 'veth' | 'none';

export interface LabSpec {
  /** Short name; namespaces are called `bt<name>-…`. Letters and digits only. */
  readonly name: string;
  readonly clients: number;
  /** One entry per Baton node: how it is attached to the segment. */
  readonly nodes: readonly Attachment[];
  /** Flood unicast to every port (ageing_time 0), so a promiscuous backup sees the primary's traffic. */
  readonly hub: boolean;
}

export const DEFAULT_LAB: LabSpec = { name: 'lab', clients: 2, nodes: ['tap', 'tap'], hub: true };

export interface LabNode {
  readonly index: number;
  /** Interface Baton binds inside the segment namespace (TAP name or veth end). */
  readonly ifname: string;
  readonly attachment: Attachment;
  /** The node's service address (Baton answers for it; the kernel never does). */
  readonly ip: string;
}

export interface LabClient {
  readonly index: number;
  readonly ns: string;
  readonly ip: string;
}

const NAME_RE = /^[a-z0-9]{1,6}$/;
export const LAB_SUBNET_PREFIX = '198.18.0.';
export const LAB_PREFIX_LEN = 24;

function ip(args: readonly string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new BatonError('BATON_ERR_LAB', `ip ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

/** Namespaces whose names start with `prefix`. */
export function listNamespaces(prefix: string): string[] {
  const out = ip(['netns', 'list']);
  const names: string[] = [];
  for (const line of out.split('\n')) {
    const n = line.split(' ')[0];
    if (n !== undefined && n.startsWith(prefix)) names.push(n);
  }
  return names;
}

export class Lab {
  readonly spec: LabSpec;
  readonly segNs: string;
  readonly bridge = 'br0';
  readonly clients: LabClient[] = [];
  readonly nodes: LabNode[] = [];
  private live = false;

  private constructor(spec: LabSpec) {
    this.spec = spec;
    this.segNs = `${Lab.prefix(spec.name)}seg`;
  }

  static prefix(name: string): string {
    return `bt${name}-`;
  }

  /** Builds the lab. On any failure everything already built is removed before the error propagates. */
  static up(spec: LabSpec = DEFAULT_LAB): Lab {
    if (!NAME_RE.test(spec.name)) throw new BatonError('BATON_ERR_LAB', `lab name ${JSON.stringify(spec.name)}: 1-6 lowercase letters or digits`);
    if (spec.clients < 0 || spec.clients > 50 || spec.nodes.length > 50) throw new BatonError('BATON_ERR_LAB', 'lab: at most 50 clients and 50 nodes');
    const lab = new Lab(spec);
    if (listNamespaces(Lab.prefix(spec.name)).length > 0) {
      throw new BatonError('BATON_ERR_LAB', `lab ${spec.name} already exists: run \`baton lab down ${spec.name}\` first`);
    }
    lab.live = true;
    try {
      lab.build();
    } catch (err) {
      lab.down();
      throw err;
    }
    return lab;
  }

  private build(): void {
    const { segNs, bridge, spec } = this;
    ip(['netns', 'add', segNs]);
    ip(['-n', segNs, 'link', 'set', 'lo', 'up']);
    ip(['-n', segNs, 'link', 'add', bridge, 'type', 'bridge', 'ageing_time', spec.hub ? '0' : '30000', 'stp_state', '0']);
    ip(['-n', segNs, 'link', 'set', bridge, 'up']);

    for (let i = 1; i <= spec.clients; i++) {
      const ns = `${Lab.prefix(spec.name)}c${i}`;
      const addr = `${LAB_SUBNET_PREFIX}${100 + i}`;
      ip(['netns', 'add', ns]);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', segNs, 'link', 'add', `c${i}p`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      ip(['-n', segNs, 'link', 'set', `c${i}p`, 'master', bridge, 'up']);
      ip(['-n', ns, 'addr', 'add', `${addr}/${LAB_PREFIX_LEN}`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      this.clients.push({ index: i, ns, ip: addr });
    }

    spec.nodes.forEach((attachment, k) => {
      const i = k + 1;
      const addr = `${LAB_SUBNET_PREFIX}${i}`;
      let ifname = `n${i}nic`;
      if (attachment === 'tap') {
        ifname = `n${i}tap`;
        // Persistent, multi-queue, with vnet headers: Baton attaches by name with the same flags.
        ip(['-n', segNs, 'tuntap', 'add', 'dev', ifname, 'mode', 'tap', 'multi_queue', 'vnet_hdr']);
        ip(['-n', segNs, 'link', 'set', ifname, 'master', bridge, 'up']);
      } else if (attachment === 'veth') {
        ip(['-n', segNs, 'link', 'add', `n${i}port`, 'type', 'veth', 'peer', 'name', ifname]);
        ip(['-n', segNs, 'link', 'set', `n${i}port`, 'master', bridge, 'up']);
        ip(['-n', segNs, 'link', 'set', ifname, 'up']);
      }
      // 'none': the node creates its own port (DPDK net_tap); attach() bridges it later.
      this.nodes.push({ index: i, ifname, attachment, ip: addr });
    });
  }

  /** Bridges an interface a node created itself (e.g. DPDK's net_tap) into the segment. */
  attach(ifname: string): void {
    ip(['-n', this.segNs, 'link', 'set', ifname, 'master', this.bridge, 'up']);
  }

  /** Argument vector that runs `argv` inside namespace `ns`. */
  static inNs(ns: string, argv: readonly string[]): string[] {
    return ['ip', 'netns', 'exec', ns, ...argv];
  }

  /**
   * Runs a command in namespace `ns` without blocking; resolves with its exit
   * code (null when killed) and its stdout and stderr together. SIGKILLed
   * after `timeoutMs`. `onSpawn` sees the child (to kill it when the caller exits).
   */
  static run(ns: string, argv: readonly string[], timeoutMs: number, onSpawn?: (c: ChildProcess) => void): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
      const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
      onSpawn?.(child);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });
  }

  /** Runs a command in a namespace and returns its stdout (throws BatonError on failure). */
  exec(ns: string, argv: readonly string[], timeoutMs = 30_000): string {
    try {
      return execFileSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new BatonError('BATON_ERR_LAB', `in ${ns}: ${argv.join(' ')}: ${(e.stderr || e.stdout || e.message).trim()}`, { cause: err });
    }
  }

  /** Removes every namespace of this lab. Safe to call twice and after a partial build. */
  down(): void {
    if (!this.live) return;
    this.live = false;
    Lab.remove(this.spec.name);
  }

  /** Removes every namespace of lab `name`, whoever made it. Returns the names removed. */
  static remove(name: string): string[] {
    const gone: string[] = [];
    for (const ns of listNamespaces(Lab.prefix(name))) {
      try {
        ip(['netns', 'del', ns]);
        gone.push(ns);
      } catch {
        // Already gone (a concurrent teardown): nothing left to remove.
      }
    }
    return gone;
  }
}
