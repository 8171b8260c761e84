/**
 * The management API against dynalite, end to end through the real KeyStore, and the real authorizer's
 * ApiKeyCheck reading the same table with the same injected clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CATALOG } from '../support/demo-app';
import { ApiKeyCheck } from '../../lambdas/authorizer/api-key-check';
import { createKeysHandler } from '../../lambdas/keys/router';
import { hashKey, parseKey } from '../../lambdas/core/key-format';
import {
  DynamoKeyLookup,
  KeyStore,
  KeyStoreUnavailableError,
  KeyWriteConflictError,
  type KeyManagementStore,
} from '../../lambdas/shared/key-store';
import { captureLogger } from '../support/logs';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { admin, alice, bob, caller, seenResponses, type TestCaller } from './harness';

const KEY_CACHE_TTL_SECONDS = 30;
let dynamo: LocalDynamo;
const logs = captureLogger('dualgate-keys');
const plaintexts: string[] = [];
const clock = { ms: Date.parse('2031-03-01T12:00:00.000Z') };
const advance = (seconds: number) => (clock.ms += seconds * 1000);

interface Env {
  call: ReturnType<typeof caller>;
  store: KeyStore;
  check: ApiKeyCheck;
  tableName: string;
}

async function freshEnv(wrap: (store: KeyStore) => KeyManagementStore = (store) => store): Promise<Env> {
  const tableName = await dynamo.createTable();
  const store = new KeyStore(dynamo.client, tableName);
  const handler = createKeysHandler({
    catalog: DEMO_CATALOG,
    store: wrap(store),
    keyPrefix: 'dg',
    adminScope: 'keys:admin',
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
  const call = caller(handler);
  const recordingCall: typeof call = async (method, resource, options) => {
    const result = await call(method, resource, options);
    if (result.status === 201 && typeof result.json?.key === 'string') plaintexts.push(result.json.key);
    return result;
  };
  return { call: recordingCall, store, check, tableName };
}

async function createKey(env: Env, body: Record<string, unknown> = {}, by: TestCaller = alice) {
  const result = await env.call('POST', '/keys', { caller: by, body: { name: 'ci', scopes: ['read:users'], ...body } });
  expect(result.status).toBe(201);
  return result.json as { id: string; key: string; owner: string; scopes: string[] };
}

/** Every base64url-looking run in `text`, decoded: an encoded hash or key must not slip past the scan either. */
function base64urlDecodings(text: string): string[] {
  return [...text.matchAll(/[A-Za-z0-9_-]{16,}={0,2}/g)].map((match) => Buffer.from(match[0], 'base64url').toString('utf8'));
}

async function verdict(env: Env, key: string) {
  const result = await env.check.evaluate(key);
  return result.kind === 'principal'
    ? { ok: true, sub: result.principal.sub, scopes: result.principal.scopes }
    : { ok: false, reason: result.reason };
}

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.close();
});

describe('create', () => {
  it('returns the plaintext once, stores only its hash, and the key acts as its owner', async () => {
    const env = await freshEnv();
    const created = await createKey(env, { name: 'deploy bot', scopes: ['read:users'], expiresIn: 3600, metadata: { team: 'ci' } });
    expect(created).toMatchObject({
      name: 'deploy bot',
      owner: 'alice',
      scopes: ['read:users'],
      status: 'active',
      createdBy: 'alice',
      expiresAt: new Date(clock.ms + 3600_000).toISOString(),
    });
    expect(created.id).toMatch(/^key_[0-9A-Z]{26}$/);
    expect(parseKey(created.key, 'dg').ok).toBe(true);
    const stored = await env.store.getByHash(hashKey(created.key));
    expect(stored?.keyId).toBe(created.id);
    expect(JSON.stringify(stored)).not.toContain(created.key);
    expect(await verdict(env, created.key)).toEqual({ ok: true, sub: 'alice', scopes: ['read:users'] });
    const fetched = await env.call('GET', '/keys/{id}', { id: created.id });
    expect(fetched.json.key).toBeUndefined();
    expect(fetched.json.keyHash).toBeUndefined();
  });

  it('lets an admin create a key for another owner, whose sub the key then carries', async () => {
    const env = await freshEnv();
    const created = await createKey(env, { owner: 'carol', scopes: ['write:users'] }, admin);
    expect(created.owner).toBe('carol');
    expect(await verdict(env, created.key)).toMatchObject({ ok: true, sub: 'carol' });
  });

  it('rejects owner from a non-admin with 403 and writes nothing', async () => {
    const env = await freshEnv();
    const result = await env.call('POST', '/keys', { caller: alice, body: { name: 'x', scopes: [], owner: 'bob' } });
    expect(result.status).toBe(403);
    expect(result.json.field).toBe('owner');
    expect((await env.call('GET', '/keys', { caller: bob })).json.items).toEqual([]);
    expect((await env.call('GET', '/keys', { caller: alice })).json.items).toEqual([]);
  });

  it('lets a key with keys:write mint a narrower key for its own owner, and refuses escalation by key and by JWT', async () => {
    const env = await freshEnv();
    const writer = await createKey(env, { scopes: ['keys:write', 'read:users'] });
    const asKey: TestCaller = { sub: 'alice', scopes: writer.scopes, authMethod: 'apiKey', keyId: writer.id };
    const narrower = await createKey(env, { scopes: ['read:users'] }, asKey);
    expect(await verdict(env, narrower.key)).toMatchObject({ ok: true, sub: 'alice', scopes: ['read:users'] });

    const byKey = await env.call('POST', '/keys', { caller: asKey, body: { name: 'x', scopes: ['write:users'] } });
    expect(byKey).toMatchObject({ status: 403, json: { field: 'scopes' } });
    const toAdmin = await env.call('POST', '/keys', { caller: asKey, body: { name: 'x', scopes: ['keys:admin'] } });
    expect(toAdmin.status).toBe(403);
    const byJwt = await env.call('POST', '/keys', { caller: alice, body: { name: 'x', scopes: ['write:users'] } });
    expect(byJwt).toMatchObject({ status: 403, json: { field: 'scopes' } });
    const unknown = await env.call('POST', '/keys', { caller: admin, body: { name: 'x', scopes: ['launch:missiles'] } });
    expect(unknown).toMatchObject({ status: 400, json: { field: 'scopes' } });
    expect((await env.call('GET', '/keys')).json.items).toHaveLength(2);
  });
});

describe('list and get', () => {
  it('pages through the owner’s keys with limit and an opaque cursor, showing each status', async () => {
    const env = await freshEnv();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await createKey(env, { name: `k${i}` })).id);
      advance(1);
    }
    await createKey(env, {}, bob);
    await env.call('DELETE', '/keys/{id}', { id: ids[1] });
    await env.call('PATCH', '/keys/{id}', { id: ids[2], body: { enabled: false } });
    await env.call('PATCH', '/keys/{id}', { id: ids[3], body: { expiresIn: 1 } });
    advance(2);

    const seen: { id: string; status: string }[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await env.call('GET', '/keys', { query: { limit: '2', ...(cursor ? { cursor } : {}) } });
      expect(page.status).toBe(200);
      expect(page.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.json.items.map((item: { id: string; status: string }) => ({ id: item.id, status: item.status })));
      cursor = page.json.nextCursor ?? undefined;
      pages++;
    } while (cursor && pages < 10);
    expect(seen.map((item) => item.id)).toEqual(ids);
    expect(seen.map((item) => item.status)).toEqual(['active', 'revoked', 'disabled', 'expired', 'active']);
  });

  it('rejects a tampered cursor, another owner’s cursor and bad limits with 400', async () => {
    const env = await freshEnv();
    for (let i = 0; i < 3; i++) await createKey(env, {}, bob);
    const first = await env.call('GET', '/keys', { caller: bob, query: { limit: '1' } });
    const bobCursor: string = first.json.nextCursor;
    expect(bobCursor).toEqual(expect.any(String));
    const tampered = `${bobCursor.slice(0, -2) + (bobCursor.endsWith('A') ? 'B' : 'A')}x`;
    expect(await env.call('GET', '/keys', { caller: bob, query: { cursor: tampered } })).toMatchObject({
      status: 400,
      json: { field: 'cursor' },
    });
    expect(await env.call('GET', '/keys', { caller: alice, query: { cursor: bobCursor } })).toMatchObject({
      status: 400,
      json: { field: 'cursor' },
    });
    const forged = Buffer.from(JSON.stringify({ keyHash: 'x', owner: 'bob', createdAt: 'y', extra: 1 })).toString('base64url');
    expect(await env.call('GET', '/keys', { caller: bob, query: { cursor: forged } })).toMatchObject({
      status: 400,
      json: { field: 'cursor' },
    });
    for (const limit of ['0', '101', 'ten', '-1']) {
      expect(await env.call('GET', '/keys', { caller: bob, query: { limit } })).toMatchObject({ status: 400, json: { field: 'limit' } });
    }
    expect(await env.call('GET', '/keys', { caller: bob, query: { sort: 'desc' } })).toMatchObject({
      status: 400,
      json: { field: 'sort' },
    });
  });

  it('lets only an admin list another owner’s keys with ?owner=', async () => {
    const env = await freshEnv();
    await createKey(env, {}, bob);
    const byAdmin = await env.call('GET', '/keys', { caller: admin, query: { owner: 'bob' } });
    expect(byAdmin.json.items.map((item: { owner: string }) => item.owner)).toEqual(['bob']);
    expect(await env.call('GET', '/keys', { caller: alice, query: { owner: 'bob' } })).toMatchObject({
      status: 403,
      json: { field: 'owner' },
    });
    expect((await env.call('GET', '/keys', { caller: alice, query: { owner: 'alice' } })).status).toBe(200);
  });

  it('answers another owner’s key id exactly like an unknown id: 404', async () => {
    const env = await freshEnv();
    const bobs = await createKey(env, {}, bob);
    const foreign = await env.call('GET', '/keys/{id}', { caller: alice, id: bobs.id });
    const unknown = await env.call('GET', '/keys/{id}', { caller: alice, id: 'key_01ARZ3NDEKTSV4RRFFQ69G5FAV' });
    const malformed = await env.call('GET', '/keys/{id}', { caller: alice, id: 'nope' });
    expect(foreign.status).toBe(404);
    expect(foreign.raw.body).toBe(unknown.raw.body);
    expect(malformed.raw.body).toBe(unknown.raw.body);
    expect((await env.call('GET', '/keys/{id}', { caller: admin, id: bobs.id })).json.owner).toBe('bob');
  });
});

describe('update', () => {
  it('changes name, scopes, expiry, metadata and enabled; a disabled key stops working once the key cache expires', async () => {
    const env = await freshEnv();
    const key = await createKey(env, { scopes: ['read:users', 'keys:read'], metadata: { a: 1 } });
    expect((await verdict(env, key.key)).ok).toBe(true);
    const expiresAt = new Date(clock.ms + 86_400_000).toISOString();
    const patched = await env.call('PATCH', '/keys/{id}', {
      id: key.id,
      body: { name: 'renamed', scopes: ['read:users'], expiresAt, metadata: null, enabled: false },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ name: 'renamed', scopes: ['read:users'], expiresAt, enabled: false, status: 'disabled' });
    expect(patched.json.metadata).toBeUndefined();
    expect((await verdict(env, key.key)).ok).toBe(true); // still cached
    advance(KEY_CACHE_TTL_SECONDS);
    expect(await verdict(env, key.key)).toEqual({ ok: false, reason: 'key_disabled' });
    const resumed = await env.call('PATCH', '/keys/{id}', { id: key.id, body: { enabled: true, expiresAt: null } });
    expect(resumed.json).toMatchObject({ status: 'active', expiresAt: null });
    const audit = logs
      .entries()
      .filter((entry) => entry['message'] === 'audit' && entry['keyId'] === key.id && entry['action'] === 'update');
    expect(audit.map((entry) => entry['changedFields'])).toEqual([
      ['name', 'scopes', 'expiresAt', 'metadata', 'enabled'],
      ['expiresAt', 'enabled'],
    ]);
  });

  it('answers 404 for another owner’s key and changes nothing', async () => {
    const env = await freshEnv();
    const bobs = await createKey(env, { name: 'bobs' }, bob);
    expect((await env.call('PATCH', '/keys/{id}', { caller: alice, id: bobs.id, body: { name: 'mine now' } })).status).toBe(404);
    expect((await env.call('POST', '/keys/{id}/rotate', { caller: alice, id: bobs.id })).status).toBe(404);
    expect((await env.call('DELETE', '/keys/{id}', { caller: alice, id: bobs.id })).status).toBe(404);
    const after = await env.call('GET', '/keys/{id}', { caller: bob, id: bobs.id });
    expect(after.json).toMatchObject({ name: 'bobs', status: 'active' });
    expect(after.json.updatedAt).toBeUndefined();
  });

  it('refuses escalation through PATCH: new scopes, or resuming a key whose scopes the caller lacks', async () => {
    const env = await freshEnv();
    const broad = await createKey(env, { scopes: ['read:users', 'write:users'] }, admin);
    const adminOwned = broad.id;
    await env.call('PATCH', '/keys/{id}', { caller: admin, id: adminOwned, body: { enabled: false } });
    const narrowKey = await createKey(env, { scopes: ['keys:read', 'keys:write', 'read:users'] }, admin);
    const narrowAdminSub: TestCaller = {
      sub: admin.sub,
      scopes: ['keys:read', 'keys:write', 'read:users'],
      authMethod: 'apiKey',
      keyId: narrowKey.id,
    };
    expect(await env.call('PATCH', '/keys/{id}', { caller: narrowAdminSub, id: adminOwned, body: { enabled: true } })).toMatchObject({
      status: 403,
    });
    const own = await createKey(env, { scopes: ['read:users'] });
    expect(await env.call('PATCH', '/keys/{id}', { id: own.id, body: { scopes: ['write:users'] } })).toMatchObject({
      status: 403,
      json: { field: 'scopes' },
    });
    expect((await env.call('GET', '/keys/{id}', { id: own.id })).json.scopes).toEqual(['read:users']);
    // Narrowing or suspending needs no extra scopes.
    expect((await env.call('PATCH', '/keys/{id}', { caller: narrowAdminSub, id: adminOwned, body: { name: 'renamed' } })).status).toBe(200);
  });

  it('keeps both of two concurrent PATCHes of different fields (no lost update)', async () => {
    const env = await freshEnv();
    const key = await createKey(env);
    const [a, b] = await Promise.all([
      env.call('PATCH', '/keys/{id}', { id: key.id, body: { name: 'new name' } }),
      env.call('PATCH', '/keys/{id}', { id: key.id, body: { metadata: { tier: 'gold' } } }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const after = (await env.call('GET', '/keys/{id}', { id: key.id })).json;
    expect(after).toMatchObject({ name: 'new name', metadata: { tier: 'gold' } });
    expect((await env.store.getById(key.id))?.version).toBe(3);
  });

  it('answers 409 when patching a revoked key, and never resurrects it', async () => {
    const env = await freshEnv();
    const key = await createKey(env);
    await env.call('DELETE', '/keys/{id}', { id: key.id });
    expect(await env.call('PATCH', '/keys/{id}', { id: key.id, body: { enabled: true, expiresIn: 3600 } })).toMatchObject({ status: 409 });
    expect((await env.call('GET', '/keys/{id}', { id: key.id })).json.status).toBe('revoked');
  });
});

describe('rotate', () => {
  it('keeps the old key valid through the grace period and rejects it after, through the real authorizer check', async () => {
    const env = await freshEnv();
    const old = await createKey(env, { name: 'svc', scopes: ['read:users'], metadata: { env: 'prod' } });
    const rotated = await env.call('POST', '/keys/{id}/rotate', { id: old.id, body: { gracePeriodSeconds: 3600 } });
    expect(rotated.status).toBe(201);
    const successor = rotated.json;
    expect(successor).toMatchObject({
      owner: 'alice',
      name: 'svc',
      scopes: ['read:users'],
      metadata: { env: 'prod' },
      rotatedFrom: old.id,
      status: 'active',
    });
    expect(successor.predecessor).toMatchObject({
      id: old.id,
      rotatedTo: successor.id,
      expiresAt: new Date(clock.ms + 3600_000).toISOString(),
    });
    expect(successor.key).not.toBe(old.key);

    expect(await verdict(env, old.key)).toMatchObject({ ok: true, sub: 'alice' });
    expect(await verdict(env, successor.key)).toMatchObject({ ok: true, sub: 'alice' });
    advance(3599);
    expect((await verdict(env, old.key)).ok).toBe(true);
    advance(1);
    expect(await verdict(env, old.key)).toEqual({ ok: false, reason: 'key_expired' });
    expect((await verdict(env, successor.key)).ok).toBe(true);
  });

  it('with gracePeriodSeconds 0 stops the old key at once; the default grace is 24 h', async () => {
    const env = await freshEnv();
    const immediate = await createKey(env);
    await env.call('POST', '/keys/{id}/rotate', { id: immediate.id, body: { gracePeriodSeconds: 0 } });
    expect(await verdict(env, immediate.key)).toEqual({ ok: false, reason: 'key_expired' });
    const defaulted = await createKey(env);
    const rotated = await env.call('POST', '/keys/{id}/rotate', { id: defaulted.id });
    expect(rotated.json.predecessor.expiresAt).toBe(new Date(clock.ms + 86_400_000).toISOString());
  });

  it('answers 409 for a revoked, an expired or an already rotated key, and 400 for a grace over 30 days', async () => {
    const env = await freshEnv();
    const revoked = await createKey(env);
    await env.call('DELETE', '/keys/{id}', { id: revoked.id });
    expect(await env.call('POST', '/keys/{id}/rotate', { id: revoked.id })).toMatchObject({ status: 409 });
    const expiring = await createKey(env, { expiresIn: 10 });
    advance(10);
    expect(await env.call('POST', '/keys/{id}/rotate', { id: expiring.id })).toMatchObject({ status: 409 });
    const twice = await createKey(env);
    expect((await env.call('POST', '/keys/{id}/rotate', { id: twice.id })).status).toBe(201);
    expect(await env.call('POST', '/keys/{id}/rotate', { id: twice.id })).toMatchObject({ status: 409 });
    expect(
      await env.call('POST', '/keys/{id}/rotate', { id: (await createKey(env)).id, body: { gracePeriodSeconds: 30 * 86400 + 1 } }),
    ).toMatchObject({
      status: 400,
      json: { field: 'gracePeriodSeconds' },
    });
    // Only the one successful rotation left a successor behind.
    const items = (await env.call('GET', '/keys')).json.items as { rotatedFrom?: string }[];
    expect(items.filter((item) => item.rotatedFrom !== undefined)).toHaveLength(1);
  });

  it('refuses to rotate a key whose scopes the caller does not hold (403)', async () => {
    const env = await freshEnv();
    const broad = await createKey(env, { owner: 'alice', scopes: ['write:users'] }, admin);
    expect(await env.call('POST', '/keys/{id}/rotate', { caller: alice, id: broad.id })).toMatchObject({
      status: 403,
      json: { field: 'scopes' },
    });
    expect((await env.call('GET', '/keys/{id}', { id: broad.id })).json.rotatedTo).toBeUndefined();
  });
});

describe('revoke', () => {
  it('is idempotent, and the authorizer rejects the key once the key cache TTL has passed', async () => {
    const env = await freshEnv();
    const key = await createKey(env);
    expect((await verdict(env, key.key)).ok).toBe(true);
    const first = await env.call('DELETE', '/keys/{id}', { id: key.id });
    expect(first.status).toBe(204);
    expect(first.raw.body).toBe('');
    expect((await env.call('DELETE', '/keys/{id}', { id: key.id })).status).toBe(204);
    const view = (await env.call('GET', '/keys/{id}', { id: key.id })).json;
    expect(view).toMatchObject({
      status: 'revoked',
      revokedAt: new Date(clock.ms).toISOString(),
      expiresAt: new Date(Math.floor(clock.ms / 1000) * 1000).toISOString(),
    });
    // Within the in-memory cache TTL the cached verdict may still allow it: that is the documented delay.
    advance(KEY_CACHE_TTL_SECONDS - 1);
    expect((await verdict(env, key.key)).ok).toBe(true);
    advance(1);
    expect(await verdict(env, key.key)).toEqual({ ok: false, reason: 'key_revoked' });
    const revokes = logs
      .entries()
      .filter((entry) => entry['message'] === 'audit' && entry['action'] === 'revoke' && entry['keyId'] === key.id);
    expect(revokes).toHaveLength(1);
  });
});

describe('concurrency', () => {
  it('a revoke landing between rotation steps 1 and 2 fails the rotation, removes the successor, and keeps the key revoked', async () => {
    let env!: Env;
    let victim = '';
    env = await freshEnv((store) => {
      const raced: KeyManagementStore = Object.create(store) as KeyManagementStore;
      raced.create = async (record) => {
        await store.create(record);
        if (record.rotatedFrom === victim) await env.call('DELETE', '/keys/{id}', { id: victim });
      };
      return raced;
    });
    const key = await createKey(env);
    victim = key.id;
    const rotation = await env.call('POST', '/keys/{id}/rotate', { id: key.id });
    expect(rotation).toMatchObject({ status: 409, json: { message: 'a revoked key cannot be rotated' } });
    const items = (await env.call('GET', '/keys')).json.items as { id: string; status: string }[];
    expect(items).toEqual([expect.objectContaining({ id: key.id, status: 'revoked' })]);
  });

  it('concurrent rotate and revoke always end in exactly one consistent outcome', async () => {
    const env = await freshEnv();
    const outcomes = new Set<string>();
    for (let round = 0; round < 12; round++) {
      const key = await createKey(env, { name: `round ${round}` });
      const calls = [
        env.call('POST', '/keys/{id}/rotate', { id: key.id }),
        env.call('DELETE', '/keys/{id}', { id: key.id }),
        env.call('POST', '/keys/{id}/rotate', { id: key.id }),
      ];
      const results = await Promise.all(round % 2 ? calls.reverse() : calls);
      const rotations = results.filter((result) => result.raw.statusCode !== 204);
      const winners = rotations.filter((result) => result.status === 201);
      expect(results.filter((result) => result.status === 204)).toHaveLength(1);
      expect(winners.length).toBeLessThanOrEqual(1);
      expect(rotations.every((result) => result.status === 201 || result.status === 409)).toBe(true);

      const predecessor = (await env.call('GET', '/keys/{id}', { id: key.id })).json;
      expect(predecessor.status).toBe('revoked');
      const successors = (
        (await env.call('GET', '/keys', { query: { limit: '100' } })).json.items as { id: string; rotatedFrom?: string }[]
      ).filter((item) => item.rotatedFrom === key.id);
      if (winners.length === 1) {
        expect(successors.map((item) => item.id)).toEqual([winners[0]!.json.id]);
        expect(predecessor.rotatedTo).toBe(winners[0]!.json.id);
        expect(await verdict(env, key.key)).toMatchObject({ ok: false });
        outcomes.add('rotated then revoked');
      } else {
        expect(successors).toEqual([]);
        expect(predecessor.rotatedTo).toBeUndefined();
        outcomes.add('revoked, rotation refused');
      }
    }
    expect(outcomes.size).toBeGreaterThan(0);
  });
});

describe('ambiguous writes (a retried write that committed, then failed)', () => {
  const failures = [
    ['a conflict', () => new KeyWriteConflictError('replace')],
    ['an unavailable table', () => new KeyStoreUnavailableError('key table replace failed')],
  ] as const;

  for (const [label, failure] of failures) {
    it(`a rotation whose step 2 committed but reported ${label} answers 201 and leaves a usable successor`, async () => {
      const env = await freshEnv((store) => {
        const flaky: KeyManagementStore = Object.create(store) as KeyManagementStore;
        flaky.replace = async (next, expectedVersion, guard) => {
          await store.replace(next, expectedVersion, guard);
          if (guard?.live) throw failure();
        };
        return flaky;
      });
      const key = await createKey(env);
      const rotated = await env.call('POST', '/keys/{id}/rotate', { id: key.id, body: { gracePeriodSeconds: 60 } });
      expect(rotated).toMatchObject({ status: 201, json: { rotatedFrom: key.id, predecessor: { id: key.id } } });
      const successor = rotated.json as { id: string; key: string };
      expect((await env.call('GET', '/keys/{id}', { id: key.id })).json.rotatedTo).toBe(successor.id);
      expect((await env.call('GET', '/keys/{id}', { id: successor.id })).json).toMatchObject({ status: 'active', rotatedFrom: key.id });
      expect(await verdict(env, successor.key)).toMatchObject({ ok: true, sub: 'alice' });
      // The successor can be managed and rotated on; nothing is stuck.
      expect((await env.call('PATCH', '/keys/{id}', { id: successor.id, body: { name: 'still mine' } })).status).toBe(200);
      expect(logs.entries().filter((entry) => entry['action'] === 'rotate' && entry['keyId'] === key.id)).toHaveLength(1);
    });

    it(`a create whose put committed but reported ${label} answers 201 with a working key`, async () => {
      const env = await freshEnv((store) => {
        const flaky: KeyManagementStore = Object.create(store) as KeyManagementStore;
        flaky.create = async (record) => {
          await store.create(record);
          throw failure();
        };
        return flaky;
      });
      const created = await createKey(env, { name: 'flaky' });
      expect(await verdict(env, created.key)).toMatchObject({ ok: true, sub: 'alice' });
      expect((await env.call('GET', '/keys')).json.items.map((item: { id: string }) => item.id)).toEqual([created.id]);
    });
  }

  it('a step 2 that really failed still removes the successor: 503 for an unavailable table, nothing rotated', async () => {
    const env = await freshEnv((store) => {
      const down: KeyManagementStore = Object.create(store) as KeyManagementStore;
      down.replace = async () => {
        throw new KeyStoreUnavailableError('key table replace failed');
      };
      return down;
    });
    const key = await createKey(env);
    const rotated = await env.call('POST', '/keys/{id}/rotate', { id: key.id });
    expect(rotated.status).toBe(503);
    expect(rotated.json.key).toBeUndefined();
    expect((await env.call('GET', '/keys')).json.items).toEqual([expect.objectContaining({ id: key.id, status: 'active' })]);
  });

  it('keeps the successor when even the read-back fails, so the predecessor can never point at a deleted key', async () => {
    let committedTo: string | undefined;
    const env = await freshEnv((store) => {
      const blind: KeyManagementStore = Object.create(store) as KeyManagementStore;
      blind.replace = async (next, expectedVersion, guard) => {
        await store.replace(next, expectedVersion, guard);
        committedTo = next.rotatedTo;
        throw new KeyStoreUnavailableError('key table replace failed');
      };
      blind.getByHashConsistent = async (keyHash) => {
        if (committedTo !== undefined) throw new KeyStoreUnavailableError('key table read failed');
        return store.getByHashConsistent(keyHash);
      };
      return blind;
    });
    const key = await createKey(env);
    expect((await env.call('POST', '/keys/{id}/rotate', { id: key.id })).status).toBe(503);
    expect(committedTo).toEqual(expect.any(String));
    const successor = await env.store.getById(committedTo!);
    expect(successor).toMatchObject({ rotatedFrom: key.id });
  });
});

describe('keys minted by keys: capped by the minting key’s own expiry', () => {
  async function expiringWriter(env: Env, expiresIn = 3600) {
    const writer = await createKey(env, { name: 'writer', scopes: ['keys:read', 'keys:write', 'read:users'], expiresIn });
    const asKey: TestCaller = { sub: 'alice', scopes: writer.scopes, authMethod: 'apiKey', keyId: writer.id };
    return { writer, asKey, expiresAt: new Date(clock.ms + expiresIn * 1000).toISOString() };
  }

  it('refuses a child without expiry or expiring later (403 naming the field), allows one within, and records createdByKeyId', async () => {
    const env = await freshEnv();
    const { writer, asKey, expiresAt } = await expiringWriter(env);
    const forever = await env.call('POST', '/keys', { caller: asKey, body: { name: 'child', scopes: ['read:users'] } });
    expect(forever).toMatchObject({
      status: 403,
      json: { field: 'expiresAt', message: expect.stringContaining('a key cannot create or extend keys beyond its own expiry') },
    });
    expect(
      await env.call('POST', '/keys', { caller: asKey, body: { name: 'child', scopes: ['read:users'], expiresIn: 3601 } }),
    ).toMatchObject({ status: 403, json: { field: 'expiresIn' } });
    const later = new Date(clock.ms + 7200_000).toISOString();
    expect(
      await env.call('POST', '/keys', { caller: asKey, body: { name: 'child', scopes: ['read:users'], expiresAt: later } }),
    ).toMatchObject({ status: 403, json: { field: 'expiresAt' } });
    const child = await env.call('POST', '/keys', { caller: asKey, body: { name: 'child', scopes: ['read:users'], expiresAt } });
    expect(child).toMatchObject({ status: 201, json: { expiresAt, createdBy: 'alice', createdByKeyId: writer.id } });
    expect((await env.call('GET', '/keys/{id}', { id: child.json.id })).json.createdByKeyId).toBe(writer.id);
    // JWT callers are not capped, and leave no createdByKeyId.
    const byJwt = await createKey(env, { name: 'jwt child' });
    expect((byJwt as Record<string, unknown>)['createdByKeyId']).toBeUndefined();
    expect((await env.call('GET', '/keys')).json.items).toHaveLength(3);
  });

  it('refuses to PATCH itself or another key past its own expiry, or to resume a longer-lived key; renaming, suspending and shortening within it stay allowed', async () => {
    const env = await freshEnv();
    const { writer, asKey } = await expiringWriter(env);
    expect(await env.call('PATCH', '/keys/{id}', { caller: asKey, id: writer.id, body: { expiresAt: null } })).toMatchObject({
      status: 403,
      json: { field: 'expiresAt' },
    });
    expect(await env.call('PATCH', '/keys/{id}', { caller: asKey, id: writer.id, body: { expiresIn: 7200 } })).toMatchObject({
      status: 403,
      json: { field: 'expiresIn' },
    });
    expect((await env.call('GET', '/keys/{id}', { id: writer.id })).json.expiresAt).toBe(new Date(clock.ms + 3600_000).toISOString());
    expect(await env.call('PATCH', '/keys/{id}', { caller: asKey, id: writer.id, body: { expiresIn: 1800 } })).toMatchObject({
      status: 200,
    });

    const longLived = await createKey(env, { name: 'long lived' });
    expect(await env.call('PATCH', '/keys/{id}', { caller: asKey, id: longLived.id, body: { expiresIn: 86400 } })).toMatchObject({
      status: 403,
      json: { field: 'expiresIn' },
    });
    expect(
      (await env.call('PATCH', '/keys/{id}', { caller: asKey, id: longLived.id, body: { name: 'renamed', enabled: false } })).status,
    ).toBe(200);
    expect(await env.call('PATCH', '/keys/{id}', { caller: asKey, id: longLived.id, body: { enabled: true } })).toMatchObject({
      status: 403,
      json: { field: 'enabled' },
    });
    expect(
      (await env.call('PATCH', '/keys/{id}', { caller: asKey, id: longLived.id, body: { enabled: true, expiresIn: 600 } })).status,
    ).toBe(200);
  });

  it('caps a rotation’s successor: the default inherits at most the caller key’s expiry, an explicit later one is a 403', async () => {
    const env = await freshEnv();
    const { writer, asKey, expiresAt } = await expiringWriter(env);
    const sibling = await createKey(env, { name: 'forever' });
    expect(await env.call('POST', '/keys/{id}/rotate', { caller: asKey, id: sibling.id, body: { expiresIn: 7200 } })).toMatchObject({
      status: 403,
      json: { field: 'expiresIn' },
    });
    const rotated = await env.call('POST', '/keys/{id}/rotate', { caller: asKey, id: sibling.id });
    expect(rotated).toMatchObject({ status: 201, json: { expiresAt, createdByKeyId: writer.id, rotatedFrom: sibling.id } });
    // A key rotating itself hands its successor its own expiry, never more.
    const self = await env.call('POST', '/keys/{id}/rotate', { caller: asKey, id: writer.id });
    expect(self).toMatchObject({ status: 201, json: { expiresAt } });
  });

  it('answers 403 when the calling key is revoked, expired or unknown, even while the authorizer may still cache it; its children live on', async () => {
    const env = await freshEnv();
    const { writer, asKey, expiresAt } = await expiringWriter(env);
    const child = await env.call('POST', '/keys', { caller: asKey, body: { name: 'child', scopes: ['read:users'], expiresAt } });
    expect(child.status).toBe(201);
    await env.call('DELETE', '/keys/{id}', { id: writer.id });
    const afterRevoke = await env.call('POST', '/keys', { caller: asKey, body: { name: 'x', scopes: ['read:users'], expiresIn: 60 } });
    expect(afterRevoke).toMatchObject({ status: 403, json: { message: expect.stringContaining('not active') } });
    expect((await env.call('PATCH', '/keys/{id}', { caller: asKey, id: child.json.id, body: { expiresIn: 60 } })).status).toBe(403);
    expect((await env.call('POST', '/keys/{id}/rotate', { caller: asKey, id: child.json.id })).status).toBe(403);
    // No cascade: revoking the minting key does not revoke what it minted (which expires no later than it would have).
    expect(await verdict(env, child.json.key)).toMatchObject({ ok: true });

    const unknown: TestCaller = { ...asKey, keyId: 'key_01ARZ3NDEKTSV4RRFFQ69G5FAV' };
    expect((await env.call('POST', '/keys', { caller: unknown, body: { name: 'x', scopes: ['read:users'], expiresIn: 60 } })).status).toBe(
      403,
    );
    const short = await expiringWriter(env, 10);
    advance(10);
    expect(
      (await env.call('POST', '/keys', { caller: short.asKey, body: { name: 'x', scopes: ['read:users'], expiresIn: 60 } })).status,
    ).toBe(403);
  });
});

describe('issue 9: a key acting on keys', () => {
  const asKey = (sub: string, key: { id: string; scopes: string[] }): TestCaller => ({
    sub,
    scopes: key.scopes,
    authMethod: 'apiKey',
    keyId: key.id,
  });

  it('K1/K2: a short-lived key cannot add scopes to a key that outlives it (403 naming scopes); within its own life it can, and the audit shows before and after', async () => {
    const env = await freshEnv();
    const k2 = await createKey(env, { name: 'K2', scopes: ['read:users'] }, bob);
    const k1 = await createKey(env, { name: 'K1', scopes: ['keys:write', 'keys:read', 'read:users', 'write:users'], expiresIn: 3600 }, bob);
    const k1ExpiresAt = new Date(clock.ms + 3600_000).toISOString();
    const widen = { scopes: ['read:users', 'write:users', 'keys:write'] };

    const refused = await env.call('PATCH', '/keys/{id}', { caller: asKey('bob', k1), id: k2.id, body: widen });
    expect(refused).toMatchObject({
      status: 403,
      json: { field: 'scopes', message: expect.stringContaining(`set expiresAt to ${k1ExpiresAt} or earlier`) },
    });
    expect((await env.call('GET', '/keys/{id}', { caller: bob, id: k2.id })).json).toMatchObject({
      scopes: ['read:users'],
      expiresAt: null,
    });
    // The literal K1 (without read:users) was already refused by the layered-scope rule.
    const k1Literal = await createKey(
      env,
      { name: 'K1 literal', scopes: ['keys:write', 'keys:read', 'write:users'], expiresIn: 3600 },
      bob,
    );
    expect(await env.call('PATCH', '/keys/{id}', { caller: asKey('bob', k1Literal), id: k2.id, body: widen })).toMatchObject({
      status: 403,
      json: { field: 'scopes' },
    });

    // Narrowing and renaming hand out nothing: allowed on a longer-lived key.
    expect(
      (await env.call('PATCH', '/keys/{id}', { caller: asKey('bob', k1), id: k2.id, body: { name: 'K2 renamed', scopes: [] } })).status,
    ).toBe(200);
    // Widening together with an expiry within K1's life is allowed: the widened key dies with K1.
    const allowed = await env.call('PATCH', '/keys/{id}', {
      caller: asKey('bob', k1),
      id: k2.id,
      body: { ...widen, expiresAt: k1ExpiresAt },
    });
    expect(allowed).toMatchObject({ status: 200, json: { scopes: ['keys:write', 'read:users', 'write:users'], expiresAt: k1ExpiresAt } });
    const auditLine = logs
      .entries()
      .filter((entry) => entry['action'] === 'update' && entry['keyId'] === k2.id)
      .at(-1);
    expect(auditLine).toMatchObject({
      actorKeyId: k1.id,
      changedFields: ['scopes', 'expiresAt'],
      changes: {
        scopes: { before: [], after: ['keys:write', 'read:users', 'write:users'] },
        expiresAt: { before: null, after: k1ExpiresAt },
      },
    });
    // Resuming shows up the same way.
    await env.call('PATCH', '/keys/{id}', { caller: bob, id: k2.id, body: { enabled: false } });
    await env.call('PATCH', '/keys/{id}', { caller: bob, id: k2.id, body: { enabled: true } });
    expect(
      logs
        .entries()
        .filter((entry) => entry['action'] === 'update' && entry['keyId'] === k2.id)
        .at(-1),
    ).toMatchObject({ changes: { enabled: { before: false, after: true } } });

    // Create and rotate obey the same rule: a child of K1 that would outlive it is refused, a rotation is capped.
    expect(await env.call('POST', '/keys', { caller: asKey('bob', k1), body: { name: 'child', scopes: ['keys:write'] } })).toMatchObject({
      status: 403,
      json: { field: 'expiresAt' },
    });
    const forever = await createKey(env, { name: 'forever', scopes: ['read:users'] }, bob);
    expect(await env.call('POST', '/keys/{id}/rotate', { caller: asKey('bob', k1), id: forever.id })).toMatchObject({
      status: 201,
      json: { expiresAt: k1ExpiresAt },
    });
  });

  it('a revoked, disabled or expired admin key can no longer list, get or revoke, even while the authorizer may still cache it', async () => {
    const adminKeyScopes = ['keys:admin', 'keys:read', 'keys:write'];
    for (const state of ['revoked', 'disabled', 'expired'] as const) {
      const env = await freshEnv();
      const target = await createKey(env, {}, bob);
      const adminKey = await createKey(env, { name: 'admin key', scopes: adminKeyScopes, expiresIn: 600 }, admin);
      const byKey = asKey(admin.sub, adminKey);
      // While active it may do all three (the control that makes the 403s below mean something).
      expect((await env.call('GET', '/keys', { caller: byKey, query: { owner: 'bob' } })).status).toBe(200);
      expect((await env.call('GET', '/keys/{id}', { caller: byKey, id: target.id })).status).toBe(200);

      if (state === 'revoked') await env.call('DELETE', '/keys/{id}', { caller: admin, id: adminKey.id });
      if (state === 'disabled') await env.call('PATCH', '/keys/{id}', { caller: admin, id: adminKey.id, body: { enabled: false } });
      if (state === 'expired') advance(600);

      const notActive = { status: 403, json: { message: expect.stringContaining('not active') } };
      expect(await env.call('GET', '/keys', { caller: byKey, query: { owner: 'bob' } }), state).toMatchObject(notActive);
      expect(await env.call('GET', '/keys', { caller: byKey }), state).toMatchObject(notActive);
      expect(await env.call('GET', '/keys/{id}', { caller: byKey, id: target.id }), state).toMatchObject(notActive);
      expect(await env.call('DELETE', '/keys/{id}', { caller: byKey, id: target.id }), state).toMatchObject(notActive);
      expect((await env.call('GET', '/keys/{id}', { caller: bob, id: target.id })).json.status, state).toBe('active');
    }
  });

  /** The DynamoDB commands `act` sends, by name, counted on the client itself. */
  async function commandsSentBy(act: () => Promise<unknown>): Promise<string[]> {
    const sent: string[] = [];
    const name = 'issue9-count-commands';
    dynamo.client.middlewareStack.add(
      (next, context) => async (args) => {
        sent.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name },
    );
    try {
      await act();
    } finally {
      dynamo.client.middlewareStack.remove(name);
    }
    return sent;
  }

  it('GET /keys/{id}: another owner’s key and an unknown id get the same answer after the same DynamoDB calls', async () => {
    const env = await freshEnv();
    const bobs = await createKey(env, {}, bob);
    const alicesKey = await createKey(env, { name: 'alice reader', scopes: ['keys:read'] });
    for (const who of [alice, asKey('alice', alicesKey)]) {
      let foreign: Awaited<ReturnType<Env['call']>> | undefined;
      let unknown: Awaited<ReturnType<Env['call']>> | undefined;
      const foreignCalls = await commandsSentBy(async () => (foreign = await env.call('GET', '/keys/{id}', { caller: who, id: bobs.id })));
      const unknownCalls = await commandsSentBy(
        async () => (unknown = await env.call('GET', '/keys/{id}', { caller: who, id: 'key_01ARZ3NDEKTSV4RRFFQ69G5FAV' })),
      );
      expect(foreign?.status).toBe(404);
      expect(foreign?.raw.body).toBe(unknown?.raw.body);
      expect(foreignCalls).toEqual(unknownCalls);
    }
    // An own key costs the byId query plus the consistent read: the work the two answers above both skip.
    expect(await commandsSentBy(() => env.call('GET', '/keys/{id}', { caller: alice, id: alicesKey.id }))).toEqual([
      'QueryCommand',
      'GetItemCommand',
    ]);
  });

  it('list cursors: naming another owner’s key, an unknown key or a wrong position gets the same 400 after the same single query', async () => {
    const env = await freshEnv();
    const bobs = await createKey(env, {}, bob);
    const own = await env.call('GET', '/keys/{id}', { caller: bob, id: bobs.id });
    const alices = await createKey(env, {});
    const cursorOf = (position: { owner: string; createdAt: string; keyId: string }) =>
      Buffer.from(JSON.stringify(position)).toString('base64url');
    const cases = {
      foreign: cursorOf({ owner: 'alice', createdAt: own.json.createdAt, keyId: bobs.id }),
      unknown: cursorOf({ owner: 'alice', createdAt: own.json.createdAt, keyId: 'key_01ARZ3NDEKTSV4RRFFQ69G5FAV' }),
      wrongPosition: cursorOf({ owner: 'alice', createdAt: '2000-01-01T00:00:00.000Z', keyId: alices.id }),
    };
    const bodies: string[] = [];
    for (const [label, cursor] of Object.entries(cases)) {
      let result: Awaited<ReturnType<Env['call']>> | undefined;
      const calls = await commandsSentBy(async () => (result = await env.call('GET', '/keys', { query: { cursor } })));
      expect(result, label).toMatchObject({ status: 400, json: { field: 'cursor' } });
      expect(calls, label).toEqual(['QueryCommand']);
      bodies.push(result!.raw.body);
    }
    expect(new Set(bodies).size).toBe(1);
    // Another owner's cursor, or one that is not ours at all, is refused with that same answer and no read.
    for (const cursor of [cursorOf({ owner: 'bob', createdAt: own.json.createdAt, keyId: bobs.id }), 'not-a-cursor']) {
      let result: Awaited<ReturnType<Env['call']>> | undefined;
      expect(await commandsSentBy(async () => (result = await env.call('GET', '/keys', { query: { cursor } })))).toEqual([]);
      expect(result?.raw.body).toBe(bodies[0]);
    }
    // The genuine cursor still pages.
    await createKey(env, { name: 'second' });
    const first = await env.call('GET', '/keys', { query: { limit: '1' } });
    expect((await env.call('GET', '/keys', { query: { cursor: first.json.nextCursor } })).json.items).toHaveLength(1);
  });
});

describe('leak scan', () => {
  it('no management response body and no log line written during this suite contains a plaintext key or a hash', () => {
    expect(plaintexts.length).toBeGreaterThan(20);
    expect(logs.lines.filter((line) => line.includes('"audit"')).length).toBeGreaterThan(20);
    const secrets = plaintexts.flatMap((key) => [key, hashKey(key)]);
    const hexHash = /\b[0-9a-f]{64}\b/;
    for (const response of seenResponses) {
      let body = response.body;
      if (response.status === 201) {
        const parsed = JSON.parse(body) as Record<string, unknown>;
        delete parsed['key']; // the one place a plaintext may appear: once, in create/rotate's 201
        body = JSON.stringify(parsed);
      }
      for (const text of [body, ...base64urlDecodings(body)]) {
        for (const secret of secrets) expect(text.includes(secret), `${response.method} ${response.resource} leaked`).toBe(false);
        expect(hexHash.test(text)).toBe(false);
        expect(text).not.toContain('keyHash');
      }
    }
    for (const line of logs.lines) {
      for (const text of [line, ...base64urlDecodings(line)]) {
        for (const secret of secrets) expect(text.includes(secret)).toBe(false);
        expect(hexHash.test(text)).toBe(false);
      }
    }
  });

  it('every nextCursor handed out decodes to exactly {owner, createdAt, keyId}: no hash, no plaintext', () => {
    const secrets = plaintexts.flatMap((key) => [key, hashKey(key)]);
    const cursors = seenResponses
      .filter((response) => response.method === 'GET' && response.resource === '/keys' && response.status === 200)
      .map((response) => (JSON.parse(response.body) as { nextCursor: string | null }).nextCursor)
      .filter((cursor): cursor is string => cursor !== null);
    expect(cursors.length).toBeGreaterThanOrEqual(3);
    for (const cursor of cursors) {
      const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
      expect(Object.keys(JSON.parse(decoded) as object).sort()).toEqual(['createdAt', 'keyId', 'owner']);
      for (const secret of secrets) expect(decoded.includes(secret)).toBe(false);
      expect(decoded).not.toMatch(/[0-9a-f]{64}/);
    }
  });
});
