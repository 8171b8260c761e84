/**
 * Entitlements end to end on dynalite: the key API grants within token scopes + entitlements and records which
 * scopes a key holds through them; the authorizer's key check (with its entitlement cache) drops an entitled scope
 * once the admin removes it, within keyCacheTtlSeconds, and fails closed when it cannot read the entitlements.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyCheck } from '../../lambdas/authorizer/api-key-check';
import { EntitlementCache } from '../../lambdas/authorizer/entitlement-cache';
import { createKeysHandler } from '../../lambdas/keys/router';
import { DynamoConsumerLookup, DynamoConsumerStore, type EntitlementLookup } from '../../lambdas/shared/consumer-store';
import { DynamoKeyLookup, KeyStore } from '../../lambdas/shared/key-store';
import { DEMO_CATALOG } from '../support/demo-app';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { captureLogger } from '../support/logs';
import { admin, caller, keysEvent, type TestCaller } from './harness';
import type { KeysHandler } from '../../lambdas/keys/router';

const KEY_CACHE_TTL_SECONDS = 30;
/** Signed in through the portal: the token carries the key API's scopes only. */
const portalUser: TestCaller = { sub: 'ada', scopes: ['keys:read', 'keys:write'], authMethod: 'jwt' };
let dynamo: LocalDynamo;
const logs = captureLogger('dualgate-keys');
const clock = { ms: Date.parse('2031-03-01T12:00:00.000Z') };

async function freshEnv(options: { lookup?: (real: EntitlementLookup) => EntitlementLookup; staleIfErrorSeconds?: number } = {}) {
  const tableName = await dynamo.createTable();
  const consumers = new DynamoConsumerStore(dynamo.client, tableName);
  const handler = createKeysHandler({
    catalog: DEMO_CATALOG,
    store: new KeyStore(dynamo.client, tableName),
    keyPrefix: 'dg',
    adminScope: 'keys:admin',
    logger: logs.logger,
    nowMs: () => clock.ms,
    entitlements: { store: consumers, defaultScopes: ['read:users'] },
  });
  const real = new DynamoConsumerLookup(dynamo.client, tableName);
  const entitlements = new EntitlementCache({
    lookup: options.lookup ? options.lookup(real) : real,
    defaultScopes: ['read:users'],
    cacheTtlSeconds: KEY_CACHE_TTL_SECONDS,
    staleIfErrorSeconds: options.staleIfErrorSeconds ?? 0,
    maxCacheEntries: 100,
    nowMs: () => clock.ms,
  });
  const check = new ApiKeyCheck({
    keyPrefix: 'dg',
    store: new DynamoKeyLookup(dynamo.client, tableName),
    keyCacheTtlSeconds: KEY_CACHE_TTL_SECONDS,
    negativeCacheTtlSeconds: 5,
    staleIfErrorSeconds: options.staleIfErrorSeconds ?? 0,
    maxCacheEntries: 100,
    nowMs: () => clock.ms,
    entitlements,
  });
  const call = caller(handler);
  const scopesOf = async (key: string): Promise<readonly string[] | string> => {
    const result = await check.evaluate(key);
    return result.kind === 'principal'
      ? result.principal.scopes
      : result.kind === 'fail'
        ? `fail:${result.reason}`
        : `reject:${result.reason}`;
  };
  const entitle = (sub: string, scopes: string[]) => consumerCall(handler, 'PUT', sub, admin, { scopes });
  return { call, handler, scopesOf, entitle, entitlements, consumers };
}

/** The consumer routes take `{sub}` (the harness's events fill `{id}`). */
async function consumerCall(handler: KeysHandler | { handler: KeysHandler }, method: string, sub: string, by: TestCaller, body?: unknown) {
  const event = keysEvent(method, '/consumers/{sub}', { caller: by, ...(body === undefined ? {} : { body }) });
  event.pathParameters = { sub };
  event.path = `/consumers/${encodeURIComponent(sub)}`;
  const raw = await ('handler' in handler ? handler.handler : handler)(event);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: raw.statusCode, json: JSON.parse(raw.body) as any };
}

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo?.close();
});

describe('granting with entitlements', () => {
  it('lets a portal user grant its default entitlement, records it as entitled, and refuses a scope it is not entitled to', async () => {
    const env = await freshEnv();
    const created = await env.call('POST', '/keys', { caller: portalUser, body: { name: 'reader', scopes: ['read:users'] } });
    expect(created.status).toBe(201);
    expect(created.json.entitledScopes).toEqual(['read:users']);
    const refused = await env.call('POST', '/keys', { caller: portalUser, body: { name: 'writer', scopes: ['write:users'] } });
    expect(refused.status).toBe(403);
    expect(refused.json.message).toBe('scopes: you cannot grant scope(s) you neither hold nor are entitled to: write:users');
  });

  it('does not mark scopes the token itself holds, nor an admin grant, as entitled', async () => {
    const env = await freshEnv();
    const own = await env.call('POST', '/keys', { caller: portalUser, body: { name: 'manager', scopes: ['keys:read'] } });
    expect(own.status).toBe(201);
    expect(own.json.entitledScopes).toBeUndefined();
    const byAdmin = await env.call('POST', '/keys', { caller: admin, body: { name: 'granted', scopes: ['write:users'], owner: 'ada' } });
    expect(byAdmin.json.entitledScopes).toBeUndefined();
  });

  it('an API-key caller grants only what its key holds, never its owner’s entitlements, and what it grants stays entitlement-bound', async () => {
    const env = await freshEnv();
    const parent = await env.call('POST', '/keys', {
      caller: portalUser,
      body: { name: 'parent', scopes: ['read:users', 'keys:write', 'keys:read'] },
    });
    expect(parent.json.entitledScopes).toEqual(['read:users']);
    await env.entitle('ada', ['write:users']);
    const viaKey: TestCaller = {
      sub: 'ada',
      scopes: ['read:users', 'keys:write', 'keys:read'],
      authMethod: 'apiKey',
      keyId: parent.json.id,
    };
    const widened = await env.call('POST', '/keys', { caller: viaKey, body: { name: 'child', scopes: ['write:users'] } });
    expect(widened.status).toBe(403);
    expect(widened.json.message).toBe('scopes: you cannot grant scope(s) your key does not hold: write:users');
    const child = await env.call('POST', '/keys', { caller: viaKey, body: { name: 'child', scopes: ['read:users'] } });
    expect(child.status).toBe(201);
    expect(child.json.entitledScopes).toEqual(['read:users']);
  });

  it('keeps the dependency through a rotation and a PATCH, and drops it only with the scope', async () => {
    const env = await freshEnv();
    await env.entitle('ada', ['write:users']);
    const key = await env.call('POST', '/keys', { caller: portalUser, body: { name: 'both', scopes: ['read:users', 'write:users'] } });
    expect(key.json.entitledScopes).toEqual(['read:users', 'write:users']);
    const rotated = await env.call('POST', '/keys/{id}/rotate', { caller: portalUser, id: key.json.id, body: { gracePeriodSeconds: 0 } });
    expect(rotated.status).toBe(201);
    expect(rotated.json.entitledScopes).toEqual(['read:users', 'write:users']);
    const narrowed = await env.call('PATCH', '/keys/{id}', { caller: admin, id: rotated.json.id, body: { scopes: ['write:users'] } });
    expect(narrowed.json.entitledScopes).toEqual(['write:users']);
  });

  it('after an entitlement lapses, the owner may still rotate, resume, extend and narrow the key: the scope stays marked and ineffective until re-entitled', async () => {
    const env = await freshEnv();
    await env.entitle('ada', ['write:users']);
    const key = await env.call('POST', '/keys', {
      caller: portalUser,
      body: { name: 'w', scopes: ['keys:read', 'write:users'], expiresIn: 3600 },
    });
    await env.entitle('ada', []);
    // An API-key caller gets no such leeway: rotating would hand it a plaintext carrying a scope its key lacks.
    const viaKey: TestCaller = { sub: 'ada', scopes: ['keys:read', 'keys:write'], authMethod: 'apiKey', keyId: 'k-parent' };
    expect((await env.call('POST', '/keys/{id}/rotate', { caller: viaKey, id: key.json.id, body: { gracePeriodSeconds: 0 } })).status).toBe(
      403,
    );
    // Nor may the lapsed scope be added to a key that does not hold it.
    const other = await env.call('POST', '/keys', { caller: portalUser, body: { name: 'r', scopes: ['keys:read'] } });
    expect(
      (await env.call('PATCH', '/keys/{id}', { caller: portalUser, id: other.json.id, body: { scopes: ['keys:read', 'write:users'] } }))
        .status,
    ).toBe(403);

    const rotated = await env.call('POST', '/keys/{id}/rotate', { caller: portalUser, id: key.json.id, body: { gracePeriodSeconds: 0 } });
    expect(rotated.status).toBe(201);
    expect(rotated.json).toMatchObject({ scopes: ['keys:read', 'write:users'], entitledScopes: ['write:users'] });
    clock.ms += KEY_CACHE_TTL_SECONDS * 1000;
    expect(await env.scopesOf(rotated.json.key)).toEqual(['keys:read']);
    expect((await env.call('PATCH', '/keys/{id}', { caller: portalUser, id: rotated.json.id, body: { enabled: false } })).status).toBe(200);
    const resumed = await env.call('PATCH', '/keys/{id}', {
      caller: portalUser,
      id: rotated.json.id,
      body: { enabled: true, expiresIn: 7200 },
    });
    expect(resumed).toMatchObject({ status: 200, json: { enabled: true, entitledScopes: ['write:users'] } });
    const renamed = await env.call('PATCH', '/keys/{id}', { caller: portalUser, id: rotated.json.id, body: { scopes: ['write:users'] } });
    expect(renamed).toMatchObject({ status: 200, json: { scopes: ['write:users'], entitledScopes: ['write:users'] } });
    clock.ms += KEY_CACHE_TTL_SECONDS * 1000;
    expect(await env.scopesOf(rotated.json.key)).toEqual([]);
    // Re-entitled: it counts again within the same bound.
    await env.entitle('ada', ['write:users']);
    clock.ms += KEY_CACHE_TTL_SECONDS * 1000;
    expect(await env.scopesOf(rotated.json.key)).toEqual(['write:users']);
  });
});

describe('audit lines of keys with entitled scopes', () => {
  it('show the new key’s entitledScopes on create and rotate, and their before/after on a PATCH that changes them', async () => {
    const env = await freshEnv();
    await env.entitle('ada', ['write:users']);
    const key = await env.call('POST', '/keys', { caller: portalUser, body: { name: 'audited', scopes: ['keys:read'] } });
    const line = (action: string, keyId: string) =>
      logs
        .entries()
        .filter((entry) => entry['action'] === action && entry['keyId'] === keyId)
        .at(-1);
    expect(line('create', key.json.id)).toMatchObject({ entitledScopes: [] });
    const widened = await env.call('PATCH', '/keys/{id}', {
      caller: portalUser,
      id: key.json.id,
      body: { scopes: ['keys:read', 'write:users'] },
    });
    expect(widened.status).toBe(200);
    expect(line('update', key.json.id)).toMatchObject({
      changes: {
        scopes: { before: ['keys:read'], after: ['keys:read', 'write:users'] },
        entitledScopes: { before: [], after: ['write:users'] },
      },
    });
    const renamed = await env.call('PATCH', '/keys/{id}', { caller: portalUser, id: key.json.id, body: { name: 'audited-2' } });
    expect(renamed.status).toBe(200);
    expect(line('update', key.json.id)?.['changes']).toEqual({ name: { before: 'audited', after: 'audited-2' } });
    const rotated = await env.call('POST', '/keys/{id}/rotate', { caller: portalUser, id: key.json.id, body: { gracePeriodSeconds: 0 } });
    expect(line('rotate', key.json.id)).toMatchObject({ successorKeyId: rotated.json.id, entitledScopes: ['write:users'] });
    const created = await env.call('POST', '/keys', {
      caller: portalUser,
      body: { name: 'entitled', scopes: ['read:users', 'write:users'] },
    });
    expect(line('create', created.json.id)).toMatchObject({ entitledScopes: ['read:users', 'write:users'] });
  });
});

describe('the consumer routes', () => {
  it('PUT sets the entitlements (admin only, audited), GET shows them to the consumer, without plans', async () => {
    const env = await freshEnv();
    expect((await consumerCall(env, 'PUT', 'ada', portalUser, { scopes: ['write:users'] })).status).toBe(403);
    const put = await consumerCall(env, 'PUT', 'ada', admin, { scopes: ['write:users', 'write:users'] });
    expect(put).toMatchObject({
      status: 200,
      json: {
        sub: 'ada',
        plan: null,
        assigned: false,
        scopes: ['write:users'],
        defaultScopes: ['read:users'],
        entitledScopes: ['read:users', 'write:users'],
      },
    });
    const audit = logs.entries().find((line) => line['action'] === 'consumer.set-scopes' && line['sub'] === 'ada');
    expect(audit).toMatchObject({ actorSub: 'admin-client', changes: { scopes: { before: [], after: ['write:users'] } } });
    expect((await consumerCall(env, 'GET', 'ada', portalUser)).json).toEqual({
      sub: 'ada',
      plan: null,
      assigned: false,
      usage: null,
      scopes: ['write:users'],
      defaultScopes: ['read:users'],
      entitledScopes: ['read:users', 'write:users'],
    });
    expect((await consumerCall(env, 'GET', 'ada', { ...portalUser, sub: 'eve' })).status).toBe(403);
  });

  it('answers 400 naming the problem for unknown scopes, the admin scope, a plan without plans, and extra fields', async () => {
    const env = await freshEnv();
    expect((await consumerCall(env, 'PUT', 'ada', admin, { scopes: ['no:such'] })).json).toEqual({
      message: 'scopes: unknown scope(s): no:such',
      field: 'scopes',
    });
    expect((await consumerCall(env, 'PUT', 'ada', admin, { scopes: ['keys:admin'] })).json.message).toMatch(
      /keys:admin cannot be an entitlement/,
    );
    expect((await consumerCall(env, 'PUT', 'ada', admin, { plan: 'pro' })).json).toEqual({
      message: 'plan: this API has no plans (set plans on DualAuthApi)',
      field: 'plan',
    });
    expect((await consumerCall(env, 'PUT', 'ada', admin, { scopes: [], extra: 1 })).status).toBe(400);
    expect((await consumerCall(env, 'PUT', 'ada', admin, {})).status).toBe(400);
    expect((await consumerCall(env, 'PUT', 'ada', admin, { scopes: 'write:users' })).status).toBe(400);
    expect((await consumerCall(env, 'DELETE', 'ada', admin)).status).toBe(400);
  });
});

describe('effective scopes in the authorizer', () => {
  it('drops an entitled scope from existing keys within keyCacheTtlSeconds of its removal, and keeps every other scope', async () => {
    const env = await freshEnv();
    await env.entitle('ada', ['write:users']);
    const key = await env.call('POST', '/keys', {
      caller: portalUser,
      body: { name: 'mixed', scopes: ['keys:read', 'read:users', 'write:users'] },
    });
    expect(await env.scopesOf(key.json.key)).toEqual(['keys:read', 'read:users', 'write:users']);
    await env.entitle('ada', []);
    // Cached: still the old answer, at most keyCacheTtlSeconds.
    expect(await env.scopesOf(key.json.key)).toEqual(['keys:read', 'read:users', 'write:users']);
    clock.ms += KEY_CACHE_TTL_SECONDS * 1000;
    expect(await env.scopesOf(key.json.key)).toEqual(['keys:read', 'read:users']);
    // Entitled again: back within the same bound.
    await env.entitle('ada', ['write:users']);
    clock.ms += KEY_CACHE_TTL_SECONDS * 1000;
    expect(await env.scopesOf(key.json.key)).toEqual(['keys:read', 'read:users', 'write:users']);
  });

  it('reads no entitlements for a key that holds none through them', async () => {
    let reads = 0;
    const env = await freshEnv({ lookup: (real) => ({ getEntitlements: (sub) => (reads++, real.getEntitlements(sub)) }) });
    const key = await env.call('POST', '/keys', { caller: portalUser, body: { name: 'own', scopes: ['keys:read'] } });
    expect(await env.scopesOf(key.json.key)).toEqual(['keys:read']);
    expect(reads).toBe(0);
  });

  it('fails closed when the entitlements cannot be read and nothing is cached; serves the cached list within stale-if-error', async () => {
    let failing = true;
    const env = await freshEnv({
      staleIfErrorSeconds: 60,
      lookup: (real) => ({ getEntitlements: (sub) => (failing ? Promise.reject(new Error('table down')) : real.getEntitlements(sub)) }),
    });
    const key = await env.call('POST', '/keys', { caller: portalUser, body: { name: 'reader', scopes: ['read:users'] } });
    expect(await env.scopesOf(key.json.key)).toBe('fail:key_store_unavailable');
    failing = false;
    clock.ms += KEY_CACHE_TTL_SECONDS * 1000;
    expect(await env.scopesOf(key.json.key)).toEqual(['read:users']);
    failing = true;
    clock.ms += KEY_CACHE_TTL_SECONDS * 1000;
    expect(await env.scopesOf(key.json.key)).toEqual(['read:users']);
  });
});
