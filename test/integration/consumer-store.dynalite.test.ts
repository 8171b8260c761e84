/**
 * Consumer records in a real (dynalite) key table, the authorizer's usage identifier read through them, and the
 * consumer routes against that table and the emulated API Gateway control plane (the real SDK client): no
 * consumer key is left behind by a race, a failure or a clearing.
 */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UsageIdentifiers } from '../../lambdas/authorizer/usage-identifier';
import { createKeysHandler, type KeysHandler } from '../../lambdas/keys/router';
import {
  AwsUsagePlanGateway,
  createApiGatewayClient,
  UsagePlanUnavailableError,
  type UsagePlanGateway,
} from '../../lambdas/keys/usage-plan-gateway';
import { DynamoConsumerStore, consumerItemKey, type ConsumerStore } from '../../lambdas/shared/consumer-store';
import { KeyStore, KeyStoreUnavailableError, KeyWriteConflictError } from '../../lambdas/shared/key-store';
import type { ConsumerRecord } from '../../lambdas/core/plans';
import {
  LOCAL_SHARED_USAGE_KEY,
  LOCAL_USAGE_KEY_OWNER,
  startLocalUsagePlans,
  type LocalUsagePlans,
} from '../../lib/local/usage-plans/local-usage-plans';
import { DEMO_CATALOG } from '../support/demo-app';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { captureLogger } from '../support/logs';

/** The entitlement fields of a consumer with none (no portal.defaultScopes, none assigned). */
const NO_ENTITLEMENTS = { scopes: [], defaultScopes: [], entitledScopes: [] };

const SHARED = 'dualgate-shared-test-usage-key';

describe('consumer records on dynalite', () => {
  let dynamo: LocalDynamo;
  let store: DynamoConsumerStore;
  let tableName: string;
  beforeAll(async () => {
    dynamo = await startDynalite();
    tableName = await dynamo.createTable();
    store = new DynamoConsumerStore(dynamo.client, tableName);
  });
  afterAll(async () => {
    await dynamo?.close();
  });

  const record = (overrides: Partial<ConsumerRecord> = {}): ConsumerRecord => ({
    sub: 'auth0|alice',
    plan: 'pro',
    keyPlan: 'pro',
    apiKeyId: 'k1',
    apiKeyValue: 'value-of-alice-usage-key-000',
    updatedAt: '2026-01-01T00:00:00.000Z',
    updatedBy: 'admin',
    ...overrides,
  });

  it('writes a record once, reads it back, and refuses a second creation or a stale update', async () => {
    await store.putConsumer(record(), undefined);
    expect(await store.getConsumer('auth0|alice')).toEqual(record());
    await expect(store.putConsumer(record(), undefined)).rejects.toBeInstanceOf(KeyWriteConflictError);
    const { plan: _plan, ...cleared } = record({ updatedAt: '2026-01-02T00:00:00.000Z' });
    await store.putConsumer(cleared, record());
    expect(await store.getConsumerConsistent('auth0|alice')).toEqual(cleared);
    await expect(store.putConsumer(record({ updatedAt: '2026-01-03T00:00:00.000Z' }), record())).rejects.toBeInstanceOf(
      KeyWriteConflictError,
    );
  });

  it('keeps consumer items out of the byOwner and byId indexes (no keyId, no owner)', async () => {
    for (const [index, field] of [
      ['byOwner', 'owner'],
      ['byId', 'keyId'],
    ] as const) {
      const output = await dynamo.client.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: index,
          KeyConditionExpression: '#f = :v',
          ExpressionAttributeNames: { '#f': field },
          ExpressionAttributeValues: { ':v': { S: 'auth0|alice' } },
        }),
      );
      expect(output.Items).toEqual([]);
    }
    expect(consumerItemKey('x')).not.toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives the authorizer the consumer key while a plan is assigned, the shared key otherwise, and a change within the cache TTL', async () => {
    let nowMs = 1_000_000;
    const identifiers = new UsageIdentifiers({
      lookup: store,
      sharedUsageKey: SHARED,
      cacheTtlSeconds: 2,
      staleIfErrorSeconds: 0,
      maxCacheEntries: 100,
      nowMs: () => nowMs,
    });
    await store.putConsumer(record({ sub: 'bob', updatedAt: 't1' }), undefined);
    expect(await identifiers.identifierFor('bob')).toBe('value-of-alice-usage-key-000');
    expect(await identifiers.identifierFor('nobody')).toBe(SHARED);
    const { plan: _plan, ...cleared } = record({ sub: 'bob', updatedAt: 't2' });
    await store.putConsumer(cleared, record({ sub: 'bob', updatedAt: 't1' }));
    // Within the TTL the cached identifier stands (synchronously: no read)...
    nowMs += 1999;
    expect(identifiers.identifierFor('bob')).toBe('value-of-alice-usage-key-000');
    // ...and once it passes, the next decision reads the change.
    nowMs += 1;
    expect(await identifiers.identifierFor('bob')).toBe(SHARED);
    expect(identifiers.reads).toBe(3);
  });
});

describe('consumer routes on dynalite and the emulated control plane', () => {
  let dynamo: LocalDynamo;
  let plans: LocalUsagePlans;
  let tableName: string;
  let store: DynamoConsumerStore;
  let gateway: AwsUsagePlanGateway;
  beforeAll(async () => {
    dynamo = await startDynalite();
    plans = await startLocalUsagePlans({
      plans: { free: { rateLimitPerSecond: 50, burstLimit: 50 }, pro: { rateLimitPerSecond: 100, burstLimit: 100 } },
      defaultPlan: 'free',
      host: '127.0.0.1',
    });
    const client = createApiGatewayClient({
      endpoint: plans.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    gateway = new AwsUsagePlanGateway(client, { owner: LOCAL_USAGE_KEY_OWNER });
  }, 60_000);
  afterAll(async () => {
    await plans?.stop();
    await dynamo?.close();
  });
  beforeEach(async () => {
    tableName = await dynamo.createTable();
    store = new DynamoConsumerStore(dynamo.client, tableName);
  });

  const handlerWith = (consumerStore: ConsumerStore, usagePlans: UsagePlanGateway): KeysHandler =>
    createKeysHandler({
      catalog: DEMO_CATALOG,
      store: new KeyStore(dynamo.client, tableName),
      keyPrefix: 'dg',
      adminScope: 'keys:admin',
      logger: captureLogger().logger,
      consumers: { store: consumerStore, usagePlans, plans: plans.runtimePlans },
    });
  const request = (handler: KeysHandler, method: string, sub: string, body?: unknown) =>
    handler({
      httpMethod: method,
      resource: '/consumers/{sub}',
      path: `/consumers/${sub}`,
      pathParameters: { sub },
      body: body === undefined ? null : JSON.stringify(body),
      isBase64Encoded: false,
      requestContext: { authorizer: { sub: 'ops', scopes: 'keys:admin keys:read keys:write', authMethod: 'jwt' } },
    } as unknown as APIGatewayProxyEvent).then((result) => ({
      status: result.statusCode,
      json: JSON.parse(result.body) as Record<string, unknown>,
    }));
  /** The emulator's consumer keys (all but the shared one), with the usage plan each is in. */
  const consumerKeys = () => {
    const snapshot = plans.emulator.snapshot();
    return snapshot.apiKeys
      .filter((key) => key.id !== LOCAL_SHARED_USAGE_KEY.id)
      .map((key) => ({
        id: key.id,
        tags: key.tags,
        usagePlanId: snapshot.planKeys.find((member) => member.keyId === key.id)?.usagePlanId,
      }));
  };
  /** A store whose first two consistent reads wait for each other: two requests both see "no record yet". */
  const racingStore = (): ConsumerStore => {
    let waiting: (() => void) | undefined;
    let reads = 0;
    return {
      getConsumer: (sub) => store.getConsumer(sub),
      putConsumer: (next, expected) => store.putConsumer(next, expected),
      deleteConsumer: (expected) => store.deleteConsumer(expected),
      getConsumerConsistent: async (sub) => {
        const record = await store.getConsumerConsistent(sub);
        if (++reads <= 2) {
          if (waiting) waiting();
          else await new Promise<void>((resolve) => (waiting = resolve));
        }
        return record;
      },
    };
  };
  /** The real client with some calls replaced. */
  const gatewayWith = (overrides: Partial<UsagePlanGateway>): UsagePlanGateway => ({
    usagePlanId: (name) => gateway.usagePlanId(name),
    createUsageKey: (sub) => gateway.createUsageKey(sub),
    addToPlan: (planId, keyId) => gateway.addToPlan(planId, keyId),
    removeFromPlan: (planId, keyId) => gateway.removeFromPlan(planId, keyId),
    deleteUsageKey: (keyId) => gateway.deleteUsageKey(keyId),
    usageOn: (planId, keyId, date) => gateway.usageOn(planId, keyId, date),
    ...overrides,
  });
  const counting = () => {
    const created: string[] = [];
    const createUsageKey = async (sub: string) => {
      const key = await gateway.createUsageKey(sub);
      created.push(key.id);
      return key;
    };
    return { created, usagePlans: gatewayWith({ createUsageKey }) };
  };
  const baseline = () => new Set(consumerKeys().map((key) => key.id));
  const fresh = (before: Set<string>) => consumerKeys().filter((key) => !before.has(key.id));

  it('two concurrent first PUTs of one consumer leave exactly one key, in the plan, named by the record', async () => {
    const before = baseline();
    const { created, usagePlans } = counting();
    const handler = handlerWith(racingStore(), usagePlans);
    const answers = await Promise.all([
      request(handler, 'PUT', 'auth0|race', { plan: 'pro' }),
      request(handler, 'PUT', 'auth0|race', { plan: 'pro' }),
    ]);
    // Both saw no record and made a key: the race happened.
    expect(created).toHaveLength(2);
    expect(answers).toEqual([
      { status: 200, json: { sub: 'auth0|race', plan: 'pro', assigned: true, ...NO_ENTITLEMENTS } },
      { status: 200, json: { sub: 'auth0|race', plan: 'pro', assigned: true, ...NO_ENTITLEMENTS } },
    ]);
    const record = await store.getConsumerConsistent('auth0|race');
    expect(fresh(before)).toEqual([{ id: record?.apiKeyId, tags: { 'dualgate:owner': LOCAL_USAGE_KEY_OWNER }, usagePlanId: 'local-pro' }]);
    expect(plans.emulator.admit(record?.apiKeyValue)).toBe('ok');
  });

  it('two concurrent first PUTs with different plans leave one key, in the plan the record names', async () => {
    const before = baseline();
    const { created, usagePlans } = counting();
    const handler = handlerWith(racingStore(), usagePlans);
    const answers = await Promise.all([
      request(handler, 'PUT', 'split', { plan: 'pro' }),
      request(handler, 'PUT', 'split', { plan: 'free' }),
    ]);
    expect(created).toHaveLength(2);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    const record = await store.getConsumerConsistent('split');
    const keys = fresh(before);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ id: record?.apiKeyId, usagePlanId: `local-${record?.plan}` });
  });

  it('deletes the fresh key when adding it to the usage plan fails', async () => {
    const before = baseline();
    const { created, usagePlans } = counting();
    const failing = gatewayWith({
      createUsageKey: usagePlans.createUsageKey,
      addToPlan: async () => {
        throw new UsagePlanUnavailableError('CreateUsagePlanKey failed');
      },
    });
    expect((await request(handlerWith(store, failing), 'PUT', 'unlucky', { plan: 'pro' })).status).toBe(503);
    expect(created).toHaveLength(1);
    expect(fresh(before)).toEqual([]);
    expect(await store.getConsumerConsistent('unlucky')).toBeUndefined();
  });

  it('issue 3: a plan change whose last write fails puts the key back; record and usage plan agree, and a retry moves it', async () => {
    const handler = handlerWith(store, gateway);
    expect((await request(handler, 'PUT', 'mover', { plan: 'free' })).status).toBe(200);
    const planOf = (keyId: string | undefined) => consumerKeys().find((key) => key.id === keyId)?.usagePlanId;
    // The table refuses every write that would record the key in pro.
    const failing: ConsumerStore = {
      getConsumer: (sub) => store.getConsumer(sub),
      getConsumerConsistent: (sub) => store.getConsumerConsistent(sub),
      deleteConsumer: (expected) => store.deleteConsumer(expected),
      putConsumer: async (next, expected) => {
        if (next.keyPlan === 'pro') throw new KeyStoreUnavailableError('key table write failed');
        await store.putConsumer(next, expected);
      },
    };
    expect((await request(handlerWith(failing, gateway), 'PUT', 'mover', { plan: 'pro' })).status).toBe(503);
    const after = await store.getConsumerConsistent('mover');
    expect(after).toMatchObject({ plan: 'free', keyPlan: 'free' });
    expect(planOf(after?.apiKeyId)).toBe('local-free');
    expect(await request(handler, 'PUT', 'mover', { plan: 'pro' })).toEqual({
      status: 200,
      json: { sub: 'mover', plan: 'pro', assigned: true, ...NO_ENTITLEMENTS },
    });
    expect(planOf(after?.apiKeyId)).toBe('local-pro');
    expect(plans.emulator.admit(after?.apiKeyValue)).toBe('ok');
  });

  it('a PUT finishes a move that stopped after the key had moved: adding it again to its usage plan is no error', async () => {
    const handler = handlerWith(store, gateway);
    expect((await request(handler, 'PUT', 'halfway', { plan: 'free' })).status).toBe(200);
    const settled = (await store.getConsumerConsistent('halfway')) as ConsumerRecord;
    // As a crash between the move and the last write leaves it: the record unsettled, the key already in pro.
    await store.putConsumer({ ...settled, plan: 'pro', updatedAt: '2026-01-01T00:00:00.000Z' }, settled);
    await gateway.removeFromPlan('local-free', settled.apiKeyId);
    await gateway.addToPlan('local-pro', settled.apiKeyId);
    expect(await request(handler, 'PUT', 'halfway', { plan: 'pro' })).toEqual({
      status: 200,
      json: { sub: 'halfway', plan: 'pro', assigned: true, ...NO_ENTITLEMENTS },
    });
    expect(await store.getConsumerConsistent('halfway')).toMatchObject({ plan: 'pro', keyPlan: 'pro' });
    expect(consumerKeys().find((key) => key.id === settled.apiKeyId)?.usagePlanId).toBe('local-pro');
  });

  it('DELETE deletes the key and the record (the shared key from then on), and is idempotent', async () => {
    const before = baseline();
    const handler = handlerWith(store, gateway);
    expect((await request(handler, 'PUT', 'leaver', { plan: 'pro' })).status).toBe(200);
    const { apiKeyValue } = (await store.getConsumerConsistent('leaver')) as ConsumerRecord;
    expect(fresh(before)).toHaveLength(1);
    expect(await request(handler, 'DELETE', 'leaver')).toEqual({
      status: 200,
      json: { sub: 'leaver', plan: 'free', assigned: false, ...NO_ENTITLEMENTS },
    });
    expect(fresh(before)).toEqual([]);
    expect(await store.getConsumerConsistent('leaver')).toBeUndefined();
    expect(plans.emulator.admit(apiKeyValue)).toBe('forbidden');
    const identifiers = new UsageIdentifiers({
      lookup: store,
      sharedUsageKey: SHARED,
      cacheTtlSeconds: 0,
      staleIfErrorSeconds: 0,
      maxCacheEntries: 10,
    });
    expect(await identifiers.identifierFor('leaver')).toBe(SHARED);
    expect(await request(handler, 'DELETE', 'leaver')).toEqual({
      status: 200,
      json: { sub: 'leaver', plan: 'free', assigned: false, ...NO_ENTITLEMENTS },
    });
  });
});
