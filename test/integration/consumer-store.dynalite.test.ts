/** Consumer records in a real (dynalite) key table, and the authorizer's usage identifier read through them. */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageIdentifiers } from '../../lambdas/authorizer/usage-identifier';
import { DynamoConsumerStore, consumerItemKey } from '../../lambdas/shared/consumer-store';
import { KeyWriteConflictError } from '../../lambdas/shared/key-store';
import type { ConsumerRecord } from '../../lambdas/shared/plans';
import { startDynalite, type LocalDynamo } from '../support/dynalite';

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
    await expect(store.putConsumer(record({ updatedAt: '2026-01-03T00:00:00.000Z' }), record())).rejects.toBeInstanceOf(KeyWriteConflictError);
  });

  it('keeps consumer items out of the byOwner and byId indexes (no keyId, no owner)', async () => {
    for (const [index, field] of [['byOwner', 'owner'], ['byId', 'keyId']] as const) {
      const output = await dynamo.client.send(
        new QueryCommand({ TableName: tableName, IndexName: index, KeyConditionExpression: '#f = :v', ExpressionAttributeNames: { '#f': field }, ExpressionAttributeValues: { ':v': { S: 'auth0|alice' } } }),
      );
      expect(output.Items).toEqual([]);
    }
    expect(consumerItemKey('x')).not.toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives the authorizer the consumer key while a plan is assigned, the shared key otherwise, and a change within the cache TTL', async () => {
    let nowMs = 1_000_000;
    const identifiers = new UsageIdentifiers({ lookup: store, sharedUsageKey: SHARED, cacheTtlSeconds: 2, staleIfErrorSeconds: 0, maxCacheEntries: 100, nowMs: () => nowMs });
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
