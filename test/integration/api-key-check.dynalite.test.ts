/** The API-key check against a real (dynalite) table: items written as DynamoDB stores them, read back through the SDK. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ApiKeyCheck } from '../../lambdas/authorizer/api-key-check';
import { itemFromRecord, type KeyRecord } from '../../lambdas/core/key-record';
import { DynamoKeyLookup } from '../../lambdas/shared/key-store';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { makeKey } from '../support/keys';

describe('ApiKeyCheck on dynalite', () => {
  let dynamo: LocalDynamo;
  let tableName: string;
  const clock = { nowMs: Date.now() };
  let check: ApiKeyCheck;

  beforeAll(async () => {
    dynamo = await startDynalite();
    tableName = await dynamo.createTable();
    check = new ApiKeyCheck({
      keyPrefix: 'dg',
      store: new DynamoKeyLookup(dynamo.client, tableName),
      keyCacheTtlSeconds: 0,
      negativeCacheTtlSeconds: 0,
      staleIfErrorSeconds: 0,
      maxCacheEntries: 100,
      nowMs: () => clock.nowMs,
    });
  });
  afterAll(async () => dynamo?.close());

  const store = (record: KeyRecord) => dynamo.client.send(new PutItemCommand({ TableName: tableName, Item: itemFromRecord(record) }));

  it('accepts a stored key and reads back owner, scopes and keyId', async () => {
    const { key, record } = makeKey({ owner: 'svc-billing', scopes: ['read:users', 'keys:read'], metadata: { team: 'billing' } });
    await store(record);
    expect(await check.evaluate(key)).toMatchObject({
      kind: 'principal',
      principal: { sub: 'svc-billing', scopes: ['keys:read', 'read:users'], authMethod: 'apiKey', keyId: record.keyId },
    });
  });

  it('rejects a key past expiresAt while its item still exists in the table', async () => {
    const { key, record } = makeKey({ expiresAt: Math.floor(clock.nowMs / 1000) - 3600 });
    await store(record);
    expect(await check.evaluate(key)).toEqual({ kind: 'reject', reason: 'key_expired' });
  });

  it('rejects revoked and disabled items and unknown hashes', async () => {
    const revoked = makeKey({ revokedAt: new Date(clock.nowMs).toISOString(), expiresAt: Math.floor(clock.nowMs / 1000) });
    const disabled = makeKey({ enabled: false });
    await store(revoked.record);
    await store(disabled.record);
    expect(await check.evaluate(revoked.key)).toEqual({ kind: 'reject', reason: 'key_revoked' });
    expect(await check.evaluate(disabled.key)).toEqual({ kind: 'reject', reason: 'key_disabled' });
    expect(await check.evaluate(makeKey().key)).toEqual({ kind: 'reject', reason: 'key_not_found' });
  });

  it('fails closed when the table does not exist', async () => {
    const broken = new ApiKeyCheck({
      keyPrefix: 'dg',
      store: new DynamoKeyLookup(dynamo.client, 'no-such-table'),
      keyCacheTtlSeconds: 0,
      negativeCacheTtlSeconds: 0,
      staleIfErrorSeconds: 0,
      maxCacheEntries: 10,
    });
    expect(await broken.evaluate(makeKey().key)).toMatchObject({ kind: 'fail', reason: 'key_store_unavailable' });
  });
});
