import { describe, expect, it } from 'vitest';
import { DualgateConfigError } from '../../lib/construct/config';
import { localConfigFromEnv } from '../../lib/local/local-config';

describe('localConfigFromEnv', () => {
  it('defaults to ports 3000/3001, the stack defaults and one http issuer on loopback', () => {
    const config = localConfigFromEnv({});
    expect(config).toMatchObject({ host: '127.0.0.1', gatewayPort: 3000, issuerPort: 3001, audience: 'dualgate-local' });
    expect(config.dualgate).toMatchObject({
      keyPrefix: 'dg',
      authorizerCacheTtlSeconds: 60,
      keyCacheTtlSeconds: 30,
      cognito: false,
      stageName: 'v1',
    });
    expect(config.dualgate.issuers).toEqual([
      { issuer: 'http://127.0.0.1:3001', audience: ['dualgate-local'], jwksUri: 'http://127.0.0.1:3001/jwks' },
    ]);
    expect(config.dataDir).toBeUndefined();
  });

  it('takes ports, TTLs, key prefix and the data directory from the environment', () => {
    const config = localConfigFromEnv(
      {
        PORT: '4000',
        ISSUER_PORT: '4001',
        DUALGATE_AUTHORIZER_CACHE_TTL_SECONDS: '2',
        DUALGATE_KEY_CACHE_TTL_SECONDS: '1',
        DUALGATE_KEY_PREFIX: 'acme',
        LOG_LEVEL: 'WARN',
      },
      { dataDir: '/tmp/dg' },
    );
    expect(config).toMatchObject({ gatewayPort: 4000, issuerPort: 4001, dataDir: '/tmp/dg' });
    expect(config.dualgate).toMatchObject({ authorizerCacheTtlSeconds: 2, keyCacheTtlSeconds: 1, keyPrefix: 'acme', logLevel: 'WARN' });
  });

  it('rejects bad values with an error that names the variable', () => {
    expect(() => localConfigFromEnv({ PORT: 'abc' })).toThrow(/PORT/);
    expect(() => localConfigFromEnv({ PORT: '70000' })).toThrow(DualgateConfigError);
    expect(() => localConfigFromEnv({ PORT: '5000', ISSUER_PORT: '5000' })).toThrow(/must differ/);
    expect(() => localConfigFromEnv({ DUALGATE_AUTHORIZER_CACHE_TTL_SECONDS: '-1' })).toThrow(
      /^DUALGATE_AUTHORIZER_CACHE_TTL_SECONDS must be an integer from 0 to 3600 seconds \(got "-1"\)$/,
    );
    expect(() => localConfigFromEnv({ DUALGATE_KEY_PREFIX: 'BAD_PREFIX' })).toThrow(DualgateConfigError);
    expect(() => localConfigFromEnv({ DUALGATE_LOCAL_MAX_BODY_BYTES: String(20 * 1024 * 1024) })).toThrow(/MAX_BODY_BYTES/);
  });

  it('names the variable the user set, never the internal field', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { DUALGATE_KEY_CACHE_TTL_SECONDS: 'soon' },
        /^DUALGATE_KEY_CACHE_TTL_SECONDS must be an integer from 0 to 3600 seconds \(got "soon"\)$/,
      ],
      [{ DUALGATE_NEGATIVE_KEY_CACHE_TTL_SECONDS: '9999' }, /^DUALGATE_NEGATIVE_KEY_CACHE_TTL_SECONDS must/],
      [{ DUALGATE_JWT_CACHE_TTL_SECONDS: '1.5' }, /^DUALGATE_JWT_CACHE_TTL_SECONDS must/],
      [{ DUALGATE_STALE_IF_ERROR_SECONDS: 'x' }, /^DUALGATE_STALE_IF_ERROR_SECONDS must/],
      [{ DUALGATE_KEY_PREFIX: 'BAD_PREFIX' }, /^DUALGATE_KEY_PREFIX must match/],
      [{ DUALGATE_ADMIN_SCOPE: 'has space' }, /^DUALGATE_ADMIN_SCOPE must match/],
      [{ DUALGATE_STAGE_NAME: 'a b' }, /^DUALGATE_STAGE_NAME must be/],
      [{ LOG_LEVEL: 'LOUD' }, /^LOG_LEVEL must be DEBUG, INFO, WARN or ERROR \(got "LOUD"\)$/],
    ];
    for (const [env, message] of cases) {
      expect(() => localConfigFromEnv(env)).toThrow(DualgateConfigError);
      expect(() => localConfigFromEnv(env)).toThrow(message);
    }
  });
});

describe('localConfigFromEnv: external issuers (DUALGATE_ISSUERS)', () => {
  it('trusts the listed issuers beside the mock one, http on loopback included', () => {
    const issuers = [
      {
        issuer: 'https://dev-123.okta.com/oauth2/default',
        audience: 'api://dualgate',
        jwksUri: 'https://dev-123.okta.com/oauth2/default/v1/keys',
      },
      { issuer: 'http://localhost:8080/realms/dev', audience: ['account'], scopePrefix: 'dualgate/' },
    ];
    const config = localConfigFromEnv({ DUALGATE_ISSUERS: JSON.stringify(issuers) });
    expect(config.externalIssuers).toEqual([
      {
        issuer: 'https://dev-123.okta.com/oauth2/default',
        audience: ['api://dualgate'],
        jwksUri: 'https://dev-123.okta.com/oauth2/default/v1/keys',
      },
      { issuer: 'http://localhost:8080/realms/dev', audience: ['account'], scopePrefix: 'dualgate/' },
    ]);
    expect(config.dualgate.issuers.map((issuer) => issuer.issuer)).toEqual([
      'http://127.0.0.1:3001',
      'https://dev-123.okta.com/oauth2/default',
      'http://localhost:8080/realms/dev',
    ]);
    expect(localConfigFromEnv({}).externalIssuers).toEqual([]);
  });

  it('refuses bad issuer settings with a message naming the variable', () => {
    expect(() => localConfigFromEnv({ DUALGATE_ISSUERS: '[{issuer:' })).toThrow(/^DUALGATE_ISSUERS must be JSON/);
    expect(() => localConfigFromEnv({ DUALGATE_ISSUERS: '[{"issuer":"https://idp.example.com"}]' })).toThrow(
      /^DUALGATE_ISSUERS\[0\] needs an audience/,
    );
    // http only on this machine: a remote http issuer could be spoofed by anyone on the path.
    expect(() => localConfigFromEnv({ DUALGATE_ISSUERS: '[{"issuer":"http://idp.example.com","audience":"a"}]' })).toThrow(
      /^DUALGATE_ISSUERS\[0\]\.issuer must be an https URL .*\(http is accepted on loopback only/,
    );
    expect(() =>
      localConfigFromEnv({ DUALGATE_ISSUERS: '[{"issuer":"http://127.0.0.1:8080","audience":"a"}]', DUALGATE_ALLOW_HTTP_ISSUERS: 'false' }),
    ).toThrow(/^DUALGATE_ISSUERS\[0\]\.issuer must be an https URL .*DUALGATE_ALLOW_HTTP_ISSUERS=false/);
    expect(() => localConfigFromEnv({ DUALGATE_ALLOW_HTTP_ISSUERS: 'yes' })).toThrow(/^DUALGATE_ALLOW_HTTP_ISSUERS must be true or false/);
    expect(() => localConfigFromEnv({ DUALGATE_ISSUERS: '[{"issuer":"http://127.0.0.1:3001","audience":"a"}]' })).toThrow(
      /local mode's own issuer/,
    );
  });
});

describe('localConfigFromEnv: GitHub key document (DUALGATE_GITHUB_KEYS_URL)', () => {
  it('takes a loopback http URL (a test key server) or any https URL, and is absent by default', () => {
    expect(localConfigFromEnv({}).githubKeysUrl).toBeUndefined();
    expect(localConfigFromEnv({ DUALGATE_GITHUB_KEYS_URL: 'http://127.0.0.1:4010/meta/public_keys/secret_scanning' }).githubKeysUrl).toBe(
      'http://127.0.0.1:4010/meta/public_keys/secret_scanning',
    );
    expect(
      localConfigFromEnv({ DUALGATE_GITHUB_KEYS_URL: 'https://ghe.example.com/api/v3/meta/public_keys/secret_scanning' }).githubKeysUrl,
    ).toMatch(/^https:/);
  });

  it('refuses http off loopback, and http anywhere with DUALGATE_ALLOW_HTTP_ISSUERS=false, naming the variable', () => {
    expect(() => localConfigFromEnv({ DUALGATE_GITHUB_KEYS_URL: 'http://keys.example.com/doc' })).toThrow(
      /^DUALGATE_GITHUB_KEYS_URL must be an https URL, or http on loopback/,
    );
    expect(() =>
      localConfigFromEnv({ DUALGATE_GITHUB_KEYS_URL: 'http://127.0.0.1:4010/doc', DUALGATE_ALLOW_HTTP_ISSUERS: 'false' }),
    ).toThrow(/^DUALGATE_GITHUB_KEYS_URL must be an https URL .*\(DUALGATE_ALLOW_HTTP_ISSUERS=false\)$/);
    expect(() => localConfigFromEnv({ DUALGATE_GITHUB_KEYS_URL: 'keys.json' })).toThrow(/^DUALGATE_GITHUB_KEYS_URL must be a URL/);
  });
});

describe('localConfigFromEnv: portal admins (DUALGATE_LOCAL_PORTAL_ADMINS)', () => {
  it('names nobody by default, takes a comma-separated list, and refuses what is not a username', () => {
    expect(localConfigFromEnv({}).portalAdmins).toEqual([]);
    expect(localConfigFromEnv({ DUALGATE_LOCAL_PORTAL_ADMINS: 'root, ops@example.com ,' }).portalAdmins).toEqual([
      'root',
      'ops@example.com',
    ]);
    expect(() => localConfigFromEnv({ DUALGATE_LOCAL_PORTAL_ADMINS: 'root,a b' })).toThrow(
      /^DUALGATE_LOCAL_PORTAL_ADMINS: "a b" is not a username/,
    );
  });
});
