/** The route-table rules, one by one: each accepts what it should and refuses the rest with RouteTableError, naming the route. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HTTP_METHODS, parseRoutePath, RouteTableError, type RouteRule } from '../../lambdas/core/route-table';
import {
  assertRouteDeclaration,
  assertRouteTable,
  isRouteMethod,
  isScopeName,
  routeKey,
  routePathProblem,
  type RouteDeclaration,
} from '../../lambdas/core/route-validation';

const WHERE = 'route GET /a';

describe('isRouteMethod', () => {
  it.each([...HTTP_METHODS, 'ANY'])('accepts %s', (method) => expect(isRouteMethod(method)).toBe(true));
  it.each(['get', 'TRACE', 'CONNECT', '', 'GET ', undefined, null, 1, ['GET']])('refuses %j', (method) =>
    expect(isRouteMethod(method)).toBe(false),
  );
});

describe('isScopeName', () => {
  it.each(['read', 'keys:read', 'orders.v2_read-all', 'a'.repeat(64)])('accepts %s', (scope) => expect(isScopeName(scope)).toBe(true));
  it.each(['', 'has space', ':read', 'a/b', 'a'.repeat(65), undefined, 7])('refuses %j', (scope) => expect(isScopeName(scope)).toBe(false));
});

describe('routePathProblem', () => {
  it.each(['/', '/orders', '/orders/{id}', '/orders/{id}/items', '/files/{proxy+}', '/a/{x}/b/{y}', "/a-b._~:@!$&'()+,;="])(
    'accepts %s',
    (path) => {
      expect(routePathProblem(path)).toBeUndefined();
    },
  );

  it.each([
    ['orders', 'path "orders" must start with /'],
    ['/orders/', 'path "/orders/" must not end with /'],
    ['/a//b', 'path /a//b: segment "" is neither a literal nor {name} nor a final {name+}'],
    ['/*', 'path /*: segment "*" is neither a literal nor {name} nor a final {name+}'],
    ['/a?min', 'path /a?min: segment "a?min" is neither a literal nor {name} nor a final {name+}'],
    ['/a/{1x}', 'path /a/{1x}: segment "{1x}" is neither a literal nor {name} nor a final {name+}'],
    ['/a/{p+}/b', 'path /a/{p+}/b: a greedy {p+} must be the last segment'],
    ['/a/{id}/b/{id}', 'path /a/{id}/b/{id} names the parameter {id} twice'],
    [undefined, 'path undefined must start with /'],
  ])('refuses %j: %s', (path, problem) => {
    expect(routePathProblem(path)).toBe(problem);
  });

  // The one-regex fast path must agree with parseRoutePath on every path, message included.
  it('says exactly what parseRoutePath says, for any path', () => {
    const segment = fc.oneof(
      fc.stringMatching(/^[a-z0-9*?+{}:._-]{0,4}$/),
      fc.constantFrom('{id}', '{id+}', '{a}', '{a+}', '{}', '{+}', '{1x}', 'a*', '%2F'),
    );
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 4 }), (segments) => {
        const path = `/${segments.join('/')}`;
        let expected: string | undefined;
        try {
          parseRoutePath(path);
        } catch (error) {
          expected = (error as Error).message;
        }
        expect(routePathProblem(path)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('assertRouteDeclaration (the per-route rules)', () => {
  it.each<[string, RouteDeclaration]>([
    ['an authorized route with scopes', { method: 'GET', path: '/a', scopes: ['read:a'] }],
    ['a route without scopes', { method: 'ANY', path: '/files/{proxy+}' }],
    ['an authorized: true route', { method: 'POST', path: '/a', scopes: [], authorized: true }],
    ['an open route without scopes', { method: 'GET', path: '/', authorized: false }],
    ['an open route with an empty scope list', { method: 'GET', path: '/health', scopes: [], authorized: false }],
  ])('accepts %s', (_, route) => {
    expect(() => assertRouteDeclaration(route, WHERE)).not.toThrow();
  });

  it.each<[string, RouteDeclaration, string]>([
    [
      'an unknown method',
      { method: 'FETCH', path: '/a' },
      `${WHERE}: method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY`,
    ],
    ['a lower-case method', { method: 'get', path: '/a' }, `${WHERE}: method must be one of`],
    ['a relative path', { method: 'GET', path: 'a' }, `${WHERE}: path "a" must start with /`],
    [
      'a greedy segment that is not last',
      { method: 'GET', path: '/a/{p+}/b' },
      `${WHERE}: path /a/{p+}/b: a greedy {p+} must be the last segment`,
    ],
    ['scopes that are not a list', { method: 'GET', path: '/a', scopes: 'read:a' }, `${WHERE}: scopes must be a list of scope names`],
    [
      'bad scope names',
      { method: 'GET', path: '/a', scopes: ['ok', 'bad scope', 3] },
      `${WHERE}: scope(s) "bad scope", 3 must match /^[A-Za-z0-9]`,
    ],
    ['authorized that is not a boolean', { method: 'GET', path: '/a', authorized: 'no' }, `${WHERE}: authorized must be true or false`],
    [
      'an open route with scopes',
      { method: 'GET', path: '/a', authorized: false, scopes: ['x:y'] },
      `${WHERE}: an open route (authorized: false) cannot require scopes`,
    ],
  ])('refuses %s', (_, route, message) => {
    expect(() => assertRouteDeclaration(route, WHERE)).toThrow(RouteTableError);
    expect(() => assertRouteDeclaration(route, WHERE)).toThrow(message);
  });

  it('checks the rules in order: the method before the path, the path before the scopes', () => {
    expect(() => assertRouteDeclaration({ method: 'FETCH', path: 'a', scopes: [''] }, WHERE)).toThrow(/method must be/);
    expect(() => assertRouteDeclaration({ method: 'GET', path: 'a', scopes: [''] }, WHERE)).toThrow(/must start with/);
  });
});

describe('routeKey', () => {
  it('is the same for the same method and path, whatever the scopes, and differs otherwise', () => {
    expect(routeKey({ method: 'GET', path: '/a' })).toBe('GET /a');
    expect(routeKey({ method: 'GET', path: '/a', scopes: ['x'] } as RouteRule)).toBe(routeKey({ method: 'GET', path: '/a' }));
    expect(routeKey({ method: 'GET', path: '/a' })).not.toBe(routeKey({ method: 'ANY', path: '/a' }));
    expect(routeKey({ method: 'GET', path: '/a' })).not.toBe(routeKey({ method: 'GET', path: '/a/' }));
  });
});

describe('assertRouteTable (the whole-table rules)', () => {
  const route = (method: string, path: string) => ({ method, path }) as Pick<RouteRule, 'method' | 'path'>;

  it.each<[string, Pick<RouteRule, 'method' | 'path'>[]]>([
    ['an empty table', []],
    ['one verb and ANY on one resource', [route('GET', '/a'), route('ANY', '/a')]],
    [
      'one variable child shared by several routes',
      [route('GET', '/a/{id}'), route('PUT', '/a/{id}'), route('GET', '/a/{id}/b'), route('GET', '/a/literal')],
    ],
    ['the same greedy child twice', [route('GET', '/f/{proxy+}'), route('PUT', '/f/{proxy+}')]],
    ['different variable children under different parents', [route('GET', '/a/{id}'), route('GET', '/b/{name}'), route('GET', '/{page}')]],
  ])('accepts %s and returns each route’s parsed path', (_, routes) => {
    const parsed = assertRouteTable(routes);
    expect(parsed).toEqual(routes.map((entry) => parseRoutePath(entry.path)));
  });

  it.each<[string, Pick<RouteRule, 'method' | 'path'>[], string]>([
    [
      'an unknown method',
      [route('TRACE', '/a')],
      'route "TRACE /a": method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY',
    ],
    ['a malformed path', [route('GET', '/a/*')], 'path /a/*: segment "*" is neither a literal nor {name} nor a final {name+}'],
    ['a route declared twice', [route('GET', '/a'), route('POST', '/a'), route('GET', '/a')], 'route "GET /a" is declared twice'],
    [
      'two parameters under one parent',
      [route('GET', '/a/{id}'), route('GET', '/a/{name}')],
      'routes "GET /a/{id}" and "GET /a/{name}" give /a two variable children ({id}, {name}); API Gateway allows one',
    ],
    [
      'a parameter and a greedy child under one parent',
      [route('GET', '/a/{id}'), route('GET', '/a/{proxy+}')],
      'routes "GET /a/{id}" and "GET /a/{proxy+}" give /a two variable children ({id}, {proxy+}); API Gateway allows one',
    ],
    [
      'two variable children of the root',
      [route('GET', '/{page}'), route('GET', '/{slug+}')],
      'give / two variable children ({page}, {slug+})',
    ],
    [
      'two variable children below a parameter',
      [route('GET', '/a/{id}/{x}'), route('GET', '/a/{id}/{y}')],
      'routes "GET /a/{id}/{x}" and "GET /a/{id}/{y}" give /a/{id} two variable children ({x}, {y})',
    ],
  ])('refuses %s', (_, routes, message) => {
    expect(() => assertRouteTable(routes)).toThrow(RouteTableError);
    expect(() => assertRouteTable(routes)).toThrow(message);
  });
});
