/**
 * Credentials and events shared by the benchmarks: an RS256 signing key and its JWKS, access tokens
 * shaped like the local issuer's, API keys with their stored records, and REQUEST authorizer events
 * with the headers API Gateway really sends.
 */
import { createSign, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { BASE62_ALPHABET, generateKey, hashKey } from '../lambdas/core/key-format';
import type { KeyRecord } from '../lambdas/core/key-record';
import type { RouteRule } from '../lambdas/core/route-table';

export const BENCH_ISSUER = 'https://issuer.bench.invalid';
export const BENCH_AUDIENCE = 'dualgate-bench';
export const BENCH_KID = 'bench-key-1';
export const BENCH_METHOD_ARN = 'arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/GET/me';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: Record<string, string>;
}

export function createSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  return { privateKey, publicKey, jwk: { ...jwk, kid: BENCH_KID, alg: 'RS256', use: 'sig' } };
}

export const jwksOf = (key: SigningKey) => ({ keys: [key.jwk] });

const b64url = (value: string) => Buffer.from(value).toString('base64url');

/** An access token like local mode's issuer mints (client-credentials grant), each with its own `jti`. */
export function signAccessToken(key: SigningKey, overrides: Record<string, unknown> = {}): string {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const payload = {
    iss: BENCH_ISSUER,
    sub: 'bench-client',
    client_id: 'bench-client',
    aud: BENCH_AUDIENCE,
    scope: 'read:users keys:read',
    iat: nowSeconds,
    nbf: nowSeconds - 5,
    exp: nowSeconds + 3600,
    jti: randomUUID(),
    ...overrides,
  };
  const input = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: BENCH_KID }))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(key.privateKey).toString('base64url')}`;
}

/** A stored key record for `key`, as the management API would write it. */
export function recordFor(key: string, start: string, overrides: Partial<KeyRecord> = {}): KeyRecord {
  return {
    keyHash: hashKey(key),
    keyId: `key_BENCH${randomUUID().replace(/-/g, '').slice(0, 20).toUpperCase()}`,
    owner: 'bench-owner',
    name: 'bench key',
    scopes: ['read:users', 'keys:read'],
    createdAt: new Date().toISOString(),
    createdBy: 'bench-owner',
    enabled: true,
    start,
    version: 1,
    ...overrides,
  };
}

export function newKey(prefix = 'dg'): { key: string; record: KeyRecord } {
  const { key, start } = generateKey(prefix);
  return { key, record: recordFor(key, start) };
}

/** A key-shaped credential whose checksum is wrong (the last char changed): rejected offline. */
export function badChecksumKey(prefix = 'dg'): string {
  const { key } = generateKey(prefix);
  const last = key.at(-1)!;
  const replacement = BASE62_ALPHABET[(BASE62_ALPHABET.indexOf(last) + 1) % 62]!;
  const bad = key.slice(0, -1) + replacement;
  return bad;
}

/** A REQUEST authorizer event with the headers a browser or SDK call carries through API Gateway. */
export function authorizerEvent(credential: string): APIGatewayRequestAuthorizerEvent {
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'Accept-Encoding': 'gzip, deflate, br',
    Authorization: `Bearer ${credential}`,
    'CloudFront-Forwarded-Proto': 'https',
    Host: 'abcdef1234.execute-api.us-east-1.amazonaws.com',
    'User-Agent': 'bench/1.0',
    'X-Amzn-Trace-Id': 'Root=1-67891233-abcdef012345678912345678',
    'X-Forwarded-For': '203.0.113.10',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
  };
  const multiValueHeaders = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]]));
  return {
    type: 'REQUEST',
    methodArn: BENCH_METHOD_ARN,
    resource: '/me',
    path: '/me',
    httpMethod: 'GET',
    headers,
    multiValueHeaders,
    pathParameters: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abcdef1234',
      httpMethod: 'GET',
      path: '/v1/me',
      protocol: 'HTTP/1.1',
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      requestTimeEpoch: Date.now(),
      resourceId: 'abc123',
      resourcePath: '/me',
      stage: 'v1',
      identity: { sourceIp: '203.0.113.10', userAgent: 'bench/1.0' },
    },
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

/** A 300-route table like a large app's: resources with ids, nested actions, greedy trees and ANY. */
export function generatedRouteTable(routeCount: number, scopeCount: number, options: { nestedScopes?: boolean } = {}): RouteRule[] {
  const routes: RouteRule[] = [];
  for (let i = 0; routes.length < routeCount; i++) {
    const base = `/svc${i}`;
    const scope = (n: number) => `scope-${(i * 3 + n) % scopeCount}`;
    // nestedScopes: the routes under /svcN/… also require the scopes of /svcN/{id}'s verbs, as the credential cache
    // scope needs (a decoded `%2F` could otherwise make a /svcN/files/… Allow match a /svcN/{id} request).
    const nestedScopes = options.nestedScopes ? [...new Set([scope(0), scope(1), scope(2)])] : [scope(2)];
    routes.push({ method: 'GET', path: base, scopes: [scope(0)] });
    routes.push({ method: 'POST', path: base, scopes: [scope(1)] });
    routes.push({ method: 'GET', path: `${base}/{id}`, scopes: [scope(0)] });
    routes.push({ method: 'PUT', path: `${base}/{id}`, scopes: [scope(1)] });
    routes.push({ method: 'POST', path: `${base}/{id}/actions/run`, scopes: nestedScopes });
    routes.push({ method: 'ANY', path: `${base}/files/{proxy+}`, scopes: nestedScopes });
  }
  return routes.slice(0, routeCount);
}

/** One route of a large app's table, with the index of the function (of `functionCount`) that serves it. */
export interface LargeAppRoute extends RouteRule {
  readonly functionIndex: number;
}

/**
 * A large app's table, as a platform team's API grows: families `/svcN` of ten routes each, with literal, `{param}`,
 * greedy and `ANY` routes, `GET` beside `ANY` on one path, and a literal beside a `{param}`. Each family needs two
 * scopes of `scopeCount` (read, write) and is served by one of `functionCount` functions.
 */
export function largeAppRouteTable(routeCount: number, options: { scopeCount: number; functionCount: number }): LargeAppRoute[] {
  const routes: LargeAppRoute[] = [];
  for (let family = 0; routes.length < routeCount; family++) {
    const base = `/svc${family}`;
    const read = `scope-${(family * 2) % options.scopeCount}`;
    const write = `scope-${(family * 2 + 1) % options.scopeCount}`;
    const functionIndex = family % options.functionCount;
    const route = (method: LargeAppRoute['method'], path: string, scopes: string[]) => routes.push({ method, path, scopes, functionIndex });
    route('GET', base, [read]);
    route('POST', base, [write]);
    route('GET', `${base}/{id}`, [read]);
    route('ANY', `${base}/{id}`, [write]);
    route('DELETE', `${base}/{id}`, [write]);
    route('GET', `${base}/{id}/items`, [read]);
    route('PUT', `${base}/{id}/items/{itemId}`, [write]);
    route('GET', `${base}/search/recent`, [read]);
    route('ANY', `${base}/files/{proxy+}`, [write]);
    route('GET', `${base}/files/{proxy+}`, [read]);
  }
  return routes.slice(0, routeCount);
}
