/**
 * Fault injection: a key table that hangs or throttles, a JWKS endpoint that is down, slow or serves
 * garbage, at cold start and later. The authorizer must fail closed (503), never hang, recover on its
 * own, and keep the healthy credential type working while the other's backend is down.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_COMPILED_TABLE } from '../support/demo-app';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { buildAuthorizer } from '../../lambdas/authorizer/wiring';
import { JwksFetcher } from '../../lambdas/authorizer/jwks-fetcher';
import { itemFromRecord } from '../../lambdas/core/key-record';
import { createDynamoClient, DynamoKeyLookup } from '../../lambdas/shared/key-store';
import type { RuntimeSettings } from '../../lambdas/core/settings';
import { createSigningKey, nowSeconds, signJwt } from '../support/jwt';
import { FakeKeyLookup, makeKey } from '../support/keys';
import { captureLogger } from '../support/logs';
import { testSettings } from '../support/settings';
import { routeOf } from '../support/authorizer-event';

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/me';
const signingKey = createSigningKey('kid-1');
const event = (credential: string) => ({
  methodArn: METHOD_ARN,
  ...routeOf(METHOD_ARN),
  headers: { Authorization: `Bearer ${credential}` },
  multiValueHeaders: null,
});

type JwksMode = 'ok' | 'down' | 'slow' | 'garbage' | 'error500';
/** A JWKS endpoint whose behaviour the test switches at will; it counts requests. */
async function startJwksServer() {
  const state = { mode: 'ok' as JwksMode, requests: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    state.requests++;
    if (state.mode === 'slow') return; // never answers
    if (state.mode === 'error500') return res.writeHead(500).end('oops');
    if (state.mode === 'garbage') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": "nope"');
    if (state.mode === 'down') return req.socket.destroy();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [signingKey.publicJwk] }));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    state,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A TCP endpoint that accepts connections and never answers: the worst kind of slow DynamoDB. */
async function startBlackHole(): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function settingsFor(issuerUrl: string): RuntimeSettings {
  return testSettings({
    staleIfErrorSeconds: 0,
    jwtCacheTtlSeconds: 0,
    issuers: [{ issuer: issuerUrl, audience: ['api'], jwksUri: `${issuerUrl}/jwks` }],
    allowHttpIssuers: true,
  });
}
const jwtFrom = (issuer: string) =>
  signJwt({ iss: issuer, aud: 'api', sub: 'client-1', scope: 'read:users', exp: nowSeconds() + 600 }, { key: signingKey });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('faults: JWKS endpoint', () => {
  it('down at cold start: JWTs fail closed while keys keep working, then JWTs recover by themselves', async () => {
    const jwks = await startJwksServer();
    cleanups.push(jwks.close);
    jwks.state.mode = 'down';
    const clock = { nowMs: Date.now() };
    const { key, record } = makeKey();
    const logs = captureLogger();
    const fetcher = new JwksFetcher({ allowHttp: true, timeoutMs: 500, failureCooldownMs: 2000, nowMs: () => clock.nowMs });
    const { authorize, jwtCheck } = buildAuthorizer(settingsFor(jwks.url), DEMO_COMPILED_TABLE, {
      keyLookup: new FakeKeyLookup(record),
      fetcher,
      logger: logs.logger,
      nowMs: () => clock.nowMs,
    });
    await expect(jwtCheck?.hydrate()).rejects.toThrow();
    const token = jwtFrom(jwks.url);
    expect(await authorize(event(token))).toEqual({ effect: 'fail' });
    expect((await authorize(event(key))).effect).toBe('allow');
    // Within the cooldown, no new fetch is attempted: the endpoint is not hammered.
    const requestsBefore = jwks.state.requests;
    expect(await authorize(event(token))).toEqual({ effect: 'fail' });
    expect(jwks.state.requests).toBe(requestsBefore);
    jwks.state.mode = 'ok';
    clock.nowMs += 2001;
    expect((await authorize(event(token))).effect).toBe('allow');
    expect(logs.entries().filter((entry) => entry.reason === 'jwks_unavailable').length).toBeGreaterThan(0);
    expect(logs.lines.join('\n')).not.toContain(token);
  });

  it('slow (never answers): the fetch is cut off by its timeout and the decision fails closed', async () => {
    const jwks = await startJwksServer();
    cleanups.push(jwks.close);
    jwks.state.mode = 'slow';
    const fetcher = new JwksFetcher({ allowHttp: true, timeoutMs: 300 });
    const { authorize } = buildAuthorizer(settingsFor(jwks.url), DEMO_COMPILED_TABLE, {
      keyLookup: new FakeKeyLookup(),
      fetcher,
      logger: captureLogger().logger,
    });
    const startedMs = Date.now();
    expect(await authorize(event(jwtFrom(jwks.url)))).toEqual({ effect: 'fail' });
    const elapsedMs = Date.now() - startedMs;
    expect(elapsedMs).toBeGreaterThanOrEqual(250);
  });

  it.each(['garbage', 'error500'] as const)(
    'serving %s later: verified keys in the JWKS cache keep working; new kids fail closed',
    async (mode) => {
      const jwks = await startJwksServer();
      cleanups.push(jwks.close);
      const clock = { nowMs: Date.now() };
      const fetcher = new JwksFetcher({ allowHttp: true, timeoutMs: 500, failureCooldownMs: 1000, nowMs: () => clock.nowMs });
      const { authorize, jwtCheck } = buildAuthorizer(settingsFor(jwks.url), DEMO_COMPILED_TABLE, {
        keyLookup: new FakeKeyLookup(),
        fetcher,
        logger: captureLogger().logger,
        nowMs: () => clock.nowMs,
      });
      await jwtCheck?.hydrate();
      jwks.state.mode = mode;
      expect((await authorize(event(jwtFrom(jwks.url)))).effect).toBe('allow');
      const rotatedKey = createSigningKey('kid-2');
      const newKidToken = signJwt({ iss: jwks.url, aud: 'api', sub: 'c', exp: nowSeconds() + 60 }, { key: rotatedKey });
      expect(await authorize(event(newKidToken))).toEqual({ effect: 'fail' });
    },
  );
});

describe('faults: JWKS cooldown', () => {
  it("is kept per JWKS URI: one failing issuer does not block another issuer's key fetches", async () => {
    const good = await startJwksServer();
    const bad = await startJwksServer();
    cleanups.push(good.close, bad.close);
    bad.state.mode = 'error500';
    const fetcher = new JwksFetcher({ allowHttp: true, timeoutMs: 500, failureCooldownMs: 60_000 });
    await expect(fetcher.fetch(`${bad.url}/jwks`)).rejects.toThrow();
    await expect(fetcher.fetch(`${bad.url}/jwks`)).rejects.toThrow(/cooling down/);
    expect(bad.state.requests).toBe(1);
    await expect(fetcher.fetch(`${good.url}/jwks`)).resolves.toBeInstanceOf(ArrayBuffer);
  });
});

describe('faults: key table', () => {
  it('a table that never answers: the SDK timeout and retry budget end the wait and the decision fails closed', async () => {
    const hole = await startBlackHole();
    cleanups.push(hole.close);
    const client = createDynamoClient({
      endpoint: hole.endpoint,
      region: 'eu-west-1',
      requestTimeoutMs: 200,
      connectionTimeoutMs: 200,
      maxAttempts: 2,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    const { authorize } = buildAuthorizer({ ...settingsFor('https://issuer.example.com'), allowHttpIssuers: false }, DEMO_COMPILED_TABLE, {
      keyLookup: new DynamoKeyLookup(client, 'keys'),
      logger: captureLogger().logger,
    });
    expect(await authorize(event(makeKey().key))).toEqual({ effect: 'fail' });
    client.destroy();
  });

  it('throttling: keys fail closed while JWTs keep working, and keys recover when it clears', async () => {
    const jwks = await startJwksServer();
    cleanups.push(jwks.close);
    const ddb = mockClient(DynamoDBClient);
    cleanups.push(async () => void ddb.restore());
    const { key, record } = makeKey();
    ddb.on(GetItemCommand).rejects(Object.assign(new Error('Throughput exceeds the current capacity'), { name: 'ThrottlingException' }));
    const client = new DynamoDBClient({ region: 'eu-west-1' });
    const { authorize, jwtCheck } = buildAuthorizer(settingsFor(jwks.url), DEMO_COMPILED_TABLE, {
      keyLookup: new DynamoKeyLookup(client, 'keys'),
      fetcher: new JwksFetcher({ allowHttp: true }),
      logger: captureLogger().logger,
    });
    await jwtCheck?.hydrate();
    expect(await authorize(event(key))).toEqual({ effect: 'fail' });
    expect((await authorize(event(jwtFrom(jwks.url)))).effect).toBe('allow');
    ddb.on(GetItemCommand).resolves({ Item: itemFromRecord(record) });
    expect((await authorize(event(key))).effect).toBe('allow');
  });
});
