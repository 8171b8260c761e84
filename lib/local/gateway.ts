/**
 * The local gateway: an HTTP server that does what API Gateway (REST API, Lambda REQUEST authorizer with
 * identity source `method.request.header.Authorization`, Lambda proxy integrations) does in front of the
 * same authorizer and handler code that runs in AWS. The rules it follows, in API Gateway's order:
 *
 * 1. No route for the method and path → 404 MISSING_AUTHENTICATION_TOKEN (API Gateway checks the route
 *    before anything else; the stack maps this response type to 404).
 * 2. A body over `maxBodyBytes` → 413 (API Gateway's payload limit is 10 MB; see DEFAULT_MAX_BODY_BYTES).
 * 3. A missing or empty identity source (the authorizer's, from the assembly: `Authorization`, and in the default
 *    `route` cache scope `context.resourceId` and `context.httpMethod`) → 401 without calling the authorizer.
 * 4. The authorizer's result is cached on the values of those identity sources for `authorizerCacheTtlSeconds`:
 *    per credential and route in the `route` scope, per credential for every route in the `credential` scope.
 *    `Unauthorized` → 401; any other failure → AUTHORIZER_FAILURE (503 in this stack);
 *    a malformed response or a context value that is not a string, number or boolean → 500
 *    AUTHORIZER_CONFIGURATION_ERROR.
 * 5. The policy is evaluated against the request's method ARN (iam-evaluator.ts): not allowed → 403.
 * Paths are routed, and method ARNs spelt, as `requestSegments` and `methodArnPath` say (lambdas/core/route-table.ts):
 * local mode's one assumption about percent-encoding.
 * 5b. With usage plans (`usagePlans`, the stack's `apiKeyRequired`), the authorizer's `usageIdentifierKey` is
 *    checked against them: no identifier, or one in no usage plan → 403; over the plan's rate → 429 THROTTLED;
 *    over its quota → 429 QUOTA_EXCEEDED (lib/local/usage-plans/emulator.ts).
 * 6. The backend gets a v1 proxy event whose `requestContext.authorizer` holds `principalId` and the context
 *    values as strings. A throw or a malformed result → 502 `{"message":"Internal server error"}`;
 *    no answer within 29 s (API Gateway's integration timeout) → 504.
 *
 * Every request logs one access-log line with the stack's access-log fields, through an injectable sink.
 * Nothing here may crash the process: every path ends in a response.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type {
  APIGatewayEventRequestContextWithAuthorizer,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
  Context,
} from 'aws-lambda';
import {
  gatewayResponse,
  gatewayResponseBody,
  localGatewayResponseHeaders,
  type GatewayResponseSpec,
} from '../construct/gateway-responses';
import { methodArnPath, requestSegments, servingIndex, type PathPart, type RouteRule } from '../../lambdas/core/route-table';
import { assertRouteTable } from '../../lambdas/core/route-validation';
import { AuthorizerResultCache } from './authorizer-cache';
import { evaluatePolicy, methodArnFor } from './iam-evaluator';
import { BodyTooLargeError, readBody } from './request-body';
import { listen } from './listen';
import { loopbackOnly } from './loopback-guard';

/** API Gateway's own limit is 10 MB. Locally 1 MB is plenty for a JSON API and keeps a stray upload from eating memory. */
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** API Gateway's default integration timeout for REST APIs. */
const INTEGRATION_TIMEOUT_MS = 29_000;
/** The fake coordinates the method ARN is built from; `apiStageArn()` in the authorizer accepts them. */
const LOCAL_API = { region: 'us-east-1', accountId: '000000000000', apiId: 'local' } as const;

/** What an authorizer hands back, typed loosely on purpose: the gateway must validate it as API Gateway does. */
export type GatewayAuthorizerOutcome =
  /** A policy (Allow or Deny, the gateway evaluates it either way). */
  | {
      effect: 'allow' | 'deny';
      response: { principalId?: unknown; policyDocument?: unknown; context?: unknown; usageIdentifierKey?: unknown };
    }
  | { effect: 'unauthorized' }
  | { effect: 'fail' };
export type GatewayAuthorizer = (event: APIGatewayRequestAuthorizerEvent) => GatewayAuthorizerOutcome | Promise<GatewayAuthorizerOutcome>;

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<unknown> | unknown;
export type HandlerLoader = (name: string) => Promise<ProxyHandler>;

/** A route the local gateway serves: the rule, plus the name its handler loader knows the backend by. */
export interface Route extends RouteRule {
  readonly handler: string;
}

/** One line per request; the field names are the stack's access-log fields (lib/construct/dual-auth-api.ts). */
export interface AccessLogEntry {
  requestId: string;
  ip: string;
  method: string;
  /** The route's resource path (`/keys/{id}`), never the raw path or query, which may carry secrets. */
  resourcePath: string | null;
  status: number;
  responseLatencyMs: number;
  sub: string | null;
  authMethod: string | null;
  keyId: string | null;
  authorizerStatus: number | null;
  authorizerLatencyMs: number | null;
  /** true when the authorizer result came from the gateway's cache. */
  authorizerCached: boolean | null;
  errorType: GatewayResponseSpec['type'] | 'REQUEST_TOO_LARGE' | 'INTEGRATION_FAILURE' | 'INTEGRATION_TIMEOUT' | null;
}
/**
 * Receives each request's entry; `request.path` is the path as sent, without the query, for a person's log only
 * (the entry leaves it out: a path may carry what the query does).
 */
export type AccessLogSink = (entry: AccessLogEntry, request: { path: string }) => void;

export interface LocalGatewayOptions {
  routes: readonly Route[];
  authorize: GatewayAuthorizer;
  loadHandler: HandlerLoader;
  stageName: string;
  authorizerCacheTtlSeconds: number;
  /**
   * The authorizer's identity sources as the template writes them (`method.request.header.Authorization`,
   * `context.resourceId`, …): each must be present, and together they key the result cache.
   * Default: the `Authorization` header alone.
   */
  identitySources?: readonly string[];
  maxBodyBytes?: number;
  integrationTimeoutMs?: number;
  accessLog?: AccessLogSink;
  nowMs?: () => number;
  /**
   * Usage plans, when the API has them: every authorized method then requires an API key (the stack's
   * `apiKeyRequired`), taken from the authorizer's `usageIdentifierKey`. Absent: nothing is checked.
   */
  usagePlans?: UsagePlanAdmission;
}

/** What the gateway asks the usage-plan emulator about each request to an authorized method. */
export interface UsagePlanAdmission {
  admit(usageIdentifierKey: string | undefined): 'ok' | 'forbidden' | 'throttled' | 'quota_exceeded';
}

interface CachedAuthorization {
  principalId: string;
  policyDocument: unknown;
  /** Context values already turned into strings, as backends receive them. */
  context: Record<string, string>;
  usageIdentifierKey?: string;
}

/** A route with its path parsed into parts, once per gateway. */
interface ParsedRoute {
  route: Route;
  method: string;
  parts: PathPart[];
}

/** The table parsed once per gateway; a table API Gateway would refuse to deploy throws RouteTableError naming the route(s). */
function parseRoutes(routes: readonly Route[]): ParsedRoute[] {
  const parsed = assertRouteTable(routes);
  return routes.map((route, index) => ({ route, method: route.method, parts: parsed[index] as PathPart[] }));
}

/**
 * Match a decoded path against the table as API Gateway does: `{name}` takes exactly one non-empty segment, a
 * final `{name+}` the rest of the path (one or more segments, joined with `/`); the most specific route wins
 * (literal, then `{param}`, then greedy, left to right), and an exact method beats `ANY` on the same resource.
 */
function matchRoute(
  routes: readonly ParsedRoute[],
  method: string,
  segments: readonly string[],
): { route: Route; pathParameters: Record<string, string> | null } | undefined {
  const best = routes[servingIndex(routes, method, segments)];
  if (!best) return undefined;
  const pathParameters: Record<string, string> = {};
  for (const [index, part] of best.parts.entries()) {
    if (part.kind === 'param') pathParameters[part.name] = segments[index] ?? '';
    else if (part.kind === 'greedy') pathParameters[part.name] = segments.slice(index).join('/');
  }
  return { route: best.route, pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : null };
}

/** Headers as API Gateway's v1 event has them: original spelling, `headers` with the last value, `multiValueHeaders` with all. */
function collectHeaders(request: IncomingMessage): { headers: Record<string, string>; multiValueHeaders: Record<string, string[]> } {
  // Null-prototype objects: a header or parameter named `constructor` or `__proto__` is just a name here.
  const headers: Record<string, string> = Object.create(null);
  const multiValueHeaders: Record<string, string[]> = Object.create(null);
  const spellings = new Map<string, string>();
  const raw = request.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const rawName = raw[index] as string;
    const value = raw[index + 1] as string;
    const lower = rawName.toLowerCase();
    const name = spellings.get(lower) ?? rawName;
    spellings.set(lower, name);
    headers[name] = value;
    multiValueHeaders[name] = [...(multiValueHeaders[name] ?? []), value];
  }
  return { headers, multiValueHeaders };
}

function collectQuery(search: URLSearchParams): { single: Record<string, string> | null; multi: Record<string, string[]> | null } {
  const single: Record<string, string> = Object.create(null);
  const multi: Record<string, string[]> = Object.create(null);
  for (const [name, value] of search) {
    single[name] = value;
    multi[name] = [...(multi[name] ?? []), value];
  }
  return Object.keys(single).length === 0 ? { single: null, multi: null } : { single, multi };
}

/** An identifier for a resource, stable across restarts, shaped like API Gateway's (`requestContext.resourceId`). */
export function localResourceId(path: string): string {
  return createHash('sha256').update(path).digest('hex').slice(0, 10);
}

const DEFAULT_IDENTITY_SOURCES: readonly string[] = ['method.request.header.Authorization'];

/**
 * The value of one identity source for a request, as API Gateway reads it; undefined when absent or empty (then
 * API Gateway answers 401 without calling the authorizer). Headers and query strings with several values give
 * them all, comma-joined; `context.<name>` reads the request context (dotted names reach into `identity`).
 */
export function identitySourceValue(
  source: string,
  request: { multiValueHeaders: Record<string, string[]>; multiValueQuery: Record<string, string[]> | null; requestContext: object },
): string | undefined {
  let values: string[] = [];
  const header = /^method\.request\.header\.(.+)$/.exec(source)?.[1];
  const query = /^method\.request\.querystring\.(.+)$/.exec(source)?.[1];
  const context = /^context\.(.+)$/.exec(source)?.[1];
  if (header !== undefined) {
    const wanted = header.toLowerCase();
    for (const name in request.multiValueHeaders)
      if (name.toLowerCase() === wanted) values.push(...(request.multiValueHeaders[name] ?? []));
  } else if (query !== undefined) values = request.multiValueQuery?.[query] ?? [];
  else if (context !== undefined) {
    let value: unknown = request.requestContext;
    for (const name of context.split('.'))
      value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[name] : undefined;
    if (typeof value === 'string' || typeof value === 'number') values = [String(value)];
  }
  // Stage variables: local mode has none, so such a source is always missing.
  if (values.length === 0 || values.every((value) => value.trim() === '')) return undefined;
  return values.join(',');
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/** Check an authorizer response the way API Gateway does; undefined means AUTHORIZER_CONFIGURATION_ERROR. */
function acceptAuthorizerResponse(response: {
  principalId?: unknown;
  policyDocument?: unknown;
  context?: unknown;
  usageIdentifierKey?: unknown;
}): CachedAuthorization | undefined {
  if (typeof response.principalId !== 'string' || response.principalId.length === 0) return undefined;
  if (response.policyDocument === null || typeof response.policyDocument !== 'object') return undefined;
  const context: Record<string, string> = {};
  if (response.context !== undefined && response.context !== null) {
    if (typeof response.context !== 'object' || Array.isArray(response.context)) return undefined;
    for (const [name, value] of Object.entries(response.context as Record<string, unknown>)) {
      if (value === undefined || value === null) continue;
      // API Gateway rejects object and array context values outright, and stringifies the rest for backends.
      if (!isScalar(value)) return undefined;
      context[name] = String(value);
    }
  }
  const accepted: CachedAuthorization = { principalId: response.principalId, policyDocument: response.policyDocument, context };
  if (typeof response.usageIdentifierKey === 'string') accepted.usageIdentifierKey = response.usageIdentifierKey;
  return accepted;
}

interface ValidResult {
  statusCode: number;
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  body: Buffer;
}

const PROXY_RESULT_KEYS = new Set(['statusCode', 'headers', 'multiValueHeaders', 'body', 'isBase64Encoded']);

/** A Lambda proxy result checked as API Gateway checks it: the result, or why API Gateway calls it malformed (→ 502). */
export function checkProxyResult(result: unknown): { ok: true; value: ValidResult } | { ok: false; problem: string } {
  const malformed = (problem: string) => ({ ok: false as const, problem });
  if (result === null || typeof result !== 'object')
    return malformed(`the result is ${result === null ? 'null' : typeof result}, not an object with a statusCode`);
  const candidate = result as Partial<APIGatewayProxyResult> & Record<string, unknown>;
  const statusCode = candidate.statusCode;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599)
    return malformed(`statusCode must be an integer from 100 to 599 (got ${JSON.stringify(statusCode) ?? 'nothing'})`);
  for (const key in candidate)
    if (!PROXY_RESULT_KEYS.has(key))
      return malformed(`unexpected field "${key}" (a proxy result has only ${[...PROXY_RESULT_KEYS].join(', ')})`);
  const headers: Record<string, string> = {};
  if (candidate.headers !== undefined && candidate.headers !== null) {
    if (typeof candidate.headers !== 'object') return malformed('headers must be an object');
    for (const [name, value] of Object.entries(candidate.headers)) {
      if (!isScalar(value)) return malformed(`header "${name}" must be a string, number or boolean`);
      headers[name] = String(value);
    }
  }
  const multiValueHeaders: Record<string, string[]> = {};
  if (candidate.multiValueHeaders !== undefined && candidate.multiValueHeaders !== null) {
    if (typeof candidate.multiValueHeaders !== 'object') return malformed('multiValueHeaders must be an object');
    for (const [name, values] of Object.entries(candidate.multiValueHeaders)) {
      if (!Array.isArray(values) || !values.every(isScalar))
        return malformed(`multiValueHeaders "${name}" must be a list of strings, numbers or booleans`);
      multiValueHeaders[name] = values.map(String);
    }
  }
  if (candidate.body !== undefined && candidate.body !== null && typeof candidate.body !== 'string')
    return malformed(
      `body must be a string (got ${Array.isArray(candidate.body) ? 'an array' : typeof candidate.body}: JSON.stringify it)`,
    );
  const text = candidate.body ?? '';
  const body = candidate.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
  return { ok: true, value: { statusCode, headers, multiValueHeaders, body } };
}

/** A Lambda proxy result, or undefined when API Gateway would call it malformed (→ 502). */
function acceptProxyResult(result: unknown): ValidResult | undefined {
  const checked = checkProxyResult(result);
  return checked.ok ? checked.value : undefined;
}

function lambdaContext(requestId: string, functionName: string, deadlineMs: number): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_API.region}:${LOCAL_API.accountId}:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export class IntegrationTimeoutError extends Error {
  override readonly name = 'IntegrationTimeoutError';
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new IntegrationTimeoutError()), timeoutMs);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function defaultAccessLogSink(entry: AccessLogEntry): void {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
}

/** The request listener: all of API Gateway's behaviour, independent of any listening socket. */
function createGatewayListener(options: LocalGatewayOptions): (request: IncomingMessage, response: ServerResponse) => void {
  const nowMs = options.nowMs ?? Date.now;
  const cache = new AuthorizerResultCache<CachedAuthorization>(options.authorizerCacheTtlSeconds, nowMs);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const integrationTimeoutMs = options.integrationTimeoutMs ?? INTEGRATION_TIMEOUT_MS;
  const accessLog = options.accessLog ?? defaultAccessLogSink;
  const identitySources =
    options.identitySources && options.identitySources.length > 0 ? options.identitySources : DEFAULT_IDENTITY_SOURCES;
  const where = { ...LOCAL_API, stageName: options.stageName };
  // Checked at start, as a deployment would, rather than on the first request.
  const routes = parseRoutes(options.routes);

  async function handle(request: IncomingMessage, response: ServerResponse, log: AccessLogEntry): Promise<void> {
    const requestId = log.requestId;
    const send = (status: number, headers: Record<string, string | string[]>, body: Buffer | string) => {
      log.status = status;
      if (response.headersSent) return;
      response.writeHead(status, { ...headers, 'x-amzn-requestid': requestId });
      response.end(body);
    };
    const sendGateway = (type: GatewayResponseSpec['type']) => {
      const spec = gatewayResponse(type);
      log.errorType = type;
      send(spec.statusCode, localGatewayResponseHeaders(), gatewayResponseBody(spec, requestId));
    };

    const method = (request.method ?? 'GET').toUpperCase();
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://gateway.local');
    } catch {
      sendGateway('DEFAULT_4XX');
      return;
    }
    // One trailing slash ignored, each segment decoded: the router and the method ARN read the same segments.
    // The path as sent, not as WHATWG URL normalises it (that would resolve `..` and `%2e%2e`, and read `\` as `/`).
    const target = request.url ?? '/';
    const segments = requestSegments(target.startsWith('/') ? (target.split('?', 1)[0] ?? '/') : url.pathname);
    const path = `/${segments.join('/')}`;
    // The route ignores one trailing slash, but the proxy event keeps it in `path`, as API Gateway's does.
    const rawPath = target.startsWith('/') ? (target.split('?', 1)[0] ?? '/') : url.pathname;
    const eventPath = path !== '/' && rawPath.endsWith('/') ? `${path}/` : path;
    const match = matchRoute(routes, method, segments);
    if (!match) {
      sendGateway('MISSING_AUTHENTICATION_TOKEN');
      return;
    }
    const { route, pathParameters } = match;
    log.resourcePath = route.path;

    let body: Buffer;
    try {
      body = await readBody(request, maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        log.errorType = 'REQUEST_TOO_LARGE';
        send(
          413,
          { ...localGatewayResponseHeaders(), connection: 'close' },
          JSON.stringify({ message: 'Request Entity Too Large', requestId }),
        );
      } else sendGateway('DEFAULT_4XX');
      return;
    }

    const { headers, multiValueHeaders } = collectHeaders(request);
    const query = collectQuery(url.searchParams);
    const startedAtMs = nowMs();
    const requestContext: APIGatewayEventRequestContextWithAuthorizer<undefined> = {
      accountId: LOCAL_API.accountId,
      apiId: LOCAL_API.apiId,
      authorizer: undefined,
      protocol: `HTTP/${request.httpVersion}`,
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: log.ip,
        user: null,
        userAgent: request.headers['user-agent'] ?? null,
        userArn: null,
      },
      path: `/${options.stageName}${eventPath}`,
      stage: options.stageName,
      requestId,
      requestTime: new Date(startedAtMs).toISOString(),
      requestTimeEpoch: startedAtMs,
      resourceId: localResourceId(route.path),
      resourcePath: route.path,
    };

    let authorizerContext: Record<string, string> | null = null;
    if (route.authorized !== false) {
      // Every identity source must have a value, or API Gateway answers 401 without calling the authorizer.
      const identityValues: string[] = [];
      for (const source of identitySources) {
        const value = identitySourceValue(source, { multiValueHeaders, multiValueQuery: query.multi, requestContext });
        if (value === undefined) {
          sendGateway('UNAUTHORIZED');
          return;
        }
        identityValues.push(value);
      }
      const identitySource = identityValues.length === 1 ? (identityValues[0] as string) : JSON.stringify(identityValues);
      const methodArn = methodArnFor(where, method, methodArnPath(segments));
      let authorization = cache.get(identitySource);
      log.authorizerCached = authorization !== undefined;
      if (!authorization) {
        const authorizerStartedMs = nowMs();
        let outcome: GatewayAuthorizerOutcome;
        try {
          outcome = await options.authorize({
            type: 'REQUEST',
            methodArn,
            resource: route.path,
            path,
            httpMethod: method,
            headers,
            multiValueHeaders,
            pathParameters,
            queryStringParameters: query.single,
            multiValueQueryStringParameters: query.multi,
            stageVariables: null,
            requestContext,
          });
        } catch {
          // A thrown error other than `Unauthorized` is AUTHORIZER_FAILURE in API Gateway.
          outcome = { effect: 'fail' };
        }
        log.authorizerLatencyMs = nowMs() - authorizerStartedMs;
        if (outcome.effect === 'unauthorized') {
          log.authorizerStatus = 401;
          sendGateway('UNAUTHORIZED');
          return;
        }
        if (outcome.effect !== 'allow' && outcome.effect !== 'deny') {
          log.authorizerStatus = 500;
          sendGateway('AUTHORIZER_FAILURE');
          return;
        }
        authorization = acceptAuthorizerResponse(outcome.response);
        if (!authorization) {
          log.authorizerStatus = 500;
          sendGateway('AUTHORIZER_CONFIGURATION_ERROR');
          return;
        }
        log.authorizerStatus = 200;
        cache.set(identitySource, authorization);
      }
      log.sub = authorization.context['sub'] ?? authorization.principalId;
      log.authMethod = authorization.context['authMethod'] ?? null;
      log.keyId = authorization.context['keyId'] ?? null;
      const verdict = evaluatePolicy(authorization.policyDocument, methodArn);
      if (verdict.decision === 'invalid') {
        sendGateway('AUTHORIZER_CONFIGURATION_ERROR');
        return;
      }
      if (verdict.decision !== 'allow') {
        sendGateway('ACCESS_DENIED');
        return;
      }
      if (options.usagePlans) {
        const admitted = options.usagePlans.admit(authorization.usageIdentifierKey);
        if (admitted !== 'ok') {
          sendGateway(admitted === 'throttled' ? 'THROTTLED' : admitted === 'quota_exceeded' ? 'QUOTA_EXCEEDED' : 'ACCESS_DENIED');
          return;
        }
      }
      authorizerContext = { principalId: authorization.principalId, ...authorization.context };
    }

    const event: APIGatewayProxyEvent = {
      resource: route.path,
      path: eventPath,
      httpMethod: method,
      headers,
      multiValueHeaders,
      queryStringParameters: query.single,
      multiValueQueryStringParameters: query.multi,
      pathParameters,
      stageVariables: null,
      requestContext: { ...requestContext, authorizer: authorizerContext },
      // API Gateway without binary media types hands text bodies to Lambda as they came.
      body: body.length > 0 ? body.toString('utf8') : null,
      isBase64Encoded: false,
    };
    let result: ValidResult | undefined;
    try {
      const handler = await options.loadHandler(route.handler);
      const deadlineMs = Date.now() + integrationTimeoutMs;
      const raw = await withTimeout(
        Promise.resolve(handler(event, lambdaContext(requestId, `dualgate-${route.handler.replace('/', '-')}`, deadlineMs))),
        integrationTimeoutMs,
      );
      result = acceptProxyResult(raw);
    } catch (error) {
      if (error instanceof IntegrationTimeoutError) {
        log.errorType = 'INTEGRATION_TIMEOUT';
        send(504, localGatewayResponseHeaders(), JSON.stringify({ message: 'Endpoint request timed out' }));
        return;
      }
      result = undefined;
    }
    if (!result) {
      // What API Gateway answers for a Lambda that threw or returned a malformed proxy response.
      log.errorType = 'INTEGRATION_FAILURE';
      send(502, localGatewayResponseHeaders(), JSON.stringify({ message: 'Internal server error' }));
      return;
    }
    const responseHeaders: Record<string, string | string[]> = { 'content-type': 'application/json', ...result.headers };
    for (const [name, values] of Object.entries(result.multiValueHeaders)) responseHeaders[name] = values;
    send(result.statusCode, responseHeaders, result.body);
  }

  return (request, response) => {
    const startedAtMs = nowMs();
    const log: AccessLogEntry = {
      requestId: randomUUID(),
      ip: request.socket.remoteAddress ?? 'unknown',
      method: request.method ?? 'UNKNOWN',
      resourcePath: null,
      status: 500,
      responseLatencyMs: 0,
      sub: null,
      authMethod: null,
      keyId: null,
      authorizerStatus: null,
      authorizerLatencyMs: null,
      authorizerCached: null,
      errorType: null,
    };
    handle(request, response, log)
      .catch(() => {
        // A bug in the gateway itself: answer like API Gateway's DEFAULT_5XX rather than crash or hang.
        const spec = gatewayResponse('DEFAULT_5XX');
        log.status = spec.statusCode;
        log.errorType = 'DEFAULT_5XX';
        if (!response.headersSent) {
          response.writeHead(spec.statusCode, { ...localGatewayResponseHeaders(), 'x-amzn-requestid': log.requestId });
          response.end(gatewayResponseBody(spec, log.requestId));
        } else response.destroy();
      })
      .finally(() => {
        log.responseLatencyMs = nowMs() - startedAtMs;
        try {
          accessLog(log, { path: (request.url ?? '/').split('?', 1)[0] ?? '/' });
        } catch {
          // A failing log sink must not take requests down with it.
        }
      });
  };
}

export interface RunningGateway {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Listen on `host:port` (0 = any free port). Rejects with the listen error (e.g. EADDRINUSE) untouched. Only loopback
 * Host names are answered, plus `allowedHosts` (lib/local/loopback-guard.ts); backends' CORS headers pass through.
 */
export async function startGateway(
  options: LocalGatewayOptions & { port: number; host: string; allowedHosts?: readonly string[] },
): Promise<RunningGateway> {
  const server = createServer(
    loopbackOnly(createGatewayListener(options), {
      kind: 'gateway',
      ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
    }),
  );
  // A malformed request line or oversized headers: answer 400/431 on the socket instead of an unhandled error.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(
      `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify({ message: status.slice(4) })}`,
    );
  });
  const port = await listen(server, options.port, options.host);
  return {
    server,
    port,
    url: `http://${options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
