/** GET /keys/{id}: one key; another owner's key is a 404, like an unknown id. */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { jsonResponse } from '../shared/http-response';
import { loadOwnedKey, nowSecondsOf, type KeyRequest, type OperationContext } from './operation-context';
import { toPublicKey } from './public-key';

export async function getKey(context: OperationContext, request: KeyRequest): Promise<APIGatewayProxyResult> {
  const record = await loadOwnedKey(context, request);
  return jsonResponse(200, toPublicKey(record, nowSecondsOf(context)));
}
