/** The route-table file a Lambda reads at init: a hand-edited one that would widen policies fails the cold start. */
import { describe, expect, it } from 'vitest';
import { compileRouteTable } from '../../lambdas/authorizer/policy-compiler';
import { parseRuntimeRouteConfig } from '../../lambdas/shared/route-config';
import { SettingsError } from '../../lambdas/shared/settings';

const good = () => ({ version: 1, routeTable: compileRouteTable([{ method: 'GET', path: '/admin', scopes: ['admin'] }, { method: 'GET', path: '/{page}', scopes: [] }]), catalog: ['admin'], managementBasePath: null });

describe('parseRuntimeRouteConfig', () => {
  it('accepts what the construct writes', () => {
    expect(parseRuntimeRouteConfig(JSON.parse(JSON.stringify(good()))).routeTable.routes).toHaveLength(2);
  });

  it.each([
    ['a path with an IAM wildcard', (config: any) => (config.routeTable.routes[1].path = '/*'), /segment "\*"/],
    ['a path with ?', (config: any) => (config.routeTable.routes[0].path = '/a?min'), /routes\[0\]/],
    ['an empty scope', (config: any) => (config.routeTable.routes[0].scopes = ['']), /scopes must be scope names/],
    ['an open route', (config: any) => (config.routeTable.routes[0].authorized = false), /authorized routes only/],
    ['coveredBy pointing nowhere', (config: any) => (config.routeTable.coveredBy[0] = [7]), /coveredBy\[0\]/],
    ['an unknown method', (config: any) => (config.routeTable.routes[0].method = 'TRACE'), /routes\[0\] is not/],
  ])('refuses %s', (_, mutate, message) => {
    const config = JSON.parse(JSON.stringify(good()));
    mutate(config);
    expect(() => parseRuntimeRouteConfig(config)).toThrow(SettingsError);
    expect(() => parseRuntimeRouteConfig(config)).toThrow(message);
  });
});
