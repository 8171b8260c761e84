/**
 * How long `dualgate scan` takes as a pre-commit hook would run it: a fresh process each time (startup included),
 * on this repository, through the packaged entry point (dist/scan.mjs, what `npx dualgate scan` starts once dualgate
 * is installed) and through the repository's own bin (TypeScript via tsx, as `npx dualgate` runs in this checkout).
 *
 *   npm run build && npx tsx bench/scan-timing.ts            11 runs of each, median and max
 *   npx tsx bench/scan-timing.ts --runs 3
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '11' } } });
const RUNS = Number(values.runs);
const REPO = resolve(import.meta.dirname, '..');
const packaged = join(REPO, 'dist', 'scan.mjs');
if (!existsSync(packaged)) throw new Error('dist/scan.mjs is missing: run `npm run build` first');

function time(args: string[]): { medianMs: number; maxMs: number; summary: string } {
  const samples: number[] = [];
  let summary = '';
  for (let run = 0; run < RUNS; run++) {
    const startedMs = performance.now();
    const result = spawnSync(process.execPath, args, { cwd: REPO, encoding: 'utf8' });
    samples.push(performance.now() - startedMs);
    if (result.status !== 0 && result.status !== 1) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
    summary = result.stderr.trim().split('\n').at(-1) ?? '';
  }
  samples.sort((a, b) => a - b);
  return { medianMs: samples[Math.floor(samples.length / 2)] as number, maxMs: samples.at(-1) as number, summary };
}

const baseline = time(['-e', '0']);
process.stdout.write(
  `dualgate scan on ${REPO}, ${RUNS} fresh processes each (node startup alone: median ${baseline.medianMs.toFixed(0)} ms)\n`,
);
for (const [label, args] of [
  ['packaged, scan --staged', [packaged, 'scan', '--staged']],
  ['packaged, scan --gitignore .', [packaged, 'scan', '--gitignore', '.']],
  ['packaged, scan . (build output too)', [packaged, 'scan', '.']],
  ['this checkout (tsx), scan --gitignore .', [join(REPO, 'bin', 'dualgate-cli.mjs'), 'scan', '--gitignore', '.']],
] as const) {
  const result = time([...args]);
  process.stdout.write(
    `  ${label.padEnd(42)} median ${result.medianMs.toFixed(0).padStart(4)} ms, max ${result.maxMs.toFixed(0).padStart(4)} ms   (${result.summary.replace(/^dualgate scan: /, '')})\n`,
  );
}
