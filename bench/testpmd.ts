// dpdk-testpmd as a bench peer: a generator and counter, or a reference
// forwarder, driven through its interactive prompt. Runs in a network
// namespace (or the bench's own), pinned by EAL to the lcores it is given.
//
// Interactive mode lets a bench inject several bursts (`start tx_first N`,
// frames in flight), wire interfaces after testpmd created them, and read
// `show port stats` (Rx-pps since the last show) when it chooses.
import { spawn, type ChildProcess } from 'node:child_process';

export interface TestpmdOptions {
  /** EAL --file-prefix: distinct per concurrent testpmd. */
  readonly name: string;
  /** EAL device arguments, e.g. --vdev=net_tap0,iface=gen0. */
  readonly vdev: string;
  /** The CPU of the forwarding lcore (0 or 1); the main lcore (the prompt, idle) takes the other. */
  readonly fwdCpu: number;
  /** testpmd arguments after `--` (forward mode, burst, peers). */
  readonly args: readonly string[];
  /** Network namespace to run in; none: the caller's. */
  readonly ns?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Testpmd {
  private readonly child: ChildProcess;
  private out = '';

  private constructor(child: ChildProcess) {
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
  }

  /** Starts testpmd and waits for its prompt (ports started). */
  static async start(o: TestpmdOptions, upWithinMs = 20_000): Promise<Testpmd> {
    const main = o.fwdCpu === 0 ? 1 : 0;
    // stdbuf: testpmd's stdout is a pipe here, and block-buffered it would answer no command.
    const argv = ['stdbuf', '-oL', 'dpdk-testpmd', '--no-huge', '--no-shconf', '--no-pci', '--no-telemetry', '-m', '512',
      '-l', '0,1', '--main-lcore', String(main), '--file-prefix', o.name, o.vdev, '--',
      '-i', '--total-num-mbufs=4096', ...o.args];
    const child = o.ns === undefined ? spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn('ip', ['netns', 'exec', o.ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
    const t = new Testpmd(child);
    const deadline = Date.now() + upWithinMs;
    while (!t.out.includes('testpmd> ')) {
      if (child.exitCode !== null || Date.now() > deadline) {
        t.kill();
        throw new Error(`dpdk-testpmd ${o.name} did not start:\n${t.out.slice(-2000)}`);
      }
      await sleep(50);
    }
    return t;
  }

  /** Sends one command line (no answer awaited). */
  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** Port 0's counters: packets in and out so far, and Rx-pps since the last call. */
  async stats(): Promise<{ rx: number; tx: number; rxPps: number }> {
    this.out = '';
    this.send('show port stats 0');
    const deadline = Date.now() + 3000;
    let m: RegExpExecArray | null = null;
    while ((m = /RX-packets:\s+(\d+)[\s\S]*TX-packets:\s+(\d+)[\s\S]*Rx-pps:\s+(\d+)/.exec(this.out)) === null) {
      if (Date.now() > deadline) throw new Error(`dpdk-testpmd gave no port stats:\n${this.out.slice(-2000)}`);
      await sleep(20);
    }
    return { rx: Number(m[1]), tx: Number(m[2]), rxPps: Number(m[3]) };
  }

  /** Samples Rx-pps once a second, `n` times (the first, since start, is not kept). */
  async sampleRxPps(n: number): Promise<number[]> {
    await this.stats();
    const rates: number[] = [];
    for (let i = 0; i < n; i++) {
      await sleep(1000);
      rates.push((await this.stats()).rxPps);
    }
    return rates;
  }

  output(): string {
    return this.out;
  }

  /** Stops forwarding and quits; SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.send('stop');
    this.send('quit');
    await Promise.race([exited, sleep(3000)]);
    this.kill();
    await Promise.race([exited, sleep(2000)]);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
