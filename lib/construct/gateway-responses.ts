/**
 * The JSON bodies API Gateway answers with when the request never reaches a backend. The stack installs
 * these as gateway responses and the local gateway sends the same bodies, so clients see one contract.
 * `$context.requestId` is filled in by API Gateway (and by the local gateway).
 */
export interface GatewayResponseSpec {
  /** API Gateway's response type. */
  type:
    | 'UNAUTHORIZED'
    | 'ACCESS_DENIED'
    | 'AUTHORIZER_FAILURE'
    | 'AUTHORIZER_CONFIGURATION_ERROR'
    | 'MISSING_AUTHENTICATION_TOKEN'
    | 'THROTTLED'
    | 'QUOTA_EXCEEDED'
    | 'DEFAULT_4XX'
    | 'DEFAULT_5XX';
  statusCode: number;
  message: string;
  /**
   * DEFAULT_4XX/5XX stand in for every response type without its own entry (429 throttling, 413, 504…).
   * A status set on them would override those types' own codes, so the stack leaves it (and the message)
   * to API Gateway; `statusCode` and `message` are only what the local gateway uses for its own 4xx/5xx.
   */
  keepsAwsStatus?: true;
}

export const GATEWAY_RESPONSES: readonly GatewayResponseSpec[] = [
  { type: 'UNAUTHORIZED', statusCode: 401, message: 'Unauthorized' },
  { type: 'ACCESS_DENIED', statusCode: 403, message: 'Forbidden' },
  // The authorizer failed closed (key table or JWKS unreachable): a retryable outage, not the caller's fault.
  { type: 'AUTHORIZER_FAILURE', statusCode: 503, message: 'Authorization service unavailable' },
  { type: 'AUTHORIZER_CONFIGURATION_ERROR', statusCode: 500, message: 'Authorizer configuration error' },
  // API Gateway answers an unknown path with this type (403 by default); a 404 says what happened.
  { type: 'MISSING_AUTHENTICATION_TOKEN', statusCode: 404, message: 'Not Found' },
  { type: 'DEFAULT_4XX', statusCode: 400, message: 'Bad Request', keepsAwsStatus: true },
  { type: 'DEFAULT_5XX', statusCode: 500, message: 'Internal Server Error', keepsAwsStatus: true },
];

/**
 * Plans only (lib/construct/plans.ts installs them): over a usage plan's rate or its quota. API Gateway's own messages,
 * as JSON with the request id like the rest.
 */
export const PLAN_GATEWAY_RESPONSES: readonly GatewayResponseSpec[] = [
  { type: 'THROTTLED', statusCode: 429, message: 'Too Many Requests' },
  { type: 'QUOTA_EXCEEDED', statusCode: 429, message: 'Limit Exceeded' },
];

/**
 * Headers on every response API Gateway generates itself (and the local gateway likewise). Gateway responses are
 * per API, not per path, so these are the portal's framing and sniffing protections that suit a JSON error anywhere:
 * no script, no framing, no sniffing. A JSON API client ignores them.
 */
const GATEWAY_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'application/json',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
};

/**
 * GATEWAY_RESPONSE_HEADERS as a gateway response's `responseHeaders`: a static value is single-quoted, and a single
 * quote inside it (the CSP's `'none'`) is backslash-escaped.
 */
export function gatewayResponseHeaderValues(): Record<string, string> {
  return Object.fromEntries(Object.entries(GATEWAY_RESPONSE_HEADERS).map(([name, value]) => [name, `'${value.replace(/'/g, "\\'")}'`]));
}

/** GATEWAY_RESPONSE_HEADERS as the local gateway sends them (lower-case names). */
export function localGatewayResponseHeaders(): Record<string, string> {
  return Object.fromEntries(Object.entries(GATEWAY_RESPONSE_HEADERS).map(([name, value]) => [name.toLowerCase(), value]));
}

export function gatewayResponse(type: GatewayResponseSpec['type']): GatewayResponseSpec {
  const spec = [...GATEWAY_RESPONSES, ...PLAN_GATEWAY_RESPONSES].find((response) => response.type === type);
  if (!spec) throw new Error(`no gateway response ${type}`);
  return spec;
}

/** The body the local gateway sends: the same JSON as the stack's template, with the request id filled in. */
export function gatewayResponseBody(spec: GatewayResponseSpec, requestId: string): string {
  return JSON.stringify({ message: spec.message, requestId });
}

/** The stack's VTL template. Defaults keep API Gateway's own message (`$context.error.messageString` is already JSON-quoted). */
export function gatewayResponseTemplate(spec: GatewayResponseSpec): string {
  if (spec.keepsAwsStatus) return '{"message":$context.error.messageString,"requestId":"$context.requestId"}';
  return JSON.stringify({ message: spec.message, requestId: '$context.requestId' });
}
