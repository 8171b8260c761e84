/**
 * Compile a principal's scopes and the route table into the IAM policy the authorizer returns.
 *
 * API Gateway caches this policy per `Authorization` value and reuses it for every route, so it must
 * cover all routes, never just `event.methodArn`. It allows exactly the routes whose required scopes the
 * principal holds; the rest fall to an implicit deny (403). IAM's `*` also matches `/`, so when an
 * allowed route's wildcard would cover a denied route's path, that route gets an explicit Deny (Deny wins).
 */
import { BoundedCache } from '../shared/bounded-cache';
import type { Route } from '../../lib/routes';

export interface PolicyStatement {
  Action: 'execute-api:Invoke';
  Effect: 'Allow' | 'Deny';
  Resource: string[];
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>` from a method ARN, or undefined if it is not one. */
export function apiStageArn(methodArn: string): string | undefined {
  const match = /^(arn:[a-z-]+:execute-api:[a-z0-9-]+:[0-9]+):([A-Za-z0-9]+)\/([A-Za-z0-9_-]+)\//.exec(methodArn);
  return match ? `${match[1]}:${match[2]}/${match[3]}` : undefined;
}

/** `GET /keys/{id}` → `GET/keys/*`: the method ARN's resource part, with path parameters as wildcards. */
export function routeResource(route: Pick<Route, 'method' | 'path'>): string {
  return `${route.method}${route.path.replace(/\{[^}/]+\}/g, '*')}`;
}

/** IAM's ARN matching: `*` any run of characters (including `/`), `?` any one character. */
export function iamPatternMatches(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let starP = -1;
  let starV = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starV = v;
    } else if (p < pattern.length && (pattern[p] === '?' || pattern[p] === value[v])) {
      p++;
      v++;
    } else if (starP >= 0) {
      p = starP + 1;
      v = ++starV;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

export function routeAllowed(route: Pick<Route, 'scopes'>, scopes: ReadonlySet<string>): boolean {
  return route.scopes.every((scope) => scopes.has(scope));
}

export class PolicyCompiler {
  private readonly routes: readonly Route[];
  private readonly relevantScopes: Set<string>;
  private readonly memo = new BoundedCache<string, PolicyDocument>(256);

  constructor(routes: readonly Route[]) {
    this.routes = routes.filter((route) => route.authorized !== false);
    this.relevantScopes = new Set(this.routes.flatMap((route) => route.scopes));
  }

  /** Memoised per API stage and per set of scopes the route table cares about; the result is frozen and shared. */
  compile(stageArn: string, scopes: readonly string[]): PolicyDocument {
    const relevant = scopes.filter((scope) => this.relevantScopes.has(scope));
    const memoKey = `${stageArn} ${relevant.join(' ')}`;
    const memoised = this.memo.get(memoKey);
    if (memoised) return memoised;
    const policy = this.build(stageArn, new Set(relevant));
    this.memo.set(memoKey, policy, Number.POSITIVE_INFINITY);
    return policy;
  }

  private build(stageArn: string, scopes: ReadonlySet<string>): PolicyDocument {
    const allowed: string[] = [];
    const denied: string[] = [];
    for (const route of this.routes) (routeAllowed(route, scopes) ? allowed : denied).push(routeResource(route));
    const allowedSet = [...new Set(allowed)];
    // A denied route needs an explicit Deny only if some allowed pattern would also match its path.
    const mustDeny = [...new Set(denied)].filter((resource) => allowedSet.some((pattern) => iamPatternMatches(pattern, resource)));
    const statements: PolicyStatement[] = [];
    if (allowedSet.length > 0) {
      statements.push({ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: allowedSet.map((resource) => `${stageArn}/${resource}`) });
    }
    if (mustDeny.length > 0 || allowedSet.length === 0) {
      const resources = allowedSet.length === 0 ? ['*'] : mustDeny;
      statements.push({ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: resources.map((resource) => (resource === '*' ? `${stageArn}/*` : `${stageArn}/${resource}`)) });
    }
    return deepFreeze({ Version: '2012-10-17', Statement: statements });
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
