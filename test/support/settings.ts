/** Runtime settings for in-process authorizer tests: one https issuer, default TTLs. */
import { DEFAULT_SETTINGS, type RuntimeSettings } from '../../lambdas/core/settings';
import { TEST_ISSUER } from './jwt';

export function testSettings(overrides: Partial<RuntimeSettings> = {}): RuntimeSettings {
  return {
    tableName: 'keys',
    ...DEFAULT_SETTINGS,
    issuers: [{ issuer: TEST_ISSUER, audience: ['dualgate-api'], jwksUri: `${TEST_ISSUER}/jwks` }],
    allowHttpIssuers: false,
    ...overrides,
  };
}
