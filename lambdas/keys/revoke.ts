/**
 * DELETE /keys/{id}: revoke, idempotently (204 every time). Sets revokedAt and expiresAt = now with a write that
 * does not depend on `version`, so a revoke always wins over a concurrent PATCH or rotate; those are
 * compare-and-swaps and fail against the revoked item instead of resurrecting it.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { KeyWriteConflictError } from '../shared/key-store';
import { jsonResponse } from '../shared/http-response';
import { InvalidRequestError } from './errors';
import { audit, auditChanges, loadOwnedKey, nowIsoOf, nowSecondsOf, type KeyRequest, type OperationContext } from './operation-context';

export async function revokeKey(context: OperationContext, request: KeyRequest): Promise<APIGatewayProxyResult> {
  if (request.body !== undefined) throw new InvalidRequestError('body: DELETE takes no body', 'body');
  const current = await loadOwnedKey(context, request);
  if (current.revokedAt !== undefined) return jsonResponse(204, undefined);
  try {
    const revoked = await context.store.revoke(current.keyHash, { revokedAt: nowIsoOf(context), expiresAt: nowSecondsOf(context) });
    audit(context, request.caller, 'revoke', revoked, ['revokedAt', 'expiresAt'], {
      changes: auditChanges(current, revoked, ['expiresAt']),
    });
  } catch (error) {
    // Someone else revoked it between our read and our write: the outcome the caller asked for.
    if (!(error instanceof KeyWriteConflictError)) throw error;
  }
  return jsonResponse(204, undefined);
}
