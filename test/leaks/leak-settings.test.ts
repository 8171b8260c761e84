/** The leak function's environment: defaults, and errors that name the variable. */
import { describe, expect, it } from 'vitest';
import { githubKeysUrlProblem, readLeakSettings } from '../../lambdas/leaks/leak-settings';

const base = { DUALGATE_KEY_TABLE: 'keys' };

describe('readLeakSettings', () => {
  it("defaults to GitHub's key document, revoke, a one-hour cache and a 60 s refetch interval", () => {
    expect(readLeakSettings(base)).toEqual({
      tableName: 'keys',
      keyPrefix: 'dg',
      githubKeysUrl: 'https://api.github.com/meta/public_keys/secret_scanning',
      githubKeysUrlIsHttp: false,
      githubKeysCacheTtlSeconds: 3600,
      githubKeysRefetchIntervalSeconds: 60,
      action: 'revoke',
      logLevel: 'INFO',
    });
  });

  it('takes every setting from its variable', () => {
    const settings = readLeakSettings({
      ...base,
      DUALGATE_KEY_PREFIX: 'ord',
      DUALGATE_GITHUB_KEYS_URL: 'http://127.0.0.1:4010/keys',
      DUALGATE_ALLOW_HTTP_ISSUERS: 'true',
      DUALGATE_GITHUB_KEYS_CACHE_TTL_SECONDS: '5',
      DUALGATE_GITHUB_KEYS_REFETCH_INTERVAL_SECONDS: '0',
      DUALGATE_LEAK_ACTION: 'notify',
      DUALGATE_LEAK_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:leaks',
      DUALGATE_DYNAMODB_ENDPOINT: 'http://127.0.0.1:4567',
    });
    expect(settings).toMatchObject({
      keyPrefix: 'ord',
      githubKeysUrlIsHttp: true,
      githubKeysCacheTtlSeconds: 5,
      githubKeysRefetchIntervalSeconds: 0,
      action: 'notify',
      topicArn: 'arn:aws:sns:eu-west-1:123456789012:leaks',
      dynamoEndpoint: 'http://127.0.0.1:4567',
    });
  });

  it('allows http only on loopback, and only with local mode’s switch', () => {
    expect(() => readLeakSettings({ ...base, DUALGATE_GITHUB_KEYS_URL: 'http://127.0.0.1:4010/keys' })).toThrow(
      /^DUALGATE_GITHUB_KEYS_URL must be an https URL/,
    );
    expect(() =>
      readLeakSettings({ ...base, DUALGATE_GITHUB_KEYS_URL: 'http://keys.example.com/doc', DUALGATE_ALLOW_HTTP_ISSUERS: 'true' }),
    ).toThrow(/http on loopback/);
    expect(() =>
      readLeakSettings({ ...base, DUALGATE_GITHUB_KEYS_URL: 'ftp://127.0.0.1/doc', DUALGATE_ALLOW_HTTP_ISSUERS: 'true' }),
    ).toThrow(/must be an https URL/);
    expect(
      readLeakSettings({ ...base, DUALGATE_GITHUB_KEYS_URL: 'http://[::1]:4010/doc', DUALGATE_ALLOW_HTTP_ISSUERS: 'true' })
        .githubKeysUrlIsHttp,
    ).toBe(true);
    expect(
      readLeakSettings({ ...base, DUALGATE_GITHUB_KEYS_URL: 'http://localhost:4010/doc', DUALGATE_ALLOW_HTTP_ISSUERS: 'true' })
        .githubKeysUrlIsHttp,
    ).toBe(true);
  });

  it('names the variable in every error', () => {
    expect(() => readLeakSettings({})).toThrow(/^DUALGATE_KEY_TABLE is not set/);
    expect(() => readLeakSettings({ ...base, DUALGATE_LEAK_ACTION: 'delete' })).toThrow(
      /^DUALGATE_LEAK_ACTION must be one of revoke, notify/,
    );
    expect(() => readLeakSettings({ ...base, DUALGATE_GITHUB_KEYS_CACHE_TTL_SECONDS: '-1' })).toThrow(
      /^DUALGATE_GITHUB_KEYS_CACHE_TTL_SECONDS must be an integer/,
    );
    expect(() => readLeakSettings({ ...base, DUALGATE_GITHUB_KEYS_URL: 'not a url' })).toThrow(/^DUALGATE_GITHUB_KEYS_URL must be a URL/);
    expect(() => readLeakSettings({ ...base, DUALGATE_KEY_PREFIX: 'Bad_' })).toThrow(/^DUALGATE_KEY_PREFIX/);
  });

  it('refuses a URL that carries credentials', () => {
    expect(
      githubKeysUrlProblem('https://user:token@api.github.com/meta/public_keys/secret_scanning', { allowHttpLoopback: false }),
    ).toMatch(/credentials/);
  });
});
