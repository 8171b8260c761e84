/**
 * The authorizer as a plain function of its dependencies: credential extraction → the one credential check
 * that may judge that credential's shape → a decision on the route (route-policy.ts, the default) or one policy
 * for every route (policy-compiler.ts, the `credential` cache scope) → IAM policy + context. The Lambda
 * handler (handler.ts) and local mode both run this, so local mode runs exactly the code that runs in AWS.
 *
 * Answers that are in memory (cached keys and tokens, offline rejections) are returned synchronously;
 * only a table read or a JWKS fetch makes the result a promise.
 */
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { ALLOW_DIRECTIVE, ALLOW_WITH_LOOKUP_DIRECTIVE, DECISION_DIRECTIVE, DECISION_WITH_LOOKUP_DIRECTIVE } from '../shared/emf';
import { errorFields, type LogFields, type Logger } from '../shared/logger';
import { toAuthorizerContext, type AuthorizerContext, type Principal } from '../core/principal';
import { classifyCredential, type CredentialKind } from './classify';
import { extractCredential } from './credential';
import { reject, type CredentialCheck, type CheckResult, type FailureReason, type RejectReason, type AllowReason } from './decision';
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
  apiKeyCheck: CredentialCheck;
  /** Absent when no JWT issuer is configured: every JWT is then rejected. */
  jwtCheck?: CredentialCheck;
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

/** What the authorizer keeps per principal: its answers for one stage and usage identifier. */
interface PrincipalMemo {
  stageArn: string;
  usageKey: string | undefined;
  /** The credential scope's one answer for every route. */
  all?: Decided;
  /** The route scope's answers, by `<verb> <route>`: bounded by the table's routes and verbs. */
  byRoute?: Map<string, Decided>;
}

/** One answer for a principal (and, in the route scope, one route and verb). */
interface Decided {
  outcome: AuthorizerOutcome;
  /**
   * The log line of a repeat allow from memory, with everything but the request id serialised once
   * (`npm run bench -- --only micro`: without it a cached key's decision took about 15 % longer, a repeat JWT's 60–80 %).
   */
  repeatLog?: Logger;
}

/** The route the event names, looked up (route scope only). */
interface RouteChoice {
  verb: HttpMethod;
  route: BoundRoute;
  key: string;
}

type Authenticated = Extract<CheckResult, { kind: 'principal' }>;

export type Authorize = (event: AuthorizerEvent) => AuthorizerOutcome | Promise<AuthorizerOutcome>;

// Literal metric names below (cheaper than computed ones on the hot path); they must equal AUTHORIZER_METRICS'
// names, which test/authorizer/metrics.test.ts checks on real lines.

const UNAUTHORIZED: AuthorizerOutcome = Object.freeze({ effect: 'unauthorized' });
/** Route scope: how many routes' answers the authorizer keeps per principal. */
export const MAX_ROUTES_MEMOISED_PER_PRINCIPAL = 64;
const FAIL: AuthorizerOutcome = Object.freeze({ effect: 'fail' });

export function createAuthorizer(deps: AuthorizerDeps): Authorize {
  const { logger } = deps;
  const monotonicMs = deps.monotonicMs ?? (() => performance.now());
  // The checks hand back the same frozen principal for a cached key or token, so its answers can be kept beside
  // it; weakly, so they go when the check's cache drops the principal.
  const memos = new WeakMap<Principal, PrincipalMemo>();

  /**
   * Offline rejections (junk, bad checksums, bad tokens) can come in floods, so each kind and reason's line is
   * serialised once (`npm run bench -- --only micro`: a bad checksum's decision costs about 50 % more without it).
   * Bounded: 4 credential kinds × the reason codes.
   */
  const rejectionLogs = new Map<CredentialKind | 'none', Map<RejectReason, Logger>>();
  function rejectionLog(credentialKind: CredentialKind | 'none', reason: RejectReason): Logger {
    let byReason = rejectionLogs.get(credentialKind);
    if (!byReason) {
      byReason = new Map();
      rejectionLogs.set(credentialKind, byReason);
    }
    let log = byReason.get(reason);
    if (!log) {
      log = logger.child({ decision: 'unauthorized', reason, credentialKind, Decisions: 1 });
      byReason.set(reason, log);
    }
    return log;
  }

  /**
   * A container serves one API and nearly always one stage, so the methodArn's stage is parsed once per stage
   * rather than per decision (measured on 2026-12-03: a repeat decision takes about 10 % longer without it).
   */
  let lastStage = { prefix: '', arn: '' };
  function stageArnOf(methodArn: string): string | undefined {
    if (lastStage.arn !== '' && methodArn.startsWith(lastStage.prefix)) return lastStage.arn;
    const stageArn = apiStageArn(methodArn);
    if (stageArn) lastStage = { prefix: `${stageArn}/`, arn: stageArn };
    return stageArn;
  }

  /** The principal's memo for this stage and usage identifier, replaced when either changes. */
  function memoFor(principal: Principal, stageArn: string, usageKey: string | undefined): PrincipalMemo {
    const memo = memos.get(principal);
    if (memo && memo.stageArn === stageArn && memo.usageKey === usageKey) return memo;
    const fresh: PrincipalMemo = { stageArn, usageKey };
    memos.set(principal, fresh);
    return fresh;
  }

  /** The answer for a principal (and route), built once and kept in the principal's memo. */
  function decidedFor(
    principal: Principal,
    stageArn: string,
    usageKey: string | undefined,
    choice: RouteChoice | undefined,
    effect: 'allow' | 'deny',
  ): Decided {
    const memo = memoFor(principal, stageArn, usageKey);
    const known = choice ? memo.byRoute?.get(choice.key) : memo.all;
    if (known) return known;
    const routes = deps.routes;
    const policyDocument =
      routes.cacheScope === 'credential'
        ? routes.compiler.compile(stageArn, principal.scopes)
        : routes.table.policy(stageArn, choice?.verb, choice?.route, effect === 'allow' ? 'Allow' : 'Deny');
    // Shared by every request of this principal: callers must treat it as read-only (the policy itself is frozen).
    const response: AuthorizerResponse = {
      principalId: principal.sub,
      policyDocument,
      context: toAuthorizerContext(principal),
      ...(usageKey !== undefined ? { usageIdentifierKey: usageKey } : {}),
    };
    const decided: Decided = { outcome: { effect, response } };
    if (!choice) {
      memo.all = decided;
      return decided;
    }
    // Bounded per principal, so that many principals on many routes cannot grow memory without limit; past the
    // bound the answer is rebuilt per request (its policy document is still shared, from the table's memo).
    memo.byRoute ??= new Map();
    if (memo.byRoute.size < MAX_ROUTES_MEMOISED_PER_PRINCIPAL) memo.byRoute.set(choice.key, decided);
    return decided;
  }

  /** Route scope: the route the event names, or why there is none to allow. */
  function chooseRoute(event: AuthorizerEvent, table: RouteBoundTable): RouteChoice | undefined {
    const verb = event.httpMethod ?? event.requestContext?.httpMethod;
    const route = table.lookup(verb, event.resource ?? event.requestContext?.resourcePath);
    return route ? { verb: verb as HttpMethod, route, key: route.memoKeys.get(verb as string) as string } : undefined;
  }

  /**
   * Turn a check's verdict into the outcome, logging one line with a reason code and never the credential.
   * That line is also the decision's metric (EMF): `Decisions` by decision and by decision, credential kind and
   * reason; `CacheHits` on allows; `KeyLookupLatency` when the key table was read. keyId and sub are properties only.
   * `kind` is bounded: apiKey, jwt, unknown (neither shape) or none (no credential).
   */
  function finish(
    event: AuthorizerEvent,
    result: CheckResult,
    kind: CredentialKind | 'none',
    keyLookupMs?: number,
  ): AuthorizerOutcome | Promise<AuthorizerOutcome> {
    const lookup = keyLookupMs === undefined ? undefined : round2(keyLookupMs);
    if (result.kind === 'reject') return unauthorized(event, result.reason, kind, lookup);
    if (result.kind === 'fail')
      return failClosed(event, result.reason, { ...errorFields(result.error), ...causeFields(result.error) }, kind, lookup);
    return authorizePrincipal(event, result, kind, lookup);
  }

  /** No valid credential: `Unauthorized`, API Gateway's 401. */
  function unauthorized(
    event: AuthorizerEvent,
    reason: RejectReason,
    credentialKind: CredentialKind | 'none',
    lookup: number | undefined,
  ): AuthorizerOutcome {
    const requestId = event.requestContext?.requestId;
    if (lookup === undefined) rejectionLog(credentialKind, reason).info('denied', { requestId }, DECISION_DIRECTIVE);
    else {
      const fields = { decision: 'unauthorized', reason, credentialKind, requestId, Decisions: 1, KeyLookupLatency: lookup };
      logger.info('denied', fields, DECISION_WITH_LOOKUP_DIRECTIVE);
    }
    return UNAUTHORIZED;
  }

  /** An infrastructure failure or a bug: fail closed, API Gateway's AUTHORIZER_FAILURE (503). */
  function failClosed(
    event: AuthorizerEvent,
    reason: FailureReason,
    details: LogFields,
    credentialKind: CredentialKind | 'none',
    lookup: number | undefined,
  ): AuthorizerOutcome {
    logger.error(
      'failed closed',
      {
        decision: 'fail',
        reason,
        credentialKind,
        requestId: event.requestContext?.requestId,
        ...details,
        Decisions: 1,
        KeyLookupLatency: lookup,
      },
      lookup === undefined ? DECISION_DIRECTIVE : DECISION_WITH_LOOKUP_DIRECTIVE,
    );
    return FAIL;
  }

  /** A valid credential: the stage, then the route (route scope), then the usage identifier (plans), then Allow. */
  function authorizePrincipal(
    event: AuthorizerEvent,
    result: Authenticated,
    credentialKind: CredentialKind | 'none',
    lookup: number | undefined,
  ): AuthorizerOutcome | Promise<AuthorizerOutcome> {
    const stageArn = stageArnOf(event.methodArn ?? '');
    if (!stageArn) return failClosed(event, 'internal_error', { detail: 'unrecognised methodArn' }, credentialKind, undefined);
    let choice: RouteChoice | undefined;
    if (deps.routes.cacheScope === 'route') {
      choice = chooseRoute(event, deps.routes.table);
      if (!choice) return deny(event, result, stageArn, undefined, 'unknown_route', credentialKind, lookup);
      // A denied route needs no usage identifier: API Gateway answers 403 before counting the request.
      if (!holdsRouteScopes(choice.route, result.principal.scopes))
        return deny(event, result, stageArn, choice, 'missing_scope', credentialKind, lookup);
    }
    const usage = deps.usageIdentifiers;
    if (!usage) return allow(event, result, stageArn, undefined, choice, credentialKind, lookup);
    // With plans, a method requires the identifier (API Gateway answers 403 without one): no read, no allow.
    let usageKey: string | Promise<string>;
    try {
      usageKey = usage.identifierFor(result.principal.sub);
    } catch (error) {
      return failClosed(event, 'key_store_unavailable', { ...errorFields(error), ...causeFields(error) }, credentialKind, undefined);
    }
    if (typeof usageKey === 'string') return allow(event, result, stageArn, usageKey, choice, credentialKind, lookup);
    return usageKey.then(
      (key) => allow(event, result, stageArn, key, choice, credentialKind, lookup),
      (error: unknown) =>
        failClosed(event, 'key_store_unavailable', { ...errorFields(error), ...causeFields(error) }, credentialKind, undefined),
    );
  }

  /** A Deny of the route: logged with its reason and counted; the identity stays in the context (API Gateway's 403). */
  function deny(
    event: AuthorizerEvent,
    result: Authenticated,
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
      ...(choice
        ? {}
        : {
            httpMethod: clip(event.httpMethod ?? event.requestContext?.httpMethod),
            resource: clip(event.resource ?? event.requestContext?.resourcePath),
          }),
      requestId: event.requestContext?.requestId,
      Decisions: 1,
      KeyLookupLatency: lookup,
    };
    // A route the table does not know means the deployed API and its table disagree: worth a warning.
    logger[choice ? 'info' : 'warn']('denied', fields, lookup === undefined ? DECISION_DIRECTIVE : DECISION_WITH_LOOKUP_DIRECTIVE);
    if (!choice) {
      const routes = deps.routes as Extract<RouteAuthorization, { cacheScope: 'route' }>;
      return {
        effect: 'deny',
        response: {
          principalId: principal.sub,
          policyDocument: routes.table.policy(stageArn, undefined, undefined, 'Deny'),
          context: toAuthorizerContext(principal),
        },
      };
    }
    return decidedFor(principal, stageArn, undefined, choice, 'deny').outcome;
  }

  function allow(
    event: AuthorizerEvent,
    result: Authenticated,
    stageArn: string,
    usageKey: string | undefined,
    choice: RouteChoice | undefined,
    credentialKind: CredentialKind | 'none',
    lookup: number | undefined,
  ): AuthorizerOutcome {
    const { principal, reason, cached } = result;
    const decided = decidedFor(principal, stageArn, usageKey, choice, 'allow');
    const requestId = event.requestContext?.requestId;
    if (cached && lookup === undefined && reason !== 'key_valid_stale') {
      // A repeat from memory: its reason is the principal's kind's one valid reason, so the line is the same every time.
      // The directive stays out of the child's bindings: each line needs its own Timestamp.
      decided.repeatLog ??= logger.child({
        ...allowedIdentity(principal, reason, cached, credentialKind, choice),
        Decisions: 1,
        CacheHits: 1,
      });
      decided.repeatLog.info('allowed', { requestId }, ALLOW_DIRECTIVE);
    } else {
      const identity = allowedIdentity(principal, reason, cached, credentialKind, choice);
      const fields = { ...identity, requestId, Decisions: 1, CacheHits: cached ? 1 : 0, KeyLookupLatency: lookup };
      logger[reason === 'key_valid_stale' ? 'warn' : 'info'](
        'allowed',
        fields,
        lookup === undefined ? ALLOW_DIRECTIVE : ALLOW_WITH_LOOKUP_DIRECTIVE,
      );
    }
    return decided.outcome;
  }

  return function authorize(event) {
    const extracted = extractCredential(event);
    if (!extracted.ok) return finish(event, reject(extracted.reason), 'none');
    const kind = classifyCredential(extracted.credential);
    const check = kind === 'apiKey' ? deps.apiKeyCheck : kind === 'jwt' ? deps.jwtCheck : undefined;
    if (!check) return finish(event, reject(kind === 'jwt' ? 'jwt_invalid_issuer' : 'malformed_credential'), kind);
    let result: CheckResult | Promise<CheckResult>;
    try {
      result = check.evaluate(extracted.credential);
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

/** The fixed part of an allow's log line. */
function allowedIdentity(
  principal: Principal,
  reason: AllowReason,
  cached: boolean,
  credentialKind: CredentialKind | 'none',
  choice: RouteChoice | undefined,
): LogFields {
  const { sub, authMethod, keyId } = principal;
  return { sub, authMethod, keyId, decision: 'allow', reason, cached, credentialKind, route: choice?.route.name };
}

const round2 = (ms: number): number => Math.round(ms * 100) / 100;

/** An event value for a log line: bounded, whatever a direct invoke sends. */
const clip = (value: unknown): string | undefined => (typeof value === 'string' ? value.slice(0, 200) : undefined);

function causeFields(error: unknown): Record<string, unknown> {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof Error ? { causeName: cause.name, causeMessage: cause.message.slice(0, 300) } : {};
}
