/** What every operation module receives, and the checks they share (ownership, grants, audit). */
import { ulid } from 'ulid';
import type { KeyRecord } from '../core/key-record';
import type { KeyManagementStore } from '../shared/key-store';
import type { Logger } from '../shared/logger';
import type { CallerIdentity } from '../core/principal';
import type { CallerKeyLimit } from './caller-key';
import { InvalidRequestError, KeyNotFoundError, ForbiddenError } from './errors';
import { isoFromEpochSeconds } from './public-key';
import { KEY_ID_PATTERN } from './schemas';
import { decideEntitledGrant, grantsThroughEntitlements, isAdmin, mayActFor } from './scopes';

export interface OperationContext {
  store: KeyManagementStore;
  keyPrefix: string;
  adminScope: string;
  catalog: ReadonlySet<string>;
  logger: Logger;
  nowMs: () => number;
  newKeyId: () => string;
  /** What `sub` is entitled to now: `portal.defaultScopes` plus its assigned scopes (read consistently). */
  entitlementsOf: (sub: string) => Promise<ReadonlySet<string>>;
}

export interface KeyRequest {
  caller: CallerIdentity;
  /** `{id}` path parameter, for routes that have one. */
  keyId?: string;
  /** Parsed JSON body (undefined when there was none). */
  body: unknown;
  query: Record<string, string>;
  /** The calling key, re-read and found active by the router; undefined for a JWT caller. */
  callerKey?: CallerKeyLimit;
}

export type AuditAction = 'create' | 'update' | 'rotate' | 'revoke';

export const newKeyId = (): string => `key_${ulid()}`;

export const nowSecondsOf = (context: OperationContext): number => Math.floor(context.nowMs() / 1000);
export const nowIsoOf = (context: OperationContext): string => new Date(context.nowMs()).toISOString();

/**
 * The key, if it exists and the caller may act for its owner; otherwise 404, the same answer after the same work
 * for both cases: a non-admin's lookup is filtered on its own sub inside the one byId query, so another owner's
 * key costs no extra read (no timing oracle).
 */
export async function loadOwnedKey(context: OperationContext, request: KeyRequest): Promise<KeyRecord> {
  const keyId = request.keyId;
  // A malformed id cannot exist: answer 404 without a query, exactly as for an unknown id.
  if (keyId === undefined || !KEY_ID_PATTERN.test(keyId)) throw new KeyNotFoundError();
  const { caller } = request;
  const record = await context.store.getById(keyId, isAdmin(caller, context.adminScope) ? {} : { owner: caller.sub });
  // Kept although the filter already did it: a store that ignores the filter must still not leak a key.
  if (!record || !mayActFor(caller, record.owner, context.adminScope)) throw new KeyNotFoundError();
  return record;
}

const NO_ENTITLEMENTS: ReadonlySet<string> = new Set();

/**
 * Throws 400 for scopes outside the catalog and 403 for scopes the caller may not grant (entitlements included, for
 * a JWT caller); returns which of `scopes` the key would hold only through its owner's entitlements. The caller's
 * entitlements are read only when its own scopes do not cover the request.
 */
export async function grantScopes(
  context: OperationContext,
  request: Pick<KeyRequest, 'caller' | 'callerKey'>,
  scopes: readonly string[],
  /** The key being changed or rotated, whose entitled scopes a JWT caller may carry over (decideEntitledGrant). */
  current?: Pick<KeyRecord, 'entitledScopes'>,
): Promise<string[]> {
  const { caller } = request;
  const needsEntitlements =
    grantsThroughEntitlements(caller.authMethod) &&
    !isAdmin(caller, context.adminScope) &&
    scopes.some((scope) => context.catalog.has(scope) && !caller.scopes.includes(scope));
  const entitled = needsEntitlements ? await context.entitlementsOf(caller.sub) : NO_ENTITLEMENTS;
  const decision = decideEntitledGrant(scopes, caller, context.catalog, context.adminScope, {
    entitled,
    ...(request.callerKey?.entitledScopes ? { callerKeyEntitled: request.callerKey.entitledScopes } : {}),
    ...(current?.entitledScopes ? { carried: current.entitledScopes } : {}),
  });
  if (decision.ok) return decision.entitledScopes;
  if (decision.reason === 'unknown_scope')
    throw new InvalidRequestError(`scopes: unknown scope(s): ${decision.scopes.join(', ')}`, 'scopes');
  const how = grantsThroughEntitlements(caller.authMethod) ? 'you neither hold nor are entitled to' : 'your key does not hold';
  throw new ForbiddenError(`scopes: you cannot grant scope(s) ${how}: ${decision.scopes.join(', ')}`, 'scopes');
}

/** Pure: a key's entitled scopes after a change; a dependency is only ever added, or dropped with its scope. */
export function nextEntitledScopes(
  previous: readonly string[] | undefined,
  granted: readonly string[],
  scopes: readonly string[],
): string[] | undefined {
  const next = [...new Set([...(previous ?? []), ...granted])].filter((scope) => scopes.includes(scope)).sort();
  return next.length > 0 ? next : undefined;
}

/** A changed field's value before and after, as the audit line shows it (expiry as ISO 8601, null = never). */
export interface FieldChange {
  before: unknown;
  after: unknown;
}

/** The fields whose before/after an audit line carries: the ones that decide what a key may do, and for how long. */
const AUDITED_VALUES = {
  name: (record: KeyRecord) => record.name,
  scopes: (record: KeyRecord) => [...record.scopes],
  entitledScopes: (record: KeyRecord) => [...(record.entitledScopes ?? [])],
  expiresAt: (record: KeyRecord) => isoFromEpochSeconds(record.expiresAt),
  enabled: (record: KeyRecord) => record.enabled,
} as const;

/**
 * Pure: before and after of each changed field that grants or limits authority, so a widening or a prolonging is
 * visible in the log. Metadata is named in changedFields only: it may be a kilobyte of the owner's own data.
 */
export function auditChanges(before: KeyRecord, after: KeyRecord, changedFields: readonly string[]): Record<string, FieldChange> {
  const changes: Record<string, FieldChange> = {};
  for (const [field, valueFor] of Object.entries(AUDITED_VALUES)) {
    if (changedFields.includes(field)) changes[field] = { before: valueFor(before), after: valueFor(after) };
  }
  // Which scopes depend on entitlements changes with the scopes (or a grant through them): shown whenever it does.
  const entitledBefore = AUDITED_VALUES.entitledScopes(before);
  const entitledAfter = AUDITED_VALUES.entitledScopes(after);
  if (!changes['entitledScopes'] && entitledBefore.join(' ') !== entitledAfter.join(' '))
    changes['entitledScopes'] = { before: entitledBefore, after: entitledAfter };
  return changes;
}

/** One structured line per mutation. Names the key by id only: never a hash, never plaintext. */
export function audit(
  context: OperationContext,
  caller: CallerIdentity,
  action: AuditAction,
  record: KeyRecord,
  changedFields: readonly string[],
  /** `entitledScopes`: on create and rotate, the new key's (which of its scopes it holds only through entitlements). */
  extra: { successorKeyId?: string; entitledScopes?: string[]; changes?: Record<string, FieldChange> } = {},
): void {
  context.logger.info('audit', {
    action,
    actorSub: caller.sub,
    authMethod: caller.authMethod,
    ...(caller.keyId !== undefined ? { actorKeyId: caller.keyId } : {}),
    keyId: record.keyId,
    owner: record.owner,
    changedFields: [...changedFields],
    ...extra,
    time: nowIsoOf(context),
  });
}
