/**
 * POST /keys/{id}/rotate: a new key with the same owner, name, scopes and metadata; the old key keeps working
 * for `gracePeriodSeconds`, then expires.
 *
 * dynalite (local mode) has no transactions, so rotation is ordered conditional writes, one code path everywhere:
 *   1. put the successor with attribute_not_exists(keyHash) and rotatedFrom;
 *   2. compare-and-swap the predecessor (same version, not revoked, not rotated, not expired) to set rotatedTo
 *      and expiresAt = min(expiresAt, now + grace);
 *   3. if step 2 fails, re-read the predecessor consistently: if it already names this successor in rotatedTo,
 *      step 2 committed after all (a retried write failing its own condition, or a lost answer) and the rotation
 *      succeeded; otherwise delete the successor and answer 409 (503 for an unavailable table).
 * Only the caller whose step 2 wins ever sees a plaintext, so two racing rotations cannot both leave a live
 * successor, and a racing revoke makes the rotation fail. The successor is never deleted while the predecessor
 * may point at it (if the re-read fails too, it is kept), so a key can never be left rotated to a missing key.
 * A crash between 1 and 3 leaves an orphan whose plaintext nobody ever received.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { generateKey, hashKey } from '../core/key-format';
import { keyStatus, type KeyRecord } from '../core/key-record';
import { KeyWriteConflictError } from '../shared/key-store';
import { assertWithinCallerExpiry, expiryFieldOf } from './caller-key';
import { jsonResponse } from '../shared/http-response';
import { errorFields } from '../shared/logger';
import { KeyConflictError } from './errors';
import {
  audit,
  auditChanges,
  grantScopes,
  nextEntitledScopes,
  loadOwnedKey,
  nowIsoOf,
  nowSecondsOf,
  type KeyRequest,
  type OperationContext,
} from './operation-context';
import { toPublicKey } from './public-key';
import { DEFAULT_GRACE_PERIOD_SECONDS, resolveExpiry, rotateKeyBody, validate } from './schemas';
import { createKeyRecord, readBack } from './write-outcome';

export async function rotateKey(context: OperationContext, request: KeyRequest): Promise<APIGatewayProxyResult> {
  const { caller } = request;
  const body = validate(rotateKeyBody, request.body ?? {});
  const nowSeconds = nowSecondsOf(context);
  const successorExpiresAt = resolveExpiry(body, nowSeconds);
  const current = await loadOwnedKey(context, request);
  assertRotatable(current, nowSeconds);
  // A rotation hands out a fresh plaintext carrying these scopes: the layered-scope rule applies to it.
  // Scopes the key holds through a lapsed entitlement are carried over, still marked (ineffective until re-entitled).
  const granted = await grantScopes(context, request, current.scopes, current);
  const { callerKey } = request;
  if (successorExpiresAt !== undefined && successorExpiresAt !== null) {
    assertWithinCallerExpiry(successorExpiresAt, callerKey, expiryFieldOf(body));
  }

  const nowIso = nowIsoOf(context);
  const { key, start } = generateKey(context.keyPrefix);
  const successor: KeyRecord = {
    keyHash: hashKey(key),
    keyId: context.newKeyId(),
    owner: current.owner,
    name: current.name,
    scopes: [...current.scopes],
    createdAt: nowIso,
    createdBy: caller.sub,
    enabled: current.enabled,
    start,
    rotatedFrom: current.keyId,
    version: 1,
  };
  if (callerKey !== undefined) successor.createdByKeyId = callerKey.keyId;
  // The successor depends on entitlements wherever its predecessor did (and wherever this grant needed them).
  const entitledScopes = nextEntitledScopes(current.entitledScopes, granted, successor.scopes);
  if (entitledScopes !== undefined) successor.entitledScopes = entitledScopes;
  // By default the successor inherits the predecessor's absolute expiry (rotating never prolongs a key's life),
  // capped by the caller key's own expiry when a key is rotating.
  const expiresAt =
    successorExpiresAt ?? Math.min(current.expiresAt ?? Number.POSITIVE_INFINITY, callerKey?.expiresAt ?? Number.POSITIVE_INFINITY);
  if (Number.isFinite(expiresAt)) successor.expiresAt = expiresAt;
  if (current.metadata !== undefined) successor.metadata = current.metadata;

  const graceEndsAt = nowSeconds + (body.gracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS);
  const predecessor: KeyRecord = {
    ...current,
    rotatedTo: successor.keyId,
    expiresAt: Math.min(current.expiresAt ?? Number.POSITIVE_INFINITY, graceEndsAt),
    updatedAt: nowIso,
    version: current.version + 1,
  };

  await createKeyRecord(context, successor);
  try {
    await context.store.replace(predecessor, current.version, { live: { nowSeconds } });
  } catch (error) {
    const stored = await readBack(context, current.keyHash);
    if (stored.kind === 'found' && stored.record.rotatedTo === successor.keyId) {
      context.logger.warn('rotation step 2 reported a failure but had committed', {
        keyId: current.keyId,
        successorKeyId: successor.keyId,
        ...errorFields(error),
      });
    } else {
      if (stored.kind === 'unavailable') {
        context.logger.error('rotation outcome unknown; successor kept in case the predecessor points at it', {
          keyId: current.keyId,
          successorKeyId: successor.keyId,
        });
      } else {
        await rollBack(context, successor);
      }
      if (error instanceof KeyWriteConflictError) throw await conflictAfterRace(context, request, nowSeconds);
      throw error;
    }
  }
  audit(context, caller, 'rotate', predecessor, ['rotatedTo', 'expiresAt'], {
    successorKeyId: successor.keyId,
    entitledScopes: [...(successor.entitledScopes ?? [])],
    changes: auditChanges(current, predecessor, ['expiresAt']),
  });
  return jsonResponse(201, { ...toPublicKey(successor, nowSeconds), key, predecessor: toPublicKey(predecessor, nowSeconds) });
}

function assertRotatable(record: KeyRecord, nowSeconds: number): void {
  if (record.rotatedTo !== undefined) throw new KeyConflictError('key_rotated', `key was already rotated to ${record.rotatedTo}`);
  const status = keyStatus(record, nowSeconds);
  if (status === 'revoked') throw new KeyConflictError('key_revoked', 'a revoked key cannot be rotated');
  if (status === 'expired') throw new KeyConflictError('key_expired', 'an expired key cannot be rotated');
}

/** Step 3: the successor must not outlive a failed rotation. If even this fails, it stays an unreachable orphan. */
async function rollBack(context: OperationContext, successor: KeyRecord): Promise<void> {
  try {
    await context.store.deleteByHash(successor.keyHash);
  } catch (error) {
    context.logger.error('rotation rollback failed; orphan successor left unused', {
      keyId: successor.keyId,
      rotatedFrom: successor.rotatedFrom,
      ...errorFields(error),
    });
  }
}

/** Explain why step 2 lost: re-read the predecessor and name its new state. */
async function conflictAfterRace(context: OperationContext, request: KeyRequest, nowSeconds: number): Promise<KeyConflictError> {
  try {
    assertRotatable(await loadOwnedKey(context, request), nowSeconds);
  } catch (error) {
    if (error instanceof KeyConflictError) return error;
  }
  return new KeyConflictError('concurrent_change', 'key changed while rotating; nothing was rotated, retry');
}
