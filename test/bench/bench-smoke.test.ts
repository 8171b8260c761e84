/**
 * A smoke run of `npm run bench`'s harness: a few iterations of every benchmark, checking only that every
 * figure the issue asks for is produced (finite, and counts exact). The figures themselves are not tested:
 * benchmarks are not tests (see README, Performance).
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
  'e2e.baseline_rps',
  'e2e.authorized_rps',
  'e2e.ratio',
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
    expect(Object.keys(results.cold_start.variants).sort()).toEqual(['bundled', 'bundled+300-routes', 'bundled+source-maps', 'external', 'external+source-maps', 'naive-sdk']);
    expect(results.targets.map((entry) => entry.name)).toEqual(evaluateTargets(results).map((entry) => entry.name));
    expect(results.targets).toHaveLength(12);
  }, 90_000);
});
