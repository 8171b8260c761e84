/** The construct's leak detection: the open route, the function's least-privilege role, SNS, and its settings. */
import { describe, expect, it } from 'vitest';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { DualAuthApi, type DualAuthApiProps } from '../../lib/construct/dual-auth-api';

function synth(props: DualAuthApiProps = {}, extend?: (stack: Stack) => Partial<DualAuthApiProps>) {
  const stack = new Stack(new App(), 'LeakStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const backend = new lambda.Function(stack, 'Backend', {
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "{}" })'),
    handler: 'index.handler',
    runtime: lambda.Runtime.NODEJS_22_X,
  });
  const gate = new DualAuthApi(stack, 'Gate', {
    ...props,
    ...extend?.(stack),
    routes: [{ method: 'GET', path: '/orders', scopes: ['read:orders'], handler: backend }],
  });
  return { template: Template.fromStack(stack), gate, stack };
}

const leakFunctionId = (template: Template) => {
  const [id] =
    Object.entries(template.findResources('AWS::Lambda::Function')).find(
      ([, fn]) => fn.Properties.Environment?.Variables?.DUALGATE_GITHUB_KEYS_URL !== undefined,
    ) ?? [];
  return id;
};
const policyStatementsOf = (template: Template, prefix: string) =>
  Object.values(template.findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp(`^${prefix}`) } })).flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement,
  );
const table = { 'Fn::GetAtt': [expect.stringMatching(/^GateKeyTable/), 'Arn'] };

describe('leak detection (default: on with the management API)', () => {
  const { template, gate, stack } = synth();

  it('adds POST /leaks/github as an open method (GitHub sends no credential) served by its own function', () => {
    expect(gate.leakDetectionPath).toBe('/leaks/github');
    const resources = template.findResources('AWS::ApiGateway::Resource');
    const github = Object.entries(resources).find(([, resource]) => resource.Properties.PathPart === 'github');
    const leaks = Object.entries(resources).find(([, resource]) => resource.Properties.PathPart === 'leaks');
    expect(github?.[1].Properties.ParentId).toEqual({ Ref: leaks?.[0] });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      ResourceId: { Ref: github?.[0] },
      AuthorizationType: 'NONE',
      Integration: Match.objectLike({
        Type: 'AWS_PROXY',
        Uri: Match.objectLike({
          'Fn::Join': ['', Match.arrayWith([Match.objectLike({ 'Fn::GetAtt': [leakFunctionId(template), 'Arn'] })])],
        }),
      }),
    });
    // The authorizer's route table holds authorized routes only: the open leak route is not in it.
    expect(gate.routeConfig().routeTable.routes.map((route) => route.path)).not.toContain('/leaks/github');
  });

  it('runs the function on arm64, Node.js 24, with a 25 s timeout (under API Gateway’s 29 s) and its settings in the environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 25,
      Environment: {
        Variables: {
          DUALGATE_KEY_TABLE: { Ref: Match.stringLikeRegexp('^GateKeyTable') },
          DUALGATE_KEY_PREFIX: 'dg',
          LOG_LEVEL: 'INFO',
          DUALGATE_GITHUB_KEYS_URL: 'https://api.github.com/meta/public_keys/secret_scanning',
          DUALGATE_LEAK_ACTION: 'revoke',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    });
  });

  it('lets the function GetItem on the table and UpdateItem only the leak and revocation attributes, returning nothing', () => {
    const statements = policyStatementsOf(template, 'GateLeakHandlerServiceRoleDefaultPolicy');
    expect(statements).toEqual([
      { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: table },
      {
        Effect: 'Allow',
        Action: 'dynamodb:UpdateItem',
        Resource: table,
        Condition: {
          'ForAllValues:StringEquals': {
            'dynamodb:Attributes': [
              'keyHash',
              'leakedAt',
              'leakReporter',
              'leakUrl',
              'leakSource',
              'updatedAt',
              'version',
              'revokedAt',
              'revokedReason',
              'expiresAt',
            ],
          },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
        },
      },
    ]);
    // No PutItem, DeleteItem, Query or Scan, no index, and nothing else in the account.
    const actions = statements.flatMap((statement: { Action: string | string[] }) => [statement.Action].flat());
    expect(actions).not.toEqual(expect.arrayContaining([expect.stringMatching(/PutItem|DeleteItem|Query|Scan|BatchWrite|\*/)]));
  });

  it('puts no SNS permission or topic setting on the function when no topic is given', () => {
    expect(JSON.stringify(policyStatementsOf(template, 'GateLeakHandler'))).not.toContain('sns:');
    const variables = template.findResources('AWS::Lambda::Function')[leakFunctionId(template) as string]?.Properties.Environment.Variables;
    expect(variables).not.toHaveProperty('DUALGATE_LEAK_TOPIC_ARN');
  });

  it('outputs the URL to register with GitHub', () => {
    const outputs = template.findOutputs('*');
    const output = Object.entries(outputs).find(([id]) => id.startsWith('GateGithubLeakEndpoint'))?.[1];
    expect(stack.resolve(output?.Value)).toEqual({ 'Fn::Join': ['', expect.arrayContaining(['/leaks/github'])] });
  });
});

describe('leak detection options', () => {
  it('publishes to a topic: its ARN in the environment and sns:Publish on that topic only', () => {
    const { template } = synth({}, (stack) => ({ leakDetection: { topic: new sns.Topic(stack, 'Leaks') } }));
    const variables = template.findResources('AWS::Lambda::Function')[leakFunctionId(template) as string]?.Properties.Environment.Variables;
    expect(variables.DUALGATE_LEAK_TOPIC_ARN).toEqual({ Ref: expect.stringMatching(/^Leaks/) });
    expect(policyStatementsOf(template, 'GateLeakHandlerServiceRoleDefaultPolicy')).toContainEqual({
      Effect: 'Allow',
      Action: 'sns:Publish',
      Resource: { Ref: expect.stringMatching(/^Leaks/) },
    });
  });

  it('with notify, may not write the revocation attributes at all', () => {
    const { template } = synth({ leakDetection: { action: 'notify' } });
    const update = policyStatementsOf(template, 'GateLeakHandlerServiceRoleDefaultPolicy').find(
      (statement: { Action: string }) => statement.Action === 'dynamodb:UpdateItem',
    );
    expect(update.Condition['ForAllValues:StringEquals']['dynamodb:Attributes']).toEqual([
      'keyHash',
      'leakedAt',
      'leakReporter',
      'leakUrl',
      'leakSource',
      'updatedAt',
      'version',
    ]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DUALGATE_LEAK_ACTION: 'notify' }) },
    });
  });

  it('moves the route with path, and takes a GitHub Enterprise Server key document', () => {
    const { template, gate } = synth({
      leakDetection: { path: '/security/github-leaks', githubKeysUrl: 'https://ghe.example.com/api/v3/meta/public_keys/secret_scanning' },
    });
    expect(gate.leakDetectionPath).toBe('/security/github-leaks');
    const parts = Object.values(template.findResources('AWS::ApiGateway::Resource')).map((resource) => resource.Properties.PathPart);
    expect(parts).toEqual(expect.arrayContaining(['security', 'github-leaks']));
    expect(parts).not.toContain('leaks');
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ DUALGATE_GITHUB_KEYS_URL: 'https://ghe.example.com/api/v3/meta/public_keys/secret_scanning' }),
      },
    });
  });

  it('is off with leakDetection: false, and off by default when the management API is off', () => {
    for (const props of [{ leakDetection: false }, { managementApi: false }] as DualAuthApiProps[]) {
      const { template, gate } = synth(props);
      expect(gate.leakFunction).toBeUndefined();
      expect(leakFunctionId(template)).toBeUndefined();
      expect(
        Object.values(template.findResources('AWS::ApiGateway::Resource')).map((resource) => resource.Properties.PathPart),
      ).not.toContain('leaks');
    }
  });

  it('can be turned on without the management API', () => {
    const { gate } = synth({ managementApi: false, leakDetection: true });
    expect(gate.leakFunction).toBeDefined();
    expect(gate.managementFunction).toBeUndefined();
  });

  it('refuses bad options with errors that name the setting', () => {
    expect(() => synth({ leakDetection: { path: 'leaks' } })).toThrow(/^leakDetection\.path must be a path of literal segments/);
    expect(() => synth({ leakDetection: { path: '/leaks/{id}' } })).toThrow(/leakDetection\.path/);
    expect(() => synth({ leakDetection: { action: 'delete' as never } })).toThrow(
      /^leakDetection\.action must be one of 'revoke', 'notify'/,
    );
    expect(() => synth({ leakDetection: { githubKeysUrl: 'http://api.github.com/meta' } })).toThrow(
      /^leakDetection\.githubKeysUrl must be an https URL/,
    );
    expect(() => synth({ leakDetection: { githubKeysUrl: 'http://127.0.0.1:4010/keys' } })).toThrow(
      /^leakDetection\.githubKeysUrl must be an https URL/,
    );
    expect(() => synth({ leakDetection: { topic: 'arn:aws:sns:eu-west-1:123456789012:t' as never } })).toThrow(
      /^leakDetection\.topic must be an SNS topic/,
    );
    expect(() => synth({ leakDetection: { paths: '/x' } as never })).toThrow(/^leakDetection: unknown field\(s\) paths/);
    expect(() => synth({ leakDetection: 'yes' as never })).toThrow(/^leakDetection must be true, false or/);
  });

  it('names leak detection when an app route collides with its path', () => {
    const stack = new Stack(new App(), 'Collide');
    const backend = new lambda.Function(stack, 'Backend', {
      code: lambda.Code.fromInline('exports.handler = async () => ({})'),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
    });
    expect(() => new DualAuthApi(stack, 'Gate', { routes: [{ method: 'POST', path: '/leaks/github', handler: backend }] })).toThrow(
      /collides with leak detection at \/leaks\/github: move it with leakDetection: \{ path/,
    );
  });
});
