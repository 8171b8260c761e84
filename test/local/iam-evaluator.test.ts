import { describe, expect, it } from 'vitest';
import { PolicyCompiler } from '../../lambdas/core/policy-compiler';
import { DEMO_ROUTE_TABLE as ROUTES } from '../../examples/demo/routes';
import { evaluatePolicy, methodArnFor } from '../../lib/local/iam-evaluator';

const where = { region: 'us-east-1', accountId: '000000000000', apiId: 'local', stageName: 'v1' };
const stageArn = 'arn:aws:execute-api:us-east-1:000000000000:local/v1';
const arn = (method: string, path: string) => methodArnFor(where, method, path);
const allow = (resource: string | string[], action: string | string[] = 'execute-api:Invoke') => ({
  Effect: 'Allow',
  Action: action,
  Resource: resource,
});
const deny = (resource: string | string[]) => ({ Effect: 'Deny', Action: 'execute-api:Invoke', Resource: resource });
const policy = (...statements: unknown[]) => ({ Version: '2012-10-17', Statement: statements });

describe('methodArnFor', () => {
  it("builds the method ARN as API Gateway does, without the path's leading slash", () => {
    expect(arn('GET', '/keys/key_1')).toBe(`${stageArn}/GET/keys/key_1`);
    expect(arn('GET', '/')).toBe(`${stageArn}/GET/`);
  });
});

describe('evaluatePolicy', () => {
  it('allows when an Allow statement matches the method ARN exactly', () => {
    expect(evaluatePolicy(policy(allow(`${stageArn}/GET/me`)), arn('GET', '/me'))).toEqual({ decision: 'allow' });
  });

  it('denies implicitly when nothing matches', () => {
    expect(evaluatePolicy(policy(allow(`${stageArn}/GET/me`)), arn('GET', '/users'))).toEqual({ decision: 'implicit_deny' });
    expect(evaluatePolicy(policy(), arn('GET', '/me'))).toEqual({ decision: 'implicit_deny' });
  });

  it('lets an explicit Deny win over a matching Allow, in either order', () => {
    const arnMe = arn('GET', '/me');
    expect(evaluatePolicy(policy(allow(`${stageArn}/*`), deny(`${stageArn}/GET/me`)), arnMe)).toEqual({ decision: 'explicit_deny' });
    expect(evaluatePolicy(policy(deny(`${stageArn}/GET/me`), allow(`${stageArn}/*`)), arnMe)).toEqual({ decision: 'explicit_deny' });
  });

  it('matches `*` across slashes and `?` as exactly one character', () => {
    expect(evaluatePolicy(policy(allow(`${stageArn}/GET/keys/*`)), arn('GET', '/keys/key_1/rotate'))).toEqual({ decision: 'allow' });
    expect(evaluatePolicy(policy(allow(`${stageArn}/GET/m?`)), arn('GET', '/me'))).toEqual({ decision: 'allow' });
    expect(evaluatePolicy(policy(allow(`${stageArn}/GET/m?`)), arn('GET', '/mee'))).toEqual({ decision: 'implicit_deny' });
    expect(evaluatePolicy(policy(allow(`${stageArn}/*/me`)), arn('DELETE', '/me'))).toEqual({ decision: 'allow' });
  });

  it('compares resources case-sensitively', () => {
    expect(evaluatePolicy(policy(allow(`${stageArn}/GET/Me`)), arn('GET', '/me'))).toEqual({ decision: 'implicit_deny' });
  });

  it('requires the Action to cover execute-api:Invoke (case-insensitive, wildcards allowed)', () => {
    const arnMe = arn('GET', '/me');
    expect(evaluatePolicy(policy(allow('*', 's3:GetObject')), arnMe)).toEqual({ decision: 'implicit_deny' });
    expect(evaluatePolicy(policy(allow('*', 'execute-api:ManageConnections')), arnMe)).toEqual({ decision: 'implicit_deny' });
    expect(evaluatePolicy(policy(allow('*', 'execute-api:*')), arnMe)).toEqual({ decision: 'allow' });
    expect(evaluatePolicy(policy(allow('*', '*')), arnMe)).toEqual({ decision: 'allow' });
    expect(evaluatePolicy(policy(allow('*', 'Execute-API:invoke')), arnMe)).toEqual({ decision: 'allow' });
    expect(evaluatePolicy(policy(allow('*', ['s3:*', 'execute-api:Invoke'])), arnMe)).toEqual({ decision: 'allow' });
  });

  it('does not let a Deny for another action block Invoke', () => {
    const statement = { Effect: 'Deny', Action: 'execute-api:ManageConnections', Resource: '*' };
    expect(evaluatePolicy(policy(allow('*'), statement), arn('GET', '/me'))).toEqual({ decision: 'allow' });
  });

  it('accepts a single statement object and resource lists', () => {
    const single = { Version: '2012-10-17', Statement: allow([`${stageArn}/GET/users`, `${stageArn}/GET/me`]) };
    expect(evaluatePolicy(single, arn('GET', '/me'))).toEqual({ decision: 'allow' });
  });

  it('reports malformed documents as invalid instead of guessing', () => {
    const arnMe = arn('GET', '/me');
    expect(evaluatePolicy(null, arnMe).decision).toBe('invalid');
    expect(evaluatePolicy('allow', arnMe).decision).toBe('invalid');
    expect(evaluatePolicy(policy({ Effect: 'Maybe', Action: '*', Resource: '*' }), arnMe).decision).toBe('invalid');
    expect(evaluatePolicy(policy({ Effect: 'Allow', Action: 7, Resource: '*' }), arnMe).decision).toBe('invalid');
    expect(evaluatePolicy(policy({ Effect: 'Allow', Action: '*' }), arnMe).decision).toBe('invalid');
    expect(evaluatePolicy(policy({ Effect: 'Deny', Action: '*', NotResource: '*' }), arnMe).decision).toBe('invalid');
  });

  it('agrees with the route table for every policy the compiler emits', () => {
    const compiler = PolicyCompiler.fromRoutes(ROUTES);
    const scopeSets = [
      [],
      ['read:users'],
      ['write:users'],
      ['keys:read'],
      ['keys:read', 'keys:write'],
      ['read:users', 'write:users', 'keys:read', 'keys:write'],
    ];
    for (const scopes of scopeSets) {
      const document = compiler.compile(stageArn, scopes);
      for (const route of ROUTES.filter((candidate) => candidate.authorized !== false)) {
        const concretePath = route.path.replace(/\{[^}]+\}/g, 'key_01ABC');
        const expected = route.scopes.every((scope) => scopes.includes(scope)) ? 'allow' : expect.stringMatching(/deny/);
        expect({
          scopes,
          route: `${route.method} ${route.path}`,
          decision: evaluatePolicy(document, arn(route.method, concretePath)).decision,
        }).toEqual({
          scopes,
          route: `${route.method} ${route.path}`,
          decision: expected,
        });
      }
    }
  });
});
