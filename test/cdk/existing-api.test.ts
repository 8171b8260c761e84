/** DualAuthApi on a REST API the app already has (`restApi`): its stage, its own methods, and what may stay outside the table. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { App, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { readCloudAssembly } from '../../lib/local/assembly';
import { DualAuthApi, type DualAuthApiProps } from '../../lib/dual-auth-api';
import { checkAssemblyTemplates } from '../support/template-checks';

const ENV = { account: '123456789012', region: 'eu-west-1' };

function appStack() {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'dualgate-existing-')), context: { 'aws:cdk:enable-asset-metadata': true } });
  const stack = new Stack(app, 'Existing', { env: ENV });
  const fn = (id: string) => new lambda.Function(stack, id, { code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "{}" })'), handler: 'index.handler', runtime: lambda.Runtime.NODEJS_22_X });
  return { app, stack, fn };
}

/** A team's API as it exists before dualgate: its stage settings, an IAM method, a Cognito method and an open health check. */
function teamApi(stack: Stack, fn: (id: string) => lambda.Function) {
  const api = new apigateway.RestApi(stack, 'TeamApi', { deployOptions: { stageName: 'live', tracingEnabled: true }, cloudWatchRole: false });
  api.root.addResource('reports').addMethod('GET', new apigateway.LambdaIntegration(fn('Reports')), { authorizationType: apigateway.AuthorizationType.IAM });
  const pool = new cognito.UserPool(stack, 'Staff');
  const staff = new apigateway.CognitoUserPoolsAuthorizer(stack, 'StaffAuthorizer', { cognitoUserPools: [pool] });
  api.root.addResource('staff').addMethod('GET', new apigateway.LambdaIntegration(fn('StaffDirectory')), { authorizer: staff, authorizationType: apigateway.AuthorizationType.COGNITO });
  api.root.addResource('health').addMethod('GET', new apigateway.MockIntegration({ integrationResponses: [{ statusCode: '200' }], requestTemplates: { 'application/json': '{"statusCode": 200}' } }), { methodResponses: [{ statusCode: '200' }] });
  return api;
}

describe('DualAuthApi on a RestApi the app created', () => {
  const build = (props: Partial<DualAuthApiProps> = {}) => {
    const { app, stack, fn } = appStack();
    const api = teamApi(stack, fn);
    const gate = new DualAuthApi(stack, 'Gate', { restApi: api, openMethods: ['GET /health'], routes: [{ method: 'GET', path: '/orders/{id}', scopes: ['read:orders'], handler: fn('Orders') }], ...props });
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
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'REQUEST', RestApiId: apiRef, IdentitySource: Match.stringLikeRegexp('context.resourceId') });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { RestApiId: apiRef, ResponseType: 'AUTHORIZER_FAILURE', StatusCode: '503' });
    expect(gate.api).toBe(api);
    expect(gate.stage).toBe(api.deploymentStage);
    expect(checkAssemblyTemplates(app.synth().directory).problems).toEqual([]);
    const [served] = readCloudAssembly(app.synth().directory).apis;
    const byName = new Map(served!.methods.map((method) => [`${method.method} ${method.path}`, method]));
    expect(byName.get('GET /orders/{id}')?.authorized).toBe(true);
    expect(byName.get('POST /keys')?.authorized).toBe(true);
    expect(byName.get('GET /health')).toMatchObject({ authorized: false, integration: { kind: 'mock' } });
    // Local mode names what it cannot evaluate rather than serving it open.
    expect(byName.get('GET /reports')).toMatchObject({ authorized: false, foreignAuthorization: 'AWS_IAM', integration: { kind: 'unsupported' } });
    expect(byName.get('GET /staff')).toMatchObject({ authorized: false, foreignAuthorization: 'COGNITO_USER_POOLS' });
    expect(served!.stageName).toBe('live');
  });

  it("redeploys the app's stage when dualgate's routes change", () => {
    const deploymentId = (props: Partial<DualAuthApiProps>) => Object.keys(Template.fromStack(build(props).stack).findResources('AWS::ApiGateway::Deployment'))[0];
    expect(deploymentId({})).toBe(deploymentId({}));
    expect(deploymentId({ routes: [{ method: 'GET', path: '/orders/{id}/lines', scopes: ['read:orders'], handler: undefined as never, integration: new apigateway.MockIntegration() }] })).not.toBe(deploymentId({}));
  });

  it('fails the synth naming an open method that is neither routed nor listed in openMethods', () => {
    const { app } = build({ openMethods: [] });
    expect(() => app.synth()).toThrow(/method GET \/health of the RestApi is open \(AuthorizationType NONE\) and outside dualgate's route table.*openMethods: \['GET \/health'\]/);
  });

  it('fails the synth when openMethods lists a method that is not open, or does not exist', () => {
    expect(() => build({ openMethods: ['GET /health', 'GET /reports', 'DELETE /gone'] }).app.synth()).toThrow(/openMethods lists GET \/reports, DELETE \/gone, which is not an open method/);
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
    api.root.addResource('legacy').addMethod('GET', new apigateway.LambdaIntegration(fn('Legacy')), { apiKeyRequired: true, authorizationType: apigateway.AuthorizationType.IAM });
    new DualAuthApi(other, 'Gate', { restApi: api, plans, defaultPlan: 'free' });
    expect(() => app.synth()).toThrow(/method GET \/legacy requires an API key, but with plans the API's key source is dualgate's authorizer/);
  });

  it('refuses a RestApi without a deployment of its own', () => {
    const { stack } = appStack();
    const api = new apigateway.RestApi(stack, 'Undeployed', { deploy: false });
    expect(() => new DualAuthApi(stack, 'Gate', { restApi: api })).toThrow(/restApi Existing\/Undeployed has no deployment of its own \(deploy: false\)/);
  });

  it('refuses something that is not a REST API', () => {
    const { stack } = appStack();
    expect(() => new DualAuthApi(stack, 'Gate', { restApi: {} as never })).toThrow(/restApi must be an API Gateway REST API/);
  });
});

describe('DualAuthApi on a RestApi imported by id and root resource id', () => {
  const build = (props: Partial<DualAuthApiProps> = {}) => {
    const { app, stack, fn } = appStack();
    const api = apigateway.RestApi.fromRestApiAttributes(stack, 'Imported', { restApiId: 'a1b2c3d4e5', rootResourceId: 'rootres123', restApiName: 'team-api' });
    const gate = new DualAuthApi(stack, 'Gate', { restApi: api, stageName: 'live', routes: [{ method: 'GET', path: '/orders/{id}', scopes: ['read:orders'], handler: fn('Orders') }], ...props });
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
    template.hasOutput('*', { Value: { 'Fn::Join': ['', ['https://a1b2c3d4e5.execute-api.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/live/']] } });
    expect(gate.stage.stageName).toBe('live');
    // Local mode serves it: the API is the id the methods name, the stage the one the deployment updates.
    const [served] = readCloudAssembly(app.synth().directory).apis;
    expect(served).toMatchObject({ logicalId: 'a1b2c3d4e5', stageName: 'live' });
    expect(served!.authorizer).toBeDefined();
    expect(served!.methods.find((method) => method.path === '/orders/{id}')).toMatchObject({ method: 'GET', authorized: true });
  });

  it('gives the deployment a new logical id when a route changes', () => {
    const deploymentId = (props: Partial<DualAuthApiProps>) => Object.keys(Template.fromStack(build(props).stack).findResources('AWS::ApiGateway::Deployment'))[0];
    expect(deploymentId({})).toBe(deploymentId({}));
    expect(deploymentId({ routes: [{ method: 'PUT', path: '/orders/{id}', scopes: ['write:orders'], integration: new apigateway.MockIntegration() }] })).not.toBe(deploymentId({}));
  });

  it('checks the methods this app adds to the imported API like any other', () => {
    const { app, stack } = appStack();
    const api = apigateway.RestApi.fromRestApiAttributes(stack, 'Imported', { restApiId: 'a1b2c3d4e5', rootResourceId: 'rootres123' });
    api.root.addResource('status').addMethod('GET', new apigateway.MockIntegration());
    new DualAuthApi(stack, 'Gate', { restApi: api });
    expect(() => app.synth()).toThrow(/method GET \/status of the RestApi is open/);
  });

  it('refuses plans, whose key source it cannot set on an imported API', () => {
    expect(() => build({ plans: { free: { rateLimitPerSecond: 1, burstLimit: 1 } } })).toThrow(/an imported restApi cannot take plans/);
  });
});
