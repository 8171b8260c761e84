/** POST /keys: mint a key. The plaintext is in this response and nowhere else; only its hash is stored. */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { generateKey, hashKey } from '../core/key-format';
import type { KeyRecord } from '../core/key-record';
import { jsonResponse } from '../shared/http-response';
import { normaliseScopes } from '../core/principal';
import { assertWithinCallerExpiry, expiryFieldOf } from './caller-key';
import { ForbiddenError } from './errors';
import { audit, grantScopes, nowIsoOf, nowSecondsOf, type KeyRequest, type OperationContext } from './operation-context';
import { toPublicKey } from './public-key';
import { createKeyBody, resolveExpiry, validate } from './schemas';
import { isAdmin } from './scopes';
import { createKeyRecord } from './write-outcome';

export async function createKey(context: OperationContext, request: KeyRequest): Promise<APIGatewayProxyResult> {
  const { caller } = request;
  const body = validate(createKeyBody, request.body);
  if (body.owner !== undefined && body.owner !== caller.sub && !isAdmin(caller, context.adminScope)) {
    // Acting for another owner is an escalation (403), the same answer as GET /keys?owner= by a non-admin.
    throw new ForbiddenError(`owner: only holders of ${context.adminScope} may create keys for another owner`, 'owner');
  }
  const entitledScopes = await grantScopes(context, request, body.scopes);
  const nowSeconds = nowSecondsOf(context);
  const expiresAt = resolveExpiry(body, nowSeconds) ?? undefined;
  const { callerKey } = request;
  assertWithinCallerExpiry(expiresAt, callerKey, expiryFieldOf(body));

  const { key, start } = generateKey(context.keyPrefix);
  const record: KeyRecord = {
    keyHash: hashKey(key),
    keyId: context.newKeyId(),
    owner: body.owner ?? caller.sub,
    name: body.name,
    scopes: normaliseScopes(body.scopes),
    createdAt: nowIsoOf(context),
    createdBy: caller.sub,
    enabled: true,
    start,
    version: 1,
  };
  if (callerKey !== undefined) record.createdByKeyId = callerKey.keyId;
  if (entitledScopes.length > 0) record.entitledScopes = entitledScopes;
  if (expiresAt !== undefined) record.expiresAt = expiresAt;
  if (body.metadata !== undefined) record.metadata = body.metadata;

  await createKeyRecord(context, record);
  audit(context, caller, 'create', record, Object.keys(body).sort(), { entitledScopes: [...(record.entitledScopes ?? [])] });
  return jsonResponse(201, { ...toPublicKey(record, nowSeconds), key });
}
