/**
 * The review's overlapping route tables (issue 16), as the tests use them: every way API Gateway lets routes
 * overlap, each route with a scope of its own. test/fixtures/overlap-app/bin/app.mjs declares the same table
 * (plain JavaScript, run from an installed package).
 */
import type { RouteRule } from '../../lambdas/shared/route-table';

/** Root ANY beside GET; a literal beside its greedy child; literals beside {param} and greedy; GET beside ANY; greedy in greedy. */
export const OVERLAPPING_ROUTES: readonly RouteRule[] = [
  { method: 'ANY', path: '/', scopes: ['hooks:write'] },
  { method: 'GET', path: '/', scopes: ['index:admin'] },
  { method: 'GET', path: '/docs', scopes: ['docs:admin'] },
  { method: 'GET', path: '/docs/{page+}', scopes: ['docs:read'] },
  { method: 'GET', path: '/{q}', scopes: ['q:read'] },
  { method: 'GET', path: '/a/{g+}', scopes: ['a:read'] },
  { method: 'GET', path: '/users/{id}', scopes: ['read:users'] },
  { method: 'GET', path: '/users/admin', scopes: ['admin:users'] },
  { method: 'GET', path: '/orders/{id}', scopes: ['read:orders'] },
  { method: 'ANY', path: '/orders/{id}', scopes: ['write:orders'] },
  { method: 'GET', path: '/api/{proxy+}', scopes: ['api:read'] },
  { method: 'GET', path: '/api/admin/{proxy+}', scopes: ['api:admin'] },
];

/** The part of that table one policy per credential can decide safely (authorizerCacheScope: 'credential'). */
export const CREDENTIAL_SAFE_OVERLAPS: readonly RouteRule[] = OVERLAPPING_ROUTES.filter((route) => ['/', '/docs', '/docs/{page+}', '/users/{id}', '/users/admin', '/orders/{id}'].includes(route.path));
