/**
 * `GET /users` (read:users) and `POST /users` (write:users): a sample backend showing how to consume the
 * context. API Gateway has already enforced the route's scopes; `hasScopes` is defence in depth for
 * backends that are also reachable another way.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { errorResponse, jsonResponse } from '../../../lambdas/shared/http-response';
import { hasScopes, principalFrom } from '../../../lambdas/core/principal';

const SAMPLE_USERS = [
  { id: 'u_1', name: 'Ada Lovelace' },
  { id: 'u_2', name: 'Grace Hopper' },
];
const MAX_BODY_BYTES = 4096;

export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const caller = principalFrom(event);
  if (event.httpMethod === 'GET') {
    if (!hasScopes(caller, ['read:users'])) return errorResponse(403, 'Forbidden', { requiredScopes: ['read:users'] });
    return jsonResponse(200, { users: SAMPLE_USERS, requestedBy: caller.sub });
  }
  if (event.httpMethod === 'POST') {
    if (!hasScopes(caller, ['write:users'])) return errorResponse(403, 'Forbidden', { requiredScopes: ['write:users'] });
    const raw = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
    if (Buffer.byteLength(raw) > MAX_BODY_BYTES) return errorResponse(413, `body must be at most ${MAX_BODY_BYTES} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return errorResponse(400, 'body must be JSON', { field: 'body' });
    }
    const name = (body as { name?: unknown } | null)?.name;
    if (typeof name !== 'string' || name.trim().length === 0 || name.length > 200) {
      return errorResponse(400, 'name must be a string of 1 to 200 characters', { field: 'name' });
    }
    return jsonResponse(201, { id: `u_${Date.now().toString(36)}`, name: name.trim(), createdBy: caller.sub });
  }
  return errorResponse(405, 'method not allowed');
}
