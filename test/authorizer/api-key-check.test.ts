import { describe, expect, it } from 'vitest';
import { ApiKeyCheck, type ApiKeyCheckOptions } from '../../lambdas/authorizer/api-key-check';
import { MalformedKeyItemError } from '../../lambdas/core/key-record';
import { KeyStoreUnavailableError } from '../../lambdas/shared/key-store';
import { FakeKeyLookup, makeKey } from '../support/keys';

function setup(store: FakeKeyLookup, overrides: Partial<ApiKeyCheckOptions> = {}) {
  const clock = { nowMs: 1_700_000_000_000 };
  const check = new ApiKeyCheck({
    keyPrefix: 'dg',
    store,
    keyCacheTtlSeconds: 30,
    negativeCacheTtlSeconds: 5,
    staleIfErrorSeconds: 60,
    maxCacheEntries: 100,
    nowMs: () => clock.nowMs,
    ...overrides,
  });
  return { check, clock };
}
const nowSeconds = (clock: { nowMs: number }) => Math.floor(clock.nowMs / 1000);

describe('ApiKeyCheck', () => {
  it('accepts a live key as its owner, with its scopes and keyId', async () => {
    const { key, record } = makeKey({ scopes: ['write:users', 'read:users', 'read:users'] });
    const { check } = setup(new FakeKeyLookup(record));
    const result = await check.evaluate(key);
    expect(result).toEqual({
      kind: 'principal',
      reason: 'key_valid',
      cached: false,
      principal: { sub: 'user-123', scopes: ['read:users', 'write:users'], authMethod: 'apiKey', keyId: record.keyId },
    });
  });

  it('rejects a bad checksum without reading DynamoDB', async () => {
    const { key, record } = makeKey();
    const store = new FakeKeyLookup(record);
    const { check } = setup(store);
    const tampered = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    expect(await check.evaluate(tampered)).toEqual({ kind: 'reject', reason: 'key_bad_checksum' });
    expect(store.reads).toBe(0);
  });

  it('rejects a foreign prefix without reading DynamoDB', async () => {
    const store = new FakeKeyLookup();
    const { check } = setup(store);
    expect(await check.evaluate(makeKey({}, 'ghp').key)).toEqual({ kind: 'reject', reason: 'key_wrong_prefix' });
    expect(store.reads).toBe(0);
  });

  it('rejects a well-formed unknown key after one read, and remembers it briefly', async () => {
    const store = new FakeKeyLookup();
    const { check, clock } = setup(store);
    const { key } = makeKey();
    expect(await check.evaluate(key)).toEqual({ kind: 'reject', reason: 'key_not_found' });
    expect(await check.evaluate(key)).toEqual({ kind: 'reject', reason: 'key_not_found' });
    expect(store.reads).toBe(1);
    clock.nowMs += 5_000;
    await check.evaluate(key);
    expect(store.reads).toBe(2);
  });

  it('rejects a key past expiresAt even while its item still exists (TTL deletes lazily)', async () => {
    const { key, record } = makeKey();
    const { check, clock } = setup(new FakeKeyLookup(record));
    record.expiresAt = nowSeconds(clock) - 1;
    expect(await check.evaluate(key)).toEqual({ kind: 'reject', reason: 'key_expired' });
    record.expiresAt = nowSeconds(clock);
    const fresh = setup(new FakeKeyLookup(record), {});
    fresh.clock.nowMs = clock.nowMs;
    expect(await fresh.check.evaluate(key)).toEqual({ kind: 'reject', reason: 'key_expired' });
  });

  it('expires a cached key at its expiresAt, without waiting for the cache TTL', async () => {
    const { key, record } = makeKey();
    const store = new FakeKeyLookup(record);
    const { check, clock } = setup(store);
    record.expiresAt = nowSeconds(clock) + 10;
    expect((await check.evaluate(key)).kind).toBe('principal');
    clock.nowMs += 10_000;
    expect(await check.evaluate(key)).toEqual({ kind: 'reject', reason: 'key_expired' });
    expect(store.reads).toBe(1);
  });

  it('rejects revoked and disabled keys', async () => {
    const revoked = makeKey({ revokedAt: new Date().toISOString() });
    const disabled = makeKey({ enabled: false });
    const { check } = setup(new FakeKeyLookup(revoked.record, disabled.record));
    expect(await check.evaluate(revoked.key)).toEqual({ kind: 'reject', reason: 'key_revoked' });
    expect(await check.evaluate(disabled.key)).toEqual({ kind: 'reject', reason: 'key_disabled' });
  });

  it('serves a found key from memory for keyCacheTtlSeconds, then reads again', async () => {
    const { key, record } = makeKey();
    const store = new FakeKeyLookup(record);
    const { check, clock } = setup(store);
    await check.evaluate(key);
    const second = await check.evaluate(key);
    expect(second).toMatchObject({ kind: 'principal', cached: true });
    expect(store.reads).toBe(1);
    clock.nowMs += 29_999;
    await check.evaluate(key);
    expect(store.reads).toBe(1);
    clock.nowMs += 1;
    await check.evaluate(key);
    expect(store.reads).toBe(2);
  });

  it('sees a revocation once the in-memory TTL has passed', async () => {
    const { key, record } = makeKey();
    const store = new FakeKeyLookup(record);
    const { check, clock } = setup(store);
    expect((await check.evaluate(key)).kind).toBe('principal');
    store.records.set(record.keyHash, { ...record, revokedAt: new Date(clock.nowMs).toISOString(), expiresAt: nowSeconds(clock) });
    expect((await check.evaluate(key)).kind).toBe('principal');
    clock.nowMs += 30_000;
    expect(await check.evaluate(key)).toEqual({ kind: 'reject', reason: 'key_revoked' });
  });

  it('fails closed when DynamoDB fails and the key was never seen', async () => {
    const store = new FakeKeyLookup();
    store.failWith = new KeyStoreUnavailableError('throttled');
    const { check } = setup(store);
    expect(await check.evaluate(makeKey().key)).toMatchObject({ kind: 'fail', reason: 'key_store_unavailable' });
  });

  it('stale-if-error: keeps a recently verified key working while DynamoDB fails, within the window only', async () => {
    const { key, record } = makeKey();
    const store = new FakeKeyLookup(record);
    const { check, clock } = setup(store);
    await check.evaluate(key);
    store.failWith = new KeyStoreUnavailableError('timeout');
    clock.nowMs += 30_000 + 59_000;
    expect(await check.evaluate(key)).toMatchObject({ kind: 'principal', reason: 'key_valid_stale' });
    clock.nowMs += 1_000;
    expect(await check.evaluate(key)).toMatchObject({ kind: 'fail', reason: 'key_store_unavailable' });
    store.failWith = undefined;
    expect(await check.evaluate(key)).toMatchObject({ kind: 'principal', reason: 'key_valid' });
  });

  it('stale-if-error off (0 s) fails closed as soon as the cache TTL passes', async () => {
    const { key, record } = makeKey();
    const store = new FakeKeyLookup(record);
    const { check, clock } = setup(store, { staleIfErrorSeconds: 0 });
    await check.evaluate(key);
    store.failWith = new KeyStoreUnavailableError('timeout');
    clock.nowMs += 30_000;
    expect(await check.evaluate(key)).toMatchObject({ kind: 'fail', reason: 'key_store_unavailable' });
  });

  it('never serves a stale entry past its own expiresAt', async () => {
    const { key, record } = makeKey();
    const store = new FakeKeyLookup(record);
    const { check, clock } = setup(store);
    record.expiresAt = nowSeconds(clock) + 40;
    await check.evaluate(key);
    store.failWith = new KeyStoreUnavailableError('timeout');
    clock.nowMs += 45_000;
    expect(await check.evaluate(key)).toEqual({ kind: 'reject', reason: 'key_expired' });
  });

  it('rejects a malformed item rather than trusting it', async () => {
    const store = new FakeKeyLookup();
    store.failWith = new MalformedKeyItemError('scopes');
    const { check } = setup(store);
    expect(await check.evaluate(makeKey().key)).toEqual({ kind: 'reject', reason: 'key_item_malformed' });
  });

  it('shares one read between concurrent requests for the same key', async () => {
    const { key, record } = makeKey();
    const store = new FakeKeyLookup(record);
    const { check } = setup(store);
    const results = await Promise.all(Array.from({ length: 20 }, () => check.evaluate(key)));
    expect(results.every((result) => result.kind === 'principal')).toBe(true);
    expect(store.reads).toBe(1);
  });

  it('keeps its cache bounded however many distinct keys are sprayed', async () => {
    const store = new FakeKeyLookup();
    const { check } = setup(store, { maxCacheEntries: 50 });
    for (let i = 0; i < 500; i++) await check.evaluate(makeKey().key);
    expect((check as unknown as { cache: { size: number } }).cache.size).toBe(50);
  });
});
