/**
 * The authorizer's DynamoDB side: the SDK client and the lookups over the key table. Only ever imported
 * dynamically (wiring.ts → OnDemandKeyTable), so esbuild emits this module and the AWS SDK as a chunk of their
 * own beside index.mjs, which a container that only sees JWTs never loads. Nothing outside the authorizer's
 * lazy path may import it statically: that would pull the SDK back into every cold start.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoConsumerLookup } from '../shared/consumer-store';
import { createDynamoClient, DynamoKeyLookup } from '../shared/key-store';
import type { KeyTableStores } from './on-demand-key-table';

export interface KeyTableClientOptions {
  tableName: string;
  /** Local mode and tests: dynalite's URL. */
  endpoint?: string;
  /** An already built client (tests, benchmarks); default: `createDynamoClient`'s timeouts and retries. */
  client?: DynamoDBClient;
}

export function openKeyTable(options: KeyTableClientOptions): KeyTableStores {
  const client = options.client ?? createDynamoClient(options.endpoint ? { endpoint: options.endpoint } : {});
  const keys = new DynamoKeyLookup(client, options.tableName);
  const consumers = new DynamoConsumerLookup(client, options.tableName);
  return { keyLookup: keys, usageWriter: keys, consumerLookup: consumers, entitlementLookup: consumers };
}
