/**
 * End-to-end over HTTP only: local mode booted on free ports, or a deployed stack (see
 * test/support/e2e-target.ts and docs/operations.md, "Post-deploy smoke test").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../lambdas/core/key-format';
import { isDeployedTarget, startE2eTarget, type E2eTarget } from '../support/e2e-target';

let target: E2eTarget;
/** Every credential the suite used, to check none of them reached a log line. */
const credentialsUsed = new Set<string>();
const ALL_SCOPES = ['keys:read', 'keys:write', 'read:users', 'write:users'];
const deployed = isDeployedTarget();
const timingKnown =
  !deployed ||
  (process.env['DUALGATE_E2E_AUTHORIZER_CACHE_TTL_SECONDS'] !== undefined &&
    process.env['DUALGATE_E2E_KEY_CACHE_TTL_SECONDS'] !== undefined);
/** Appended to the names of timing tests when they are skipped, so the report says why. */
const TIMING_NOTE = timingKnown
  ? ''
  : ' [skipped: set DUALGATE_E2E_AUTHORIZER_CACHE_TTL_SECONDS and DUALGATE_E2E_KEY_CACHE_TTL_SECONDS to the deployed TTLs]';

interface ApiResponse {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

async function api(
  path: string,
  options: { method?: string; credential?: string; authorization?: string; body?: unknown } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (options.credential !== undefined) {
    credentialsUsed.add(options.credential);
    headers['authorization'] = `Bearer ${options.credential}`;
  }
  if (options.authorization !== undefined) headers['authorization'] = options.authorization;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(target.baseUrl + path, {
    method: options.method ?? 'GET',
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    // a non-JSON body is asserted through `text`
  }
  return { status: response.status, body, text };
}

async function token(scopes: readonly string[]): Promise<string> {
  const jwt = await target.token(scopes);
  credentialsUsed.add(jwt);
  return jwt;
}

async function createKey(jwt: string, body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const response = await api('/keys', { method: 'POST', credential: jwt, body: { name: 'e2e', ...body } });
  expect(response.status, response.text).toBe(201);
  const { id, key } = response.body as { id: string; key: string };
  expect(key).toMatch(/^[a-z][a-z0-9]*_[0-9A-Za-z]{36}$/);
  credentialsUsed.add(key);
  return { id, key };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Sleep until `deadlineMs` (epoch ms) plus a margin for clock granularity (expiry is in whole seconds). */
const sleepUntil = (deadlineMs: number) => sleep(Math.max(0, deadlineMs - Date.now()) + 400);

beforeAll(async () => {
  target = await startE2eTarget();
});
afterAll(async () => {
  await target?.stop();
});

describe(`dualgate end to end (${deployed ? 'deployed stack' : 'local mode'})`, () => {
  it('answers 401 to a request without a credential, and 404 to an unknown route', async () => {
    expect(await api('/me')).toMatchObject({ status: 401, body: { message: 'Unauthorized' } });
    expect((await api('/keys', { method: 'POST', body: { name: 'x', scopes: [] } })).status).toBe(401);
    expect((await api('/no-such-route')).status).toBe(404);
    expect(await api('/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('accepts a JWT from the issuer, and a key created with it gives the same {sub, scopes}', async () => {
    const jwt = await token(ALL_SCOPES);
    const viaJwt = await api('/me', { credential: jwt });
    expect(viaJwt.status).toBe(200);
    expect(viaJwt.body).toEqual({ sub: target.clientId, scopes: [...ALL_SCOPES].sort() });
    const { key } = await createKey(jwt, { scopes: ALL_SCOPES });
    const viaKey = await api('/me', { credential: key });
    expect(viaKey.status).toBe(200);
    expect(viaKey.body).toEqual(viaJwt.body);
  });

  it("shows a key's lastUsedAt in GET /keys/{id} and GET /keys within seconds of its first use, and none before", async () => {
    const jwt = await token(ALL_SCOPES);
    const { id, key } = await createKey(jwt, { scopes: ['read:users'] });
    const listedEntry = async () => {
      let cursor: string | null = null;
      do {
        const page = await api(`/keys?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { credential: jwt });
        expect(page.status, page.text).toBe(200);
        const found = (page.body['items'] as Record<string, unknown>[]).find((item) => item['id'] === id);
        if (found) return found;
        cursor = page.body['nextCursor'] as string | null;
      } while (cursor);
      throw new Error(`key ${id} is not in GET /keys`);
    };
    const before = await api(`/keys/${id}`, { credential: jwt });
    expect(before.status).toBe(200);
    expect(before.body).not.toHaveProperty('lastUsedAt');
    expect(await listedEntry()).not.toHaveProperty('lastUsedAt');

    const usedAtMs = Date.now();
    expect((await api('/me', { credential: key })).status).toBe(200);
    let lastUsedAt: unknown;
    for (const deadline = Date.now() + 5000; lastUsedAt === undefined && Date.now() < deadline; await sleep(100)) {
      lastUsedAt = (await api(`/keys/${id}`, { credential: jwt })).body['lastUsedAt'];
    }
    expect(typeof lastUsedAt, 'lastUsedAt did not appear within 5 s of the first use').toBe('string');
    // Within the clock's granularity of the use (and no later than now).
    expect(Date.parse(lastUsedAt as string)).toBeGreaterThanOrEqual(usedAtMs - 1000);
    expect(Date.parse(lastUsedAt as string)).toBeLessThanOrEqual(Date.now());
    expect((await listedEntry())['lastUsedAt']).toBe(lastUsedAt);
  });

  it('enforces route scopes for a JWT: a held scope gives 200, a missing one 403', async () => {
    const readOnly = await token(['read:users']);
    expect((await api('/users', { credential: readOnly })).status).toBe(200);
    expect(await api('/users', { method: 'POST', credential: readOnly, body: { name: 'Ada' } })).toMatchObject({
      status: 403,
      body: { message: 'Forbidden' },
    });
    expect((await api('/keys', { credential: readOnly })).status).toBe(403);
  });

  it('enforces route scopes for a key: a held scope gives 200, a missing one 403', async () => {
    const { key } = await createKey(await token(['keys:write', 'read:users']), { scopes: ['read:users'] });
    expect((await api('/users', { credential: key })).status).toBe(200);
    expect((await api('/users', { method: 'POST', credential: key, body: { name: 'Ada' } })).status).toBe(403);
    expect((await api('/keys', { credential: key })).status).toBe(403);
    const writer = await createKey(await token(['keys:write', 'write:users']), { scopes: ['write:users'] });
    expect(await api('/users', { method: 'POST', credential: writer.key, body: { name: 'Ada' } })).toMatchObject({
      status: 201,
      body: { name: 'Ada', createdBy: target.clientId },
    });
  });

  it('rejects garbage, an oversized header, the wrong scheme and a tampered JWT with 401, never a 500', async () => {
    const jwt = await token(['read:users']);
    const [header, payload, signature] = jwt.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const escalated = Buffer.from(JSON.stringify({ ...claims, scope: 'read:users write:users keys:admin' })).toString('base64url');
    const noneHeader = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const flipped = signature.slice(0, -4) + (signature.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const unknownButValidKey = generateKey('dg').key;
    const badChecksumKey = unknownButValidKey.slice(0, -1) + (unknownButValidKey.endsWith('0') ? '1' : '0');
    const attempts: [string, string][] = [
      ['garbage', 'Bearer !!!not-a-credential!!!'],
      ['random text', 'Bearer hello'],
      ['oversized header', `Bearer ${'a'.repeat(9000)}`],
      ['wrong scheme (Basic)', `Basic ${Buffer.from('user:pass').toString('base64')}`],
      ['wrong scheme (Token)', `Token ${jwt}`],
      ['no scheme', jwt],
      ['two credentials', `Bearer ${jwt}, Bearer ${jwt}`],
      ['tampered payload', `Bearer ${header}.${escalated}.${signature}`],
      ['tampered signature', `Bearer ${header}.${payload}.${flipped}`],
      ['alg none', `Bearer ${noneHeader}.${payload}.`],
      ['key with a bad checksum', `Bearer ${badChecksumKey}`],
      ['key-shaped but unknown', `Bearer ${unknownButValidKey}`],
    ];
    for (const [what, authorization] of attempts) {
      const response = await api('/users', { authorization });
      expect({ what, status: response.status }).toEqual({ what, status: 401 });
    }
    // The genuine token still works: the 401s were about the credentials, not the route.
    expect((await api('/users', { credential: jwt })).status).toBe(200);
  });

  it(`a revoked key keeps working within the cache TTL and is rejected after it${TIMING_NOTE}`, {
    concurrent: true,
    skip: !timingKnown,
  }, async () => {
    const jwt = await token(['keys:write', 'read:users']);
    const { id, key } = await createKey(jwt, { scopes: ['read:users'] });
    expect((await api('/me', { credential: key })).status).toBe(200);
    expect((await api(`/keys/${id}`, { method: 'DELETE', credential: jwt })).status).toBe(204);
    const revokedAtMs = Date.now();
    const delaySeconds = target.revocationDelaySeconds ?? 0;
    if (delaySeconds > 0) expect((await api('/me', { credential: key })).status).toBe(200);
    await sleepUntil(revokedAtMs + delaySeconds * 1000);
    expect(await api('/me', { credential: key })).toMatchObject({ status: 401, body: { message: 'Unauthorized' } });
  });

  it(`an expired key is rejected with 401${TIMING_NOTE}`, { concurrent: true, skip: !timingKnown }, async () => {
    const jwt = await token(['keys:write', 'read:users']);
    const { key } = await createKey(jwt, { scopes: ['read:users'], expiresIn: 2 });
    const createdAtMs = Date.now();
    expect((await api('/me', { credential: key })).status).toBe(200);
    await sleepUntil(createdAtMs + 2000 + (target.revocationDelaySeconds ?? 0) * 1000);
    expect(await api('/me', { credential: key })).toMatchObject({ status: 401, body: { message: 'Unauthorized' } });
  });

  it(`a rotated key: the old one works during the grace period, the new one works, the old one fails after${TIMING_NOTE}`, {
    concurrent: true,
    skip: !timingKnown,
  }, async () => {
    const delaySeconds = target.revocationDelaySeconds ?? 0;
    // The grace outlasts both caches, so "still works" is proven by the key table, not by a cached verdict.
    const gracePeriodSeconds = delaySeconds + 2;
    // Rotation answers with the key it rotates, so it needs keys:read as well as keys:write.
    const jwt = await token(['keys:read', 'keys:write', 'read:users']);
    const old = await createKey(jwt, { scopes: ['read:users'] });
    expect((await api('/me', { credential: old.key })).status).toBe(200);
    const rotated = await api(`/keys/${old.id}/rotate`, { method: 'POST', credential: jwt, body: { gracePeriodSeconds } });
    expect(rotated.status, rotated.text).toBe(201);
    const rotatedAtMs = Date.now();
    const successor = rotated.body as { id: string; key: string };
    credentialsUsed.add(successor.key);
    expect(successor.id).not.toBe(old.id);
    expect(successor.key).not.toBe(old.key);
    expect((await api('/me', { credential: successor.key })).body).toEqual({ sub: target.clientId, scopes: ['read:users'] });
    await sleepUntil(rotatedAtMs + delaySeconds * 1000);
    expect((await api('/me', { credential: old.key })).status).toBe(200);
    await sleepUntil(rotatedAtMs + (gracePeriodSeconds + delaySeconds) * 1000);
    expect((await api('/me', { credential: old.key })).status).toBe(401);
    expect((await api('/me', { credential: successor.key })).status).toBe(200);
  });

  it.skipIf(deployed)('never writes a credential into a log line (local mode: access log, authorizer log and audit lines)', async () => {
    // Runs after the tests above have used every credential (vitest runs a file's tests in order; the concurrent ones are awaited first).
    expect(target.logLines.length).toBeGreaterThan(10);
    // The management API's audit lines reach the captured sink too, not the test run's stdout.
    expect(target.logLines.some((line) => line.includes('"message":"audit"') && line.includes('"action":"create"'))).toBe(true);
    expect(credentialsUsed.size).toBeGreaterThan(5);
    const leaks = [...credentialsUsed].filter((credential) => target.logLines.some((line) => line.includes(credential)));
    expect(leaks).toEqual([]);
  });
});
