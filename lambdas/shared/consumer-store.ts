/**
 * Consumer records (sub → plan and usage key; sub → entitlements) in the key table, beside the keys: the authorizer reads them with
 * the GetItem it already has, so plans need no new table and no new permission. A consumer item's partition key
 * is `consumer#<sub>`, which can never equal a key's SHA-256 hex, and it has neither `keyId` nor `owner`, so the
 * byId and byOwner indexes (sparse) never hold it.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { KeyStoreUnavailableError, KeyWriteConflictError } from './key-store';
import { KEY_TABLE } from '../core/key-table-schema';
import type { ConsumerRecord } from '../core/plans';

const CONSUMER_ITEM_PREFIX = 'consumer#';

export const consumerItemKey = (sub: string): string => `${CONSUMER_ITEM_PREFIX}${sub}`;

export class MalformedConsumerItemError extends Error {
  override readonly name = 'MalformedConsumerItemError';
  constructor(readonly field: string) {
    super(`consumer item has a missing or malformed "${field}"`);
  }
}

const FIELDS = ['sub', 'keyPlan', 'apiKeyId', 'apiKeyValue', 'updatedAt', 'updatedBy'] as const;

function consumerFromItem(item: Record<string, AttributeValue>): ConsumerRecord {
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

function itemFromConsumer(record: ConsumerRecord): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = { [KEY_TABLE.partitionKey]: { S: consumerItemKey(record.sub) } };
  for (const field of FIELDS) item[field] = { S: record[field] };
  if (record.plan !== undefined) item['plan'] = { S: record.plan };
  return item;
}

/**
 * A consumer's entitlements: the scopes an admin let it put on its own keys (beside `portal.defaultScopes`). An
 * item of its own, `entitlements#<sub>`, so that plans' usage-key bookkeeping and entitlements never race.
 */
export interface EntitlementRecord {
  sub: string;
  scopes: string[];
  updatedAt: string;
  updatedBy: string;
}

const ENTITLEMENT_ITEM_PREFIX = 'entitlements#';
const entitlementItemKey = (sub: string): string => `${ENTITLEMENT_ITEM_PREFIX}${sub}`;

function entitlementFromItem(item: Record<string, AttributeValue>): EntitlementRecord {
  const text = (field: 'sub' | 'updatedAt' | 'updatedBy'): string => {
    const value = item[field]?.S;
    if (typeof value !== 'string' || value.length === 0) throw new MalformedConsumerItemError(field);
    return value;
  };
  const sub = text('sub');
  if (item[KEY_TABLE.partitionKey]?.S !== entitlementItemKey(sub)) throw new MalformedConsumerItemError(KEY_TABLE.partitionKey);
  const list = item['scopes']?.L;
  if (!Array.isArray(list) || list.some((scope) => typeof scope.S !== 'string' || scope.S.length === 0))
    throw new MalformedConsumerItemError('scopes');
  return { sub, scopes: list.map((scope) => scope.S as string), updatedAt: text('updatedAt'), updatedBy: text('updatedBy') };
}

function itemFromEntitlement(record: EntitlementRecord): Record<string, AttributeValue> {
  return {
    [KEY_TABLE.partitionKey]: { S: entitlementItemKey(record.sub) },
    sub: { S: record.sub },
    scopes: { L: record.scopes.map((scope) => ({ S: scope })) },
    updatedAt: { S: record.updatedAt },
    updatedBy: { S: record.updatedBy },
  };
}

/** What the authorizer needs: one read by sub. */
export interface ConsumerLookup {
  getConsumer(sub: string): Promise<ConsumerRecord | undefined>;
}

/** The authorizer's read of a consumer's entitlements (only for keys that hold entitled scopes). */
export interface EntitlementLookup {
  getEntitlements(sub: string): Promise<EntitlementRecord | undefined>;
}

/** What the key API needs of entitlements. */
export interface EntitlementStore {
  /** Read consistently: the list an admin just wrote. */
  getEntitlementsConsistent(sub: string): Promise<EntitlementRecord | undefined>;
  /** Replace the consumer's entitlements; an empty list deletes the item. Last writer wins (an admin's whole list). */
  putEntitlements(record: EntitlementRecord): Promise<void>;
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
export class DynamoConsumerLookup implements ConsumerLookup, EntitlementLookup {
  constructor(
    protected readonly client: DynamoDBClient,
    protected readonly tableName: string,
  ) {}

  getConsumer(sub: string): Promise<ConsumerRecord | undefined> {
    return this.read(sub, false);
  }

  getEntitlements(sub: string): Promise<EntitlementRecord | undefined> {
    return this.readEntitlements(sub, false);
  }

  protected async read(sub: string, consistent: boolean): Promise<ConsumerRecord | undefined> {
    const item = await this.getItem(consumerItemKey(sub), consistent);
    return item === undefined ? undefined : consumerFromItem(item);
  }

  protected async readEntitlements(sub: string, consistent: boolean): Promise<EntitlementRecord | undefined> {
    const item = await this.getItem(entitlementItemKey(sub), consistent);
    return item === undefined ? undefined : entitlementFromItem(item);
  }

  private async getItem(partitionKey: string, consistent: boolean): Promise<Record<string, AttributeValue> | undefined> {
    try {
      const output = await this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: { [KEY_TABLE.partitionKey]: { S: partitionKey } },
          ...(consistent ? { ConsistentRead: true } : {}),
        }),
      );
      return output.Item;
    } catch (error) {
      throw new KeyStoreUnavailableError('key table read failed', { cause: error });
    }
  }
}

export class DynamoConsumerStore extends DynamoConsumerLookup implements ConsumerStore, EntitlementStore {
  getConsumerConsistent(sub: string): Promise<ConsumerRecord | undefined> {
    return this.read(sub, true);
  }

  async putConsumer(next: ConsumerRecord, expected: ConsumerRecord | undefined): Promise<void> {
    const condition = expected
      ? {
          ConditionExpression: 'apiKeyId = :apiKeyId AND updatedAt = :updatedAt',
          ExpressionAttributeValues: { ':apiKeyId': { S: expected.apiKeyId }, ':updatedAt': { S: expected.updatedAt } },
        }
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

  getEntitlementsConsistent(sub: string): Promise<EntitlementRecord | undefined> {
    return this.readEntitlements(sub, true);
  }

  async putEntitlements(record: EntitlementRecord): Promise<void> {
    if (record.scopes.length === 0) {
      await this.write(() =>
        this.client.send(
          new DeleteItemCommand({ TableName: this.tableName, Key: { [KEY_TABLE.partitionKey]: { S: entitlementItemKey(record.sub) } } }),
        ),
      );
      return;
    }
    await this.write(() => this.client.send(new PutItemCommand({ TableName: this.tableName, Item: itemFromEntitlement(record) })));
  }

  private async write(send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as { name?: unknown })?.name === 'ConditionalCheckFailedException')
        throw new KeyWriteConflictError('replace');
      throw new KeyStoreUnavailableError('key table write failed', { cause: error });
    }
  }
}
