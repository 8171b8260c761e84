import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AmbiguousRouteTableError, apiStageArn, iamPatternMatches, patternReachesRoute, PolicyCompiler, routeResource, servingRoute, type PolicyDocument } from '../../lambdas/authorizer/policy-compiler';
import { authorizedRoutes, ROUTES, scopeCatalog, type HttpMethod, type Route } from '../../lib/routes';

const STAGE = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/v1';

/** IAM evaluation for one request ARN: explicit Deny wins, otherwise any Allow, otherwise implicit deny. */
function allows(policy: PolicyDocument, arn: string): boolean {
  const matching = policy.Statement.filter((statement) => statement.Resource.some((resource) => iamPatternMatches(resource, arn)));
  if (matching.some((statement) => statement.Effect === 'Deny')) return false;
  return matching.some((statement) => statement.Effect === 'Allow');
}

/** A concrete request ARN for a route, with path parameters filled in (possibly with values that contain slashes-free junk). */
function requestArn(route: Pick<Route, 'method' | 'path'>, parameter = 'key_01HZX'): string {
  return `${STAGE}/${route.method}${route.path.replace(/\{[^}]+\}/g, parameter)}`;
}

/** An independent model of API Gateway's REST resource matching: same segment count, literals preferred left to right. */
function apiGatewayServes(routes: readonly Route[], method: string, path: string): Route | undefined {
  const segments = path.split('/').slice(1);
  const candidates = routes.filter((route) => {
    const template = route.path.split('/').slice(1);
    return route.method === method && template.length === segments.length && template.every((part, index) => part.startsWith('{') || part === segments[index]);
  });
  const rank = (route: Route) => route.path.split('/').slice(1).map((part) => (part.startsWith('{') ? '0' : '1')).join('');
  return candidates.sort((a, b) => rank(b).localeCompare(rank(a)))[0];
}

describe('servingRoute', () => {
  it('prefers literal segments, left to right, like API Gateway', () => {
    const routes: Route[] = [
      { method: 'GET', path: '/keys/{id}', handler: 'backends/me', scopes: [] },
      { method: 'GET', path: '/keys/stats', handler: 'backends/me', scopes: [] },
      { method: 'GET', path: '/{a}/stats', handler: 'backends/me', scopes: [] },
    ];
    expect(servingRoute(routes, 'GET', '/keys/stats')?.path).toBe('/keys/stats');
    expect(servingRoute(routes, 'GET', '/keys/k1')?.path).toBe('/keys/{id}');
    expect(servingRoute(routes, 'GET', '/other/stats')?.path).toBe('/{a}/stats');
    expect(servingRoute(routes, 'POST', '/keys/stats')).toBeUndefined();
  });
});

describe('apiStageArn', () => {
  it('takes the API and stage from a method ARN', () => {
    expect(apiStageArn(`${STAGE}/GET/users`)).toBe(STAGE);
    expect(apiStageArn('arn:aws:execute-api:us-east-1:000000000000:local/dev/POST/keys/abc/rotate')).toBe('arn:aws:execute-api:us-east-1:000000000000:local/dev');
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
  const compiler = new PolicyCompiler(ROUTES);

  it('allows exactly the routes the scopes permit and covers every route, whatever methodArn asked', () => {
    const policy = compiler.compile(STAGE, ['read:users']);
    for (const route of authorizedRoutes()) {
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

  it('adds an explicit Deny when an allowed wildcard would cover a denied route', () => {
    const routes: Route[] = [
      { method: 'POST', path: '/things/{id}', handler: 'backends/me', scopes: ['things:write'] },
      { method: 'POST', path: '/things/{id}/publish', handler: 'backends/me', scopes: ['things:publish'] },
    ];
    const policy = new PolicyCompiler(routes).compile(STAGE, ['things:write']);
    expect(allows(policy, `${STAGE}/POST/things/t1`)).toBe(true);
    expect(allows(policy, `${STAGE}/POST/things/t1/publish`)).toBe(false);
    expect(policy.Statement.find((statement) => statement.Effect === 'Deny')?.Resource).toEqual([`${STAGE}/POST/things/*/publish`]);
  });

  it('refuses a route table whose policies IAM wildcards cannot express, naming the routes', () => {
    const routes: Route[] = [
      { method: 'DELETE', path: '/{id}', handler: 'backends/me', scopes: [] },
      { method: 'DELETE', path: '/a/{id}', handler: 'backends/me', scopes: ['s2'] },
      { method: 'DELETE', path: '/a/a/a', handler: 'backends/me', scopes: [] },
    ];
    expect(() => new PolicyCompiler(routes)).toThrow(AmbiguousRouteTableError);
    expect(() => new PolicyCompiler(routes)).toThrow(/DELETE \/a\/\{id\}.*DELETE \/a\/a\/a/);
  });

  it('accepts a literal route beside a parameter sibling with other scopes (API Gateway routes literals first)', () => {
    const routes: Route[] = [
      { method: 'GET', path: '/keys/{id}', handler: 'backends/me', scopes: ['keys:read'] },
      { method: 'GET', path: '/keys/stats', handler: 'backends/me', scopes: ['keys:admin'] },
    ];
    const policy = new PolicyCompiler(routes).compile(STAGE, ['keys:read']);
    expect(allows(policy, `${STAGE}/GET/keys/key_1`)).toBe(true);
    expect(allows(policy, `${STAGE}/GET/keys/stats`)).toBe(false);
    expect(allows(new PolicyCompiler(routes).compile(STAGE, ['keys:read', 'keys:admin']), `${STAGE}/GET/keys/stats`)).toBe(true);
  });

  it('accepts the real route table', () => {
    expect(() => new PolicyCompiler(ROUTES)).not.toThrow();
  });

  it('denies everything when no route is allowed', () => {
    const routes: Route[] = [{ method: 'GET', path: '/secret', handler: 'backends/me', scopes: ['secret:read'] }];
    const policy = new PolicyCompiler(routes).compile(STAGE, []);
    expect(policy.Statement).toEqual([{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: [`${STAGE}/*`] }]);
  });

  it('leaves unauthenticated routes out of the policy', () => {
    const policy = compiler.compile(STAGE, []);
    expect(policy.Statement.flatMap((statement) => statement.Resource)).not.toContain(`${STAGE}/GET/health`);
  });

  it('property: for any scope set, the policy allows exactly the routes whose scopes it holds (real route table)', () => {
    const catalog = scopeCatalog();
    fc.assert(
      fc.property(fc.subarray([...catalog, 'unrelated:scope']), fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/), (scopes, parameter) => {
        const policy = compiler.compile(STAGE, scopes);
        for (const route of authorizedRoutes()) {
          const expected = route.scopes.every((scope) => scopes.includes(scope));
          expect(allows(policy, requestArn(route, parameter))).toBe(expected);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('property: holds for random route tables too, nested paths included', () => {
    const segment = fc.constantFrom('a', 'b', '{id}', '{other}', 'x');
    const route = fc.record({
      method: fc.constantFrom<HttpMethod>('GET', 'POST', 'DELETE'),
      path: fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => `/${parts.join('/')}`),
      scopes: fc.subarray(['s1', 's2', 's3']),
    });
    fc.assert(
      fc.property(fc.uniqueArray(route, { minLength: 1, maxLength: 6, selector: (r) => `${r.method}${r.path.replace(/\{[^}]+\}/g, '*')}` }), fc.subarray(['s1', 's2', 's3']), (spec, scopes) => {
        const routes: Route[] = spec.map((r) => ({ ...r, handler: 'backends/me' }));
        let compiler: PolicyCompiler;
        try {
          compiler = new PolicyCompiler(routes);
        } catch (error) {
          // Refused tables are tested above; every accepted table must compile exactly.
          expect(error).toBeInstanceOf(AmbiguousRouteTableError);
          return;
        }
        const policy = compiler.compile(STAGE, scopes);
        for (const r of routes) {
          // API Gateway routes a path to the most specific matching resource (a literal segment beats a
          // parameter, left to right): check each route on a path that it, and no more specific route, serves.
          for (const fill of ['p1', 'a', 'b']) {
            const path = r.path.replace(/\{[^}]+\}/g, fill);
            if (apiGatewayServes(routes, r.method, path) !== r) continue;
            expect(allows(policy, `${STAGE}/${r.method}${path}`)).toBe(r.scopes.every((scope) => scopes.includes(scope)));
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
