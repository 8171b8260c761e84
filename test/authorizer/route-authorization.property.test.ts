/**
 * Both cache scopes against an independent model of API Gateway's router (test/support/router-model.ts), over random
 * tables (root routes, literals beside `{param}` and greedy siblings, GET beside ANY, greedy in greedy) and random
 * requests (percent-encoded literals, encoded slashes and percent signs, trailing slashes), with the method ARN
 * spelt every way AWS might write it: as sent or decoded, with or without the trailing slash.
 *
 * - `route` (default): every table API Gateway accepts is accepted, and the decision is exact on every request.
 * - `credential`: no request is ever allowed that the model denies, in any spelling; plainly spelt requests (no
 *   `%`, no trailing slash) are decided exactly. Tables it cannot make safe are refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AmbiguousRouteTableError, compileRouteTable, PolicyCompiler } from '../../lambdas/core/policy-compiler';
import { holdsRouteScopes, RouteBoundTable } from '../../lambdas/authorizer/route-policy';
import { RouteTableError, type HttpMethod, type RouteMethod, type RouteRule } from '../../lambdas/core/route-table';
import { evaluatePolicy } from '../../lib/local/iam-evaluator';
import { apiGatewayServes, modelSegments } from '../support/router-model';

const STAGE = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1';
const SCOPES = ['s1', 's2', 's3'];

const routeArb = fc.record({
  method: fc.constantFrom<RouteMethod>('GET', 'POST', 'ANY'),
  path: fc.array(fc.constantFrom('a', 'b', '{id}', '{proxy+}'), { minLength: 0, maxLength: 3 }).map((parts) => `/${parts.join('/')}`),
  scopes: fc.subarray(SCOPES),
});
const tableArb = fc.uniqueArray(routeArb, { minLength: 1, maxLength: 7, selector: (route) => `${route.method} ${route.path}` });

/** Raw segments: literals, their percent-encoded spellings, an encoded slash and an encoded percent sign. */
const rawSegmentArb = fc.constantFrom('a', 'b', 'x', '%61', 'a%62', '%2561', 'a%2Fb', 'a%2F', '%2F', 'A', '');
const requestArb = fc.record({
  method: fc.constantFrom<HttpMethod>('GET', 'POST', 'DELETE'),
  segments: fc.array(rawSegmentArb, { minLength: 0, maxLength: 4 }),
  trailingSlash: fc.boolean(),
});
type Request = { method: HttpMethod; segments: string[]; trailingSlash: boolean };

const rawPathOf = (request: Request) => `/${request.segments.join('/')}${request.trailingSlash ? '/' : ''}`;

/**
 * Every method ARN path AWS might write for a raw path: as sent or decoded (segments joined, a decoded `%2F` a `/`),
 * with or without the trailing slash the path was sent with (a decoded `%2F` at the end is not one).
 */
function arnSpellings(rawPath: string): string[] {
  const trailing = rawPath.length > 1 && rawPath.endsWith('/');
  const decoded = `/${modelSegments(rawPath).join('/')}`;
  const spellings = new Set([rawPath, decoded]);
  if (trailing) {
    spellings.add(rawPath.slice(0, -1));
    spellings.add(`${decoded}/`);
  }
  return [...spellings];
}

const deployable = (routes: RouteRule[]): boolean => {
  try {
    compileRouteTable(routes);
    return true;
  } catch (error) {
    if (error instanceof RouteTableError) return false;
    throw error;
  }
};

describe('route-bound authorization (authorizerCacheScope: route)', () => {
  it('property: accepts every deployable table and decides exactly on the route the model serves, whatever the spelling', () => {
    let decided = 0;
    fc.assert(
      fc.property(tableArb, fc.subarray(SCOPES), fc.array(requestArb, { minLength: 15, maxLength: 15 }), (routes, scopes, requests) => {
        if (!deployable(routes)) return;
        const table = new RouteBoundTable(compileRouteTable(routes).routes);
        for (const request of requests) {
          const rawPath = rawPathOf(request);
          const served = apiGatewayServes(routes, request.method, modelSegments(rawPath));
          if (!served) continue;
          const expected = served.scopes.every((scope) => scopes.includes(scope));
          // The authorizer sees the route API Gateway chose: exact verb, then ANY on the resource.
          const route = table.lookup(request.method, served.path);
          expect(route?.rule, `${request.method} ${rawPath}`).toEqual(served);
          expect(holdsRouteScopes(route!, scopes)).toBe(expected);
          // Its policy, evaluated as API Gateway does against the request's (decoded) method ARN, agrees.
          const policy = table.policy(STAGE, request.method, route, expected ? 'Allow' : 'Deny');
          const arn = `${STAGE}/${request.method}/${modelSegments(rawPath)
            .map((segment) => segment.replace(/%/g, '%25').replace(/\//g, '%2F'))
            .join('/')}`;
          expect(evaluatePolicy(policy, arn).decision === 'allow', `${request.method} ${rawPath} → ${served.method} ${served.path}`).toBe(
            expected,
          );
          decided++;
        }
      }),
      { numRuns: 1500 },
    );
    expect(decided).toBeGreaterThan(1000);
  });
});

describe('one policy per credential (authorizerCacheScope: credential)', () => {
  it('property: never allows what the model denies, in any method-ARN spelling, and is exact on plain spellings', () => {
    let accepted = 0;
    let plainChecks = 0;
    let spelledChecks = 0;
    fc.assert(
      fc.property(tableArb, fc.subarray(SCOPES), fc.array(requestArb, { minLength: 15, maxLength: 15 }), (routes, scopes, requests) => {
        let compiler: PolicyCompiler;
        try {
          compiler = PolicyCompiler.fromRoutes(routes);
        } catch (error) {
          if (error instanceof AmbiguousRouteTableError || error instanceof RouteTableError) return;
          throw error;
        }
        accepted++;
        const policy = compiler.compile(STAGE, scopes);
        for (const request of requests) {
          const rawPath = rawPathOf(request);
          const served = apiGatewayServes(routes, request.method, modelSegments(rawPath));
          if (!served) continue;
          const expected = served.scopes.every((scope) => scopes.includes(scope));
          for (const spelling of arnSpellings(rawPath)) {
            const allowed = evaluatePolicy(policy, `${STAGE}/${request.method}${spelling}`).decision === 'allow';
            if (!expected)
              expect(
                allowed,
                `false allow: ${request.method} ${rawPath} as ${spelling} → ${served.method} ${served.path} [${scopes.join(' ')}]`,
              ).toBe(false);
            spelledChecks++;
          }
          // Plainly spelt: no percent sign, no empty segment, no trailing slash (the root is just `/`).
          if (!rawPath.includes('%') && !rawPath.includes('//') && (rawPath === '/' || !rawPath.endsWith('/'))) {
            expect(
              evaluatePolicy(policy, `${STAGE}/${request.method}${rawPath}`).decision === 'allow',
              `${request.method} ${rawPath} → ${served.method} ${served.path} [${scopes.join(' ')}]`,
            ).toBe(expected);
            plainChecks++;
          }
        }
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(500);
    expect(plainChecks).toBeGreaterThan(400);
    expect(spelledChecks).toBeGreaterThan(1500);
  });

  it('fixes the review findings on the tables it accepts', () => {
    const allowsFor = (routes: RouteRule[], scopes: string[], method: string, path: string) =>
      evaluatePolicy(PolicyCompiler.fromRoutes(routes).compile(STAGE, scopes), `${STAGE}/${method}${path}`).decision === 'allow';
    // ANY / beside GET /: a hooks:write caller never reaches GET /.
    const root: RouteRule[] = [
      { method: 'ANY', path: '/', scopes: ['hooks:write'] },
      { method: 'GET', path: '/', scopes: ['index:admin'] },
    ];
    expect(allowsFor(root, ['hooks:write'], 'GET', '/')).toBe(false);
    expect(allowsFor(root, ['hooks:write'], 'POST', '/')).toBe(true);
    expect(allowsFor(root, ['index:admin'], 'GET', '/')).toBe(true);
    // A literal beside a greedy child: the trailing-slash spelling of the literal is denied.
    const docs: RouteRule[] = [
      { method: 'GET', path: '/docs', scopes: ['docs:admin'] },
      { method: 'GET', path: '/docs/{page+}', scopes: ['docs:read'] },
    ];
    for (const path of ['/docs', '/docs/']) expect(allowsFor(docs, ['docs:read'], 'GET', path), path).toBe(false);
    expect(allowsFor(docs, ['docs:read'], 'GET', '/docs/a/b')).toBe(true);
    // A percent-encoded literal is denied in the ARN as sent and decoded.
    const users: RouteRule[] = [
      { method: 'GET', path: '/users/{id}', scopes: ['read:users'] },
      { method: 'GET', path: '/users/admin', scopes: ['admin:users'] },
    ];
    for (const path of ['/users/admin', '/users/%61dmin', '/users/adm%69n', '/users/admin/'])
      expect(allowsFor(users, ['read:users'], 'GET', path), path).toBe(false);
    expect(allowsFor(users, ['read:users'], 'GET', '/users/alice')).toBe(true);
    // GET beside ANY on one path, with different scopes: accepted now (ANY stands for the other verbs).
    const orders: RouteRule[] = [
      { method: 'GET', path: '/orders/{id}', scopes: ['read:orders'] },
      { method: 'ANY', path: '/orders/{id}', scopes: ['write:orders'] },
    ];
    expect(allowsFor(orders, ['write:orders'], 'GET', '/orders/1')).toBe(false);
    expect(allowsFor(orders, ['write:orders'], 'PUT', '/orders/1')).toBe(true);
    expect(allowsFor(orders, ['read:orders'], 'GET', '/orders/1')).toBe(true);
    expect(allowsFor(orders, ['read:orders'], 'DELETE', '/orders/1')).toBe(false);
  });

  it('refuses, naming the routes, a greedy route inside a greedy route with other scopes (route scope accepts it)', () => {
    const routes: RouteRule[] = [
      { method: 'GET', path: '/api/{proxy+}', scopes: ['api:read'] },
      { method: 'GET', path: '/api/admin/{proxy+}', scopes: ['api:admin'] },
    ];
    expect(() => compileRouteTable(routes, 'credential')).toThrow(
      /GET \/api\/admin\/\{proxy\+\}.*GET \/api\/\{proxy\+\}|GET \/api\/\{proxy\+\}.*GET \/api\/admin\/\{proxy\+\}/,
    );
    expect(compileRouteTable(routes)).toEqual({ cacheScope: 'route', routes });
  });
});
