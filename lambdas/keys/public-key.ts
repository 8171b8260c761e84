/** The public face of a stored key. Built field by field (an allow-list), so `keyHash` can never slip out. */
import { keyStatus, type KeyRecord, type KeyStatus } from '../core/key-record';

export interface PublicKey {
  id: string;
  start: string;
  name: string;
  owner: string;
  scopes: string[];
  /** The scopes it holds only through its owner's entitlements: each one stops counting if the owner loses it. */
  entitledScopes?: string[];
  status: KeyStatus;
  enabled: boolean;
  createdAt: string;
  createdBy: string;
  /** The key that minted this one, when it was minted by a key rather than a JWT. */
  createdByKeyId?: string;
  updatedAt?: string;
  /** ISO 8601, or null when the key never expires. */
  expiresAt: string | null;
  revokedAt?: string;
  /** `leaked` when dualgate revoked the key on a leak report; absent when a caller revoked it. */
  revokedReason?: string;
  /** A reported leak: when, where, and by whom (lambdas/leaks). */
  leak?: KeyLeak;
  rotatedFrom?: string;
  rotatedTo?: string;
  metadata?: Record<string, unknown>;
  /** ISO 8601: when the key last authenticated a request (to within the authorizer's interval). Absent if never. */
  lastUsedAt?: string;
}

export interface KeyLeak {
  /** ISO 8601: when the first report arrived. */
  reportedAt: string;
  /** `github`. */
  reportedBy: string;
  /** The public URL where the key was found, when the report named one. */
  url?: string;
  /** Where on the reporter's platform (GitHub's `source`). */
  source?: string;
}

export function isoFromEpochSeconds(epochSeconds: number | undefined): string | null {
  return epochSeconds === undefined ? null : new Date(epochSeconds * 1000).toISOString();
}

export function toPublicKey(record: KeyRecord, nowSeconds: number): PublicKey {
  const view: PublicKey = {
    id: record.keyId,
    start: record.start,
    name: record.name,
    owner: record.owner,
    scopes: [...record.scopes],
    status: keyStatus(record, nowSeconds),
    enabled: record.enabled,
    createdAt: record.createdAt,
    createdBy: record.createdBy,
    expiresAt: isoFromEpochSeconds(record.expiresAt),
  };
  if (record.entitledScopes !== undefined) view.entitledScopes = [...record.entitledScopes];
  if (record.createdByKeyId !== undefined) view.createdByKeyId = record.createdByKeyId;
  if (record.updatedAt !== undefined) view.updatedAt = record.updatedAt;
  if (record.revokedAt !== undefined) view.revokedAt = record.revokedAt;
  if (record.revokedReason !== undefined) view.revokedReason = record.revokedReason;
  if (record.leakedAt !== undefined) {
    view.leak = { reportedAt: record.leakedAt, reportedBy: record.leakReporter ?? 'unknown' };
    if (record.leakUrl !== undefined) view.leak.url = record.leakUrl;
    if (record.leakSource !== undefined) view.leak.source = record.leakSource;
  }
  if (record.rotatedFrom !== undefined) view.rotatedFrom = record.rotatedFrom;
  if (record.rotatedTo !== undefined) view.rotatedTo = record.rotatedTo;
  if (record.metadata !== undefined) view.metadata = record.metadata;
  if (record.lastUsedAt !== undefined) view.lastUsedAt = record.lastUsedAt;
  return view;
}
