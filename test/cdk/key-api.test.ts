/** KeyApi on its own: its function, its access to the key table, its base path and its routes. */
import { describe, expect, it } from 'vitest';
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { compileRouteTable } from '../../lambdas/core/policy-compiler';
import { KeyApi, keyApiBasePath } from '../../lib/construct/key-api';
import { KeyTable } from '../../lib/construct/key-table';

function build(basePath = '/keys') {
  const stack = new Stack(new App(), 'KeyApiStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const keyTable = new KeyTable(stack, 'KeyTable');
  const keyApi = new KeyApi(stack, { keyTable, environment: { DUALGATE_TABLE_NAME: 'keys' }, basePath });
  // The code asset carries the route table: DualAuthApi materialises it at synth.
  keyApi.code.materialise({
    version: 2,
    routeTable: compileRouteTable(keyApi.routes),
    catalog: ['keys:read', 'keys:write'],
    managementBasePath: basePath,
  });
  return { stack, keyApi, template: Template.fromStack(stack) };
}

describe('KeyApi', () => {
  it('checks the base path: /keys by default, literal segments only', () => {
    expect(keyApiBasePath(true)).toBe('/keys');
    expect(keyApiBasePath({})).toBe('/keys');
    expect(keyApiBasePath({ basePath: '/admin/keys' })).toBe('/admin/keys');
    expect(() => keyApiBasePath({ basePath: '/keys/{id}' })).toThrow(
      /^managementApi\.basePath must be a path of literal segments such as \/keys or \/admin\/keys \(got "\/keys\/\{id\}"\)$/,
    );
    expect(() => keyApiBasePath({ basePath: 'keys' })).toThrow(/managementApi\.basePath/);
  });

  it('creates its function and log group in the scope it is given, under the ids DualAuthApi has always used', () => {
    const { stack, keyApi, template } = build();
    expect(keyApi.fn.node.path).toBe('KeyApiStack/KeysHandler');
    expect(stack.getLogicalId(keyApi.fn.node.defaultChild as CfnElement)).toMatch(/^KeysHandler[0-9A-F]{8}$/);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 256,
      Timeout: 10,
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    expect(Object.keys(template.findResources('AWS::Logs::LogGroup'))[0]).toMatch(/^KeysHandlerLogs[0-9A-F]{8}$/);
  });

  it('may read and write items of the key table and query its two indexes, and nothing else', () => {
    const { template } = build();
    const policy = Object.values(template.findResources('AWS::IAM::Policy'))[0]?.Properties.PolicyDocument.Statement as {
      Action: string | string[];
    }[];
    expect(policy.map((statement) => statement.Action)).toEqual([
      ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      'dynamodb:Query',
    ]);
  });

  it('serves the key API and the consumers beside it, every route under the base path and requiring a key scope', () => {
    const { keyApi } = build('/admin/keys');
    expect(keyApi.routes).toContainEqual({ method: 'POST', path: '/admin/keys', scopes: ['keys:write'] });
    expect(keyApi.routes).toContainEqual({ method: 'GET', path: '/admin/keys', scopes: ['keys:read'] });
    expect(keyApi.routes.some((route) => route.path.includes('consumers'))).toBe(true);
    for (const route of keyApi.routes) {
      expect(route.path.startsWith('/admin/')).toBe(true);
      expect(route.scopes.length).toBeGreaterThan(0);
    }
  });
});
