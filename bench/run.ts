/**
 * `npm run bench`: every benchmark, then a table of figures beside their floors and references, the
 * targets (as ratios measured in this run) and bench-results.json at the repository root.
 *
 *   npm run bench                    the full run (about 2-3 minutes)
 *   npm run bench -- --quick         a few iterations of everything (smoke run; figures are not meaningful)
 *   npm run bench -- --profile DIR   also write --cpu-prof profiles of the cold starts to DIR
 *   npm run bench -- --only micro,cold_start,e2e,cache_mix,large_apis
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runCacheMix, type CacheMixOptions, type CacheMixResults } from './cache-mix';
import { REPO_ROOT, runColdStart, type ColdStartOptions, type ColdStartResults } from './cold-start';
import { runE2e, type E2eOptions, type E2eResults } from './e2e';
import { runLargeApis, type LargeApisOptions, type LargeApisResults } from './large-apis';
import { runMicro, type MicroOptions, type MicroResults } from './micro';

export interface BenchOptions {
  micro: MicroOptions;
  coldStart: ColdStartOptions;
  e2e: E2eOptions;
  cacheMix: CacheMixOptions;
  largeApis: LargeApisOptions;
  only?: ReadonlySet<BenchPart>;
}

type BenchPart = 'micro' | 'cold_start' | 'e2e' | 'cache_mix' | 'large_apis';

/** The stated client mix: 100 clients, 10 routes each (of 30), one request a second each, a 300 s authorizer cache. */
const CACHE_MIX: CacheMixOptions = {
  clients: 100,
  routesPerClient: 10,
  tableRoutes: 30,
  ttlSeconds: 300,
  requestsPerClientPerSecond: 1,
  durationSeconds: 3600,
  seed: 16,
};

export const FULL_OPTIONS: BenchOptions = {
  micro: { rounds: 21, warmupRounds: 3, batchMs: 10, jwtFirstIterations: 100, dynamoRounds: 9, callCountDecisions: 50 },
  coldStart: { runs: 15, warmupRuns: 2 },
  e2e: { rounds: 3, durationSeconds: 5, warmupSeconds: 2, connections: 10, authorizerCacheTtlSeconds: 0 },
  cacheMix: CACHE_MIX,
  largeApis: { routeCounts: [100, 300, 1000], runs: 3, devRoutes: 1000 },
};

export const QUICK_OPTIONS: BenchOptions = {
  micro: { rounds: 3, warmupRounds: 1, batchMs: 1, jwtFirstIterations: 8, dynamoRounds: 2, callCountDecisions: 3 },
  coldStart: { runs: 1, warmupRuns: 0 },
  e2e: { rounds: 1, durationSeconds: 0.5, warmupSeconds: 0.2, connections: 4, authorizerCacheTtlSeconds: 0 },
  cacheMix: { ...CACHE_MIX, durationSeconds: 600 },
  largeApis: { routeCounts: [10, 40], runs: 1, devRoutes: 40 },
};

export interface Target {
  name: string;
  value: number;
  limit: number;
  comparison: '<=' | '>=' | '==';
  met: boolean;
}

export interface BenchResults {
  floor: MicroResults['floor'];
  authorizer: MicroResults['authorizer'];
  reference: MicroResults['reference'];
  ddb_calls: MicroResults['ddb_calls'];
  logging: MicroResults['logging'];
  cold_start: ColdStartResults;
  e2e: E2eResults;
  /** Authorizer invocations per 1000 requests in each cache scope, for the stated client mix. */
  cache_mix: CacheMixResults;
  large_apis: LargeApisResults;
  targets: Target[];
  machine: {
    cpu: string;
    cores: number;
    memory_gb: number;
    node: string;
    platform: string;
    loadavg_start: number[];
    loadavg_end: number[];
  };
  command: string;
  quick: boolean;
  started_at: string;
  duration_s: number;
}

function target(name: string, value: number, comparison: Target['comparison'], limit: number): Target {
  const met = comparison === '<=' ? value <= limit : comparison === '>=' ? value >= limit : value === limit;
  return { name, value: Math.round(value * 1000) / 1000, limit, comparison, met };
}

/**
 * The issues' targets, each a ratio of two figures from the same run (or an exact call count), for the parts that
 * ran: `npm run bench -- --only cold_start` evaluates the cold-start targets alone.
 */
export function evaluateTargets(
  results: Partial<Pick<BenchResults, 'floor' | 'authorizer' | 'reference' | 'ddb_calls' | 'cold_start' | 'e2e'>>,
): Target[] {
  const { floor, authorizer, reference, ddb_calls: calls, cold_start: coldStart, e2e } = results;
  const targets: Target[] = [];
  if (floor && authorizer && reference && calls) {
    targets.push(
      target('key_cached_us / sha256_us', authorizer.key_cached_us / floor.sha256_us, '<=', 5),
      target('key_bad_checksum_us / sha256_us', authorizer.key_bad_checksum_us / floor.sha256_us, '<=', 3),
      target('jwt_repeat_us / sha256_us', authorizer.jwt_repeat_us / floor.sha256_us, '<=', 5),
      target('jwt_first_us / aws_jwt_verify_us', authorizer.jwt_first_us / reference.aws_jwt_verify_us, '<=', 1.3),
      target('ddb_calls.key_cached', calls.key_cached, '==', 0),
      target('ddb_calls.key_uncached', calls.key_uncached, '==', 1),
      target('ddb_calls.bad_checksum', calls.bad_checksum, '==', 0),
      target('ddb_calls.last_used_writes_first_use', calls.last_used_writes_first_use, '==', 1),
    );
  }
  if (coldStart) {
    targets.push(
      target('cold_start.ratio (init / bare node)', coldStart.ratio, '<=', 1.6),
      target('cold_start.init_ms / naive_sdk_ms', coldStart.init_ms / coldStart.naive_sdk_ms, '<=', 1.1),
      target('cold_start.init_ms_300_routes / init_ms', coldStart.init_ms_300_routes / coldStart.init_ms, '<=', 1.1),
      target('cold_start.init_ms_1000_routes / init_ms_10_routes', coldStart.init_ms_1000_routes / coldStart.init_ms_10_routes, '<=', 1.1),
      target('cold_start.jwt_first_ms / naive_sdk_ms', coldStart.jwt_first_ms / coldStart.naive_sdk_ms, '<=', 0.6),
      target('cold_start.key_first_ms / naive_sdk_ms', coldStart.key_first_ms / coldStart.naive_sdk_ms, '<=', 1.1),
    );
  }
  if (e2e) targets.push(target('e2e.ratio (authorized / baseline rps)', e2e.ratio, '>=', 0.8));
  return targets;
}

export async function runBench(
  options: BenchOptions,
  progress: (line: string) => void = () => undefined,
  quick = false,
): Promise<BenchResults> {
  const startedAt = new Date();
  const loadStart = loadavg();
  const wants = (part: BenchPart) => !options.only || options.only.has(part);
  const micro = wants('micro') ? await runMicro(options.micro, progress) : undefined;
  const coldStart = wants('cold_start') ? await runColdStart(options.coldStart, progress) : undefined;
  const e2e = wants('e2e') ? await runE2e(options.e2e, progress) : undefined;
  const cacheMix = wants('cache_mix') ? runCacheMix(options.cacheMix) : undefined;
  const largeApis = wants('large_apis') ? await runLargeApis(options.largeApis, progress) : undefined;
  const partial = {
    floor: micro?.floor,
    authorizer: micro?.authorizer,
    reference: micro?.reference,
    ddb_calls: micro?.ddb_calls,
    logging: micro?.logging,
    cold_start: coldStart,
    e2e,
    cache_mix: cacheMix,
    large_apis: largeApis,
  } as BenchResults;
  const cpu = cpus();
  return {
    ...partial,
    targets: evaluateTargets(partial),
    machine: {
      cpu: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      memory_gb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      loadavg_start: loadStart.map((value) => Math.round(value * 100) / 100),
      loadavg_end: loadavg().map((value) => Math.round(value * 100) / 100),
    },
    command: quick ? 'npm run bench -- --quick' : 'npm run bench',
    quick,
    started_at: startedAt.toISOString(),
    duration_s: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
  };
}

const pad = (text: string, width: number) => text.padEnd(width);

export function formatTable(results: BenchResults): string {
  const lines: string[] = [];
  const row = (figure: string, value: string, beside: string) => lines.push(`  ${pad(figure, 34)} ${value.padStart(12)}   ${beside}`);
  const { floor, authorizer: a, reference: ref, logging, ddb_calls: calls, cold_start: cold, e2e } = results;
  const times = (value: number, base: number) => `${(value / base).toFixed(2)}×`;
  lines.push(
    `dualgate benchmarks (${results.command}) on ${results.machine.cpu}, ${results.machine.cores} cores, node ${results.machine.node}`,
  );
  lines.push(
    `load average ${results.machine.loadavg_start.join(' ')} at start, ${results.machine.loadavg_end.join(' ')} at end; ${results.duration_s}s`,
  );
  if (floor && a && ref && logging && calls) {
    lines.push('', '  in-process decisions (median µs per decision; log line built and discarded)');
    row('floor.sha256_us', floor.sha256_us.toFixed(2), 'SHA-256 of one key');
    row('floor.rs256_verify_us', floor.rs256_verify_us.toFixed(2), 'one raw crypto.verify, RS256');
    row(
      'reference.aws_jwt_verify_us',
      ref.aws_jwt_verify_us.toFixed(2),
      `bare verifySync = ${times(ref.aws_jwt_verify_us, floor.rs256_verify_us)} rs256 floor`,
    );
    row('authorizer.key_cached_us', a.key_cached_us.toFixed(2), `${times(a.key_cached_us, floor.sha256_us)} sha256 (target ≤ 5×)`);
    row(
      'authorizer.key_bad_checksum_us',
      a.key_bad_checksum_us.toFixed(2),
      `${times(a.key_bad_checksum_us, floor.sha256_us)} sha256 (target ≤ 3×)`,
    );
    row('authorizer.jwt_repeat_us', a.jwt_repeat_us.toFixed(2), `${times(a.jwt_repeat_us, floor.sha256_us)} sha256 (target ≤ 5×)`);
    row(
      'authorizer.jwt_first_us',
      a.jwt_first_us.toFixed(2),
      `${times(a.jwt_first_us, ref.aws_jwt_verify_us)} aws-jwt-verify (target ≤ 1.3×)`,
    );
    row('authorizer.key_uncached_us', a.key_uncached_us.toFixed(1), `dynalite; bare GetItem ${ref.dynamodb_get_item_us.toFixed(1)} µs`);
    lines.push('', '  logging cost (same decisions: line written to /dev/null | LOG_LEVEL=WARN: only the EMF metric part, discarded)');
    row(
      'key_cached_us',
      `${logging.key_cached_devnull_us.toFixed(2)} | ${logging.key_cached_unlogged_us.toFixed(2)}`,
      `discarded: ${a.key_cached_us.toFixed(2)}`,
    );
    row(
      'key_bad_checksum_us',
      `${logging.key_bad_checksum_devnull_us.toFixed(2)} | ${logging.key_bad_checksum_unlogged_us.toFixed(2)}`,
      `discarded: ${a.key_bad_checksum_us.toFixed(2)}`,
    );
    row(
      'jwt_repeat_us',
      `${logging.jwt_repeat_devnull_us.toFixed(2)} | ${logging.jwt_repeat_unlogged_us.toFixed(2)}`,
      `discarded: ${a.jwt_repeat_us.toFixed(2)}`,
    );
    lines.push('', '  DynamoDB calls per decision (real SDK client on dynalite, counted)');
    row('ddb_calls.key_cached', String(calls.key_cached), 'target 0');
    row('ddb_calls.key_uncached', String(calls.key_uncached), 'target 1');
    row('ddb_calls.bad_checksum', String(calls.bad_checksum), 'target 0');
    row(
      'ddb_calls.last_used_writes_first_use',
      String(calls.last_used_writes_first_use),
      "lastUsedAt UpdateItems per key's first decision, not awaited",
    );
  }
  if (cold) {
    lines.push('', `  cold start (median ms, spawn to exit; shipped: ${cold.shipped.bundling}, NODE_OPTIONS=${cold.shipped.node_options})`);
    row('cold_start.bare_node_ms', cold.bare_node_ms.toFixed(1), "node -e ''");
    row(
      'cold_start.init_ms',
      cold.init_ms.toFixed(1),
      `import + JWKS + first (key) decision = ${cold.ratio.toFixed(2)}× bare (target ≤ 1.6×)`,
    );
    row(
      'cold_start.naive_sdk_ms',
      cold.naive_sdk_ms.toFixed(1),
      `one GetItem, same bundling; init = ${times(cold.init_ms, cold.naive_sdk_ms)} (target ≤ 1.1×)`,
    );
    row(
      'cold_start.jwt_first_ms',
      cold.jwt_first_ms.toFixed(1),
      `first decision a JWT, SDK never loaded = ${times(cold.jwt_first_ms, cold.naive_sdk_ms)} naive (target ≤ 0.6×)`,
    );
    row(
      'cold_start.jwt_floor_ms',
      cold.jwt_floor_ms.toFixed(1),
      `JWKS fetch + one crypto.verify, nothing else = ${times(cold.jwt_floor_ms, cold.naive_sdk_ms)} naive`,
    );
    row(
      'cold_start.jwt_floor_code_ms',
      cold.jwt_floor_code_ms.toFixed(1),
      `the JWT floor + the authorizer's code loaded, never run = ${times(cold.jwt_floor_code_ms, cold.naive_sdk_ms)} naive`,
    );
    row(
      'cold_start.key_first_ms',
      cold.key_first_ms.toFixed(1),
      `first decision a key, SDK loaded by it = ${times(cold.key_first_ms, cold.naive_sdk_ms)} naive (target ≤ 1.1×)`,
    );
    row(
      'cold_start.init_ms_300_routes',
      cold.init_ms_300_routes.toFixed(1),
      `300 routes, 100 scopes = ${times(cold.init_ms_300_routes, cold.init_ms)} init (target ≤ 1.1×)`,
    );
    row(
      'cold_start.init_ms_1000_routes',
      cold.init_ms_1000_routes.toFixed(1),
      `1,000 routes, 100 scopes = ${times(cold.init_ms_1000_routes, cold.init_ms_10_routes)} the 10-route start, ${cold.init_ms_10_routes.toFixed(1)} ms (target ≤ 1.1×)`,
    );
    for (const [name, figures] of Object.entries(cold.variants)) {
      row(
        `  ${name}`,
        figures.init_ms.toFixed(1),
        `${figures.ratio.toFixed(2)}× bare; imported at ${figures.import_done_ms.toFixed(1)}, first decision ${figures.first_decision_ms.toFixed(1)}`,
      );
    }
    for (const [name, size] of Object.entries(cold.bundle_bytes)) {
      const external = cold.bytes.external[name]?.js ?? 0;
      row(`bundle_bytes ${name}`, String(size), `${cold.init_bundle_bytes[name] ?? 0} read at init; SDK external: ${external}`);
    }
  }
  if (e2e) {
    lines.push(
      '',
      `  end to end through local mode (autocannon, ${e2e.settings.connections} connections, median of ${e2e.settings.rounds} × ${e2e.settings.duration_s}s, authorizer cache TTL ${e2e.settings.authorizer_cache_ttl_s}s)`,
    );
    row('e2e.baseline_rps', e2e.baseline_rps.toFixed(0), 'GET /health, no credential');
    row('e2e.key_rps', e2e.key_rps.toFixed(0), 'GET /me with an API key');
    row('e2e.jwt_rps', e2e.jwt_rps.toFixed(0), 'GET /me with a JWT');
    row('e2e.authorized_rps', e2e.authorized_rps.toFixed(0), `the slower of the two = ${e2e.ratio.toFixed(2)}× baseline (target ≥ 0.8×)`);
  }
  const mix = results.cache_mix;
  if (mix) {
    const { settings } = mix;
    lines.push(
      '',
      `  authorizer invocations per 1000 requests (${settings.clients} clients × ${settings.routesPerClient} routes, ${settings.requestsPerClientPerSecond} req/s each, ${settings.ttlSeconds} s cache, ${settings.durationSeconds} s simulated, ${mix.requests} requests)`,
    );
    row(
      'authorizer_invocations.route',
      mix.authorizer_invocations_per_1000_requests.route.toFixed(2),
      "authorizerCacheScope: 'route' (default): one result per credential and route",
    );
    row(
      'authorizer_invocations.credential',
      mix.authorizer_invocations_per_1000_requests.credential.toFixed(2),
      "authorizerCacheScope: 'credential': one result per credential",
    );
  }
  const large = results.large_apis;
  if (large) {
    lines.push('', '  large route tables (median ms of fresh processes; 10 functions, plans, monitoring; docs/large-apis.md)');
    for (const [routes, figures] of Object.entries(large.synth)) {
      row(
        `large_apis.synth_ms ${routes} routes`,
        String(figures.synth_ms),
        `dualgate-config.json ${figures.config_bytes} B; ${figures.nested_stacks} nested stacks; largest template ${figures.max_template_resources} resources, ${figures.max_template_bytes} B`,
      );
    }
    row(
      `large_apis.dev ${large.dev.routes} routes`,
      String(large.dev.startup_from_assembly_ms),
      `dualgate dev --assembly to ready; ${large.dev.startup_with_synth_ms} ms synthesizing the app itself`,
    );
  }
  if (results.targets.length > 0) {
    lines.push('', '  targets');
    for (const entry of results.targets)
      row(entry.name, String(entry.value), `${entry.comparison} ${entry.limit}  ${entry.met ? 'met' : 'MISSED'}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean' }, profile: { type: 'string' }, only: { type: 'string' }, out: { type: 'string' } },
    strict: true,
  });
  const quick = values.quick === true;
  const options: BenchOptions = structuredClone(quick ? QUICK_OPTIONS : FULL_OPTIONS);
  if (values.profile) options.coldStart.profileDir = values.profile;
  if (values.only) options.only = new Set(values.only.split(',') as BenchPart[]);
  const results = await runBench(options, (line) => process.stderr.write(`bench: ${line}\n`), quick);
  process.stdout.write(`${formatTable(results)}\n`);
  const out = values.out ?? join(REPO_ROOT, 'bench-results.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nwrote ${out}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
