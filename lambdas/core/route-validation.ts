/**
 * What a valid route table is: every rule about its routes, in one place (the construct adds two of its own: a
 * route may not clash with the key API's or leak detection's, and a table must authorize at least one route). The path grammar itself is parseRoutePath
 * (route-table.ts); this module decides with it.
 * - Per route: the method, the path, the scopes, `authorized`, and no scopes on an open route.
 * - Whole table: no route twice, and one variable child per resource (API Gateway's rules for a deployable table).
 * The construct checks each route as the app adds it and the whole table at synth (compileRouteTable); the Lambdas'
 * config reader (route-config.ts) checks the file it reads at init; the local gateway checks the table it serves.
 * Each caller says where a problem is in its own words (a route, or an index in the file) and picks its error type.
 */
import {
  parseRoutePath,
  ROUTE_METHODS,
  RouteTableError,
  SCOPE_PATTERN,
  type PathPart,
  type RouteMethod,
  type RouteRule,
} from './route-table';

const METHODS: ReadonlySet<unknown> = new Set(ROUTE_METHODS);

/** The method rule's wording, for callers that name the route their own way. */
const ROUTE_METHOD_RULE = `method must be one of ${ROUTE_METHODS.join(', ')}`;

/** The one method check: one of HTTP_METHODS, or `ANY`. */
export function isRouteMethod(method: unknown): method is RouteMethod {
  return METHODS.has(method);
}

/** A scope name keys, tokens and routes may carry (SCOPE_PATTERN). */
export function isScopeName(scope: unknown): scope is string {
  return typeof scope === 'string' && SCOPE_PATTERN.test(scope);
}

/**
 * A path parseRoutePath accepts, recognised by one regex: literals without wildcards, `{name}`s, a final `{name+}`,
 * and at most one parameter (two could repeat a name, which only parseRoutePath checks). Anything else goes through
 * parseRoutePath, which accepts or names the fault. One regex instead of a parse per route keeps a 1,000-route
 * table's cold start close to a 10-route one's (docs/large-apis.md, Figures); a property test holds the two together.
 */
const PLAIN_ROUTE_PATH = /^(?:\/[A-Za-z0-9._~:@!$&'()+,;=-]+)*(?:\/\{[A-Za-z_][A-Za-z0-9_]*\+?\}(?:\/[A-Za-z0-9._~:@!$&'()+,;=-]+)*)?$/;
const isPlainRoutePath = (path: string): boolean =>
  path === '/' || (path.length > 1 && PLAIN_ROUTE_PATH.test(path) && !/\+\}\//.test(path));

/** What is wrong with a resource path (parseRoutePath's message), or undefined when it is valid. */
export function routePathProblem(path: unknown): string | undefined {
  if (typeof path === 'string' && isPlainRoutePath(path)) return undefined;
  try {
    parseRoutePath(path as string);
    return undefined;
  } catch (error) {
    if (error instanceof RouteTableError) return error.message;
    throw error;
  }
}

/** A route as an app declares it, before any check: the fields of a RouteRule, of any type. */
export interface RouteDeclaration {
  readonly method?: unknown;
  readonly path?: unknown;
  readonly scopes?: unknown;
  readonly authorized?: unknown;
}

/**
 * The per-route rules, in order: the method, the path, the scopes (a list of scope names; absent is `[]`),
 * `authorized` (true, false or absent), and an open route requires no scope. Throws RouteTableError, its message
 * prefixed with `where` (`route GET /orders`).
 */
export function assertRouteDeclaration(route: RouteDeclaration, where: string): void {
  if (!isRouteMethod(route.method)) throw new RouteTableError(`${where}: ${ROUTE_METHOD_RULE}`);
  const pathProblem = routePathProblem(route.path);
  if (pathProblem !== undefined) throw new RouteTableError(`${where}: ${pathProblem}`);
  const scopes = route.scopes ?? [];
  if (!Array.isArray(scopes)) throw new RouteTableError(`${where}: scopes must be a list of scope names`);
  const bad: unknown[] = scopes.filter((scope) => !isScopeName(scope));
  if (bad.length > 0)
    throw new RouteTableError(`${where}: scope(s) ${bad.map((scope) => JSON.stringify(scope)).join(', ')} must match ${SCOPE_PATTERN}`);
  if (route.authorized !== undefined && typeof route.authorized !== 'boolean')
    throw new RouteTableError(`${where}: authorized must be true or false`);
  if (route.authorized === false && scopes.length > 0)
    throw new RouteTableError(`${where}: an open route (authorized: false) cannot require scopes`);
}

/** What makes two routes the same route: their method and path. A table holds each at most once. */
export function routeKey(route: { readonly method: unknown; readonly path: unknown }): string {
  return `${String(route.method)} ${String(route.path)}`;
}

const describe = (route: Pick<RouteRule, 'method' | 'path'>) => `"${route.method} ${route.path}"`;

/**
 * The whole-table rules, for a table API Gateway must deploy: each route's method and path, no route twice, and one
 * variable child per resource. Returns each route's parsed path; throws RouteTableError naming the route(s).
 * (Scopes are the per-route rules' business: assertRouteDeclaration.)
 */
export function assertRouteTable(routes: readonly Pick<RouteRule, 'method' | 'path'>[]): PathPart[][] {
  const seen = new Set<string>();
  const variableChild = new Map<string, { part: string; route: Pick<RouteRule, 'method' | 'path'> }>();
  return routes.map((route) => {
    if (!isRouteMethod(route.method)) throw new RouteTableError(`route ${describe(route)}: ${ROUTE_METHOD_RULE}`);
    const parts = parseRoutePath(route.path);
    const key = routeKey(route);
    if (seen.has(key)) throw new RouteTableError(`route ${describe(route)} is declared twice`);
    seen.add(key);
    // API Gateway allows one variable child ({name} or {name+}) per resource.
    let parent = '';
    for (const part of parts) {
      if (part.kind !== 'literal') {
        const spelt = part.kind === 'greedy' ? `{${part.name}+}` : `{${part.name}}`;
        const other = variableChild.get(parent);
        if (other && other.part !== spelt) {
          throw new RouteTableError(
            `routes ${describe(other.route)} and ${describe(route)} give ${parent || '/'} two variable children (${other.part}, ${spelt}); API Gateway allows one`,
          );
        }
        variableChild.set(parent, { part: spelt, route });
        parent += `/${spelt}`;
      } else parent += `/${part.text}`;
    }
    return parts;
  });
}
