import { describe, expect, it } from 'vitest';
import { DualgateConfigError } from '../../lib/config';
import { localConfigFromEnv } from '../../lib/local/local-config';

describe('localConfigFromEnv', () => {
  it('defaults to ports 3000/3001, the stack defaults and one http issuer on loopback', () => {
    const config = localConfigFromEnv({});
    expect(config).toMatchObject({ host: '127.0.0.1', gatewayPort: 3000, issuerPort: 3001, audience: 'dualgate-local' });
    expect(config.dualgate).toMatchObject({ keyPrefix: 'dg', authorizerCacheTtlSeconds: 60, keyCacheTtlSeconds: 30, cognito: false, stageName: 'v1' });
    expect(config.dualgate.issuers).toEqual([{ issuer: 'http://127.0.0.1:3001', audience: ['dualgate-local'], jwksUri: 'http://127.0.0.1:3001/jwks' }]);
    expect(config.dataDir).toBeUndefined();
  });

  it('takes ports, TTLs, key prefix and the data directory from the environment', () => {
    const config = localConfigFromEnv(
      { PORT: '4000', ISSUER_PORT: '4001', DUALGATE_AUTHORIZER_CACHE_TTL_SECONDS: '2', DUALGATE_KEY_CACHE_TTL_SECONDS: '1', DUALGATE_KEY_PREFIX: 'acme', LOG_LEVEL: 'WARN' },
      { dataDir: '/tmp/dg' },
    );
    expect(config).toMatchObject({ gatewayPort: 4000, issuerPort: 4001, dataDir: '/tmp/dg' });
    expect(config.dualgate).toMatchObject({ authorizerCacheTtlSeconds: 2, keyCacheTtlSeconds: 1, keyPrefix: 'acme', logLevel: 'WARN' });
  });

  it('rejects bad values with an error that names the variable', () => {
    expect(() => localConfigFromEnv({ PORT: 'abc' })).toThrow(/PORT/);
    expect(() => localConfigFromEnv({ PORT: '70000' })).toThrow(DualgateConfigError);
    expect(() => localConfigFromEnv({ PORT: '5000', ISSUER_PORT: '5000' })).toThrow(/must differ/);
    expect(() => localConfigFromEnv({ DUALGATE_AUTHORIZER_CACHE_TTL_SECONDS: '-1' })).toThrow(/authorizerCacheTtlSeconds/);
    expect(() => localConfigFromEnv({ DUALGATE_KEY_PREFIX: 'BAD_PREFIX' })).toThrow(DualgateConfigError);
    expect(() => localConfigFromEnv({ DUALGATE_LOCAL_MAX_BODY_BYTES: String(20 * 1024 * 1024) })).toThrow(/MAX_BODY_BYTES/);
  });
});
