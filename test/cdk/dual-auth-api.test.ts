import { describe, expect, it } from 'vitest';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DualAuthApi, type DualAuthApiProps } from '../../lib/construct/dual-auth-api';
import { DEMO_ROUTE_TABLE as ROUTES, demoScopeCatalog as scopeCatalog } from '../../examples/demo/routes';
import { demoRoutesServedBy } from '../support/demo-app';

/** The construct with the demo's routes, each served by a small inline function of the app's own. */
function synth(props: DualAuthApiProps = {}) {
  const stack = new Stack(new App(), 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const backend = new lambda.Function(stack, 'Backend', {
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "{}" })'),
    handler: 'index.handler',
    runtime: lambda.Runtime.NODEJS_22_X,
  });
  const dualAuth = new DualAuthApi(stack, 'DualAuth', { ...props, routes: demoRoutesServedBy(backend) });
  return { template: Template.fromStack(stack), dualAuth, stack };
}

describe('DualAuthApi (default: Cognito issuer)', () => {
  const { template, stack } = synth();
  const resolve = (value: unknown) => stack.resolve(value);

  it('stores keys in a retained, PITR-protected, on-demand table keyed by keyHash with TTL on expiresAt and both indexes', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        KeySchema: [{ AttributeName: 'keyHash', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        DeletionProtectionEnabled: true,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        GlobalSecondaryIndexes: Match.arrayWith([
          Match.objectLike({ IndexName: 'byId', KeySchema: [{ AttributeName: 'keyId', KeyType: 'HASH' }] }),
          Match.objectLike({
            IndexName: 'byOwner',
            KeySchema: [
              { AttributeName: 'owner', KeyType: 'HASH' },
              { AttributeName: 'createdAt', KeyType: 'RANGE' },
            ],
          }),
        ]),
      }),
    });
  });

  it('has one REQUEST authorizer keyed on the Authorization header, the resource and the verb, with a 60 s result cache', () => {
    template.resourceCountIs('AWS::ApiGateway::Authorizer', 1);
    // The route cache scope: one cached result per credential and route, never reused for another route.
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      IdentitySource: 'method.request.header.Authorization,context.resourceId,context.httpMethod',
      AuthorizerResultTtlInSeconds: 60,
    });
  });

  it('keys the authorizer on the Authorization header alone in the credential cache scope (one policy for every route)', () => {
    const credential = synth({ authorizerCacheScope: 'credential' }).template;
    credential.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      IdentitySource: 'method.request.header.Authorization',
    });
  });

  it('points the authorizer at a published version, and redeploys the stage when that version or the identity sources change', () => {
    const uri = JSON.stringify(Object.values(template.findResources('AWS::ApiGateway::Authorizer'))[0]?.Properties.AuthorizerUri);
    const versions = Object.keys(template.findResources('AWS::Lambda::Version'));
    expect(versions).toHaveLength(1);
    expect(uri).toContain(`{"Ref":"${versions[0]}"}`);
    const deploymentOf = (props: DualAuthApiProps) => Object.keys(synth(props).template.findResources('AWS::ApiGateway::Deployment'));
    const route = deploymentOf({});
    expect(route).toHaveLength(1);
    // The same app: the same deployment. Another cache scope or another authorizer version: a new one.
    expect(deploymentOf({})).toEqual(route);
    expect(deploymentOf({ authorizerCacheScope: 'credential' })).not.toEqual(route);
    expect(deploymentOf({ keyCacheTtlSeconds: 7 })).not.toEqual(route);
  });

  it('refuses an unknown authorizerCacheScope, naming the choices', () => {
    expect(() => synth({ authorizerCacheScope: 'stage' as never })).toThrow(
      /authorizerCacheScope must be one of 'route', 'credential' \(got "stage"\)/,
    );
  });

  it('puts every route but /health and the GitHub leak endpoint behind that authorizer', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).map((method) => method.Properties);
    // The demo's routes and the key API, plus POST /leaks/github (signed by GitHub, not by a dualgate credential).
    // …and the consumer routes (GET, PUT, DELETE /consumers/{sub}), beside the key API whenever it is on.
    expect(methods).toHaveLength(ROUTES.length + 3 + 1);
    const authorizerId = Object.keys(template.findResources('AWS::ApiGateway::Authorizer'))[0];
    const custom = methods.filter((method) => method.AuthorizationType === 'CUSTOM');
    expect(custom).toHaveLength(ROUTES.filter((route) => route.authorized !== false).length + 3);
    for (const method of custom) expect(method.AuthorizerId).toEqual({ Ref: authorizerId });
    expect(
      methods
        .filter((method) => method.AuthorizationType === 'NONE')
        .map((method) => method.HttpMethod)
        .sort(),
    ).toEqual(['GET', 'POST']);
  });

  it('lets the authorizer GetItem on the table itself, and UpdateItem nothing but lastUsedAt, returning nothing', () => {
    const authorizerRole = template.findResources('AWS::IAM::Policy', {
      Properties: { PolicyName: Match.stringLikeRegexp('^DualAuthAuthorizerServiceRoleDefaultPolicy') },
    });
    const statements = Object.values(authorizerRole).flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    expect(statements).toHaveLength(2);
    const table = { 'Fn::GetAtt': [expect.stringMatching(/^DualAuthKeyTable/), 'Arn'] };
    expect(statements[0]).toEqual({ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: table });
    expect(statements[1]).toEqual({
      Effect: 'Allow',
      Action: 'dynamodb:UpdateItem',
      Resource: table,
      Condition: {
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['keyHash', 'lastUsedAt'] },
        StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
      },
    });
  });

  it("runs dualgate's own Lambdas (authorizer, key API, leak endpoint) on arm64 with a current Node.js runtime", () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((fn) => fn.Properties)
      .filter((fn) => JSON.stringify(fn.Environment ?? {}).includes('DUALGATE_KEY_TABLE'));
    expect(functions).toHaveLength(3);
    for (const fn of functions) {
      expect(fn.Architectures).toEqual(['arm64']);
      expect(Number(/^nodejs(\d+)\.x$/.exec(fn.Runtime)?.[1])).toBeGreaterThanOrEqual(22);
    }
  });

  it('answers 401, 403 and authorizer failure (503) with JSON gateway responses', () => {
    for (const [type, status] of [
      ['UNAUTHORIZED', '401'],
      ['ACCESS_DENIED', '403'],
      ['AUTHORIZER_FAILURE', '503'],
    ] as const) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: status,
        ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"message"') },
      });
    }
  });

  it('leaves DEFAULT_4XX/5XX statuses to API Gateway, so throttling stays 429 and timeouts 504', () => {
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX']) {
      const responses = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse', { Properties: { ResponseType: type } }));
      expect(responses).toHaveLength(1);
      expect(responses[0]?.Properties.StatusCode).toBeUndefined();
      expect(responses[0]?.Properties.ResponseTemplates['application/json']).toContain('$context.error.messageString');
    }
  });

  it('writes JSON access logs that include the authorizer sub, and never traces request data', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      AccessLogSetting: Match.objectLike({ Format: Match.stringLikeRegexp('\\$context\\.authorizer\\.sub') }),
      MethodSettings: Match.arrayWith([Match.objectLike({ DataTraceEnabled: false })]),
    });
  });

  it('creates a Cognito resource server with every catalog scope and a client-credentials client', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: 'dualgate',
      Scopes: Match.arrayWith(scopeCatalog().map((scope) => Match.objectLike({ ScopeName: scope }))),
    });
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', { AllowedOAuthFlows: ['client_credentials'], GenerateSecret: true });
    expect(scopeCatalog()).toEqual(expect.arrayContaining(['keys:read', 'keys:write', 'keys:admin', 'read:users', 'write:users']));
  });

  it('hands the authorizer its settings through the environment', () => {
    const authorizer = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (fn) => JSON.stringify(fn.Properties.Environment ?? {}).includes('DUALGATE_ISSUERS') && fn.Properties.MemorySize === 512,
    );
    expect(authorizer?.Properties.Environment.Variables).toMatchObject({
      DUALGATE_KEY_PREFIX: 'dg',
      DUALGATE_KEY_CACHE_TTL_SECONDS: '30',
      DUALGATE_STALE_IF_ERROR_SECONDS: '60',
    });
    expect(JSON.stringify(resolve(authorizer?.Properties.Environment.Variables.DUALGATE_ISSUERS))).toContain('dualgate/');
    // Source maps cost the authorizer's cold start (docs/performance.md); the other functions keep them.
    expect(authorizer?.Properties.Environment.Variables.NODE_OPTIONS).toBeUndefined();
    const keys = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (fn) => fn !== authorizer && JSON.stringify(fn.Properties.Environment ?? {}).includes('DUALGATE_ISSUERS'),
    );
    expect(keys?.Properties.Environment.Variables.NODE_OPTIONS).toBe('--enable-source-maps');
  });
});

describe('DualAuthApi configuration', () => {
  it('adds a custom admin scope to the Cognito resource server', () => {
    const { template } = synth({ adminScope: 'platform:admin' });
    template.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Scopes: Match.arrayWith([Match.objectLike({ ScopeName: 'platform:admin' })]),
    });
  });

  it('uses external OIDC issuers instead of Cognito when given, and sets the cache TTL (0 = off)', () => {
    const { template } = synth({
      issuers: [{ issuer: 'https://login.example.com/', audience: ['api://dualgate'] }],
      authorizerCacheTtlSeconds: 0,
    });
    template.resourceCountIs('AWS::Cognito::UserPool', 0);
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', { AuthorizerResultTtlInSeconds: 0 });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          DUALGATE_ISSUERS: JSON.stringify([{ issuer: 'https://login.example.com/', audience: ['api://dualgate'] }]),
        }),
      },
    });
  });

  it.each([
    [{ keyPrefix: 'Bad_Prefix' }, /keyPrefix must match/],
    [{ issuers: [{ issuer: 'http://insecure.example.com', audience: 'x' }] }, /issuers\[0\]\.issuer must be an https URL/],
    [{ issuers: [{ issuer: 'https://login.example.com' }] }, /issuers\[0\] needs an audience/],
    [{ issuers: [{ issuer: 'https://a.example.com', audience: 'x', jwksUri: 'ftp://x' }] }, /jwksUri must be an https URL/],
    [{ issuers: [{ issuer: 'https://a.example.com', audience: 'x', extra: 1 }] }, /unknown field\(s\): extra/],
    [{ authorizerCacheTtlSeconds: -1 }, /authorizerCacheTtlSeconds must be an integer from 0 to 3600/],
    [{ keyCacheTtlSeconds: 1.5 }, /keyCacheTtlSeconds must be an integer/],
    [{ authorizerCacheTtlSeconds: 7200 }, /authorizerCacheTtlSeconds must be an integer from 0 to 3600/],
    [{ cognito: false }, /no JWT issuer/],
    [{ stageName: 'has space' }, /stageName/],
  ] as [Record<string, unknown>, RegExp][])('rejects %j at synth time with a clear error', (props, message) => {
    expect(() => synth(props as DualAuthApiProps)).toThrow(message);
  });
});
