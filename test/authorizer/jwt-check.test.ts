import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { FetchError } from 'aws-jwt-verify/error';
import { JwtCheck, nonCanonicalReason, scopesOf } from '../../lambdas/authorizer/jwt-check';
import { discoveryUrlOf } from '../../lambdas/authorizer/oidc-discovery';
import type { Fetcher } from 'aws-jwt-verify/https';
import type { IssuerConfig } from '../../lambdas/core/issuer-config';
import { createSigningKey, FakeJwksFetcher, nowSeconds, signJwt } from '../support/jwt';

const ISSUER = 'https://issuer.example.com';
const COGNITO = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST';
const signingKey = createSigningKey('kid-1');
const cognitoKey = createSigningKey('cognito-kid');

const issuers: IssuerConfig[] = [
  { issuer: ISSUER, audience: ['dualgate-api'], jwksUri: `${ISSUER}/jwks` },
  { issuer: COGNITO, clientIds: ['client-abc'], scopePrefix: 'dualgate/', requireTokenUseClaim: true },
];

function setup(options: { fetcher?: FakeJwksFetcher; penaltySeconds?: number } = {}) {
  const fetcher = options.fetcher ?? new FakeJwksFetcher([signingKey.publicJwk, cognitoKey.publicJwk]);
  const check = new JwtCheck({
    issuers,
    fetcher,
    jwtCacheTtlSeconds: 300,
    maxCacheEntries: 100,
    unknownKidPenaltySeconds: options.penaltySeconds ?? 10,
  });
  return { check, fetcher };
}

const claims = (overrides: Record<string, unknown> = {}) => ({
  iss: ISSUER,
  aud: 'dualgate-api',
  sub: 'client-42',
  scope: 'read:users keys:read',
  iat: nowSeconds(),
  exp: nowSeconds() + 600,
  ...overrides,
});

describe('JwtCheck', () => {
  it('accepts a valid OIDC access token and reads scopes from `scope`', async () => {
    const { check } = setup();
    const result = await check.evaluate(signJwt(claims(), { key: signingKey }));
    expect(result).toEqual({
      kind: 'principal',
      reason: 'jwt_valid',
      cached: false,
      principal: { sub: 'client-42', scopes: ['keys:read', 'read:users'], authMethod: 'jwt' },
    });
  });

  it('accepts a Cognito client-credentials access token and strips the resource-server prefix', async () => {
    const { check } = setup();
    const token = signJwt(
      {
        iss: COGNITO,
        sub: 'client-abc',
        client_id: 'client-abc',
        token_use: 'access',
        scope: 'dualgate/read:users dualgate/keys:admin',
        exp: nowSeconds() + 600,
      },
      { key: cognitoKey },
    );
    expect(await check.evaluate(token)).toMatchObject({
      kind: 'principal',
      principal: { sub: 'client-abc', scopes: ['keys:admin', 'read:users'] },
    });
  });

  it('reads `scp` arrays too', async () => {
    expect(scopesOf({}, { scp: ['write:users', 'read:users'] })).toEqual(['read:users', 'write:users']);
    expect(scopesOf({}, {})).toEqual([]);
  });

  it.each([
    ['alg none (aws-jwt-verify refuses it while parsing)', () => signJwt(claims(), { alg: 'none', kid: 'kid-1' }), 'jwt_malformed'],
    [
      'HS256 signed with the public key (key confusion)',
      () => signJwt(claims(), { alg: 'HS256', kid: 'kid-1', hmacSecret: signingKey.publicPem }),
      'jwt_invalid_algorithm',
    ],
    ['expired', () => signJwt(claims({ exp: nowSeconds() - 10 }), { key: signingKey }), 'jwt_expired'],
    ['not yet valid', () => signJwt(claims({ nbf: nowSeconds() + 600 }), { key: signingKey }), 'jwt_not_yet_valid'],
    ['wrong issuer', () => signJwt(claims({ iss: 'https://evil.example.com' }), { key: signingKey }), 'jwt_invalid_issuer'],
    ['wrong audience', () => signJwt(claims({ aud: 'another-api' }), { key: signingKey }), 'jwt_invalid_audience'],
    ['an ID token (nonce, at_hash)', () => signJwt(claims({ nonce: 'n', at_hash: 'x' }), { key: signingKey }), 'jwt_not_access_token'],
    ['a token_use=id token', () => signJwt(claims({ token_use: 'id' }), { key: signingKey }), 'jwt_not_access_token'],
    ['no sub', () => signJwt(claims({ sub: undefined }), { key: signingKey }), 'jwt_missing_sub'],
    ['no exp', () => signJwt(claims({ exp: undefined }), { key: signingKey }), 'jwt_invalid_claim'],
    [
      'scope of the wrong type (refused while parsing)',
      () => signJwt(claims({ scope: { admin: true } }), { key: signingKey }),
      'jwt_malformed',
    ],
    ['scp of the wrong type', () => signJwt(claims({ scope: undefined, scp: [1, 2] }), { key: signingKey }), 'jwt_invalid_scope_claim'],
    [
      'absurdly many scopes',
      () => signJwt(claims({ scope: Array.from({ length: 500 }, (_, i) => `s${i}`).join(' ') }), { key: signingKey }),
      'jwt_invalid_scope_claim',
    ],
    ['a foreign signature on a known kid', () => signJwt(claims(), { key: { ...createSigningKey('kid-1') } }), 'jwt_invalid_signature'],
    [
      'a tampered payload',
      () => {
        const [header, , signature] = signJwt(claims(), { key: signingKey }).split('.');
        return `${header}.${Buffer.from(JSON.stringify(claims({ scope: 'keys:admin' }))).toString('base64url')}.${signature}`;
      },
      'jwt_invalid_signature',
    ],
    ['a non-JSON payload', () => 'eyJhbGciOiJSUzI1NiJ9.bm90LWpzb24.c2ln', 'jwt_malformed'],
    [
      'a Cognito ID token',
      () => signJwt({ iss: COGNITO, sub: 'u', aud: 'client-abc', token_use: 'id', exp: nowSeconds() + 60 }, { key: cognitoKey }),
      'jwt_not_access_token',
    ],
    [
      'a Cognito token for another client',
      () => signJwt({ iss: COGNITO, sub: 'u', client_id: 'other', token_use: 'access', exp: nowSeconds() + 60 }, { key: cognitoKey }),
      'jwt_invalid_audience',
    ],
  ])('rejects %s', async (_name, makeToken, reason) => {
    const { check } = setup();
    expect(await check.evaluate(makeToken())).toEqual({ kind: 'reject', reason });
  });

  it('rejects an unknown kid after one refetch, and a flood of unknown kids refetches once per penalty window', async () => {
    const { check, fetcher } = setup();
    await check.hydrate();
    expect(fetcher.fetches).toBe(2);
    const stranger = createSigningKey('unknown-kid');
    const results = await Promise.all(Array.from({ length: 50 }, () => check.evaluate(signJwt(claims(), { key: stranger }))));
    expect(new Set(results.map((result) => JSON.stringify(result)))).toEqual(
      new Set([JSON.stringify({ kind: 'reject', reason: 'jwt_unknown_kid' })]),
    );
    expect(fetcher.fetches).toBe(3);
  });

  it('fails closed (503) when the JWKS cannot be fetched, and recovers by itself', async () => {
    const fetcher = new FakeJwksFetcher([signingKey.publicJwk]);
    fetcher.failWith = new FetchError(`${ISSUER}/jwks`, 'connect ECONNREFUSED');
    const { check } = setup({ fetcher });
    const token = signJwt(claims(), { key: signingKey });
    expect(await check.evaluate(token)).toMatchObject({ kind: 'fail', reason: 'jwks_unavailable' });
    fetcher.failWith = undefined;
    expect(await check.evaluate(token)).toMatchObject({ kind: 'principal' });
  });

  it('fails closed when the JWKS endpoint serves garbage', async () => {
    const fetcher = new FakeJwksFetcher([{ not: 'a jwk' }]);
    const { check } = setup({ fetcher });
    expect(await check.evaluate(signJwt(claims(), { key: signingKey }))).toMatchObject({ kind: 'fail', reason: 'jwks_unavailable' });
  });

  it('reuses a verified token from memory until exp', async () => {
    const { check } = setup();
    const token = signJwt(claims({ exp: nowSeconds() + 2 }), { key: signingKey });
    expect(await check.evaluate(token)).toMatchObject({ cached: false });
    expect(await check.evaluate(token)).toMatchObject({ cached: true });
  });

  it('never caches a rejected token as valid', async () => {
    const { check } = setup();
    const token = signJwt(claims({ aud: 'another-api' }), { key: signingKey });
    await check.evaluate(token);
    expect(await check.evaluate(token)).toEqual({ kind: 'reject', reason: 'jwt_invalid_audience' });
  });
});

describe('JwtCheck with requireAccessTokenType (RFC 9068)', () => {
  const strict = () =>
    new JwtCheck({
      issuers: [{ issuer: ISSUER, audience: ['dualgate-api'], jwksUri: `${ISSUER}/jwks`, requireAccessTokenType: true }],
      fetcher: new FakeJwksFetcher([signingKey.publicJwk]),
      jwtCacheTtlSeconds: 0,
      maxCacheEntries: 10,
    });

  it('accepts typ at+jwt (any case, with or without application/) and refuses plain JWT or no typ', async () => {
    expect(await strict().evaluate(signJwt(claims(), { key: signingKey, header: { typ: 'at+jwt' } }))).toMatchObject({ kind: 'principal' });
    expect(await strict().evaluate(signJwt(claims(), { key: signingKey, header: { typ: 'application/AT+JWT' } }))).toMatchObject({
      kind: 'principal',
    });
    expect(await strict().evaluate(signJwt(claims(), { key: signingKey, header: { typ: 'JWT' } }))).toEqual({
      kind: 'reject',
      reason: 'jwt_not_access_token',
    });
    expect(await strict().evaluate(signJwt(claims(), { key: signingKey, header: { typ: undefined } }))).toEqual({
      kind: 'reject',
      reason: 'jwt_not_access_token',
    });
  });
});

describe('JwtCheck with EC and EdDSA issuer keys', () => {
  const ecKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const edKeys = generateKeyPairSync('ed25519');
  const ecJwk = { ...(ecKeys.publicKey.export({ format: 'jwk' }) as Record<string, string>), kid: 'ec-1', alg: 'ES256', use: 'sig' };
  const edJwk = { ...(edKeys.publicKey.export({ format: 'jwk' }) as Record<string, string>), kid: 'ed-1', alg: 'EdDSA', use: 'sig' };
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signWith = (alg: 'ES256' | 'EdDSA', kid: string, signature?: Buffer) => {
    const input = `${b64({ alg, kid, typ: 'JWT' })}.${b64(claims())}`;
    const sig =
      signature ??
      (alg === 'ES256'
        ? cryptoSign('sha256', Buffer.from(input), { key: ecKeys.privateKey, dsaEncoding: 'ieee-p1363' })
        : cryptoSign(null, Buffer.from(input), edKeys.privateKey));
    return `${input}.${sig.toString('base64url')}`;
  };
  const check = () => new JwtCheck({ issuers, fetcher: new FakeJwksFetcher([ecJwk, edJwk]), jwtCacheTtlSeconds: 0, maxCacheEntries: 10 });

  it('accepts valid ES256 and EdDSA tokens', async () => {
    expect(await check().evaluate(signWith('ES256', 'ec-1'))).toMatchObject({ kind: 'principal' });
    expect(await check().evaluate(signWith('EdDSA', 'ed-1'))).toMatchObject({ kind: 'principal' });
  });

  it.each([
    ['an ES256 signature of the wrong length', () => signWith('ES256', 'ec-1', Buffer.alloc(10, 1)), 'jwt_invalid_signature'],
    ['an empty ES256 signature', () => signWith('ES256', 'ec-1', Buffer.alloc(0)), 'jwt_malformed'],
    ['an ES256 signature of zeros', () => signWith('ES256', 'ec-1', Buffer.alloc(64)), 'jwt_invalid_signature'],
    ['an EdDSA signature of the wrong length', () => signWith('EdDSA', 'ed-1', Buffer.alloc(7, 2)), 'jwt_invalid_signature'],
    [
      'an EdDSA signature by another key',
      () => signWith('EdDSA', 'ed-1', cryptoSign(null, Buffer.from('x'), generateKeyPairSync('ed25519').privateKey)),
      'jwt_invalid_signature',
    ],
  ])('answers 401, not a failure, to %s', async (_name, makeToken, reason) => {
    expect(await check().evaluate(makeToken())).toEqual({ kind: 'reject', reason });
  });
});

/** A token's signature segment re-spelled without changing its bytes: what a decoder that ignores padding and stray bits accepts. */
function respell(token: string, how: 'pad' | 'pad1' | 'strayBits'): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  if (how === 'pad') return `${header}.${payload}.${signature}==`;
  if (how === 'pad1') return `${header}.${payload}.${signature}=`;
  // RS256 signatures are 256 bytes: 342 characters, the last carrying 2 data bits and 4 unused ones.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(signature.at(-1) as string);
  return `${header}.${payload}.${signature.slice(0, -1)}${alphabet[last | 0x01]}`;
}

describe('JwtCheck: one spelling per token (RFC 7515 §2: unpadded base64url)', () => {
  it.each([
    ['padded with ==', 'pad'],
    ['padded with =', 'pad1'],
    ['with stray low bits in the last character', 'strayBits'],
  ] as const)('rejects a valid token re-spelled %s as jwt_noncanonical, although its bytes verify', async (_name, how) => {
    const { check } = setup();
    const token = signJwt(claims(), { key: signingKey });
    const respelled = respell(token, how);
    expect(respelled).not.toBe(token);
    // The same bytes: the signature would verify, which is what let these spellings in before.
    expect(Buffer.from(respelled.split('.')[2] as string, 'base64url')).toEqual(Buffer.from(token.split('.')[2] as string, 'base64url'));
    expect(await check.evaluate(respelled)).toEqual({ kind: 'reject', reason: 'jwt_noncanonical' });
    expect(await check.evaluate(token)).toMatchObject({ kind: 'principal' });
    // ...and a cached canonical token does not make its re-spelling a hit.
    expect(await check.evaluate(respelled)).toEqual({ kind: 'reject', reason: 'jwt_noncanonical' });
  });

  it.each([
    ['a.b.c.d.e', 'jwt_malformed'],
    ['abc.abc', 'jwt_malformed'],
    ['abcd..abcd', 'jwt_malformed'],
    ['ab+d.abcd.abcd', 'jwt_malformed'],
    ['abcd.ab/d.abcd', 'jwt_malformed'],
    ['abcd.abcd.abcdé', 'jwt_malformed'],
    ['abcd.abcd.abcde', 'jwt_noncanonical'],
    ['abcd.abcd.ab==', 'jwt_noncanonical'],
    ['abcd.abcd.ab', 'jwt_noncanonical'],
    ['abcd.abcd.aQ', undefined],
    ['abcd.abcd.abd', 'jwt_noncanonical'],
    ['abcd.abcd.abE', undefined],
    ['abcd.abcd.abcd', undefined],
  ])('syntax of %s → %s', (token, reason) => {
    expect(nonCanonicalReason(token)).toBe(reason);
  });

  it('property: a segment is canonical exactly when Node re-encodes its bytes to the same text', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/), (segment) => {
        const canonical = Buffer.from(segment, 'base64url').toString('base64url') === segment;
        expect(nonCanonicalReason(`abcd.abcd.${segment}`) === undefined).toBe(canonical);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('JwtCheck: crit (RFC 7515 §4.1.11)', () => {
  it.each([
    ['an unknown extension', { crit: ['https://example.com/ext'], 'https://example.com/ext': true }],
    ['b64 (RFC 7797), which we do not implement', { crit: ['b64'], b64: true }],
    ['an empty list', { crit: [] }],
    ['a malformed crit', { crit: 'exp' }],
  ])('rejects a correctly signed token whose crit names %s', async (_name, header) => {
    const { check } = setup();
    expect(await check.evaluate(signJwt(claims(), { key: signingKey, header }))).toEqual({
      kind: 'reject',
      reason: 'jwt_unsupported_crit',
    });
  });
});

describe('JwtCheck: scopePrefix is strict', () => {
  it('with a prefix, counts only prefixed scopes: a bare keys:admin is dropped', async () => {
    const { check } = setup();
    const token = signJwt(
      {
        iss: COGNITO,
        sub: 'client-abc',
        client_id: 'client-abc',
        token_use: 'access',
        scope: 'keys:admin dualgate/read:users other/write:users',
        exp: nowSeconds() + 600,
      },
      { key: cognitoKey },
    );
    expect(await check.evaluate(token)).toMatchObject({ kind: 'principal', principal: { scopes: ['read:users'] } });
    expect(scopesOf({ scopePrefix: 'dualgate/' }, { scp: ['keys:admin', 'dualgate/keys:read'] })).toEqual(['keys:read']);
    expect(scopesOf({}, { scope: 'keys:admin' })).toEqual(['keys:admin']);
  });
});

/** Serves fixed bodies by URI, counts requests per URI, and can be told to fail. */
class RoutedFetcher implements Fetcher {
  readonly requests: string[] = [];
  constructor(public routes: Record<string, unknown>) {}
  async fetch(uri: string): Promise<ArrayBuffer> {
    this.requests.push(uri);
    const body = this.routes[uri];
    if (body === undefined) throw new FetchError(uri, 'status 404, expected 200');
    if (body instanceof Error) throw body;
    const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
}

describe('JwtCheck: JWKS by OIDC discovery when no jwksUri is configured', () => {
  const OKTA = 'https://dev-123.okta.com/oauth2/default';
  const OKTA_KEYS = `${OKTA}/v1/keys`;
  const oktaKey = createSigningKey('okta-1');
  const oktaClaims = (overrides: Record<string, unknown> = {}) => ({
    iss: OKTA,
    aud: 'api://dualgate',
    sub: 'svc-1',
    scp: ['read:users'],
    exp: nowSeconds() + 600,
    ...overrides,
  });
  const discovery = (overrides: Record<string, unknown> = {}) => ({
    issuer: OKTA,
    jwks_uri: OKTA_KEYS,
    token_endpoint: `${OKTA}/v1/token`,
    ...overrides,
  });
  const make = (routes: Record<string, unknown>, nowMs?: () => number) => {
    const fetcher = new RoutedFetcher(routes);
    const check = new JwtCheck({
      issuers: [{ issuer: OKTA, audience: ['api://dualgate'] }],
      fetcher,
      jwtCacheTtlSeconds: 0,
      maxCacheEntries: 10,
      ...(nowMs ? { nowMs } : {}),
    });
    return { fetcher, check };
  };

  it('builds the discovery URL as OIDC Discovery §4 says (trailing slash dropped, path kept)', () => {
    expect(discoveryUrlOf('https://login.example.com/tenant/v2.0/')).toBe(
      'https://login.example.com/tenant/v2.0/.well-known/openid-configuration',
    );
    expect(discoveryUrlOf(OKTA)).toBe(`${OKTA}/.well-known/openid-configuration`);
  });

  it('finds the JWKS at the document’s jwks_uri, once per container; a new kid refetches only the JWKS', async () => {
    const { fetcher, check } = make({ [discoveryUrlOf(OKTA)]: discovery(), [OKTA_KEYS]: { keys: [oktaKey.publicJwk] } });
    const results = await Promise.all(Array.from({ length: 5 }, () => check.evaluate(signJwt(oktaClaims(), { key: oktaKey }))));
    for (const result of results) expect(result).toMatchObject({ kind: 'principal', principal: { sub: 'svc-1', scopes: ['read:users'] } });
    expect(fetcher.requests).toEqual([discoveryUrlOf(OKTA), OKTA_KEYS]);
    const rotated = createSigningKey('okta-2');
    fetcher.routes[OKTA_KEYS] = { keys: [oktaKey.publicJwk, rotated.publicJwk] };
    expect(await check.evaluate(signJwt(oktaClaims(), { key: rotated }))).toMatchObject({ kind: 'principal' });
    expect(fetcher.requests).toEqual([discoveryUrlOf(OKTA), OKTA_KEYS, OKTA_KEYS]);
  });

  it('never looks at <issuer>/.well-known/jwks.json for a non-Cognito issuer without jwksUri', async () => {
    const { fetcher, check } = make({
      [discoveryUrlOf(OKTA)]: discovery(),
      [OKTA_KEYS]: { keys: [oktaKey.publicJwk] },
      [`${OKTA}/.well-known/jwks.json`]: { keys: [] },
    });
    await check.hydrate();
    expect(fetcher.requests).not.toContain(`${OKTA}/.well-known/jwks.json`);
  });

  it('keeps Cognito on its known JWKS path (no discovery round trip)', async () => {
    const fetcher = new RoutedFetcher({ [`${COGNITO}/.well-known/jwks.json`]: { keys: [cognitoKey.publicJwk] } });
    const check = new JwtCheck({ issuers: [issuers[1] as IssuerConfig], fetcher, jwtCacheTtlSeconds: 0, maxCacheEntries: 10 });
    await check.hydrate();
    expect(fetcher.requests).toEqual([`${COGNITO}/.well-known/jwks.json`]);
  });

  it.each([
    ['names another issuer', { [discoveryUrlOf(OKTA)]: discovery({ issuer: 'https://evil.example.com' }) }],
    ['names the issuer with a trailing slash (must be identical)', { [discoveryUrlOf(OKTA)]: discovery({ issuer: `${OKTA}/` }) }],
    ['has no jwks_uri', { [discoveryUrlOf(OKTA)]: discovery({ jwks_uri: undefined }) }],
    [
      'sends an https issuer to an http jwks_uri',
      {
        [discoveryUrlOf(OKTA)]: discovery({ jwks_uri: 'http://dev-123.okta.com/oauth2/default/v1/keys' }),
        'http://dev-123.okta.com/oauth2/default/v1/keys': { keys: [oktaKey.publicJwk] },
      },
    ],
    ['is not JSON', { [discoveryUrlOf(OKTA)]: '<html>' }],
    ['is missing (404)', {}],
  ])('fails closed (503, not 401) when the discovery document %s, and retries only after the cooldown', async (_name, routes) => {
    let nowMs = 1_000_000;
    const { fetcher, check } = make({ ...routes, [OKTA_KEYS]: { keys: [oktaKey.publicJwk] } }, () => nowMs);
    const token = signJwt(oktaClaims(), { key: oktaKey });
    expect(await check.evaluate(token)).toMatchObject({ kind: 'fail', reason: 'jwks_unavailable' });
    expect(await check.evaluate(token)).toMatchObject({ kind: 'fail', reason: 'jwks_unavailable' });
    expect(fetcher.requests).toEqual([discoveryUrlOf(OKTA)]);
    expect(fetcher.requests).not.toContain(OKTA_KEYS);
    nowMs += 2001;
    fetcher.routes[discoveryUrlOf(OKTA)] = discovery();
    expect(await check.evaluate(token)).toMatchObject({ kind: 'principal' });
  });
});
