/**
 * The key table behind a small interface. The authorizer needs only `getByHash`; the management API
 * (lambdas/keys) uses the rest. SDK errors are turned into domain errors here, at the storage edge.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { recordFromItem, type KeyRecord } from './key-record';

export interface KeyLookup {
  /** The stored key, or undefined when no item has that hash. Throws `KeyStoreUnavailableError` on I/O failure. */
  getByHash(keyHash: string): Promise<KeyRecord | undefined>;
}

export class KeyStoreUnavailableError extends Error {
  override readonly name = 'KeyStoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface DynamoClientOptions {
  region?: string;
  endpoint?: string;
  /** Per-attempt budget. The authorizer must answer well inside API Gateway's limits, so no SDK default here. */
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
  maxAttempts?: number;
}

/**
 * A DynamoDB client with timeouts and retries set on purpose: at most `maxAttempts` tries of at most
 * `requestTimeoutMs` each, so a slow table fails closed in bounded time instead of hanging.
 */
export function createDynamoClient(options: DynamoClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    maxAttempts: options.maxAttempts ?? 2,
    requestHandler: {
      requestTimeout: options.requestTimeoutMs ?? 800,
      connectionTimeout: options.connectionTimeoutMs ?? 400,
    },
  });
}

export class DynamoKeyLookup implements KeyLookup {
  constructor(
    protected readonly client: DynamoDBClient,
    protected readonly tableName: string,
  ) {}

  async getByHash(keyHash: string): Promise<KeyRecord | undefined> {
    let item;
    try {
      // Eventually consistent: half the cost, and a just-created key is rarely used within the replication lag.
      const output = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: { keyHash: { S: keyHash } } }),
      );
      item = output.Item;
    } catch (error) {
      throw new KeyStoreUnavailableError('key table read failed', { cause: error });
    }
    return item === undefined ? undefined : recordFromItem(item);
  }
}
