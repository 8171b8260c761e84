/**
 * The leak endpoint and the key API against the same dynalite table, through the real stores: a leak report revokes
 * (or marks) with one conditional write, GET /keys/{id} shows the leak, the authorizer's check stops accepting the
 * key once its cache expires, the owner's other keys keep working, and PATCH or rotate can neither resurrect the key
 * nor drop the leak.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyCheck } from '../../lambdas/authorizer/api-key-check';
import { createKeysHandler } from '../../lambdas/keys/router';
import { publicKeySchema } from '../../lambdas/keys/schemas';
import { createLeakHandler } from '../../lambdas/leaks/endpoint';
import { DynamoLeakStore } from '../../lambdas/leaks/leak-store';
import { hashKey } from '../../lambdas/core/key-format';
import { DynamoKeyLookup, KeyStore } from '../../lambdas/shared/key-store';
import { DEMO_CATALOG } from '../support/demo-app';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { githubSigningKey, signedHeaders } from '../support/github-signing';
import { captureLogger } from '../support/logs';
import { alice, caller } from '../keys/harness';
import { FakeNotifier, keyCacheFor, leakEvent } from './fakes';

const github = githubSigningKey();
const LEAK_URL = 'https://github.com/octo-org/app/blob/0123456789abcdef0123456789abcdef01234567/.env';
const KEY_CACHE_TTL_SECONDS = 30;
let dynamo: LocalDynamo;
const clock = { ms: Date.parse('2031-03-01T12:00:00.000Z') };

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo?.close();
});

async function freshEnv(action: 'revoke' | 'notify' = 'revoke') {
  const tableName = await dynamo.createTable();
  const logs = captureLogger('dualgate-leaks');
  const keys = caller(
    createKeysHandler({
      catalog: DEMO_CATALOG,
      store: new KeyStore(dynamo.client, tableName),
      keyPrefix: 'dg',
      adminScope: 'keys:admin',
      logger: logs.logger,
      nowMs: () => clock.ms,
    }),
  );
  const notifier = new FakeNotifier();
  const leaks = createLeakHandler({
    githubKeys: keyCacheFor([github]).cache,
    store: new DynamoLeakStore(dynamo.client, tableName),
    notifier,
    keyPrefix: 'dg',
    action,
    logger: logs.logger,
    nowMs: () => clock.ms,
  });
  const check = new ApiKeyCheck({
    keyPrefix: 'dg',
    store: new DynamoKeyLookup(dynamo.client, tableName),
    keyCacheTtlSeconds: KEY_CACHE_TTL_SECONDS,
    negativeCacheTtlSeconds: 5,
    staleIfErrorSeconds: 0,
    maxCacheEntries: 100,
    nowMs: () => clock.ms,
  });
  const create = async (name: string) => {
    const result = await keys('POST', '/keys', { caller: alice, body: { name, scopes: ['read:users'] } });
    expect(result.status).toBe(201);
    return result.json as { id: string; key: string };
  };
  const report = async (...tokens: string[]) => {
    const body = JSON.stringify(tokens.map((token) => ({ token, type: 'dualgate_api_key', url: LEAK_URL, source: 'commit' })));
    const response = await leaks(leakEvent(body, signedHeaders(body, github)));
    return { status: response.statusCode, labels: (JSON.parse(response.body) as { label: string }[]).map?.((entry) => entry.label) };
  };
  return { keys, create, report, check, notifier, store: new KeyStore(dynamo.client, tableName), tableName, logs };
}

describe('leak reports against the key table (dynalite)', () => {
  it('revokes at once with reason leaked and the URL, shown by GET /keys/{id}; the key stops within the cache bound, its sibling works', async () => {
    const env = await freshEnv();
    const leaked = await env.create('ci');
    const sibling = await env.create('deploy');
    expect((await env.check.evaluate(leaked.key)).kind).toBe('principal');
    expect(await env.report(leaked.key, 'dg_not_a_key')).toEqual({ status: 200, labels: ['true_positive', 'false_positive'] });

    const view = await env.keys('GET', '/keys/{id}', { caller: alice, id: leaked.id });
    expect(view.json).toMatchObject({
      status: 'revoked',
      revokedAt: '2031-03-01T12:00:00.000Z',
      revokedReason: 'leaked',
      leak: { reportedAt: '2031-03-01T12:00:00.000Z', reportedBy: 'github', url: LEAK_URL, source: 'commit' },
    });
    expect(publicKeySchema.safeParse(view.json).success).toBe(true);
    const listed = await env.keys('GET', '/keys', { caller: alice });
    expect((listed.json.items as { id: string; revokedReason?: string }[]).find((item) => item.id === leaked.id)?.revokedReason).toBe(
      'leaked',
    );

    // The authorizer cached the key before the report: it keeps its verdict for the cache TTL, then reads the revocation.
    clock.ms += (KEY_CACHE_TTL_SECONDS + 1) * 1000;
    expect(await env.check.evaluate(leaked.key)).toMatchObject({ kind: 'reject', reason: 'key_revoked' });
    expect((await env.check.evaluate(sibling.key)).kind).toBe('principal');
    expect((await env.keys('GET', '/keys/{id}', { caller: alice, id: sibling.id })).json.status).toBe('active');
  });

  it('is idempotent: a second report changes nothing (same version, same fields)', async () => {
    const env = await freshEnv();
    const leaked = await env.create('ci');
    await env.report(leaked.key);
    const first = await env.store.getByHashConsistent(hashKey(leaked.key));
    clock.ms += 5000;
    expect(await env.report(leaked.key)).toEqual({ status: 200, labels: ['true_positive'] });
    expect(await env.store.getByHashConsistent(hashKey(leaked.key))).toEqual(first);
    expect(env.notifier.published).toHaveLength(1);
  });

  it('leaves a revoked key revoked: a PATCH made with the version read before the report fails, and cannot drop the leak', async () => {
    const env = await freshEnv();
    const leaked = await env.create('ci');
    const before = await env.store.getByHashConsistent(hashKey(leaked.key));
    await env.report(leaked.key);
    // A concurrent PATCH that read the key before the report lands after it: its compare-and-swap must fail.
    await expect(env.store.replace({ ...before!, name: 'renamed', version: before!.version + 1 }, before!.version)).rejects.toThrow(
      /conditional replace failed/,
    );
    expect((await env.keys('PATCH', '/keys/{id}', { caller: alice, id: leaked.id, body: { name: 'x' } })).status).toBe(409);
    expect((await env.keys('POST', '/keys/{id}/rotate', { caller: alice, id: leaked.id, body: {} })).status).toBe(409);
    expect(await env.store.getByHashConsistent(hashKey(leaked.key))).toMatchObject({ revokedReason: 'leaked', leakUrl: LEAK_URL });
  });

  it('with notify: records the leak, the key keeps working, and a PATCH or a rotation keeps the record on the old key only', async () => {
    const env = await freshEnv('notify');
    const leaked = await env.create('ci');
    expect(await env.report(leaked.key)).toEqual({ status: 200, labels: ['true_positive'] });
    expect((await env.check.evaluate(leaked.key)).kind).toBe('principal');
    const patched = await env.keys('PATCH', '/keys/{id}', { caller: alice, id: leaked.id, body: { name: 'ci (leaked)' } });
    expect(patched.json).toMatchObject({ status: 'active', leak: { url: LEAK_URL, reportedBy: 'github' } });
    expect(patched.json.revokedReason).toBeUndefined();
    const rotated = await env.keys('POST', '/keys/{id}/rotate', { caller: alice, id: leaked.id, body: { gracePeriodSeconds: 0 } });
    expect(rotated.status).toBe(201);
    expect(rotated.json.leak).toBeUndefined();
    expect(rotated.json.predecessor.leak).toMatchObject({ url: LEAK_URL });
    expect(env.notifier.published).toEqual([expect.objectContaining({ action: 'marked', keyId: leaked.id })]);
  });

  it('revoking a key that an earlier notify marked keeps the first report', async () => {
    const notifyEnv = await freshEnv('notify');
    const leaked = await notifyEnv.create('ci');
    await notifyEnv.report(leaked.key);
    const marked = await notifyEnv.store.getByHashConsistent(hashKey(leaked.key));
    const store = new DynamoLeakStore(dynamo.client, notifyEnv.tableName);
    clock.ms += 60_000;
    expect(
      await store.recordLeak(
        hashKey(leaked.key),
        { reportedAt: new Date(clock.ms).toISOString(), reporter: 'github', url: 'https://github.com/other' },
        { revokedAt: new Date(clock.ms).toISOString(), expiresAt: clock.ms / 1000 },
      ),
    ).toBe(true);
    const revoked = await notifyEnv.store.getByHashConsistent(hashKey(leaked.key));
    expect(revoked).toMatchObject({ leakedAt: marked!.leakedAt, leakUrl: LEAK_URL, revokedReason: 'leaked', version: marked!.version + 1 });
  });

  it('never creates an item for a hash the table does not hold', async () => {
    const env = await freshEnv();
    const store = new DynamoLeakStore(dynamo.client, env.tableName);
    const hash = 'f'.repeat(64);
    expect(
      await store.recordLeak(
        hash,
        { reportedAt: new Date(clock.ms).toISOString(), reporter: 'github' },
        { revokedAt: new Date(clock.ms).toISOString(), expiresAt: 1 },
      ),
    ).toBe(false);
    expect(await store.getByHash(hash)).toBeUndefined();
  });
});
