/**
 * The key table behind a small interface. The authorizer needs only `getByHash`; the management API
 * (lambdas/keys) uses the rest. SDK errors are turned into domain errors here, at the storage edge.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { itemFromRecord, recordFromItem, type KeyRecord } from '../core/key-record';
import { KEY_TABLE } from '../core/key-table-schema';
import { KeyStoreUnavailableError } from '../core/key-store-errors';

// Defined apart (no SDK import there) so that the authorizer's init code can name it; the key API imports it from here.
export { KeyStoreUnavailableError };

export interface KeyLookup {
  /** The stored key, or undefined when no item has that hash. Throws `KeyStoreUnavailableError` on I/O failure. */
  getByHash(keyHash: string): Promise<KeyRecord | undefined>;
}

/** Where the authorizer records that a key was used (lambdas/authorizer/last-used.ts). */
export interface KeyUsageWriter {
  /**
   * Set the key's `lastUsedAt` to `usedAt` (ISO 8601) unless it is already later than `notAfter` or the key is
   * gone. Resolves whether it wrote; rejects with `KeyStoreUnavailableError` on I/O failure.
   */
  recordUse(keyHash: string, usedAt: string, notAfter: string): Promise<boolean>;
}

export interface DynamoClientOptions {
  region?: string;
  endpoint?: string;
  /** Per-attempt budget. The authorizer must answer well inside API Gateway's limits, so no SDK default here. */
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
  maxAttempts?: number;
  /** Local mode and tests only; in Lambda the SDK's default provider reads the role's credentials. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * A DynamoDB client with timeouts and retries set on purpose: at most `maxAttempts` tries of at most
 * `requestTimeoutMs` each, so a slow table fails closed in bounded time instead of hanging.
 */
export function createDynamoClient(options: DynamoClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts ?? 2,
    requestHandler: {
      requestTimeout: options.requestTimeoutMs ?? 800,
      connectionTimeout: options.connectionTimeoutMs ?? 400,
      // Without this, @smithy/node-http-handler only logs a warning when requestTimeout passes and keeps
      // waiting: a table that accepts the connection and never answers would hang the authorizer.
      throwOnRequestTimeout: true,
    },
  });
}

export class DynamoKeyLookup implements KeyLookup, KeyUsageWriter {
  constructor(
    protected readonly client: DynamoDBClient,
    protected readonly tableName: string,
  ) {}

  async getByHash(keyHash: string): Promise<KeyRecord | undefined> {
    let item;
    try {
      // Eventually consistent: half the cost, and a just-created key is rarely used within the replication lag.
      const output = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { keyHash: { S: keyHash } } }));
      item = output.Item;
    } catch (error) {
      throw new KeyStoreUnavailableError('key table read failed', { cause: error });
    }
    return item === undefined ? undefined : recordFromItem(item);
  }

  /**
   * One UpdateItem of `lastUsedAt` alone, returning nothing: the authorizer's IAM policy allows exactly this
   * (dynamodb:Attributes = keyHash, lastUsedAt; dynamodb:ReturnValues = NONE). It does not bump `version`, so a
   * concurrent PATCH is never refused because a key was used. `attribute_exists(keyHash)` keeps a deleted key
   * from coming back as an item holding only a hash; the time condition keeps writes monotonic and, across
   * containers, at most one per interval.
   */
  async recordUse(keyHash: string, usedAt: string, notAfter: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { keyHash: { S: keyHash } },
          UpdateExpression: 'SET lastUsedAt = :usedAt',
          ConditionExpression: 'attribute_exists(keyHash) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt < :notAfter)',
          ExpressionAttributeValues: { ':usedAt': { S: usedAt }, ':notAfter': { S: notAfter } },
          ReturnValues: 'NONE',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as { name?: unknown })?.name === 'ConditionalCheckFailedException')
        return false;
      throw new KeyStoreUnavailableError('key table lastUsedAt write failed', { cause: error });
    }
  }
}

/** A conditional write found the item in another state than the caller expected (a concurrent change). */
export class KeyWriteConflictError extends Error {
  override readonly name = 'KeyWriteConflictError';
  constructor(readonly operation: 'create' | 'replace' | 'revoke') {
    super(`conditional ${operation} failed: the key changed concurrently`);
  }
}

/**
 * A list cursor that this store did not issue for this owner, or whose key is gone. One message for every case,
 * so a cursor cannot be used to ask whether some key id exists (an existence oracle).
 */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
  constructor() {
    super('cursor is not valid for this listing (not one this API returned, or its key is gone); list again from the start');
  }
}

/** Extra conditions for `replace`, on top of the version check. */
export interface ReplaceGuard {
  /** Refuse if the stored key is revoked, already rotated, or expired at `nowSeconds` (rotation's precondition). */
  live?: { nowSeconds: number };
}

export interface KeyPage {
  records: KeyRecord[];
  /** Opaque; present when more items may follow. */
  nextCursor?: string;
}

/** What the management API needs from the table. `KeyStore` is the DynamoDB implementation. */
export interface KeyManagementStore extends KeyLookup {
  /** Insert a new key; `KeyWriteConflictError` if that hash exists. */
  create(record: KeyRecord): Promise<void>;
  /** The stored item for a hash, read consistently: what a write just did (or did not) commit. */
  getByHashConsistent(keyHash: string): Promise<KeyRecord | undefined>;
  /**
   * The authoritative (consistently read) record for a public id. With `owner`, a key of another owner is
   * undefined after exactly the same work as an unknown id (the byId query filters on owner), so neither the
   * answer nor its timing says whether the id exists.
   */
  getById(keyId: string, filter?: { owner?: string }): Promise<KeyRecord | undefined>;
  listByOwner(owner: string, page: { limit: number; cursor?: string }): Promise<KeyPage>;
  /** Compare-and-swap: write `next` only if the stored version is still `expectedVersion` (and the guard holds). */
  replace(next: KeyRecord, expectedVersion: number, guard?: ReplaceGuard): Promise<void>;
  /** Set revokedAt and expiresAt unless already revoked; independent of version, so a revoke always wins. */
  revoke(keyHash: string, change: { revokedAt: string; expiresAt: number }): Promise<KeyRecord>;
  /** Remove an item outright (only the rollback of an unfinished rotation does this). */
  deleteByHash(keyHash: string): Promise<void>;
}

/** Where a listing stopped: the last key returned, by public id. Never the key hash (the table's partition key). */
export interface CursorPosition {
  owner: string;
  createdAt: string;
  keyId: string;
}

const CURSOR_FIELDS = ['owner', 'createdAt', 'keyId'] as const;

/**
 * Cursor = base64url(JSON of `{owner, createdAt, keyId}`). byOwner's LastEvaluatedKey also carries the item's
 * keyHash, which must never reach a client, so the store swaps it for the public id here and back on the way in.
 */
export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify({ owner: position.owner, createdAt: position.createdAt, keyId: position.keyId })).toString('base64url');
}

/** Parse a cursor back into a position, refusing anything this API could not have issued for `owner`. */
export function decodeCursor(cursor: string, owner: string): CursorPosition {
  if (cursor.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidCursorError();
  const fields = parsed as Record<string, unknown>;
  if (Object.keys(fields).length !== CURSOR_FIELDS.length) throw new InvalidCursorError();
  const [ownerValue, createdAt, keyId] = CURSOR_FIELDS.map((field) => {
    const value = fields[field];
    if (typeof value !== 'string' || value.length === 0 || value.length > 512) throw new InvalidCursorError();
    return value;
  });
  // A cursor from another owner's listing would let a caller page through that owner's partition.
  if (ownerValue !== owner || createdAt === undefined || keyId === undefined) throw new InvalidCursorError();
  return { owner: ownerValue, createdAt, keyId };
}

export class KeyStore extends DynamoKeyLookup implements KeyManagementStore {
  async create(record: KeyRecord): Promise<void> {
    await this.write('create', () =>
      this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: itemFromRecord(record),
          ConditionExpression: 'attribute_not_exists(keyHash)',
        }),
      ),
    );
  }

  async getById(keyId: string, filter: { owner?: string } = {}): Promise<KeyRecord | undefined> {
    const ownerField = KEY_TABLE.indexes.byOwner.partitionKey;
    const match: Record<string, string> = filter.owner === undefined ? {} : { [ownerField]: filter.owner };
    const keyHash = (await this.queryById(keyId, [KEY_TABLE.partitionKey], match))?.[KEY_TABLE.partitionKey]?.S;
    if (keyHash === undefined) return undefined;
    // GSIs are eventually consistent; the version used for compare-and-swap must come from the table itself.
    return this.getByHashConsistent(keyHash);
  }

  async listByOwner(owner: string, page: { limit: number; cursor?: string }): Promise<KeyPage> {
    const exclusiveStartKey = page.cursor === undefined ? undefined : await this.exclusiveStartKeyOf(decodeCursor(page.cursor, owner));
    let output;
    try {
      output = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'byOwner',
          KeyConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': KEY_TABLE.indexes.byOwner.partitionKey },
          ExpressionAttributeValues: { ':owner': { S: owner } },
          Limit: page.limit,
          ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
        }),
      );
    } catch (error) {
      throw new KeyStoreUnavailableError('key table query failed', { cause: error });
    }
    const records = (output.Items ?? []).map((item) => recordFromItem(item));
    const result: KeyPage = { records };
    // LastEvaluatedKey is the last item returned; the cursor names it by id instead of by hash.
    const last = records.at(-1);
    if (output.LastEvaluatedKey && last)
      result.nextCursor = encodeCursor({ owner: last.owner, createdAt: last.createdAt, keyId: last.keyId });
    return result;
  }

  /**
   * byOwner's ExclusiveStartKey needs the table key (keyHash) too: look the cursor's key up by id, filtered on the
   * cursor's owner and createdAt, and rebuild the start key from the stored item. A key of another owner, one that
   * does not match the cursor and one that does not exist all cost the same one query and get the same 400.
   */
  private async exclusiveStartKeyOf(position: CursorPosition): Promise<Record<string, AttributeValue>> {
    const { partitionKey: ownerField, sortKey: createdAtField } = KEY_TABLE.indexes.byOwner;
    const item = await this.queryById(position.keyId, [KEY_TABLE.partitionKey, ownerField, createdAtField], {
      [ownerField]: position.owner,
      [createdAtField]: position.createdAt,
    });
    const keyHash = item?.[KEY_TABLE.partitionKey]?.S;
    // The filter already did this; checked again so that the rule never rests on the filter alone.
    if (keyHash === undefined || item?.[ownerField]?.S !== position.owner || item[createdAtField]?.S !== position.createdAt) {
      throw new InvalidCursorError();
    }
    return { [KEY_TABLE.partitionKey]: { S: keyHash }, [ownerField]: { S: position.owner }, [createdAtField]: { S: position.createdAt } };
  }

  /**
   * The byId index entry for a public id, projected to `attributes` (the index projects ALL), and only if its
   * attributes equal `match`. The filter runs inside DynamoDB on the one item the key condition reads, so a
   * mismatch and an absent id are the same single query with the same empty answer.
   */
  private async queryById(
    keyId: string,
    attributes: readonly string[],
    match: Readonly<Record<string, string>> = {},
  ): Promise<Record<string, AttributeValue> | undefined> {
    const names = Object.fromEntries(attributes.map((attribute, index) => [`#a${index}`, attribute]));
    const matchEntries = Object.entries(match);
    const filterNames = Object.fromEntries(matchEntries.map(([attribute], index) => [`#f${index}`, attribute]));
    const filterValues = Object.fromEntries(matchEntries.map(([, value], index) => [`:f${index}`, { S: value }]));
    const filter = matchEntries.map((_, index) => `#f${index} = :f${index}`).join(' AND ');
    try {
      const output = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'byId',
          KeyConditionExpression: '#keyId = :keyId',
          ExpressionAttributeNames: { '#keyId': KEY_TABLE.indexes.byId.partitionKey, ...names, ...filterNames },
          ExpressionAttributeValues: { ':keyId': { S: keyId }, ...filterValues },
          ProjectionExpression: Object.keys(names).join(', '),
          ...(filter ? { FilterExpression: filter } : {}),
          // byId holds one item per id, so Limit 1 (applied before the filter) still reads the only candidate.
          Limit: 1,
        }),
      );
      return output.Items?.[0];
    } catch (error) {
      throw new KeyStoreUnavailableError('key table query failed', { cause: error });
    }
  }

  async replace(next: KeyRecord, expectedVersion: number, guard: ReplaceGuard = {}): Promise<void> {
    const conditions = ['attribute_exists(keyHash)', '#version = :expectedVersion'];
    const values: Record<string, AttributeValue> = { ':expectedVersion': { N: String(expectedVersion) } };
    if (guard.live) {
      conditions.push(
        'attribute_not_exists(revokedAt)',
        'attribute_not_exists(rotatedTo)',
        '(attribute_not_exists(expiresAt) OR expiresAt > :nowSeconds)',
      );
      values[':nowSeconds'] = { N: String(guard.live.nowSeconds) };
    }
    await this.write('replace', () =>
      this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: itemFromRecord(next),
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  async revoke(keyHash: string, change: { revokedAt: string; expiresAt: number }): Promise<KeyRecord> {
    const output = await this.write('revoke', () =>
      this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { keyHash: { S: keyHash } },
          UpdateExpression: 'SET revokedAt = :revokedAt, updatedAt = :revokedAt, expiresAt = :expiresAt, #version = #version + :one',
          ConditionExpression: 'attribute_exists(keyHash) AND attribute_not_exists(revokedAt)',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: {
            ':revokedAt': { S: change.revokedAt },
            ':expiresAt': { N: String(change.expiresAt) },
            ':one': { N: '1' },
          },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    if (!output.Attributes) throw new KeyStoreUnavailableError('revoke returned no item');
    return recordFromItem(output.Attributes);
  }

  async deleteByHash(keyHash: string): Promise<void> {
    try {
      await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: { keyHash: { S: keyHash } } }));
    } catch (error) {
      throw new KeyStoreUnavailableError('key table delete failed', { cause: error });
    }
  }

  async getByHashConsistent(keyHash: string): Promise<KeyRecord | undefined> {
    let item;
    try {
      const output = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: { keyHash: { S: keyHash } }, ConsistentRead: true }),
      );
      item = output.Item;
    } catch (error) {
      throw new KeyStoreUnavailableError('key table read failed', { cause: error });
    }
    return item === undefined ? undefined : recordFromItem(item);
  }

  /** The storage edge: a failed condition becomes a domain error, anything else means the table is unavailable. */
  private async write<T>(operation: 'create' | 'replace' | 'revoke', send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as { name?: unknown })?.name === 'ConditionalCheckFailedException') {
        throw new KeyWriteConflictError(operation);
      }
      throw new KeyStoreUnavailableError(`key table ${operation} failed`, { cause: error });
    }
  }
}
