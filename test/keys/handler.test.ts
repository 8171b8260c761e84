/** The keys Lambda with a mocked DynamoDB client (aws-sdk-client-mock): the exact writes, conditions and answers. */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createKeysHandler } from '../../lambdas/keys/router';
import { DEMO_CATALOG } from '../support/demo-app';
import { hashKey } from '../../lambdas/core/key-format';
import { itemFromRecord, type KeyRecord } from '../../lambdas/core/key-record';
import { KeyStore } from '../../lambdas/shared/key-store';
import { captureLogger } from '../support/logs';
import { admin, alice, bob, caller, keysEvent } from './harness';

const NOW_MS = Date.parse('2031-01-01T00:00:00.000Z');
const NOW_SECONDS = NOW_MS / 1000;
const KEY_ID = 'key_01HZZZZZZZZZZZZZZZZZZZZZZZ';
const dynamo = mockClient(DynamoDBClient);

function storedRecord(overrides: Partial<KeyRecord> = {}): KeyRecord {
  return {
    keyHash: 'a'.repeat(64),
    keyId: KEY_ID,
    owner: 'alice',
    name: 'ci',
    scopes: ['read:users'],
    createdAt: '2030-12-01T00:00:00.000Z',
    createdBy: 'alice',
    enabled: true,
    start: 'dg_abcd',
    version: 4,
    ...overrides,
  };
}

function mockStored(record: KeyRecord): void {
  dynamo.on(QueryCommand, { IndexName: 'byId' }).resolves({ Items: [{ keyHash: { S: record.keyHash } }] });
  dynamo.on(GetItemCommand).resolves({ Item: itemFromRecord(record) });
}

const writes = () => [
  ...dynamo.commandCalls(PutItemCommand),
  ...dynamo.commandCalls(UpdateItemCommand),
  ...dynamo.commandCalls(DeleteItemCommand),
];

let logs: ReturnType<typeof captureLogger>;
/** Every request also logs one metric line (asserted in its own tests); these tests look at the others. */
const isNotMetricLine = (entry: Record<string, unknown>) => entry['message'] !== 'key API request';
let call: ReturnType<typeof caller>;

beforeEach(() => {
  dynamo.reset();
  logs = captureLogger('dualgate-keys');
  const store = new KeyStore(
    new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }),
    'keys-table',
  );
  call = caller(
    createKeysHandler({
      catalog: DEMO_CATALOG,
      store,
      keyPrefix: 'dg',
      adminScope: 'keys:admin',
      logger: logs.logger,
      nowMs: () => NOW_MS,
    }),
  );
});

describe('routes', () => {
  it('POST /keys puts the item only if its hash is new, stores the hash and never the plaintext, and audits', async () => {
    dynamo.on(PutItemCommand).resolves({});
    const result = await call('POST', '/keys', { body: { name: 'ci', scopes: ['read:users'], expiresIn: 60 } });
    expect(result.status).toBe(201);
    const put = dynamo.commandCalls(PutItemCommand)[0]!.args[0].input;
    expect(put.ConditionExpression).toBe('attribute_not_exists(keyHash)');
    expect(put.Item?.['keyHash']?.S).toBe(hashKey(result.json.key));
    expect(put.Item?.['expiresAt']?.N).toBe(String(NOW_SECONDS + 60));
    expect(JSON.stringify(put)).not.toContain(result.json.key);
    expect(logs.entries().filter(isNotMetricLine)).toEqual([
      expect.objectContaining({
        message: 'audit',
        action: 'create',
        actorSub: 'alice',
        authMethod: 'jwt',
        keyId: result.json.id,
        owner: 'alice',
        changedFields: ['expiresIn', 'name', 'scopes'],
        time: new Date(NOW_MS).toISOString(),
      }),
    ]);
  });

  it('GET /keys queries byOwner for the caller and names the last key by id in the cursor, never by hash', async () => {
    const record = storedRecord();
    dynamo.on(QueryCommand).resolves({
      Items: [itemFromRecord(record)],
      LastEvaluatedKey: { keyHash: { S: record.keyHash }, owner: { S: 'alice' }, createdAt: { S: record.createdAt } },
    });
    const result = await call('GET', '/keys', { query: { limit: '1' } });
    expect(result.status).toBe(200);
    const query = dynamo.commandCalls(QueryCommand)[0]!.args[0].input;
    expect(query).toMatchObject({ IndexName: 'byOwner', ExpressionAttributeValues: { ':owner': { S: 'alice' } }, Limit: 1 });
    expect(result.json.items).toEqual([expect.objectContaining({ id: KEY_ID, status: 'active', expiresAt: null })]);
    expect(result.json.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(result.json.nextCursor, 'base64url').toString('utf8'))).toEqual({
      owner: 'alice',
      createdAt: record.createdAt,
      keyId: KEY_ID,
    });
    expect(result.raw.body).not.toContain(record.keyHash);

    // On the way back the store looks the key up by id and rebuilds the ExclusiveStartKey from the stored item.
    dynamo.reset();
    dynamo
      .on(QueryCommand, { IndexName: 'byId' })
      .resolves({ Items: [{ keyHash: { S: record.keyHash }, owner: { S: 'alice' }, createdAt: { S: record.createdAt } }] });
    dynamo.on(QueryCommand, { IndexName: 'byOwner' }).resolves({ Items: [] });
    expect((await call('GET', '/keys', { query: { cursor: result.json.nextCursor } })).status).toBe(200);
    const [byId, byOwner] = dynamo.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(byId).toMatchObject({ IndexName: 'byId', ExpressionAttributeValues: { ':keyId': { S: KEY_ID } } });
    expect(byOwner!.ExclusiveStartKey).toEqual({
      keyHash: { S: record.keyHash },
      owner: { S: 'alice' },
      createdAt: { S: record.createdAt },
    });
  });

  it('GET /keys answers 400 cursor when the cursor names a key of another owner, another position, or a key that is gone', async () => {
    const cursor = Buffer.from(JSON.stringify({ owner: 'alice', createdAt: '2030-12-01T00:00:00.000Z', keyId: KEY_ID })).toString(
      'base64url',
    );
    const bodies = new Set<string>();
    for (const items of [
      [{ keyHash: { S: 'b'.repeat(64) }, owner: { S: 'bob' }, createdAt: { S: '2030-12-01T00:00:00.000Z' } }],
      [{ keyHash: { S: 'b'.repeat(64) }, owner: { S: 'alice' }, createdAt: { S: '2030-12-02T00:00:00.000Z' } }],
      [],
    ]) {
      dynamo.reset();
      dynamo.on(QueryCommand, { IndexName: 'byId' }).resolves({ Items: items });
      const result = await call('GET', '/keys', { query: { cursor } });
      expect(result).toMatchObject({ status: 400, json: { field: 'cursor' } });
      expect(dynamo.commandCalls(QueryCommand, { IndexName: 'byOwner' })).toHaveLength(0);
      expect(result.raw.body).not.toContain('b'.repeat(64));
      bodies.add(result.raw.body);
      // DynamoDB itself drops a key of another owner or position: one query, the same empty answer as an unknown id.
      expect(dynamo.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
        FilterExpression: '#f0 = :f0 AND #f1 = :f1',
        ExpressionAttributeNames: expect.objectContaining({ '#f0': 'owner', '#f1': 'createdAt' }),
        ExpressionAttributeValues: expect.objectContaining({ ':f0': { S: 'alice' }, ':f1': { S: '2030-12-01T00:00:00.000Z' } }),
      });
      expect(dynamo.calls()).toHaveLength(1);
    }
    // Not "not one this API returned" for one case and "no longer exists" for another: that difference was an oracle.
    expect(bodies.size).toBe(1);
  });

  it('GET /keys/{id} by a non-admin filters the byId query on its own sub: another owner’s key costs exactly what an unknown id costs', async () => {
    // What DynamoDB answers when the filter drops the item, and when there is no item: the same empty page.
    dynamo.on(QueryCommand, { IndexName: 'byId' }).resolves({ Items: [] });
    const result = await call('GET', '/keys/{id}', { caller: alice, id: KEY_ID });
    expect(result).toMatchObject({ status: 404, json: { message: 'key not found' } });
    expect(dynamo.calls()).toHaveLength(1);
    expect(dynamo.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
      IndexName: 'byId',
      FilterExpression: '#f0 = :f0',
      ExpressionAttributeNames: expect.objectContaining({ '#f0': 'owner' }),
      ExpressionAttributeValues: expect.objectContaining({ ':f0': { S: 'alice' } }),
    });
    // An admin may act for any owner, so its lookup is not filtered.
    dynamo.reset();
    mockStored(storedRecord({ owner: 'bob' }));
    expect((await call('GET', '/keys/{id}', { caller: admin, id: KEY_ID })).json.owner).toBe('bob');
    expect(dynamo.commandCalls(QueryCommand)[0]!.args[0].input.FilterExpression).toBeUndefined();
  });

  it('re-reads the calling key consistently before a list, and answers 403 without listing when it is revoked', async () => {
    const callerKeyId = 'key_01HYYYYYYYYYYYYYYYYYYYYYYY';
    mockStored(
      storedRecord({ keyId: callerKeyId, scopes: ['keys:read'], revokedAt: '2030-12-31T00:00:00.000Z', expiresAt: NOW_SECONDS - 60 }),
    );
    const result = await call('GET', '/keys', {
      caller: { sub: 'alice', scopes: ['keys:read'], authMethod: 'apiKey', keyId: callerKeyId },
    });
    expect(result).toMatchObject({ status: 403, json: { message: expect.stringContaining('not active') } });
    expect(dynamo.commandCalls(GetItemCommand)[0]!.args[0].input).toMatchObject({ ConsistentRead: true });
    expect(dynamo.commandCalls(QueryCommand, { IndexName: 'byOwner' })).toHaveLength(0);
  });

  it('PATCH and rotate need keys:read as well as keys:write (they answer with the key they change); create and revoke do not', async () => {
    const writeOnly = { sub: 'alice', scopes: ['keys:write', 'read:users'], authMethod: 'jwt' as const };
    mockStored(storedRecord());
    for (const [method, resource, body] of [
      ['PATCH', '/keys/{id}', { name: 'x' }],
      ['POST', '/keys/{id}/rotate', {}],
    ] as const) {
      const result = await call(method, resource, { caller: writeOnly, id: KEY_ID, body });
      expect(result).toMatchObject({ status: 403, json: { message: `${method} ${resource} needs scope(s) you do not hold: keys:read` } });
      expect(result.raw.body).not.toContain('ci');
    }
    expect(dynamo.calls()).toHaveLength(0);
    dynamo.on(PutItemCommand).resolves({});
    dynamo.on(UpdateItemCommand).resolves({ Attributes: itemFromRecord(storedRecord({ revokedAt: new Date(NOW_MS).toISOString() })) });
    expect((await call('POST', '/keys', { caller: writeOnly, body: { name: 'x', scopes: ['read:users'] } })).status).toBe(201);
    expect((await call('DELETE', '/keys/{id}', { caller: writeOnly, id: KEY_ID })).status).toBe(204);
  });

  it('GET /keys/{id} finds the hash through byId, then reads the item consistently', async () => {
    mockStored(storedRecord());
    const result = await call('GET', '/keys/{id}', { id: KEY_ID });
    expect(result.status).toBe(200);
    expect(dynamo.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
      IndexName: 'byId',
      ExpressionAttributeValues: { ':keyId': { S: KEY_ID } },
    });
    expect(dynamo.commandCalls(GetItemCommand)[0]!.args[0].input).toMatchObject({
      ConsistentRead: true,
      Key: { keyHash: { S: 'a'.repeat(64) } },
    });
    expect(Object.keys(result.json).sort()).toEqual([
      'createdAt',
      'createdBy',
      'enabled',
      'expiresAt',
      'id',
      'name',
      'owner',
      'scopes',
      'start',
      'status',
    ]);
  });

  it('GET /keys/{id} of another owner answers 404', async () => {
    mockStored(storedRecord({ owner: 'bob' }));
    expect(await call('GET', '/keys/{id}', { id: KEY_ID })).toMatchObject({ status: 404, json: { message: 'key not found' } });
  });

  it('PATCH /keys/{id} is a compare-and-swap on version', async () => {
    mockStored(storedRecord());
    dynamo.on(PutItemCommand).resolves({});
    const result = await call('PATCH', '/keys/{id}', { id: KEY_ID, body: { name: 'renamed' } });
    expect(result).toMatchObject({ status: 200, json: { name: 'renamed', updatedAt: new Date(NOW_MS).toISOString() } });
    const put = dynamo.commandCalls(PutItemCommand)[0]!.args[0].input;
    expect(put.ConditionExpression).toBe('attribute_exists(keyHash) AND #version = :expectedVersion');
    expect(put.ExpressionAttributeValues).toEqual({ ':expectedVersion': { N: '4' } });
    expect(put.Item?.['version']).toEqual({ N: '5' });
  });

  it('PATCH retries on a fresh read when the version moved, and gives up with 409 after three tries', async () => {
    mockStored(storedRecord());
    dynamo.on(PutItemCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    const result = await call('PATCH', '/keys/{id}', { id: KEY_ID, body: { name: 'renamed' } });
    expect(result.status).toBe(409);
    expect(dynamo.commandCalls(PutItemCommand)).toHaveLength(3);
    expect(logs.lines.filter((line) => line.includes('"audit"'))).toEqual([]);
  });

  it('POST /keys/{id}/rotate writes the successor, then swaps the predecessor only if still live and unchanged', async () => {
    mockStored(storedRecord({ expiresAt: NOW_SECONDS + 7 * 86400 }));
    dynamo.on(PutItemCommand).resolves({});
    const result = await call('POST', '/keys/{id}/rotate', { id: KEY_ID, body: { gracePeriodSeconds: 600 } });
    expect(result.status).toBe(201);
    const [successor, predecessor] = dynamo.commandCalls(PutItemCommand).map((c) => c.args[0].input);
    expect(successor!.ConditionExpression).toBe('attribute_not_exists(keyHash)');
    expect(successor!.Item?.['rotatedFrom']).toEqual({ S: KEY_ID });
    expect(successor!.Item?.['expiresAt']).toEqual({ N: String(NOW_SECONDS + 7 * 86400) });
    expect(predecessor!.ConditionExpression).toBe(
      'attribute_exists(keyHash) AND #version = :expectedVersion AND attribute_not_exists(revokedAt) AND attribute_not_exists(rotatedTo) AND (attribute_not_exists(expiresAt) OR expiresAt > :nowSeconds)',
    );
    expect(predecessor!.Item?.['expiresAt']).toEqual({ N: String(NOW_SECONDS + 600) });
    expect(predecessor!.Item?.['rotatedTo']).toEqual({ S: result.json.id });
    expect(logs.entries().filter(isNotMetricLine)).toEqual([
      expect.objectContaining({
        action: 'rotate',
        keyId: KEY_ID,
        successorKeyId: result.json.id,
        changedFields: ['rotatedTo', 'expiresAt'],
      }),
    ]);
  });

  it('rotate deletes its successor and answers 409 when the predecessor changed in between', async () => {
    mockStored(storedRecord());
    dynamo
      .on(PutItemCommand)
      .resolvesOnce({})
      .rejectsOnce(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    dynamo.on(DeleteItemCommand).resolves({});
    const result = await call('POST', '/keys/{id}/rotate', { id: KEY_ID });
    expect(result.status).toBe(409);
    const successorHash = dynamo.commandCalls(PutItemCommand)[0]!.args[0].input.Item?.['keyHash']?.S;
    expect(dynamo.commandCalls(DeleteItemCommand)[0]!.args[0].input.Key).toEqual({ keyHash: { S: successorHash } });
    expect(result.json.key).toBeUndefined();
  });

  it('rotate answers 201 and keeps its successor when a retried step 2 fails its own condition after the first attempt committed', async () => {
    const successorId = 'key_01HSUCCESSORSUCCESSORSUCC';
    const handler = createKeysHandler({
      catalog: DEMO_CATALOG,
      store: new KeyStore(new DynamoDBClient({ region: 'us-east-1' }), 'keys-table'),
      keyPrefix: 'dg',
      adminScope: 'keys:admin',
      logger: logs.logger,
      nowMs: () => NOW_MS,
      newKeyId: () => successorId,
    });
    const record = storedRecord();
    dynamo.on(QueryCommand, { IndexName: 'byId' }).resolves({ Items: [{ keyHash: { S: record.keyHash } }] });
    // The consistent read-back after the failure finds the predecessor already pointing at this successor.
    dynamo
      .on(GetItemCommand)
      .resolvesOnce({ Item: itemFromRecord(record) })
      .resolves({ Item: itemFromRecord({ ...record, rotatedTo: successorId, version: 5 }) });
    dynamo
      .on(PutItemCommand)
      .resolvesOnce({})
      .rejectsOnce(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    const result = await caller(handler)('POST', '/keys/{id}/rotate', { id: KEY_ID });
    expect(result).toMatchObject({ status: 201, json: { id: successorId, rotatedFrom: KEY_ID, predecessor: { rotatedTo: successorId } } });
    expect(result.json.key).toMatch(/^dg_/);
    expect(dynamo.commandCalls(DeleteItemCommand)).toHaveLength(0);
    expect(dynamo.commandCalls(GetItemCommand).at(-1)!.args[0].input).toMatchObject({
      ConsistentRead: true,
      Key: { keyHash: { S: record.keyHash } },
    });
    expect(logs.entries().filter((entry) => entry['message'] === 'audit')).toEqual([
      expect.objectContaining({ action: 'rotate', keyId: KEY_ID, successorKeyId: successorId }),
    ]);
  });

  it('POST /keys answers 201 when a retried put fails attribute_not_exists because its own first attempt committed', async () => {
    const keyId = 'key_01HCREATEDCREATEDCREATEDC';
    const handler = createKeysHandler({
      catalog: DEMO_CATALOG,
      store: new KeyStore(new DynamoDBClient({ region: 'us-east-1' }), 'keys-table'),
      keyPrefix: 'dg',
      adminScope: 'keys:admin',
      logger: logs.logger,
      nowMs: () => NOW_MS,
      newKeyId: () => keyId,
    });
    dynamo.on(PutItemCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    dynamo.on(GetItemCommand).callsFake((input: { Key: { keyHash: { S: string } } }) => ({
      Item: itemFromRecord(storedRecord({ keyHash: input.Key.keyHash.S, keyId, version: 1 })),
    }));
    const result = await caller(handler)('POST', '/keys', { body: { name: 'ci', scopes: ['read:users'] } });
    expect(result).toMatchObject({ status: 201, json: { id: keyId } });
    expect(dynamo.commandCalls(GetItemCommand)[0]!.args[0].input).toMatchObject({
      ConsistentRead: true,
      Key: { keyHash: { S: hashKey(result.json.key) } },
    });

    // The same conflict against an item with another id is a real conflict: 409, no plaintext.
    dynamo.on(GetItemCommand).resolves({ Item: itemFromRecord(storedRecord()) });
    const refused = await caller(handler)('POST', '/keys', { body: { name: 'ci', scopes: ['read:users'] } });
    expect(refused.status).toBe(409);
    expect(refused.json.key).toBeUndefined();
  });

  it('DELETE /keys/{id} revokes with a version-independent condition, and a lost race is still 204', async () => {
    const record = storedRecord();
    mockStored(record);
    dynamo.on(UpdateItemCommand).resolves({
      Attributes: itemFromRecord({ ...record, revokedAt: new Date(NOW_MS).toISOString(), expiresAt: NOW_SECONDS, version: 5 }),
    });
    expect((await call('DELETE', '/keys/{id}', { id: KEY_ID })).status).toBe(204);
    const update = dynamo.commandCalls(UpdateItemCommand)[0]!.args[0].input;
    expect(update.ConditionExpression).toBe('attribute_exists(keyHash) AND attribute_not_exists(revokedAt)');
    expect(update.ExpressionAttributeValues?.[':expiresAt']).toEqual({ N: String(NOW_SECONDS) });
    expect(logs.entries().filter(isNotMetricLine)).toEqual([
      expect.objectContaining({ action: 'revoke', changedFields: ['revokedAt', 'expiresAt'] }),
    ]);

    dynamo.on(UpdateItemCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    expect((await call('DELETE', '/keys/{id}', { id: KEY_ID })).status).toBe(204);
  });

  it('DELETE of an already revoked key writes nothing and answers 204', async () => {
    mockStored(storedRecord({ revokedAt: '2030-12-02T00:00:00.000Z' }));
    expect((await call('DELETE', '/keys/{id}', { id: KEY_ID })).status).toBe(204);
    expect(writes()).toHaveLength(0);
  });

  it('fails closed with 503 and a logged error when DynamoDB is unreachable', async () => {
    dynamo.on(QueryCommand).rejects(Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' }));
    dynamo.on(PutItemCommand).rejects(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }));
    expect(await call('GET', '/keys')).toMatchObject({ status: 503, json: { message: 'key store unavailable; retry later' } });
    expect(await call('GET', '/keys/{id}', { id: KEY_ID })).toMatchObject({ status: 503 });
    const create = await call('POST', '/keys', { body: { name: 'x', scopes: [] } });
    expect(create.status).toBe(503);
    expect(create.json.key).toBeUndefined();
    expect(logs.entries().filter((entry) => entry['level'] === 'ERROR' && entry['reason'] === 'key_store_unavailable')).toHaveLength(3);
  });

  it('answers 404 for a method/resource pair it does not serve, and 500 (logged) without authorizer context', async () => {
    expect((await call('PUT', '/keys/{id}', { id: KEY_ID })).status).toBe(404);
    const bare = keysEvent('GET', '/keys');
    bare.requestContext = {} as typeof bare.requestContext;
    const handler = createKeysHandler({
      catalog: DEMO_CATALOG,
      store: new KeyStore(new DynamoDBClient({ region: 'us-east-1' }), 't'),
      keyPrefix: 'dg',
      adminScope: 'keys:admin',
      logger: logs.logger,
    });
    expect((await handler(bare)).statusCode).toBe(500);
    expect(logs.entries().filter(isNotMetricLine).at(-1)).toMatchObject({ level: 'ERROR', reason: 'missing_principal' });
  });
});

describe('validation: 400 naming the field, and nothing written', () => {
  const future = new Date(NOW_MS + 3600_000).toISOString();
  const cases: { title: string; method: string; resource: string; body?: unknown; rawBody?: string; base64?: boolean; field: string }[] = [
    { title: 'malformed JSON', method: 'POST', resource: '/keys', rawBody: '{"name": "x",', field: 'body' },
    { title: 'a body that is not an object', method: 'POST', resource: '/keys', body: ['x'], field: 'body' },
    { title: 'no body at all', method: 'POST', resource: '/keys', field: 'body' },
    { title: 'a missing name', method: 'POST', resource: '/keys', body: { scopes: [] }, field: 'name' },
    { title: 'a wrongly typed name', method: 'POST', resource: '/keys', body: { name: 5, scopes: [] }, field: 'name' },
    { title: 'scopes that are not a list', method: 'POST', resource: '/keys', body: { name: 'x', scopes: 'read:users' }, field: 'scopes' },
    {
      title: 'a repeated scope',
      method: 'POST',
      resource: '/keys',
      body: { name: 'x', scopes: ['read:users', 'read:users'] },
      field: 'scopes',
    },
    { title: 'a scope with a space', method: 'POST', resource: '/keys', body: { name: 'x', scopes: ['read users'] }, field: 'scopes' },
    {
      title: 'a scope outside the catalog',
      method: 'POST',
      resource: '/keys',
      body: { name: 'x', scopes: ['read:secrets'] },
      field: 'scopes',
    },
    {
      title: 'mass-assigned createdBy',
      method: 'POST',
      resource: '/keys',
      body: { name: 'x', scopes: [], createdBy: 'root' },
      field: 'createdBy',
    },
    {
      title: 'mass-assigned keyHash',
      method: 'POST',
      resource: '/keys',
      body: { name: 'x', scopes: [], keyHash: 'f'.repeat(64) },
      field: 'keyHash',
    },
    {
      title: 'mass-assigned revokedAt',
      method: 'POST',
      resource: '/keys',
      body: { name: 'x', scopes: [], revokedAt: future },
      field: 'revokedAt',
    },
    { title: 'mass-assigned id', method: 'POST', resource: '/keys', body: { name: 'x', scopes: [], id: KEY_ID }, field: 'id' },
    {
      title: 'a body over 16 KB',
      method: 'POST',
      resource: '/keys',
      rawBody: JSON.stringify({ name: 'x', scopes: [], metadata: { pad: 'x'.repeat(16 * 1024) } }),
      field: 'body',
    },
    {
      title: 'a base64 body over 16 KB',
      method: 'POST',
      resource: '/keys',
      rawBody: Buffer.from(JSON.stringify({ name: 'x'.repeat(17 * 1024) })).toString('base64'),
      base64: true,
      field: 'body',
    },
    {
      title: 'metadata over 1 KB',
      method: 'POST',
      resource: '/keys',
      body: { name: 'x', scopes: [], metadata: { pad: 'x'.repeat(1100) } },
      field: 'metadata',
    },
    {
      title: 'metadata that is a list',
      method: 'POST',
      resource: '/keys',
      body: { name: 'x', scopes: [], metadata: [1] },
      field: 'metadata',
    },
    {
      title: 'a past expiresAt',
      method: 'POST',
      resource: '/keys',
      body: { name: 'x', scopes: [], expiresAt: '2030-12-31T23:59:59Z' },
      field: 'expiresAt',
    },
    {
      title: 'an expiresAt that is not ISO 8601',
      method: 'POST',
      resource: '/keys',
      body: { name: 'x', scopes: [], expiresAt: 'tomorrow' },
      field: 'expiresAt',
    },
    {
      title: 'both expiresAt and expiresIn',
      method: 'POST',
      resource: '/keys',
      body: { name: 'x', scopes: [], expiresAt: future, expiresIn: 60 },
      field: 'expiresIn',
    },
    { title: 'a zero expiresIn', method: 'POST', resource: '/keys', body: { name: 'x', scopes: [], expiresIn: 0 }, field: 'expiresIn' },
    {
      title: 'a fractional expiresIn',
      method: 'POST',
      resource: '/keys',
      body: { name: 'x', scopes: [], expiresIn: 1.5 },
      field: 'expiresIn',
    },
    {
      title: 'an expiresIn over 10 years',
      method: 'POST',
      resource: '/keys',
      body: { name: 'x', scopes: [], expiresIn: 11 * 365 * 86400 },
      field: 'expiresIn',
    },
    { title: 'an empty PATCH', method: 'PATCH', resource: '/keys/{id}', body: {}, field: 'body' },
    { title: 'owner in a PATCH', method: 'PATCH', resource: '/keys/{id}', body: { owner: 'bob' }, field: 'owner' },
    { title: 'revokedAt in a PATCH', method: 'PATCH', resource: '/keys/{id}', body: { revokedAt: null }, field: 'revokedAt' },
    { title: 'a wrongly typed enabled', method: 'PATCH', resource: '/keys/{id}', body: { enabled: 'yes' }, field: 'enabled' },
    {
      title: 'a past expiresAt in a PATCH',
      method: 'PATCH',
      resource: '/keys/{id}',
      body: { expiresAt: '2020-01-01T00:00:00Z' },
      field: 'expiresAt',
    },
    { title: 'an unknown rotate field', method: 'POST', resource: '/keys/{id}/rotate', body: { scopes: ['keys:admin'] }, field: 'scopes' },
    {
      title: 'a negative grace period',
      method: 'POST',
      resource: '/keys/{id}/rotate',
      body: { gracePeriodSeconds: -1 },
      field: 'gracePeriodSeconds',
    },
    { title: 'a body on DELETE', method: 'DELETE', resource: '/keys/{id}', body: { reason: 'x' }, field: 'body' },
  ];
  for (const testCase of cases) {
    it(`rejects ${testCase.title}`, async () => {
      mockStored(storedRecord());
      const result = await call(testCase.method, testCase.resource, {
        caller: alice,
        ...(testCase.resource.includes('{id}') ? { id: KEY_ID } : {}),
        ...(testCase.body !== undefined ? { body: testCase.body } : {}),
        ...(testCase.rawBody !== undefined ? { rawBody: testCase.rawBody } : {}),
        ...(testCase.base64 ? { isBase64Encoded: true } : {}),
      });
      expect(result.status).toBe(400);
      expect(result.json.field).toBe(testCase.field);
      expect(result.json.message).toContain(testCase.field);
      expect(writes()).toHaveLength(0);
      expect(logs.lines.filter((line) => line.includes('"audit"'))).toEqual([]);
    });
  }

  it('refuses owner from a non-admin as an escalation (403), writing nothing', async () => {
    const result = await call('POST', '/keys', { caller: alice, body: { name: 'x', scopes: [], owner: 'bob' } });
    expect(result.status).toBe(403);
    expect(result.json.field).toBe('owner');
    expect(writes()).toHaveLength(0);
  });

  it('accepts a base64-encoded body within the limit', async () => {
    dynamo.on(PutItemCommand).resolves({});
    const rawBody = Buffer.from(JSON.stringify({ name: 'b64', scopes: ['read:users'] })).toString('base64');
    expect((await call('POST', '/keys', { caller: bob, rawBody, isBase64Encoded: true })).status).toBe(201);
  });
});
