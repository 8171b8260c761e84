/** GET /keys: the caller's keys (an admin may pass ?owner=), oldest first, paginated with limit + opaque cursor. */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { jsonResponse } from '../shared/http-response';
import { InvalidCursorError } from '../shared/key-store';
import { InvalidRequestError, ForbiddenError } from './errors';
import { nowSecondsOf, type KeyRequest, type OperationContext } from './operation-context';
import { toPublicKey } from './public-key';
import { DEFAULT_LIST_LIMIT, listKeysQuery, validate } from './schemas';
import { mayActFor } from './scopes';

export async function listKeys(context: OperationContext, request: KeyRequest): Promise<APIGatewayProxyResult> {
  const { caller } = request;
  const query = validate(listKeysQuery, request.query, 'query');
  const owner = query.owner ?? caller.sub;
  if (!mayActFor(caller, owner, context.adminScope)) {
    throw new ForbiddenError(`owner: only holders of ${context.adminScope} may list another owner's keys`, 'owner');
  }
  const limit = query.limit === undefined ? DEFAULT_LIST_LIMIT : Number(query.limit);
  let page;
  try {
    page = await context.store.listByOwner(owner, { limit, ...(query.cursor !== undefined ? { cursor: query.cursor } : {}) });
  } catch (error) {
    if (error instanceof InvalidCursorError) throw new InvalidRequestError(`cursor: ${error.message}`, 'cursor');
    throw error;
  }
  const nowSeconds = nowSecondsOf(context);
  return jsonResponse(200, { items: page.records.map((record) => toPublicKey(record, nowSeconds)), nextCursor: page.nextCursor ?? null });
}
