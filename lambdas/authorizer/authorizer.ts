/**
 * The authorizer as a plain function of its dependencies: credential extraction → the one policy that
 * may judge that credential's shape → a decision on the route (route-policy.ts, the default) or one policy
 * for every route (policy-compiler.ts, the `credential` cache scope) → IAM policy + context. The Lambda
 * handler (handler.ts) and local mode both run this, so local mode runs exactly the code that runs in AWS.
 *
 * Answers that are in memory (cached keys and tokens, offline rejections) are returned synchronously;
 * only a table read or a JWKS fetch makes the result a promise.
 */
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import {
  ALLOW_DIRECTIVE,
  ALLOW_WITH_LOOKUP_DIRECTIVE,
  DECISION_DIRECTIVE,
  DECISION_WITH_LOOKUP_DIRECTIVE,
} from '../shared/emf';
import { errorFields, type Logger } from '../shared/logger';
import { toAuthorizerContext, type AuthorizerContext, type Principal } from '../core/principal';
import { classifyCredential, type CredentialKind } from './classify';
import { extractCredential } from './credential';
import { reject, type CredentialPolicy, type PolicyResult, type PrincipalSlot } from './decision';
import { apiStageArn, type PolicyCompiler, type PolicyDocument } from '../core/policy-compiler';
import { holdsRouteScopes, type BoundRoute, type RouteBoundTable, type RouteDenyReason } from './route-policy';
import type { HttpMethod } from '../core/route-table';

/** What the Lambda returns to API Gateway (assignable to aws-lambda's APIGatewayAuthorizerResult). */
export interface AuthorizerResponse {
  readonly principalId: string;
  readonly policyDocument: PolicyDocument;
  readonly context: Readonly<AuthorizerContext>;
  /** Plans only: the consumer's API Gateway usage key (API key source AUTHORIZER). Cached by API Gateway with the policy. */
  readonly usageIdentifierKey?: string;
}

export type AuthorizerOutcome =
  | { effect: 'allow'; response: AuthorizerResponse }
  /** A Deny policy for the route (missing scope, unknown route) → API Gateway answers 403. */
  | { effect: 'deny'; response: AuthorizerResponse }
  /** → throw `Unauthorized` → 401. */
  | { effect: 'unauthorized' }
  /** → throw anything else → API Gateway's AUTHORIZER_FAILURE, which the stack maps to a JSON 503. */
  | { effect: 'fail' };

export interface AuthorizerDeps {
  apiKeyPolicy: CredentialPolicy;
  /** Absent when no JWT issuer is configured: every JWT is then rejected. */
  jwtPolicy?: CredentialPolicy;
  /** How routes are decided: the route API Gateway chose (the default) or one policy for every route. */
  routes: RouteAuthorization;
  logger: Logger;
  /** Present only when the API has plans: every allowed principal then needs a usage identifier. */
  usageIdentifiers?: { identifierFor(sub: string): string | Promise<string> };
  /** Monotonic milliseconds, for the key-lookup latency metric. Default `performance.now`. */
  monotonicMs?: () => number;
}

export type RouteAuthorization =
  | { readonly cacheScope: 'route'; readonly table: RouteBoundTable }
  | { readonly cacheScope: 'credential'; readonly compiler: PolicyCompiler };

export type AuthorizerEvent = Pick<APIGatewayRequestAuthorizerEvent, 'methodArn' | 'headers' | 'multiValueHeaders'> &
  Partial<Pick<APIGatewayRequestAuthorizerEvent, 'requestContext' | 'resource' | 'httpMethod'>>;

/** One answer for a principal (and, in the route scope, one route and verb). */
interface Decided {
  outcome: AuthorizerOutcome;
  /**
   * For answers from memory (a principal's repeat requests), per reason: a logger with the line's fixed
   * part (identity, decision, reason) serialised once. Created on first use, so a one-off token pays nothing.
   */
  repeatLogs?: Map<string, Logger>;
}

/** What the authorizer keeps in a principal's slot: its answers for one stage and usage identifier. */
interface PrincipalMemo {
  stageArn: string;
  usageKey: string | undefined;
  /** The credential scope's one answer for every route. */
  all?: Decided;
  /** The route scope's answers, by `<verb> <route>`: bounded by the table's routes and verbs. */
  byRoute?: Map<string, Decided>;
}

/** The route the event names, looked up (route scope only). */
interface RouteChoice {
  verb: HttpMethod;
  route: BoundRoute;
  key: string;
}

export type Authorize = (event: AuthorizerEvent) => AuthorizerOutcome | Promise<AuthorizerOutcome>;

// Literal metric names below (cheaper than computed ones on the hot path); they must equal AUTHORIZER_METRICS'
// names, which test/authorizer/metrics.test.ts checks on real lines.

const UNAUTHORIZED: AuthorizerOutcome = Object.freeze({ effect: 'unauthorized' });
/** Route scope: how many routes' answers one principal's slot keeps. */
export const MAX_ROUTES_MEMOISED_PER_PRINCIPAL = 64;
const FAIL: AuthorizerOutcome = Object.freeze({ effect: 'fail' });

export function createAuthorizer(deps: AuthorizerDeps): Authorize {
  const { logger } = deps;
  const monotonicMs = deps.monotonicMs ?? (() => performance.now());
  let lastMethodArnPrefix = '';
  let lastStageArn = '';

  /** Per credential kind, per reason: a logger with the denial line's fixed part. Bounded: 4 kinds × the reason codes. */
  const deniedLogs = new Map<string, Map<string, Logger>>();
  function deniedLog(kind: CredentialKind | 'none', reason: string): Logger {
    let byReason = deniedLogs.get(kind);
    if (!byReason) deniedLogs.set(kind, (byReason = new Map()));
    let log = byReason.get(reason);
    if (!log) byReason.set(reason, (log = logger.child({ decision: 'unauthorized', reason, credentialKind: kind, Decisions: 1 })));
    return log;
  }

  function stageArnOf(methodArn: string): string | undefined {
    if (lastStageArn !== '' && methodArn.startsWith(lastMethodArnPrefix)) return lastStageArn;
    const stageArn = apiStageArn(methodArn);
    if (stageArn) {
      lastStageArn = stageArn;
      lastMethodArnPrefix = `${stageArn}/`;
    }
    return stageArn;
  }

  /** The principal's memo for this stage and usage identifier, replaced when either changes. */
  function memoFor(principal: Principal, slot: PrincipalSlot, stageArn: string, usageKey: string | undefined): PrincipalMemo {
    const memo = slot.memo as PrincipalMemo | undefined;
    if (memo && memo.stageArn === stageArn && memo.usageKey === usageKey) return memo;
    const fresh: PrincipalMemo = { stageArn, usageKey };
    slot.memo = fresh;
    return fresh;
  }

  /** The answer for a principal (and route), built once and kept in the principal's slot. */
  function decidedFor(principal: Principal, slot: PrincipalSlot, stageArn: string, usageKey: string | undefined, choice: RouteChoice | undefined, effect: 'allow' | 'deny'): Decided {
    const memo = memoFor(principal, slot, stageArn, usageKey);
    const known = choice ? memo.byRoute?.get(choice.key) : memo.all;
    if (known) return known;
    const routes = deps.routes;
    const policyDocument =
      routes.cacheScope === 'credential' ? routes.compiler.compile(stageArn, principal.scopes) : routes.table.policy(stageArn, choice?.verb, choice?.route, effect === 'allow' ? 'Allow' : 'Deny');
    // Shared by every request of this principal: callers must treat it as read-only (the policy itself is frozen).
    const response: AuthorizerResponse = {
      principalId: principal.sub,
      policyDocument,
      context: toAuthorizerContext(principal),
      ...(usageKey !== undefined ? { usageIdentifierKey: usageKey } : {}),
    };
    const decided: Decided = { outcome: { effect, response } };
    if (!choice) memo.all = decided;
    // Bounded per principal, so that many principals on many routes cannot grow memory without limit; past the
    // bound the answer is rebuilt per request (its policy document is still shared, from the table's memo).
    else if ((memo.byRoute ??= new Map()).size < MAX_ROUTES_MEMOISED_PER_PRINCIPAL) memo.byRoute.set(choice.key, decided);
    return decided;
  }

  /** Route scope: the route the event names, or why there is none to allow. */
  function chooseRoute(event: AuthorizerEvent, table: RouteBoundTable): RouteChoice | undefined {
    const verb = event.httpMethod ?? event.requestContext?.httpMethod;
    const route = table.lookup(verb, event.resource ?? event.requestContext?.resourcePath);
    return route ? { verb: verb as HttpMethod, route, key: route.memoKeys.get(verb as string) as string } : undefined;
  }

  /** A Deny of the route: logged with its reason and counted; the identity stays in the context (API Gateway's 403). */
  function deny(
    event: AuthorizerEvent,
    result: Extract<PolicyResult, { kind: 'principal' }>,
    stageArn: string,
    choice: RouteChoice | undefined,
    reason: RouteDenyReason,
    credentialKind: CredentialKind | 'none',
    lookup: number | undefined,
  ): AuthorizerOutcome {
    const { principal } = result;
    const fields = {
      sub: principal.sub,
      authMethod: principal.authMethod,
      keyId: principal.keyId,
      decision: 'deny',
      reason,
      credentialKind,
      route: choice?.route.name,
      ...(choice ? {} : { httpMethod: clip(event.httpMethod ?? event.requestContext?.httpMethod), resource: clip(event.resource ?? event.requestContext?.resourcePath) }),
      requestId: event.requestContext?.requestId,
      Decisions: 1,
      KeyLookupLatency: lookup,
    };
    // A route the table does not know means the deployed API and its table disagree: worth a warning.
    logger[choice ? 'info' : 'warn']('denied', fields, lookup === undefined ? DECISION_DIRECTIVE : DECISION_WITH_LOOKUP_DIRECTIVE);
    if (!choice) {
      const routes = deps.routes as Extract<RouteAuthorization, { cacheScope: 'route' }>;
      return { effect: 'deny', response: { principalId: principal.sub, policyDocument: routes.table.policy(stageArn, undefined, undefined, 'Deny'), context: toAuthorizerContext(principal) } };
    }
    return decidedFor(principal, result.slot, stageArn, undefined, choice, 'deny').outcome;
  }

  /**
   * Turn a policy's verdict into the outcome, logging one line with a reason code and never the credential.
   * That line is also the decision's metric (EMF): `Decisions` by decision and by decision, credential kind and
   * reason; `CacheHits` on allows; `KeyLookupLatency` when the key table was read. keyId and sub are properties only.
   */
  function finish(event: AuthorizerEvent, result: PolicyResult, kind: CredentialKind | 'none', keyLookupMs?: number): AuthorizerOutcome | Promise<AuthorizerOutcome> {
    const requestId = event.requestContext?.requestId;
    // Bounded: apiKey, jwt, unknown (neither shape) or none (no credential).
    const credentialKind = kind;
    const lookup = keyLookupMs === undefined ? undefined : round2(keyLookupMs);
    if (result.kind === 'reject') {
      if (lookup === undefined) {
        // Offline rejections (junk, bad checksums, bad tokens) can come in floods: their fixed part is serialised
        // once per credential kind and reason, as for repeat allows.
        deniedLog(credentialKind, result.reason).info('denied', { requestId }, DECISION_DIRECTIVE);
        return UNAUTHORIZED;
      }
      logger.info('denied', {
        decision: 'unauthorized',
        reason: result.reason,
        credentialKind,
        requestId,
        Decisions: 1,
        KeyLookupLatency: lookup,
      }, DECISION_WITH_LOOKUP_DIRECTIVE);
      return UNAUTHORIZED;
    }
    if (result.kind === 'fail') {
      logger.error('failed closed', {
        decision: 'fail',
        reason: result.reason,
        credentialKind,
        requestId,
        ...errorFields(result.error),
        ...causeFields(result.error),
        Decisions: 1,
        KeyLookupLatency: lookup,
      }, lookup === undefined ? DECISION_DIRECTIVE : DECISION_WITH_LOOKUP_DIRECTIVE);
      return FAIL;
    }
    const stageArn = stageArnOf(event.methodArn ?? '');
    if (!stageArn) {
      logger.error('failed closed', {
        decision: 'fail',
        reason: 'internal_error',
        credentialKind,
        detail: 'unrecognised methodArn',
        requestId,
        Decisions: 1,
      }, DECISION_DIRECTIVE);
      return FAIL;
    }
    let choice: RouteChoice | undefined;
    if (deps.routes.cacheScope === 'route') {
      choice = chooseRoute(event, deps.routes.table);
      if (!choice) return deny(event, result, stageArn, undefined, 'unknown_route', credentialKind, lookup);
      // A denied route needs no usage identifier: API Gateway answers 403 before counting the request.
      if (!holdsRouteScopes(choice.route, result.principal.scopes)) return deny(event, result, stageArn, choice, 'missing_scope', credentialKind, lookup);
    }
    const usage = deps.usageIdentifiers;
    if (!usage) return allow(event, result, stageArn, undefined, choice, credentialKind, lookup);
    let usageKey: string | Promise<string>;
    try {
      usageKey = usage.identifierFor(result.principal.sub);
    } catch (error) {
      return finish(event, { kind: 'fail', reason: 'key_store_unavailable', error }, kind);
    }
    if (typeof usageKey === 'string') return allow(event, result, stageArn, usageKey, choice, credentialKind, lookup);
    // With plans, a method requires the identifier (API Gateway answers 403 without one): no read, no allow.
    return usageKey.then(
      (key) => allow(event, result, stageArn, key, choice, credentialKind, lookup),
      (error: unknown) => finish(event, { kind: 'fail', reason: 'key_store_unavailable', error }, kind),
    );
  }

  function allow(
    event: AuthorizerEvent,
    result: Extract<PolicyResult, { kind: 'principal' }>,
    stageArn: string,
    usageKey: string | undefined,
    choice: RouteChoice | undefined,
    credentialKind: CredentialKind | 'none',
    lookup: number | undefined,
  ): AuthorizerOutcome {
    const requestId = event.requestContext?.requestId;
    const { principal, reason, cached } = result;
    const memo = decidedFor(principal, result.slot, stageArn, usageKey, choice, 'allow');
    const level = reason === 'key_valid_stale' ? 'warn' : 'info';
    if (!cached || lookup !== undefined) {
      logger[level]('allowed', {
        sub: principal.sub,
        authMethod: principal.authMethod,
        keyId: principal.keyId,
        decision: 'allow',
        reason,
        cached,
        credentialKind,
        route: choice?.route.name,
        requestId,
        Decisions: 1,
        CacheHits: cached ? 1 : 0,
        KeyLookupLatency: lookup,
      }, lookup === undefined ? ALLOW_DIRECTIVE : ALLOW_WITH_LOOKUP_DIRECTIVE);
      return memo.outcome;
    }
    const repeatLogs = (memo.repeatLogs ??= new Map());
    let log = repeatLogs.get(reason);
    if (!log) {
      log = logger.child({
        sub: principal.sub,
        authMethod: principal.authMethod,
        keyId: principal.keyId,
        decision: 'allow',
        reason,
        cached,
        credentialKind,
        route: choice?.route.name,
        Decisions: 1,
        CacheHits: 1,
      });
      repeatLogs.set(reason, log);
    }
    // The directive stays out of the child's bindings: each line needs its own Timestamp.
    log[level]('allowed', { requestId }, ALLOW_DIRECTIVE);
    return memo.outcome;
  }

  return function authorize(event) {
    const extracted = extractCredential(event);
    if (!extracted.ok) return finish(event, reject(extracted.reason), 'none');
    const kind = classifyCredential(extracted.credential);
    const policy = kind === 'apiKey' ? deps.apiKeyPolicy : kind === 'jwt' ? deps.jwtPolicy : undefined;
    if (!policy) return finish(event, reject(kind === 'jwt' ? 'jwt_invalid_issuer' : 'malformed_credential'), kind);
    let result: PolicyResult | Promise<PolicyResult>;
    try {
      result = policy.evaluate(extracted.credential);
    } catch (error) {
      return finish(event, { kind: 'fail', reason: 'internal_error', error }, kind);
    }
    if (result instanceof Promise) {
      if (kind !== 'apiKey') {
        return result.then(
          (settled) => finish(event, settled, kind),
          (error: unknown) => finish(event, { kind: 'fail', reason: 'internal_error', error }, kind),
        );
      }
      // A key's answer is a promise only when it reads the table: the read is in flight (no callback has run yet),
      // so the time from here to the answer is the lookup's latency. Timed here, off the synchronous hot path.
      const startedMs = monotonicMs();
      return result.then(
        (settled) => finish(event, settled, kind, monotonicMs() - startedMs),
        (error: unknown) => finish(event, { kind: 'fail', reason: 'internal_error', error }, kind, monotonicMs() - startedMs),
      );
    }
    return finish(event, result, kind);
  };
}

const round2 = (ms: number): number => Math.round(ms * 100) / 100;

/** An event value for a log line: bounded, whatever a direct invoke sends. */
const clip = (value: unknown): string | undefined => (typeof value === 'string' ? value.slice(0, 200) : undefined);

function causeFields(error: unknown): Record<string, unknown> {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof Error ? { causeName: cause.name, causeMessage: cause.message.slice(0, 300) } : {};
}
