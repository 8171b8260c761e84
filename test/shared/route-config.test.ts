/** The route-table file a Lambda reads at init: a hand-edited one that would widen policies fails the cold start. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRouteTable } from '../../lambdas/core/policy-compiler';
import { parseRuntimeRouteConfig } from '../../lambdas/core/route-config';
import { SettingsError } from '../../lambdas/core/settings';
import { parseRoutePath } from '../../lambdas/core/route-table';

const ROUTES = [
  { method: 'GET', path: '/admin', scopes: ['admin'] },
  { method: 'GET', path: '/{page}', scopes: [] },
] as const;
const good = (cacheScope: 'route' | 'credential' = 'credential') => ({
  version: 2,
  routeTable: compileRouteTable(ROUTES, cacheScope),
  catalog: ['admin'],
  managementBasePath: null,
});

describe('parseRuntimeRouteConfig', () => {
  it('accepts what the construct writes, in either cache scope', () => {
    expect(parseRuntimeRouteConfig(JSON.parse(JSON.stringify(good()))).routeTable).toMatchObject({
      cacheScope: 'credential',
      routes: ROUTES,
      coveredBy: [[1], []],
    });
    expect(parseRuntimeRouteConfig(JSON.parse(JSON.stringify(good('route')))).routeTable).toEqual({ cacheScope: 'route', routes: ROUTES });
  });

  it.each([
    ['a path with an IAM wildcard', (config: any) => (config.routeTable.routes[1].path = '/*'), /segment "\*"/],
    ['a path with ?', (config: any) => (config.routeTable.routes[0].path = '/a?min'), /routes\[0\]/],
    ['an empty scope', (config: any) => (config.routeTable.routes[0].scopes = ['']), /scopes must be scope names/],
    ['an open route', (config: any) => (config.routeTable.routes[0].authorized = false), /authorized routes only/],
    ['coveredBy pointing nowhere', (config: any) => (config.routeTable.coveredBy[0] = [7]), /coveredBy\[0\]/],
    ['an unknown method', (config: any) => (config.routeTable.routes[0].method = 'TRACE'), /routes\[0\] is not/],
    ['an unknown cache scope', (config: any) => (config.routeTable.cacheScope = 'stage'), /cacheScope must be one of route, credential/],
    [
      'a route listed twice',
      (config: any) => (
        config.routeTable.routes.push({ ...config.routeTable.routes[0], scopes: [] }), config.routeTable.coveredBy.push([])
      ),
      /GET \/admin is listed twice/,
    ],
    ['an older version', (config: any) => (config.version = 1), /unsupported version 1/],
  ])('refuses %s', (_, mutate, message) => {
    const config = JSON.parse(JSON.stringify(good()));
    mutate(config);
    expect(() => parseRuntimeRouteConfig(config)).toThrow(SettingsError);
    expect(() => parseRuntimeRouteConfig(config)).toThrow(message);
  });
});

describe('parseRuntimeRouteConfig: the one-regex path check', () => {
  // The config reader recognises ordinary paths with one regex and sends everything else to parseRoutePath; the two
  // must accept exactly the same paths, whatever the characters, parameters and slashes.
  const segment = fc.oneof(
    fc.stringMatching(/^[a-z0-9*?+{}:._-]{0,4}$/),
    fc.constantFrom('{id}', '{id+}', '{proxy+}', '{a}', '{a+}', '{}', '{+}', '{1x}', 'a*', 'x?y', '%2F'),
  );
  const path = fc.array(segment, { maxLength: 4 }).map((segments) => `/${segments.join('/')}`);

  it('accepts a path exactly when parseRoutePath does', () => {
    fc.assert(
      fc.property(path, (candidate) => {
        let parses = true;
        try {
          parseRoutePath(candidate);
        } catch {
          parses = false;
        }
        const config = {
          version: 2,
          routeTable: { cacheScope: 'route', routes: [{ method: 'GET', path: candidate, scopes: [] }] },
          catalog: [],
          managementBasePath: null,
        };
        let accepted = true;
        try {
          parseRuntimeRouteConfig(config);
        } catch {
          accepted = false;
        }
        expect(accepted).toBe(parses);
      }),
      { numRuns: 3000 },
    );
  });
});
