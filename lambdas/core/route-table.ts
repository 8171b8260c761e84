/**
 * The route table as data: what the authorizer, the key API and the local gateway know about an app's routes.
 * The CDK construct (lib/) validates a table and compiles it at synth; the Lambdas read the result from a
 * file in their asset (lambdas/core/route-config.ts). Nothing here imports aws-cdk-lib.
 */

/** The HTTP methods a route may name; `ANY` is also allowed ({@link RouteMethod}). */
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
/** One of {@link HTTP_METHODS}. */
export type HttpMethod = (typeof HTTP_METHODS)[number];
/** `ANY` is API Gateway's catch-all method: one route for every verb on its resource. */
export type RouteMethod = HttpMethod | 'ANY';
export const ROUTE_METHODS: readonly RouteMethod[] = [...HTTP_METHODS, 'ANY'];

/** What authorization needs to know about one method of the API. */
export interface RouteRule {
  /** The HTTP method, or `ANY`. */
  readonly method: RouteMethod;
  /** API Gateway resource path: `{name}` is one segment, a final `{name+}` one or more (greedy). */
  readonly path: string;
  /** Every scope listed is required. An empty list means "any authenticated caller". */
  readonly scopes: readonly string[];
  /** `false` only for routes that take no credential at all. */
  readonly authorized?: boolean;
}

/** The key management API's scopes. `admin` is the default `adminScope`. */
export const KEY_SCOPES = {
  /** List and read keys (and rotate or PATCH them, with `write`). */
  read: 'keys:read',
  /** Create, change, rotate and revoke keys. */
  write: 'keys:write',
  /** Grant any catalog scope and act for any owner. */
  admin: 'keys:admin',
} as const;

/** The management API's base path unless the app chooses another. */
export const DEFAULT_MANAGEMENT_BASE_PATH = '/keys';

/** The key API's routes under a base path (`/keys` by default). */
export function managementRoutes(basePath: string = DEFAULT_MANAGEMENT_BASE_PATH): RouteRule[] {
  return [
    { method: 'POST', path: basePath, scopes: [KEY_SCOPES.write] },
    { method: 'GET', path: basePath, scopes: [KEY_SCOPES.read] },
    { method: 'GET', path: `${basePath}/{id}`, scopes: [KEY_SCOPES.read] },
    // PATCH and rotate answer with the key they change (and their 409s describe its state): they read it, so they
    // need keys:read as well. Create returns only what its caller sent; revoke returns nothing.
    { method: 'PATCH', path: `${basePath}/{id}`, scopes: [KEY_SCOPES.write, KEY_SCOPES.read] },
    { method: 'POST', path: `${basePath}/{id}/rotate`, scopes: [KEY_SCOPES.write, KEY_SCOPES.read] },
    { method: 'DELETE', path: `${basePath}/{id}`, scopes: [KEY_SCOPES.write] },
  ];
}

/** Where the consumer routes live: beside the key API (`/keys` → `/consumers`, `/admin/keys` → `/admin/consumers`). */
export function consumersBasePath(basePath: string = DEFAULT_MANAGEMENT_BASE_PATH): string {
  return `${basePath.slice(0, basePath.lastIndexOf('/'))}/consumers`;
}

/**
 * Plans only: the consumer routes. Assigning and clearing a plan needs keys:write here and the admin scope in the
 * handler (a route may not require the admin scope itself: that would make it an ordinary scope, see
 * DualAuthApi's check); reading needs keys:read, and the handler lets a consumer read only itself unless admin.
 */
export function consumerRoutes(basePath: string = DEFAULT_MANAGEMENT_BASE_PATH): RouteRule[] {
  const path = `${consumersBasePath(basePath)}/{sub}`;
  return [
    { method: 'GET', path, scopes: [KEY_SCOPES.read] },
    { method: 'PUT', path, scopes: [KEY_SCOPES.write] },
    { method: 'DELETE', path, scopes: [KEY_SCOPES.write] },
  ];
}

/**
 * The catalog of a route table: every scope a key or token may carry. The routes' scopes, the management scopes
 * and any extra ones (the admin scope, scopes no route uses yet), sorted.
 */
export function scopeCatalog(routes: readonly Pick<RouteRule, 'scopes'>[], extra: readonly string[] = []): string[] {
  return [...new Set([...Object.values(KEY_SCOPES), ...routes.flatMap((route) => route.scopes), ...extra])].sort();
}

/** Scope names must be safe in a space-joined context value and in Cognito's `<server>/<scope>` form. */
export const SCOPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$/;

/** The route table is invalid (a malformed path, a duplicate route, a bad scope…). Thrown at synth, naming the route. */
export class RouteTableError extends Error {
  /** The class's name, for callers that cannot use `instanceof` (another copy of the package). */
  override readonly name = 'RouteTableError';
}

/** One segment of a resource path. */
export type PathPart = { kind: 'literal'; text: string } | { kind: 'param'; name: string } | { kind: 'greedy'; name: string };

/** API Gateway's resource path part: letters, digits and `-._~:@!$&'()*+,;=` minus what would confuse routing. */
const LITERAL_SEGMENT = /^[A-Za-z0-9._~:@!$&'()*+,;=-]+$/;
const PARAM_SEGMENT = /^\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}$/;

/** Parse and check a resource path; `/` is the root. Throws RouteTableError naming the problem. */
export function parseRoutePath(path: string): PathPart[] {
  if (typeof path !== 'string' || !path.startsWith('/')) throw new RouteTableError(`path ${JSON.stringify(path)} must start with /`);
  if (path === '/') return [];
  if (path.endsWith('/')) throw new RouteTableError(`path ${JSON.stringify(path)} must not end with /`);
  const parts: PathPart[] = [];
  const names = new Set<string>();
  const segments = path.slice(1).split('/');
  for (const [index, segment] of segments.entries()) {
    const param = PARAM_SEGMENT.exec(segment);
    if (param) {
      const name = param[1] as string;
      if (names.has(name)) throw new RouteTableError(`path ${path} names the parameter {${name}} twice`);
      names.add(name);
      if (param[2] === '+') {
        if (index !== segments.length - 1) throw new RouteTableError(`path ${path}: a greedy {${name}+} must be the last segment`);
        parts.push({ kind: 'greedy', name });
      } else parts.push({ kind: 'param', name });
    } else if (LITERAL_SEGMENT.test(segment) && !segment.includes('{') && !segment.includes('}') && !segment.includes('*')) {
      parts.push({ kind: 'literal', text: segment });
    } else {
      throw new RouteTableError(`path ${path}: segment ${JSON.stringify(segment)} is neither a literal nor {name} nor a final {name+}`);
    }
  }
  return parts;
}

/**
 * The route API Gateway serves a concrete request with. Among the routes whose path matches, the most specific
 * wins, compared segment by segment from the left: a literal beats `{param}`, which beats a greedy `{name+}`;
 * on the same resource an exact method beats `ANY`. (API Gateway picks the resource first and answers 403 when
 * it lacks the method; treating that request as served by a less specific route only asks the policy to be
 * right for more requests than reach it.)
 */
export function servingRoute<R extends Pick<RouteRule, 'method' | 'path'>>(
  routes: readonly R[],
  method: string,
  path: string,
): R | undefined {
  const index = servingIndex(
    routes.map((route) => ({ method: route.method, parts: parseRoutePath(route.path) })),
    method,
    path === '/' ? [] : path.split('/').slice(1),
  );
  return index < 0 ? undefined : routes[index];
}

/**
 * The one definition of API Gateway's choice (servingRoute above), over routes already parsed: the index of the
 * route that serves `method` on these path segments, or -1. The policy compiler and the local gateway use it too.
 */
export function servingIndex(
  routes: readonly { method: string; parts: readonly PathPart[] }[],
  method: string,
  segments: readonly string[],
): number {
  let best = -1;
  let bestRank = '';
  for (const [index, route] of routes.entries()) {
    if (route.method !== method && route.method !== 'ANY') continue;
    const rank = matchRank(route.parts, segments);
    if (rank === undefined) continue;
    const fullRank = `${rank}${route.method === 'ANY' ? '0' : '1'}`;
    if (best < 0 || fullRank > bestRank) {
      best = index;
      bestRank = fullRank;
    }
  }
  return best;
}

/** A comparable specificity (`2` literal, `1` param, `0` greedy per segment), or undefined when the path does not match. */
function matchRank(parts: readonly PathPart[], segments: readonly string[]): string | undefined {
  let rank = '';
  for (const [index, part] of parts.entries()) {
    const segment = segments[index];
    if (segment === undefined || segment.length === 0) return undefined;
    if (part.kind === 'literal') {
      if (part.text !== segment) return undefined;
      rank += '2';
    } else if (part.kind === 'param') rank += '1';
    else {
      // Greedy: one or more segments, the rest of the path; ranks below any literal or param at this depth.
      if (segments.slice(index).some((rest) => rest.length === 0)) return undefined;
      return `${rank}0`;
    }
  }
  return segments.length === parts.length ? `${rank}3` : undefined;
}

/**
 * What the authorizer's cached result covers, and so how it decides:
 * - `route` (the default): one result per credential *and route*. API Gateway has already routed the request and
 *   the event names the route it chose; the authorizer looks that route up in this table and allows or denies it.
 *   Exact for every table API Gateway accepts, at the price of one authorizer call per credential per route per TTL.
 * - `credential`: one result per credential, reused by API Gateway for every route: an IAM policy whose wildcards
 *   must reproduce API Gateway's routing (policy-compiler.ts). Fewer authorizer calls; tables it cannot make safe
 *   are refused at synth.
 */
export type AuthorizerCacheScope = 'route' | 'credential';
export const AUTHORIZER_CACHE_SCOPES: readonly AuthorizerCacheScope[] = ['route', 'credential'];

/**
 * The route table as the authorizer receives it (computed at synth, shipped as data). In `credential` scope it also
 * holds, for each route, which other routes' IAM patterns match a request it serves (policy-compiler.ts), so any
 * principal's policy is built in linear time; compileRouteTable refuses tables IAM cannot express.
 */
export type CompiledRouteTable =
  | { readonly cacheScope: 'route'; readonly routes: readonly RouteRule[] }
  | { readonly cacheScope: 'credential'; readonly routes: readonly RouteRule[]; readonly coveredBy: readonly (readonly number[])[] };

/**
 * How a request path becomes the segments API Gateway routes on and the path its method ARN names. This is local
 * mode's one assumption about percent-encoding, used by its router and its method ARN alike (the authorizer's
 * `route` scope does not depend on it; the `credential` scope's policies are proven safe under both spellings):
 * the path is split on `/` *as sent* (an encoded `%2F` never separates segments), one trailing slash is ignored,
 * and each segment is percent-decoded (`%61dmin` is the literal `admin`; an undecodable segment is kept as sent).
 */
export function requestSegments(rawPath: string): string[] {
  const trimmed = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
  if (trimmed === '/' || trimmed === '') return [];
  return trimmed.split('/').slice(1).map(decodeSegment);
}

/**
 * The method ARN's path for decoded segments: the same segments the router matched, with only `%` and `/` inside a
 * segment encoded again, so the ARN has exactly one `/` per segment boundary and no two paths share a spelling.
 */
export function methodArnPath(segments: readonly string[]): string {
  return `/${segments.map((segment) => segment.replace(/%/g, '%25').replace(/\//g, '%2F')).join('/')}`;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
