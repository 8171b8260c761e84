/**
 * Consumer records (sub → plan and usage key) in the key table, beside the keys: the authorizer reads them with
 * the GetItem it already has, so plans need no new table and no new permission. A consumer item's partition key
 * is `consumer#<sub>`, which can never equal a key's SHA-256 hex, and it has neither `keyId` nor `owner`, so the
 * byId and byOwner indexes (sparse) never hold it.
 */
import { ConditionalCheckFailedException, DeleteItemCommand, GetItemCommand, PutItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KeyStoreUnavailableError, KeyWriteConflictError } from './key-store';
import { KEY_TABLE } from './key-table';
import type { ConsumerRecord } from './plans';

export const CONSUMER_ITEM_PREFIX = 'consumer#';

export const consumerItemKey = (sub: string): string => `${CONSUMER_ITEM_PREFIX}${sub}`;

export class MalformedConsumerItemError extends Error {
  override readonly name = 'MalformedConsumerItemError';
  constructor(readonly field: string) {
    super(`consumer item has a missing or malformed "${field}"`);
  }
}

const FIELDS = ['sub', 'keyPlan', 'apiKeyId', 'apiKeyValue', 'updatedAt', 'updatedBy'] as const;

export function consumerFromItem(item: Record<string, AttributeValue>): ConsumerRecord {
  const values = Object.fromEntries(
    FIELDS.map((field) => {
      const value = item[field]?.S;
      if (typeof value !== 'string' || value.length === 0) throw new MalformedConsumerItemError(field);
      return [field, value];
    }),
  ) as Record<(typeof FIELDS)[number], string>;
  if (item[KEY_TABLE.partitionKey]?.S !== consumerItemKey(values.sub)) throw new MalformedConsumerItemError(KEY_TABLE.partitionKey);
  const plan = item['plan'];
  if (plan === undefined) return values;
  if (typeof plan.S !== 'string' || plan.S.length === 0) throw new MalformedConsumerItemError('plan');
  return { ...values, plan: plan.S };
}

export function itemFromConsumer(record: ConsumerRecord): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = { [KEY_TABLE.partitionKey]: { S: consumerItemKey(record.sub) } };
  for (const field of FIELDS) item[field] = { S: record[field] };
  if (record.plan !== undefined) item['plan'] = { S: record.plan };
  return item;
}

/** What the authorizer needs: one read by sub. */
export interface ConsumerLookup {
  getConsumer(sub: string): Promise<ConsumerRecord | undefined>;
}

/** What the key API needs. */
export interface ConsumerStore extends ConsumerLookup {
  /** Read consistently: the state a write just committed. */
  getConsumerConsistent(sub: string): Promise<ConsumerRecord | undefined>;
  /** Write `next`; with `expected`, only if the stored record is still that one (else KeyWriteConflictError). */
  putConsumer(next: ConsumerRecord, expected: ConsumerRecord | undefined): Promise<void>;
  /** Remove the record only if it is still `expected`. */
  deleteConsumer(expected: ConsumerRecord): Promise<void>;
}

/** The authorizer's side: one eventually consistent GetItem (its bundle carries no write commands). */
export class DynamoConsumerLookup implements ConsumerLookup {
  constructor(
    protected readonly client: DynamoDBClient,
    protected readonly tableName: string,
  ) {}

  getConsumer(sub: string): Promise<ConsumerRecord | undefined> {
    return this.read(sub, false);
  }

  protected async read(sub: string, consistent: boolean): Promise<ConsumerRecord | undefined> {
    let item;
    try {
      const output = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: { [KEY_TABLE.partitionKey]: { S: consumerItemKey(sub) } }, ...(consistent ? { ConsistentRead: true } : {}) }),
      );
      item = output.Item;
    } catch (error) {
      throw new KeyStoreUnavailableError('key table read failed', { cause: error });
    }
    return item === undefined ? undefined : consumerFromItem(item);
  }
}

export class DynamoConsumerStore extends DynamoConsumerLookup implements ConsumerStore {
  getConsumerConsistent(sub: string): Promise<ConsumerRecord | undefined> {
    return this.read(sub, true);
  }

  async putConsumer(next: ConsumerRecord, expected: ConsumerRecord | undefined): Promise<void> {
    const condition = expected
      ? { ConditionExpression: 'apiKeyId = :apiKeyId AND updatedAt = :updatedAt', ExpressionAttributeValues: { ':apiKeyId': { S: expected.apiKeyId }, ':updatedAt': { S: expected.updatedAt } } }
      : { ConditionExpression: `attribute_not_exists(${KEY_TABLE.partitionKey})` };
    await this.write(() => this.client.send(new PutItemCommand({ TableName: this.tableName, Item: itemFromConsumer(next), ...condition })));
  }

  async deleteConsumer(expected: ConsumerRecord): Promise<void> {
    await this.write(() =>
      this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { [KEY_TABLE.partitionKey]: { S: consumerItemKey(expected.sub) } },
          ConditionExpression: 'apiKeyId = :apiKeyId AND updatedAt = :updatedAt',
          ExpressionAttributeValues: { ':apiKeyId': { S: expected.apiKeyId }, ':updatedAt': { S: expected.updatedAt } },
        }),
      ),
    );
  }

  private async write(send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as { name?: unknown })?.name === 'ConditionalCheckFailedException') throw new KeyWriteConflictError('replace');
      throw new KeyStoreUnavailableError('key table write failed', { cause: error });
    }
  }
}
