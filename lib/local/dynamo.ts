/**
 * dynalite as local mode's DynamoDB: in memory by default, or persisted to a directory (`--data DIR`),
 * with the key table and its indexes created from the same definition the stack uses (KEY_TABLE).
 * dynalite has no TTL deletion, transactions or UpdateTimeToLive: nothing in dualgate needs them, since
 * expiry is checked on every read and rotation uses ordered conditional writes.
 * dynalite answers any Host, grants CORS to any Origin and takes any signature: its server is put behind
 * loopback-guard.ts (loopback Host names only, no foreign Origin, no CORS grants), so no web page can reach the tables.
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { KEY_TABLE } from '../../lambdas/core/key-table-schema';
import { restrictToLoopback } from './loopback-guard';

/** Credentials and region for talking to dynalite: it checks neither, but the SDK insists on having some. */
export const LOCAL_AWS = { region: 'us-east-1', accessKeyId: 'local', secretAccessKey: 'local' } as const;

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  tableName: string;
  stop(): Promise<void>;
}

export async function startLocalDynamo(options: {
  host: string;
  port?: number;
  dataDir?: string;
  tableName: string;
  allowedHosts?: readonly string[];
}): Promise<LocalDynamo> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const server = restrictToLoopback(
    dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.dataDir ? { path: options.dataDir } : {}) }),
    {
      kind: 'internal',
      ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const endpoint = `http://${options.host}:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_AWS.region,
    credentials: { accessKeyId: LOCAL_AWS.accessKeyId, secretAccessKey: LOCAL_AWS.secretAccessKey },
    maxAttempts: 1,
  });
  const stop = async () => {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  try {
    // With --data the table survives restarts: create it only the first time.
    if (!(await tableExists(client, options.tableName))) await createKeyTable(client, options.tableName);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, client, tableName: options.tableName, stop };
}

async function tableExists(client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return true;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return false;
    throw error;
  }
}

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
