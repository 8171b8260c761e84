/**
 * The route table: the single source of truth for method, path, handler and required scopes.
 * The CDK construct builds API Gateway methods from it, the authorizer compiles IAM policies from it,
 * and the local gateway routes with it. Adding a route means adding one entry here.
 *
 * This module is pure data: the authorizer bundle imports it, so it must never import aws-cdk-lib.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Which Lambda serves a route; each maps to `lambdas/<handler>.ts`. */
export type HandlerName = 'backends/health' | 'backends/me' | 'backends/users' | 'keys/handler';

export interface Route {
  readonly method: HttpMethod;
  /** API Gateway resource path; `{name}` marks a path parameter. */
  readonly path: string;
  readonly handler: HandlerName;
  /** Every scope listed is required. An empty list means "any authenticated caller". */
  readonly scopes: readonly string[];
  /** `false` only for routes that take no credential at all (health checks). */
  readonly authorized?: boolean;
}

export const KEY_SCOPES = {
  read: 'keys:read',
  write: 'keys:write',
  admin: 'keys:admin',
} as const;

export const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/health', handler: 'backends/health', scopes: [], authorized: false },
  { method: 'GET', path: '/me', handler: 'backends/me', scopes: [] },
  { method: 'GET', path: '/users', handler: 'backends/users', scopes: ['read:users'] },
  { method: 'POST', path: '/users', handler: 'backends/users', scopes: ['write:users'] },
  { method: 'POST', path: '/keys', handler: 'keys/handler', scopes: [KEY_SCOPES.write] },
  { method: 'GET', path: '/keys', handler: 'keys/handler', scopes: [KEY_SCOPES.read] },
  { method: 'GET', path: '/keys/{id}', handler: 'keys/handler', scopes: [KEY_SCOPES.read] },
  // PATCH and rotate answer with the key they change (and their 409s describe its state): they read it, so they
  // need keys:read as well. Create returns only what its caller sent; revoke returns nothing.
  { method: 'PATCH', path: '/keys/{id}', handler: 'keys/handler', scopes: [KEY_SCOPES.write, KEY_SCOPES.read] },
  { method: 'POST', path: '/keys/{id}/rotate', handler: 'keys/handler', scopes: [KEY_SCOPES.write, KEY_SCOPES.read] },
  { method: 'DELETE', path: '/keys/{id}', handler: 'keys/handler', scopes: [KEY_SCOPES.write] },
];

export function authorizedRoutes(routes: readonly Route[] = ROUTES): Route[] {
  return routes.filter((route) => route.authorized !== false);
}

/** Every scope a key or token may carry: the route table's scopes plus the management scopes. */
export function scopeCatalog(routes: readonly Route[] = ROUTES): string[] {
  const scopes = new Set<string>(Object.values(KEY_SCOPES));
  for (const route of routes) for (const scope of route.scopes) scopes.add(scope);
  return [...scopes].sort();
}

/** Scope names must be safe in a space-joined context value and in Cognito's `<server>/<scope>` form. */
export const SCOPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$/;
