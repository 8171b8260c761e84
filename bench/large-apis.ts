/**
 * Large route tables (docs/large-apis.md), each figure the median of `runs` fresh processes:
 *   - synth: `node --import tsx bench/large-app-synth.ts` for 100, 300 and 1,000 routes (ten functions, plans,
 *     monitoring), process start to the assembly on disk: what `cdk synth` spends in the app;
 *   - config bytes: the route-table file (dualgate-config.json) each dualgate function's asset carries;
 *   - templates: the largest template's resources and bytes (nested stacks included);
 *   - dev start-up: `dualgate dev --assembly <1,000-route assembly>` from spawn to its "ready" line, and `dualgate
 *     dev` synthesizing the app itself (cdk.json naming the synth script above).
 * The authorizer's cold start with 1,000 routes against 10 is a variant of bench/cold-start.ts.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNTIME_CONFIG_FILE } from '../lambdas/core/route-config';
import { REPO_ROOT } from './cold-start';
import { median, round } from './stats';

const TSX_LOADER = join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
const SYNTH_SCRIPT = join(REPO_ROOT, 'bench', 'large-app-synth.ts');
const CLI = join(REPO_ROOT, 'bin', 'dualgate-cli.mjs');

export interface LargeApisOptions {
  routeCounts: number[];
  runs: number;
  /** The table `dualgate dev` starts with. */
  devRoutes: number;
}

export interface LargeApisResults {
  /** Per route count: synth ms (median), route-table file bytes, largest template, nested stacks. */
  synth: Record<
    string,
    { synth_ms: number; config_bytes: number; max_template_resources: number; max_template_bytes: number; nested_stacks: number }
  >;
  dev: { routes: number; startup_from_assembly_ms: number; startup_with_synth_ms: number };
}

function timed(args: string[], env: NodeJS.ProcessEnv, cwd = REPO_ROOT, until?: RegExp): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const startedAt = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const elapsed = () => Number(process.hrtime.bigint() - startedAt) / 1e6;
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (until?.test(output)) {
        const ms = elapsed();
        child.kill('SIGTERM');
        resolvePromise(ms);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => {
      if (until && !until.test(output)) reject(new Error(`${args.join(' ')} exited (${code}) before ${until}:\n${output.slice(-3000)}`));
      else if (!until && code !== 0) reject(new Error(`${args.join(' ')} failed (${code}):\n${output.slice(-3000)}`));
      else if (!until) resolvePromise(elapsed());
    });
  });
}

function synth(routes: number, outdir: string): Promise<number> {
  return timed(['--import', TSX_LOADER, SYNTH_SCRIPT], {
    LARGE_APP_ROUTES: String(routes),
    CDK_OUTDIR: outdir,
    CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:enable-asset-metadata': true }),
  });
}

function assemblyFigures(dir: string) {
  const templates = readdirSync(dir).filter((name) => name.endsWith('.template.json'));
  const sizes = templates.map((name) => ({
    bytes: statSync(join(dir, name)).size,
    resources: Object.keys((JSON.parse(readFileSync(join(dir, name), 'utf8')) as { Resources?: object }).Resources ?? {}).length,
  }));
  const configs = readdirSync(dir).filter((name) => name.startsWith('asset.') && existsSync(join(dir, name, RUNTIME_CONFIG_FILE)));
  if (configs.length === 0) throw new Error(`no ${RUNTIME_CONFIG_FILE} in ${dir}`);
  return {
    config_bytes: statSync(join(dir, configs[0] as string, RUNTIME_CONFIG_FILE)).size,
    max_template_resources: Math.max(...sizes.map((size) => size.resources)),
    max_template_bytes: Math.max(...sizes.map((size) => size.bytes)),
    nested_stacks: templates.filter((name) => name.endsWith('.nested.template.json')).length,
  };
}

const READY = /dualgate dev: ready in/;

export async function runLargeApis(
  options: LargeApisOptions,
  progress: (line: string) => void = () => undefined,
): Promise<LargeApisResults> {
  const work = mkdtempSync(join(tmpdir(), 'dualgate-large-bench-'));
  try {
    const results: LargeApisResults['synth'] = {};
    let devAssembly = '';
    for (const routes of options.routeCounts) {
      progress(`synth of a ${routes}-route app × ${options.runs}`);
      const times: number[] = [];
      let last = '';
      for (let run = 0; run < options.runs; run++) {
        last = join(work, `synth-${routes}-${run}`);
        times.push(await synth(routes, last));
      }
      results[String(routes)] = { synth_ms: round(median(times), 0), ...assemblyFigures(last) };
      if (routes === options.devRoutes) devAssembly = last;
    }
    if (!devAssembly) {
      devAssembly = join(work, `synth-${options.devRoutes}`);
      await synth(options.devRoutes, devAssembly);
    }
    progress(`dualgate dev start-up with ${options.devRoutes} routes × ${options.runs} (from the assembly, then synthesizing)`);
    const devEnv = { PORT: '0', ISSUER_PORT: '0', LARGE_APP_ROUTES: String(options.devRoutes) };
    // An app directory whose cdk.json runs the synth script: dualgate dev synthesizes it as the CDK CLI would.
    const appDir = join(work, 'app');
    mkdirSync(appDir);
    writeFileSync(join(appDir, 'cdk.json'), JSON.stringify({ app: `node --import ${TSX_LOADER} ${SYNTH_SCRIPT}` }));
    const fromAssembly: number[] = [];
    const withSynth: number[] = [];
    for (let run = 0; run < options.runs; run++) {
      fromAssembly.push(await timed([CLI, 'dev', '--assembly', devAssembly], devEnv, REPO_ROOT, READY));
      withSynth.push(await timed([CLI, 'dev'], devEnv, appDir, READY));
    }
    return {
      synth: results,
      dev: {
        routes: options.devRoutes,
        startup_from_assembly_ms: round(median(fromAssembly), 0),
        startup_with_synth_ms: round(median(withSynth), 0),
      },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
