/**
 * The management API's router: event → request → one operation module → response, and the one place where
 * typed errors become status codes. Everything it needs is injected, so tests and local mode build their own.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { MalformedKeyItemError } from '../core/key-record';
import { KeyStoreUnavailableError, KeyWriteConflictError, type KeyManagementStore } from '../shared/key-store';
import { errorResponse } from '../shared/http-response';
import { KEY_API_DIRECTIVE, KEY_API_METRICS } from '../shared/emf';
import { errorFields, type Logger } from '../shared/logger';
import { MissingPrincipalError, principalFrom } from '../core/principal';
import { loadCallerKeyLimit } from './caller-key';
import { createKey } from './create';
import { InvalidRequestError, KeyApiError, RouteNotFoundError, ForbiddenError } from './errors';
import { getKey } from './get';
import { listKeys } from './list';
import { newKeyId, type KeyRequest, type OperationContext } from './operation-context';
import { revokeKey } from './revoke';
import { rotateKey } from './rotate';
import { MAX_BODY_BYTES } from './schemas';
import { grantableCatalog } from './scopes';
import { consumerRoutes, consumersBasePath, DEFAULT_MANAGEMENT_BASE_PATH, managementRoutes } from '../core/route-table';
import type { ConsumerStore } from '../shared/consumer-store';
import { MalformedConsumerItemError } from '../shared/consumer-store';
import type { RuntimePlans } from '../core/plans';
import { clearConsumer, getConsumer, setConsumer, type EntitlementContext, type ConsumerRequest } from './consumers';
import type { EntitlementStore } from '../shared/consumer-store';
import { currentEntitlements } from '../core/entitlements';
import { UsagePlanUnavailableError, type UsagePlanGateway } from './usage-plan-gateway';
import { updateKey } from './update';

type Operation = (context: OperationContext, request: KeyRequest) => Promise<APIGatewayProxyResult>;

/** Keyed by `<method> <resource>` as managementRoutes() spells them under the default base path `/keys`. */
export const OPERATIONS: Readonly<Record<string, Operation>> = {
  'POST /keys': createKey,
  'GET /keys': listKeys,
  'GET /keys/{id}': getKey,
  'PATCH /keys/{id}': updateKey,
  'POST /keys/{id}/rotate': rotateKey,
  'DELETE /keys/{id}': revokeKey,
};

/** The `operation` metric dimension: one bounded name per route (never a path with an id in it). */
const OPERATION_NAMES: Readonly<Record<string, string>> = {
  'POST /keys': 'create',
  'GET /keys': 'list',
  'GET /keys/{id}': 'get',
  'PATCH /keys/{id}': 'update',
  'POST /keys/{id}/rotate': 'rotate',
  'DELETE /keys/{id}': 'revoke',
};

/**
 * Each operation's scopes, from managementRoutes() (under the default base path). The gateway's policy already demands them; checking again here
 * keeps the rule true for a direct invoke or a gateway wired by hand, and gives a message naming the scope.
 */
const ROUTE_SCOPES: ReadonlyMap<string, readonly string[]> = new Map(
  managementRoutes().map((route) => [`${route.method} ${route.path}`, route.scopes]),
);

export interface KeysHandlerDeps {
  store: KeyManagementStore;
  keyPrefix: string;
  adminScope: string;
  logger: Logger;
  nowMs?: () => number;
  /** Monotonic milliseconds for the latency metric. Default `performance.now`. */
  monotonicMs?: () => number;
  newKeyId?: () => string;
  /** The app's scope catalog (route-config.ts): the only scopes a key may carry. */
  catalog: readonly string[];
  /** Where the app mounted the key API; default `/keys`. */
  basePath?: string;
  /** Plans only: the plan side of the consumer routes (`/consumers/{sub}` beside the key API). */
  consumers?: { store: ConsumerStore; usagePlans: UsagePlanGateway; plans: RuntimePlans };
  /**
   * Entitlements (lambdas/core/entitlements.ts): the consumer routes are served when this or `consumers` is set.
   * Without a store, every consumer is entitled to `defaultScopes` only.
   */
  entitlements?: { store?: EntitlementStore; defaultScopes?: readonly string[] };
}

type ConsumerOperation = (context: EntitlementContext, request: ConsumerRequest) => Promise<APIGatewayProxyResult>;
const CONSUMER_OPERATIONS: Readonly<Record<string, ConsumerOperation>> = { GET: getConsumer, PUT: setConsumer, DELETE: clearConsumer };
/** The consumer routes' `operation` dimension, by method (the CLI's commands). */
export const CONSUMER_OPERATION_NAMES: Readonly<Record<string, string>> = {
  GET: 'consumer.get',
  PUT: 'consumer.set',
  DELETE: 'consumer.clear-plan',
};

/** A store that holds nothing: an API whose key API was built without one entitles everyone to the defaults only. */
const NO_ENTITLEMENT_STORE: EntitlementStore = {
  getEntitlementsConsistent: async () => undefined,
  putEntitlements: async () => {
    throw new InvalidRequestError('scopes: this key API keeps no entitlements', 'scopes');
  },
};

export type KeysHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

export function createKeysHandler(deps: KeysHandlerDeps): KeysHandler {
  const defaultScopes = deps.entitlements?.defaultScopes ?? [];
  const entitlementStore = deps.entitlements?.store ?? NO_ENTITLEMENT_STORE;
  const context: OperationContext = {
    store: deps.store,
    keyPrefix: deps.keyPrefix,
    adminScope: deps.adminScope,
    catalog: grantableCatalog(deps.catalog, deps.adminScope),
    logger: deps.logger,
    nowMs: deps.nowMs ?? Date.now,
    newKeyId: deps.newKeyId ?? newKeyId,
    entitlementsOf: async (sub) => currentEntitlements(defaultScopes, (await entitlementStore.getEntitlementsConsistent(sub))?.scopes),
  };
  const basePath = deps.basePath ?? DEFAULT_MANAGEMENT_BASE_PATH;
  const consumerResource = `${consumersBasePath(basePath)}/{sub}`;
  const consumerScopes = new Map(consumerRoutes(basePath).map((route) => [route.method as string, route.scopes]));
  const consumerContext: EntitlementContext | undefined =
    deps.consumers || deps.entitlements
      ? {
          entitlements: entitlementStore,
          defaultScopes,
          catalog: new Set([...context.catalog].filter((scope) => scope !== deps.adminScope)),
          adminScope: deps.adminScope,
          logger: deps.logger,
          nowMs: context.nowMs,
          ...(deps.consumers
            ? { plans: { ...deps.consumers, adminScope: deps.adminScope, logger: deps.logger, nowMs: context.nowMs } }
            : {}),
        }
      : undefined;
  const monotonicMs = deps.monotonicMs ?? (() => performance.now());
  const handle = async (event: APIGatewayProxyEvent, route: string, resource: string | undefined): Promise<APIGatewayProxyResult> => {
    try {
      if (consumerContext && event.resource === consumerResource) {
        const operation = CONSUMER_OPERATIONS[event.httpMethod];
        if (!operation) throw new RouteNotFoundError();
        const caller = principalFrom(event);
        const missing = (consumerScopes.get(event.httpMethod) ?? []).filter((scope) => !caller.scopes.includes(scope));
        if (missing.length > 0)
          throw new ForbiddenError(`${event.httpMethod} ${event.resource} needs scope(s) you do not hold: ${missing.join(', ')}`);
        await loadCallerKeyLimit(context, caller);
        return await operation(consumerContext, { caller, sub: event.pathParameters?.['sub'], body: readJsonBody(event) });
      }
      const operation = resource === undefined ? undefined : OPERATIONS[route];
      if (!operation) throw new RouteNotFoundError();
      const caller = principalFrom(event);
      const missing = (ROUTE_SCOPES.get(route) ?? []).filter((scope) => !caller.scopes.includes(scope));
      if (missing.length > 0)
        throw new ForbiddenError(`${event.httpMethod} ${event.resource} needs scope(s) you do not hold: ${missing.join(', ')}`);
      // Every operation made with a key, reads included: a revoked, disabled or expired key gets 403 here even
      // while the authorizer's caches still hold its earlier verdict.
      const callerKey = await loadCallerKeyLimit(context, caller);
      const request: KeyRequest = {
        caller,
        body: readJsonBody(event),
        query: queryOf(event),
      };
      if (callerKey !== undefined) request.callerKey = callerKey;
      const keyId = event.pathParameters?.['id'];
      if (keyId !== undefined) request.keyId = keyId;
      return await operation(context, request);
    } catch (error) {
      return toErrorResponse(error, context.logger, event);
    }
  };
  return async (event) => {
    const startedMs = monotonicMs();
    const resource =
      typeof event.resource === 'string' && event.resource.startsWith(basePath)
        ? `${DEFAULT_MANAGEMENT_BASE_PATH}${event.resource.slice(basePath.length)}`
        : undefined;
    const route = `${event.httpMethod} ${resource}`;
    const response = await handle(event, route, resource);
    const isConsumerRoute = consumerContext !== undefined && event.resource === consumerResource;
    const operation = isConsumerRoute
      ? Object.hasOwn(CONSUMER_OPERATION_NAMES, event.httpMethod)
        ? CONSUMER_OPERATION_NAMES[event.httpMethod]
        : undefined
      : OPERATION_NAMES[route];
    // One metric line per request: requests, client errors and faults by operation, and latency.
    context.logger.info(
      'key API request',
      {
        operation: operation ?? 'unknown',
        statusCode: response.statusCode,
        [KEY_API_METRICS.requests.name]: 1,
        [KEY_API_METRICS.clientErrors.name]: response.statusCode >= 400 && response.statusCode < 500 ? 1 : 0,
        [KEY_API_METRICS.faults.name]: response.statusCode >= 500 ? 1 : 0,
        [KEY_API_METRICS.latency.name]: Math.round((monotonicMs() - startedMs) * 100) / 100,
      },
      KEY_API_DIRECTIVE,
    );
    return response;
  };
}

/** The body as parsed JSON; undefined when absent. Size is checked on the decoded bytes, before parsing. */
function readJsonBody(event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'>): unknown {
  if (event.body === null || event.body === undefined || event.body === '') return undefined;
  const bytes = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (bytes.byteLength > MAX_BODY_BYTES) {
    throw new InvalidRequestError(`body: must be at most ${MAX_BODY_BYTES} bytes (got ${bytes.byteLength})`, 'body');
  }
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    throw new InvalidRequestError('body: is not valid JSON', 'body');
  }
}

function queryOf(event: Pick<APIGatewayProxyEvent, 'queryStringParameters'>): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) if (value !== undefined) query[name] = value;
  return query;
}

function toErrorResponse(error: unknown, logger: Logger, event: APIGatewayProxyEvent): APIGatewayProxyResult {
  const where = { method: event.httpMethod, resource: event.resource };
  if (error instanceof KeyApiError) {
    return errorResponse(error.statusCode, error.message, error.field !== undefined ? { field: error.field } : {});
  }
  if (error instanceof KeyWriteConflictError) return errorResponse(409, 'key changed concurrently; retry');
  if (error instanceof UsagePlanUnavailableError) {
    logger.error('usage plans unavailable', {
      reason: 'usage_plans_unavailable',
      ...where,
      ...errorFields(error),
      cause: errorFields(error.cause),
    });
    return errorResponse(503, 'usage plans unavailable; retry later');
  }
  if (error instanceof MalformedConsumerItemError) {
    logger.error('malformed consumer item', { reason: 'consumer_item_malformed', field: error.field, ...where });
    return errorResponse(500, 'internal error');
  }
  if (error instanceof KeyStoreUnavailableError) {
    // Fail closed: nothing was promised, and the client may retry.
    logger.error('key store unavailable', {
      reason: 'key_store_unavailable',
      ...where,
      ...errorFields(error),
      cause: errorFields(error.cause),
    });
    return errorResponse(503, 'key store unavailable; retry later');
  }
  if (error instanceof MalformedKeyItemError) {
    logger.error('malformed key item', { reason: 'key_item_malformed', field: error.field, ...where });
    return errorResponse(500, 'internal error');
  }
  if (error instanceof MissingPrincipalError) {
    logger.error('request without authorizer context', { reason: 'missing_principal', ...where, ...errorFields(error) });
    return errorResponse(500, 'internal error');
  }
  logger.error('unexpected error', { reason: 'internal_error', ...where, ...errorFields(error) });
  return errorResponse(500, 'internal error');
}
