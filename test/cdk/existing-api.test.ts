/** DualAuthApi on a REST API the app already has (`restApi`): its stage, its own methods, and what may stay outside the table. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { App, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { readCloudAssembly } from '../../lib/local/assembly';
import { apiGatewayResourceCount } from '../../lib/construct/route-stacks';
import { consumerRoutes, managementRoutes } from '../../lambdas/core/route-table';
import { DualAuthApi, type DualAuthApiProps } from '../../lib/construct/dual-auth-api';
import { assemblyTemplates, checkAssemblyTemplates } from '../support/template-checks';

const ENV = { account: '123456789012', region: 'eu-west-1' };

function appStack() {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'dualgate-existing-')), context: { 'aws:cdk:enable-asset-metadata': true } });
  const stack = new Stack(app, 'Existing', { env: ENV });
  const fn = (id: string) =>
    new lambda.Function(stack, id, {
      code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "{}" })'),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
    });
  return { app, stack, fn };
}

/** A team's API as it exists before dualgate: its stage settings, an IAM method, a Cognito method and an open health check. */
function teamApi(stack: Stack, fn: (id: string) => lambda.Function) {
  const api = new apigateway.RestApi(stack, 'TeamApi', {
    deployOptions: { stageName: 'live', tracingEnabled: true },
    cloudWatchRole: false,
  });
  api.root
    .addResource('reports')
    .addMethod('GET', new apigateway.LambdaIntegration(fn('Reports')), { authorizationType: apigateway.AuthorizationType.IAM });
  const pool = new cognito.UserPool(stack, 'Staff');
  const staff = new apigateway.CognitoUserPoolsAuthorizer(stack, 'StaffAuthorizer', { cognitoUserPools: [pool] });
  api.root.addResource('staff').addMethod('GET', new apigateway.LambdaIntegration(fn('StaffDirectory')), {
    authorizer: staff,
    authorizationType: apigateway.AuthorizationType.COGNITO,
  });
  api.root.addResource('health').addMethod(
    'GET',
    new apigateway.MockIntegration({
      integrationResponses: [{ statusCode: '200' }],
      requestTemplates: { 'application/json': '{"statusCode": 200}' },
    }),
    { methodResponses: [{ statusCode: '200' }] },
  );
  return api;
}

describe('DualAuthApi on a RestApi the app created', () => {
  const build = (props: Partial<DualAuthApiProps> = {}) => {
    const { app, stack, fn } = appStack();
    const api = teamApi(stack, fn);
    const gate = new DualAuthApi(stack, 'Gate', {
      restApi: api,
      openMethods: ['GET /health'],
      routes: [{ method: 'GET', path: '/orders/{id}', scopes: ['read:orders'], handler: fn('Orders') }],
      ...props,
    });
    return { app, stack, api, gate, fn };
  };

  it("adds the authorizer, routes, key API and gateway responses to the app's API, and publishes them on its one stage", () => {
    const { app, stack, api, gate } = build();
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    template.resourceCountIs('AWS::ApiGateway::Stage', 1);
    template.resourceCountIs('AWS::ApiGateway::Deployment', 1);
    template.hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'live', TracingEnabled: true });
    const apiRef = { Ref: stack.getLogicalId(api.node.defaultChild as apigateway.CfnRestApi) };
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      RestApiId: apiRef,
      IdentitySource: Match.stringLikeRegexp('context.resourceId'),
    });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      RestApiId: apiRef,
      ResponseType: 'AUTHORIZER_FAILURE',
      StatusCode: '503',
    });
    expect(gate.api).toBe(api);
    expect(gate.stage).toBe(api.deploymentStage);
    expect(checkAssemblyTemplates(app.synth().directory).problems).toEqual([]);
    const [served] = readCloudAssembly(app.synth().directory).apis;
    const byName = new Map(served!.methods.map((method) => [`${method.method} ${method.path}`, method]));
    expect(byName.get('GET /orders/{id}')?.authorized).toBe(true);
    expect(byName.get('POST /keys')?.authorized).toBe(true);
    expect(byName.get('GET /health')).toMatchObject({ authorized: false, integration: { kind: 'mock' } });
    // Local mode names what it cannot evaluate rather than serving it open.
    expect(byName.get('GET /reports')).toMatchObject({
      authorized: false,
      foreignAuthorization: 'AWS_IAM',
      integration: { kind: 'unsupported' },
    });
    expect(byName.get('GET /staff')).toMatchObject({ authorized: false, foreignAuthorization: 'COGNITO_USER_POOLS' });
    expect(served!.stageName).toBe('live');
  });

  it("redeploys the app's stage when dualgate's routes change", () => {
    const deploymentId = (props: Partial<DualAuthApiProps>) =>
      Object.keys(Template.fromStack(build(props).stack).findResources('AWS::ApiGateway::Deployment'))[0];
    expect(deploymentId({})).toBe(deploymentId({}));
    expect(
      deploymentId({
        routes: [
          {
            method: 'GET',
            path: '/orders/{id}/lines',
            scopes: ['read:orders'],
            handler: undefined as never,
            integration: new apigateway.MockIntegration(),
          },
        ],
      }),
    ).not.toBe(deploymentId({}));
  });

  it('fails the synth naming an open method that is neither routed nor listed in openMethods', () => {
    const { app } = build({ openMethods: [] });
    expect(() => app.synth()).toThrow(
      /method GET \/health of the RestApi is open \(AuthorizationType NONE\) and outside dualgate's route table.*openMethods: \['GET \/health'\]/,
    );
  });

  it('fails the synth when openMethods lists a method that is not open, or does not exist', () => {
    expect(() => build({ openMethods: ['GET /health', 'GET /reports', 'DELETE /gone'] }).app.synth()).toThrow(
      /openMethods lists GET \/reports, DELETE \/gone, which is not an open method/,
    );
  });

  it('refuses a malformed openMethods entry', () => {
    expect(() => build({ openMethods: ['/health'] })).toThrow(/openMethods: "\/health" must be a verb and a resource path/);
  });

  it('sets the key source to AUTHORIZER for plans, and refuses plans when an unmanaged method requires an x-api-key', () => {
    const plans = { free: { rateLimitPerSecond: 5, burstLimit: 10 } };
    const { stack } = build({ plans, defaultPlan: 'free' });
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::RestApi', { ApiKeySourceType: 'AUTHORIZER' });
    const { app, stack: other, fn } = appStack();
    const api = new apigateway.RestApi(other, 'TeamApi');
    api.root.addResource('legacy').addMethod('GET', new apigateway.LambdaIntegration(fn('Legacy')), {
      apiKeyRequired: true,
      authorizationType: apigateway.AuthorizationType.IAM,
    });
    new DualAuthApi(other, 'Gate', { restApi: api, plans, defaultPlan: 'free' });
    expect(() => app.synth()).toThrow(
      /method GET \/legacy requires an API key, but with plans the API's key source is dualgate's authorizer/,
    );
  });

  it('refuses a RestApi without a deployment of its own', () => {
    const { stack } = appStack();
    const api = new apigateway.RestApi(stack, 'Undeployed', { deploy: false });
    expect(() => new DualAuthApi(stack, 'Gate', { restApi: api })).toThrow(
      /restApi Existing\/Undeployed has no deployment of its own \(deploy: false\)/,
    );
  });

  it('refuses something that is not a REST API', () => {
    const { stack } = appStack();
    expect(() => new DualAuthApi(stack, 'Gate', { restApi: {} as never })).toThrow(/restApi must be an API Gateway REST API/);
  });
});

describe('DualAuthApi on a RestApi imported by id and root resource id', () => {
  const build = (props: Partial<DualAuthApiProps> = {}) => {
    const { app, stack, fn } = appStack();
    const api = apigateway.RestApi.fromRestApiAttributes(stack, 'Imported', {
      restApiId: 'a1b2c3d4e5',
      rootResourceId: 'rootres123',
      restApiName: 'team-api',
    });
    const gate = new DualAuthApi(stack, 'Gate', {
      restApi: api,
      stageName: 'live',
      routes: [{ method: 'GET', path: '/orders/{id}', scopes: ['read:orders'], handler: fn('Orders') }],
      ...props,
    });
    return { app, stack, gate };
  };

  it("publishes dualgate's methods on the existing stage with one deployment that depends on every method", () => {
    const { app, stack, gate } = build();
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::ApiGateway::Stage', 0);
    template.resourceCountIs('AWS::ApiGateway::RestApi', 0);
    const deployments = template.findResources('AWS::ApiGateway::Deployment');
    expect(Object.values(deployments)).toHaveLength(1);
    const [deployment] = Object.values(deployments) as { Properties: Record<string, unknown>; DependsOn: string[] }[];
    expect(deployment!.Properties).toMatchObject({ RestApiId: 'a1b2c3d4e5', StageName: 'live' });
    const methods = Object.keys(template.findResources('AWS::ApiGateway::Method'));
    expect(methods.length).toBeGreaterThan(6);
    expect(deployment!.DependsOn).toEqual(expect.arrayContaining(methods));
    template.hasResourceProperties('AWS::ApiGateway::Resource', { RestApiId: 'a1b2c3d4e5', ParentId: 'rootres123', PathPart: 'orders' });
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', { RestApiId: 'a1b2c3d4e5' });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { RestApiId: 'a1b2c3d4e5', ResponseType: 'AUTHORIZER_FAILURE' });
    template.hasOutput('*', {
      Value: { 'Fn::Join': ['', ['https://a1b2c3d4e5.execute-api.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/live/']] },
    });
    expect(gate.stage.stageName).toBe('live');
    // Local mode serves it: the API is the id the methods name, the stage the one the deployment updates.
    const [served] = readCloudAssembly(app.synth().directory).apis;
    expect(served).toMatchObject({ logicalId: 'a1b2c3d4e5', stageName: 'live' });
    expect(served!.authorizer).toBeDefined();
    expect(served!.methods.find((method) => method.path === '/orders/{id}')).toMatchObject({ method: 'GET', authorized: true });
  });

  it('gives the deployment a new logical id when a route changes', () => {
    const deploymentId = (props: Partial<DualAuthApiProps>) =>
      Object.keys(Template.fromStack(build(props).stack).findResources('AWS::ApiGateway::Deployment'))[0];
    expect(deploymentId({})).toBe(deploymentId({}));
    expect(
      deploymentId({
        routes: [{ method: 'PUT', path: '/orders/{id}', scopes: ['write:orders'], integration: new apigateway.MockIntegration() }],
      }),
    ).not.toBe(deploymentId({}));
  });

  it('checks the methods this app adds to the imported API like any other', () => {
    const { app, stack } = appStack();
    const api = apigateway.RestApi.fromRestApiAttributes(stack, 'Imported', { restApiId: 'a1b2c3d4e5', rootResourceId: 'rootres123' });
    api.root.addResource('status').addMethod('GET', new apigateway.MockIntegration());
    new DualAuthApi(stack, 'Gate', { restApi: api, stageName: 'live' });
    expect(() => app.synth()).toThrow(/method GET \/status of the RestApi is open/);
  });

  it('refuses plans, whose key source it cannot set on an imported API', () => {
    expect(() => build({ plans: { free: { rateLimitPerSecond: 1, burstLimit: 1 } } })).toThrow(/an imported restApi cannot take plans/);
  });
});

describe('adopting an API: what the synth refuses, reuses and overrides', () => {
  const route = (fn: lambda.IFunction) => ({ method: 'GET' as const, path: '/orders/{id}', scopes: ['read:orders'], handler: fn });
  const resourcesOf = (app: App) => {
    const directory = app.synth().directory;
    return assemblyTemplates(directory).flatMap((file) =>
      Object.values(
        (JSON.parse(readFileSync(file, 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> })
          .Resources,
      ),
    );
  };

  for (const nestedStacks of [false, true]) {
    it(`reuses a resource the API already has at one of dualgate's paths, never a second one with the same path part (nestedStacks: ${nestedStacks})`, () => {
      const { app, stack, fn } = appStack();
      const api = new apigateway.RestApi(stack, 'TeamApi');
      api.root
        .addResource('orders')
        .addMethod('GET', new apigateway.MockIntegration(), { authorizationType: apigateway.AuthorizationType.IAM });
      const gate = new DualAuthApi(stack, 'Gate', { restApi: api, nestedStacks, routes: [route(fn('Orders'))] });
      // …and one the app creates through gate.api after the construct.
      gate.api.root
        .resourceForPath('/keys/{id}')
        .addMethod('OPTIONS', new apigateway.MockIntegration(), { authorizationType: apigateway.AuthorizationType.IAM });
      const resources = resourcesOf(app).filter((resource) => resource.Type === 'AWS::ApiGateway::Resource');
      const pathParts = resources.map(
        (resource) => `${JSON.stringify(resource.Properties['ParentId'])} ${String(resource.Properties['PathPart'])}`,
      );
      expect(pathParts.filter((part) => part.endsWith(' orders'))).toHaveLength(1);
      expect(pathParts.filter((part) => part.endsWith(' keys'))).toHaveLength(1);
      expect(pathParts.filter((part) => part.endsWith(' {id}')).length).toBe(
        new Set(pathParts.filter((part) => part.endsWith(' {id}'))).size,
      );
      expect(checkAssemblyTemplates(app.synth().directory).problems).toEqual([]);
      const [served] = readCloudAssembly(app.synth().directory).apis;
      expect(served!.methods.find((method) => method.method === 'GET' && method.path === '/orders/{id}')).toMatchObject({
        authorized: true,
      });
      expect(served!.methods.find((method) => method.method === 'GET' && method.path === '/keys/{id}')).toMatchObject({ authorized: true });
    });
  }

  it('requires stageName for an imported API, naming the API, rather than creating a new public stage', () => {
    const { stack, fn } = appStack();
    const api = apigateway.RestApi.fromRestApiAttributes(stack, 'Imported', {
      restApiId: 'a1b2c3d4e5',
      rootResourceId: 'rootres123',
      restApiName: 'team-api',
    });
    expect(() => new DualAuthApi(stack, 'Gate', { restApi: api, routes: [route(fn('Orders'))] })).toThrow(
      /restApi Existing\/Imported is imported: name its existing stage in stageName/,
    );
  });

  it("refuses a stageName other than the stage of a RestApi of this app, and publishes on that stage's name", () => {
    const { stack, fn } = appStack();
    const api = new apigateway.RestApi(stack, 'TeamApi', { deployOptions: { stageName: 'live' } });
    expect(() => new DualAuthApi(stack, 'Gate', { restApi: api, stageName: 'v2', routes: [route(fn('Orders'))] })).toThrow(
      /stageName "v2": restApi Existing\/TeamApi publishes on its own deployment stage "live"/,
    );
    const gate = new DualAuthApi(stack, 'Gate2', { restApi: api, routes: [route(fn('Orders2'))] });
    expect(gate.config.stageName).toBe('live');
  });

  it('refuses a SpecRestApi, whose OpenAPI methods it cannot check', () => {
    const { stack, fn } = appStack();
    const api = new apigateway.SpecRestApi(stack, 'Spec', {
      apiDefinition: apigateway.ApiDefinition.fromInline({ openapi: '3.0.2', info: { title: 't', version: '1' }, paths: {} }),
    });
    expect(() => new DualAuthApi(stack, 'Gate', { restApi: api, routes: [route(fn('Orders'))] })).toThrow(
      /restApi Existing\/Spec is a SpecRestApi: dualgate cannot see the methods its OpenAPI definition declares/,
    );
  });

  it('refuses a RestApi of another stack, saying to import it', () => {
    const { app, fn } = appStack();
    const other = new Stack(app, 'ApiStack', { env: ENV });
    const api = new apigateway.RestApi(other, 'TeamApi');
    api.root
      .addResource('health')
      .addMethod('GET', new apigateway.MockIntegration(), { authorizationType: apigateway.AuthorizationType.IAM });
    expect(() => new DualAuthApi(fn('X').stack, 'Gate', { restApi: api, routes: [route(fn('Orders'))] })).toThrow(
      /restApi ApiStack\/TeamApi belongs to stack ApiStack.*RestApi\.fromRestApiAttributes/,
    );
  });

  it("does not let dualgate's methods inherit the API's defaultMethodOptions (apiKeyRequired, requestParameters)", () => {
    const { app, stack, fn } = appStack();
    const api = new apigateway.RestApi(stack, 'TeamApi', {
      defaultMethodOptions: {
        apiKeyRequired: true,
        authorizationType: apigateway.AuthorizationType.IAM,
        requestParameters: { 'method.request.header.X-Team': true },
      },
    });
    new DualAuthApi(stack, 'Gate', { restApi: api, routes: [route(fn('Orders'))] });
    const methods = resourcesOf(app).filter((resource) => resource.Type === 'AWS::ApiGateway::Method');
    const ours = methods.filter(
      (method) => method.Properties['AuthorizationType'] === 'CUSTOM' || method.Properties['AuthorizationType'] === 'NONE',
    );
    expect(ours.length).toBeGreaterThan(5);
    for (const method of ours) {
      expect(method.Properties['ApiKeyRequired']).toBe(false);
      expect(method.Properties['RequestParameters'] ?? {}).toEqual({});
    }
  });

  it("accepts CDK's CORS preflight OPTIONS without openMethods, and counts them", () => {
    for (const nestedStacks of [false, true]) {
      const { app, stack, fn } = appStack();
      const api = new apigateway.RestApi(stack, 'TeamApi', { defaultCorsPreflightOptions: { allowOrigins: ['https://app.example.com'] } });
      api.root
        .addResource('reports')
        .addMethod('GET', new apigateway.MockIntegration(), { authorizationType: apigateway.AuthorizationType.IAM });
      new DualAuthApi(stack, 'Gate', { restApi: api, nestedStacks, routes: [route(fn('Orders'))] });
      const methods = resourcesOf(app).filter((resource) => resource.Type === 'AWS::ApiGateway::Method');
      expect(methods.filter((method) => method.Properties['HttpMethod'] === 'OPTIONS').length).toBeGreaterThan(5);
      expect(checkAssemblyTemplates(app.synth().directory).problems).toEqual([]);
    }
    // An open OPTIONS that is not CDK's preflight is still refused.
    const { app, stack, fn } = appStack();
    const api = new apigateway.RestApi(stack, 'TeamApi');
    api.root.addResource('reports').addMethod('OPTIONS', new apigateway.MockIntegration());
    new DualAuthApi(stack, 'Gate', { restApi: api, routes: [route(fn('Orders'))] });
    expect(() => app.synth()).toThrow(/method OPTIONS \/reports of the RestApi is open/);
  });
});

describe('the resource quota warning on an adopted API', () => {
  it("counts the API's own resources (those this app defines) with the route table's", () => {
    const { app, stack, fn } = appStack();
    const api = new apigateway.RestApi(stack, 'TeamApi');
    // 295 resources of the team's (one with an IAM method): with dualgate's, past API Gateway's 300.
    for (let index = 0; index < 295; index++) api.root.addResource(`legacy${index}`);
    api.root
      .getResource('legacy0')!
      .addMethod('GET', new apigateway.MockIntegration(), { authorizationType: apigateway.AuthorizationType.IAM });
    new DualAuthApi(stack, 'Gate', {
      restApi: api,
      nestedStacks: true,
      routes: [{ method: 'GET', path: '/orders/{id}', scopes: ['read:orders'], handler: fn('Orders') }],
    });
    app.synth();
    const warnings = Annotations.fromStack(stack)
      .findWarning('*', Match.stringLikeRegexp('Resources per API'))
      .map((message) => String(message.entry.data));
    // 295 + the root + /orders, /orders/{id}, the key API's, the consumers' and the leak endpoint's resources.
    expect(warnings).toHaveLength(1);
    const count = Number(/the API has (\d+) API Gateway resources/.exec(warnings[0]!)?.[1]);
    const dualgateOnly =
      apiGatewayResourceCount([
        '/orders/{id}',
        ...[...managementRoutes('/keys'), ...consumerRoutes('/keys')].map((route) => route.path),
        '/leaks/github',
      ]) + 1;
    expect(count).toBe(dualgateOnly + 295);
    expect(count).toBeGreaterThan(300);
  }, 60_000);
});
