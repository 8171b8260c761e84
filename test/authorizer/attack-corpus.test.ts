/**
 * The attack corpus against the whole in-process authorizer: every case must end in 401 (never a fail,
 * never an allow), junk that can be rejected offline must make no DynamoDB read, and no case may put the
 * credential in a log line (test/support/credential-scan.ts checks every line this file writes).
 */
import { describe, expect, it } from 'vitest';
import { DEMO_COMPILED_TABLE } from '../support/demo-app';
import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import { buildAuthorizer } from '../../lambdas/authorizer/wiring';
import { generateKey, keyChecksum } from '../../lambdas/core/key-format';
import { testSettings } from '../support/settings';
import { createSigningKey, FakeJwksFetcher, nowSeconds, signJwt } from '../support/jwt';
import { TEST_ISSUER } from '../support/jwt';
import { FakeKeyLookup, makeKey } from '../support/keys';
import { captureLogger } from '../support/logs';

const ISSUER = TEST_ISSUER;
const signingKey = createSigningKey('kid-1');
const settings = testSettings();
const claims = (overrides: Record<string, unknown> = {}) => ({
  iss: ISSUER,
  aud: 'dualgate-api',
  sub: 'client-1',
  scope: 'read:users',
  exp: nowSeconds() + 600,
  ...overrides,
});

function setup() {
  const live = makeKey({ scopes: ['read:users'] });
  const revoked = makeKey({ revokedAt: new Date().toISOString(), expiresAt: nowSeconds() });
  const disabled = makeKey({ enabled: false });
  const expired = makeKey({ expiresAt: nowSeconds() - 1 });
  const store = new FakeKeyLookup(live.record, revoked.record, disabled.record, expired.record);
  const fetcher = new FakeJwksFetcher([signingKey.publicJwk]);
  const logs = captureLogger();
  const { authorize } = buildAuthorizer(settings, DEMO_COMPILED_TABLE, { keyLookup: store, fetcher, logger: logs.logger });
  const call = (authorization: string | undefined, extra: Record<string, unknown> = {}) =>
    authorize({
      methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/me',
      httpMethod: 'GET',
      resource: '/me',
      headers: authorization === undefined ? {} : { Authorization: authorization },
      multiValueHeaders: null,
      ...extra,
    });
  return { call, store, fetcher, logs, live, revoked, disabled, expired };
}

const mutateChar = (text: string, index: number) => text.slice(0, index) + (text[index] === 'a' ? 'b' : 'a') + text.slice(index + 1);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('key attack corpus', () => {
  it('rejects offline (no DynamoDB read): bad checksum, wrong or foreign prefix, case variants, look-alikes, empty, other schemes, repeated Bearer', async () => {
    const { call, store, live } = setup();
    const offline: (string | undefined)[] = [
      `Bearer ${mutateChar(live.key, 12)}`,
      `Bearer ${live.key.slice(0, -1)}${live.key.endsWith('0') ? '1' : '0'}`,
      `Bearer ${generateKey('ghp').key}`,
      `Bearer ${`DG${live.key.slice(2)}`}`,
      `Bearer ${live.key.toUpperCase()}`,
      `Bearer ${live.key.toLowerCase()}`,
      `Bearer ${live.key.slice(0, 5)}а${live.key.slice(6)}`, // Cyrillic а
      `Bearer ${live.key.replace('_', '＿')}`,
      `Bearer ${live.key}\u200b`,
      'Bearer ',
      '',
      undefined,
      `Basic ${Buffer.from(`user:${live.key}`).toString('base64')}`,
      `Token ${live.key}`,
      `Bearer Bearer ${live.key}`,
      `Bearer ${live.key} ${live.key}`,
      `Bearer ${live.key},Bearer ${live.key}`,
      `Bearer ${live.key}x`,
      `Bearer ${'x'.repeat(1024 * 1024)}`,
    ];
    for (const header of offline) expect(await call(header), JSON.stringify(header?.slice(0, 60))).toEqual({ effect: 'unauthorized' });
    expect(store.reads).toBe(0);
  });

  it('ignores a key in the query string', async () => {
    const { call, store, live } = setup();
    expect(await call(undefined, { queryStringParameters: { api_key: live.key, apiKey: live.key } })).toEqual({ effect: 'unauthorized' });
    expect(store.reads).toBe(0);
  });

  it('rejects a valid checksum on an unknown key, and revoked, disabled and expired keys, after one read each', async () => {
    const { call, store, revoked, disabled, expired } = setup();
    const unknownBody = `dg_${'Q'.repeat(30)}`;
    for (const key of [`${unknownBody}${keyChecksum(unknownBody)}`, revoked.key, disabled.key, expired.key]) {
      expect(await call(`Bearer ${key}`)).toEqual({ effect: 'unauthorized' });
    }
    expect(store.reads).toBe(4);
  });

  it('a deliberate flood of valid-checksum keys (CRC32 is public): one read per distinct key, none for repeats within the negative cache TTL', async () => {
    // SECURITY.md quotes these counts: the checksum stops accidental junk, not an attacker who computes it.
    let nowMs = 1_700_000_000_000;
    const store = new FakeKeyLookup();
    const { authorize } = buildAuthorizer(settings, DEMO_COMPILED_TABLE, {
      keyLookup: store,
      logger: captureLogger().logger,
      nowMs: () => nowMs,
    });
    const flood = Array.from({ length: 300 }, () => generateKey('dg').key);
    const pass = async () => {
      for (const key of flood)
        expect(
          await authorize({
            methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/me',
            httpMethod: 'GET',
            resource: '/me',
            headers: { Authorization: `Bearer ${key}` },
            multiValueHeaders: null,
          }),
        ).toEqual({ effect: 'unauthorized' });
    };
    await pass();
    expect(store.reads).toBe(300);
    nowMs += (settings.negativeKeyCacheTtlSeconds * 1000) / 2;
    await pass();
    await pass();
    expect(store.reads).toBe(300);
    nowMs += settings.negativeKeyCacheTtlSeconds * 1000;
    await pass();
    expect(store.reads).toBe(600);
  });

  it('accepts the scheme case-insensitively (RFC 7235): `bearer <valid key>` works', async () => {
    const { call, live } = setup();
    expect((await call(`bearer ${live.key}`)).effect).toBe('allow');
    expect((await call(`BEARER ${live.key}`)).effect).toBe('allow');
  });

  it('never sends a JWT-shaped credential to the key table, nor a key-shaped one to the JWKS', async () => {
    const { call, store, fetcher, live } = setup();
    const keyPayloadJwt = `${b64({ alg: 'RS256', kid: 'kid-1' })}.${b64({ key: live.key })}.${live.key.replace('_', '')}`;
    expect(await call(`Bearer ${keyPayloadJwt}`)).toEqual({ effect: 'unauthorized' });
    expect(store.reads).toBe(0);
    const fetchesBefore = fetcher.fetches;
    const jwtAsKey = `dg_${signJwt(claims(), { key: signingKey })
      .replace(/[^0-9A-Za-z]/g, '')
      .slice(0, 36)}`;
    expect(await call(`Bearer ${jwtAsKey}`)).toEqual({ effect: 'unauthorized' });
    expect(fetcher.fetches).toBe(fetchesBefore);
  });

  it('property: random junk never reads the table and never allows', async () => {
    const { call, store } = setup();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 120 }), fc.stringMatching(/^dg_[0-9A-Za-z]{36}$/), fc.string({ unit: 'binary', maxLength: 60 })),
        async (junk) => {
          const outcome = await call(`Bearer ${junk}`);
          expect(outcome.effect).toBe('unauthorized');
        },
      ),
      { numRuns: 1500 },
    );
    // Random 36-char bodies have a 1 in 62^6 chance of a valid checksum: effectively none reach the table.
    expect(store.reads).toBeLessThanOrEqual(1);
  });
});

describe('JWT attack corpus', () => {
  const tamper = (token: string) => {
    const [header, , signature] = token.split('.');
    return `${header}.${b64(claims({ scope: 'keys:admin read:users write:users' }))}.${signature}`;
  };
  const cases: [string, () => string][] = [
    ['alg none', () => signJwt(claims(), { alg: 'none', kid: 'kid-1' })],
    ['alg none, uppercase', () => signJwt(claims(), { alg: 'none', kid: 'kid-1', header: { alg: 'NONE' } })],
    [
      'HS256 with the public key (key confusion)',
      () => signJwt(claims(), { alg: 'HS256', kid: 'kid-1', hmacSecret: signingKey.publicPem }),
    ],
    ['RS256 by a foreign key and unknown kid', () => signJwt(claims(), { key: createSigningKey('kid-foreign') })],
    ['known kid, foreign signature', () => signJwt(claims(), { key: { ...createSigningKey('kid-1') } })],
    ['expired', () => signJwt(claims({ exp: nowSeconds() - 5 }), { key: signingKey })],
    ['nbf in the future', () => signJwt(claims({ nbf: nowSeconds() + 300 }), { key: signingKey })],
    ['wrong iss', () => signJwt(claims({ iss: 'https://evil.example.com' }), { key: signingKey })],
    ['wrong aud', () => signJwt(claims({ aud: 'other-api' }), { key: signingKey })],
    ['ID token', () => signJwt(claims({ nonce: 'abc', at_hash: 'x' }), { key: signingKey })],
    ['missing sub', () => signJwt(claims({ sub: undefined }), { key: signingKey })],
    ['scope of the wrong type', () => signJwt(claims({ scope: 42 }), { key: signingKey })],
    ['absurdly long scope', () => signJwt(claims({ scope: 'read:users '.repeat(300) + 'x'.repeat(3000) }), { key: signingKey })],
    ['tampered payload', () => tamper(signJwt(claims(), { key: signingKey }))],
    ['non-base64url segment', () => `${b64({ alg: 'RS256', kid: 'kid-1' })}.eyJ+/=.abc`],
    ['extra segments', () => `${signJwt(claims(), { key: signingKey })}.extra`],
    ['five segments (JWE shape)', () => 'eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d'],
    ['1 MB token', () => `${b64({ alg: 'RS256', kid: 'kid-1' })}.${'A'.repeat(1024 * 1024)}.sig`],
    [
      'HMAC forged with an empty secret',
      () => `${b64({ alg: 'HS256', kid: 'kid-1' })}.${b64(claims())}.${createHmac('sha256', '').update('x').digest('base64url')}`,
    ],
    ['kid path traversal', () => signJwt(claims(), { key: signingKey, kid: '../../etc/passwd' })],
    ['a valid token with its signature padded (==)', () => `${signJwt(claims(), { key: signingKey })}==`],
    ['a valid token with its signature padded (=)', () => `${signJwt(claims(), { key: signingKey })}=`],
    [
      'a valid token with stray low bits in its signature',
      () => {
        const token = signJwt(claims(), { key: signingKey });
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        return `${token.slice(0, -1)}${alphabet[alphabet.indexOf(token.at(-1) as string) | 1]}`;
      },
    ],
    [
      'a valid signature under a crit header naming an unknown extension',
      () => signJwt(claims(), { key: signingKey, header: { crit: ['urn:example:ext'], 'urn:example:ext': 1 } }),
    ],
    [
      'a valid signature under crit b64 (RFC 7797, not implemented)',
      () => signJwt(claims(), { key: signingKey, header: { crit: ['b64'], b64: false } }),
    ],
  ];

  it.each(cases)('rejects %s with 401', async (_name, makeToken) => {
    const { call, store } = setup();
    expect(await call(`Bearer ${makeToken()}`)).toEqual({ effect: 'unauthorized' });
    expect(store.reads).toBe(0);
  });

  it('counts only prefixed scopes when the issuer has a scopePrefix: a bare keys:admin grants nothing', async () => {
    const cognito = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_CORPUS';
    const cognitoKey = createSigningKey('cognito-1');
    const { authorize } = buildAuthorizer(
      { ...settings, issuers: [{ issuer: cognito, clientIds: ['app'], scopePrefix: 'dualgate/', requireTokenUseClaim: true }] },
      DEMO_COMPILED_TABLE,
      { keyLookup: new FakeKeyLookup(), fetcher: new FakeJwksFetcher([cognitoKey.publicJwk]), logger: captureLogger().logger },
    );
    const token = signJwt(
      {
        iss: cognito,
        sub: 'app',
        client_id: 'app',
        token_use: 'access',
        scope: 'keys:admin keys:read dualgate/read:users',
        exp: nowSeconds() + 600,
      },
      { key: cognitoKey },
    );
    const outcome = await authorize({
      methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/me',
      httpMethod: 'GET',
      resource: '/me',
      headers: { Authorization: `Bearer ${token}` },
      multiValueHeaders: null,
    });
    expect(outcome).toMatchObject({ effect: 'allow', response: { context: { scopes: 'read:users' } } });
  });

  it('a flood of unknown-kid tokens causes at most one JWKS fetch per penalty window', async () => {
    const { call, fetcher } = setup();
    const before = fetcher.fetches;
    for (let i = 0; i < 200; i++) {
      expect(await call(`Bearer ${signJwt(claims({ jti: String(i) }), { key: signingKey, kid: `unknown-${i}` })}`)).toEqual({
        effect: 'unauthorized',
      });
    }
    expect(fetcher.fetches - before).toBe(1);
  });
});
