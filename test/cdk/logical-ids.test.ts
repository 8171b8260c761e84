/**
 * Every CloudFormation logical id of the demo app and of the prop combinations the CDK tests use stays what deployed
 * stacks hold: a changed id makes CloudFormation replace the resource (a new, empty key table; a new user pool, its
 * users gone). test/fixtures/logical-ids.json was recorded before the construct was split into sub-constructs;
 * regenerate it only for a deliberate, documented change: `npx tsx test/support/logical-id-stacks.ts > test/fixtures/logical-ids.json`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOGICAL_ID_VARIANTS, logicalIdEntry, logicalIdsOf } from '../support/logical-id-stacks';

const FIXTURE = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'logical-ids.json'), 'utf8')) as Record<
  string,
  Record<string, string[]>
>;

describe('CloudFormation logical ids', () => {
  it('has a recorded list for every variant, and every recorded variant is still built', () => {
    expect(Object.keys(LOGICAL_ID_VARIANTS).sort()).toEqual(Object.keys(FIXTURE).sort());
  });

  it('records the resources an upgrade must never replace (key table, user pool, functions, authorizer)', () => {
    const demo = FIXTURE['demo']?.['Dualgate.template.json'] ?? [];
    for (const entry of [
      'DualAuthKeyTable3220B708 AWS::DynamoDB::Table',
      'DualAuthUserPool8510CED0 AWS::Cognito::UserPool',
      'DualAuthAuthorizer7274838D AWS::Lambda::Function',
      'DualAuthKeysHandler20190E51 AWS::Lambda::Function',
      'DualAuthDualAuthorizerC2111587 AWS::ApiGateway::Authorizer',
    ]) {
      expect(demo).toContain(entry);
    }
  });

  it('masks only the content hash of the ids CloudFormation replaces by design (Lambda versions, API deployments)', () => {
    expect(logicalIdEntry('GateAuthorizerCurrentVersion8B428EEC0123456789abcdef0123456789abcdef', 'AWS::Lambda::Version')).toBe(
      'GateAuthorizerCurrentVersion8B428EEC<hash> AWS::Lambda::Version',
    );
    expect(logicalIdEntry('GateKeyTable7500A813', 'AWS::DynamoDB::Table')).toBe('GateKeyTable7500A813 AWS::DynamoDB::Table');
    expect(logicalIdEntry('GateKeyTable70123456789abcdef0123456789abcdef', 'AWS::DynamoDB::Table')).toBe(
      'GateKeyTable70123456789abcdef0123456789abcdef AWS::DynamoDB::Table',
    );
  });

  for (const [variant, build] of Object.entries(LOGICAL_ID_VARIANTS)) {
    it(`keeps every logical id of ${variant}, nested stacks included`, () => {
      expect(logicalIdsOf(build)).toEqual(FIXTURE[variant]);
    });
  }
});
