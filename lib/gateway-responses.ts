/**
 * The JSON bodies API Gateway answers with when the request never reaches a backend. The stack installs
 * these as gateway responses and the local gateway sends the same bodies, so clients see one contract.
 * `$context.requestId` is filled in by API Gateway (and by the local gateway).
 */
export interface GatewayResponseSpec {
  /** API Gateway's response type. */
  type: 'UNAUTHORIZED' | 'ACCESS_DENIED' | 'AUTHORIZER_FAILURE' | 'AUTHORIZER_CONFIGURATION_ERROR' | 'MISSING_AUTHENTICATION_TOKEN' | 'DEFAULT_4XX' | 'DEFAULT_5XX';
  statusCode: number;
  message: string;
}

export const GATEWAY_RESPONSES: readonly GatewayResponseSpec[] = [
  { type: 'UNAUTHORIZED', statusCode: 401, message: 'Unauthorized' },
  { type: 'ACCESS_DENIED', statusCode: 403, message: 'Forbidden' },
  // The authorizer failed closed (key table or JWKS unreachable): a retryable outage, not the caller's fault.
  { type: 'AUTHORIZER_FAILURE', statusCode: 503, message: 'Authorization service unavailable' },
  { type: 'AUTHORIZER_CONFIGURATION_ERROR', statusCode: 500, message: 'Authorizer configuration error' },
  // API Gateway answers an unknown path with this type (403 by default); a 404 says what happened.
  { type: 'MISSING_AUTHENTICATION_TOKEN', statusCode: 404, message: 'Not Found' },
  { type: 'DEFAULT_4XX', statusCode: 400, message: 'Bad Request' },
  { type: 'DEFAULT_5XX', statusCode: 500, message: 'Internal Server Error' },
];

export function gatewayResponse(type: GatewayResponseSpec['type']): GatewayResponseSpec {
  const spec = GATEWAY_RESPONSES.find((response) => response.type === type);
  if (!spec) throw new Error(`no gateway response ${type}`);
  return spec;
}

/** The body template, identical in AWS (as a VTL template) and locally (with the request id substituted). */
export function gatewayResponseBody(spec: GatewayResponseSpec, requestId = '$context.requestId'): string {
  return JSON.stringify({ message: spec.message, requestId });
}
