/**
 * The attack corpus end to end, over HTTP only (local mode, or a deployed stack via DUALGATE_E2E_*):
 * forged and malformed JWTs, junk and look-alike keys, and management abuse. Every credential attack ends
 * in 401 (never a 5xx); every abuse gets its documented status and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { generateKey } from '../../lambdas/core/key-format';
import { isDeployedTarget, startE2eTarget, type E2eTarget } from '../support/e2e-target';
import { createSigningKey, nowSeconds, signJwt } from '../support/jwt';

let target: E2eTarget;
let adminToken: string;
let jwtParts: { header: Record<string, unknown>; payload: Record<string, unknown>; raw: string };

interface Reply {
  status: number;
  body: Record<string, unknown>;
}
async function call(
  path: string,
  options: { method?: string; authorization?: string; body?: unknown; rawHeaders?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.rawHeaders };
  if (options.authorization !== undefined) headers['authorization'] = options.authorization;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(target.baseUrl + path, {
    method: options.method ?? 'GET',
    headers,
    ...(options.body !== undefined ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text };
  }
  return { status: response.status, body };
}
/** Send a header value as raw UTF-8 bytes (fetch refuses non-Latin-1 header values; attackers' clients do not). */
function rawUtf8Get(path: string, authorization: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      target.baseUrl + path,
      { headers: { authorization: Buffer.from(authorization, 'utf8').toString('latin1') } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
const decode = (segment: string) => JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

beforeAll(async () => {
  target = await startE2eTarget();
  adminToken = await target.token(['keys:read', 'keys:write', 'keys:admin', 'read:users', 'write:users']);
  const [header, payload] = adminToken.split('.') as [string, string];
  jwtParts = { header: decode(header), payload: decode(payload), raw: adminToken };
});
afterAll(async () => {
  globalThis.__dualgateCapturedLines?.push(...(target?.logLines ?? []));
  await target?.stop();
});

describe('JWT attacks over HTTP', () => {
  const forged = (): [string, string][] => {
    const { header, payload, raw } = jwtParts;
    const [h, p, s] = raw.split('.') as [string, string, string];
    const stranger = createSigningKey(String(header['kid']));
    return [
      ['alg none', `${encode({ ...header, alg: 'none' })}.${p}.`],
      [
        'HS256 with a guessable secret',
        (() => {
          const input = `${encode({ ...header, alg: 'HS256' })}.${p}`;
          return `${input}.${createHmac('sha256', 'secret').update(input).digest('base64url')}`;
        })(),
      ],
      ['known kid, foreign signature', signJwt(payload, { key: stranger })],
      ['unknown kid', signJwt(payload, { key: createSigningKey('no-such-kid') })],
      ['expired', signJwt({ ...payload, exp: nowSeconds() - 60 }, { key: stranger })],
      [
        'tampered payload (escalated scope)',
        `${h}.${encode({ ...payload, scope: `${payload['scope']} admin:everything`, sub: 'someone-else' })}.${s}`,
      ],
      ['signature stripped', `${h}.${p}.`],
      ['non-base64url segment', `${h}.${p}.%%%`],
      ['extra segment', `${raw}.AAAA`],
      ['1 MB token', `${h}.${'A'.repeat(1024 * 1024)}.${s}`],
    ];
  };

  it('answers 401 to every forged or malformed token, never a 5xx', async () => {
    for (const [name, token] of forged()) {
      const reply = await call('/me', { authorization: `Bearer ${token}` });
      // API Gateway itself refuses headers over its limit (431/413 class) before the authorizer; locally the authorizer's bound answers 401.
      expect([401, 413, 431], `${name}: ${reply.status}`).toContain(reply.status);
      expect(reply.status, name).toBeLessThan(500);
    }
  });

  it('answers 401 to the genuine token re-spelled with base64 padding or stray bits (one spelling per token), 200 to the token itself', async () => {
    const [h, p, s] = jwtParts.raw.split('.') as [string, string, string];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(s.at(-1) as string);
    // The signature's last character has unused low bits whenever its length is not a multiple of 4 (RS256: 342 chars).
    expect(s.length % 4).not.toBe(0);
    const respellings: [string, string][] = [
      ['signature padded', `${h}.${p}.${s}${'='.repeat(4 - (s.length % 4))}`],
      ['signature with one = too many', `${h}.${p}.${s}=`],
      ['payload padded', `${h}.${p}==.${s}`],
      ['stray low bit in the signature', `${h}.${p}.${s.slice(0, -1)}${alphabet[last | 1]}`],
    ];
    for (const [name, token] of respellings) {
      expect(token).not.toBe(jwtParts.raw);
      expect((await call('/me', { authorization: `Bearer ${token}` })).status, name).toBe(401);
    }
    expect((await call('/me', { authorization: `Bearer ${jwtParts.raw}` })).status).toBe(200);
  });

  it('still serves the genuine token after the flood (no penalty spill-over to known kids)', async () => {
    expect((await call('/me', { authorization: `Bearer ${adminToken}` })).status).toBe(200);
  });
});

describe('API-key attacks over HTTP', () => {
  it('answers 401 to junk, look-alikes, wrong schemes and repeated schemes; 200 to `bearer <key>`', async () => {
    const created = await call('/keys', {
      method: 'POST',
      authorization: `Bearer ${adminToken}`,
      body: { name: 'attack target', scopes: ['read:users'] },
    });
    expect(created.status).toBe(201);
    const key = created.body['key'] as string;
    const attempts: [string, string][] = [
      ['bad checksum', `Bearer ${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`],
      ['foreign prefix', `Bearer ${generateKey('ghp').key}`],
      ['valid checksum, unknown key', `Bearer ${generateKey('dg').key}`],
      ['upper-cased', `Bearer ${key.toUpperCase()}`],
      ['Basic scheme', `Basic ${Buffer.from(`${key}:`).toString('base64')}`],
      ['Bearer twice', `Bearer Bearer ${key}`],
      ['empty credential', 'Bearer '],
      ['garbage', 'Bearer !!!!'],
      ['oversized header', `Bearer ${'x'.repeat(10_000)}`],
    ];
    for (const [name, authorization] of attempts) {
      const reply = await call('/me', { authorization });
      expect([401, 431], `${name}: ${reply.status}`).toContain(reply.status);
    }
    if (target.kind === 'local') expect(await rawUtf8Get('/me', `Bearer ${key.slice(0, 5)}а${key.slice(6)}`)).toBe(401);
    expect((await call(`/me?api_key=${key}`)).status).toBe(401);
    expect((await call('/me', { authorization: `bearer ${key}` })).status).toBe(200);
  });
});

describe('narrowing a key over HTTP', () => {
  const timingKnown =
    !isDeployedTarget() ||
    (process.env['DUALGATE_E2E_AUTHORIZER_CACHE_TTL_SECONDS'] !== undefined &&
      process.env['DUALGATE_E2E_KEY_CACHE_TTL_SECONDS'] !== undefined);
  it.skipIf(!timingKnown)('a PATCH that removes a scope takes effect once the caches expire', async () => {
    const delaySeconds = target.revocationDelaySeconds ?? 0;
    const created = await call('/keys', {
      method: 'POST',
      authorization: `Bearer ${adminToken}`,
      body: { name: 'narrowing', scopes: ['read:users', 'write:users'] },
    });
    const key = created.body['key'] as string;
    const auth = `Bearer ${key}`;
    expect((await call('/users', { method: 'POST', authorization: auth, body: { name: 'Ada' } })).status).toBe(201);
    const patched = await call(`/keys/${created.body['id'] as string}`, {
      method: 'PATCH',
      authorization: `Bearer ${adminToken}`,
      body: { scopes: ['read:users'] },
    });
    expect(patched.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, delaySeconds * 1000 + 500));
    expect((await call('/users', { method: 'POST', authorization: auth, body: { name: 'Ada' } })).status).toBe(403);
    expect((await call('/users', { authorization: auth })).status).toBe(200);
  });
});

describe('management abuse over HTTP', () => {
  it('refuses mass assignment and escalation, changes nothing, and hides other owners’ keys', async () => {
    const narrowToken = await target.token(['keys:read', 'keys:write']);
    const own = await call('/keys', {
      method: 'POST',
      authorization: `Bearer ${narrowToken}`,
      body: { name: 'mine', scopes: ['keys:read'] },
    });
    expect(own.status).toBe(201);
    const ownId = own.body['id'] as string;

    for (const field of ['keyHash', 'createdBy', 'revokedAt', 'id', 'rotatedTo']) {
      const reply = await call('/keys', {
        method: 'POST',
        authorization: `Bearer ${narrowToken}`,
        body: { name: 'x', scopes: [], [field]: 'forced' },
      });
      expect(reply.status, field).toBe(400);
    }
    expect(
      (await call('/keys', { method: 'POST', authorization: `Bearer ${narrowToken}`, body: { name: 'x', scopes: [], owner: 'victim' } }))
        .status,
    ).toBe(403);
    expect(
      (await call('/keys', { method: 'POST', authorization: `Bearer ${narrowToken}`, body: { name: 'x', scopes: ['write:users'] } }))
        .status,
    ).toBe(403);
    expect(
      (await call(`/keys/${ownId}`, { method: 'PATCH', authorization: `Bearer ${narrowToken}`, body: { scopes: ['keys:admin'] } })).status,
    ).toBe(403);
    expect(
      (await call('/keys', { method: 'POST', authorization: `Bearer ${narrowToken}`, body: { name: 'x'.repeat(10_000), scopes: [] } }))
        .status,
    ).toBe(400);
    expect(
      (
        await call('/keys', {
          method: 'POST',
          authorization: `Bearer ${narrowToken}`,
          body: { name: 'x', scopes: [], metadata: { blob: 'y'.repeat(2000) } },
        })
      ).status,
    ).toBe(400);
    expect(
      (await call('/keys', { method: 'POST', authorization: `Bearer ${narrowToken}`, body: '{"name": "x", "scopes": [' })).status,
    ).toBe(400);

    const foreign = await call('/keys', {
      method: 'POST',
      authorization: `Bearer ${adminToken}`,
      body: { name: 'victim key', scopes: ['read:users'], owner: 'victim' },
    });
    expect(foreign.status).toBe(201);
    const foreignId = foreign.body['id'] as string;
    for (const [method, path, body] of [
      ['GET', `/keys/${foreignId}`, undefined],
      ['PATCH', `/keys/${foreignId}`, { name: 'pwned' }],
      ['DELETE', `/keys/${foreignId}`, undefined],
      ['POST', `/keys/${foreignId}/rotate`, {}],
    ] as const) {
      expect(
        (await call(path, { method, authorization: `Bearer ${narrowToken}`, ...(body ? { body } : {}) })).status,
        `${method} ${path}`,
      ).toBe(404);
    }
    const after = await call(`/keys/${foreignId}`, { authorization: `Bearer ${adminToken}` });
    expect(after.body).toMatchObject({ name: 'victim key', status: 'active', owner: 'victim' });
    const mine = await call(`/keys/${ownId}`, { authorization: `Bearer ${narrowToken}` });
    expect(mine.body).toMatchObject({ name: 'mine', scopes: ['keys:read'] });
    for (const reply of [own, foreign, after, mine]) expect(JSON.stringify(reply.body)).not.toMatch(/keyHash|[0-9a-f]{64}/);
  });
});

describe('a key acting on keys over HTTP (issue 9)', () => {
  it('K1/K2: a short-lived key cannot add scopes to a longer-lived key, and once revoked it can no longer list, read or revoke', async () => {
    const ownerToken = await target.token(['keys:read', 'keys:write', 'read:users', 'write:users']);
    const asOwner = `Bearer ${ownerToken}`;
    const k2 = await call('/keys', { method: 'POST', authorization: asOwner, body: { name: 'K2', scopes: ['read:users'] } });
    const k1 = await call('/keys', {
      method: 'POST',
      authorization: asOwner,
      body: { name: 'K1', scopes: ['keys:read', 'keys:write', 'read:users', 'write:users'], expiresIn: 3600 },
    });
    expect([k2.status, k1.status]).toEqual([201, 201]);
    const k2Id = k2.body['id'] as string;
    const asK1 = `Bearer ${k1.body['key'] as string}`;

    const widened = await call(`/keys/${k2Id}`, {
      method: 'PATCH',
      authorization: asK1,
      body: { scopes: ['read:users', 'write:users', 'keys:write'] },
    });
    expect(widened).toMatchObject({ status: 403, body: { field: 'scopes' } });
    expect((await call(`/keys/${k2Id}`, { authorization: asOwner })).body).toMatchObject({ scopes: ['read:users'], expiresAt: null });
    expect((await call('/keys', { authorization: asK1 })).status).toBe(200);

    expect((await call(`/keys/${k1.body['id'] as string}`, { method: 'DELETE', authorization: asOwner })).status).toBe(204);
    // Within the caches' window the gateway may still let K1 through: then the keys Lambda's own re-read says 403.
    for (const [method, path] of [
      ['GET', '/keys'],
      ['GET', `/keys/${k2Id}`],
      ['DELETE', `/keys/${k2Id}`],
    ] as const) {
      expect([401, 403], `${method} ${path}`).toContain((await call(path, { method, authorization: asK1 })).status);
    }
    expect((await call(`/keys/${k2Id}`, { authorization: asOwner })).body).toMatchObject({ status: 'active' });
  });

  it('keys:write without keys:read cannot PATCH or rotate (they answer with the key); it can still create and revoke', async () => {
    const writeOnly = `Bearer ${await target.token(['keys:write', 'read:users'])}`;
    const created = await call('/keys', { method: 'POST', authorization: writeOnly, body: { name: 'write only', scopes: ['read:users'] } });
    expect(created.status).toBe(201);
    const id = created.body['id'] as string;
    expect((await call(`/keys/${id}`, { method: 'PATCH', authorization: writeOnly, body: { name: 'x' } })).status).toBe(403);
    expect((await call(`/keys/${id}/rotate`, { method: 'POST', authorization: writeOnly, body: {} })).status).toBe(403);
    expect((await call(`/keys/${id}`, { method: 'DELETE', authorization: writeOnly })).status).toBe(204);
  });
});
