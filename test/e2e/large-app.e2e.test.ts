/**
 * Issue 20's acceptance, through the packed package: a 300-route app with 10 functions, plans and monitoring
 * (test/fixtures/large-app) is installed from the tarball, synthesized with CDK's default resource limit, checked
 * template by template (nested stacks included), and served by `npx dualgate dev`, which synthesizes it itself.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { largeAppRouteTable, type LargeAppRoute } from '../../bench/fixtures';
import { readCloudAssembly } from '../../lib/local/assembly';
import { isDeployedTarget } from '../support/e2e-target';
import { callGateway, localToken, startNpxDev, stopNpxDev, type NpxDev } from '../support/npx-dev';
import { largeApp, REPO } from '../support/prepared';
import { checkAssemblyTemplates } from '../support/template-checks';

const CLIENT_ID = 'platform-team';
const ROUTES = JSON.parse(readFileSync(join(REPO, 'test', 'fixtures', 'large-app', 'routes.json'), 'utf8')) as LargeAppRoute[];
const scopeOf = (method: string, path: string) => ROUTES.find((route) => route.method === method && route.path === path)!.scopes;

describe('the fixture table', () => {
  it('is the large-app table bench/fixtures.ts generates (300 routes, 60 scopes, 10 functions)', () => {
    expect(ROUTES).toEqual(largeAppRouteTable(300, { scopeCount: 60, functionCount: 10 }));
  });
});

describe.skipIf(isDeployedTarget())('a 300-route app with 10 functions, plans and monitoring, from the packed package', () => {
  let app: ReturnType<typeof largeApp>;
  let dev: NpxDev;

  beforeAll(async () => {
    app = largeApp();
    dev = await startNpxDev(app.appDir);
  }, 600_000);

  afterAll(() => stopNpxDev(dev?.child));

  it('synthesizes on the default resource limit with no template over 500 resources or 1 MB, and consistent references', () => {
    const { problems, templates } = checkAssemblyTemplates(app.assemblyDir);
    expect(problems).toEqual([]);
    expect(templates.some((template) => template.nested)).toBe(true);
  });

  it('makes every route of the table a method', () => {
    const [api] = readCloudAssembly(app.assemblyDir).apis;
    const methods = new Set(api!.methods.map((method) => `${method.method} ${method.path}`));
    expect(ROUTES.filter((route) => !methods.has(`${route.method} ${route.path}`))).toEqual([]);
  });

  it('serves a deep greedy route to a JWT and to an API key holding its scope', async () => {
    const scopes = scopeOf('GET', '/svc3/files/{proxy+}');
    const jwt = await localToken(dev, CLIENT_ID, scopes);
    const deep = '/svc3/files/reports/2026/q4/summary/final.json';
    const byJwt = await callGateway(dev, 'GET', deep, jwt);
    expect(byJwt).toEqual({
      status: 200,
      body: { service: 3, resource: '/svc3/files/{proxy+}', method: 'GET', path: deep, sub: CLIENT_ID },
    });
    const creator = await localToken(dev, CLIENT_ID, ['keys:write', ...scopes]);
    const created = await callGateway(dev, 'POST', '/keys', creator, { name: 'svc3 reader', scopes });
    expect(created.status).toBe(201);
    const byKey = await callGateway(dev, 'GET', deep, String(created.body['key']));
    expect(byKey.status).toBe(200);
    expect(byKey.body['resource']).toBe('/svc3/files/{proxy+}');
  });

  it('denies routes of another service to the same credential', async () => {
    const jwt = await localToken(dev, CLIENT_ID, scopeOf('GET', '/svc3/files/{proxy+}'));
    expect(scopeOf('GET', '/svc4/files/{proxy+}')).not.toEqual(scopeOf('GET', '/svc3/files/{proxy+}'));
    expect((await callGateway(dev, 'GET', '/svc4/files/reports/q4.json', jwt)).status).toBe(403);
    expect((await callGateway(dev, 'PUT', '/svc4/{id}/items/7', jwt)).status).toBe(403);
  });
});
