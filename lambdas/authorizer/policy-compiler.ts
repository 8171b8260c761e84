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
import { HTTP_METHODS, parseRoutePath, servingIndex, ROUTE_METHODS, RouteTableError, type HttpMethod, type CompiledRouteTable, type PathPart, type RouteRule } from '../shared/route-table';

export type { CompiledRouteTable } from '../shared/route-table';

export { servingRoute } from '../shared/route-table';

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

/** The methods a route answers: `ANY` is every verb, spelt out so that its IAM patterns stay anchored at the verb. */
export function routeMethods(route: Pick<RouteRule, 'method'>): readonly HttpMethod[] {
  return route.method === 'ANY' ? HTTP_METHODS : [route.method];
}

/**
 * `GET /keys/{id}` → [`GET/keys/*`]: the method ARN's resource part for each verb, path parameters as wildcards.
 * `ANY` becomes one resource per verb rather than `*`, because a leading `*` would also match every deeper path.
 */
export function routeResources(route: Pick<RouteRule, 'method' | 'path'>): string[] {
  const path = route.path.replace(/\{[^}/]+\}/g, '*');
  return routeMethods(route).map((method) => `${method}${path}`);
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

/** The request paths API Gateway sends for a route and verb: `{param}` is one non-empty segment, a greedy `{name+}` one or more. */
function requestTokens(method: HttpMethod, path: string): Token[] {
  const tokens: Token[] = [];
  for (const part of `${method}${path}`.split(/(\{[^}/]+\})/)) {
    if (part.endsWith('+}')) tokens.push({ chars: 'segment', repeat: false }, { chars: 'any', repeat: true });
    else if (part.startsWith('{')) tokens.push({ chars: 'segment', repeat: false }, { chars: 'segment', repeat: true });
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
 * Whether an IAM pattern matches at least one request path of `route` (a `{param}` never holds `/`, a greedy
 * `{name+}` may). A search over pairs of positions, so it decides exactly, without enumerating paths.
 */
export function patternReachesRoute(pattern: string, route: Pick<RouteRule, 'method' | 'path'>): boolean {
  return routeMethods(route).some((method) => patternReachesTokens(iamTokens(pattern), requestTokens(method, route.path)));
}

function patternReachesTokens(left: readonly Token[], right: readonly Token[]): boolean {
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

export class AmbiguousRouteTableError extends Error {
  override readonly name = 'AmbiguousRouteTableError';
}

export function routeAllowed(route: Pick<RouteRule, 'scopes'>, scopes: ReadonlySet<string>): boolean {
  return route.scopes.every((scope) => scopes.has(scope));
}

const describe = (route: Pick<RouteRule, 'method' | 'path'>) => `"${route.method} ${route.path}"`;

/** Refuse a table API Gateway would refuse to deploy, naming the routes. */
function assertDeployable(routes: readonly RouteRule[]): void {
  const seen = new Map<string, RouteRule>();
  const variableChild = new Map<string, { part: string; route: RouteRule }>();
  for (const route of routes) {
    if (!(ROUTE_METHODS as readonly string[]).includes(route.method)) throw new RouteTableError(`route ${describe(route)}: method must be one of ${ROUTE_METHODS.join(', ')}`);
    const parts = parseRoutePath(route.path);
    const key = `${route.method} ${route.path}`;
    const earlier = seen.get(key);
    if (earlier) throw new RouteTableError(`route ${describe(route)} is declared twice`);
    seen.set(key, route);
    // API Gateway allows one variable child ({name} or {name+}) per resource.
    let parent = '';
    for (const part of parts) {
      if (part.kind !== 'literal') {
        const spelt = part.kind === 'greedy' ? `{${part.name}+}` : `{${part.name}}`;
        const other = variableChild.get(parent);
        if (other && other.part !== spelt) {
          throw new RouteTableError(`routes ${describe(other.route)} and ${describe(route)} give ${parent || '/'} two variable children (${other.part}, ${spelt}); API Gateway allows one`);
        }
        variableChild.set(parent, { part: spelt, route });
        parent += `/${spelt}`;
      } else parent += `/${part.text}`;
    }
  }
}

/**
 * Validate a route table and compute what the authorizer needs (synth time). Throws RouteTableError for a table
 * API Gateway cannot deploy, and AmbiguousRouteTableError, naming the routes, for one whose policies IAM wildcards
 * cannot express exactly: routes `denied`, `allowed` and `cover` where `cover`'s pattern reaches `denied` (so
 * `denied` needs an explicit Deny), that Deny reaches `allowed`, and some scope set allows `allowed` and `cover`
 * but not `denied`.
 */
export function compileRouteTable(table: readonly RouteRule[]): CompiledRouteTable {
  assertDeployable(table);
  const routes = table.filter((route) => route.authorized !== false).map((route) => ({ method: route.method, path: route.path, scopes: [...route.scopes] }));
  const resources = routes.map(routeResources);
  const tokens = routes.map((route) => routeMethods(route).map((method) => requestTokens(method, route.path)));
  const parsed = routes.map((route) => ({ method: route.method, parts: parseRoutePath(route.path) }));
  // reaches[s][t]: does an IAM pattern of route s match a request that API Gateway serves with route t?
  const reaches = routes.map((_, source) =>
    routes.map((_, target) => {
      if (source === target) return true;
      return (resources[source] ?? []).some((pattern) => {
        // A pattern without wildcards is one literal path, served by exactly one route.
        if (!pattern.includes('*')) return servingRouteIndex(parsed, pattern) === target;
        const left = iamTokens(pattern);
        return (tokens[target] ?? []).some((right) => patternReachesTokens(left, right));
      });
    }),
  );
  const coveredBy = routes.map((_, target) => routes.map((_, source) => source).filter((source) => source !== target && reaches[source]?.[target]));
  for (const [denied, deniedRoute] of routes.entries()) {
    const covers = coveredBy[denied] ?? [];
    if (covers.length === 0) continue;
    for (const [allowed, allowedRoute] of routes.entries()) {
      if (allowed === denied || !reaches[denied]?.[allowed]) continue;
      for (const cover of covers) {
        const coverRoute = routes[cover] as RouteRule;
        if (!routeAllowed(deniedRoute, new Set([...allowedRoute.scopes, ...coverRoute.scopes]))) {
          throw new AmbiguousRouteTableError(
            `routes ${describe(deniedRoute)} and ${describe(allowedRoute)} overlap under IAM wildcards (a caller allowed ${describe(coverRoute)} ` +
              `must be denied ${describe(deniedRoute)}, and that Deny would also match ${describe(allowedRoute)}) but need different scopes; ` +
              'give them distinct path prefixes or the same scopes',
          );
        }
      }
    }
  }
  return { routes, coveredBy };
}

/** The route serving a literal method-ARN resource (`GET/files/public`). */
function servingRouteIndex(parsed: readonly { method: string; parts: readonly PathPart[] }[], resource: string): number {
  const slash = resource.indexOf('/');
  return servingIndex(parsed, resource.slice(0, slash), resource.slice(slash).split('/').slice(1));
}

export class PolicyCompiler {
  private readonly routes: readonly RouteRule[];
  private readonly coveredBy: readonly (readonly number[])[];
  private readonly resources: readonly string[][];
  private readonly relevantScopes: Set<string>;
  private readonly memo = new BoundedCache<string, PolicyDocument>(256);
  private readonly byScopesArray = new WeakMap<readonly string[], { stageArn: string; policy: PolicyDocument }>();

  /** From a table compileRouteTable produced (at synth, shipped as data): no expensive checks here, at cold start. */
  constructor(table: CompiledRouteTable) {
    this.routes = table.routes;
    this.coveredBy = table.coveredBy;
    this.resources = this.routes.map(routeResources);
    this.relevantScopes = new Set(this.routes.flatMap((route) => route.scopes));
  }

  /** Validate and compile a route table in one go (tests, local tools). */
  static fromRoutes(routes: readonly RouteRule[]): PolicyCompiler {
    return new PolicyCompiler(compileRouteTable(routes));
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
    const allowed = this.routes.map((route) => routeAllowed(route, scopes));
    const statements: PolicyStatement[] = [];
    if (allowed.length > 0 && allowed.every(Boolean)) {
      // Every route: one resource keeps the policy small. Paths outside the table never reach the authorizer.
      statements.push({ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: [`${stageArn}/*`] });
      return deepFreeze({ Version: '2012-10-17', Statement: statements });
    }
    const allow = new Set<string>();
    const deny = new Set<string>();
    for (const [index, isAllowed] of allowed.entries()) {
      const resources = this.resources[index] ?? [];
      if (isAllowed) for (const resource of resources) allow.add(resource);
      // A denied route needs an explicit Deny only if some allowed pattern also matches one of its requests.
      else if ((this.coveredBy[index] ?? []).some((cover) => allowed[cover])) {
        for (const resource of resources) {
          deny.add(resource);
          // Should API Gateway route `/admin/` to `/admin` with the slash kept in the method ARN, the Deny must cover
          // that spelling too (an Allow such as `GET/*` would match it).
          if (!resource.endsWith('*')) deny.add(`${resource}/`);
        }
      }
    }
    if (allow.size > 0) statements.push({ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: [...allow].map((resource) => `${stageArn}/${resource}`) });
    if (allow.size === 0) statements.push({ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: [`${stageArn}/*`] });
    else if (deny.size > 0) statements.push({ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: [...deny].map((resource) => `${stageArn}/${resource}`) });
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
