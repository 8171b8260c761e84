/**
 * The JWT check against a real, certified OpenID provider (panva's oidc-provider) on loopback, over plain
 * http through the same JwksFetcher local mode uses (allowHttp). The provider issues RFC 9068 access tokens
 * (`typ: at+jwt`) by client credentials with a resource indicator (RFC 8707), and publishes its JWKS at a
 * non-default path, so only OIDC discovery can find it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Provider, { type Adapter, type AdapterPayload, type Configuration } from 'oidc-provider';
import { buildAuthorizer } from '../../lambdas/authorizer/wiring';
import type { JwtCheck } from '../../lambdas/authorizer/jwt-check';
import { FakeKeyLookup } from '../support/keys';
import { captureLogger } from '../support/logs';
import { testSettings } from '../support/settings';
import { DEMO_COMPILED_TABLE } from '../support/demo-app';
import { routeOf } from '../support/authorizer-event';

const API = 'urn:dualgate:api';
const OTHER_API = 'urn:other:api';
const OPAQUE_API = 'urn:opaque:api';
const CLIENT_ID = 'reporting-service';
const CLIENT_SECRET = 'a-long-enough-client-secret-for-tests';
const JWKS_PATH = '/oauth/v1/keys';
const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/me';

/** oidc-provider's storage, in memory: its own quick-start adapter would print a warning. */
class MemoryAdapter implements Adapter {
  private static readonly store = new Map<string, AdapterPayload>();
  constructor(private readonly model: string) {}
  private key = (id: string) => `${this.model}:${id}`;
  async upsert(id: string, payload: AdapterPayload): Promise<void> {
    MemoryAdapter.store.set(this.key(id), payload);
  }
  async find(id: string): Promise<AdapterPayload | undefined> {
    return MemoryAdapter.store.get(this.key(id));
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async consume(id: string): Promise<void> {
    const payload = MemoryAdapter.store.get(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id: string): Promise<void> {
    MemoryAdapter.store.delete(this.key(id));
  }
  async revokeByGrantId(): Promise<void> {}
}

function signingJwk(kid: string) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...(privateKey.export({ format: 'jwk' }) as Record<string, string>), kid, alg: 'RS256', use: 'sig' };
}

function providerFor(issuer: string, kid: string): Provider {
  const configuration: Configuration = {
    adapter: MemoryAdapter,
    clients: [
      { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
    ],
    jwks: { keys: [signingJwk(kid)] },
    cookies: { keys: ['cookie-signing-key-for-tests-only'] },
    routes: { jwks: JWKS_PATH },
    // Set explicitly: the defaults print a notice when called.
    ttl: { ClientCredentials: 300, IdToken: 300 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          const format = resource === OPAQUE_API ? 'opaque' : 'jwt';
          if (![API, OTHER_API, OPAQUE_API].includes(resource)) throw new Error(`unknown resource ${resource}`);
          return {
            audience: resource,
            scope: 'read:users write:users keys:read',
            accessTokenFormat: format,
            accessTokenTTL: 300,
            ...(format === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
          };
        },
      },
    },
  };
  return new Provider(issuer, configuration);
}

let server: Server;
let issuer: string;
let provider: Provider;
/** Paths the provider was asked for, so tests can count discovery and JWKS requests. */
const requestedPaths: string[] = [];

beforeAll(async () => {
  server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requestedPaths.push(request.url ?? '');
    provider.callback()(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  provider = providerFor(issuer, 'key-1');
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function clientCredentialsToken(resource: string, scope: string): Promise<string> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200 || typeof body['access_token'] !== 'string')
    throw new Error(`token endpoint: ${response.status} ${JSON.stringify(body)}`);
  return body['access_token'];
}

/** An ID token for the client, signed by the provider's own keys (no browser flow needed in a test). */
async function idToken(): Promise<string> {
  const client = await provider.Client.find(CLIENT_ID);
  if (!client) throw new Error('client missing');
  const token = new provider.IdToken({ sub: 'user-1' }, { client } as never);
  // The claims released are those of the granted scopes; `openid` releases `sub`.
  (token as unknown as { scope: string }).scope = 'openid';
  return (await token.issue({ use: 'idtoken' })) as string;
}

const decode = (segment: string) => JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;

function setup(issuerOverrides: Record<string, unknown> = {}) {
  const keyLookup = new FakeKeyLookup();
  const settings = {
    ...testSettings(),
    issuers: [{ issuer, audience: [API], requireAccessTokenType: true, ...issuerOverrides }],
    allowHttpIssuers: true,
  };
  const built = buildAuthorizer(settings, DEMO_COMPILED_TABLE, { keyLookup, logger: captureLogger().logger });
  const call = (token: string) =>
    built.authorize({
      methodArn: METHOD_ARN,
      ...routeOf(METHOD_ARN),
      headers: { Authorization: `Bearer ${token}` },
      multiValueHeaders: null,
    });
  return { ...built, jwtCheck: built.jwtCheck as JwtCheck, call, keyLookup };
}

describe('JwtCheck against oidc-provider (RFC 9068 access tokens, resource indicators, JWKS at a non-default path)', () => {
  it('issues what this suite claims: typ at+jwt, aud = the resource, and no JWKS at <issuer>/.well-known/jwks.json', async () => {
    const [header, payload] = (await clientCredentialsToken(API, 'read:users')).split('.') as [string, string];
    expect(decode(header)).toMatchObject({ typ: 'at+jwt', alg: 'RS256', kid: 'key-1' });
    expect(decode(payload)).toMatchObject({ iss: issuer, aud: API, client_id: CLIENT_ID, sub: CLIENT_ID, scope: 'read:users' });
    expect((await fetch(`${issuer}/.well-known/jwks.json`)).status).toBe(404);
  });

  it('finds the JWKS by discovery over http and allows a valid token with the right sub and scopes', async () => {
    const { call } = setup();
    requestedPaths.length = 0;
    const outcome = await call(await clientCredentialsToken(API, 'read:users keys:read'));
    expect(outcome).toMatchObject({
      effect: 'allow',
      response: { principalId: CLIENT_ID, context: { sub: CLIENT_ID, scopes: 'keys:read read:users', authMethod: 'jwt' } },
    });
    expect(requestedPaths.filter((path) => path !== '/token')).toEqual(['/.well-known/openid-configuration', JWKS_PATH]);
  });

  it('refuses an ID token, even where the audience list also names the client id', async () => {
    const token = await idToken();
    expect(decode(token.split('.')[1] as string)).toMatchObject({ iss: issuer, aud: CLIENT_ID, sub: 'user-1' });
    expect(await setup().jwtCheck.evaluate(token)).toEqual({ kind: 'reject', reason: 'jwt_invalid_audience' });
    expect(await setup({ audience: [API, CLIENT_ID] }).jwtCheck.evaluate(token)).toEqual({
      kind: 'reject',
      reason: 'jwt_not_access_token',
    });
    expect(await setup().call(token)).toEqual({ effect: 'unauthorized' });
  });

  it("refuses another resource's access token (audience)", async () => {
    const token = await clientCredentialsToken(OTHER_API, 'read:users');
    expect(decode(token.split('.')[1] as string)).toMatchObject({ aud: OTHER_API });
    const { jwtCheck, call } = setup();
    expect(await jwtCheck.evaluate(token)).toEqual({ kind: 'reject', reason: 'jwt_invalid_audience' });
    expect(await call(token)).toEqual({ effect: 'unauthorized' });
  });

  it('answers 401 to an opaque access token, with no key-table read and no JWKS fetch', async () => {
    const token = await clientCredentialsToken(OPAQUE_API, 'read:users');
    expect(token).not.toContain('.');
    const { call, keyLookup } = setup();
    requestedPaths.length = 0;
    expect(await call(token)).toEqual({ effect: 'unauthorized' });
    expect(keyLookup.reads).toBe(0);
    expect(requestedPaths).toEqual([]);
  });

  it('picks up a key rotation at the provider: a new kid refetches the JWKS (not the discovery document)', async () => {
    const { call } = setup();
    expect(await call(await clientCredentialsToken(API, 'read:users'))).toMatchObject({ effect: 'allow' });
    // Reconfigure the provider in place (same issuer URL) with a new signing key.
    provider = providerFor(issuer, 'key-2');
    const rotated = await clientCredentialsToken(API, 'write:users');
    expect(decode(rotated.split('.')[0] as string)).toMatchObject({ kid: 'key-2' });
    requestedPaths.length = 0;
    expect(await call(rotated)).toMatchObject({ effect: 'allow', response: { context: { sub: CLIENT_ID, scopes: 'write:users' } } });
    expect(requestedPaths).toEqual([JWKS_PATH]);
  });
});
