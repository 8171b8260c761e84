/**
 * The `route` cache scope (the default): decide on the route API Gateway selected, never on a re-derivation of its
 * routing. A REQUEST authorizer's event names that route: `resource` (`requestContext.resourcePath`) is its
 * template, `httpMethod` the verb. Look it up in the app's table, the exact verb first, then `ANY` on the same
 * resource, and allow only if the principal holds every scope the route requires. A route missing from the table
 * is denied (`unknown_route`), never allowed.
 *
 * The authorizer's identity sources include `context.resourceId` and `context.httpMethod` (lib/construct/authorizer.ts, authorizerIdentitySources),
 * so API Gateway caches one answer per credential and route and never reuses it for another route. The policy's
 * resource is still the route's own method ARN pattern, as defence in depth.
 */
import { BoundedCache } from '../core/bounded-cache';
import { HTTP_METHODS, type HttpMethod, type RouteRule } from '../core/route-table';
import { deepFreeze, type PolicyDocument } from '../core/policy-compiler';

export type RouteDenyReason = 'unknown_route' | 'missing_scope';

/** One route of the table, as the authorizer looks it up. */
export interface BoundRoute {
  readonly rule: RouteRule;
  /** `GET /orders/{id}`, as declared (for logs). */
  readonly name: string;
  /** The method ARN's path for the route: each parameter, greedy or not, a wildcard. */
  readonly arnPath: string;
  /** Per verb the route serves, the key its answers are memoised under (`GET /me`; `PUT ANY /orders/{id}`). */
  readonly memoKeys: ReadonlyMap<string, string>;
}

const VERBS: ReadonlySet<string> = new Set(HTTP_METHODS);

function boundRoute(rule: RouteRule): BoundRoute {
  const name = `${rule.method} ${rule.path}`;
  // Built once per route: a key made per request would cost a string and its hash on every decision.
  const memoKeys = new Map(rule.method === 'ANY' ? HTTP_METHODS.map((verb) => [verb, `${verb} ${name}`]) : [[rule.method, name]]);
  return { rule, name, arnPath: rule.path.replace(/\{[^}/]+\}/g, '*'), memoKeys };
}

export class RouteBoundTable {
  /** By resource template, then method: the rule, and its `BoundRoute` once a request has named it. */
  private readonly byResource = new Map<string, Map<string, { readonly rule: RouteRule; bound?: BoundRoute }>>();
  private readonly policies = new BoundedCache<string, PolicyDocument>(4096);

  /**
   * Indexes the rules only: a route's names and keys are built the first time a request names it, so a cold start
   * with a 1,000-route table does not build 1,000 routes' strings it may never use (docs/large-apis.md, Figures).
   */
  constructor(routes: readonly RouteRule[]) {
    for (const rule of routes) {
      let methods = this.byResource.get(rule.path);
      if (!methods) {
        methods = new Map();
        this.byResource.set(rule.path, methods);
      }
      methods.set(rule.method, { rule });
    }
  }

  /** The route API Gateway selected for this verb and resource template: the exact verb, else `ANY`, else none. */
  lookup(httpMethod: string | undefined, resource: string | undefined): BoundRoute | undefined {
    if (httpMethod === undefined || resource === undefined) return undefined;
    const methods = this.byResource.get(resource);
    if (!methods) return undefined;
    // Only a real verb falls back to ANY (a method named `ANY` or `BREW` is no request API Gateway routes).
    const entry = (httpMethod !== 'ANY' ? methods.get(httpMethod) : undefined) ?? (VERBS.has(httpMethod) ? methods.get('ANY') : undefined);
    if (!entry) return undefined;
    entry.bound ??= boundRoute(entry.rule);
    return entry.bound;
  }

  /**
   * Allow or Deny of this route for this verb in this stage, on the route's own method ARN pattern only; frozen and
   * shared. An unknown route's Deny covers the whole stage (API Gateway caches it for that route alone).
   */
  policy(stageArn: string, verb: HttpMethod | undefined, route: BoundRoute | undefined, effect: 'Allow' | 'Deny'): PolicyDocument {
    const resource = route && verb ? `${stageArn}/${verb}${route.arnPath}` : `${stageArn}/*`;
    const memoKey = `${effect} ${resource}`;
    let policy = this.policies.get(memoKey);
    if (!policy) {
      policy = deepFreeze({ Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: [resource] }] });
      this.policies.set(memoKey, policy, Number.POSITIVE_INFINITY);
    }
    return policy;
  }
}

/** Whether a principal holding `scopes` may use the route. */
export function holdsRouteScopes(route: BoundRoute, scopes: readonly string[]): boolean {
  return route.rule.scopes.every((scope) => scopes.includes(scope));
}
