/**
 * The review's overlapping route tables (issue 16), as the tests use them: every way API Gateway lets routes
 * overlap, each route with a scope of its own: test/fixtures/overlap-app/routes.json, which the fixture app
 * (test/fixtures/overlap-app/bin/app.mjs, run from an installed package) declares too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RouteRule } from '../../lambdas/core/route-table';

/** Root ANY beside GET; a literal beside its greedy child; literals beside {param} and greedy; GET beside ANY; greedy in greedy. */
export const OVERLAPPING_ROUTES: readonly RouteRule[] = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'fixtures', 'overlap-app', 'routes.json'), 'utf8'),
) as RouteRule[];

/** The part of that table one policy per credential can decide safely (authorizerCacheScope: 'credential'). */
export const CREDENTIAL_SAFE_OVERLAPS: readonly RouteRule[] = OVERLAPPING_ROUTES.filter((route) =>
  ['/', '/docs', '/docs/{page+}', '/users/{id}', '/users/admin', '/orders/{id}'].includes(route.path),
);
