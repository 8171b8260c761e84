/** lastUsedAt against a real (dynalite) table: the authorizer's conditional UpdateItem and what the key API then shows. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { buildAuthorizer } from '../../lambdas/authorizer/wiring';
import { toPublicKey } from '../../lambdas/keys/public-key';
import { itemFromRecord, recordFromItem, type KeyRecord } from '../../lambdas/core/key-record';
import { DynamoKeyLookup, KeyStore } from '../../lambdas/shared/key-store';
import { DEMO_COMPILED_TABLE } from '../support/demo-app';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { makeKey } from '../support/keys';
import { captureLogger } from '../support/logs';
import { testSettings } from '../support/settings';
import { routeOf } from '../support/authorizer-event';

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/users';

describe('lastUsedAt on dynalite', () => {
  let dynamo: LocalDynamo;
  let tableName: string;

  beforeAll(async () => {
    dynamo = await startDynalite();
    tableName = await dynamo.createTable();
  });
  afterAll(async () => dynamo?.close());

  const put = (record: KeyRecord) => dynamo.client.send(new PutItemCommand({ TableName: tableName, Item: itemFromRecord(record) }));
  const stored = async (keyHash: string) => {
    const { Item } = await dynamo.client.send(
      new GetItemCommand({ TableName: tableName, Key: { keyHash: { S: keyHash } }, ConsistentRead: true }),
    );
    return Item === undefined ? undefined : recordFromItem(Item);
  };
  const authorizerAt = (clock: { nowMs: number }, intervalSeconds = 300) =>
    buildAuthorizer(testSettings({ tableName, lastUsedIntervalSeconds: intervalSeconds, keyCacheTtlSeconds: 30 }), DEMO_COMPILED_TABLE, {
      dynamoClient: dynamo.client,
      logger: captureLogger('dualgate-authorizer').logger,
      nowMs: () => clock.nowMs,
    });
  const use = (authorize: ReturnType<typeof buildAuthorizer>['authorize'], key: string) =>
    authorize({ methodArn: METHOD_ARN, ...routeOf(METHOD_ARN), headers: { Authorization: `Bearer ${key}` }, multiValueHeaders: null });

  it("records a key's first use, shows it in the key's public view, and leaves version and every other attribute alone", async () => {
    const { key, record } = makeKey({ scopes: ['read:users'] });
    await put(record);
    expect(toPublicKey((await stored(record.keyHash))!, 0)).not.toHaveProperty('lastUsedAt');
    const clock = { nowMs: Date.parse('2030-01-01T00:00:00.000Z') };
    const { authorize, lastUsed } = authorizerAt(clock);
    expect((await use(authorize, key)).effect).toBe('allow');
    await lastUsed?.drain();
    const after = (await stored(record.keyHash))!;
    expect(after).toEqual({ ...record, lastUsedAt: '2030-01-01T00:00:00.000Z' });
    expect(toPublicKey(after, 0).lastUsedAt).toBe('2030-01-01T00:00:00.000Z');

    // Within the interval, another container (a fresh authorizer) reads the key and sees the stored value: no write.
    clock.nowMs += 60_000;
    const other = authorizerAt(clock);
    await use(other.authorize, key);
    await other.lastUsed?.drain();
    expect(other.lastUsed?.writes).toBe(0);
    expect((await stored(record.keyHash))!.lastUsedAt).toBe('2030-01-01T00:00:00.000Z');

    // After it, the next use writes.
    clock.nowMs += 300_000;
    await use(other.authorize, key);
    await other.lastUsed?.drain();
    expect((await stored(record.keyHash))!.lastUsedAt).toBe('2030-01-01T00:06:00.000Z');
  });

  it('is conditional: never recreates a deleted key, never moves lastUsedAt backwards, and at most once per interval across writers', async () => {
    const writer = new DynamoKeyLookup(dynamo.client, tableName);
    expect(await writer.recordUse('f'.repeat(64), '2030-01-01T00:00:00.000Z', '2029-12-31T23:55:00.000Z')).toBe(false);
    expect(await stored('f'.repeat(64))).toBeUndefined();

    const { record } = makeKey();
    await put({ ...record, lastUsedAt: '2030-01-01T00:10:00.000Z' });
    // Another container wrote 10:10; this one's 10:12 with a 5-minute interval (notAfter 10:07) is refused.
    expect(await writer.recordUse(record.keyHash, '2030-01-01T00:12:00.000Z', '2030-01-01T00:07:00.000Z')).toBe(false);
    // An older time never overwrites a newer one.
    expect(await writer.recordUse(record.keyHash, '2030-01-01T00:05:00.000Z', '2030-01-01T00:05:00.000Z')).toBe(false);
    expect(await writer.recordUse(record.keyHash, '2030-01-01T00:16:00.000Z', '2030-01-01T00:11:00.000Z')).toBe(true);
    expect((await stored(record.keyHash))!.lastUsedAt).toBe('2030-01-01T00:16:00.000Z');
  });

  it('does not make a PATCH (compare-and-swap on version) fail because the key was used meanwhile', async () => {
    const { record } = makeKey();
    await put(record);
    const store = new KeyStore(dynamo.client, tableName);
    const current = (await store.getByHashConsistent(record.keyHash))!;
    await store.recordUse(record.keyHash, '2030-01-01T00:00:00.000Z', '2029-12-31T23:55:00.000Z');
    await store.replace({ ...current, name: 'renamed', version: current.version + 1 }, current.version);
    expect((await stored(record.keyHash))!.name).toBe('renamed');
  });
});
