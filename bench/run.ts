// Runs every benchmark suite, prints a readable table and writes
// bench/results/latest.json: an array of { name, unit, value, hz, samples }.
// Figures are reported, never asserted; the goal column is the target.
//
//   npm run bench                 all suites
//   npm run bench -- ring net     only the named suites
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Metric, BenchSuite } from './metric.js';

const suites = ['ring', 'net', 'io', 'cluster', 'tcp', 'failover', 'handoff'] as const;

const here = dirname(fileURLToPath(import.meta.url));
const resultsFile = join(here, '..', '..', 'bench', 'results', 'latest.json');

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const all: Metric[] = [];
  for (const s of suites) {
    if (wanted.length > 0 && !wanted.includes(s)) continue;
    const mod = (await import(`./${s}.bench.js`)) as { run: BenchSuite };
    process.stderr.write(`bench: running ${s} …\n`);
    const metrics = await mod.run();
    all.push(...metrics);
  }

  const rows = all.map((m) => [m.name, fmt(m.value), m.unit, m.goal ?? '', String(m.samples)]);
  const head = ['metric', 'value', 'unit', 'goal', 'samples'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  process.stdout.write(`${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);

  mkdirSync(dirname(resultsFile), { recursive: true });
  const fresh = all.map((m) => ({ name: m.name, unit: m.unit, value: m.value, hz: m.hz, samples: m.samples }));
  // A partial run (`npm run bench -- io`) replaces its own metrics and keeps the rest.
  let out = fresh;
  if (wanted.length > 0 && existsSync(resultsFile)) {
    const old = JSON.parse(readFileSync(resultsFile, 'utf8')) as { name: string }[];
    const names = new Set(fresh.map((m) => m.name));
    out = [...old.filter((m) => !names.has(m.name)), ...fresh] as typeof fresh;
  }
  writeFileSync(resultsFile, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`\nwrote ${resultsFile}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
