/** The route-table file a Lambda reads at init: a hand-edited one that would widen policies fails the cold start. */
import { describe, expect, it } from 'vitest';
import { compileRouteTable } from '../../lambdas/authorizer/policy-compiler';
import { parseRuntimeRouteConfig } from '../../lambdas/shared/route-config';
import { SettingsError } from '../../lambdas/shared/settings';

const ROUTES = [
  { method: 'GET', path: '/admin', scopes: ['admin'] },
  { method: 'GET', path: '/{page}', scopes: [] },
] as const;
const good = (cacheScope: 'route' | 'credential' = 'credential') => ({ version: 2, routeTable: compileRouteTable(ROUTES, cacheScope), catalog: ['admin'], managementBasePath: null });

describe('parseRuntimeRouteConfig', () => {
  it('accepts what the construct writes, in either cache scope', () => {
    expect(parseRuntimeRouteConfig(JSON.parse(JSON.stringify(good()))).routeTable).toMatchObject({ cacheScope: 'credential', routes: ROUTES, coveredBy: [[1], []] });
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
    ['a route listed twice', (config: any) => (config.routeTable.routes.push({ ...config.routeTable.routes[0], scopes: [] }), config.routeTable.coveredBy.push([])), /GET \/admin is listed twice/],
    ['an older version', (config: any) => (config.version = 1), /unsupported version 1/],
  ])('refuses %s', (_, mutate, message) => {
    const config = JSON.parse(JSON.stringify(good()));
    mutate(config);
    expect(() => parseRuntimeRouteConfig(config)).toThrow(SettingsError);
    expect(() => parseRuntimeRouteConfig(config)).toThrow(message);
  });
});
