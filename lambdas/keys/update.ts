/**
 * PATCH /keys/{id}: change name, scopes, expiry, metadata or enabled. A compare-and-swap on `version`, retried
 * on a fresh read when another writer got in first, so concurrent PATCHes of different fields are both kept
 * and a revoke that lands in between is never undone.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { KeyRecord } from '../core/key-record';
import { KeyWriteConflictError } from '../shared/key-store';
import { jsonResponse } from '../shared/http-response';
import { normaliseScopes } from '../core/principal';
import { assertWithinCallerExpiry, expiryFieldOf } from './caller-key';
import { KeyConflictError, ForbiddenError } from './errors';
import {
  audit,
  auditChanges,
  grantScopes,
  loadOwnedKey,
  nextEntitledScopes,
  nowIsoOf,
  nowSecondsOf,
  type KeyRequest,
  type OperationContext,
} from './operation-context';
import { toPublicKey } from './public-key';
import { resolveExpiry, updateKeyBody, validate, type UpdateKeyBody } from './schemas';

const MAX_ATTEMPTS = 3;

export async function updateKey(context: OperationContext, request: KeyRequest): Promise<APIGatewayProxyResult> {
  const { caller } = request;
  const body = validate(updateKeyBody, request.body);
  const nowSeconds = nowSecondsOf(context);
  // Resolved once, so a retry applies exactly the same change.
  const expiresAt = resolveExpiry(body, nowSeconds);
  const { callerKey } = request;

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const current = await loadOwnedKey(context, request);
    if (current.revokedAt !== undefined) throw new KeyConflictError('key_revoked', 'key is revoked and can no longer change');
    if (current.rotatedTo !== undefined) {
      throw new KeyConflictError('key_rotated', `key was rotated to ${current.rotatedTo}; change that key instead`);
    }
    // Checked against the key as read: a scope it holds through a lapsed entitlement may stay (still marked).
    const granted = body.scopes !== undefined ? await grantScopes(context, request, body.scopes, current) : [];
    const { next, changedFields } = applyPatch(current, body, expiresAt, nowIsoOf(context));
    const extended = authorityExtensions(current, next, nowSeconds);
    let regranted: string[] = [];
    if (extended.length > 0) {
      try {
        regranted = await grantScopes(context, request, next.scopes, current);
      } catch (error) {
        // Resuming or prolonging a key re-grants its scopes, so the layered-scope rule applies to them too.
        if (error instanceof ForbiddenError)
          throw new ForbiddenError('you cannot resume or extend a key whose scopes you do not hold', 'scopes');
        throw error;
      }
    }
    const entitled = nextEntitledScopes(current.entitledScopes, [...granted, ...regranted], next.scopes);
    if (entitled === undefined) delete next.entitledScopes;
    else next.entitledScopes = entitled;
    // A key may set an expiry, or widen, resume or prolong a key, only within its own life: otherwise a short-lived
    // key could hand its scopes to a longer-lived one and outlive its own revocation. Renaming, narrowing or
    // suspending a longer-lived key stays allowed: none of them hands out authority the caller does not have.
    if (expiresAt !== undefined) assertWithinCallerExpiry(next.expiresAt, callerKey, expiryFieldOf(body));
    for (const field of extended) assertWithinCallerExpiry(next.expiresAt, callerKey, field === 'expiresAt' ? expiryFieldOf(body) : field);
    try {
      await context.store.replace(next, current.version);
    } catch (error) {
      if (error instanceof KeyWriteConflictError) continue;
      throw error;
    }
    audit(context, caller, 'update', next, changedFields, { changes: auditChanges(current, next, changedFields) });
    return jsonResponse(200, toPublicKey(next, nowSeconds));
  }
  throw new KeyConflictError('concurrent_change', 'key kept changing concurrently; nothing was updated, retry');
}

/** Pure: the record after the patch, and which fields it changed. */
export function applyPatch(
  current: KeyRecord,
  body: UpdateKeyBody,
  expiresAt: number | null | undefined,
  nowIso: string,
): { next: KeyRecord; changedFields: string[] } {
  const next: KeyRecord = { ...current, version: current.version + 1, updatedAt: nowIso };
  const changedFields: string[] = [];
  if (body.name !== undefined) {
    next.name = body.name;
    changedFields.push('name');
  }
  if (body.scopes !== undefined) {
    next.scopes = normaliseScopes(body.scopes);
    changedFields.push('scopes');
  }
  if (expiresAt === null) delete next.expiresAt;
  else if (expiresAt !== undefined) next.expiresAt = expiresAt;
  if (expiresAt !== undefined) changedFields.push('expiresAt');
  if (body.metadata === null) delete next.metadata;
  else if (body.metadata !== undefined) next.metadata = body.metadata;
  if (body.metadata !== undefined) changedFields.push('metadata');
  if (body.enabled !== undefined) {
    next.enabled = body.enabled;
    changedFields.push('enabled');
  }
  return { next, changedFields };
}

/**
 * Pure: how the patch extends the key's authority, in the order a 403 blames them: `scopes` when it gains a scope
 * it did not have, `enabled` when it is resumed, `expiresAt` when it now ends later. Empty when it extends nothing.
 */
export function authorityExtensions(current: KeyRecord, next: KeyRecord, nowSeconds: number): ('scopes' | 'enabled' | 'expiresAt')[] {
  const extensions: ('scopes' | 'enabled' | 'expiresAt')[] = [];
  if (next.scopes.some((scope) => !current.scopes.includes(scope))) extensions.push('scopes');
  if (next.enabled && !current.enabled) extensions.push('enabled');
  const currentEnd = current.expiresAt ?? Number.POSITIVE_INFINITY;
  const nextEnd = next.expiresAt ?? Number.POSITIVE_INFINITY;
  if (nextEnd > currentEnd && nextEnd > nowSeconds) extensions.push('expiresAt');
  return extensions;
}

/** True when the patch makes the key usable where it was not, for longer, or for more. */
export function extendsAuthority(current: KeyRecord, next: KeyRecord, nowSeconds: number): boolean {
  return authorityExtensions(current, next, nowSeconds).length > 0;
}
