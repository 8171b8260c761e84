/** The local gateway with usage plans: the authorizer's usageIdentifierKey goes to the emulator, whose verdict becomes 403 or a 429 gateway response. */
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway, type Route, type UsagePlanAdmission } from '../../lib/local/gateway';
import { UsagePlanEmulator } from '../../lib/local/usage-plans/emulator';

const STAGE_ARN = 'arn:aws:execute-api:us-east-1:000000000000:local/v1';
const ROUTES: Route[] = [
  { method: 'GET', path: '/health', handler: 'health', scopes: [], authorized: false },
  { method: 'GET', path: '/me', handler: 'me', scopes: [] },
];

let running: RunningGateway | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(usagePlans: UsagePlanAdmission | undefined, identifierFor: (authorization: string) => string | undefined) {
  let backendCalls = 0;
  running = await startGateway({
    host: '127.0.0.1',
    port: 0,
    routes: ROUTES,
    stageName: 'v1',
    authorizerCacheTtlSeconds: 60,
    accessLog: () => undefined,
    ...(usagePlans ? { usagePlans } : {}),
    authorize: async (event) => {
      const identifier = identifierFor(String(event.headers?.['authorization'] ?? ''));
      return {
        effect: 'allow',
        response: {
          principalId: 'c',
          policyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: `${STAGE_ARN}/*` }],
          },
          context: { sub: 'c', scopes: '', authMethod: 'jwt' },
          ...(identifier !== undefined ? { usageIdentifierKey: identifier } : {}),
        },
      };
    },
    loadHandler: async () => async () => {
      backendCalls++;
      return { statusCode: 200, body: '{}' };
    },
  });
  const get = async (path: string, authorization?: string) => {
    const response = await fetch(running!.url + path, { headers: authorization ? { authorization } : {} });
    return {
      status: response.status,
      body: (await response.json()) as Record<string, unknown>,
      requestId: response.headers.get('x-amzn-requestid'),
    };
  };
  return { get, backendCalls: () => backendCalls };
}

describe('local gateway with usage plans', () => {
  it('answers 429 Too Many Requests after the burst and 429 Limit Exceeded at the quota, without reaching the backend', async () => {
    const emulator = new UsagePlanEmulator({
      plans: [
        { id: 'p', name: 'p', throttle: { rateLimitPerSecond: 0.001, burstLimit: 2 } },
        { id: 'q', name: 'q', quota: { limit: 1, period: 'MONTH' } },
      ],
    });
    for (const [id, plan] of [
      ['k-a', 'p'],
      ['k-b', 'q'],
    ] as const) {
      emulator.createApiKey({ id, name: id, value: `value-of-${id}-000000000000`, enabled: true });
      emulator.createUsagePlanKey(plan, id);
    }
    const { get, backendCalls } = await start(emulator, (authorization) =>
      authorization === 'Bearer a' ? 'value-of-k-a-000000000000' : 'value-of-k-b-000000000000',
    );
    expect((await get('/me', 'Bearer a')).status).toBe(200);
    expect((await get('/me', 'Bearer a')).status).toBe(200);
    const throttled = await get('/me', 'Bearer a');
    expect(throttled).toEqual({
      status: 429,
      body: { message: 'Too Many Requests', requestId: throttled.requestId },
      requestId: throttled.requestId,
    });
    expect((await get('/me', 'Bearer b')).status).toBe(200);
    const over = await get('/me', 'Bearer b');
    expect(over).toMatchObject({ status: 429, body: { message: 'Limit Exceeded' } });
    expect(backendCalls()).toBe(3);
    // Open routes count against nothing.
    for (let index = 0; index < 5; index++) expect((await get('/health')).status).toBe(200);
  });

  it('answers 403 when the authorizer returns no identifier, or one in no usage plan (apiKeyRequired)', async () => {
    const emulator = new UsagePlanEmulator({ plans: [{ id: 'p', name: 'p' }] });
    const { get } = await start(emulator, (authorization) => (authorization === 'Bearer none' ? undefined : 'not-in-any-plan-0000000000'));
    expect(await get('/me', 'Bearer none')).toMatchObject({ status: 403, body: { message: 'Forbidden' } });
    expect(await get('/me', 'Bearer other')).toMatchObject({ status: 403, body: { message: 'Forbidden' } });
  });

  it('checks nothing without usage plans', async () => {
    const { get } = await start(undefined, () => undefined);
    for (let index = 0; index < 5; index++) expect((await get('/me', 'Bearer x')).status).toBe(200);
  });
});
