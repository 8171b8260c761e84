import { describe, expect, it } from 'vitest';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DualAuthApi, type DualAuthApiProps } from '../../lib/construct/dual-auth-api';
import { demoRoutesServedBy } from '../support/demo-app';

function synth(props: DualAuthApiProps = {}) {
  const stack = new Stack(new App(), 'PlanStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const backend = new lambda.Function(stack, 'Backend', {
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "{}" })'),
    handler: 'index.handler',
    runtime: lambda.Runtime.NODEJS_22_X,
  });
  const gate = new DualAuthApi(stack, 'Gate', { ...props, routes: demoRoutesServedBy(backend) });
  return { template: Template.fromStack(stack), gate, stack };
}

const PLANS: DualAuthApiProps['plans'] = {
  free: { rateLimitPerSecond: 5, burstLimit: 10, quota: { limit: 10_000, period: 'DAY' } },
  pro: { rateLimitPerSecond: 100, burstLimit: 200 },
};

const methods = (template: Template) =>
  Object.values(template.findResources('AWS::ApiGateway::Method')).map((method) => method.Properties as Record<string, unknown>);

describe('plans on AWS', () => {
  const { template, stack, gate } = synth({ plans: PLANS, defaultPlan: 'free' });

  it('makes one usage plan per dualgate plan with its throttle and quota, on the API stage', () => {
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', 2);
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 5, BurstLimit: 10 },
      Quota: { Limit: 10_000, Period: 'DAY' },
      ApiStages: [Match.objectLike({ ApiId: { Ref: Match.stringLikeRegexp('GateApi') } })],
    });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 100, BurstLimit: 200 }, Quota: Match.absent() });
  });

  it('reads API keys from the authorizer (ApiKeySourceType AUTHORIZER)', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { ApiKeySourceType: 'AUTHORIZER' });
  });

  it('requires an API key on every authorized method and on no open one', () => {
    const all = methods(template);
    const custom = all.filter((method) => method.AuthorizationType === 'CUSTOM');
    expect(custom.length).toBeGreaterThan(5);
    for (const method of custom) expect(method.ApiKeyRequired).toBe(true);
    for (const method of all.filter((method) => method.AuthorizationType === 'NONE')) expect(method.ApiKeyRequired).not.toBe(true);
  });

  it('adds the consumer routes beside the key API', () => {
    const consumers = all(template).filter((resource) => resource.PathPart === '{sub}');
    expect(consumers).toHaveLength(1);
    expect(gate.routeTable.filter((rule) => rule.path === '/consumers/{sub}').map((rule) => [rule.method, rule.scopes])).toEqual([
      ['GET', ['keys:read']],
      ['PUT', ['keys:write']],
      ['DELETE', ['keys:write']],
    ]);
  });

  it('puts the shared usage key on the default plan and tells both Lambdas the plan ids', () => {
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
    const free = Object.entries(
      template.findResources('AWS::ApiGateway::UsagePlan', { Properties: { Throttle: { RateLimit: 5 } } }),
    )[0]?.[0];
    template.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', { UsagePlanId: { Ref: free }, KeyType: 'API_KEY' });
    const fns = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => fn.Properties.Environment?.Variables?.DUALGATE_PLANS,
    );
    expect(fns).toHaveLength(2);
    expect(JSON.stringify(stack.resolve(fns[0]?.Properties.Environment.Variables.DUALGATE_PLANS))).toContain('defaultPlan');
  });

  it('answers over the rate and over the quota with JSON 429s carrying the request id', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'THROTTLED',
      StatusCode: '429',
      ResponseTemplates: { 'application/json': '{"message":"Too Many Requests","requestId":"$context.requestId"}' },
    });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'QUOTA_EXCEEDED',
      StatusCode: '429',
      ResponseTemplates: { 'application/json': '{"message":"Limit Exceeded","requestId":"$context.requestId"}' },
    });
  });

  type Statement = { Sid: string; Effect: string; Action: string; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };
  /** `::/tags/${UrlEncodedResourceARN}` of every API key in the stack's Region (eu-west-1). */
  const API_KEY_TAGS = {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':apigateway:eu-west-1::/tags/arn%3A',
        { Ref: 'AWS::Partition' },
        '%3Aapigateway%3Aeu-west-1%3A%3A%2Fapikeys%2F*',
      ],
    ],
  };
  const usagePlanAccess = (): Statement[] => {
    const policies = template.findResources('AWS::IAM::Policy', {
      Properties: { PolicyName: Match.stringLikeRegexp('^GatePlansUsagePlanAccess') },
    });
    expect(Object.keys(policies)).toHaveLength(1);
    return Object.values(policies).flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
  };
  /** The dualgate:owner value: the usage plans' name prefix (stack name and construct address). */
  const owner = () => `PlanStack-${gate.plans?.node.addr.slice(0, 8)}`;

  it('tells the key API the owner tag value, the usage plans name prefix', () => {
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { UsagePlanName: `${owner()}-free` });
    const fns = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => fn.Properties.Environment?.Variables?.DUALGATE_PLANS,
    );
    for (const fn of fns)
      expect(JSON.stringify(stack.resolve(fn.Properties.Environment.Variables.DUALGATE_PLANS))).toContain(
        `usageKeyOwner\\":\\"${owner()}\\"`,
      );
  });

  it('lets the key API create keys only with its owner tag, and tag nothing else', () => {
    const statements = Object.fromEntries(usagePlanAccess().map((statement) => [statement.Sid, statement]));
    const ownTag = {
      StringEquals: { 'aws:RequestTag/dualgate:owner': owner() },
      'ForAllValues:StringEquals': { 'aws:TagKeys': ['dualgate:owner'] },
    };
    expect(statements['CreateOwnUsageKeys']).toMatchObject({ Effect: 'Allow', Action: 'apigateway:POST', Condition: ownTag });
    expect(JSON.stringify(statements['CreateOwnUsageKeys']?.Resource)).toMatch(/::\/apikeys"\]\]\}$/);
    // CreateApiKey with tags is also apigateway:PUT on the new key's tags resource: API keys' only, URL-encoded.
    expect(statements['TagOwnUsageKeysOnCreate']).toEqual({
      Sid: 'TagOwnUsageKeysOnCreate',
      Effect: 'Allow',
      Action: 'apigateway:PUT',
      Resource: API_KEY_TAGS,
      Condition: ownTag,
    });
  });

  it('issue 4: tags only API keys (the one being created included), never a REST API, a stage or a usage plan', () => {
    const tagging = usagePlanAccess().find((statement) => statement.Sid === 'TagOwnUsageKeysOnCreate');
    const pattern = inAwsPartition(tagging?.Resource);
    const apiKey = (id: string, region = 'eu-west-1') => `arn:aws:apigateway:${region}::/apikeys/${id}`;
    // At CreateApiKey the key has no id: its tags resource names `*` in the id's place (URL-encoded ARN, `*` kept).
    expect(iamResourceMatches(pattern, tagsResourceOf(apiKey('*')))).toBe(true);
    expect(iamResourceMatches(pattern, tagsResourceOf(apiKey('a1b2c3d4e5')))).toBe(true);
    for (const other of [
      'arn:aws:apigateway:eu-west-1::/restapis/a1b2c3d4e5',
      'arn:aws:apigateway:eu-west-1::/restapis/a1b2c3d4e5/stages/prod',
      'arn:aws:apigateway:eu-west-1::/usageplans/up1234',
      'arn:aws:apigateway:eu-west-1::/domainnames/api.example.com',
      apiKey('a1b2c3d4e5', 'eu-central-1'),
    ]) {
      expect(iamResourceMatches(pattern, tagsResourceOf(other)), other).toBe(false);
    }
    // The old statement's resource, `::/tags/*`, matched them all.
    expect(
      iamResourceMatches('arn:aws:apigateway:eu-west-1::/tags/*', tagsResourceOf('arn:aws:apigateway:eu-west-1::/restapis/a1b2c3d4e5')),
    ).toBe(true);
  });

  it('issue 4: refuses to re-tag a key that carries another owner tag, and still lets a tagged create through', () => {
    const deny = usagePlanAccess().find((statement) => statement.Sid === 'DenyRetaggingOtherOwnersKeys');
    expect(deny).toEqual({
      Sid: 'DenyRetaggingOtherOwnersKeys',
      Effect: 'Deny',
      Action: 'apigateway:PUT',
      Resource: API_KEY_TAGS,
      Condition: { Null: { 'aws:ResourceTag/dualgate:owner': 'false' }, StringNotEquals: { 'aws:ResourceTag/dualgate:owner': owner() } },
    });
    const denies = (resourceTags: Record<string, string>) => denyConditionHolds(deny?.Condition ?? {}, resourceTags);
    // A key being created has no resource tags yet: not denied (StringNotEqualsIfExists alone would deny it).
    expect(denies({})).toBe(false);
    expect(denyConditionHolds({ StringNotEqualsIfExists: { 'aws:ResourceTag/dualgate:owner': owner() } }, {})).toBe(true);
    expect(denies({ 'dualgate:owner': 'OtherStack-1a2b3c4d' })).toBe(true);
    expect(denies({ 'dualgate:owner': owner() })).toBe(false);
    // The remaining risk (SECURITY.md): a key without any dualgate:owner tag looks like one being created.
    expect(denies({ team: 'payments' })).toBe(false);
  });

  it('lets the key API delete only API keys that carry its owner tag', () => {
    const remove = usagePlanAccess().find((statement) => statement.Sid === 'DeleteOwnUsageKeys');
    expect(remove).toMatchObject({
      Action: 'apigateway:DELETE',
      Condition: { StringEquals: { 'aws:ResourceTag/dualgate:owner': owner() } },
    });
    expect(JSON.stringify(remove?.Resource)).toMatch(/::\/apikeys\/\*"\]\]\}$/);
    // No other statement reaches an API key or a tag, and every wildcard on them is conditioned.
    for (const statement of usagePlanAccess()) {
      if (/apikeys|tags/.test(JSON.stringify(statement.Resource))) expect(statement.Condition, statement.Sid).toBeDefined();
    }
  });

  it('lets the key API move keys in and out of this API usage plans only, list usage plans and read their usage', () => {
    const statements = usagePlanAccess();
    const planIds = Object.keys(template.findResources('AWS::ApiGateway::UsagePlan'));
    const rendered = Object.fromEntries(
      statements.map((statement) => [statement.Sid, `${statement.Action} ${JSON.stringify(statement.Resource)}`]),
    );
    expect(Object.keys(rendered).sort()).toEqual([
      'AddKeysToOwnUsagePlans',
      'CreateOwnUsageKeys',
      'DeleteOwnUsageKeys',
      'DenyRetaggingOtherOwnersKeys',
      'ReadOwnUsagePlans',
      'RemoveKeysFromOwnUsagePlans',
      'TagOwnUsageKeysOnCreate',
    ]);
    expect(statements.filter((statement) => statement.Effect === 'Deny').map((statement) => statement.Sid)).toEqual([
      'DenyRetaggingOtherOwnersKeys',
    ]);
    for (const resource of Object.values(rendered)) expect(resource).not.toMatch(/"\*"|usageplans\/\*/);
    for (const id of planIds) {
      expect(rendered['AddKeysToOwnUsagePlans']).toContain(`{"Ref":"${id}"},"/keys"`);
      expect(rendered['RemoveKeysFromOwnUsagePlans']).toContain(`{"Ref":"${id}"},"/keys/*"`);
      expect(rendered['ReadOwnUsagePlans']).toContain(`{"Ref":"${id}"},"/usage"`);
      // GetUsagePlanKey: is the key already in the plan (CreateUsagePlanKey answered ConflictException)?
      expect(rendered['ReadOwnUsagePlans']).toContain(`{"Ref":"${id}"},"/keys/*"`);
    }
    expect(rendered['AddKeysToOwnUsagePlans']).toMatch(/^apigateway:POST /);
    expect(rendered['RemoveKeysFromOwnUsagePlans']).toMatch(/^apigateway:DELETE /);
    expect(rendered['ReadOwnUsagePlans']).toMatch(/^apigateway:GET .*::\/usageplans"/);
    // The authorizer keeps its one GetItem: consumer records live in the key table.
    const authorizer = template.findResources('AWS::IAM::Policy', {
      Properties: { PolicyName: Match.stringLikeRegexp('^GateAuthorizerServiceRoleDefaultPolicy') },
    });
    const authorizerActions = Object.values(authorizer).flatMap((policy) =>
      policy.Properties.PolicyDocument.Statement.map((statement: { Action: unknown }) => statement.Action),
    );
    // Plans add nothing to the authorizer: its GetItem reads consumer records too; UpdateItem is lastUsedAt's, conditioned.
    expect([...authorizerActions].sort()).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
  });
});

/** A policy resource as IAM sees it in the aws partition: the Fn::Join of strings and the partition. */
function inAwsPartition(resource: unknown): string {
  const [separator, parts] = (resource as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return parts
    .map((part) => {
      if (typeof part === 'string') return part;
      if ((part as { Ref?: unknown }).Ref === 'AWS::Partition') return 'aws';
      throw new Error(`unexpected part ${JSON.stringify(part)}`);
    })
    .join(separator);
}

/** IAM's Resource matching: `*` any run of characters, `?` one, everything else literal and case-sensitive. */
function iamResourceMatches(pattern: string, arn: string): boolean {
  const source = [...pattern]
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`).test(arn);
}

/** API Gateway's Tags resource of a resource ARN (Service Authorization Reference): `::/tags/${UrlEncodedResourceARN}`. */
const tagsResourceOf = (resourceArn: string) => `arn:aws:apigateway:eu-west-1::/tags/${encodeURIComponent(resourceArn)}`;

/**
 * Whether a Deny's conditions hold for resource tags, per IAM's rules for the operators used: all must hold; Null
 * "false" means the key is present; a negated operator (with or without IfExists) holds for a missing key.
 */
function denyConditionHolds(condition: Record<string, Record<string, unknown>>, resourceTags: Record<string, string>): boolean {
  return Object.entries(condition).every(([operator, keys]) =>
    Object.entries(keys).every(([key, expected]) => {
      const actual = key.startsWith('aws:ResourceTag/') ? resourceTags[key.slice('aws:ResourceTag/'.length)] : undefined;
      if (operator === 'Null') return (actual === undefined) === (expected === 'true');
      if (operator === 'StringNotEquals' || operator === 'StringNotEqualsIfExists') return actual === undefined || actual !== expected;
      throw new Error(`operator ${operator} not modelled`);
    }),
  );
}

function all(template: Template) {
  return Object.values(template.findResources('AWS::ApiGateway::Resource')).map(
    (resource) => resource.Properties as Record<string, unknown>,
  );
}

describe('plans without a defaultPlan', () => {
  const { template } = synth({ plans: { pro: { rateLimitPerSecond: 100, burstLimit: 200 } } });
  it('shares one key on an internal usage plan without limits (the stage throttle only)', () => {
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', 2);
    const unlimited = Object.entries(template.findResources('AWS::ApiGateway::UsagePlan')).filter(
      ([, plan]) => plan.Properties.Throttle === undefined && plan.Properties.Quota === undefined,
    );
    expect(unlimited).toHaveLength(1);
    template.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', { UsagePlanId: { Ref: unlimited[0]?.[0] } });
  });
});

describe('no plans', () => {
  const { template } = synth();
  it('creates no usage plan, no API key, no apiKeyRequired and no DUALGATE_PLANS (the consumer routes serve entitlements)', () => {
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', 0);
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
    for (const method of methods(template)) expect(method.ApiKeyRequired).toBeUndefined();
    expect(all(template).some((resource) => resource.PathPart === 'consumers')).toBe(true);
    expect(JSON.stringify(template.findResources('AWS::Lambda::Function'))).not.toContain('DUALGATE_PLANS');
    expect(JSON.stringify(template.findResources('AWS::ApiGateway::RestApi'))).not.toContain('ApiKeySourceType');
    template.resourceCountIs('AWS::ApiGateway::GatewayResponse', 7);
  });
});

describe('plan settings are checked at synth, naming the setting', () => {
  const cases: [string, DualAuthApiProps, RegExp][] = [
    ['a rate of 0', { plans: { free: { rateLimitPerSecond: 0, burstLimit: 1 } } }, /plans\.free\.rateLimitPerSecond must be/],
    ['a fractional burst', { plans: { free: { rateLimitPerSecond: 1, burstLimit: 1.5 } } }, /plans\.free\.burstLimit must be an integer/],
    [
      'an unknown period',
      { plans: { free: { rateLimitPerSecond: 1, burstLimit: 1, quota: { limit: 5, period: 'YEAR' as 'DAY' } } } },
      /plans\.free\.quota\.period must be one of DAY, WEEK, MONTH/,
    ],
    [
      'a quota of 0',
      { plans: { free: { rateLimitPerSecond: 1, burstLimit: 1, quota: { limit: 0, period: 'DAY' } } } },
      /plans\.free\.quota\.limit must be/,
    ],
    [
      'an unknown field',
      { plans: { free: { rateLimitPerSecond: 1, burstLimit: 1, rate: 3 } as never } },
      /plans\.free: unknown setting\(s\) rate/,
    ],
    ['a bad plan name', { plans: { 'free plan': { rateLimitPerSecond: 1, burstLimit: 1 } } }, /plans: plan name "free plan" must match/],
    ['no plan at all', { plans: {} }, /plans must name at least one plan/],
    [
      'an unknown defaultPlan',
      { plans: { free: { rateLimitPerSecond: 1, burstLimit: 1 } }, defaultPlan: 'gold' },
      /defaultPlan must be one of the plans \(free\) \(got "gold"\)/,
    ],
    ['a defaultPlan without plans', { defaultPlan: 'free' }, /defaultPlan needs plans/],
  ];
  for (const [what, props, message] of cases) {
    it(`refuses ${what}`, () => {
      expect(() => synth(props)).toThrow(message);
    });
  }
});
