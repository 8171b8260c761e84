/**
 * A smoke run of `npm run bench`'s harness: a few iterations of every benchmark, checking only that every
 * figure the issue asks for is produced (finite, and counts exact). The figures themselves are not tested:
 * benchmarks are not tests (see docs/performance.md).
 */
import { describe, expect, it } from 'vitest';
import { evaluateTargets, QUICK_OPTIONS, runBench } from '../../bench/run';

const REQUIRED_FIELDS = [
  'floor.sha256_us',
  'floor.rs256_verify_us',
  'authorizer.key_cached_us',
  'authorizer.key_bad_checksum_us',
  'authorizer.jwt_first_us',
  'authorizer.jwt_repeat_us',
  'authorizer.key_uncached_us',
  'reference.aws_jwt_verify_us',
  'ddb_calls.key_cached',
  'ddb_calls.key_uncached',
  'ddb_calls.bad_checksum',
  'ddb_calls.last_used_writes_first_use',
  'cold_start.init_ms',
  'cold_start.bare_node_ms',
  'cold_start.ratio',
  'cold_start.naive_sdk_ms',
  'cold_start.init_ms_300_routes',
  'cold_start.init_ms_10_routes',
  'cold_start.init_ms_1000_routes',
  'cold_start.jwt_first_ms',
  'cold_start.jwt_floor_ms',
  'cold_start.jwt_floor_code_ms',
  'cold_start.key_first_ms',
  'e2e.baseline_rps',
  'e2e.authorized_rps',
  'e2e.ratio',
  'cache_mix.authorizer_invocations_per_1000_requests.route',
  'cache_mix.authorizer_invocations_per_1000_requests.credential',
  'large_apis.synth.10.synth_ms',
  'large_apis.synth.10.config_bytes',
  'large_apis.synth.40.synth_ms',
  'large_apis.synth.40.max_template_resources',
  'large_apis.dev.startup_from_assembly_ms',
  'large_apis.dev.startup_with_synth_ms',
] as const;

const LAMBDAS = ['authorizer', 'keys', 'backends/health', 'backends/me', 'backends/users'];

function at(results: object, path: string): unknown {
  return path.split('.').reduce<unknown>((value, part) => (value as Record<string, unknown> | undefined)?.[part], results);
}

describe('npm run bench (quick smoke run)', () => {
  it('produces every figure, counts DynamoDB calls exactly, and evaluates every target', async () => {
    const results = await runBench(QUICK_OPTIONS, () => undefined, true);

    for (const field of REQUIRED_FIELDS) {
      const value = at(results, field);
      expect(typeof value, field).toBe('number');
      expect(Number.isFinite(value), field).toBe(true);
      if (!field.startsWith('ddb_calls.')) expect(value as number, field).toBeGreaterThan(0);
    }
    // Call counts are exact even in a smoke run: they are properties of the code, not of the machine.
    expect(results.ddb_calls).toEqual({ key_cached: 0, key_uncached: 1, bad_checksum: 0, last_used_writes_first_use: 1 });
    for (const name of LAMBDAS) expect(results.cold_start.bundle_bytes[name], name).toBeGreaterThan(0);
    // The authorizer's SDK is a chunk of its own: a start reads far less than the whole bundle before deciding.
    expect(results.cold_start.init_bundle_bytes['authorizer']).toBeLessThan(results.cold_start.bundle_bytes['authorizer']! / 2);
    expect(Object.keys(results.cold_start.variants).sort()).toEqual([
      'bundled',
      'bundled+10-routes',
      'bundled+1000-routes',
      'bundled+300-routes',
      'bundled+jwt',
      'bundled+jwt+provisioned',
      'bundled+source-maps',
      'external',
      'external+source-maps',
      'jwt-floor',
      'jwt-floor+code',
      'naive-sdk',
    ]);
    expect(results.targets.map((entry) => entry.name)).toEqual(evaluateTargets(results).map((entry) => entry.name));
    expect(results.targets).toHaveLength(15);
    // A route-table file grows with the table: the 40-route app's is larger than the 10-route one's.
    expect(results.large_apis.synth['40']!.config_bytes).toBeGreaterThan(results.large_apis.synth['10']!.config_bytes);
  }, 240_000);
});

describe('the cache-mix benchmark', () => {
  it('keys on the identity sources the construct writes, in each cache scope', async () => {
    const { IDENTITY_SOURCES } = await import('../../bench/cache-mix');
    const { authorizerIdentitySources } = await import('../../lib/construct/authorizer');
    expect(IDENTITY_SOURCES.route).toEqual(authorizerIdentitySources('route'));
    expect(IDENTITY_SOURCES.credential).toEqual(authorizerIdentitySources('credential'));
  });

  it('costs one invocation per client and TTL with the credential scope, and one per client, route and TTL with the route scope', async () => {
    const { runCacheMix } = await import('../../bench/cache-mix');
    // Requests far denser than the TTL: every cache entry is used until it expires, so the counts are exact.
    const results = runCacheMix({
      clients: 4,
      routesPerClient: 3,
      tableRoutes: 5,
      ttlSeconds: 100,
      requestsPerClientPerSecond: 20,
      durationSeconds: 1000,
      seed: 1,
    });
    const perThousand = (invocations: number) => Math.round((invocations / results.requests) * 1000 * 100) / 100;
    expect(results.authorizer_invocations_per_1000_requests.credential).toBe(perThousand(4 * 10));
    expect(results.authorizer_invocations_per_1000_requests.route).toBe(perThousand(4 * 3 * 10));
  });
});
