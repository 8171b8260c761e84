/**
 * The compiled policies cross-checked against an independent IAM evaluator, @cloud-copilot/iam-simulate: for every
 * route of several tables and scope sets, and for adversarial method ARNs. Where that library's semantics differ
 * from API Gateway's it is noted: it treats a literal `*` or `?` in the *request* ARN as a wildcard (a request for
 * "every matching resource"), which API Gateway never sends; such ARNs are compared with our own evaluator only.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { describe, expect, it } from 'vitest';
import { PolicyCompiler, type PolicyDocument } from '../../lambdas/core/policy-compiler';
import { HTTP_METHODS, type RouteRule } from '../../lambdas/core/route-table';
import { DEMO_ROUTE_TABLE } from '../../examples/demo/routes';
import { evaluatePolicy } from '../../lib/local/iam-evaluator';
import { generatedRouteTable } from '../../bench/fixtures';
import { CREDENTIAL_SAFE_OVERLAPS } from '../support/overlap-tables';

const ACCOUNT = '123456789012';
const STAGE = `arn:aws:execute-api:eu-west-1:${ACCOUNT}:abc123/v1`;

async function simulate(policy: PolicyDocument, resource: string): Promise<boolean> {
  const result = await runSimulation(
    {
      request: {
        principal: `arn:aws:iam::${ACCOUNT}:role/caller`,
        action: 'execute-api:Invoke',
        resource: { resource, accountId: ACCOUNT },
        contextVariables: {},
      },
      identityPolicies: [{ name: 'authorizer', policy: policy as never }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    } as never,
    {},
  );
  const overall = (result as { overallResult?: string }).overallResult;
  if (!overall) throw new Error(`iam-simulate could not evaluate ${resource}: ${JSON.stringify(result).slice(0, 300)}`);
  return overall === 'Allowed';
}

/** A concrete request for a route: parameters filled, a greedy one with several segments, ANY as some verb. */
function requestPath(route: RouteRule, fill: string): { method: string; path: string } {
  const method = route.method === 'ANY' ? 'DELETE' : route.method;
  return { method, path: route.path.replace(/\{[^}]+\+\}/g, `${fill}/deep/${fill}`).replace(/\{[^}]+\}/g, fill) };
}

const FILES: RouteRule[] = [
  { method: 'GET', path: '/files/public', scopes: [] },
  { method: 'ANY', path: '/files/{proxy+}', scopes: ['files:rw'] },
  { method: 'GET', path: '/orders', scopes: ['read:orders'] },
  { method: 'GET', path: '/orders/{id}', scopes: ['read:orders'] },
  { method: 'POST', path: '/orders/{id}/cancel', scopes: ['write:orders'] },
  { method: 'ANY', path: '/internal/{proxy+}', scopes: ['internal'] },
];

const TABLES: [string, RouteRule[], string[][]][] = [
  [
    'demo',
    [...DEMO_ROUTE_TABLE],
    [[], ['read:users'], ['keys:read'], ['keys:read', 'keys:write'], ['read:users', 'write:users', 'keys:read', 'keys:write']],
  ],
  ['greedy and ANY', FILES, [[], ['files:rw'], ['read:orders'], ['read:orders', 'write:orders'], ['keys:read'], ['internal', 'files:rw']]],
  [
    'generated, 60 routes',
    generatedRouteTable(60, 20, { nestedScopes: true }),
    [[], ['scope-0'], ['scope-1', 'scope-2'], ['scope-3', 'scope-4', 'scope-5']],
  ],
];

describe('compiled policies against @cloud-copilot/iam-simulate', () => {
  for (const [name, routes, scopeSets] of TABLES) {
    it(`agrees on every route of the ${name} table, for every scope set`, async () => {
      const compiler = PolicyCompiler.fromRoutes(routes);
      let checked = 0;
      for (const scopes of scopeSets) {
        const policy = compiler.compile(STAGE, scopes);
        for (const route of routes.filter((candidate) => candidate.authorized !== false)) {
          const { method, path } = requestPath(route, 'x1');
          const expected = route.scopes.every((scope) => scopes.includes(scope));
          expect(await simulate(policy, `${STAGE}/${method}${path}`), `${scopes.join(' ')} → ${method} ${path}`).toBe(expected);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(20);
    }, 120_000);
  }

  it('agrees with our evaluator on adversarial method ARNs', async () => {
    const compiler = PolicyCompiler.fromRoutes(FILES);
    const adversarial = [
      'GET/files/public/',
      'GET/files/public/..',
      'GET/files//public',
      'get/files/public',
      'GET/files/public%2Fx',
      'GET/files/%70ublic',
      'GET/files/publi%63/',
      'GET/orders/x/cancel',
      'POST/orders//cancel',
      'POST/orders/a/b/cancel',
      'DELETE/internal/a',
      'GET/internal/files/public',
      'GET/files/internal/x',
      `GET/${'a/'.repeat(60)}files`,
      ...HTTP_METHODS.map((method) => `${method}/files/x/y`),
    ];
    for (const scopes of [[], ['read:orders'], ['files:rw'], ['write:orders']]) {
      const policy = compiler.compile(STAGE, scopes);
      for (const resource of adversarial) {
        const ours = evaluatePolicy(policy, `${STAGE}/${resource}`).decision === 'allow';
        expect(await simulate(policy, `${STAGE}/${resource}`), `${scopes.join(' ')} → ${resource}`).toBe(ours);
      }
    }
  }, 120_000);

  it('agrees on the review findings’ overlapping tables, in every spelling of the method ARN, and denies each false allow', async () => {
    const overlaps = CREDENTIAL_SAFE_OVERLAPS;
    const compiler = PolicyCompiler.fromRoutes(overlaps);
    // [caller's scopes, method ARN resource, allowed?]: every spelling AWS might write.
    const cases: [string[], string, boolean][] = [
      [['hooks:write'], 'GET/', false],
      [['hooks:write'], 'POST/', true],
      [['index:admin'], 'GET/', true],
      [['docs:read'], 'GET/docs', false],
      [['docs:read'], 'GET/docs/', false],
      [['docs:read'], 'GET/docs/intro/setup', true],
      [['docs:admin'], 'GET/docs', true],
      [['read:users'], 'GET/users/admin', false],
      [['read:users'], 'GET/users/admin/', false],
      [['read:users'], 'GET/users/%61dmin', false],
      [['read:users'], 'GET/users/ad%6Din', false],
      [['read:users'], 'GET/users/alice', true],
      [['admin:users'], 'GET/users/admin', true],
      [['write:orders'], 'GET/orders/o1', false],
      [['write:orders'], 'DELETE/orders/o1', true],
      [['read:orders'], 'PUT/orders/o1', false],
    ];
    for (const [scopes, resource, expected] of cases) {
      const policy = compiler.compile(STAGE, scopes);
      expect(evaluatePolicy(policy, `${STAGE}/${resource}`).decision === 'allow', `ours: ${scopes.join(' ')} → ${resource}`).toBe(expected);
      // iam-simulate knows no execute-api resource type for the root's ARN (`…/v1/GET/`, an empty path): ours only there.
      if (/^[A-Z]+\/$/.test(resource)) continue;
      expect(await simulate(policy, `${STAGE}/${resource}`), `iam-simulate: ${scopes.join(' ')} → ${resource}`).toBe(expected);
    }
  }, 120_000);

  it('differs only where iam-simulate reads a literal * in the request ARN as a wildcard (API Gateway never sends one)', async () => {
    const policy = PolicyCompiler.fromRoutes(FILES).compile(STAGE, []);
    // Ours: "/files/*" is one concrete path (an object named "*"), served by the greedy route: denied.
    expect(evaluatePolicy(policy, `${STAGE}/GET/files/*`).decision).toBe('implicit_deny');
    // iam-simulate reads it as "some resource matching GET/files/*", and GET/files/public is allowed.
    expect(await simulate(policy, `${STAGE}/GET/files/*`)).toBe(true);
    // Without wildcards in the request the two agree.
    expect(await simulate(policy, `${STAGE}/GET/files/x`)).toBe(false);
  });
});
