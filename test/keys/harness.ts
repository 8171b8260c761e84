/** Build v1 proxy events for the keys Lambda and record every response body, for the leak scan. */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { KeysHandler } from '../../lambdas/keys/router';

export interface TestCaller {
  sub: string;
  scopes: string[];
  authMethod: 'apiKey' | 'jwt';
  keyId?: string;
}

export const alice: TestCaller = { sub: 'alice', scopes: ['keys:read', 'keys:write', 'read:users'], authMethod: 'jwt' };
export const bob: TestCaller = { sub: 'bob', scopes: ['keys:read', 'keys:write', 'read:users', 'write:users'], authMethod: 'jwt' };
export const admin: TestCaller = { sub: 'admin-client', scopes: ['keys:admin', 'keys:read', 'keys:write'], authMethod: 'jwt' };

export interface CallOptions {
  caller?: TestCaller;
  id?: string;
  body?: unknown;
  rawBody?: string;
  isBase64Encoded?: boolean;
  query?: Record<string, string>;
}

export function keysEvent(method: string, resource: string, options: CallOptions = {}): APIGatewayProxyEvent {
  const caller = options.caller ?? alice;
  const id = options.id;
  const path = resource.replace('{id}', id ?? '');
  const body = options.rawBody ?? (options.body === undefined ? null : JSON.stringify(options.body));
  const authorizer: Record<string, string> = {
    principalId: caller.sub,
    sub: caller.sub,
    scopes: caller.scopes.join(' '),
    authMethod: caller.authMethod,
  };
  if (caller.keyId) authorizer['keyId'] = caller.keyId;
  return {
    httpMethod: method,
    resource,
    path,
    pathParameters: id === undefined ? null : { id },
    queryStringParameters: options.query ?? null,
    multiValueQueryStringParameters: null,
    headers: {},
    multiValueHeaders: {},
    body,
    isBase64Encoded: options.isBase64Encoded ?? false,
    stageVariables: null,
    requestContext: { authorizer } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

export interface CallResult {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  raw: APIGatewayProxyResult;
}

/** Every response body any test saw, for the no-plaintext/no-hash scan. */
export const seenResponses: { method: string; resource: string; status: number; body: string }[] = [];

export function caller(handler: KeysHandler) {
  return async (method: string, resource: string, options: CallOptions = {}): Promise<CallResult> => {
    const raw = await handler(keysEvent(method, resource, options));
    seenResponses.push({ method, resource, status: raw.statusCode, body: raw.body });
    return { status: raw.statusCode, json: raw.body === '' ? undefined : JSON.parse(raw.body), raw };
  };
}
