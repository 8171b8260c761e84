/** lastUsedAt: at most one write per key per interval, only on a table read or once the interval has passed, never awaited. */
import { describe, expect, it } from 'vitest';
import { ApiKeyCheck } from '../../lambdas/authorizer/api-key-check';
import { LastUsedRecorder } from '../../lambdas/authorizer/last-used';
import { buildAuthorizer } from '../../lambdas/authorizer/wiring';
import { KeyStoreUnavailableError, type KeyUsageWriter } from '../../lambdas/shared/key-store';
import { DEMO_COMPILED_TABLE } from '../support/demo-app';
import { emfMetrics } from '../support/emf';
import { FakeKeyLookup, makeKey } from '../support/keys';
import { captureLogger } from '../support/logs';
import { testSettings } from '../support/settings';

const T0 = Date.parse('2030-06-01T12:00:00.000Z');

class FakeUsageWriter implements KeyUsageWriter {
  readonly calls: { keyHash: string; usedAt: string; notAfter: string }[] = [];
  /** Set to make writes fail, or to hold them forever. */
  mode: 'ok' | 'reject' | 'throw' | 'hang' = 'ok';
  recordUse(keyHash: string, usedAt: string, notAfter: string): Promise<boolean> {
    this.calls.push({ keyHash, usedAt, notAfter });
    if (this.mode === 'throw') throw new Error('synchronous failure');
    if (this.mode === 'reject') return Promise.reject(new KeyStoreUnavailableError('key table lastUsedAt write failed'));
    if (this.mode === 'hang') return new Promise(() => undefined);
    return Promise.resolve(true);
  }
}

function setup(intervalSeconds: number, records = [makeKey()]) {
  const clock = { nowMs: T0 };
  const writer = new FakeUsageWriter();
  const logs = captureLogger('dualgate-authorizer');
  const lastUsed = new LastUsedRecorder({ writer, intervalSeconds, logger: logs.logger, nowMs: () => clock.nowMs });
  const store = new FakeKeyLookup(...records.map((entry) => entry.record));
  const check = new ApiKeyCheck({
    keyPrefix: 'dg',
    store,
    keyCacheTtlSeconds: 30,
    negativeCacheTtlSeconds: 5,
    staleIfErrorSeconds: 0,
    maxCacheEntries: 100,
    nowMs: () => clock.nowMs,
    lastUsed,
  });
  return { clock, writer, logs, lastUsed, store, check, keys: records };
}

describe('lastUsedAt throttle', () => {
  it('writes on the first table read, with the injected clock, and not again within the interval', async () => {
    const { clock, writer, store, check, keys, lastUsed } = setup(300);
    const [{ key, record }] = keys as [ReturnType<typeof makeKey>];
    expect(await check.evaluate(key)).toMatchObject({ kind: 'principal', cached: false });
    // Started after the decision, on the next turn of the event loop.
    expect(writer.calls).toEqual([]);
    await lastUsed.drain();
    expect(writer.calls).toEqual([{ keyHash: record.keyHash, usedAt: '2030-06-01T12:00:00.000Z', notAfter: '2030-06-01T11:55:00.000Z' }]);
    // Cache hits and later table reads (the key cache is 30 s) inside the 300 s interval: no write.
    for (let second = 1; second < 300; second += 7) {
      clock.nowMs = T0 + second * 1000;
      expect(await check.evaluate(key)).toMatchObject({ kind: 'principal' });
    }
    expect(store.reads).toBeGreaterThan(5);
    expect(writer.calls).toHaveLength(1);
    // Once the interval has passed, the next use writes again, even from the cache.
    clock.nowMs = T0 + 300_000;
    await check.evaluate(key);
    await lastUsed.drain();
    expect(writer.calls.map((call) => call.usedAt)).toEqual(['2030-06-01T12:00:00.000Z', '2030-06-01T12:05:00.000Z']);
    expect(lastUsed.writes).toBe(2);
  });

  it('does not write when the table already holds a lastUsedAt within the interval (another container wrote it)', async () => {
    const fresh = makeKey({ lastUsedAt: new Date(T0 - 60_000).toISOString() });
    const stale = makeKey({ lastUsedAt: new Date(T0 - 600_000).toISOString() });
    const { clock, writer, check, lastUsed } = setup(300, [fresh, stale]);
    await check.evaluate(fresh.key);
    await check.evaluate(stale.key);
    await lastUsed.drain();
    expect(writer.calls.map((call) => call.keyHash)).toEqual([stale.record.keyHash]);
    // The stored value's interval ends 240 s from now: then a use writes.
    clock.nowMs = T0 + 240_000;
    await check.evaluate(fresh.key);
    await lastUsed.drain();
    expect(writer.calls.map((call) => call.keyHash)).toEqual([stale.record.keyHash, fresh.record.keyHash]);
  });

  it('with interval 0 writes on every table read and never on a cache hit', async () => {
    const { clock, writer, store, check, keys, lastUsed } = setup(0);
    const [{ key }] = keys as [ReturnType<typeof makeKey>];
    await check.evaluate(key);
    await check.evaluate(key);
    clock.nowMs += 31_000;
    await check.evaluate(key);
    await lastUsed.drain();
    expect(store.reads).toBe(2);
    expect(writer.calls).toHaveLength(2);
    // Interval 0: the condition only keeps writes monotonic (lastUsedAt < now).
    expect(writer.calls[1]).toMatchObject({ usedAt: '2030-06-01T12:00:31.000Z', notAfter: '2030-06-01T12:00:31.000Z' });
  });

  it('never writes for a key that is not allowed (unknown, revoked, expired, disabled)', async () => {
    const revoked = makeKey({ revokedAt: '2030-01-01T00:00:00.000Z' });
    const disabled = makeKey({ enabled: false });
    const expired = makeKey({ expiresAt: Math.floor(T0 / 1000) - 1 });
    const { writer, check, lastUsed } = setup(300, [revoked, disabled, expired]);
    for (const { key } of [revoked, disabled, expired, makeKey()]) expect(await check.evaluate(key)).toMatchObject({ kind: 'reject' });
    expect(lastUsed.writes).toBe(0);
    await lastUsed.drain();
    expect(writer.calls).toEqual([]);
  });

  it('does not make the decision wait for the write', async () => {
    const { writer, check, keys, lastUsed } = setup(300);
    writer.mode = 'hang';
    const [{ key }] = keys as [ReturnType<typeof makeKey>];
    expect(await check.evaluate(key)).toMatchObject({ kind: 'principal' });
    // Synchronous answers from memory stay synchronous.
    expect(check.evaluate(key)).toMatchObject({ kind: 'principal', cached: true });
    expect(lastUsed.pending.size).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writer.calls).toHaveLength(1);
    expect(lastUsed.pending.size).toBe(1);
  });

  it.each(['reject', 'throw'] as const)('keeps the decision when the write fails (%s), logging and counting the failure', async (mode) => {
    const { key, record } = makeKey({ scopes: ['read:users'] });
    const writer = new FakeUsageWriter();
    writer.mode = mode;
    const logs = captureLogger('dualgate-authorizer');
    const { authorize, lastUsed } = buildAuthorizer(testSettings(), DEMO_COMPILED_TABLE, {
      keyLookup: new FakeKeyLookup(record),
      usageWriter: writer,
      logger: logs.logger,
    });
    const outcome = await authorize({
      methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/users',
      httpMethod: 'GET',
      resource: '/users',
      headers: { Authorization: `Bearer ${key}` },
      multiValueHeaders: null,
    });
    expect(outcome.effect).toBe('allow');
    await lastUsed?.drain();
    expect(lastUsed?.failures).toBe(1);
    const failure = logs.entries().find((entry) => entry['message'] === 'lastUsedAt write failed');
    expect(failure).toMatchObject({ level: 'WARN', reason: 'last_used_write_failed' });
    const line = logs.lines.find((candidate) => candidate.includes('lastUsedAt write failed'))!;
    expect(emfMetrics(line)).toEqual([
      {
        namespace: 'dualgate',
        name: 'LastUsedWriteFailures',
        unit: 'Count',
        dimensionSets: [{ service: 'dualgate-authorizer' }],
        values: [1],
      },
    ]);
    expect(line).not.toContain(key);
    // The key stays remembered: no retry storm while the table fails.
    await authorize({
      methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/users',
      httpMethod: 'GET',
      resource: '/users',
      headers: { Authorization: `Bearer ${key}` },
      multiValueHeaders: null,
    });
    expect(writer.calls).toHaveLength(1);
  });
});
