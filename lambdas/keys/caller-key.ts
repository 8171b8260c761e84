/**
 * A key that manages keys hands out no more life than it has: nothing it creates, rotates, prolongs, resumes or
 * widens may expire later than the key itself. Otherwise a key an hour from expiry (or just revoked, inside the
 * authorizer's cache window) could mint, extend or add scopes to a key without expiry and outlive its own end.
 * JWT callers are not capped here: their tokens are short-lived and the IdP decides who gets one.
 *
 * And a key that is no longer active may do nothing at all: the router re-reads the calling key (consistently)
 * before every operation, list and get included, because the authorizer's verdict may be cached for its TTLs.
 */
import { keyStatus } from '../core/key-record';
import { type CallerIdentity, unknownAuthMethod } from '../core/principal';
import { ForbiddenError } from './errors';
import { nowSecondsOf, type OperationContext } from './operation-context';
import { isoFromEpochSeconds } from './public-key';

export interface CallerKeyLimit {
  /** The key the caller authenticated with; stored as `createdByKeyId` on what it mints. */
  keyId: string;
  /** Epoch seconds; absent when the caller key never expires, which caps nothing. */
  expiresAt?: number;
  /** The calling key's scopes held only through entitlements: what it grants of them stays entitlement-bound. */
  entitledScopes?: string[];
}

/** The caller's own key, re-read through the store; undefined for a JWT caller. 403 if it is not active now. */
export async function loadCallerKeyLimit(context: OperationContext, caller: CallerIdentity): Promise<CallerKeyLimit | undefined> {
  switch (caller.authMethod) {
    case 'jwt':
      return undefined;
    case 'apiKey':
      break;
    default:
      return unknownAuthMethod(caller.authMethod);
  }
  // The authorizer always passes the key id with an API key; without it the cap cannot be checked, so refuse.
  if (caller.keyId === undefined) throw new ForbiddenError('the API key you called with cannot be identified');
  // Filtered on the caller's own sub: a key id that is not the caller's is simply "not found".
  const record = await context.store.getById(caller.keyId, { owner: caller.sub });
  // The authorizer may have cached a verdict for up to its TTLs: the table is the authority here.
  if (!record || record.owner !== caller.sub || keyStatus(record, nowSecondsOf(context)) !== 'active') {
    throw new ForbiddenError('the API key you called with is not active (revoked, expired, disabled or unknown)');
  }
  return {
    keyId: record.keyId,
    ...(record.expiresAt !== undefined ? { expiresAt: record.expiresAt } : {}),
    ...(record.entitledScopes !== undefined ? { entitledScopes: [...record.entitledScopes] } : {}),
  };
}

/** Pure: whether an expiry (epoch seconds; undefined = never) lies beyond the caller key's own. */
export function exceedsCallerExpiry(expiresAt: number | undefined, limit: CallerKeyLimit | undefined): boolean {
  if (limit?.expiresAt === undefined) return false;
  return expiresAt === undefined || expiresAt > limit.expiresAt;
}

/** The request field blamed for a key outliving its caller: the expiry asked for, or what widened or resumed it. */
export type CallerExpiryField = 'expiresAt' | 'expiresIn' | 'scopes' | 'enabled';

/** 403 naming `field` when `expiresAt` (undefined = never) outlives the caller key. */
export function assertWithinCallerExpiry(expiresAt: number | undefined, limit: CallerKeyLimit | undefined, field: CallerExpiryField): void {
  if (!exceedsCallerExpiry(expiresAt, limit)) return;
  const callerEnd = isoFromEpochSeconds(limit?.expiresAt) ?? 'never';
  const targetEnd = isoFromEpochSeconds(expiresAt) ?? 'never';
  const message =
    field === 'expiresAt' || field === 'expiresIn'
      ? `${field}: a key cannot create or extend keys beyond its own expiry (${callerEnd}); ask for that or earlier`
      : `${field}: a key cannot ${field === 'scopes' ? 'add scopes to' : 'resume'} a key that outlives it (this key expires ${targetEnd}, yours ${callerEnd}); set expiresAt to ${callerEnd} or earlier in the same request`;
  throw new ForbiddenError(message, field);
}

/** The body field to blame for an expiry: the one the client sent (expiresAt when it sent neither). */
export function expiryFieldOf(body: { expiresIn?: unknown }): 'expiresAt' | 'expiresIn' {
  return body.expiresIn !== undefined ? 'expiresIn' : 'expiresAt';
}
