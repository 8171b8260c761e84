/** `dualgate consumers get|set-plan|clear-plan` against the real keys handler (dynalite + the emulated API Gateway control plane). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { FetchLike } from '../../lib/cli/api-client';
import { runCli } from '../../lib/cli/program';
import { startLocalUsagePlans, type LocalUsagePlans } from '../../lib/local/usage-plans/local-usage-plans';
import { createKeysHandler } from '../../lambdas/keys/router';
import { AwsUsagePlanGateway, createApiGatewayClient } from '../../lambdas/keys/usage-plan-gateway';
import { DynamoConsumerStore } from '../../lambdas/shared/consumer-store';
import { KeyStore } from '../../lambdas/shared/key-store';
import { DEMO_CATALOG } from '../support/demo-app';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { captureLogger } from '../support/logs';

/** The entitlement fields of a consumer with none assigned: the defaults only. */
const NO_ENTITLEMENTS = { scopes: [], defaultScopes: ['read:users'], entitledScopes: ['read:users'] };

const TOKENS: Record<string, { sub: string; scopes: string }> = {
  'admin-token': { sub: 'ops', scopes: 'keys:admin keys:read keys:write' },
  'dev-token': { sub: 'dev', scopes: 'keys:read keys:write' },
};

let dynamo: LocalDynamo;
let plans: LocalUsagePlans;
let apiFetch: FetchLike;

beforeAll(async () => {
  dynamo = await startDynalite();
  const tableName = await dynamo.createTable();
  plans = await startLocalUsagePlans({
    plans: {
      free: { rateLimitPerSecond: 5, burstLimit: 5 },
      pro: { rateLimitPerSecond: 50, burstLimit: 50, quota: { limit: 1000, period: 'MONTH' } },
    },
    defaultPlan: 'free',
    host: '127.0.0.1',
  });
  const handler = createKeysHandler({
    catalog: DEMO_CATALOG,
    store: new KeyStore(dynamo.client, tableName),
    keyPrefix: 'dg',
    adminScope: 'keys:admin',
    logger: captureLogger().logger,
    entitlements: { store: new DynamoConsumerStore(dynamo.client, tableName), defaultScopes: ['read:users'] },
    consumers: {
      store: new DynamoConsumerStore(dynamo.client, tableName),
      usagePlans: new AwsUsagePlanGateway(
        createApiGatewayClient({
          endpoint: plans.endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }),
      ),
      plans: plans.runtimePlans,
    },
  });
  apiFetch = async (url, init) => {
    const caller = TOKENS[init.headers['authorization']?.replace('Bearer ', '') ?? ''];
    const match = /^\/prod\/consumers\/([^/]+)$/.exec(new URL(url).pathname);
    if (!caller || !match) return { status: caller ? 404 : 401, text: async () => '{"message":"no"}' };
    const sub = decodeURIComponent(match[1] as string);
    const event = {
      httpMethod: init.method,
      resource: '/consumers/{sub}',
      path: `/consumers/${sub}`,
      pathParameters: { sub },
      body: init.body ?? null,
      isBase64Encoded: false,
      requestContext: { authorizer: { ...caller, authMethod: 'jwt' } },
    } as unknown as APIGatewayProxyEvent;
    const result = await handler(event);
    return { status: result.statusCode, text: async () => result.body };
  };
});
afterAll(async () => {
  await plans?.stop();
  await dynamo?.close();
});

async function run(argv: string[], token = 'admin-token') {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    fetch: apiFetch,
    env: { DUALGATE_URL: 'https://api.example.test/prod', DUALGATE_TOKEN: token },
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  });
  return { code, stdout, stderr };
}

describe('dualgate consumers', () => {
  it('set-plan, get and clear-plan round-trip a consumer whose sub needs URL encoding', async () => {
    const set = await run(['consumers', 'set-plan', 'auth0|alice', 'pro']);
    expect(set).toMatchObject({
      code: 0,
      stdout: 'auth0|alice: plan pro\n  entitled to: read:users (assigned: none; everyone: read:users)\n',
    });
    const got = await run(['--json', 'consumers', 'get', 'auth0|alice']);
    expect(JSON.parse(got.stdout)).toEqual({
      sub: 'auth0|alice',
      plan: 'pro',
      assigned: true,
      ...NO_ENTITLEMENTS,
      usage: { date: new Date().toISOString().slice(0, 10), used: 0, remaining: 1000 },
    });
    expect((await run(['consumers', 'clear-plan', 'auth0|alice'])).stdout).toBe(
      'auth0|alice: default plan free (shared)\n  entitled to: read:users (assigned: none; everyone: read:users)\n',
    );
  });

  it('set-scopes replaces the entitlements (--none clears them) and leaves the plan alone', async () => {
    const set = await run(['consumers', 'set-scopes', 'carol', 'write:users', 'read:users']);
    expect(set).toMatchObject({
      code: 0,
      stdout:
        'carol: default plan free (shared)\n  entitled to: read:users write:users (assigned: read:users write:users; everyone: read:users)\n',
    });
    const got = JSON.parse((await run(['--json', 'consumers', 'get', 'carol'])).stdout) as Record<string, unknown>;
    expect(got).toMatchObject({ scopes: ['read:users', 'write:users'], entitledScopes: ['read:users', 'write:users'] });
    // No scopes and no --none: a usage error (exit 2), nothing sent, nothing cleared.
    const forgotten = await run(['consumers', 'set-scopes', 'carol']);
    expect(forgotten).toMatchObject({ code: 2, stdout: '' });
    expect(forgotten.stderr).toMatch(/no scopes given: name the scopes carol is entitled to, or pass --none/);
    expect(JSON.parse((await run(['--json', 'consumers', 'get', 'carol'])).stdout)).toMatchObject({
      scopes: ['read:users', 'write:users'],
    });
    expect((await run(['consumers', 'set-scopes', 'carol', '--none', 'read:users'])).code).toBe(2);
    expect((await run(['consumers', 'set-scopes', 'carol', '--none'])).stdout).toBe(
      'carol: default plan free (shared)\n  entitled to: read:users (assigned: none; everyone: read:users)\n',
    );
    const unknown = await run(['consumers', 'set-scopes', 'carol', 'nope:nope']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown scope\(s\): nope:nope/);
    const admin = await run(['consumers', 'set-scopes', 'carol', 'keys:admin']);
    expect(admin.stderr).toMatch(/keys:admin cannot be an entitlement/);
    expect((await run(['consumers', 'set-scopes', 'dev', 'read:users'], 'dev-token')).stderr).toMatch(/keys:admin/);
  });

  it('fails with the API message and a non-zero exit for an unknown plan and for a non-admin', async () => {
    const unknown = await run(['consumers', 'set-plan', 'bob', 'gold']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/plan: must be one of free, pro/);
    const denied = await run(['consumers', 'set-plan', 'dev', 'pro'], 'dev-token');
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/keys:admin/);
  });
});
