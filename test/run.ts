// Runs every uvu suite under dist/test in child processes and ends with the
// one line CI reads: `N passed, N failed`. Each suite group runs in its own
// process so a crash in one (a native fault, an import error) is counted as a
// failure of that group instead of hiding the others.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const uvuBin = join(dirname(dirname(createRequire(import.meta.url).resolve('uvu'))), 'bin.js');

interface Group { readonly dir: string; readonly label: string }

const groups: Group[] = [
  { dir: join(here, 'unit'), label: 'unit' },
  { dir: join(here, 'functional'), label: 'functional' },
];

const only = process.argv[2];
let passed = 0;
let failed = 0;

for (const g of groups) {
  if (only !== undefined && only !== g.label) continue;
  if (!existsSync(g.dir)) continue;
  process.stdout.write(`\n== ${g.label} tests ==\n`);
  const r = spawnSync(process.execPath, [uvuBin, g.dir, '\\.test\\.js$', '--no-color'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = r.stdout ?? '';
  process.stdout.write(out);
  const total = /Total:\s+(\d+)/.exec(out);
  const ok = /Passed:\s+(\d+)/.exec(out);
  const skipped = /Skipped:\s+(\d+)/.exec(out);
  if (total === null || ok === null) {
    // The runner died before its summary: count the whole group as one failure.
    process.stdout.write(`\n${g.label}: runner exited with status ${r.status ?? r.signal} before its summary\n`);
    failed += 1;
    continue;
  }
  const t = Number(total[1]);
  const p = Number(ok[1]);
  const s = skipped === null ? 0 : Number(skipped[1]);
  passed += p;
  failed += t - p - s;
  if (s > 0) {
    // Skips are failures here: a missing prerequisite must be installed, not skipped.
    failed += s;
  }
  if (r.status !== 0 && t - p - s === 0) failed += 1;
}

process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exitCode = failed === 0 ? 0 : 1;
