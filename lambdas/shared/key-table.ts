/**
 * The key table's shape, in one place: the CDK construct and local mode's dynalite table are both built
 * from it, so local and AWS cannot drift apart.
 */
import { CreateTableCommand, DescribeTableCommand, type CreateTableCommandInput, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

export const KEY_TABLE = {
  partitionKey: 'keyHash',
  /** Epoch seconds. DynamoDB TTL deletes lazily (up to ~48 h late), so expiry is also checked on every read. */
  ttlAttribute: 'expiresAt',
  /** Written by the authorizer alone (UpdateItem of this attribute only, see lib/construct/authorizer.ts and KeyTable.grantUpdateAttributes in lib/construct/key-table.ts). */
  lastUsedAttribute: 'lastUsedAt',
  indexes: {
    /** Management by public id. */
    byId: { partitionKey: 'keyId' },
    /** Listing a principal's keys, newest last. */
    byOwner: { partitionKey: 'owner', sortKey: 'createdAt' },
  },
} as const;

/**
 * The CreateTable input for the key table, built from `KEY_TABLE`. Local mode (dynalite) and the integration
 * tests use it; the CDK construct builds the same shape with `aws-dynamodb.Table`. TTL is not part of
 * CreateTable (and dynalite has no UpdateTimeToLive): expiry is checked on every read anyway.
 */
function keyTableCreateInput(tableName: string): CreateTableCommandInput {
  const { byId, byOwner } = KEY_TABLE.indexes;
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: KEY_TABLE.partitionKey, AttributeType: 'S' },
      { AttributeName: byId.partitionKey, AttributeType: 'S' },
      { AttributeName: byOwner.partitionKey, AttributeType: 'S' },
      { AttributeName: byOwner.sortKey, AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: KEY_TABLE.partitionKey, KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [
      { IndexName: 'byId', KeySchema: [{ AttributeName: byId.partitionKey, KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } },
      {
        IndexName: 'byOwner',
        KeySchema: [
          { AttributeName: byOwner.partitionKey, KeyType: 'HASH' },
          { AttributeName: byOwner.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

/** Create the key table and wait until it is ACTIVE (dynalite with createTableMs: 0 is active at once). */
export async function createKeyTable(client: DynamoDBClient, tableName: string, options: { maxWaitMs?: number } = {}): Promise<void> {
  await client.send(new CreateTableCommand(keyTableCreateInput(tableName)));
  const deadlineMs = Date.now() + (options.maxWaitMs ?? 10_000);
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadlineMs) throw new Error(`table ${tableName} is still ${Table?.TableStatus} after waiting`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
