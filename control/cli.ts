#!/usr/bin/env node
// `baton` — the command line. Every command is one entry in `commands`, so
// `baton --help` always lists exactly what exists.
import { parseArgs } from 'node:util';
import { BatonError, UsageError } from './errors.js';
import { DEFAULT_LAB, Lab, type Attachment, type LabSpec } from './lab.js';

interface Command {
  readonly usage: string;
  readonly summary: string;
  run(argv: string[]): Promise<number> | number;
}

function labSpecFrom(argv: string[]): LabSpec {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      clients: { type: 'string' },
      nodes: { type: 'string' },
      switch: { type: 'boolean' },
    },
  });
  const name = positionals[0] ?? DEFAULT_LAB.name;
  const clients = values.clients === undefined ? DEFAULT_LAB.clients : Number(values.clients);
  if (!Number.isInteger(clients) || clients < 0) throw new UsageError(`--clients: expected a whole number, got ${values.clients}`);
  let nodes: Attachment[] = [...DEFAULT_LAB.nodes];
  if (values.nodes !== undefined) {
    nodes = values.nodes.split(',').filter((s) => s !== '').map((s) => {
      if (s !== 'tap' && s !== 'veth' && s !== 'none') throw new UsageError(`--nodes: each node is tap, veth or none, got ${JSON.stringify(s)}`);
      return s;
    });
  }
  return { name, clients, nodes, hub: values.switch !== true };
}

function describe(lab: Lab): string {
  const lines = [`lab ${lab.spec.name}: segment namespace ${lab.segNs}, bridge ${lab.bridge} (${lab.spec.hub ? 'hub: floods unicast' : 'learning switch'})`];
  for (const c of lab.clients) lines.push(`  client ${c.index}: namespace ${c.ns}, ${c.ip}`);
  for (const n of lab.nodes) lines.push(`  node ${n.index}: ${n.attachment} ${n.ifname} in ${lab.segNs}, service address ${n.ip}`);
  return lines.join('\n');
}

const commands: Record<string, Command> = {
  'lab up': {
    usage: 'baton lab up [NAME] [--clients N] [--nodes tap,veth,none] [--switch]',
    summary: 'build a lab: a segment (hub unless --switch), kernel client hosts, node attachments',
    run(argv) {
      const lab = Lab.up(labSpecFrom(argv));
      process.stdout.write(`${describe(lab)}\nremove it with: baton lab down ${lab.spec.name}\n`);
      return 0;
    },
  },
  'lab down': {
    usage: 'baton lab down [NAME]',
    summary: 'remove every namespace (and so every device) of a lab',
    run(argv) {
      const name = argv[0] ?? DEFAULT_LAB.name;
      const gone = Lab.remove(name);
      process.stdout.write(gone.length === 0 ? `lab ${name}: nothing to remove\n` : `removed ${gone.join(' ')}\n`);
      return 0;
    },
  },
  demo: {
    usage: 'baton demo',
    summary: 'the main job on the embedded default: build the default lab, exercise it, tear it down',
    run() {
      // A default lab left by an interrupted demo is ours by name: clear it first.
      Lab.remove(DEFAULT_LAB.name);
      const lab = Lab.up(DEFAULT_LAB);
      try {
        process.stdout.write(`${describe(lab)}\n`);
        const [a, b] = lab.clients;
        if (a !== undefined && b !== undefined) {
          const out = lab.exec(a.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', b.ip]);
          const summary = out.split('\n').find((l) => l.includes('packets transmitted')) ?? out;
          process.stdout.write(`client ${a.index} -> client ${b.index} across the segment: ${summary.trim()}\n`);
        }
      } finally {
        lab.down();
        process.stdout.write(`lab ${lab.spec.name} removed\n`);
      }
      return 0;
    },
  },
};

function help(): string {
  const w = Math.max(...Object.values(commands).map((c) => c.usage.length));
  const rows = Object.values(commands).map((c) => `  ${c.usage.padEnd(w)}  ${c.summary}`);
  return `baton — keeps TCP connections alive when the node serving them dies\n\nusage:\n${rows.join('\n')}\n  baton --help\n`;
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(help());
    return 0;
  }
  const two = `${argv[0]} ${argv[1] ?? ''}`;
  const key = commands[two] !== undefined ? two : argv[0]!;
  const cmd = commands[key];
  if (cmd === undefined) throw new UsageError(`unknown command ${JSON.stringify(argv.join(' '))}; see baton --help`);
  return cmd.run(argv.slice(key.split(' ').length));
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const nodeCode = (err as { code?: unknown }).code;
    if (typeof nodeCode === 'string' && nodeCode.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`baton: ${(err as Error).message}; see baton --help [BATON_ERR_USAGE]\n`);
      process.exitCode = 64;
    } else if (err instanceof BatonError) {
      process.stderr.write(`baton: ${err.message} [${err.code}]\n`);
      process.exitCode = err.code === 'BATON_ERR_USAGE' ? 64 : 1;
    } else {
      process.stderr.write(`baton: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 70;
    }
  },
);
