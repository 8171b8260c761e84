/** What every operation module receives, and the checks they share (ownership, grants, audit). */
import { ulid } from 'ulid';
import type { KeyRecord } from '../shared/key-record';
import type { KeyManagementStore } from '../shared/key-store';
import type { Logger } from '../shared/logger';
import type { CallerIdentity } from '../shared/principal';
import { InvalidRequestError, KeyNotFoundError, ScopeEscalationError } from './errors';
import { KEY_ID_PATTERN } from './schemas';
import { decideGrant, mayActFor } from './scopes';

export interface OperationContext {
  store: KeyManagementStore;
  keyPrefix: string;
  adminScope: string;
  catalog: ReadonlySet<string>;
  logger: Logger;
  nowMs: () => number;
  newKeyId: () => string;
}

export interface KeyRequest {
  caller: CallerIdentity;
  /** `{id}` path parameter, for routes that have one. */
  keyId?: string;
  /** Parsed JSON body (undefined when there was none). */
  body: unknown;
  query: Record<string, string>;
}

export type AuditAction = 'create' | 'update' | 'rotate' | 'revoke';

export const newKeyId = (): string => `key_${ulid()}`;

export const nowSecondsOf = (context: OperationContext): number => Math.floor(context.nowMs() / 1000);
export const nowIsoOf = (context: OperationContext): string => new Date(context.nowMs()).toISOString();

/** The key, if it exists and the caller may act for its owner; otherwise 404, the same for both cases. */
export async function loadOwnedKey(context: OperationContext, request: KeyRequest): Promise<KeyRecord> {
  const keyId = request.keyId;
  // A malformed id cannot exist: answer 404 without a query, exactly as for an unknown id.
  if (keyId === undefined || !KEY_ID_PATTERN.test(keyId)) throw new KeyNotFoundError();
  const record = await context.store.getById(keyId);
  if (!record || !mayActFor(request.caller, record.owner, context.adminScope)) throw new KeyNotFoundError();
  return record;
}

/** Throws 400 for scopes outside the catalog and 403 for scopes the caller does not hold. */
export function assertMayGrant(context: OperationContext, caller: CallerIdentity, scopes: readonly string[]): void {
  const decision = decideGrant(scopes, caller, context.catalog, context.adminScope);
  if (decision.ok) return;
  if (decision.reason === 'unknown_scope') {
    throw new InvalidRequestError(`scopes: unknown scope(s): ${decision.scopes.join(', ')}`, 'scopes');
  }
  throw new ScopeEscalationError(`scopes: you cannot grant scope(s) you do not hold: ${decision.scopes.join(', ')}`, 'scopes');
}

/** One structured line per mutation. Names the key by id only: never a hash, never plaintext. */
export function audit(
  context: OperationContext,
  caller: CallerIdentity,
  action: AuditAction,
  record: KeyRecord,
  changedFields: readonly string[],
  extra: { successorKeyId?: string } = {},
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
