/**
 * The local gateway's API Gateway rules, with a fake authorizer and fake handlers over real HTTP on a free
 * port: what reaches the authorizer, what is cached, and what each outcome turns into.
 */
import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEvent, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';

import {
  startGateway,
  type AccessLogEntry,
  type GatewayAuthorizerOutcome,
  type ProxyHandler,
  type RunningGateway,
  type Route,
} from '../../lib/local/gateway';

const STAGE_ARN = 'arn:aws:execute-api:us-east-1:000000000000:local/v1';
const ROUTES: Route[] = [
  { method: 'GET', path: '/health', handler: 'backends/health', scopes: [], authorized: false },
  { method: 'GET', path: '/me', handler: 'backends/me', scopes: [] },
  { method: 'GET', path: '/users', handler: 'backends/users', scopes: ['read:users'] },
  { method: 'POST', path: '/users', handler: 'backends/users', scopes: ['write:users'] },
  { method: 'GET', path: '/keys/{id}', handler: 'keys/handler', scopes: [] },
];

const allowAll: GatewayAuthorizerOutcome = {
  effect: 'allow',
  response: {
    principalId: 'client-1',
    policyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: `${STAGE_ARN}/*` }] },
    context: { sub: 'client-1', scopes: 'read:users', authMethod: 'jwt', retries: 3, admin: false },
  },
};

interface Harness {
  gateway: RunningGateway;
  authorizerEvents: APIGatewayRequestAuthorizerEvent[];
  handlerEvents: APIGatewayProxyEvent[];
  accessLog: AccessLogEntry[];
  clock: { advance(ms: number): void };
}

let running: RunningGateway | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function harness(
  options: {
    outcome?: () => Promise<GatewayAuthorizerOutcome>;
    handler?: ProxyHandler;
    ttlSeconds?: number;
    maxBodyBytes?: number;
    integrationTimeoutMs?: number;
  } = {},
): Promise<Harness> {
  const authorizerEvents: APIGatewayRequestAuthorizerEvent[] = [];
  const handlerEvents: APIGatewayProxyEvent[] = [];
  const accessLog: AccessLogEntry[] = [];
  let offsetMs = 0;
  const defaultHandler: ProxyHandler = async (event) => {
    handlerEvents.push(event);
    return { statusCode: 200, headers: { 'x-backend': 'yes' }, body: JSON.stringify({ ok: true }) };
  };
  const gateway = await startGateway({
    host: '127.0.0.1',
    port: 0,
    routes: ROUTES,
    stageName: 'v1',
    authorizerCacheTtlSeconds: options.ttlSeconds ?? 60,
    ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
    ...(options.integrationTimeoutMs ? { integrationTimeoutMs: options.integrationTimeoutMs } : {}),
    nowMs: () => Date.now() + offsetMs,
    authorize: async (event) => {
      authorizerEvents.push(event);
      return options.outcome ? options.outcome() : allowAll;
    },
    loadHandler: async () => async (event, context) =>
      options.handler ? (handlerEvents.push(event), options.handler(event, context)) : defaultHandler(event, context),
    accessLog: (entry) => accessLog.push(entry),
  });
  running = gateway;
  return { gateway, authorizerEvents, handlerEvents, accessLog, clock: { advance: (ms) => (offsetMs += ms) } };
}

async function call(h: Harness, path: string, init: RequestInit & { auth?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.auth !== undefined) headers.set('authorization', init.auth);
  const response = await fetch(h.gateway.url + path, { ...init, headers });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body: body as Record<string, unknown>, headers: response.headers };
}

describe('local gateway: routing', () => {
  it('answers an unknown path or method with the MISSING_AUTHENTICATION_TOKEN body (404) without calling the authorizer', async () => {
    const h = await harness();
    for (const [method, path] of [
      ['GET', '/nope'],
      ['DELETE', '/me'],
      ['GET', '/keys'],
      ['GET', '/keys/a/b'],
      ['GET', '/'],
    ] as const) {
      const response = await call(h, path, { method, auth: 'Bearer x' });
      expect({ method, path, status: response.status, message: response.body['message'] }).toEqual({
        method,
        path,
        status: 404,
        message: 'Not Found',
      });
      expect(response.body['requestId']).toEqual(response.headers.get('x-amzn-requestid'));
      // As the stack's gateway responses: nosniff, no framing, no script (the portal's paths included).
      expect([
        response.headers.get('x-content-type-options'),
        response.headers.get('x-frame-options'),
        response.headers.get('content-security-policy'),
      ]).toEqual(['nosniff', 'DENY', "default-src 'none'; frame-ancestors 'none'"]);
    }
    expect(h.authorizerEvents).toHaveLength(0);
  });

  it('serves a route marked authorized: false without a credential and without the authorizer', async () => {
    const h = await harness();
    const response = await call(h, '/health');
    expect(response.status).toBe(200);
    expect(h.authorizerEvents).toHaveLength(0);
    expect(h.handlerEvents[0]?.requestContext.authorizer).toBeNull();
  });
});

describe('local gateway: identity source', () => {
  it('answers 401 without calling the authorizer when Authorization is missing, empty or blank', async () => {
    const h = await harness();
    for (const auth of [undefined, '', '   ']) {
      const response = await call(h, '/me', auth === undefined ? {} : { auth });
      expect(response.status).toBe(401);
      expect(response.body['message']).toBe('Unauthorized');
    }
    expect(h.authorizerEvents).toHaveLength(0);
    expect(h.handlerEvents).toHaveLength(0);
  });

  it('hands the authorizer a REQUEST event with the method ARN of the actual path', async () => {
    const h = await harness();
    await call(h, '/keys/key_1?limit=5', { auth: 'Bearer abc' });
    const event = h.authorizerEvents[0];
    expect(event?.type).toBe('REQUEST');
    expect(event?.methodArn).toBe(`${STAGE_ARN}/GET/keys/key_1`);
    expect(event?.resource).toBe('/keys/{id}');
    expect(event?.headers?.['authorization']).toBe('Bearer abc');
    expect(event?.pathParameters).toEqual({ id: 'key_1' });
  });
});

describe('local gateway: authorizer result cache', () => {
  it('calls the authorizer once per Authorization value within the TTL, and reuses the result on other routes', async () => {
    const h = await harness({ ttlSeconds: 60 });
    expect((await call(h, '/me', { auth: 'Bearer one' })).status).toBe(200);
    expect((await call(h, '/users', { auth: 'Bearer one' })).status).toBe(200);
    expect(h.authorizerEvents).toHaveLength(1);
    expect((await call(h, '/me', { auth: 'Bearer two' })).status).toBe(200);
    expect(h.authorizerEvents).toHaveLength(2);
    expect(h.accessLog.map((entry) => entry.authorizerCached)).toEqual([false, true, false]);
  });

  it('calls the authorizer again once the TTL has passed', async () => {
    const h = await harness({ ttlSeconds: 2 });
    await call(h, '/me', { auth: 'Bearer one' });
    h.clock.advance(1900);
    await call(h, '/me', { auth: 'Bearer one' });
    expect(h.authorizerEvents).toHaveLength(1);
    h.clock.advance(200);
    await call(h, '/me', { auth: 'Bearer one' });
    expect(h.authorizerEvents).toHaveLength(2);
  });

  it('calls the authorizer on every request when the TTL is 0', async () => {
    const h = await harness({ ttlSeconds: 0 });
    await call(h, '/me', { auth: 'Bearer one' });
    await call(h, '/me', { auth: 'Bearer one' });
    expect(h.authorizerEvents).toHaveLength(2);
  });

  it('never caches Unauthorized or a failure', async () => {
    const outcomes: GatewayAuthorizerOutcome[] = [{ effect: 'unauthorized' }, { effect: 'fail' }, allowAll];
    const h = await harness({ outcome: async () => outcomes.shift() ?? allowAll });
    expect((await call(h, '/me', { auth: 'Bearer one' })).status).toBe(401);
    expect((await call(h, '/me', { auth: 'Bearer one' })).status).toBe(503);
    expect((await call(h, '/me', { auth: 'Bearer one' })).status).toBe(200);
    expect(h.authorizerEvents).toHaveLength(3);
  });
});

describe('local gateway: authorizer outcomes', () => {
  it('turns unauthorized into 401, fail and a throw into the AUTHORIZER_FAILURE 503', async () => {
    let outcome: () => Promise<GatewayAuthorizerOutcome> = async () => ({ effect: 'unauthorized' });
    const h = await harness({ outcome: () => outcome(), ttlSeconds: 0 });
    expect(await call(h, '/me', { auth: 'Bearer x' })).toMatchObject({ status: 401, body: { message: 'Unauthorized' } });
    outcome = async () => ({ effect: 'fail' });
    expect(await call(h, '/me', { auth: 'Bearer x' })).toMatchObject({
      status: 503,
      body: { message: 'Authorization service unavailable' },
    });
    outcome = async () => {
      throw new Error('boom');
    };
    expect(await call(h, '/me', { auth: 'Bearer x' })).toMatchObject({
      status: 503,
      body: { message: 'Authorization service unavailable' },
    });
    expect(h.handlerEvents).toHaveLength(0);
  });

  it('answers 500 AUTHORIZER_CONFIGURATION_ERROR for a non-scalar context value or a missing principalId', async () => {
    const bad: GatewayAuthorizerOutcome[] = [
      { effect: 'allow', response: { ...allowAll.response, context: { sub: 'a', nested: { no: 1 } } } },
      { effect: 'allow', response: { ...allowAll.response, context: { sub: 'a', list: ['x'] } } },
      { effect: 'allow', response: { ...allowAll.response, principalId: undefined } },
      {
        effect: 'allow',
        response: { ...allowAll.response, policyDocument: { Statement: [{ Effect: 'Perhaps', Action: '*', Resource: '*' }] } },
      },
    ];
    const h = await harness({ outcome: async () => bad.shift() ?? allowAll, ttlSeconds: 0 });
    for (let index = 0; index < 4; index++) {
      expect(await call(h, '/me', { auth: 'Bearer x' })).toMatchObject({
        status: 500,
        body: { message: 'Authorizer configuration error' },
      });
    }
    expect(h.handlerEvents).toHaveLength(0);
  });

  it('answers 403 when the policy does not allow the route, and lets an explicit Deny win', async () => {
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'execute-api:Invoke', Resource: `${STAGE_ARN}/*` },
        { Effect: 'Deny', Action: 'execute-api:Invoke', Resource: `${STAGE_ARN}/POST/users` },
      ],
    };
    const h = await harness({ outcome: async () => ({ effect: 'allow', response: { ...allowAll.response, policyDocument: policy } }) });
    expect((await call(h, '/users', { auth: 'Bearer x' })).status).toBe(200);
    expect(await call(h, '/users', { method: 'POST', auth: 'Bearer x', body: '{}' })).toMatchObject({
      status: 403,
      body: { message: 'Forbidden' },
    });
  });
});

describe('local gateway: the backend', () => {
  it('passes a v1 proxy event with the context values as strings', async () => {
    const h = await harness();
    const response = await call(h, '/keys/key%201?a=1&a=2&b=x', { auth: 'Bearer abc', headers: { 'X-Thing': 'one' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-backend')).toBe('yes');
    const event = h.handlerEvents[0] as APIGatewayProxyEvent;
    expect(event.httpMethod).toBe('GET');
    expect(event.resource).toBe('/keys/{id}');
    expect(event.path).toBe('/keys/key 1');
    expect(event.pathParameters).toEqual({ id: 'key 1' });
    expect(event.queryStringParameters).toEqual({ a: '2', b: 'x' });
    expect(event.multiValueQueryStringParameters).toEqual({ a: ['1', '2'], b: ['x'] });
    expect(event.headers['X-Thing'] ?? event.headers['x-thing']).toBe('one');
    expect(event.body).toBeNull();
    expect(event.isBase64Encoded).toBe(false);
    expect(event.requestContext).toMatchObject({
      stage: 'v1',
      resourcePath: '/keys/{id}',
      httpMethod: 'GET',
      identity: { sourceIp: '127.0.0.1' },
    });
    expect(event.requestContext.requestId).toBe(response.headers.get('x-amzn-requestid'));
    expect(event.requestContext.authorizer).toEqual({
      principalId: 'client-1',
      sub: 'client-1',
      scopes: 'read:users',
      authMethod: 'jwt',
      retries: '3',
      admin: 'false',
    });
  });

  it('passes the request body through as text', async () => {
    const h = await harness();
    await call(h, '/users', {
      method: 'POST',
      auth: 'Bearer abc',
      body: '{"name":"Ada"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(h.handlerEvents[0]?.body).toBe('{"name":"Ada"}');
  });

  it('answers 502 Internal server error when the backend throws or returns a malformed result', async () => {
    const results: (() => unknown)[] = [
      () => {
        throw new Error('backend bug');
      },
      () => undefined,
      () => ({ statusCode: '200' }),
      () => ({ statusCode: 200, body: { not: 'a string' } }),
      () => ({ statusCode: 200, extra: true }),
    ];
    const h = await harness({ handler: async () => (results.shift() ?? (() => undefined))() });
    for (let index = 0; index < 5; index++) {
      expect(await call(h, '/me', { auth: 'Bearer abc' })).toMatchObject({ status: 502, body: { message: 'Internal server error' } });
    }
  });

  it('decodes a base64 result and forwards multi-value headers', async () => {
    const h = await harness({
      handler: async () => ({
        statusCode: 201,
        isBase64Encoded: true,
        body: Buffer.from('hello').toString('base64'),
        multiValueHeaders: { 'x-many': ['a', 'b'] },
      }),
    });
    const response = await fetch(`${h.gateway.url}/me`, { headers: { authorization: 'Bearer abc' } });
    expect(response.status).toBe(201);
    expect(await response.text()).toBe('hello');
    expect(response.headers.get('x-many')).toBe('a, b');
  });

  it('answers 504 when the backend does not answer within the integration timeout', async () => {
    const h = await harness({ integrationTimeoutMs: 100, handler: () => new Promise(() => undefined) });
    expect(await call(h, '/me', { auth: 'Bearer abc' })).toMatchObject({ status: 504, body: { message: 'Endpoint request timed out' } });
  });

  it('answers 413 to a body over the limit, before calling the authorizer', async () => {
    const h = await harness({ maxBodyBytes: 1024 });
    const response = await call(h, '/users', { method: 'POST', auth: 'Bearer abc', body: 'x'.repeat(2048) });
    expect(response).toMatchObject({ status: 413, body: { message: 'Request Entity Too Large' } });
    expect(h.authorizerEvents).toHaveLength(0);
    expect((await call(h, '/users', { method: 'POST', auth: 'Bearer abc', body: 'x'.repeat(1024) })).status).toBe(200);
  });
});

describe('local gateway: robustness and access log', () => {
  it('survives odd input and keeps serving', async () => {
    const h = await harness();
    expect((await call(h, '/keys/%E0%A4%A', { auth: 'Bearer abc' })).status).toBe(200);
    expect((await call(h, '/me', { auth: `Bearer ${'a'.repeat(9000)}` })).status).toBe(200);
    expect((await call(h, '//me', { auth: 'Bearer abc' })).status).toBe(404);
    expect((await call(h, '/me/', { auth: 'Bearer abc' })).status).toBe(200);
    expect((await call(h, '/me', { auth: 'Bearer abc' })).status).toBe(200);
  });

  it('treats query parameters and headers named after Object.prototype members as plain names', async () => {
    const h = await harness();
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect((await call(h, `/health?${name}=1`)).status, name).toBe(200);
      expect((await call(h, `/me?${name}=1&${name}=2`, { auth: 'Bearer abc' })).status, name).toBe(200);
    }
    expect((await call(h, '/me', { auth: 'Bearer abc', headers: { constructor: 'x', toString: 'y' } })).status).toBe(200);
  });

  it("writes one access-log line per request, with the stack's fields and no credential", async () => {
    const h = await harness();
    await call(h, '/me', { auth: 'Bearer secret-credential-value' });
    await call(h, '/nope?token=secret-credential-value');
    await call(h, '/me');
    expect(h.accessLog).toHaveLength(3);
    expect(h.accessLog[0]).toMatchObject({
      method: 'GET',
      resourcePath: '/me',
      status: 200,
      sub: 'client-1',
      authMethod: 'jwt',
      authorizerStatus: 200,
      errorType: null,
    });
    expect(h.accessLog[1]).toMatchObject({ resourcePath: null, status: 404, errorType: 'MISSING_AUTHENTICATION_TOKEN' });
    expect(h.accessLog[2]).toMatchObject({ status: 401, errorType: 'UNAUTHORIZED', authorizerStatus: null });
    expect(JSON.stringify(h.accessLog)).not.toContain('secret-credential-value');
    for (const entry of h.accessLog) expect(entry.responseLatencyMs).toBeGreaterThanOrEqual(0);
  });
});

describe('percent-encoding: one assumption for the router and the method ARN (review finding)', () => {
  it('routes on decoded segments and names the same segments in the method ARN, %2F kept inside its segment', async () => {
    const rules: Route[] = [
      { method: 'GET', path: '/users/{id}', scopes: ['read:users'], handler: 'h' },
      { method: 'GET', path: '/users/admin', scopes: ['admin:users'], handler: 'h' },
    ];
    const authorizerEvents: APIGatewayRequestAuthorizerEvent[] = [];
    const handlerEvents: APIGatewayProxyEvent[] = [];
    const gateway = await startGateway({
      host: '127.0.0.1',
      port: 0,
      routes: rules,
      stageName: 'v1',
      authorizerCacheTtlSeconds: 0,
      authorize: async (event) => {
        authorizerEvents.push(event);
        return allowAll;
      },
      loadHandler: async () => async (event) => (handlerEvents.push(event), { statusCode: 200, body: '{}' }),
    });
    running = gateway;
    const get = (path: string) => fetch(`${gateway.url}${path}`, { headers: { authorization: 'Bearer x' } });
    // An encoded literal is the literal: the admin route, and its ARN names it as the router saw it.
    expect((await get('/users/%61dmin')).status).toBe(200);
    expect(authorizerEvents.at(-1)).toMatchObject({ resource: '/users/admin', methodArn: `${STAGE_ARN}/GET/users/admin` });
    // An encoded slash stays inside the parameter, in the route and in the ARN.
    expect((await get('/users/alice%2Femail')).status).toBe(200);
    expect(authorizerEvents.at(-1)).toMatchObject({ resource: '/users/{id}', methodArn: `${STAGE_ARN}/GET/users/alice%2Femail` });
    expect(handlerEvents.at(-1)?.pathParameters).toEqual({ id: 'alice/email' });
    // The path as sent: dot segments are not resolved (WHATWG URL would turn /users/x/../admin into /users/admin).
    // fetch normalises the path itself, so these go out raw through node:http.
    const raw = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const request = httpRequest({ host: '127.0.0.1', port: gateway.port, path, headers: { authorization: 'Bearer x' } }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('error', reject);
        request.end();
      });
    expect(await raw('/users/x/../admin')).toBe(404);
    expect(await raw('/users/%2e%2e')).toBe(200);
    expect(authorizerEvents.at(-1)).toMatchObject({ resource: '/users/{id}', methodArn: `${STAGE_ARN}/GET/users/..` });
    // A decoded percent sign is spelt %25 again, so no two paths share an ARN.
    expect((await get('/users/100%25')).status).toBe(200);
    expect(authorizerEvents.at(-1)?.methodArn).toBe(`${STAGE_ARN}/GET/users/100%25`);
  });
});

describe('identity sources from the assembly: the result cache key', () => {
  const ROUTE_SOURCES = ['method.request.header.Authorization', 'context.resourceId', 'context.httpMethod'];
  async function withSources(identitySources: string[] | undefined) {
    const authorizerEvents: APIGatewayRequestAuthorizerEvent[] = [];
    const gateway = await startGateway({
      host: '127.0.0.1',
      port: 0,
      routes: [...ROUTES, { method: 'ANY', path: '/users', handler: 'backends/users', scopes: [] }],
      stageName: 'v1',
      authorizerCacheTtlSeconds: 300,
      ...(identitySources ? { identitySources } : {}),
      authorize: async (event) => (authorizerEvents.push(event), allowAll),
      loadHandler: async () => async () => ({ statusCode: 200, body: '{}' }),
    });
    running = gateway;
    const send = (method: string, path: string, auth = 'Bearer x') =>
      fetch(`${gateway.url}${path}`, { method, headers: { authorization: auth } }).then((response) => response.status);
    return { authorizerEvents, send };
  }

  it('with context.resourceId and context.httpMethod, caches one result per credential and route', async () => {
    const { authorizerEvents, send } = await withSources(ROUTE_SOURCES);
    expect(await send('GET', '/users')).toBe(200);
    expect(await send('GET', '/users')).toBe(200);
    expect(authorizerEvents).toHaveLength(1);
    // Another verb on the same resource (here ANY's), another resource, another credential: each calls the authorizer.
    expect(await send('DELETE', '/users')).toBe(200);
    expect(await send('GET', '/me')).toBe(200);
    expect(await send('GET', '/me', 'Bearer y')).toBe(200);
    expect(authorizerEvents).toHaveLength(4);
    expect(await send('GET', '/me')).toBe(200);
    expect(authorizerEvents).toHaveLength(4);
  });

  it('passes resource, resourceId, httpMethod and path in the event as API Gateway documents them', async () => {
    const { authorizerEvents, send } = await withSources(ROUTE_SOURCES);
    await send('GET', '/keys/key_1');
    expect(authorizerEvents[0]).toMatchObject({
      type: 'REQUEST',
      resource: '/keys/{id}',
      path: '/keys/key_1',
      httpMethod: 'GET',
      pathParameters: { id: 'key_1' },
    });
    expect(authorizerEvents[0]?.requestContext).toMatchObject({
      resourcePath: '/keys/{id}',
      httpMethod: 'GET',
      resourceId: expect.stringMatching(/^[0-9a-f]{10}$/),
    });
    await send('GET', '/me');
    expect(authorizerEvents[1]?.requestContext.resourceId).not.toBe(authorizerEvents[0]?.requestContext.resourceId);
  });

  it('with the Authorization header alone (credential cache scope), reuses one result for every route', async () => {
    const { authorizerEvents, send } = await withSources(undefined);
    for (const [method, path] of [
      ['GET', '/users'],
      ['DELETE', '/users'],
      ['GET', '/me'],
    ] as const)
      expect(await send(method, path)).toBe(200);
    expect(authorizerEvents).toHaveLength(1);
  });

  it('answers 401 without calling the authorizer when an identity source is missing', async () => {
    const { authorizerEvents, send } = await withSources([...ROUTE_SOURCES, 'method.request.header.X-Tenant']);
    expect(await send('GET', '/users')).toBe(401);
    expect(authorizerEvents).toHaveLength(0);
  });
});

describe('the route table (lambdas/core/route-validation.ts)', () => {
  const start = (routes: Route[]) =>
    startGateway({
      host: '127.0.0.1',
      port: 0,
      routes,
      stageName: 'v1',
      authorizerCacheTtlSeconds: 0,
      authorize: async () => allowAll,
      loadHandler: async () => async () => ({ statusCode: 200 }),
    });
  const keysRoute = ROUTES[4] as Route;

  it.each<[string, Route[], RegExp]>([
    ['a route declared twice', [ROUTES[1] as Route, ROUTES[1] as Route], /^route "GET \/me" is declared twice$/],
    ['two variable children of one resource', [keysRoute, { ...keysRoute, path: '/keys/{proxy+}' }], /give \/keys two variable children/],
    ['an unknown method', [{ ...(ROUTES[1] as Route), method: 'TRACE' as Route['method'] }], /method must be one of/],
  ])('refuses, at start, %s, as a deployment would', async (_, routes, message) => {
    await expect(start(routes)).rejects.toThrow(message);
  });
});
