import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseClientCredentialsRequest,
  SigningKeyFileError,
  startLocalIssuer,
  TokenRequestError,
  type LocalIssuer,
} from '../../lib/local/issuer';

const FORM = 'application/x-www-form-urlencoded';
const CATALOG = ['keys:admin', 'keys:read', 'keys:write', 'read:users'];
/** The payload of a JWT, unverified (the signature is the authorizer's business, tested in the e2e suite). */
const decodeJwt = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
const basic = (id: string, secret = 's') => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

function rejection(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof TokenRequestError) return error.error;
    throw error;
  }
  return undefined;
}

describe('parseClientCredentialsRequest', () => {
  it('takes the client id from Basic auth or from the body, and the scopes from `scope`', () => {
    expect(
      parseClientCredentialsRequest(basic('svc-a'), FORM, 'grant_type=client_credentials&scope=read:users+keys:admin', CATALOG),
    ).toEqual({ clientId: 'svc-a', scopes: ['read:users', 'keys:admin'] });
    expect(
      parseClientCredentialsRequest(undefined, FORM, 'grant_type=client_credentials&client_id=svc-b&client_secret=x', CATALOG),
    ).toEqual({ clientId: 'svc-b', scopes: [] });
  });

  it('rejects other grants, missing clients, unknown scopes and bad bodies with RFC 6749 error codes', () => {
    expect(rejection(() => parseClientCredentialsRequest(basic('a'), FORM, 'grant_type=password&username=a', CATALOG))).toBe(
      'unsupported_grant_type',
    );
    expect(rejection(() => parseClientCredentialsRequest(basic('a'), FORM, 'grant_type=authorization_code&code=x', CATALOG))).toBe(
      'unsupported_grant_type',
    );
    expect(rejection(() => parseClientCredentialsRequest(basic('a'), FORM, 'scope=read:users', CATALOG))).toBe('invalid_request');
    expect(rejection(() => parseClientCredentialsRequest(undefined, FORM, 'grant_type=client_credentials', CATALOG))).toBe(
      'invalid_client',
    );
    expect(rejection(() => parseClientCredentialsRequest(basic('a b'), FORM, 'grant_type=client_credentials', CATALOG))).toBe(
      'invalid_client',
    );
    expect(
      rejection(() => parseClientCredentialsRequest(basic('a'), FORM, 'grant_type=client_credentials&scope=delete:everything', CATALOG)),
    ).toBe('invalid_scope');
    expect(
      rejection(() => parseClientCredentialsRequest(basic('a'), 'application/json', '{"grant_type":"client_credentials"}', CATALOG)),
    ).toBe('invalid_request');
    expect(rejection(() => parseClientCredentialsRequest(basic('a'), FORM, 'grant_type=client_credentials&client_id=b', CATALOG))).toBe(
      'invalid_request',
    );
  });
});

describe('local issuer over HTTP', () => {
  let issuer: LocalIssuer;
  beforeAll(async () => {
    issuer = await startLocalIssuer({ host: '127.0.0.1', port: 0, audience: 'dualgate-test', scopeCatalog: CATALOG });
  });
  afterAll(() => issuer.stop());

  it('issues an access token with sub = client id, the audience and the requested scopes', async () => {
    const response = await fetch(issuer.tokenUrl, {
      method: 'POST',
      headers: { authorization: basic('svc-a'), 'content-type': FORM },
      body: 'grant_type=client_credentials&scope=keys%3Aadmin%20read%3Ausers',
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string; token_type: string; scope: string };
    expect(body.token_type).toBe('Bearer');
    const claims = decodeJwt(body.access_token);
    expect(claims).toMatchObject({
      iss: issuer.url,
      sub: 'svc-a',
      client_id: 'svc-a',
      aud: 'dualgate-test',
      scope: 'keys:admin read:users',
    });
    expect(typeof claims.exp).toBe('number');
  });

  it('answers an unsupported grant with the OAuth error JSON', async () => {
    const response = await fetch(issuer.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: 'grant_type=password&username=a&password=b&client_id=x',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'unsupported_grant_type' });
  });

  it('serves the JWKS the tokens are signed with', async () => {
    const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: { kid: string; d?: string }[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(jwks.keys.every((key) => key.d === undefined)).toBe(true);
  });

  it("exposes only its own token endpoint: the mock library's is unreachable by other spellings", async () => {
    for (const path of ['/token/', '/TOKEN', '/Token', '/token/x']) {
      const response = await fetch(`${issuer.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': FORM },
        body: 'grant_type=password&username=a&password=b&client_id=x',
      });
      expect(response.status, path).toBe(404);
    }
    expect((await fetch(`${issuer.url}/.well-known/openid-configuration`)).status).toBe(200);
  });
});

describe('local issuer signing key file (--data)', () => {
  const kids = async (issuer: LocalIssuer) =>
    ((await (await fetch(issuer.jwksUri)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);

  it('writes a new key owner-readable only, and signs with the same key after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dualgate-issuer-'));
    const signingKeyFile = join(dir, 'issuer-signing-key.json');
    try {
      const first = await startLocalIssuer({ host: '127.0.0.1', port: 0, audience: 'a', scopeCatalog: CATALOG, signingKeyFile });
      const firstKids = await kids(first);
      await first.stop();
      expect(statSync(signingKeyFile).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(signingKeyFile, 'utf8'))).toMatchObject({ kid: firstKids[0], alg: 'RS256', d: expect.any(String) });
      const second = await startLocalIssuer({ host: '127.0.0.1', port: 0, audience: 'a', scopeCatalog: CATALOG, signingKeyFile });
      expect(await kids(second)).toEqual(firstKids);
      await second.stop();
      // Without the file, each start makes a new key.
      const fresh = await startLocalIssuer({ host: '127.0.0.1', port: 0, audience: 'a', scopeCatalog: CATALOG });
      expect(await kids(fresh)).not.toEqual(firstKids);
      await fresh.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a file that holds no private key, naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dualgate-issuer-'));
    const signingKeyFile = join(dir, 'issuer-signing-key.json');
    try {
      writeFileSync(signingKeyFile, '{"kty":"RSA","kid":"x","alg":"RS256","n":"AQAB","e":"AQAB"}');
      await expect(startLocalIssuer({ host: '127.0.0.1', port: 0, audience: 'a', scopeCatalog: CATALOG, signingKeyFile })).rejects.toThrow(
        SigningKeyFileError,
      );
      await expect(startLocalIssuer({ host: '127.0.0.1', port: 0, audience: 'a', scopeCatalog: CATALOG, signingKeyFile })).rejects.toThrow(
        signingKeyFile,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
