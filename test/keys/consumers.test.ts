/** The consumer routes with API Gateway mocked (aws-sdk-client-mock) and an in-memory consumer store. */
import {
  APIGatewayClient,
  APIGatewayServiceException,
  ConflictException,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  DeleteUsagePlanKeyCommand,
  GetUsageCommand,
  GetUsagePlanKeyCommand,
  GetUsagePlansCommand,
  LimitExceededException,
  NotFoundException,
} from '@aws-sdk/client-api-gateway';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { CONSUMER_OPERATION_NAMES, createKeysHandler } from '../../lambdas/keys/router';
import { AwsUsagePlanGateway } from '../../lambdas/keys/usage-plan-gateway';
import type { ConsumerStore, EntitlementRecord } from '../../lambdas/shared/consumer-store';
import type { KeyManagementStore } from '../../lambdas/shared/key-store';
import { KeyStoreUnavailableError, KeyWriteConflictError } from '../../lambdas/shared/key-store';
import { createLogger } from '../../lambdas/shared/logger';
import type { ConsumerRecord } from '../../lambdas/core/plans';
import { emfMetrics } from '../support/emf';
import { admin, alice, type TestCaller } from './harness';

/** The entitlement fields of a consumer with none (no portal.defaultScopes, none assigned). */
const NO_ENTITLEMENTS = { scopes: [], defaultScopes: [], entitledScopes: [] };

const apigw = mockClient(APIGatewayClient);
const OWNER = 'PlanStack-c8a1b2c3';
const PLANS = {
  usagePlanNames: { free: 'stack-free', pro: 'stack-pro' },
  defaultPlan: 'free',
  sharedUsageKey: 'dualgate-shared-0000000000000000',
  usageKeyOwner: OWNER,
};

function memoryStore(): ConsumerStore & { records: Map<string, ConsumerRecord> } {
  const records = new Map<string, ConsumerRecord>();
  const same = (a: ConsumerRecord | undefined, b: ConsumerRecord | undefined) =>
    a?.apiKeyId === b?.apiKeyId && a?.updatedAt === b?.updatedAt;
  return {
    records,
    getConsumer: async (sub) => records.get(sub),
    getConsumerConsistent: async (sub) => records.get(sub),
    putConsumer: async (next, expected) => {
      if (expected ? !same(records.get(next.sub), expected) : records.has(next.sub)) throw new KeyWriteConflictError('replace');
      records.set(next.sub, next);
    },
    deleteConsumer: async (expected) => {
      if (!same(records.get(expected.sub), expected)) throw new KeyWriteConflictError('replace');
      records.delete(expected.sub);
    },
  };
}

let store: ReturnType<typeof memoryStore>;
let logLines: string[];
let nowMs: number;

/** Entitlements kept in memory, for the PUTs that carry both fields. */
let entitlements: Map<string, EntitlementRecord>;

function handler() {
  return createKeysHandler({
    entitlements: {
      store: {
        getEntitlementsConsistent: async (sub) => entitlements.get(sub),
        putEntitlements: async (record) => void entitlements.set(record.sub, record),
      },
      defaultScopes: [],
    },
    store: {} as KeyManagementStore,
    keyPrefix: 'dg',
    adminScope: 'keys:admin',
    catalog: ['keys:read', 'keys:write', 'keys:admin'],
    logger: createLogger({ service: 'test', sink: (line) => logLines.push(line) }),
    nowMs: () => nowMs,
    consumers: {
      store,
      usagePlans: new AwsUsagePlanGateway(new APIGatewayClient({ region: 'eu-west-1' }), { namePrefix: OWNER, owner: OWNER }),
      plans: PLANS,
    },
  });
}

async function call(method: string, sub: string, caller: TestCaller, body?: unknown) {
  const event = {
    httpMethod: method,
    resource: '/consumers/{sub}',
    path: `/consumers/${sub}`,
    pathParameters: { sub },
    queryStringParameters: null,
    headers: {},
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { authorizer: { sub: caller.sub, scopes: caller.scopes.join(' '), authMethod: caller.authMethod } },
  } as unknown as APIGatewayProxyEvent;
  const result = await handler()(event);
  return { status: result.statusCode, json: JSON.parse(result.body) as Record<string, unknown> };
}

beforeEach(() => {
  apigw.reset();
  apigw.on(GetUsagePlansCommand).resolves({
    items: [
      { id: 'up-free', name: 'stack-free' },
      { id: 'up-pro', name: 'stack-pro' },
      { id: 'up-other', name: 'other-api-plan' },
    ],
  });
  apigw.on(CreateApiKeyCommand).resolves({ id: 'k-1' });
  apigw.on(CreateUsagePlanKeyCommand).resolves({});
  apigw.on(DeleteUsagePlanKeyCommand).resolves({});
  apigw.on(DeleteApiKeyCommand).resolves({});
  store = memoryStore();
  entitlements = new Map();
  logLines = [];
  nowMs = Date.parse('2026-06-01T12:00:00Z');
});

describe('PUT /consumers/{sub}', () => {
  it('creates an enabled API key with a random value, adds it to the plan usage plan, records it and audits', async () => {
    const response = await call('PUT', 'alice', admin, { plan: 'pro' });
    expect(response).toEqual({ status: 200, json: { sub: 'alice', plan: 'pro', assigned: true, ...NO_ENTITLEMENTS } });
    const created = apigw.commandCalls(CreateApiKeyCommand)[0]?.args[0].input;
    // Tagged in the same call: IAM lets the key API create and delete only keys with this API's owner tag.
    expect(created).toMatchObject({ enabled: true, tags: { 'dualgate:owner': OWNER } });
    expect(created?.name).toMatch(new RegExp(`^${OWNER}-consumer-[0-9a-f]{12}$`));
    expect(created?.value).toMatch(/^[A-Za-z0-9_-]{40}$/);
    expect(apigw.commandCalls(CreateUsagePlanKeyCommand, { usagePlanId: 'up-pro', keyId: 'k-1', keyType: 'API_KEY' })).toHaveLength(1);
    expect(store.records.get('alice')).toMatchObject({
      plan: 'pro',
      keyPlan: 'pro',
      apiKeyId: 'k-1',
      apiKeyValue: created?.value,
      updatedBy: 'admin-client',
    });
    // The key value never reaches the response or the audit line.
    expect(JSON.stringify(response)).not.toContain(created?.value as string);
    const audit = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line['action'] === 'consumer.set-plan');
    expect(audit).toMatchObject({ actorSub: 'admin-client', sub: 'alice', changes: { plan: { before: null, after: 'pro' } } });
    expect(logLines.join('\n')).not.toContain(created?.value as string);
  });

  it('moves an existing key from one usage plan to the other, keeping the key (and so its count)', async () => {
    await call('PUT', 'alice', admin, { plan: 'pro' });
    apigw.resetHistory();
    expect((await call('PUT', 'alice', admin, { plan: 'free' })).json).toEqual({
      sub: 'alice',
      plan: 'free',
      assigned: true,
      ...NO_ENTITLEMENTS,
    });
    expect(apigw.commandCalls(CreateApiKeyCommand)).toHaveLength(0);
    expect(apigw.commandCalls(DeleteUsagePlanKeyCommand, { usagePlanId: 'up-pro', keyId: 'k-1' })).toHaveLength(1);
    expect(apigw.commandCalls(CreateUsagePlanKeyCommand, { usagePlanId: 'up-free', keyId: 'k-1' })).toHaveLength(1);
  });

  it('answers 409 naming the 10,000-key limit when API Gateway refuses another key, and writes nothing', async () => {
    apigw.on(CreateApiKeyCommand).rejects(new LimitExceededException({ message: 'API key limit exceeded', $metadata: {} }));
    const response = await call('PUT', 'bob', admin, { plan: 'pro' });
    expect(response.status).toBe(409);
    expect(response.json['message']).toMatch(/10,000 API keys per account and Region/);
    expect(response.json['message']).toMatch(
      /DELETE \/consumers\/\{sub\} of a consumer that no longer needs a plan of its own frees its key/,
    );
    expect(store.records.size).toBe(0);
    expect(apigw.commandCalls(CreateUsagePlanKeyCommand)).toHaveLength(0);
  });

  it('refuses an unknown plan with 400 naming the field, and a non-admin with 403, before any API Gateway call', async () => {
    expect(await call('PUT', 'alice', admin, { plan: 'gold' })).toMatchObject({ status: 400, json: { field: 'plan' } });
    expect(await call('PUT', 'alice', admin, { plan: 'pro', extra: 1 })).toMatchObject({ status: 400 });
    expect(await call('PUT', 'alice', alice, { plan: 'pro' })).toMatchObject({ status: 403 });
    expect(apigw.calls()).toHaveLength(0);
  });

  it('deletes the fresh key and answers 503 when adding it to the usage plan fails, leaving no record', async () => {
    apigw.on(CreateUsagePlanKeyCommand).rejects(new Error('boom'));
    expect((await call('PUT', 'alice', admin, { plan: 'pro' })).status).toBe(503);
    expect(apigw.commandCalls(DeleteApiKeyCommand, { apiKey: 'k-1' })).toHaveLength(1);
    expect(store.records.size).toBe(0);
  });

  it('deletes the fresh key when the record write fails, unless reading back shows the write landed', async () => {
    const put = store.putConsumer;
    store.putConsumer = async () => {
      throw new KeyStoreUnavailableError('key table write failed');
    };
    expect((await call('PUT', 'alice', admin, { plan: 'pro' })).status).toBe(503);
    expect(apigw.commandCalls(DeleteUsagePlanKeyCommand, { usagePlanId: 'up-pro', keyId: 'k-1' })).toHaveLength(1);
    expect(apigw.commandCalls(DeleteApiKeyCommand, { apiKey: 'k-1' })).toHaveLength(1);
    // A write that landed and then timed out: the record names the key, so it stays.
    apigw.resetHistory();
    store.putConsumer = async (next, expected) => {
      await put(next, expected);
      throw new KeyStoreUnavailableError('timed out after the write');
    };
    expect(await call('PUT', 'bob', admin, { plan: 'pro' })).toEqual({
      status: 200,
      json: { sub: 'bob', plan: 'pro', assigned: true, ...NO_ENTITLEMENTS },
    });
    expect(apigw.commandCalls(DeleteApiKeyCommand)).toHaveLength(0);
    expect(store.records.get('bob')?.apiKeyId).toBe('k-1');
  });

  it('keeps the key and logs its id when the record write fails and cannot be read back', async () => {
    store.putConsumer = async () => {
      throw new KeyStoreUnavailableError('key table write failed');
    };
    store.getConsumerConsistent = async () => {
      if (apigw.commandCalls(CreateApiKeyCommand).length > 0) throw new KeyStoreUnavailableError('key table read failed');
      return undefined;
    };
    expect((await call('PUT', 'alice', admin, { plan: 'pro' })).status).toBe(503);
    expect(apigw.commandCalls(DeleteApiKeyCommand)).toHaveLength(0);
    const orphan = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line['reason'] === 'usage_key_orphaned');
    expect(orphan).toMatchObject({ apiKeyId: 'k-1' });
  });

  it('loses a race for the first record without leaving its key: deletes it, then applies its plan to the winner', async () => {
    // Another PUT of alice (plan free, key k-winner) writes its record between this PUT's read and its write.
    const put = store.putConsumer;
    store.putConsumer = async (next, expected) => {
      if (expected === undefined && !store.records.has('alice')) {
        store.records.set('alice', {
          sub: 'alice',
          plan: 'free',
          keyPlan: 'free',
          apiKeyId: 'k-winner',
          apiKeyValue: 'winner-value-000000000000',
          updatedAt: 't0',
          updatedBy: 'other-admin',
        });
      }
      await put(next, expected);
    };
    expect(await call('PUT', 'alice', admin, { plan: 'pro' })).toEqual({
      status: 200,
      json: { sub: 'alice', plan: 'pro', assigned: true, ...NO_ENTITLEMENTS },
    });
    expect(apigw.commandCalls(DeleteUsagePlanKeyCommand, { usagePlanId: 'up-pro', keyId: 'k-1' })).toHaveLength(1);
    expect(apigw.commandCalls(DeleteApiKeyCommand, { apiKey: 'k-1' })).toHaveLength(1);
    // The winner's key moved to pro: one key for alice, and the record names it.
    expect(apigw.commandCalls(DeleteUsagePlanKeyCommand, { usagePlanId: 'up-free', keyId: 'k-winner' })).toHaveLength(1);
    expect(apigw.commandCalls(CreateUsagePlanKeyCommand, { usagePlanId: 'up-pro', keyId: 'k-winner' })).toHaveLength(1);
    expect(store.records.get('alice')).toMatchObject({ plan: 'pro', keyPlan: 'pro', apiKeyId: 'k-winner' });
  });

  it('answers 409 when it keeps losing races, deleting each key it made', async () => {
    store.putConsumer = async () => {
      throw new KeyWriteConflictError('replace');
    };
    expect((await call('PUT', 'carol', admin, { plan: 'pro' })).status).toBe(409);
    expect(apigw.commandCalls(CreateApiKeyCommand).length).toBeGreaterThan(0);
    expect(apigw.commandCalls(DeleteApiKeyCommand)).toHaveLength(apigw.commandCalls(CreateApiKeyCommand).length);
  });
});

/**
 * API Gateway's usage-plan keys as state: a key is in at most one usage plan (every plan covers the one stage);
 * adding it again answers ConflictException, as does adding it to a second plan; `failAddTo` makes adding to a plan fail.
 */
function usagePlanMembership() {
  const planOfKey = new Map<string, string>();
  const failAddTo = new Set<string>();
  const notFound = () => new NotFoundException({ message: 'Invalid Usage Plan Key identifier specified', $metadata: {} });
  apigw.on(CreateUsagePlanKeyCommand).callsFake(async (input: { usagePlanId: string; keyId: string }) => {
    if (failAddTo.has(input.usagePlanId)) throw new Error('connection reset');
    if (planOfKey.has(input.keyId)) throw new ConflictException({ message: 'Usage Plan Key already exists', $metadata: {} });
    planOfKey.set(input.keyId, input.usagePlanId);
    return {};
  });
  apigw.on(DeleteUsagePlanKeyCommand).callsFake(async (input: { usagePlanId: string; keyId: string }) => {
    if (planOfKey.get(input.keyId) !== input.usagePlanId) throw notFound();
    planOfKey.delete(input.keyId);
    return {};
  });
  apigw.on(GetUsagePlanKeyCommand).callsFake(async (input: { usagePlanId: string; keyId: string }) => {
    if (planOfKey.get(input.keyId) !== input.usagePlanId) throw notFound();
    return { id: input.keyId, type: 'API_KEY' };
  });
  return { planOfKey, failAddTo };
}

const USAGE_PLAN_IDS: Record<string, string> = { free: 'up-free', pro: 'up-pro' };

describe('PUT /consumers/{sub}: the key stays where the record says', () => {
  it('issue 3: a PUT that fails to write leaves the key in the plan the record names, and the retry of the old plan finds it there', async () => {
    const { planOfKey } = usagePlanMembership();
    expect((await call('PUT', 'alice', admin, { plan: 'free' })).status).toBe(200);
    expect(planOfKey.get('k-1')).toBe('up-free');
    const put = store.putConsumer;
    store.putConsumer = async () => {
      throw new KeyStoreUnavailableError('key table write failed');
    };
    expect((await call('PUT', 'alice', admin, { plan: 'pro' })).status).toBe(503);
    expect(planOfKey.get('k-1')).toBe(USAGE_PLAN_IDS[store.records.get('alice')?.keyPlan as string]);
    store.putConsumer = put;
    expect(await call('PUT', 'alice', admin, { plan: 'free' })).toEqual({
      status: 200,
      json: { sub: 'alice', plan: 'free', assigned: true, ...NO_ENTITLEMENTS },
    });
    expect(store.records.get('alice')).toMatchObject({ plan: 'free', keyPlan: 'free' });
    expect(planOfKey.get('k-1')).toBe('up-free');
  });

  it('moves the key back and restores the record when the write after the move fails (and did not land)', async () => {
    const { planOfKey } = usagePlanMembership();
    await call('PUT', 'alice', admin, { plan: 'free' });
    const before = store.records.get('alice');
    const put = store.putConsumer;
    // Every write that would record the key in pro fails.
    store.putConsumer = async (next, expected) => {
      if (next.keyPlan === 'pro') throw new KeyStoreUnavailableError('key table write failed');
      await put(next, expected);
    };
    expect((await call('PUT', 'alice', admin, { plan: 'pro' })).status).toBe(503);
    expect(planOfKey.get('k-1')).toBe('up-free');
    expect(store.records.get('alice')).toEqual(before);
    expect(logLines.some((line) => line.includes('usage_key_move_unsettled'))).toBe(false);
  });

  it('when the key cannot be moved back, logs its id and leaves the record unsettled; retrying the PUT moves the key', async () => {
    const { planOfKey, failAddTo } = usagePlanMembership();
    await call('PUT', 'alice', admin, { plan: 'free' });
    const put = store.putConsumer;
    store.putConsumer = async (next, expected) => {
      if (next.keyPlan === 'pro') throw new KeyStoreUnavailableError('key table write failed');
      await put(next, expected);
    };
    failAddTo.add('up-free');
    expect((await call('PUT', 'alice', admin, { plan: 'pro' })).status).toBe(503);
    const unsettled = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line['reason'] === 'usage_key_move_unsettled');
    expect(unsettled).toMatchObject({ level: 'ERROR', apiKeyId: 'k-1' });
    // The record says pro was asked and free is where the key last was for certain: a move to finish.
    expect(store.records.get('alice')).toMatchObject({ plan: 'pro', keyPlan: 'free' });
    store.putConsumer = put;
    failAddTo.clear();
    apigw.resetHistory();
    expect(await call('PUT', 'alice', admin, { plan: 'pro' })).toEqual({
      status: 200,
      json: { sub: 'alice', plan: 'pro', assigned: true, ...NO_ENTITLEMENTS },
    });
    expect(planOfKey.get('k-1')).toBe('up-pro');
    expect(store.records.get('alice')).toMatchObject({ plan: 'pro', keyPlan: 'pro' });
    expect(apigw.commandCalls(CreateApiKeyCommand)).toHaveLength(0);
  });

  it('finishes a move that stopped after the first write (the key still in the old usage plan) on the next PUT of either plan', async () => {
    const { planOfKey } = usagePlanMembership();
    const interrupted: ConsumerRecord = {
      sub: 'alice',
      plan: 'pro',
      keyPlan: 'free',
      apiKeyId: 'k-1',
      apiKeyValue: 'alice-value-0000000000000',
      updatedAt: 't0',
      updatedBy: 'admin',
    };
    planOfKey.set('k-1', 'up-free');
    store.records.set('alice', interrupted);
    expect((await call('PUT', 'alice', admin, { plan: 'pro' })).status).toBe(200);
    expect([planOfKey.get('k-1'), store.records.get('alice')?.keyPlan]).toEqual(['up-pro', 'pro']);
    // Stopped again, the other way round (the key already in pro): a PUT of free moves it back.
    store.records.set('alice', { ...interrupted, plan: 'free', keyPlan: 'pro' });
    planOfKey.set('k-1', 'up-pro');
    expect((await call('PUT', 'alice', admin, { plan: 'free' })).status).toBe(200);
    expect([planOfKey.get('k-1'), store.records.get('alice')?.keyPlan]).toEqual(['up-free', 'free']);
    // And one that stopped after the key had already moved: adding it again is no error.
    store.records.set('alice', { ...interrupted, plan: 'pro', keyPlan: 'free' });
    planOfKey.set('k-1', 'up-pro');
    expect((await call('PUT', 'alice', admin, { plan: 'pro' })).status).toBe(200);
    expect([planOfKey.get('k-1'), store.records.get('alice')?.keyPlan]).toEqual(['up-pro', 'pro']);
  });

  it('costs one read and no API Gateway call when the record is settled in the plan asked for', async () => {
    await call('PUT', 'alice', admin, { plan: 'pro' });
    apigw.resetHistory();
    expect(await call('PUT', 'alice', admin, { plan: 'pro' })).toEqual({
      status: 200,
      json: { sub: 'alice', plan: 'pro', assigned: true, ...NO_ENTITLEMENTS },
    });
    expect(apigw.calls()).toHaveLength(0);
  });

  it('a DELETE of a record left unsettled takes the key out of every usage plan it may be in', async () => {
    const { planOfKey } = usagePlanMembership();
    store.records.set('alice', {
      sub: 'alice',
      plan: 'pro',
      keyPlan: 'free',
      apiKeyId: 'k-1',
      apiKeyValue: 'alice-value-0000000000000',
      updatedAt: 't0',
      updatedBy: 'admin',
    });
    planOfKey.set('k-1', 'up-pro');
    expect((await call('DELETE', 'alice', admin)).status).toBe(200);
    expect(planOfKey.has('k-1')).toBe(false);
    expect(store.records.has('alice')).toBe(false);
  });
});

describe('PUT /consumers/{sub} with both plan and scopes', () => {
  const audits = () => logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line['message'] === 'audit');
  const before: EntitlementRecord = {
    sub: 'alice',
    scopes: ['keys:read'],
    updatedAt: '2026-05-01T00:00:00.000Z',
    updatedBy: 'admin-client',
  };

  it('refuses an unknown plan with 400 before touching the entitlements (nothing written, nothing audited)', async () => {
    entitlements.set('alice', before);
    expect(await call('PUT', 'alice', admin, { scopes: [], plan: 'prp' })).toMatchObject({ status: 400, json: { field: 'plan' } });
    expect(entitlements.get('alice')).toEqual(before);
    expect(audits()).toEqual([]);
  });

  it('answers 503 and leaves the entitlements as they were when the usage plan cannot be found or the key cannot move', async () => {
    entitlements.set('alice', before);
    apigw.on(GetUsagePlansCommand).resolves({ items: [{ id: 'up-free', name: 'stack-free' }] });
    expect((await call('PUT', 'alice', admin, { scopes: [], plan: 'pro' })).status).toBe(503);
    expect(entitlements.get('alice')).toEqual(before);
    apigw.on(GetUsagePlansCommand).resolves({
      items: [
        { id: 'up-free', name: 'stack-free' },
        { id: 'up-pro', name: 'stack-pro' },
      ],
    });
    apigw
      .on(CreateUsagePlanKeyCommand)
      .rejects(new APIGatewayServiceException({ name: 'ServiceUnavailableException', $fault: 'server', $metadata: {}, message: 'down' }));
    expect((await call('PUT', 'alice', admin, { scopes: [], plan: 'pro' })).status).toBe(503);
    expect(entitlements.get('alice')).toEqual(before);
    expect(audits().filter((line) => line['action'] === 'consumer.set-scopes')).toEqual([]);
  });

  it('with both valid, assigns the plan then replaces the entitlements, auditing each', async () => {
    entitlements.set('alice', before);
    expect(await call('PUT', 'alice', admin, { scopes: ['keys:write'], plan: 'pro' })).toMatchObject({
      status: 200,
      json: { plan: 'pro', assigned: true, scopes: ['keys:write'] },
    });
    expect(entitlements.get('alice')?.scopes).toEqual(['keys:write']);
    expect(audits().map((line) => line['action'])).toEqual(['consumer.set-plan', 'consumer.set-scopes']);
  });
});

describe('GET and DELETE /consumers/{sub}', () => {
  it("shows a consumer its own plan and today's usage from GetUsage, and 403 to other non-admins", async () => {
    await call('PUT', 'alice', admin, { plan: 'pro' });
    apigw.on(GetUsageCommand).resolves({ items: { 'k-1': [[42, 958]] } });
    expect(await call('GET', 'alice', alice)).toEqual({
      status: 200,
      json: { sub: 'alice', plan: 'pro', assigned: true, ...NO_ENTITLEMENTS, usage: { date: '2026-06-01', used: 42, remaining: 958 } },
    });
    expect(
      apigw.commandCalls(GetUsageCommand, { usagePlanId: 'up-pro', keyId: 'k-1', startDate: '2026-06-01', endDate: '2026-06-01' }),
    ).toHaveLength(1);
    expect((await call('GET', 'bob', alice)).status).toBe(403);
    expect(await call('GET', 'bob', admin)).toEqual({
      status: 200,
      json: { sub: 'bob', plan: 'free', assigned: false, ...NO_ENTITLEMENTS, usage: null },
    });
  });

  it('clears back to the default: the record loses its plan, the key leaves its usage plan and is deleted, then the record goes', async () => {
    await call('PUT', 'alice', admin, { plan: 'pro' });
    const steps: string[] = [];
    const { putConsumer, deleteConsumer } = store;
    store.putConsumer = async (next, expected) => {
      steps.push(`put record (plan ${next.plan ?? 'none'})`);
      await putConsumer(next, expected);
    };
    store.deleteConsumer = async (expected) => {
      steps.push('delete record');
      await deleteConsumer(expected);
    };
    apigw.on(DeleteUsagePlanKeyCommand).callsFake((input: { usagePlanId: string; keyId: string }) => {
      steps.push(`remove ${input.keyId} from ${input.usagePlanId}`);
      return {};
    });
    apigw.on(DeleteApiKeyCommand).callsFake((input: { apiKey: string }) => {
      steps.push(`delete key ${input.apiKey}`);
      return {};
    });
    expect(await call('DELETE', 'alice', alice)).toMatchObject({ status: 403 });
    expect(await call('DELETE', 'alice', admin)).toEqual({
      status: 200,
      json: { sub: 'alice', plan: 'free', assigned: false, ...NO_ENTITLEMENTS },
    });
    expect(steps).toEqual(['put record (plan none)', 'remove k-1 from up-pro', 'delete key k-1', 'delete record']);
    expect(store.records.has('alice')).toBe(false);
    const audit = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line['action'] === 'consumer.clear-plan');
    expect(audit).toMatchObject({
      actorSub: 'admin-client',
      sub: 'alice',
      changes: { plan: { before: 'pro', after: null } },
      usageKeyId: 'k-1',
      usageKeyDeleted: true,
    });
  });

  it('is idempotent: a consumer without a record answers 200 with nothing deleted and nothing audited', async () => {
    expect(await call('DELETE', 'nobody', admin)).toEqual({
      status: 200,
      json: { sub: 'nobody', plan: 'free', assigned: false, ...NO_ENTITLEMENTS },
    });
    expect(apigw.commandCalls(DeleteApiKeyCommand)).toHaveLength(0);
    expect(logLines.some((line) => line.includes('"action":"consumer.clear-plan"'))).toBe(false);
  });

  it('after a clearing stopped half-way, the consumer is on the shared key and the next DELETE finishes it', async () => {
    await call('PUT', 'alice', admin, { plan: 'pro' });
    apigw.on(DeleteApiKeyCommand).rejects(new Error('connection reset'));
    expect((await call('DELETE', 'alice', admin)).status).toBe(503);
    // The record has no plan: the authorizer hands out the shared key, never the half-deleted one.
    expect(store.records.get('alice')?.plan).toBeUndefined();
    expect((await call('GET', 'alice', admin)).json).toEqual({
      sub: 'alice',
      plan: 'free',
      assigned: false,
      ...NO_ENTITLEMENTS,
      usage: null,
    });
    // Gone already by the time of the retry: NotFoundException is fine.
    apigw.on(DeleteApiKeyCommand).rejects(new NotFoundException({ message: 'Invalid API Key identifier specified', $metadata: {} }));
    expect((await call('DELETE', 'alice', admin)).status).toBe(200);
    expect(store.records.has('alice')).toBe(false);
  });

  it('a PUT finishes a clearing stopped half-way (or one made by a dualgate that kept keys) and starts with a new key', async () => {
    store.records.set('alice', {
      sub: 'alice',
      keyPlan: 'pro',
      apiKeyId: 'k-old',
      apiKeyValue: 'old-value-000000000000000',
      updatedAt: 't0',
      updatedBy: 'admin',
    });
    apigw.on(CreateApiKeyCommand).resolves({ id: 'k-new' });
    expect(await call('PUT', 'alice', admin, { plan: 'pro' })).toEqual({
      status: 200,
      json: { sub: 'alice', plan: 'pro', assigned: true, ...NO_ENTITLEMENTS },
    });
    expect(apigw.commandCalls(DeleteApiKeyCommand, { apiKey: 'k-old' })).toHaveLength(1);
    expect(apigw.commandCalls(CreateUsagePlanKeyCommand, { usagePlanId: 'up-pro', keyId: 'k-old' })).toHaveLength(0);
    expect(store.records.get('alice')).toMatchObject({ plan: 'pro', apiKeyId: 'k-new' });
  });

  it('when IAM refuses the deletion (an untagged key), deletes the record anyway and logs the key id for an operator', async () => {
    await call('PUT', 'alice', admin, { plan: 'pro' });
    apigw.on(DeleteApiKeyCommand).rejects(
      new APIGatewayServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
        message: 'not authorized to perform: apigateway:DELETE',
      }),
    );
    expect((await call('DELETE', 'alice', admin)).status).toBe(200);
    expect(store.records.has('alice')).toBe(false);
    // Out of its usage plan, so nothing counts against it while it waits.
    expect(apigw.commandCalls(DeleteUsagePlanKeyCommand, { usagePlanId: 'up-pro', keyId: 'k-1' })).toHaveLength(1);
    const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.find((line) => line['reason'] === 'usage_key_delete_refused')).toMatchObject({ level: 'ERROR', apiKeyId: 'k-1' });
    expect(entries.find((line) => line['action'] === 'consumer.clear-plan')).toMatchObject({ usageKeyId: 'k-1', usageKeyDeleted: false });
  });

  it('treats a missing usage-plan membership as already removed', async () => {
    await call('PUT', 'alice', admin, { plan: 'pro' });
    apigw.on(DeleteUsagePlanKeyCommand).rejects(new NotFoundException({ message: 'Invalid Usage Plan Key', $metadata: {} }));
    expect((await call('PUT', 'alice', admin, { plan: 'free' })).status).toBe(200);
  });
});

describe('metric lines of the consumer routes', () => {
  it('name each route in the operation dimension (bounded names, never the sub)', async () => {
    await call('PUT', 'auth0|alice', admin, { plan: 'pro' });
    await call('GET', 'auth0|alice', admin);
    await call('DELETE', 'auth0|alice', admin);
    await call('PUT', 'auth0|alice', alice, { plan: 'pro' });
    const lines = logLines.filter((line) => line.includes('"key API request"'));
    const summary = lines.map((line) => {
      const metrics = emfMetrics(line);
      for (const metric of metrics)
        expect(metric.dimensionSets).toEqual([{ service: 'test', operation: expect.any(String) }, { service: 'test' }]);
      const value = (name: string) => metrics.find((metric) => metric.name === name)?.values[0];
      return [metrics[0]?.dimensionSets[0]?.['operation'], value('KeyApiRequests'), value('KeyApiClientErrors')];
    });
    expect(summary).toEqual([
      ['consumer.set', 1, 0],
      ['consumer.get', 1, 0],
      ['consumer.clear-plan', 1, 0],
      ['consumer.set', 1, 1],
    ]);
    expect(Object.values(CONSUMER_OPERATION_NAMES).sort()).toEqual(['consumer.clear-plan', 'consumer.get', 'consumer.set']);
    expect(lines.join('\n')).not.toContain('auth0|alice');
  });
});
