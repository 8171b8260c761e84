/**
 * A stored key and the pure rules that decide whether it may be used. Items are validated field by field
 * when read, so a hand-edited or corrupt item is reported as malformed rather than trusted.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export interface KeyRecord {
  /** SHA-256 hex of the full key; the partition key. Never leaves the key store. */
  keyHash: string;
  /** Public id, `key_` + ULID. */
  keyId: string;
  /** The `sub` the key acts as. */
  owner: string;
  name: string;
  scopes: string[];
  /**
   * The scopes among `scopes` that the key holds only through its owner's entitlements (granted by a JWT caller
   * that is entitled to them but whose token lacks them, or by a key that held them that way). The authorizer
   * drops each one the owner is no longer entitled to (SECURITY.md, "Entitlements"). Absent: none.
   */
  entitledScopes?: string[];
  /** ISO 8601; sort key of `byOwner`. */
  createdAt: string;
  createdBy: string;
  /** The key the creator authenticated with, when it used one (absent for JWT callers and older items). */
  createdByKeyId?: string;
  /** Epoch seconds; absent means it never expires. */
  expiresAt?: number;
  /** ISO 8601. */
  revokedAt?: string;
  /** Why it was revoked, when dualgate revoked it on its own: `leaked` (a leak report). Absent for a revoke by a caller. */
  revokedReason?: string;
  /** ISO 8601: when a leak of this key was first reported (lambdas/leaks). The leak fields are written once. */
  leakedAt?: string;
  /** Where the leak was found (the report's public URL), when the report named one. */
  leakUrl?: string;
  /** Where on the reporter's platform it was found (GitHub's `source`: `content`, `commit`, `issue_comment`…). */
  leakSource?: string;
  /** Who reported the leak: `github`. */
  leakReporter?: string;
  enabled: boolean;
  /** Display prefix: `<prefix>_` + first 4 random chars. */
  start: string;
  metadata?: Record<string, unknown>;
  rotatedFrom?: string;
  rotatedTo?: string;
  /** ISO 8601 of the last change. */
  updatedAt?: string;
  /** ISO 8601: when the authorizer last let the key through (written at most once per interval). Absent if never used. */
  lastUsedAt?: string;
  /** Incremented by every update; conditional writes compare it (optimistic concurrency). */
  version: number;
}

/** The verdict on a stored key, as a value (Unkey style), not a nest of ifs. */
export type KeyStatus = 'active' | 'expired' | 'revoked' | 'disabled';

export function keyStatus(record: Pick<KeyRecord, 'expiresAt' | 'revokedAt' | 'enabled'>, nowSeconds: number): KeyStatus {
  if (record.revokedAt !== undefined) return 'revoked';
  // TTL deletion is lazy: an item may outlive its expiry by days, so expiry is decided here, on every read.
  if (record.expiresAt !== undefined && record.expiresAt <= nowSeconds) return 'expired';
  if (!record.enabled) return 'disabled';
  return 'active';
}

export class MalformedKeyItemError extends Error {
  override readonly name = 'MalformedKeyItemError';
  constructor(readonly field: string) {
    super(`key item has a missing or malformed "${field}"`);
  }
}

function str(item: Record<string, AttributeValue>, field: string): string {
  const value = item[field]?.S;
  if (typeof value !== 'string' || value.length === 0) throw new MalformedKeyItemError(field);
  return value;
}

function optionalStr(item: Record<string, AttributeValue>, field: string): string | undefined {
  if (item[field] === undefined || item[field]?.NULL === true) return undefined;
  return str(item, field);
}

function optionalNum(item: Record<string, AttributeValue>, field: string): number | undefined {
  const attribute = item[field];
  if (attribute === undefined || attribute.NULL === true) return undefined;
  const value = Number(attribute.N);
  if (attribute.N === undefined || !Number.isFinite(value)) throw new MalformedKeyItemError(field);
  return value;
}

/** Optional string attributes, read and written alike; an absent attribute means the field is unset. */
const OPTIONAL_STRING_FIELDS = [
  'createdByKeyId',
  'revokedAt',
  'revokedReason',
  'rotatedFrom',
  'rotatedTo',
  'updatedAt',
  'lastUsedAt',
  'leakedAt',
  'leakUrl',
  'leakSource',
  'leakReporter',
] as const;

export function recordFromItem(item: Record<string, AttributeValue>): KeyRecord {
  const scopes = item['scopes']?.L;
  if (!Array.isArray(scopes) || scopes.some((scope) => typeof scope.S !== 'string')) {
    throw new MalformedKeyItemError('scopes');
  }
  const enabled = item['enabled']?.BOOL;
  if (typeof enabled !== 'boolean') throw new MalformedKeyItemError('enabled');
  const record: KeyRecord = {
    keyHash: str(item, 'keyHash'),
    keyId: str(item, 'keyId'),
    owner: str(item, 'owner'),
    name: str(item, 'name'),
    scopes: scopes.map((scope) => scope.S as string),
    createdAt: str(item, 'createdAt'),
    createdBy: str(item, 'createdBy'),
    enabled,
    start: str(item, 'start'),
    version: optionalNum(item, 'version') ?? 0,
  };
  const entitled = item['entitledScopes'];
  if (entitled !== undefined && entitled.NULL !== true) {
    const list = entitled.L;
    if (!Array.isArray(list) || list.some((scope) => typeof scope.S !== 'string')) throw new MalformedKeyItemError('entitledScopes');
    if (list.length > 0) record.entitledScopes = list.map((scope) => scope.S as string);
  }
  const expiresAt = optionalNum(item, 'expiresAt');
  if (expiresAt !== undefined) record.expiresAt = expiresAt;
  for (const field of OPTIONAL_STRING_FIELDS) {
    const value = optionalStr(item, field);
    if (value !== undefined) record[field] = value;
  }
  const metadata = optionalStr(item, 'metadata');
  if (metadata !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(metadata);
    } catch {
      throw new MalformedKeyItemError('metadata');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new MalformedKeyItemError('metadata');
    record.metadata = parsed as Record<string, unknown>;
  }
  return record;
}

export function itemFromRecord(record: KeyRecord): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    keyHash: { S: record.keyHash },
    keyId: { S: record.keyId },
    owner: { S: record.owner },
    name: { S: record.name },
    scopes: { L: record.scopes.map((scope) => ({ S: scope })) },
    createdAt: { S: record.createdAt },
    createdBy: { S: record.createdBy },
    enabled: { BOOL: record.enabled },
    start: { S: record.start },
    version: { N: String(record.version) },
  };
  if (record.expiresAt !== undefined) item['expiresAt'] = { N: String(record.expiresAt) };
  if (record.entitledScopes !== undefined && record.entitledScopes.length > 0)
    item['entitledScopes'] = { L: record.entitledScopes.map((scope) => ({ S: scope })) };
  for (const field of OPTIONAL_STRING_FIELDS) {
    const value = record[field];
    if (value !== undefined) item[field] = { S: value };
  }
  if (record.metadata !== undefined) item['metadata'] = { S: JSON.stringify(record.metadata) };
  return item;
}
