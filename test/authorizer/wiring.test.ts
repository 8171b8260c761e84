/**
 * The authorizer as buildAuthorizer wires it: the key table (the AWS SDK and its client) loads only when a decision
 * needs it, once per container, and its failures keep the decision's reason codes and stale-if-error rules.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { KeyTableStores } from '../../lambdas/authorizer/on-demand-key-table';
import { buildAuthorizer, loadsAtInit } from '../../lambdas/authorizer/wiring';
import { itemFromRecord } from '../../lambdas/core/key-record';
import type { ConsumerRecord } from '../../lambdas/core/plans';
import type { RuntimeSettings } from '../../lambdas/core/settings';
import { DEMO_COMPILED_TABLE } from '../support/demo-app';
import { createSigningKey, FakeJwksFetcher, nowSeconds, signJwt, TEST_ISSUER } from '../support/jwt';
import { FakeKeyLookup, makeKey } from '../support/keys';
import { captureLogger } from '../support/logs';
import { testSettings } from '../support/settings';
import { bearerEvent } from '../support/authorizer-event';

const signingKey = createSigningKey('kid-1');
const event = bearerEvent;
const jwtFor = (sub: string) =>
  signJwt({ iss: TEST_ISSUER, aud: 'dualgate-api', sub, scope: 'read:users', exp: nowSeconds() + 600 }, { key: signingKey });
const PLANS: Pick<RuntimeSettings, 'plans'> = { plans: { usagePlanNames: { pro: 'p' }, sharedUsageKey: 'dualgate-shared-0000-0000-0000' } };
const alicePro: ConsumerRecord = {
  sub: 'alice',
  plan: 'pro',
  keyPlan: 'pro',
  apiKeyId: 'k1',
  apiKeyValue: 'alice-usage-key-value-000',
  updatedAt: 't',
  updatedBy: 'admin',
};

/** A loader standing in for the SDK chunk's import: counts its calls, serves in-memory stores. */
function countingLoader(keys: FakeKeyLookup, consumers = new Map<string, ConsumerRecord>()) {
  const loader = {
    calls: 0,
    writes: 0,
    load: async (): Promise<KeyTableStores> => {
      loader.calls++;
      return {
        keyLookup: keys,
        usageWriter: { recordUse: async () => (loader.writes++, true) },
        consumerLookup: { getConsumer: async (sub) => consumers.get(sub) },
      };
    },
  };
  return loader;
}

function build(settings: RuntimeSettings, loader: ReturnType<typeof countingLoader>, clock = { nowMs: Date.now() }) {
  const logs = captureLogger();
  const built = buildAuthorizer(settings, DEMO_COMPILED_TABLE, {
    loadKeyTable: loader.load,
    fetcher: new FakeJwksFetcher([signingKey.publicJwk]),
    logger: logs.logger,
    nowMs: () => clock.nowMs,
  });
  return { ...built, logs };
}

describe('the key table is loaded on demand', () => {
  it('never loads the SDK for JWT decisions without plans', async () => {
    const loader = countingLoader(new FakeKeyLookup());
    const { authorize, keyTable, lastUsed } = build(testSettings(), loader);
    for (const sub of ['alice', 'bob', 'carol']) expect((await authorize(event(jwtFor(sub)))).effect).toBe('allow');
    await lastUsed?.drain();
    expect(loader.calls).toBe(0);
    expect(keyTable.loaded).toBe(false);
  });

  it('never loads it for credentials rejected without I/O (a bad checksum, a malformed JWT)', async () => {
    const loader = countingLoader(new FakeKeyLookup());
    const { authorize } = build(testSettings(), loader);
    const { key } = makeKey();
    const badChecksum = `${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`;
    expect((await authorize(event(badChecksum))).effect).toBe('unauthorized');
    expect((await authorize(event('eyJhbGciOiJSUzI1NiJ9.e30.c2ln'))).effect).toBe('unauthorized');
    expect(loader.calls).toBe(0);
  });

  it('loads it once, on the first key request, and reuses it for later keys and the lastUsedAt write', async () => {
    const first = makeKey();
    const second = makeKey();
    const loader = countingLoader(new FakeKeyLookup(first.record, second.record));
    const { authorize, keyTable, lastUsed } = build(testSettings(), loader);
    expect((await authorize(event(first.key))).effect).toBe('allow');
    expect(loader.calls).toBe(1);
    expect((await authorize(event(second.key))).effect).toBe('allow');
    expect((await authorize(event(jwtFor('alice')))).effect).toBe('allow');
    await lastUsed?.drain();
    expect(loader.writes).toBe(2);
    expect(loader.calls).toBe(1);
    expect(keyTable.loads).toBe(1);
  });

  it('shares one load among concurrent first key requests', async () => {
    const keys = [makeKey(), makeKey(), makeKey()];
    const loader = countingLoader(new FakeKeyLookup(...keys.map((entry) => entry.record)));
    const { authorize } = build(testSettings(), loader);
    const outcomes = await Promise.all(keys.map((entry) => authorize(event(entry.key))));
    expect(outcomes.map((outcome) => outcome.effect)).toEqual(['allow', 'allow', 'allow']);
    expect(loader.calls).toBe(1);
  });

  it('loads it for a JWT when plans need the caller’s consumer record', async () => {
    const loader = countingLoader(new FakeKeyLookup(), new Map([['alice', alicePro]]));
    const { authorize } = build(testSettings(PLANS), loader);
    const outcome = await authorize(event(jwtFor('alice')));
    expect(outcome.effect === 'allow' && outcome.response.usageIdentifierKey).toBe('alice-usage-key-value-000');
    expect(loader.calls).toBe(1);
  });

  it('leaves an injected keyLookup and consumerLookup alone: nothing loads', async () => {
    const { key, record } = makeKey();
    const loader = countingLoader(new FakeKeyLookup());
    const built = buildAuthorizer(testSettings(PLANS), DEMO_COMPILED_TABLE, {
      loadKeyTable: loader.load,
      keyLookup: new FakeKeyLookup(record),
      consumerLookup: { getConsumer: async () => undefined },
      fetcher: new FakeJwksFetcher([signingKey.publicJwk]),
      logger: captureLogger().logger,
    });
    expect((await built.authorize(event(key))).effect).toBe('allow');
    expect(loader.calls).toBe(0);
  });
});

describe('when the key table cannot load or be reached', () => {
  it('fails a key decision closed with key_store_unavailable when the SDK cannot load, and loads again on the next key', async () => {
    const { key, record } = makeKey();
    const working = countingLoader(new FakeKeyLookup(record));
    let failing = true;
    let calls = 0;
    const logs = captureLogger();
    const { authorize } = buildAuthorizer(testSettings(), DEMO_COMPILED_TABLE, {
      loadKeyTable: async () => {
        calls++;
        if (failing) throw new Error("Cannot find module '/var/task/chunk-SDK.mjs'");
        return working.load();
      },
      fetcher: new FakeJwksFetcher([signingKey.publicJwk]),
      logger: logs.logger,
    });
    expect(await authorize(event(key))).toEqual({ effect: 'fail' });
    const failure = logs.entries().find((entry) => entry.decision === 'fail');
    expect(failure).toMatchObject({ reason: 'key_store_unavailable' });
    expect(JSON.stringify(failure)).toContain('chunk-SDK.mjs');
    // JWTs never needed the table: unaffected.
    expect((await authorize(event(jwtFor('alice')))).effect).toBe('allow');
    failing = false;
    expect((await authorize(event(key))).effect).toBe('allow');
    expect(calls).toBe(2);
  });

  it('fails a plans JWT closed with key_store_unavailable when the SDK cannot load', async () => {
    const logs = captureLogger();
    const { authorize } = buildAuthorizer(testSettings(PLANS), DEMO_COMPILED_TABLE, {
      loadKeyTable: async () => {
        throw new Error('SDK chunk failed to evaluate');
      },
      fetcher: new FakeJwksFetcher([signingKey.publicJwk]),
      logger: logs.logger,
    });
    expect(await authorize(event(jwtFor('alice')))).toEqual({ effect: 'fail' });
    expect(logs.entries().find((entry) => entry.decision === 'fail')).toMatchObject({ reason: 'key_store_unavailable' });
  });

  it('keeps stale-if-error: a key verified before the table failed is allowed within the window, an unseen key fails closed', async () => {
    const seen = makeKey();
    const unseen = makeKey();
    const keys = new FakeKeyLookup(seen.record, unseen.record);
    const clock = { nowMs: Date.now() };
    // keyCacheTtlSeconds 30 + staleIfErrorSeconds 60 (testSettings).
    const { authorize, logs } = build(testSettings(), countingLoader(keys), clock);
    expect(await authorize(event(seen.key))).toMatchObject({ effect: 'allow' });
    keys.failWith = new Error('ECONNREFUSED');
    clock.nowMs += 31_000;
    expect((await authorize(event(seen.key))).effect).toBe('allow');
    expect(logs.entries().some((entry) => entry.reason === 'key_valid_stale')).toBe(true);
    expect(await authorize(event(unseen.key))).toEqual({ effect: 'fail' });
    clock.nowMs += 60_000;
    expect(await authorize(event(seen.key))).toEqual({ effect: 'fail' });
  });
});

describe('with the real loader (the SDK imported on demand)', () => {
  const ddb = mockClient(DynamoDBClient);
  afterEach(() => ddb.reset());

  it('builds one DynamoDB client for concurrent first key requests, and sends every GetItem through it', async () => {
    const keys = [makeKey(), makeKey(), makeKey()];
    ddb.on(GetItemCommand).callsFake((input: { Key: { keyHash: { S: string } } }) => {
      const found = keys.find((entry) => entry.record.keyHash === input.Key.keyHash.S);
      return { Item: found ? itemFromRecord(found.record) : undefined };
    });
    const { authorize, keyTable } = buildAuthorizer(testSettings({ lastUsedIntervalSeconds: 300 }), DEMO_COMPILED_TABLE, {
      fetcher: new FakeJwksFetcher([]),
      logger: captureLogger().logger,
    });
    expect(keyTable.loaded).toBe(false);
    const outcomes = await Promise.all(keys.map((entry) => authorize(event(entry.key))));
    expect(outcomes.map((outcome) => outcome.effect)).toEqual(['allow', 'allow', 'allow']);
    expect(keyTable.loads).toBe(1);
    const calls = ddb.commandCalls(GetItemCommand);
    expect(calls).toHaveLength(3);
    const clients = new Set(calls.map((call) => call.thisValue));
    expect(clients.size).toBe(1);
    expect([...clients][0]).toBeInstanceOf(DynamoDBClient);
  });
});

describe('loadsAtInit', () => {
  it('loads the JWKS and the SDK at init under provisioned concurrency, where init is off every request’s path', () => {
    expect(loadsAtInit({}, { AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency' })).toBe(true);
  });

  it('loads both at init with plans, where the first request needs the table whatever its credential', () => {
    expect(loadsAtInit(PLANS, { AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand' })).toBe(true);
  });

  it('leaves each to the first request that needs it otherwise (on-demand init, or outside Lambda)', () => {
    expect(loadsAtInit({}, { AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand' })).toBe(false);
    expect(loadsAtInit({}, {})).toBe(false);
  });
});
