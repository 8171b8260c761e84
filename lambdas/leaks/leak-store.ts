/**
 * What the leak endpoint may do to the key table, and no more: read one item by hash, and record a leak on it
 * (marking it, or revoking it with reason `leaked`) in one conditional UpdateItem that returns nothing. The IAM
 * policy in lib/construct/dual-auth-api.ts allows exactly these two calls, on exactly these attributes.
 *
 * The write does not depend on `version`, like DELETE /keys/{id}: a leak revocation always wins over a concurrent
 * PATCH or rotate, and bumping `version` makes those compare-and-swaps fail instead of writing back a copy of the
 * key without the leak. It is idempotent: a key already revoked (or, when only marking, already marked) is left
 * alone, and the leak fields keep the first report's values.
 */
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { recordFromItem, type KeyRecord } from '../core/key-record';
import { KeyStoreUnavailableError } from '../shared/key-store';
import { LEAK_REVOKED_REASON } from './leak-model';

/** The leak as recorded on the key: written once (the first report's values are kept). */
export interface LeakMark {
  /** ISO 8601. */
  reportedAt: string;
  reporter: 'github';
  url?: string;
  source?: string;
}

export interface LeakRevocation {
  /** ISO 8601; also `updatedAt`. */
  revokedAt: string;
  /** Epoch seconds (now): the TTL attribute, so the item is cleaned up later, as DELETE /keys/{id} does. */
  expiresAt: number;
}

export interface LeakStore {
  /** The key with this hash, read consistently; undefined when there is none. Throws KeyStoreUnavailableError on I/O failure. */
  getByHash(keyHash: string): Promise<KeyRecord | undefined>;
  /**
   * Record the leak, and with `revoke` revoke the key. Resolves true when this call wrote, false when the key was
   * already revoked (with `revoke`) or already marked (without), or is gone: nothing to do.
   */
  recordLeak(keyHash: string, leak: LeakMark, revoke?: LeakRevocation): Promise<boolean>;
}

export class DynamoLeakStore implements LeakStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async getByHash(keyHash: string): Promise<KeyRecord | undefined> {
    let item;
    try {
      // Consistent: a key created a moment before its leak was reported must be found, not called a false positive.
      const output = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: { keyHash: { S: keyHash } }, ConsistentRead: true }),
      );
      item = output.Item;
    } catch (error) {
      throw new KeyStoreUnavailableError('key table read failed', { cause: error });
    }
    return item === undefined ? undefined : recordFromItem(item);
  }

  async recordLeak(keyHash: string, leak: LeakMark, revoke?: LeakRevocation): Promise<boolean> {
    const values: Record<string, AttributeValue> = {
      ':reportedAt': { S: leak.reportedAt },
      ':reporter': { S: leak.reporter },
      ':now': { S: revoke?.revokedAt ?? leak.reportedAt },
      ':zero': { N: '0' },
      ':one': { N: '1' },
    };
    const set = [
      'leakedAt = if_not_exists(leakedAt, :reportedAt)',
      'leakReporter = if_not_exists(leakReporter, :reporter)',
      'updatedAt = :now',
      '#version = if_not_exists(#version, :zero) + :one',
    ];
    if (leak.url !== undefined) {
      set.push('leakUrl = if_not_exists(leakUrl, :url)');
      values[':url'] = { S: leak.url };
    }
    if (leak.source !== undefined) {
      set.push('leakSource = if_not_exists(leakSource, :source)');
      values[':source'] = { S: leak.source };
    }
    if (revoke) {
      set.push('revokedAt = :now', 'revokedReason = :reason', 'expiresAt = :expiresAt');
      values[':reason'] = { S: LEAK_REVOKED_REASON };
      values[':expiresAt'] = { N: String(revoke.expiresAt) };
    }
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { keyHash: { S: keyHash } },
          UpdateExpression: `SET ${set.join(', ')}`,
          // attribute_exists: never create an item holding only a hash and a leak.
          ConditionExpression: revoke
            ? 'attribute_exists(keyHash) AND attribute_not_exists(revokedAt)'
            : 'attribute_exists(keyHash) AND attribute_not_exists(leakedAt)',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: values,
          ReturnValues: 'NONE',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as { name?: unknown })?.name === 'ConditionalCheckFailedException')
        return false;
      throw new KeyStoreUnavailableError('key table leak write failed', { cause: error });
    }
  }
}
