/**
 * The `credential` cache scope (opt-in): compile a principal's scopes and the route table into one IAM policy that
 * API Gateway caches per `Authorization` value and reuses for every route, so it must decide every route by IAM
 * wildcards over the method ARN. (The default `route` scope needs none of this: route-policy.ts.)
 *
 * The policy allows exactly the routes whose scopes the principal holds; the rest fall to an implicit deny (403).
 * IAM's `*` also matches `/` and the empty string, so where an allowed route's pattern could match a request that
 * API Gateway serves with a denied route, that route gets an explicit Deny (Deny wins). "Could match" is judged
 * over every spelling API Gateway might put in the method ARN, since AWS does not document it:
 * - the path as sent or percent-decoded (a decoded `%2F` inside a parameter becomes a `/`; an encoded literal
 *   such as `%61dmin` is routed as `admin` but may stay encoded in the ARN);
 * - with or without the one trailing slash API Gateway ignores when routing (a slash of the path as sent: an encoded
 *   `%2F` ending the last segment is part of that segment, never a trailing slash to drop).
 * The Deny covers those spellings too: the route's own patterns, their trailing-slash forms, and for each literal
 * segment the patterns of its percent-encoded spellings (`…/a%*` for a literal starting with `a`).
 * Where such a Deny would also match a plainly spelt request of a route the same caller may use, one policy cannot
 * decide both: the compiler refuses the table at synth, naming the routes, rather than return a wrong policy.
 * ANY stands for the verbs its resource does not declare itself (API Gateway serves `GET /x` with `GET`, never `ANY`).
 */
import { BoundedCache } from './bounded-cache';
import {
  HTTP_METHODS,
  parseRoutePath,
  servingIndex,
  type AuthorizerCacheScope,
  type HttpMethod,
  type CompiledRouteTable,
  type PathPart,
  type RouteRule,
} from './route-table';
import { assertRouteTable } from './route-validation';

export type { CompiledRouteTable } from './route-table';

interface PolicyStatement {
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

/**
 * The verbs a route is served for: a verb route its own; `ANY` every verb its resource does not declare itself,
 * since API Gateway serves a declared verb with that method and never with `ANY`.
 */
function servedMethods(
  route: Pick<RouteRule, 'method' | 'path'>,
  table: readonly Pick<RouteRule, 'method' | 'path'>[] = [route],
): readonly HttpMethod[] {
  if (route.method !== 'ANY') return [route.method];
  const declared = new Set<string>(
    table.filter((other) => other.path === route.path && other.method !== 'ANY').map((other) => other.method),
  );
  return HTTP_METHODS.filter((method) => !declared.has(method));
}

/** The method ARN's path for a route: each parameter, greedy or not, a wildcard. */
const pathPattern = (path: string): string => path.replace(/\{[^}/]+\}/g, '*');

/**
 * `GET /keys/{id}` → [`GET/keys/*`]: the method ARN's resource part for each verb the route is served for.
 * `ANY` becomes one resource per verb rather than `*`, because a leading `*` would also match every deeper path.
 */
export function routeResources(route: Pick<RouteRule, 'method' | 'path'>, table?: readonly Pick<RouteRule, 'method' | 'path'>[]): string[] {
  const path = pathPattern(route.path);
  return servedMethods(route, table).map((method) => `${method}${path}`);
}

/**
 * What a Deny of a route must match: its resources, their trailing-slash spellings, and every percent-encoded
 * spelling of its literal segments (the literal's first j characters, then `%`, then anything: a superset of the
 * encodings of that literal, which needs no `?`). Requests whose path holds a `%` may be denied by it; no plainly
 * spelt request of another route is.
 */
function denyResources(route: Pick<RouteRule, 'method' | 'path'>, table?: readonly Pick<RouteRule, 'method' | 'path'>[]): string[] {
  const parts = templateParts(route.path);
  const resources = new Set<string>();
  for (const resource of routeResources(route, table)) {
    resources.add(resource);
    // The trailing-slash spelling; for the root (`GET/`), the doubled slash `GET//` that is routed to it.
    if (!resource.endsWith('*')) resources.add(`${resource}/`);
    let prefix = resource.slice(0, resource.indexOf('/'));
    for (const part of parts) {
      if (part.kind === 'literal') {
        for (let length = 0; length < part.text.length; length++) resources.add(`${prefix}/${part.text.slice(0, length)}%*`);
        prefix += `/${part.text}`;
      } else prefix += '/*';
    }
  }
  return [...resources];
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

const ANY_ONE: Token = { chars: 'any', repeat: false };
const ANY_RUN: Token = { chars: 'any', repeat: true };
const SEGMENT_ONE: Token = { chars: 'segment', repeat: false };
const SEGMENT_RUN: Token = { chars: 'segment', repeat: true };
const literalTokens = (text: string): Token[] => [...text].map((char) => ({ chars: char, repeat: false }));

/** A template's segments by kind, without validating names (the table was validated; tests probe odd templates). */
function templateParts(path: string): PathPart[] {
  if (path === '/') return [];
  return path
    .slice(1)
    .split('/')
    .map((segment): PathPart => {
      if (!segment.startsWith('{') || !segment.endsWith('}')) return { kind: 'literal', text: segment };
      return segment.endsWith('+}') ? { kind: 'greedy', name: segment.slice(1, -2) } : { kind: 'param', name: segment.slice(1, -1) };
    });
}

/** IAM's `*` is any run of characters, `?` any one character. */
function iamTokens(pattern: string): Token[] {
  return [...pattern].map((char) => (char === '*' ? ANY_RUN : char === '?' ? ANY_ONE : { chars: char, repeat: false }));
}

/**
 * The method ARNs of plainly spelt requests for a route and verb: `{param}` is one non-empty segment without `/`,
 * a greedy `{name+}` one or more segments; no percent sign, no trailing slash.
 */
function requestTokens(method: HttpMethod, path: string): Token[] {
  const tokens: Token[] = literalTokens(method);
  if (path === '/') return [...tokens, ...literalTokens('/')];
  for (const part of templateParts(path)) {
    tokens.push(...literalTokens('/'));
    if (part.kind === 'literal') tokens.push(...literalTokens(part.text));
    else if (part.kind === 'param') tokens.push(SEGMENT_ONE, SEGMENT_RUN);
    else tokens.push(SEGMENT_ONE, ANY_RUN);
  }
  return tokens;
}

/**
 * Every method ARN a request for a route and verb may have, over-approximated as a few token sequences: the path
 * decoded (a parameter may then hold `/`), with the trailing slash API Gateway ignores, and, as sent, with a
 * literal segment percent-encoded from its j-th character on (`users/%61dmin`: then anything may follow).
 */
function spellingTokens(method: HttpMethod, path: string): Token[][] {
  const verb = literalTokens(method);
  const slash = literalTokens('/');
  // The root, also as the doubled slash that routing reads as the root with its trailing slash.
  if (path === '/')
    return [
      [...verb, ...slash],
      [...verb, ...slash, ...slash],
    ];
  const alternatives: Token[][] = [];
  const decoded: Token[] = [...verb];
  for (const part of templateParts(path)) {
    if (part.kind === 'literal') {
      for (let length = 0; length < part.text.length; length++) {
        alternatives.push([...decoded, ...slash, ...literalTokens(part.text.slice(0, length)), ...literalTokens('%'), ANY_RUN]);
      }
    }
    decoded.push(...slash, ...(part.kind === 'literal' ? literalTokens(part.text) : [ANY_ONE, ANY_RUN]));
  }
  alternatives.push(decoded, [...decoded, ...slash]);
  return alternatives;
}

function classesMeet(left: Token['chars'], right: Token['chars']): boolean {
  if (left === 'any' || right === 'any') return true;
  if (left === 'segment') return right !== '/';
  if (right === 'segment') return left !== '/';
  return left === right;
}

/**
 * Whether an IAM pattern matches at least one plainly spelt request path of `route` (a `{param}` never holds `/`,
 * a greedy `{name+}` may). A search over pairs of positions, so it decides exactly, without enumerating paths.
 */
export function patternReachesRoute(pattern: string, route: Pick<RouteRule, 'method' | 'path'>): boolean {
  return servedMethods(route).some((method) => patternReachesTokens(iamTokens(pattern), requestTokens(method, route.path)));
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

/**
 * With `authorizerCacheScope: 'credential'`, the route table cannot be decided safely by one IAM policy per
 * credential. Thrown at synth, naming the routes; the default `'route'` scope accepts every table.
 */
export class AmbiguousRouteTableError extends Error {
  /** The class's name, for callers that cannot use `instanceof` (another copy of the package). */
  override readonly name = 'AmbiguousRouteTableError';
}

function routeAllowed(route: Pick<RouteRule, 'scopes'>, scopes: ReadonlySet<string>): boolean {
  return route.scopes.every((scope) => scopes.has(scope));
}

const describe = (route: Pick<RouteRule, 'method' | 'path'>) => `"${route.method} ${route.path}"`;

/**
 * Validate a route table and compute what the authorizer needs (synth time). Throws RouteTableError for a table
 * API Gateway cannot deploy (route-validation.ts: assertRouteTable). In the `route` cache scope that is all: the authorizer decides on the route API Gateway
 * chose. In the `credential` scope it also computes, for each route, which routes' Allow patterns match one of its
 * requests in any ARN spelling (`coveredBy`), and throws AmbiguousRouteTableError, naming the routes, for a table
 * whose policies IAM wildcards cannot express: routes `denied`, `allowed` and `cover` where `cover`'s pattern reaches
 * `denied` (so `denied` needs an explicit Deny), that Deny reaches a plainly spelt request of `allowed`, and some
 * scope set allows `allowed` and `cover` but not `denied`.
 */
export function compileRouteTable(table: readonly RouteRule[], cacheScope: AuthorizerCacheScope = 'route'): CompiledRouteTable {
  assertRouteTable(table);
  const routes = table
    .filter((route) => route.authorized !== false)
    .map((route) => ({ method: route.method, path: route.path, scopes: [...route.scopes] }));
  if (cacheScope === 'route') return { cacheScope, routes };
  const model = new RoutingModel(routes);
  // reaches[s][t]: does an Allow pattern of route s match some method ARN of a request API Gateway serves with t?
  const reaches = routes.map((_, source) => routes.map((_, target) => source === target || model.reaches(source, target, 'any')));
  const coveredBy = routes.map((_, target) =>
    routes.map((_, source) => source).filter((source) => source !== target && reaches[source]?.[target]),
  );
  // plain[s][t]: the same for plainly spelt requests only, which no policy may get wrong.
  const plain = new Map<number, boolean[]>();
  const plainReach = (source: number) => {
    let row = plain.get(source);
    if (!row) {
      row = routes.map((_, target) => source === target || model.reaches(source, target, 'plain'));
      plain.set(source, row);
    }
    return row;
  };
  for (const [denied, deniedRoute] of routes.entries()) {
    const covers = coveredBy[denied] ?? [];
    if (covers.length === 0) continue;
    for (const [allowed, allowedRoute] of routes.entries()) {
      if (allowed === denied || !plainReach(denied)[allowed]) continue;
      for (const cover of covers) {
        const coverRoute = routes[cover] as RouteRule;
        if (!routeAllowed(deniedRoute, new Set([...allowedRoute.scopes, ...coverRoute.scopes]))) {
          throw new AmbiguousRouteTableError(
            `routes ${describe(deniedRoute)} and ${describe(allowedRoute)} overlap under IAM wildcards (a caller allowed ${describe(coverRoute)} ` +
              `must be denied ${describe(deniedRoute)}, and that Deny would also match ${describe(allowedRoute)}) but need different scopes; ` +
              "give them distinct path prefixes or the same scopes, or use authorizerCacheScope: 'route' (the default), which decides on the route API Gateway chose",
          );
        }
      }
    }
  }
  return { cacheScope, routes, coveredBy };
}

/** The routes, parsed once, with the router model that decides which route serves a concrete request. */
class RoutingModel {
  private readonly parsed: { method: string; parts: readonly PathPart[] }[];
  private readonly resources: string[][];

  constructor(private readonly routes: readonly RouteRule[]) {
    this.parsed = routes.map((route) => ({ method: route.method, parts: parseRoutePath(route.path) }));
    this.resources = routes.map((route) => routeResources(route, routes));
  }

  /** Does an Allow pattern of `source` match a method ARN of a request served by `target`, in these spellings? */
  reaches(source: number, target: number, spellings: 'plain' | 'any'): boolean {
    const targetRoute = this.routes[target] as RouteRule;
    const verbs = servedMethods(targetRoute, this.routes);
    return (this.resources[source] ?? []).some((pattern) => {
      const verb = pattern.slice(0, pattern.indexOf('/'));
      if (!verbs.includes(verb as HttpMethod)) return false;
      // A pattern without wildcards is one ARN: find the requests that have it, and the routes serving them.
      if (!pattern.includes('*') && !pattern.includes('?'))
        return this.servedByArn(verb, pattern.slice(verb.length), spellings).includes(target);
      const left = iamTokens(pattern);
      const rights =
        spellings === 'plain'
          ? [requestTokens(verb as HttpMethod, targetRoute.path)]
          : spellingTokens(verb as HttpMethod, targetRoute.path);
      return rights.some((right) => patternReachesTokens(left, right));
    });
  }

  /**
   * The routes serving the requests whose method ARN path is `arnPath`: the path itself, and, for a decoded ARN,
   * every way of grouping its pieces into segments (an encoded `%2F` joins two pieces into one segment).
   */
  private servedByArn(verb: string, arnPath: string, spellings: 'plain' | 'any'): number[] {
    const trimmed = arnPath.length > 1 && arnPath.endsWith('/') ? arnPath.slice(0, -1) : arnPath;
    const pieces = trimmed === '/' ? [] : trimmed.slice(1).split('/');
    const groupings = spellings === 'plain' || pieces.length < 2 ? [pieces] : groupingsOf(pieces);
    return groupings.map((segments) => servingIndex(this.parsed, verb, segments)).filter((index) => index >= 0);
  }
}

/** Every way to cut `pieces` into consecutive groups, each group joined with `/` (2^(n-1) of them). */
function groupingsOf(pieces: readonly string[]): string[][] {
  const result: string[][] = [];
  const cuts = pieces.length - 1;
  for (let mask = 0; mask < 1 << cuts; mask++) {
    const segments: string[] = [pieces[0] as string];
    for (let index = 1; index < pieces.length; index++) {
      if (mask & (1 << (index - 1))) segments[segments.length - 1] += `/${pieces[index] as string}`;
      else segments.push(pieces[index] as string);
    }
    result.push(segments);
  }
  return result;
}

type CredentialTable = Extract<CompiledRouteTable, { cacheScope: 'credential' }>;

export class PolicyCompiler {
  private readonly routes: readonly RouteRule[];
  private readonly coveredBy: readonly (readonly number[])[];
  private readonly resources: readonly string[][];
  private readonly denials: readonly string[][];
  private readonly relevantScopes: Set<string>;
  private readonly memo = new BoundedCache<string, PolicyDocument>(256);
  private readonly byScopesArray = new WeakMap<readonly string[], { stageArn: string; policy: PolicyDocument }>();

  /** From a table compileRouteTable produced (at synth, shipped as data): no expensive checks here, at cold start. */
  constructor(table: CredentialTable) {
    this.routes = table.routes;
    this.coveredBy = table.coveredBy;
    this.resources = this.routes.map((route) => routeResources(route, this.routes));
    this.denials = this.routes.map((route) => denyResources(route, this.routes));
    this.relevantScopes = new Set(this.routes.flatMap((route) => route.scopes));
  }

  /** Validate and compile a route table in one go (tests, local tools). */
  static fromRoutes(routes: readonly RouteRule[]): PolicyCompiler {
    return new PolicyCompiler(compileRouteTable(routes, 'credential') as CredentialTable);
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
      if (isAllowed) for (const resource of this.resources[index] ?? []) allow.add(resource);
      // A denied route needs an explicit Deny only if some allowed pattern also matches one of its requests.
      else if ((this.coveredBy[index] ?? []).some((cover) => allowed[cover]))
        for (const resource of this.denials[index] ?? []) deny.add(resource);
    }
    if (allow.size > 0)
      statements.push({ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: [...allow].map((resource) => `${stageArn}/${resource}`) });
    if (allow.size === 0) statements.push({ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: [`${stageArn}/*`] });
    else if (deny.size > 0)
      statements.push({ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: [...deny].map((resource) => `${stageArn}/${resource}`) });
    return deepFreeze({ Version: '2012-10-17', Statement: statements });
  }
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
