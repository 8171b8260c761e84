/**
 * Boot dynalite in-process on a random loopback port, with the key table created from `KEY_TABLE`.
 * dynalite has no TransactWriteItems and no UpdateTimeToLive, like local mode.
 */
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { createKeyTable } from '../../lib/local/dynamo';

export interface LocalDynamo {
  client: DynamoDBClient;
  endpoint: string;
  /** Create a key table with a fresh name, so tests sharing one server never see each other's items. */
  createTable(name?: string): Promise<string>;
  close(): Promise<void>;
}

let tableCounter = 0;

export async function startDynalite(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  return {
    client,
    endpoint,
    async createTable(name = `keys-${process.pid}-${++tableCounter}`) {
      await createKeyTable(client, name);
      return name;
    },
    async close() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
