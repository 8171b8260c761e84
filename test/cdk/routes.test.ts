/** DualAuthApi as a library: the app's own routes, handlers and integrations, and the route table that reaches the Lambdas. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { RouteBoundTable } from '../../lambdas/authorizer/route-policy';
import { OVERLAPPING_ROUTES } from '../support/overlap-tables';
import { parseRuntimeRouteConfig, RUNTIME_CONFIG_FILE, type RuntimeRouteConfig } from '../../lambdas/core/route-config';
import { DualAuthApi, type DualAuthApiProps } from '../../lib/construct/dual-auth-api';
import { generatedRouteTable } from '../../bench/fixtures';

const ENV = { account: '123456789012', region: 'eu-west-1' };

function appStack(context: Record<string, unknown> = {}) {
  const app = new App({ context });
  const stack = new Stack(app, 'AppStack', { env: ENV });
  const fn = (id: string) =>
    new lambda.Function(stack, id, {
      code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "{}" })'),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
    });
  return { app, stack, fn };
}

/** The route-table file a dualgate function's code asset carries, read from the synthesized cloud assembly. */
function shippedConfig(app: App, stack: Stack, gate: DualAuthApi, which: 'authorizerFunction' | 'managementFunction'): RuntimeRouteConfig {
  const assembly = app.synth();
  const template = assembly.getStackByName(stack.stackName).template as {
    Resources: Record<string, { Properties: { Code?: { S3Key?: string } } }>;
  };
  const logicalId = stack.getLogicalId(gate[which]!.node.defaultChild as lambda.CfnFunction);
  const key = template.Resources[logicalId]?.Properties.Code?.S3Key;
  expect(key).toMatch(/^[0-9a-f]{64}\.zip$/);
  const dir = join(assembly.directory, `asset.${key!.replace(/\.zip$/, '')}`);
  return parseRuntimeRouteConfig(JSON.parse(readFileSync(join(dir, RUNTIME_CONFIG_FILE), 'utf8')));
}

describe('DualAuthApi with the app’s own routes', () => {
  const { app, stack, fn } = appStack();
  const orders = fn('Orders');
  const writer = fn('Writer');
  const status = fn('Status');
  const gate = new DualAuthApi(stack, 'Gate', {
    routes: [{ method: 'GET', path: '/orders', scopes: ['read:orders'], handler: orders }],
    extraScopes: ['beta:preview'],
  });
  gate.addRoute({ method: 'POST', path: '/orders', scopes: ['write:orders'], handler: writer });
  gate.addRoute({
    method: 'ANY',
    path: '/files/{proxy+}',
    scopes: ['files:rw'],
    integration: new apigateway.HttpIntegration('https://files.example.com/{proxy}', { proxy: true, httpMethod: 'ANY' }),
  });
  gate.addRoute({ method: 'GET', path: '/status', authorized: false, handler: status });
  const template = Template.fromStack(stack);
  const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).map((method) => method.Properties);

  it('puts the app’s methods behind the authorizer, leaves the open route open, and adds the key API at /keys', () => {
    const authorizerId = Object.keys(template.findResources('AWS::ApiGateway::Authorizer'))[0];
    // The app's 4, the key API's 6, the consumer routes' 3 and the GitHub leak endpoint.
    expect(methods).toHaveLength(4 + 6 + 3 + 1);
    const open = methods.filter((method) => method.AuthorizationType === 'NONE');
    expect(open).toHaveLength(2);
    for (const method of methods.filter((candidate) => candidate.AuthorizationType !== 'NONE')) {
      expect(method.AuthorizationType).toBe('CUSTOM');
      expect(method.AuthorizerId).toEqual({ Ref: authorizerId });
    }
    expect(methods.map((method) => method.HttpMethod).sort()).toEqual([
      'ANY',
      'DELETE',
      'DELETE',
      'GET',
      'GET',
      'GET',
      'GET',
      'GET',
      'PATCH',
      'POST',
      'POST',
      'POST',
      'POST',
      'PUT',
    ]);
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'ANY',
      Integration: Match.objectLike({ Type: 'HTTP_PROXY', Uri: 'https://files.example.com/{proxy}' }),
    });
  });

  it('has no demo routes', () => {
    const paths = Object.values(template.findResources('AWS::ApiGateway::Resource')).map((resource) => resource.Properties.PathPart);
    expect(paths).not.toContain('health');
    expect(paths).not.toContain('me');
    expect(paths).not.toContain('users');
  });

  it('ships the route table and catalog to the authorizer and the key API in their code assets, not their environment', () => {
    const shipped = shippedConfig(app, stack, gate, 'authorizerFunction');
    expect(shipped.routeTable.routes.map((route) => `${route.method} ${route.path} ${route.scopes.join(',')}`)).toEqual([
      'POST /keys keys:write',
      'GET /keys keys:read',
      'GET /keys/{id} keys:read',
      'PATCH /keys/{id} keys:write,keys:read',
      'POST /keys/{id}/rotate keys:write,keys:read',
      'DELETE /keys/{id} keys:write',
      'GET /consumers/{sub} keys:read',
      'PUT /consumers/{sub} keys:write',
      'DELETE /consumers/{sub} keys:write',
      'GET /orders read:orders',
      'POST /orders write:orders',
      'ANY /files/{proxy+} files:rw',
    ]);
    expect(shipped.catalog).toEqual(['beta:preview', 'files:rw', 'keys:admin', 'keys:read', 'keys:write', 'read:orders', 'write:orders']);
    expect(shipped.managementBasePath).toBe('/keys');
    expect(shippedConfig(app, stack, gate, 'managementFunction')).toEqual(shipped);
    // What the authorizer builds from the shipped data alone: the route API Gateway names, looked up (exact verb, then ANY).
    expect(shipped.routeTable.cacheScope).toBe('route');
    const table = new RouteBoundTable(shipped.routeTable.routes);
    const orders = table.lookup('GET', '/orders');
    expect(orders?.rule.scopes).toEqual(['read:orders']);
    expect(table.lookup('DELETE', '/files/{proxy+}')?.name).toBe('ANY /files/{proxy+}');
    expect(table.lookup('DELETE', '/orders')).toBeUndefined();
    const policy = table.policy('arn:aws:execute-api:eu-west-1:123456789012:api/v1', 'GET', orders, 'Allow');
    expect(policy.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: ['arn:aws:execute-api:eu-west-1:123456789012:api/v1/GET/orders'] },
    ]);
  });

  it('gives the Cognito resource server and admin client the app’s catalog', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Scopes: ['beta:preview', 'files:rw', 'keys:admin', 'keys:read', 'keys:write', 'read:orders', 'write:orders'].map((scope) => ({
        ScopeName: scope,
        ScopeDescription: `dualgate ${scope}`,
      })),
    });
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      AllowedOAuthScopes: Match.arrayWith(['dualgate/beta:preview', 'dualgate/files:rw', 'dualgate/read:orders']),
    });
  });

  it('leaves the app’s own functions as the app built them, with one invoke permission each for this API', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Code: { ZipFile: Match.stringLikeRegexp('exports.handler') },
    });
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'))
      .map((permission) => permission.Properties)
      .filter((permission) => !JSON.stringify(permission.SourceArn).includes('/authorizers/'));
    // orders, writer, status, the key API and the leak endpoint: one each, whatever number of methods they serve.
    expect(permissions).toHaveLength(5);
    for (const permission of permissions) {
      expect(permission.Principal).toBe('apigateway.amazonaws.com');
      expect(JSON.stringify(permission.SourceArn)).toContain('/*/*/*');
    }
  });
});

describe('the route table at synth', () => {
  function synthWith(build: (gate: DualAuthApi, fn: (id: string) => lambda.Function) => void, props: DualAuthApiProps = {}) {
    const { app, stack, fn } = appStack();
    const gate = new DualAuthApi(stack, 'Gate', props);
    build(gate, fn);
    return () => app.synth();
  }

  it('fails the synth, naming each method and pointing at addRoute, when methods are added to the RestApi directly', () => {
    const synth = synthWith((gate, fn) => {
      gate.api.root.addResource('orders').addMethod('GET', new apigateway.LambdaIntegration(fn('Orders')));
      gate.api.root
        .addResource('bypass')
        .addMethod('DELETE', new apigateway.LambdaIntegration(fn('Bypass')), { authorizationType: apigateway.AuthorizationType.NONE });
    });
    expect(synth).toThrow(/GET \/orders were added to the RestApi directly.*gate\.addRoute/);
    // An open method outside the table is named too: route it, protect it, or list it in openMethods.
    expect(synth).toThrow(/method DELETE \/bypass of the RestApi is open \(AuthorizationType NONE\).*openMethods: \['DELETE \/bypass'\]/);
  });

  it('in the credential cache scope, refuses a table IAM cannot express, naming the routes', () => {
    const synth = synthWith(
      (gate, fn) => {
        gate.addRoute({ method: 'ANY', path: '/api/{proxy+}', scopes: ['api'], handler: fn('Api') });
        gate.addRoute({ method: 'GET', path: '/api/v1/{id}', scopes: ['v1'], handler: fn('V1') });
      },
      { authorizerCacheScope: 'credential' },
    );
    expect(synth).toThrow(/GET \/api\/v1\/\{id\}.*ANY \/api\/\{proxy\+\}.*authorizerCacheScope: 'route'/);
  });

  it('synthesizes, by default, every overlapping table API Gateway accepts, and ships it as declared', () => {
    const { app, stack, fn } = appStack();
    const gate = new DualAuthApi(stack, 'Gate', { managementApi: false });
    const table = OVERLAPPING_ROUTES;
    for (const [index, route] of table.entries()) gate.addRoute({ ...route, handler: fn(`Fn${index}`) });
    app.synth();
    const shipped = shippedConfig(app, stack, gate, 'authorizerFunction');
    expect(shipped.routeTable).toEqual({ cacheScope: 'route', routes: table });
  });

  it.each([
    ['keys:write', /adminScope "keys:write" is also an ordinary scope \(it is a key-management scope\)/],
    ['keys:read', /adminScope "keys:read"/],
    ['read:orders', /adminScope "read:orders" is also an ordinary scope \(route GET \/orders requires it\)/],
  ])('refuses adminScope %s at synth: every holder would be an admin', (adminScope, message) => {
    const synth = synthWith(
      (gate, fn) => gate.addRoute({ method: 'GET', path: '/orders', scopes: ['read:orders'], handler: fn('Orders') }),
      { adminScope },
    );
    expect(synth).toThrow(message);
  });

  it.each([
    [{ method: 'FETCH', path: '/a' }, /method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY/],
    [{ method: 'GET', path: 'orders' }, /route GET orders: path "orders" must start with \//],
    [{ method: 'GET', path: '/a/{p+}/b' }, /greedy \{p\+\} must be the last segment/],
    [{ method: 'GET', path: '/a', scopes: ['bad scope'] }, /scope\(s\) "bad scope" must match/],
    [{ method: 'GET', path: '/a', authorized: false, scopes: ['x:y'] }, /an open route \(authorized: false\) cannot require scopes/],
    [{ method: 'GET', path: '/a', noHandler: true }, /exactly one of handler and integration/],
    [{ method: 'GET', path: '/keys' }, /route GET \/keys collides with the key management API at \/keys: move it with managementApi/],
    [{ method: 'GET', path: '/b', scope: ['x:y'] }, /route GET \/b: unknown field\(s\) scope \(a route takes method, path, scopes/],
  ])('addRoute(%j) throws a clear error', (spec, message) => {
    const { stack, fn } = appStack();
    const gate = new DualAuthApi(stack, 'Gate');
    const { noHandler, ...route } = spec as Record<string, unknown>;
    expect(() => gate.addRoute({ ...(noHandler ? {} : { handler: fn('F') }), ...route } as never)).toThrow(message);
  });

  it('moves the key API with managementApi.basePath, or leaves it out', () => {
    const moved = appStack();
    const gate = new DualAuthApi(moved.stack, 'Gate', { managementApi: { basePath: '/admin/keys' } });
    expect(shippedConfig(moved.app, moved.stack, gate, 'authorizerFunction').routeTable.routes.map((route) => route.path)).toContain(
      '/admin/keys/{id}/rotate',
    );
    expect(shippedConfig(moved.app, moved.stack, gate, 'managementFunction').managementBasePath).toBe('/admin/keys');

    const off = appStack();
    const bare = new DualAuthApi(off.stack, 'Gate', {
      managementApi: false,
      routes: [{ method: 'GET', path: '/orders', scopes: ['read:orders'], handler: off.fn('Orders') }],
    });
    expect(bare.managementFunction).toBeUndefined();
    const template = Template.fromStack(off.stack);
    template.resourceCountIs('AWS::ApiGateway::Method', 1);
    expect(() => new DualAuthApi(appStack().stack, 'Gate', { managementApi: { basePath: '/keys/{id}' } })).toThrow(
      /managementApi.basePath must be a path of literal segments/,
    );
  });

  it('refuses, at synth, a catalog larger than a Cognito resource server holds, and trims the admin client to Cognito’s 50', () => {
    const tooMany = appStack();
    const gate = new DualAuthApi(tooMany.stack, 'Gate', { extraScopes: Array.from({ length: 98 }, (_, index) => `extra:${index}`) });
    expect(() => tooMany.app.synth()).toThrow(
      /the scope catalog has 101 scopes, and a Cognito resource server holds at most 100: use an external OIDC issuer/,
    );
    expect(gate.userPool).toBeDefined();

    const many = appStack();
    new DualAuthApi(many.stack, 'Gate', { extraScopes: Array.from({ length: 60 }, (_, index) => `extra:${index}`) });
    const template = Template.fromStack(many.stack);
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      AllowedOAuthScopes: ['dualgate/keys:admin', 'dualgate/keys:read', 'dualgate/keys:write'],
    });
    const [server] = Object.values(template.findResources('AWS::Cognito::UserPoolResourceServer'));
    expect(server?.Properties.Scopes).toHaveLength(63);
  });

  it('refuses, at synth, an API with no authorized route (the authorizer would be attached to nothing)', () => {
    const { app, stack, fn } = appStack();
    new DualAuthApi(stack, 'Gate', {
      managementApi: false,
      routes: [{ method: 'GET', path: '/status', authorized: false, handler: fn('Status') }],
    });
    expect(() => app.synth()).toThrow(/DualAuthApi has no authorized route/);
  });

  it('warns, naming the setting, when dualgate:* context is set but the construct was not given the prop', () => {
    const { stack } = appStack({ 'dualgate:keyCacheTtlSeconds': 5 });
    new DualAuthApi(stack, 'Gate', { keyPrefix: 'ord' });
    const warnings = Annotations.fromStack(stack).findWarning(
      '*',
      Match.stringLikeRegexp('dualgate:keyCacheTtlSeconds is set, but DualAuthApi reads props only'),
    );
    expect(warnings).toHaveLength(1);
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('dualgate:keyPrefix'))).toHaveLength(0);
  });

  it('refuses unknown props, naming them', () => {
    expect(() => new DualAuthApi(appStack().stack, 'Gate', { rotes: [] } as never)).toThrow(/unknown prop\(s\) rotes/);
  });

  it('serves a 300-route, 100-scope table: the route table stays out of the 4 KB Lambda environment', () => {
    // 300 methods need ~600 API Gateway resources: beyond CloudFormation's 500 per stack (README: large tables).
    const { app, stack, fn } = appStack({ '@aws-cdk/core:stackResourceLimit': 1000 });
    Validations.of(stack).acknowledge({
      id: 'CloudFormation-Validate::F0007',
      reason: 'a 300-route table on purpose: CloudFormation would need it split across stacks',
    });
    const handler = fn('Handler');
    const issuers = [{ issuer: 'https://login.example.com', audience: 'api' }];
    const gate = new DualAuthApi(stack, 'Gate', { issuers, routes: generatedRouteTable(300, 100).map((route) => ({ ...route, handler })) });
    const shipped = shippedConfig(app, stack, gate, 'authorizerFunction');
    expect(shipped.routeTable.routes).toHaveLength(300 + 6 + 3);
    expect(shipped.catalog).toHaveLength(100 + 3);
    const environment = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    for (const fn of Object.values(environment)) {
      const variables = (fn.Properties.Environment?.Variables ?? {}) as Record<string, unknown>;
      const bytes = Object.entries(variables).reduce(
        (sum, [name, value]) => sum + name.length + JSON.stringify(stack.resolve(value)).length,
        0,
      );
      expect(bytes).toBeLessThan(2048);
    }
  });
});
