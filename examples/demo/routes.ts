/**
 * The demo app's own routes (`/health`, `/me`, `/users`): an app of the library like any other. Pure data, shared
 * by the demo stack (examples/demo/stack.ts), local mode and the tests; the construct knows nothing of them.
 */
import { compileRouteTable } from '../../lambdas/core/policy-compiler';
import { KEY_SCOPES, managementRoutes, scopeCatalog, type RouteRule } from '../../lambdas/core/route-table';

/** Which demo Lambda serves a route; each is `examples/demo/backends/<name>.ts`. */
export type DemoBackend = 'health' | 'me' | 'users';

interface DemoRoute extends RouteRule {
  readonly backend: DemoBackend;
}

export const DEMO_ROUTES: readonly DemoRoute[] = [
  { method: 'GET', path: '/health', backend: 'health', scopes: [], authorized: false },
  { method: 'GET', path: '/me', backend: 'me', scopes: [] },
  { method: 'GET', path: '/users', backend: 'users', scopes: ['read:users'] },
  { method: 'POST', path: '/users', backend: 'users', scopes: ['write:users'] },
];

/** The whole table the demo API serves: its routes plus the key API at `/keys`. */
export const DEMO_ROUTE_TABLE: readonly RouteRule[] = [...DEMO_ROUTES, ...managementRoutes()];

/** Every scope of the demo: what its keys and tokens may carry. */
export function demoScopeCatalog(adminScope: string = KEY_SCOPES.admin): string[] {
  return scopeCatalog(DEMO_ROUTE_TABLE, [adminScope]);
}

/** The demo table compiled as the construct compiles it at synth (tests, benchmarks and local mode use it). */
export const DEMO_COMPILED_TABLE = compileRouteTable(DEMO_ROUTE_TABLE);
