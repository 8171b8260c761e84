/** The JWT check against tokens signed by oauth2-mock-server, with the JWKS fetched over http by JwksFetcher. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuth2Server } from 'oauth2-mock-server';
import { JwksFetcher } from '../../lambdas/authorizer/jwks-fetcher';
import { JwtCheck } from '../../lambdas/authorizer/jwt-check';

describe('JwtCheck with oauth2-mock-server', () => {
  const server = new OAuth2Server();
  let issuer: string;
  let fetcher: JwksFetcher;
  let check: JwtCheck;

  beforeAll(async () => {
    await server.issuer.keys.generate('RS256');
    await server.start(0, '127.0.0.1');
    issuer = server.issuer.url as string;
    fetcher = new JwksFetcher({ allowHttp: true, timeoutMs: 2000 });
    check = new JwtCheck({
      issuers: [{ issuer, audience: ['dualgate-local'], jwksUri: `${issuer}/jwks` }],
      fetcher,
      jwtCacheTtlSeconds: 60,
      maxCacheEntries: 100,
    });
    await check.hydrate();
  });
  afterAll(async () => server.stop());

  const token = (claims: Record<string, unknown>, expiresIn = 600) =>
    server.issuer.buildToken({
      expiresIn,
      scopesOrTransform: (_header, payload) => Object.assign(payload, { aud: 'dualgate-local', sub: 'm2m-client', ...claims }),
    });

  it('loads the JWKS once at hydrate and accepts a signed access token', async () => {
    expect(fetcher.fetches).toBe(1);
    expect(await check.evaluate(await token({ scope: 'read:users keys:write' }))).toMatchObject({
      kind: 'principal',
      principal: { sub: 'm2m-client', scopes: ['keys:write', 'read:users'], authMethod: 'jwt' },
    });
    expect(fetcher.fetches).toBe(1);
  });

  it('rejects expired, wrong-audience, wrong-issuer and ID tokens', async () => {
    expect(await check.evaluate(await token({}, -60))).toEqual({ kind: 'reject', reason: 'jwt_expired' });
    expect(await check.evaluate(await token({ aud: 'someone-else' }))).toEqual({ kind: 'reject', reason: 'jwt_invalid_audience' });
    expect(await check.evaluate(await token({ iss: 'https://evil.example.com' }))).toEqual({
      kind: 'reject',
      reason: 'jwt_invalid_issuer',
    });
    expect(await check.evaluate(await token({ nonce: 'abc' }))).toEqual({ kind: 'reject', reason: 'jwt_not_access_token' });
  });

  it('rejects a token signed by a key the issuer does not publish, after one refetch', async () => {
    const other = new OAuth2Server();
    await other.issuer.keys.generate('RS256');
    await other.start(0, '127.0.0.1');
    const foreign = await other.issuer.buildToken({
      scopesOrTransform: (_header, payload) => Object.assign(payload, { iss: issuer, aud: 'dualgate-local', sub: 'x' }),
    });
    await other.stop();
    const before = fetcher.fetches;
    expect(await check.evaluate(foreign)).toEqual({ kind: 'reject', reason: 'jwt_unknown_kid' });
    expect(await check.evaluate(foreign)).toEqual({ kind: 'reject', reason: 'jwt_unknown_kid' });
    expect(fetcher.fetches - before).toBe(1);
  });
});
