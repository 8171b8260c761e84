/** KeyTable on its own: the table's shape, its logical id, and what each grant lets a function do to it. */
import { describe, expect, it } from 'vitest';
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KeyTable } from '../../lib/construct/key-table';

function build(grant?: (keyTable: KeyTable, fn: lambda.Function) => void) {
  const stack = new Stack(new App(), 'KeyTableStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const keyTable = new KeyTable(stack, 'KeyTable');
  const fn = new lambda.Function(stack, 'Caller', {
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
    handler: 'index.handler',
    runtime: lambda.Runtime.NODEJS_22_X,
  });
  grant?.(keyTable, fn);
  return { stack, keyTable, template: Template.fromStack(stack) };
}

/** The statements of the caller's role policy. */
function statements(template: Template): Record<string, unknown>[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy'));
  return policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
}

describe('KeyTable', () => {
  it('is one retained, deletion-protected, PITR, on-demand table keyed by keyHash, with TTL on expiresAt and the byId and byOwner indexes', () => {
    const { template } = build();
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        KeySchema: [{ AttributeName: 'keyHash', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        DeletionProtectionEnabled: true,
        SSESpecification: { SSEEnabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        GlobalSecondaryIndexes: [
          Match.objectLike({
            IndexName: 'byId',
            KeySchema: [{ AttributeName: 'keyId', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
          }),
          Match.objectLike({
            IndexName: 'byOwner',
            KeySchema: [
              { AttributeName: 'owner', KeyType: 'HASH' },
              { AttributeName: 'createdAt', KeyType: 'RANGE' },
            ],
          }),
        ],
      }),
    });
  });

  it("keeps the logical id of a table created directly under the construct's id: the table is its Default child", () => {
    const { stack, keyTable, template } = build();
    const logicalId = stack.getLogicalId(keyTable.table.node.defaultChild as CfnElement);
    expect(Object.keys(template.findResources('AWS::DynamoDB::Table'))).toEqual([logicalId]);
    expect(keyTable.node.defaultChild).toBe(keyTable.table);
    // What DualAuthApi created before KeyTable existed: new dynamodb.Table(gate, 'KeyTable').
    const before = new Stack(new App(), 'KeyTableStack');
    const direct = new dynamodb.Table(before, 'KeyTable', { partitionKey: { name: 'keyHash', type: dynamodb.AttributeType.STRING } });
    expect(logicalId).toBe(before.getLogicalId(direct.node.defaultChild as CfnElement));
  });

  it('grantReadKeyByHash allows GetItem on the table itself only: no index, query, scan or write', () => {
    const { template } = build((keyTable, fn) => keyTable.grantReadKeyByHash(fn));
    expect(statements(template)).toEqual([
      { Action: 'dynamodb:GetItem', Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^KeyTable/), 'Arn'] } },
    ]);
  });

  it('grantUpdateAttributes allows UpdateItem of the named attributes only, returning nothing', () => {
    const { template } = build((keyTable, fn) => keyTable.grantUpdateAttributes(fn, ['keyHash', 'lastUsedAt']));
    expect(statements(template)).toEqual([
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

  it('grantKeyManagement allows item reads and writes on the table and Query through the two indexes, never Scan', () => {
    const { template } = build((keyTable, fn) => keyTable.grantKeyManagement(fn));
    const found = statements(template);
    expect(found).toHaveLength(2);
    expect(found[0]).toMatchObject({
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^KeyTable/), 'Arn'] },
    });
    expect(found[1]).toMatchObject({ Action: 'dynamodb:Query' });
    expect(JSON.stringify(found[1]?.['Resource'])).toMatch(/\/index\/byId".*\/index\/byOwner"/);
    expect(JSON.stringify(found)).not.toMatch(/Scan|BatchWrite|\*"/);
  });
});
