/**
 * Plans end to end over HTTP, against `dualgate dev` serving the demo app deployed with plans, usage plans emulated: the gateway
 * checks every authorized request against the consumer's usage plan, the key API assigns plans through the
 * emulated API Gateway control plane. Small TTLs, so a plan change shows within seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../../lib/local/dev-server';
import { DEFAULT_LOCAL_AUDIENCE } from '../../lib/local/local-config';
import { demoAssembly } from '../support/prepared';

/** The entitlement fields of a consumer with none (the demo has no portal.defaultScopes). */
const NO_ENTITLEMENTS = { scopes: [], defaultScopes: [], entitledScopes: [] };

const TTLS = { authorizer: 1, key: 1 };
/** The documented bound on a plan change: authorizer cache + key (and consumer) cache, plus a margin. */
const PLAN_CHANGE_BOUND_MS = (TTLS.authorizer + TTLS.key) * 1000 + 400;
const PLANS = {
  plans: {
    tiny: { rateLimitPerSecond: 0.5, burstLimit: 3 },
    quota4: { rateLimitPerSecond: 100, burstLimit: 100, quota: { limit: 4, period: 'DAY' } },
    free: { rateLimitPerSecond: 100, burstLimit: 100 },
  },
  defaultPlan: 'free',
};

let server: DevServer;
const logLines: string[] = [];

beforeAll(async () => {
  // The demo app deployed with plans (`-c dualgate:plans=… -c dualgate:defaultPlan=free`), served by dualgate dev.
  server = await startDevServer({
    assemblyDir: demoAssembly({ 'dualgate:plans': PLANS.plans, 'dualgate:defaultPlan': PLANS.defaultPlan }),
    gatewayPort: 0,
    issuerPort: 0,
    audience: DEFAULT_LOCAL_AUDIENCE,
    authorizerCacheTtlSeconds: TTLS.authorizer,
    settingOverrides: { DUALGATE_KEY_CACHE_TTL_SECONDS: String(TTLS.key) },
    accessLog: (entry) => logLines.push(JSON.stringify(entry)),
    functionOutput: (line) => logLines.push(line),
  });
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

async function token(clientId: string, scopes: readonly string[]): Promise<string> {
  const response = await fetch(server.issuer.tokenUrl, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:secret`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: scopes.join(' ') }).toString(),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

async function call(path: string, credential: string, options: { method?: string; body?: unknown } = {}) {
  const response = await fetch(server.apis[0]!.url + path, {
    method: options.method ?? 'GET',
    headers: { authorization: `Bearer ${credential}`, ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
    requestId: response.headers.get('x-amzn-requestid'),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let admin: string;
const setPlan = async (sub: string, plan: string) =>
  call(`/consumers/${encodeURIComponent(sub)}`, admin, { method: 'PUT', body: { plan } });

describe('plans end to end (local mode, usage plans emulated)', () => {
  beforeAll(async () => {
    admin = await token('plan-admin', ['keys:read', 'keys:write', 'keys:admin']);
  });

  it('throttles a burst over the plan rate with 429 Too Many Requests after the burst, and leaves another consumer alone', async () => {
    expect((await setPlan('alice', 'tiny')).body).toEqual({ sub: 'alice', plan: 'tiny', assigned: true, ...NO_ENTITLEMENTS });
    const alice = await token('alice', ['keys:read', 'keys:write']);
    const bob = await token('bob', ['keys:read']);
    const statuses: number[] = [];
    let throttled: Awaited<ReturnType<typeof call>> | undefined;
    for (let index = 0; index < 6; index++) {
      const response = await call('/me', alice);
      statuses.push(response.status);
      if (response.status === 429) throttled ??= response;
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toContain(429);
    expect(throttled?.body).toEqual({ message: 'Too Many Requests', requestId: throttled?.requestId });
    // bob (no plan of his own: the default plan's shared bucket) is not throttled by alice.
    for (let index = 0; index < 5; index++) expect((await call('/me', bob)).status).toBe(200);
  });

  it("counts a consumer's key and its JWT in one bucket", async () => {
    expect((await setPlan('erin', 'tiny')).status).toBe(200);
    const erin = await token('erin', ['keys:read', 'keys:write']);
    // Creating the key is the first of erin's 3 burst tokens.
    const created = await call('/keys', erin, { method: 'POST', body: { name: 'erin key', scopes: ['keys:read'] } });
    expect(created.status).toBe(201);
    const key = created.body['key'] as string;
    expect((await call('/me', key)).status).toBe(200);
    expect((await call('/me', erin)).status).toBe(200);
    const overKey = await call('/me', key);
    const overJwt = await call('/me', erin);
    expect([overKey.status, overJwt.status]).toEqual([429, 429]);
  });

  it('stops a consumer at its quota with 429 Limit Exceeded, and reports the usage', async () => {
    expect((await setPlan('carol', 'quota4')).status).toBe(200);
    const carol = await token('carol', ['keys:read']);
    for (let index = 0; index < 4; index++) expect((await call('/me', carol)).status).toBe(200);
    const over = await call('/me', carol);
    expect(over).toMatchObject({ status: 429, body: { message: 'Limit Exceeded', requestId: over.requestId } });
    // GET counts too, so an admin reads carol's usage: 4 counted today, none left.
    const usage = await call('/consumers/carol', admin);
    expect(usage.body).toMatchObject({ sub: 'carol', plan: 'quota4', assigned: true, usage: { used: 4, remaining: 0 } });
    expect((usage.body['usage'] as { date: string }).date).toBe(new Date().toISOString().slice(0, 10));
  });

  it('applies a plan change within the cache bound (authorizer cache + key cache)', async () => {
    const dave = await token('dave', ['keys:read']);
    // On the default plan: many requests pass, and the authorizer's answer (shared key) is now cached.
    for (let index = 0; index < 6; index++) expect((await call('/me', dave)).status).toBe(200);
    expect((await setPlan('dave', 'tiny')).status).toBe(200);
    await sleep(PLAN_CHANGE_BOUND_MS);
    const statuses: number[] = [];
    for (let index = 0; index < 5; index++) statuses.push((await call('/me', dave)).status);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toContain(429);
    // And back: cleared, dave shares the default plan's bucket again within the bound, and his key is deleted.
    const keyIds = () => server.apis[0]!.usagePlans?.emulator.apiKeys().map((key) => key.id) ?? [];
    const before = keyIds();
    expect((await call('/consumers/dave', admin, { method: 'DELETE' })).body).toEqual({
      sub: 'dave',
      plan: 'free',
      assigned: false,
      ...NO_ENTITLEMENTS,
    });
    expect(keyIds()).toHaveLength(before.length - 1);
    await sleep(PLAN_CHANGE_BOUND_MS);
    for (let index = 0; index < 6; index++) expect((await call('/me', dave)).status).toBe(200);
  });

  it('lets only admins assign plans, refuses unknown plans, and shows a consumer only itself', async () => {
    const frank = await token('frank', ['keys:read', 'keys:write']);
    expect(await call('/consumers/frank', frank, { method: 'PUT', body: { plan: 'free' } })).toMatchObject({ status: 403 });
    expect(await call('/consumers/frank', frank, { method: 'DELETE' })).toMatchObject({ status: 403 });
    expect(await setPlan('frank', 'platinum')).toMatchObject({ status: 400, body: { field: 'plan' } });
    expect(await call('/consumers/frank', frank)).toMatchObject({
      status: 200,
      body: { sub: 'frank', plan: 'free', assigned: false, usage: null },
    });
    expect(await call('/consumers/alice', frank)).toMatchObject({ status: 403 });
    const audits = logLines.filter((line) => line.includes('"audit"') && line.includes('consumer.set-plan'));
    expect(audits.some((line) => line.includes('"sub":"alice"') && line.includes('"actorSub":"plan-admin"'))).toBe(true);
    // The usage key never reaches a client or a log line.
    const keys = server.apis[0]!.usagePlans?.emulator.snapshot().apiKeys.map((key) => key.value) ?? [];
    expect(keys.length).toBeGreaterThan(2);
    for (const value of keys) expect(logLines.join('\n')).not.toContain(value);
  });
});
