/**
 * Compile a principal's scopes and the route table into the IAM policy the authorizer returns.
 *
 * API Gateway caches this policy per `Authorization` value and reuses it for every route, so it must
 * cover all routes, never just `event.methodArn`. It allows exactly the routes whose required scopes the
 * principal holds; the rest fall to an implicit deny (403). IAM's `*` also matches `/`, so when an
 * allowed route's wildcard could cover a denied route's path, that route gets an explicit Deny (Deny wins).
 * A route table where such a Deny could in turn cover an allowed route cannot be expressed exactly; the
 * compiler refuses it at construction (the CDK construct builds one at synth) rather than return a wrong
 * policy. Literal paths are routed before `{param}` siblings, so a literal route never counts as covered.
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

/** One position of a pattern: a character class, possibly repeated (`*`). */
interface Token {
  chars: 'any' | 'segment' | string;
  repeat: boolean;
}

/** IAM's `*` is any run of characters, `?` any one character. */
function iamTokens(pattern: string): Token[] {
  return [...pattern].map((char) => (char === '*' ? { chars: 'any', repeat: true } : char === '?' ? { chars: 'any', repeat: false } : { chars: char, repeat: false }));
}

/** The paths API Gateway sends for a route: each `{param}` is one non-empty segment without `/`. */
function requestTokens(route: Pick<Route, 'method' | 'path'>): Token[] {
  const tokens: Token[] = [];
  for (const part of `${route.method}${route.path}`.split(/(\{[^}/]+\})/)) {
    if (part.startsWith('{')) tokens.push({ chars: 'segment', repeat: false }, { chars: 'segment', repeat: true });
    else for (const char of part) tokens.push({ chars: char, repeat: false });
  }
  return tokens;
}

function classesMeet(left: Token['chars'], right: Token['chars']): boolean {
  if (left === 'any' || right === 'any') return true;
  if (left === 'segment') return right !== '/';
  if (right === 'segment') return left !== '/';
  return left === right;
}

/**
 * Whether an IAM pattern matches at least one request path of `route` (path parameters never hold `/`).
 * A search over pairs of positions, so it decides exactly, without enumerating paths.
 */
export function patternReachesRoute(pattern: string, route: Pick<Route, 'method' | 'path'>): boolean {
  const left = iamTokens(pattern);
  const right = requestTokens(route);
  const width = right.length + 1;
  const seen = new Set<number>();
  const visit = (i: number, j: number): boolean => {
    if (i === left.length && j === right.length) return true;
    const state = i * width + j;
    if (seen.has(state)) return false;
    seen.add(state);
    const a = left[i];
    const b = right[j];
    if (a?.repeat && visit(i + 1, j)) return true;
    if (b?.repeat && visit(i, j + 1)) return true;
    if (a && b && classesMeet(a.chars, b.chars)) return visit(a.repeat ? i : i + 1, b.repeat ? j : j + 1);
    return false;
  };
  return visit(0, 0);
}

/**
 * The route API Gateway serves a concrete path with: same method and segment count, and among those the
 * most specific (a literal segment beats a `{param}`, compared left to right).
 */
export function servingRoute(routes: readonly Route[], method: string, path: string): Route | undefined {
  const segments = path.split('/').slice(1);
  let best: Route | undefined;
  let bestRank = '';
  for (const route of routes) {
    const template = route.path.split('/').slice(1);
    if (route.method !== method || template.length !== segments.length) continue;
    if (!template.every((part, index) => part.startsWith('{') || part === segments[index])) continue;
    const rank = template.map((part) => (part.startsWith('{') ? '0' : '1')).join('');
    if (best === undefined || rank > bestRank) {
      best = route;
      bestRank = rank;
    }
  }
  return best;
}

/** Whether `source`'s IAM pattern matches a request API Gateway would route to `target`. */
function reaches(source: Route, target: Route, routes: readonly Route[]): boolean {
  const pattern = routeResource(source);
  // A pattern without wildcards is one literal path, served by exactly one route.
  if (!pattern.includes('*')) return servingRoute(routes, source.method, source.path) === target;
  return patternReachesRoute(pattern, target);
}

export class AmbiguousRouteTableError extends Error {
  override readonly name = 'AmbiguousRouteTableError';
}

export function routeAllowed(route: Pick<Route, 'scopes'>, scopes: ReadonlySet<string>): boolean {
  return route.scopes.every((scope) => scopes.has(scope));
}

export class PolicyCompiler {
  private readonly routes: readonly Route[];
  private readonly relevantScopes: Set<string>;
  private readonly memo = new BoundedCache<string, PolicyDocument>(256);
  private readonly byScopesArray = new WeakMap<readonly string[], { stageArn: string; policy: PolicyDocument }>();

  constructor(routes: readonly Route[]) {
    this.routes = routes.filter((route) => route.authorized !== false);
    this.relevantScopes = new Set(this.routes.flatMap((route) => route.scopes));
    assertExpressible(this.routes);
  }

  /** Memoised per API stage and per set of scopes the route table cares about; the result is frozen and shared. */
  compile(stageArn: string, scopes: readonly string[]): PolicyDocument {
    // Principals from one key or one client share a frozen scopes array: remember its policy on it.
    const bySameArray = this.byScopesArray.get(scopes);
    if (bySameArray && bySameArray.stageArn === stageArn) return bySameArray.policy;
    const policy = this.compileFor(stageArn, scopes);
    if (Object.isFrozen(scopes)) this.byScopesArray.set(scopes, { stageArn, policy });
    return policy;
  }

  private compileFor(stageArn: string, scopes: readonly string[]): PolicyDocument {
    const relevant = scopes.filter((scope) => this.relevantScopes.has(scope));
    const memoKey = `${stageArn} ${relevant.join(' ')}`;
    const memoised = this.memo.get(memoKey);
    if (memoised) return memoised;
    const policy = this.build(stageArn, new Set(relevant));
    this.memo.set(memoKey, policy, Number.POSITIVE_INFINITY);
    return policy;
  }

  private build(stageArn: string, scopes: ReadonlySet<string>): PolicyDocument {
    const allowed: Route[] = [];
    const denied: Route[] = [];
    for (const route of this.routes) (routeAllowed(route, scopes) ? allowed : denied).push(route);
    const allowedSet = [...new Set(allowed.map(routeResource))];
    // A denied route needs an explicit Deny only if some allowed pattern also matches one of its request paths.
    const mustDeny = [...new Set(denied.filter((route) => allowed.some((cover) => reaches(cover, route, this.routes))).map(routeResource))];
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

/**
 * Refuse a route table whose policies IAM wildcards cannot express: routes `denied`, `allowed` and `cover`
 * where `cover`'s pattern reaches `denied` (so `denied` would need an explicit Deny), that Deny would reach
 * `allowed`, and some scope set allows `allowed` and `cover` but not `denied`.
 */
function assertExpressible(routes: readonly Route[]): void {
  for (const denied of routes) {
    for (const allowed of routes) {
      if (allowed === denied || !reaches(denied, allowed, routes)) continue;
      for (const cover of routes) {
        if (cover === denied || !reaches(cover, denied, routes)) continue;
        if (!routeAllowed(denied, new Set([...allowed.scopes, ...cover.scopes]))) {
          throw new AmbiguousRouteTableError(
            `routes "${denied.method} ${denied.path}" and "${allowed.method} ${allowed.path}" overlap under IAM wildcards but need different scopes; ` +
              'give them distinct path prefixes or the same scopes',
          );
        }
      }
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
