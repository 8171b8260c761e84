/** DualgateAuthorizer on its own: the function, its least-privilege access to the key table, and the REQUEST authorizer on a published version. */
import { describe, expect, it } from 'vitest';
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type { AuthorizerCacheScope } from '../../lambdas/core/route-table';
import { compileRouteTable } from '../../lambdas/core/policy-compiler';
import { DualgateAuthorizer } from '../../lib/construct/authorizer';
import { KeyTable } from '../../lib/construct/key-table';

const RULES = [{ method: 'GET' as const, path: '/orders', scopes: ['read:orders'] }];

function build(cacheScope: AuthorizerCacheScope = 'route', options: { materialise?: boolean } = {}) {
  const stack = new Stack(new App(), 'AuthorizerStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const keyTable = new KeyTable(stack, 'KeyTable');
  const authorizer = new DualgateAuthorizer(stack, {
    keyTable,
    environment: { DUALGATE_TABLE_NAME: 'keys' },
    cacheScope,
    resultsCacheTtlSeconds: 60,
  });
  // API Gateway creates an authorizer only for an API whose methods use it (CDK refuses one attached to none).
  const api = new apigateway.RestApi(stack, 'Api', { cloudWatchRole: false });
  api.root.addResource('orders').addMethod('GET', new apigateway.MockIntegration(), {
    authorizer: authorizer.authorizer,
    authorizationType: apigateway.AuthorizationType.CUSTOM,
  });
  if (options.materialise !== false) {
    authorizer.code.materialise({
      version: 2,
      routeTable: compileRouteTable(RULES, cacheScope),
      catalog: ['keys:admin', 'read:orders'],
      managementBasePath: null,
    });
  }
  return { stack, authorizer };
}

describe('DualgateAuthorizer', () => {
  const { stack, authorizer } = build();
  const template = Template.fromStack(stack);

  it('runs the authorizer bundle on Node.js 24 ARM with 512 MB and 5 s, in the scope it is given, under the ids DualAuthApi has always used', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 512,
      Timeout: 5,
    });
    expect(authorizer.fn.node.path).toBe('AuthorizerStack/Authorizer');
    expect(stack.getLogicalId(authorizer.fn.node.defaultChild as CfnElement)).toMatch(/^Authorizer[0-9A-F]{8}$/);
    expect(stack.getLogicalId(authorizer.authorizer.node.defaultChild as CfnElement)).toMatch(/^DualAuthorizer[0-9A-F]{8}$/);
    expect(Object.keys(template.findResources('AWS::Logs::LogGroup'))[0]).toMatch(/^AuthorizerLogs[0-9A-F]{8}$/);
  });

  it('may GetItem on the key table and UpdateItem of lastUsedAt only, returning nothing', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))[0]?.Properties.PolicyDocument.Statement;
    expect(statements).toEqual([
      { Action: 'dynamodb:GetItem', Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^KeyTable/), 'Arn'] } },
      {
        Action: 'dynamodb:UpdateItem',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^KeyTable/), 'Arn'] },
        Condition: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['keyHash', 'lastUsedAt'] },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
        },
      },
    ]);
  });

  it('is a REQUEST authorizer on the published version, keyed on the credential, resource and verb, caching 60 s', () => {
    template.resourceCountIs('AWS::ApiGateway::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      IdentitySource: 'method.request.header.Authorization,context.resourceId,context.httpMethod',
      AuthorizerResultTtlInSeconds: 60,
    });
    const version = Object.keys(template.findResources('AWS::Lambda::Version'));
    expect(version).toHaveLength(1);
    expect(JSON.stringify(Object.values(template.findResources('AWS::ApiGateway::Authorizer'))[0]?.Properties.AuthorizerUri)).toContain(
      `{"Ref":"${version[0]}"}`,
    );
    expect(stack.resolve(authorizer.deploymentSalt)).toEqual({
      authorizerIdentitySources: [...authorizer.identitySources],
      authorizerResultTtlSeconds: 60,
      authorizerVersion: version[0],
    });
  });

  it('keys the result on the credential alone in the credential cache scope', () => {
    Template.fromStack(build('credential').stack).hasResourceProperties('AWS::ApiGateway::Authorizer', {
      IdentitySource: 'method.request.header.Authorization',
    });
  });

  it('refuses to synthesize before its code carries the route table', () => {
    expect(() => Template.fromStack(build('route', { materialise: false }).stack)).toThrow(/the Lambda code asset was not created/);
  });
});
