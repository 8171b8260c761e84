/** Runtime settings for in-process authorizer tests: one https issuer, default TTLs. */
import type { RuntimeSettings } from '../../lambdas/core/settings';
import { TEST_ISSUER } from './jwt';

export function testSettings(overrides: Partial<RuntimeSettings> = {}): RuntimeSettings {
  return {
    tableName: 'keys',
    keyPrefix: 'dg',
    keyCacheTtlSeconds: 30,
    negativeKeyCacheTtlSeconds: 5,
    staleIfErrorSeconds: 60,
    jwtCacheTtlSeconds: 300,
    lastUsedIntervalSeconds: 300,
    issuers: [{ issuer: TEST_ISSUER, audience: ['dualgate-api'], jwksUri: `${TEST_ISSUER}/jwks` }],
    adminScope: 'keys:admin',
    allowHttpIssuers: false,
    logLevel: 'INFO',
    ...overrides,
  };
}
