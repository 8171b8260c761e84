import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { itemFromRecord } from '../../lambdas/core/key-record';
import { makeKey } from '../support/keys';
import { demoRouteConfigFile } from '../support/demo-app';
import { routeOf } from '../support/authorizer-event';
import { createSigningKey, nowSeconds, signJwt } from '../support/jwt';

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/POST/users';
const ddb = mockClient(DynamoDBClient);

async function loadHandler() {
  vi.resetModules();
  vi.stubEnv('DUALGATE_KEY_TABLE', 'dualgate-keys');
  vi.stubEnv('DUALGATE_KEY_PREFIX', 'dg');
  vi.stubEnv('DUALGATE_ISSUERS', '');
  vi.stubEnv('AWS_REGION', 'eu-west-1');
  vi.stubEnv('DUALGATE_CONFIG_FILE', demoRouteConfigFile());
  return (await import('../../lambdas/authorizer/handler')).handler;
}
const event = (authorization: string) =>
  ({
    type: 'REQUEST',
    methodArn: METHOD_ARN,
    ...routeOf(METHOD_ARN),
    headers: { authorization },
    multiValueHeaders: { authorization: [authorization] },
  }) as never;

describe('authorizer Lambda handler', () => {
  let stdout: string[];
  beforeEach(() => {
    ddb.reset();
    stdout = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('reads the key by hash with one eventually consistent GetItem and returns policy and context', async () => {
    const { key, record } = makeKey({ scopes: ['write:users'] });
    ddb.on(GetItemCommand).resolves({ Item: itemFromRecord(record) });
    const handler = await loadHandler();
    const result = await handler(event(`Bearer ${key}`));
    expect(result.principalId).toBe('user-123');
    expect(result.context).toEqual({ sub: 'user-123', scopes: 'write:users', authMethod: 'apiKey', keyId: record.keyId });
    expect(result.policyDocument.Statement[0]).toMatchObject({
      Effect: 'Allow',
      Resource: expect.arrayContaining([`arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/POST/users`]),
    });
    const calls = ddb.commandCalls(GetItemCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({ TableName: 'dualgate-keys', Key: { keyHash: { S: record.keyHash } } });
  });

  it('throws exactly "Unauthorized" for an unknown key, so API Gateway answers 401', async () => {
    ddb.on(GetItemCommand).resolves({});
    const handler = await loadHandler();
    await expect(handler(event(`Bearer ${makeKey().key}`))).rejects.toThrow(/^Unauthorized$/);
  });

  it('makes no DynamoDB call for a bad checksum', async () => {
    const handler = await loadHandler();
    const { key } = makeKey();
    await expect(handler(event(`Bearer ${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`))).rejects.toThrow(/^Unauthorized$/);
    expect(ddb.commandCalls(GetItemCommand)).toHaveLength(0);
  });

  it('throws something other than "Unauthorized" when DynamoDB throttles, so API Gateway answers 503', async () => {
    ddb
      .on(GetItemCommand)
      .rejects(
        Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ProvisionedThroughputExceededException' }),
      );
    const handler = await loadHandler();
    const { key } = makeKey();
    await expect(handler(event(`Bearer ${key}`))).rejects.toThrow(/^AuthorizerFailure$/);
    const logged = stdout.join('');
    expect(logged).toContain('"reason":"key_store_unavailable"');
    expect(logged).toContain('ProvisionedThroughputExceededException');
    expect(logged).not.toContain(key);
  });

  it('rejects a malformed item (missing owner) with 401, not an allow', async () => {
    const { key, record } = makeKey();
    const item = itemFromRecord(record);
    delete item['owner'];
    ddb.on(GetItemCommand).resolves({ Item: item });
    const handler = await loadHandler();
    await expect(handler(event(`Bearer ${key}`))).rejects.toThrow(/^Unauthorized$/);
    expect(stdout.join('')).toContain('"reason":"key_item_malformed"');
  });

  it('rejects every JWT when no issuer is configured', async () => {
    const handler = await loadHandler();
    await expect(handler(event('Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'))).rejects.toThrow(/^Unauthorized$/);
  });

  it('fails its cold start with a message naming the route-table file when the asset lacks it', async () => {
    vi.resetModules();
    vi.stubEnv('DUALGATE_KEY_TABLE', 'dualgate-keys');
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('DUALGATE_CONFIG_FILE', '/nonexistent/dualgate-config.json');
    await expect(import('../../lambdas/authorizer/handler')).rejects.toThrow(
      /dualgate-config\.json: cannot read \/nonexistent\/dualgate-config\.json/,
    );
  });
});

describe('authorizer Lambda handler: when it builds the DynamoDB client and fetches the JWKS', () => {
  const KEY_TABLE_CLIENT = '../../lambdas/authorizer/key-table-client';
  const signingKey = createSigningKey('kid-handler');
  let jwks: Server;
  let jwksFetches = 0;
  let issuer: string;
  let stdout: string[];

  beforeAll(async () => {
    jwks = createServer((_request, response) => {
      jwksFetches++;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [signingKey.publicJwk] }));
    });
    await new Promise<void>((ready) => jwks.listen(0, '127.0.0.1', ready));
    issuer = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((done) => jwks.close(done));
  });
  beforeEach(() => {
    ddb.reset();
    jwksFetches = 0;
    stdout = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.doUnmock(KEY_TABLE_CLIENT);
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  /** Import the handler (a cold start) with the key table client's module counting the clients it opens. */
  async function coldStart(env: Record<string, string>, options: { failFirstOpen?: boolean } = {}) {
    vi.resetModules();
    const opened = { count: 0 };
    vi.doMock(KEY_TABLE_CLIENT, async (importOriginal) => {
      const real = await importOriginal<typeof import('../../lambdas/authorizer/key-table-client')>();
      return {
        ...real,
        openKeyTable: (...args: Parameters<typeof real.openKeyTable>) => {
          opened.count++;
          if (options.failFirstOpen && opened.count === 1) throw new Error('SDK chunk failed to evaluate');
          return real.openKeyTable(...args);
        },
      };
    });
    vi.stubEnv('DUALGATE_KEY_TABLE', 'dualgate-keys');
    vi.stubEnv('DUALGATE_KEY_PREFIX', 'dg');
    vi.stubEnv('DUALGATE_ISSUERS', JSON.stringify([{ issuer, audience: ['api'], jwksUri: `${issuer}/jwks` }]));
    vi.stubEnv('DUALGATE_ALLOW_HTTP_ISSUERS', 'true');
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('DUALGATE_CONFIG_FILE', demoRouteConfigFile());
    vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', 'on-demand');
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const { handler } = await import('../../lambdas/authorizer/handler');
    return { handler, opened };
  }
  const jwt = () =>
    signJwt({ iss: issuer, aud: 'api', sub: 'client-1', scope: 'write:users', exp: nowSeconds() + 600 }, { key: signingKey });

  it('on demand: builds no client at init nor for JWTs, and one for the first key, reused after', async () => {
    const { key, record } = makeKey({ scopes: ['write:users'] });
    ddb.on(GetItemCommand).resolves({ Item: itemFromRecord(record) });
    const { handler, opened } = await coldStart({});
    expect(opened.count).toBe(0);
    expect((await handler(event(`Bearer ${jwt()}`))).principalId).toBe('client-1');
    expect(opened.count).toBe(0);
    expect((await handler(event(`Bearer ${key}`))).principalId).toBe('user-123');
    // Another key (unknown to the table): read with the same client.
    await expect(handler(event(`Bearer ${makeKey().key}`))).rejects.toThrow(/^Unauthorized$/);
    expect(ddb.commandCalls(GetItemCommand)).toHaveLength(2);
    expect(opened.count).toBe(1);
  });

  it('on demand: fetches no JWKS at init nor for a key; the first JWTs fetch it once between them', async () => {
    const { key, record } = makeKey({ scopes: ['write:users'] });
    ddb.on(GetItemCommand).resolves({ Item: itemFromRecord(record) });
    const { handler } = await coldStart({});
    expect(jwksFetches).toBe(0);
    expect((await handler(event(`Bearer ${key}`))).principalId).toBe('user-123');
    expect(jwksFetches).toBe(0);
    const decisions = await Promise.all([handler(event(`Bearer ${jwt()}`)), handler(event(`Bearer ${jwt()}`))]);
    expect(decisions.map((decision) => decision.principalId)).toEqual(['client-1', 'client-1']);
    expect(jwksFetches).toBe(1);
  });

  it('under provisioned concurrency: builds the client and fetches the JWKS during init, before any request', async () => {
    const { key, record } = makeKey({ scopes: ['write:users'] });
    ddb.on(GetItemCommand).resolves({ Item: itemFromRecord(record) });
    const { handler, opened } = await coldStart({ AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency' });
    expect(opened.count).toBe(1);
    expect(jwksFetches).toBe(1);
    expect((await handler(event(`Bearer ${key}`))).principalId).toBe('user-123');
    expect((await handler(event(`Bearer ${jwt()}`))).principalId).toBe('client-1');
    expect(opened.count).toBe(1);
    expect(jwksFetches).toBe(1);
  });

  it('with plans: builds the client and fetches the JWKS during init, since every allowed request reads a consumer record', async () => {
    const { opened } = await coldStart({
      DUALGATE_PLANS: JSON.stringify({ usagePlanNames: { pro: 'p' }, sharedUsageKey: 'dualgate-shared-0000-0000-0000' }),
    });
    expect(opened.count).toBe(1);
    expect(jwksFetches).toBe(1);
  });

  it('logs a client that failed to build at init, and builds it again for the first key request', async () => {
    const { key, record } = makeKey({ scopes: ['write:users'] });
    ddb.on(GetItemCommand).resolves({ Item: itemFromRecord(record) });
    const { handler, opened } = await coldStart({ AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency' }, { failFirstOpen: true });
    expect(opened.count).toBe(1);
    const initFailure = stdout
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry['message'] === 'key table client failed to load at init');
    expect(initFailure).toMatchObject({ level: 'ERROR', reason: 'key_store_unavailable' });
    expect(JSON.stringify(initFailure)).toContain('SDK chunk failed to evaluate');
    expect((await handler(event(`Bearer ${key}`))).principalId).toBe('user-123');
    expect(opened.count).toBe(2);
  });
});
