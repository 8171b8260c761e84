import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  AmbiguousRouteTableError,
  apiStageArn,
  compileRouteTable,
  iamPatternMatches,
  patternReachesRoute,
  PolicyCompiler,
  routeResources,
  type PolicyDocument,
} from '../../lambdas/core/policy-compiler';
import {
  HTTP_METHODS,
  RouteTableError,
  scopeCatalog,
  servingRoute,
  type HttpMethod,
  type RouteMethod,
  type RouteRule,
} from '../../lambdas/core/route-table';
import { DEMO_ROUTE_TABLE } from '../../examples/demo/routes';
import { generatedRouteTable } from '../../bench/fixtures';
import { apiGatewayServes, modelSegments } from '../support/router-model';

const STAGE = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1';
const authorizedRoutes = (routes: readonly RouteRule[]) => routes.filter((route) => route.authorized !== false);

/** IAM evaluation for one request ARN: explicit Deny wins, otherwise any Allow, otherwise implicit deny. */
function allows(policy: PolicyDocument, arn: string): boolean {
  const matching = policy.Statement.filter((statement) => statement.Resource.some((resource) => iamPatternMatches(resource, arn)));
  if (matching.some((statement) => statement.Effect === 'Deny')) return false;
  return matching.some((statement) => statement.Effect === 'Allow');
}

/** A concrete request ARN for a route, with path parameters filled in (a greedy one with two segments). */
function requestArn(route: Pick<RouteRule, 'method' | 'path'>, parameter = 'key_01HZX'): string {
  const method = route.method === 'ANY' ? 'PATCH' : route.method;
  return `${STAGE}/${method}${route.path.replace(/\{[^}]+\+\}/g, `${parameter}/${parameter}`).replace(/\{[^}]+\}/g, parameter)}`;
}

describe('servingRoute', () => {
  it('prefers literal segments, then parameters, then greedy, left to right, and an exact method before ANY', () => {
    const routes: RouteRule[] = [
      { method: 'GET', path: '/keys/{id}', scopes: [] },
      { method: 'GET', path: '/keys/stats', scopes: [] },
      { method: 'GET', path: '/{a}/stats', scopes: [] },
      { method: 'ANY', path: '/files/{proxy+}', scopes: [] },
      { method: 'GET', path: '/files/public', scopes: [] },
      { method: 'ANY', path: '/files/public', scopes: [] },
    ];
    expect(servingRoute(routes, 'GET', '/keys/stats')?.path).toBe('/keys/stats');
    expect(servingRoute(routes, 'GET', '/keys/k1')?.path).toBe('/keys/{id}');
    expect(servingRoute(routes, 'GET', '/other/stats')?.path).toBe('/{a}/stats');
    expect(servingRoute(routes, 'POST', '/keys/stats')).toBeUndefined();
    expect(servingRoute(routes, 'GET', '/files/public')).toEqual(routes[4]);
    expect(servingRoute(routes, 'DELETE', '/files/public')).toEqual(routes[5]);
    expect(servingRoute(routes, 'GET', '/files/public/x')?.path).toBe('/files/{proxy+}');
    expect(servingRoute(routes, 'GET', '/files/a/b/c')?.path).toBe('/files/{proxy+}');
    expect(servingRoute(routes, 'GET', '/files')).toBeUndefined();
  });
});

describe('apiStageArn', () => {
  it('takes the API and stage from a method ARN', () => {
    expect(apiStageArn(`${STAGE}/GET/users`)).toBe(STAGE);
    expect(apiStageArn('arn:aws:execute-api:us-east-1:000000000000:local/dev/POST/keys/abc/rotate')).toBe(
      'arn:aws:execute-api:us-east-1:000000000000:local/dev',
    );
    expect(apiStageArn('not-an-arn')).toBeUndefined();
    expect(apiStageArn('')).toBeUndefined();
  });
});

describe('iamPatternMatches', () => {
  it('implements * (any run, including /) and ? (one character)', () => {
    expect(iamPatternMatches('GET/keys/*', 'GET/keys/abc')).toBe(true);
    expect(iamPatternMatches('GET/keys/*', 'GET/keys/abc/rotate')).toBe(true);
    expect(iamPatternMatches('GET/keys/?', 'GET/keys/a')).toBe(true);
    expect(iamPatternMatches('GET/keys/?', 'GET/keys/ab')).toBe(false);
    expect(iamPatternMatches('GET/keys', 'GET/keys/abc')).toBe(false);
    expect(iamPatternMatches('*', '')).toBe(true);
  });
});

describe('patternReachesRoute', () => {
  const route = (method: HttpMethod, path: string) => ({ method, path });
  it('knows a path parameter is one segment without a slash', () => {
    expect(patternReachesRoute('GET/*', route('GET', '/a/{id}'))).toBe(true);
    expect(patternReachesRoute('GET/a/*', route('GET', '/a/a/a'))).toBe(true);
    expect(patternReachesRoute('POST/things/*/publish', route('POST', '/things/{id}'))).toBe(false);
    expect(patternReachesRoute('GET/keys/*', route('GET', '/keys'))).toBe(false);
    expect(patternReachesRoute('GET/keys/*', route('GET', '/keys/{id}'))).toBe(true);
    expect(patternReachesRoute('GET/me', route('GET', '/users'))).toBe(false);
  });

  it('property: agrees with matching concrete request paths', () => {
    const pattern = fc.array(fc.constantFrom('a', 'b', '/', '*', '?'), { maxLength: 6 }).map((parts) => `GET${parts.join('')}`);
    const template = fc.array(fc.constantFrom('a', 'b', '{p}'), { minLength: 1, maxLength: 3 }).map((parts) => `/${parts.join('/')}`);
    const value = fc.array(fc.constantFrom('a', 'b', 'ab'), { minLength: 3, maxLength: 3 });
    fc.assert(
      fc.property(pattern, template, value, (iam, path, fills) => {
        let index = 0;
        const concrete = `GET${path.replace(/\{p\}/g, () => fills[index++ % fills.length]!)}`;
        if (iamPatternMatches(iam, concrete)) expect(patternReachesRoute(iam, { method: 'GET', path })).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('PolicyCompiler', () => {
  const compiler = PolicyCompiler.fromRoutes(DEMO_ROUTE_TABLE);

  it('allows exactly the routes the scopes permit and covers every route, whatever methodArn asked', () => {
    const policy = compiler.compile(STAGE, ['read:users']);
    for (const route of authorizedRoutes(DEMO_ROUTE_TABLE)) {
      const expected = route.scopes.every((scope) => scope === 'read:users');
      expect(allows(policy, requestArn(route)), `${route.method} ${route.path}`).toBe(expected);
    }
    expect(policy.Statement[0]?.Resource).toContain(`${STAGE}/GET/users`);
    expect(policy.Statement[0]?.Resource).toContain(`${STAGE}/GET/me`);
  });

  it('memoises one frozen policy per relevant scope set', () => {
    const first = compiler.compile(STAGE, ['read:users', 'some:other']);
    expect(compiler.compile(STAGE, ['read:users'])).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.Statement[0]?.Resource)).toBe(true);
    expect(compiler.compile(STAGE, ['write:users'])).not.toBe(first);
  });

  it('answers a caller allowed every route with one resource for the whole stage', () => {
    const policy = compiler.compile(STAGE, scopeCatalog(DEMO_ROUTE_TABLE));
    expect(policy.Statement).toEqual([{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: [`${STAGE}/*`] }]);
  });

  it('adds an explicit Deny when an allowed wildcard would cover a denied route, in every spelling of its method ARN', () => {
    const routes: RouteRule[] = [
      { method: 'POST', path: '/things/{id}', scopes: ['things:write'] },
      { method: 'POST', path: '/things/{id}/publish', scopes: ['things:write', 'things:publish'] },
    ];
    const policy = PolicyCompiler.fromRoutes(routes).compile(STAGE, ['things:write']);
    expect(allows(policy, `${STAGE}/POST/things/t1`)).toBe(true);
    expect(allows(policy, `${STAGE}/POST/things/t1/publish`)).toBe(false);
    expect(policy.Statement.find((statement) => statement.Effect === 'Deny')?.Resource).toEqual(
      expect.arrayContaining([
        `${STAGE}/POST/things/*/publish`,
        `${STAGE}/POST/things/*/publish/`,
        `${STAGE}/POST/things/*/%*`,
        `${STAGE}/POST/things/*/pub%*`,
      ]),
    );
    // The trailing-slash spelling and percent-encoded spellings of the literal are denied too, whichever way API
    // Gateway writes them in the method ARN.
    expect(allows(policy, `${STAGE}/POST/things/t1/publish/`)).toBe(false);
    expect(allows(policy, `${STAGE}/POST/things/t1/%70ublish`)).toBe(false);
    expect(allows(policy, `${STAGE}/POST/things/t1/publis%68`)).toBe(false);
  });

  it('refuses a parameter route beside a child whose caller may lack its scopes: a decoded %2F makes their method ARNs equal', () => {
    const routes: RouteRule[] = [
      { method: 'POST', path: '/things/{id}', scopes: ['things:write'] },
      { method: 'POST', path: '/things/{id}/publish', scopes: ['things:publish'] },
    ];
    // POST /things/t1%2Fpublish is served by /things/{id}; decoded, its ARN is POST/things/t1/publish.
    expect(() => compileRouteTable(routes, 'credential')).toThrow(/POST \/things\/\{id\}.*POST \/things\/\{id\}\/publish/);
    expect(compileRouteTable(routes).cacheScope).toBe('route');
  });

  it('refuses a route table whose policies IAM wildcards cannot express, naming the routes', () => {
    const routes: RouteRule[] = [
      { method: 'DELETE', path: '/{id}', scopes: [] },
      { method: 'DELETE', path: '/a/{id}', scopes: ['s2'] },
      { method: 'DELETE', path: '/a/a/a', scopes: [] },
    ];
    expect(() => compileRouteTable(routes, 'credential')).toThrow(AmbiguousRouteTableError);
    expect(() => compileRouteTable(routes, 'credential')).toThrow(/DELETE \/a\/\{id\}.*DELETE \/a\/a\/a/);
    // The route cache scope decides on the route API Gateway chose: nothing to refuse.
    expect(compileRouteTable(routes)).toEqual({ cacheScope: 'route', routes });
  });

  it('accepts a literal route beside a parameter sibling with other scopes (API Gateway routes literals first)', () => {
    const routes: RouteRule[] = [
      { method: 'GET', path: '/keys/{id}', scopes: ['keys:read'] },
      { method: 'GET', path: '/keys/stats', scopes: ['keys:admin'] },
    ];
    const policy = PolicyCompiler.fromRoutes(routes).compile(STAGE, ['keys:read']);
    expect(allows(policy, `${STAGE}/GET/keys/key_1`)).toBe(true);
    expect(allows(policy, `${STAGE}/GET/keys/stats`)).toBe(false);
    expect(allows(PolicyCompiler.fromRoutes(routes).compile(STAGE, ['keys:read', 'keys:admin']), `${STAGE}/GET/keys/stats`)).toBe(true);
  });

  it('accepts the demo route table', () => {
    expect(() => compileRouteTable(DEMO_ROUTE_TABLE, 'credential')).not.toThrow();
  });

  it('denies everything when no route is allowed', () => {
    const routes: RouteRule[] = [
      { method: 'GET', path: '/secret', scopes: ['secret:read'] },
      { method: 'GET', path: '/other', scopes: ['other:read'] },
    ];
    const policy = PolicyCompiler.fromRoutes(routes).compile(STAGE, []);
    expect(policy.Statement).toEqual([{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: [`${STAGE}/*`] }]);
  });

  it('leaves unauthenticated routes out of the policy', () => {
    const policy = compiler.compile(STAGE, []);
    expect(policy.Statement.flatMap((statement) => statement.Resource)).not.toContain(`${STAGE}/GET/health`);
  });

  it('property: for any scope set, the policy allows exactly the routes whose scopes it holds (demo route table)', () => {
    const catalog = scopeCatalog(DEMO_ROUTE_TABLE);
    fc.assert(
      fc.property(fc.subarray([...catalog, 'unrelated:scope']), fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/), (scopes, parameter) => {
        const policy = compiler.compile(STAGE, scopes);
        for (const route of authorizedRoutes(DEMO_ROUTE_TABLE)) {
          const expected = route.scopes.every((scope) => scopes.includes(scope));
          expect(allows(policy, requestArn(route, parameter))).toBe(expected);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('greedy {proxy+} and ANY routes', () => {
  const files: RouteRule[] = [
    { method: 'GET', path: '/files/public', scopes: [] },
    { method: 'ANY', path: '/files/{proxy+}', scopes: ['files:rw'] },
    { method: 'GET', path: '/keys', scopes: ['keys:read'] },
    { method: 'ANY', path: '/internal/{proxy+}', scopes: ['internal'] },
  ];
  const compiler = PolicyCompiler.fromRoutes(files);

  it('spells ANY as one resource per verb and a greedy parameter as a wildcard', () => {
    expect(routeResources({ method: 'ANY', path: '/files/{proxy+}' })).toEqual(HTTP_METHODS.map((method) => `${method}/files/*`));
    expect(routeResources({ method: 'GET', path: '/a/{id}/b' })).toEqual(['GET/a/*/b']);
  });

  it('a literal route beside a greedy one: /files/public needs nothing, /files/public/x needs files:rw', () => {
    const plain = compiler.compile(STAGE, []);
    expect(allows(plain, `${STAGE}/GET/files/public`)).toBe(true);
    expect(allows(plain, `${STAGE}/GET/files/public/x`)).toBe(false);
    expect(allows(plain, `${STAGE}/DELETE/files/a/b/c`)).toBe(false);
    const rw = compiler.compile(STAGE, ['files:rw']);
    expect(allows(rw, `${STAGE}/GET/files/public/x`)).toBe(true);
    expect(allows(rw, `${STAGE}/DELETE/files/a/b/c`)).toBe(true);
    expect(allows(rw, `${STAGE}/GET/internal/x`)).toBe(false);
  });

  it('a caller holding only keys:read never reaches a greedy route that needs another scope, at any depth', () => {
    const policy = compiler.compile(STAGE, ['keys:read']);
    expect(allows(policy, `${STAGE}/GET/keys`)).toBe(true);
    for (const path of ['/internal/x', '/internal/x/y', '/internal/keys', '/internal/a/b/c/d']) {
      for (const method of HTTP_METHODS) expect(allows(policy, `${STAGE}/${method}${path}`), `${method} ${path}`).toBe(false);
    }
  });

  it('models a greedy parameter as one or more segments holding /', () => {
    expect(patternReachesRoute('GET/files/*/deep', { method: 'GET', path: '/files/{proxy+}' })).toBe(true);
    expect(patternReachesRoute('GET/files/*/deep', { method: 'GET', path: '/files/{id}' })).toBe(false);
    expect(patternReachesRoute('POST/files/x', { method: 'ANY', path: '/files/{proxy+}' })).toBe(true);
  });

  it('refuses, naming the routes, a parameter route under a greedy one with other scopes that IAM cannot separate', () => {
    const routes: RouteRule[] = [
      { method: 'ANY', path: '/api/{proxy+}', scopes: ['api'] },
      { method: 'GET', path: '/api/v1/{id}', scopes: ['v1'] },
    ];
    expect(() => compileRouteTable(routes, 'credential')).toThrow(AmbiguousRouteTableError);
    expect(() => compileRouteTable(routes, 'credential')).toThrow(/GET \/api\/v1\/\{id\}.*ANY \/api\/\{proxy\+\}/);
  });

  it('refuses tables API Gateway cannot deploy, naming the routes', () => {
    expect(() =>
      compileRouteTable([
        { method: 'GET', path: '/a/{id}', scopes: [] },
        { method: 'GET', path: '/a/{proxy+}', scopes: [] },
      ]),
    ).toThrow(RouteTableError);
    expect(() =>
      compileRouteTable([
        { method: 'GET', path: '/a/{id}', scopes: [] },
        { method: 'POST', path: '/a/{key}', scopes: [] },
      ]),
    ).toThrow(/\{id\}, \{key\}/);
    expect(() => compileRouteTable([{ method: 'GET', path: '/a/{p+}/b', scopes: [] }])).toThrow(/last segment/);
    expect(() =>
      compileRouteTable([
        { method: 'GET', path: '/a', scopes: [] },
        { method: 'GET', path: '/a', scopes: ['x'] },
      ]),
    ).toThrow(/declared twice/);
    expect(() => compileRouteTable([{ method: 'FETCH' as RouteMethod, path: '/a', scopes: [] }])).toThrow(/method must be one of/);
  });

  it('property: random tables with greedy and ANY routes agree with a tree-walk model of API Gateway on every request', () => {
    const segment = fc.constantFrom('a', 'b', '{id}', 'x', '{proxy+}');
    const route = fc.record({
      method: fc.constantFrom<RouteMethod>('GET', 'POST', 'ANY'),
      path: fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => `/${parts.join('/')}`),
      scopes: fc.subarray(['s1', 's2', 's3']),
    });
    const request = fc.record({
      method: fc.constantFrom<HttpMethod>('GET', 'POST', 'DELETE'),
      segments: fc.array(fc.constantFrom('a', 'b', 'x', 'p1'), { minLength: 1, maxLength: 4 }),
    });
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.uniqueArray(route, { minLength: 1, maxLength: 6, selector: (r) => `${r.method} ${r.path}` }),
        fc.subarray(['s1', 's2', 's3']),
        fc.array(request, { minLength: 20, maxLength: 20 }),
        (routes, scopes, requests) => {
          let compiler: PolicyCompiler;
          try {
            compiler = PolicyCompiler.fromRoutes(routes);
          } catch (error) {
            // Refused tables are tested above; every accepted table must compile exactly.
            if (!(error instanceof AmbiguousRouteTableError) && !(error instanceof RouteTableError)) throw error;
            return;
          }
          accepted++;
          const policy = compiler.compile(STAGE, scopes);
          for (const { method, segments } of requests) {
            const path = `/${segments.join('/')}`;
            const served = apiGatewayServes(routes, method, modelSegments(path));
            if (!served) continue;
            expect(allows(policy, `${STAGE}/${method}${path}`), `${method} ${path} → ${served.method} ${served.path}`).toBe(
              served.scopes.every((scope) => scopes.includes(scope)),
            );
          }
        },
      ),
      { numRuns: 2000 },
    );
    expect(accepted).toBeGreaterThan(500);
  });
});

describe('trailing slashes (review finding)', () => {
  it('denies the trailing-slash spelling of a denied literal route that an allowed wildcard would otherwise match', () => {
    const routes: RouteRule[] = [
      { method: 'GET', path: '/{page}', scopes: [] },
      { method: 'GET', path: '/admin', scopes: ['admin'] },
    ];
    const policy = PolicyCompiler.fromRoutes(routes).compile(STAGE, []);
    expect(allows(policy, `${STAGE}/GET/home`)).toBe(true);
    expect(allows(policy, `${STAGE}/GET/admin`)).toBe(false);
    expect(allows(policy, `${STAGE}/GET/admin/`)).toBe(false);
  });
});

describe('scale', () => {
  it('compiles a 300-route, 100-scope table at synth and builds any policy from the shipped data alone', () => {
    const routes = generatedRouteTable(300, 100, { nestedScopes: true });
    const table = compileRouteTable(routes, 'credential');
    const shipped = new PolicyCompiler(JSON.parse(JSON.stringify(table)));
    const policy = shipped.compile(STAGE, ['scope-7', 'scope-42']);
    for (const route of routes)
      expect(allows(policy, requestArn(route, 'id1'))).toBe(route.scopes.every((scope) => ['scope-7', 'scope-42'].includes(scope)));
    for (const resource of policy.Statement.flatMap((statement) => statement.Resource)) expect(resource.length).toBeLessThanOrEqual(512);
  });
});
