/** Large route tables (issue 20): nested stacks, one deployment for every method, least-privilege permissions, the quota warning. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCloudAssembly } from '../../lib/local/assembly';
import { managementRoutes, consumerRoutes } from '../../lambdas/core/route-table';
import { MAX_RESOURCES_PER_TEMPLATE, MAX_TEMPLATE_BYTES, assemblyTemplates, checkAssemblyTemplates } from '../support/template-checks';
import { synthLargeApp, type LargeApp } from '../support/large-app';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; DependsOn?: string[] }>;
const resourcesOf = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { Resources: Resources }).Resources;
const parentResources = (large: LargeApp) => resourcesOf(join(large.assembly.directory, 'AccBig.template.json'));
const deploymentOf = (resources: Resources) =>
  Object.entries(resources).find(([, resource]) => resource.Type === 'AWS::ApiGateway::Deployment') as [string, Resources[string]];
const nestedTemplates = (large: LargeApp) =>
  assemblyTemplates(large.assembly.directory).filter((file) => file.endsWith('.nested.template.json'));
const warningsOf = (large: LargeApp) =>
  large.assembly
    .getStackByName('AccBig')
    .messages.filter((message) => message.level === 'warning')
    .map((message) => String(message.entry.data));

/** The table as API Gateway must serve it: the app's routes plus the key API's (with plans, /keys/consumers too) and the leak endpoint. */
function expectedMethods(large: LargeApp): string[] {
  const own = [...managementRoutes('/keys'), ...consumerRoutes('/keys')].map((route) => `${route.method} ${route.path}`);
  return [...large.routes.map((route) => `${route.method} ${route.path}`), ...own, 'POST /leaks/github'].sort();
}

describe('a 300-route app with 10 functions, plans and monitoring', () => {
  let large: LargeApp;
  beforeAll(() => {
    large = synthLargeApp({ routeCount: 300, scopeCount: 60 });
  }, 120_000);

  it('synthesizes on the default resource limit, each template within 500 resources and 1 MB, every reference and nested parameter resolvable', () => {
    const { problems, templates } = checkAssemblyTemplates(large.assembly.directory);
    expect(problems).toEqual([]);
    expect(templates.filter((template) => template.nested).length).toBeGreaterThanOrEqual(2);
    for (const template of templates) {
      expect(template.resources, template.file).toBeLessThanOrEqual(MAX_RESOURCES_PER_TEMPLATE);
      expect(template.bytes, template.file).toBeLessThanOrEqual(MAX_TEMPLATE_BYTES);
    }
  });

  it('makes every route of the table a method, behind the dualgate authorizer unless open', () => {
    const [api, ...others] = readCloudAssembly(large.assembly.directory).apis;
    expect(others).toEqual([]);
    expect(api!.methods.map((method) => `${method.method} ${method.path}`).sort()).toEqual(expectedMethods(large));
    const open = api!.methods.filter((method) => !method.authorized).map((method) => `${method.method} ${method.path}`);
    expect(open).toEqual(['POST /leaks/github']);
    // The methods live in the nested stacks, not in the API's stack.
    expect(Object.values(parentResources(large)).filter((resource) => resource.Type === 'AWS::ApiGateway::Method')).toEqual([]);
  });

  it('keeps each path family in one nested stack', () => {
    const [api] = readCloudAssembly(large.assembly.directory).apis;
    const stacksOfFamily = new Map<string, Set<string>>();
    for (const method of api!.methods) {
      const family = method.path.split('/')[1] as string;
      const stack = method.logicalId.includes('.') ? (method.logicalId.split('.')[0] as string) : 'parent';
      stacksOfFamily.set(family, new Set([...(stacksOfFamily.get(family) ?? []), stack]));
    }
    for (const [family, stacks] of stacksOfFamily)
      expect([family, [...stacks]]).toEqual([family, [expect.stringMatching(/NestedStackResource/)]]);
  });

  it("makes the stage's one deployment depend on every nested stack that holds methods", () => {
    const resources = parentResources(large);
    const nestedStacks = Object.entries(resources)
      .filter(([, resource]) => resource.Type === 'AWS::CloudFormation::Stack')
      .map(([id]) => id);
    expect(nestedStacks.length).toBe(nestedTemplates(large).length);
    const [, deployment] = deploymentOf(resources);
    expect(deployment.DependsOn).toEqual(expect.arrayContaining(nestedStacks));
    const stages = Object.values(resources).filter((resource) => resource.Type === 'AWS::ApiGateway::Stage');
    expect(stages).toHaveLength(1);
  });

  it("keeps one invoke permission per function, in the function's stack, for this API's methods only", () => {
    const permissions = assemblyTemplates(large.assembly.directory).flatMap((file) =>
      Object.values(resourcesOf(file))
        .filter(
          (resource) => resource.Type === 'AWS::Lambda::Permission' && resource.Properties?.['Principal'] === 'apigateway.amazonaws.com',
        )
        .map((resource) => ({ file, properties: resource.Properties! })),
    );
    expect(permissions.every(({ file }) => file.endsWith('AccBig.template.json'))).toBe(true);
    const byFunction = new Map<string, number>();
    for (const { properties } of permissions)
      byFunction.set(JSON.stringify(properties['FunctionName']), (byFunction.get(JSON.stringify(properties['FunctionName'])) ?? 0) + 1);
    // The ten services, the key API and the leak endpoint (the authorizer's own permission is API Gateway's authorizer call).
    expect(byFunction.size).toBeGreaterThanOrEqual(12);
    expect([...byFunction.values()].every((count) => count === 1)).toBe(true);
    for (const { properties } of permissions) expect(JSON.stringify(properties['SourceArn'])).toMatch(/GateApi[0-9A-F]{8}"\}/);
  });

  it('says nothing about the resource quota while the table stays within 300 resources', () => {
    expect(warningsOf(large).filter((warning) => warning.includes('Resources per API'))).toEqual([]);
  });

  it('changes one nested stack, and the deployment, when one route is added', () => {
    const grown = synthLargeApp({
      routeCount: 300,
      scopeCount: 60,
      edit: (routes) => [...routes, { method: 'GET', path: '/svc7/{id}/history', scopes: ['scope-14'], functionIndex: 7 }],
    });
    const contents = (app: LargeApp) =>
      new Map(nestedTemplates(app).map((file) => [file.slice(app.assembly.directory.length + 1), readFileSync(file, 'utf8')]));
    const before = contents(large);
    const after = contents(grown);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const changed = [...after].filter(([name, text]) => before.get(name) !== text).map(([name]) => name);
    expect(changed).toHaveLength(1);
    expect(after.get(changed[0]!)).toContain('"history"');
    expect(deploymentOf(parentResources(grown))[0]).not.toBe(deploymentOf(parentResources(large))[0]);
  }, 120_000);
});

describe('a 1,000-route app across 100 scopes', () => {
  let large: LargeApp;
  beforeAll(() => {
    // A Cognito resource server holds 100 scopes: a table this wide uses an external issuer.
    large = synthLargeApp({
      routeCount: 1000,
      scopeCount: 100,
      props: { issuers: [{ issuer: 'https://login.example.com/', audience: 'api://large' }] },
    });
  }, 120_000);

  it('synthesizes with every template within CloudFormation limits and every route a method', () => {
    expect(checkAssemblyTemplates(large.assembly.directory).problems).toEqual([]);
    const [api] = readCloudAssembly(large.assembly.directory).apis;
    expect(api!.methods.map((method) => `${method.method} ${method.path}`).sort()).toEqual(expectedMethods(large));
  });

  it('warns, without failing, that the table passes API Gateway’s 300 resources per API, with the number and the quota to raise', () => {
    const warnings = warningsOf(large).filter((warning) => warning.includes('Resources per API'));
    expect(warnings).toHaveLength(1);
    // The number is what the templates hold: every AWS::ApiGateway::Resource, nested ones included, plus the root.
    const resources = assemblyTemplates(large.assembly.directory).flatMap((file) =>
      Object.values(resourcesOf(file)).filter((resource) => resource.Type === 'AWS::ApiGateway::Resource'),
    );
    expect(resources.length + 1).toBeGreaterThan(800);
    expect(warnings[0]).toContain(
      `has ${resources.length + 1} API Gateway resources (paths, the root included), and API Gateway allows 300 per REST API by default`,
    );
    expect(warnings[0]).toMatch(
      /raise the quota "Resources per API".*Service Quotas.*request-service-quota-increase --service-code apigateway/,
    );
  });
});

describe('routes given a LambdaIntegration, in nested stacks', () => {
  it("synthesizes without a cycle: dualgate's one permission per function replaces LambdaIntegration's two per method", () => {
    const large = synthLargeApp({ routeCount: 300, scopeCount: 60, lambdaIntegration: true, props: { nestedStacks: true } });
    expect(checkAssemblyTemplates(large.assembly.directory).problems).toEqual([]);
    expect(nestedTemplates(large).length).toBeGreaterThan(2);
    for (const file of nestedTemplates(large))
      expect(
        Object.values(resourcesOf(file)).filter((resource) => resource.Type === 'AWS::Lambda::Permission'),
        file,
      ).toEqual([]);
    const permissions = Object.values(parentResources(large)).filter(
      (resource) => resource.Type === 'AWS::Lambda::Permission' && resource.Properties?.['Principal'] === 'apigateway.amazonaws.com',
    );
    const byFunction = new Map<string, number>();
    for (const permission of permissions)
      byFunction.set(
        JSON.stringify(permission.Properties!['FunctionName']),
        (byFunction.get(JSON.stringify(permission.Properties!['FunctionName'])) ?? 0) + 1,
      );
    expect([...byFunction.values()].every((count) => count === 1)).toBe(true);
    // The integration is the app's: a Lambda proxy to the route's function.
    const [api] = readCloudAssembly(large.assembly.directory).apis;
    expect(api!.methods.map((method) => `${method.method} ${method.path}`).sort()).toEqual(expectedMethods(large));
    expect(api!.methods.find((method) => method.path === large.routes[0]!.path)?.integration).toMatchObject({ kind: 'lambda' });
  }, 120_000);
});

describe("nestedStacks: 'auto' decides on the stack's CloudFormation resources", () => {
  it('nests a 120-route table with one function per route (600 resources inline), and keeps a 100-route, 10-function table in the stack', () => {
    const perRoute = (count: number) =>
      synthLargeApp({
        routeCount: count,
        scopeCount: 20,
        functionCount: count,
        edit: (routes) => routes.map((route, index) => ({ ...route, functionIndex: index })),
      });
    const wide = perRoute(120);
    expect(checkAssemblyTemplates(wide.assembly.directory).problems).toEqual([]);
    expect(nestedTemplates(wide).length).toBeGreaterThan(0);
    expect(warningsOf(wide).some((warning) => warning.includes("nestedStacks 'auto': the routes go into nested stacks"))).toBe(true);
    const bench = synthLargeApp({ routeCount: 100, scopeCount: 20 });
    expect(nestedTemplates(bench)).toEqual([]);
    expect(Object.keys(parentResources(bench)).length).toBeLessThanOrEqual(450);
  }, 180_000);

  it('keeps a table that fits in the stack where a version without nesting put it: same logical ids for every resource and method', () => {
    const app = synthLargeApp({ routeCount: 150, scopeCount: 30, props: { plans: undefined, defaultPlan: undefined } });
    expect(nestedTemplates(app)).toEqual([]);
    const resources = parentResources(app);
    // The ids a route's resources and methods had before issue 20 (created with api.root.resourceForPath and addMethod).
    const ids = Object.keys(resources);
    for (const pattern of [
      /^GateApisvc0searchrecent[0-9A-F]{8}$/,
      /^GateApisvc0searchrecentGET[0-9A-F]{8}$/,
      /^GateApisvc14id[0-9A-F]{8}$/,
      /^GateApisvc14idANY[0-9A-F]{8}$/,
    ]) {
      expect(
        ids.filter((id) => pattern.test(id)),
        String(pattern),
      ).toHaveLength(1);
    }
  }, 120_000);

  it('gives every nested stack a short fixed description (CloudFormation allows 1,024 bytes), however many families it holds', () => {
    const wide = synthLargeApp({
      routeCount: 0,
      scopeCount: 1,
      functionCount: 1,
      props: { nestedStacks: true, plans: undefined, defaultPlan: undefined, monitoring: false },
      edit: () =>
        Array.from({ length: 300 }, (_, index) => ({
          method: 'GET' as const,
          path: `/customer-profile${index}`,
          scopes: ['scope-0'],
          functionIndex: 0,
        })),
    });
    for (const file of nestedTemplates(wide)) {
      const description = (JSON.parse(readFileSync(file, 'utf8')) as { Description?: string }).Description ?? '';
      expect(description.length, file).toBeLessThan(200);
    }
  }, 120_000);
});

describe('nestedStacks', () => {
  // The key API's and the consumer API's methods, and the leak endpoint.
  const OWN_METHODS = managementRoutes('/keys').length + consumerRoutes('/keys').length + 1;
  const small = (nestedStacks: boolean | 'auto', edit?: Parameters<typeof synthLargeApp>[0]['edit']) =>
    synthLargeApp({
      routeCount: 30,
      scopeCount: 6,
      functionCount: 3,
      props: { nestedStacks, plans: undefined, defaultPlan: undefined, monitoring: false },
      ...(edit ? { edit } : {}),
    });

  it("keeps a small table in the API's stack by default, and nests it with nestedStacks: true", () => {
    const inline = small('auto');
    expect(nestedTemplates(inline)).toEqual([]);
    expect(Object.values(parentResources(inline)).filter((resource) => resource.Type === 'AWS::ApiGateway::Method').length).toBe(
      30 + OWN_METHODS,
    );
    const nested = small(true);
    expect(nestedTemplates(nested).length).toBeGreaterThan(0);
    expect(checkAssemblyTemplates(nested.assembly.directory).problems).toEqual([]);
    expect(readCloudAssembly(nested.assembly.directory).apis[0]!.methods).toHaveLength(30 + OWN_METHODS);
  }, 60_000);

  it('gives the deployment a new logical id when a nested method changes, and the same one when nothing does', () => {
    const first = deploymentOf(parentResources(small(true)))[0];
    expect(deploymentOf(parentResources(small(true)))[0]).toBe(first);
    const moved = small(true, (routes) =>
      routes.map((route) => (route.path === '/svc1/{id}/items' ? { ...route, functionIndex: (route.functionIndex + 1) % 3 } : route)),
    );
    expect(deploymentOf(parentResources(moved))[0]).not.toBe(first);
  }, 60_000);

  it('refuses a setting other than auto, true or false', () => {
    expect(() => small('always' as never)).toThrow(/nestedStacks must be 'auto', true or false \(got "always"\)/);
  });
});
