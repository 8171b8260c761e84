/**
 * Runtime settings, read from the Lambda environment. The CDK construct writes these variables from the
 * typed, synth-time-validated configuration (lib/construct/config.ts), and local mode writes the same ones, so a
 * setting has one name and one meaning everywhere.
 */
import { assertValidKeyPrefix } from './key-format';
import { parseIssuerConfigs, type IssuerConfig } from './issuer-config';
import { parseRuntimePlans, type RuntimePlans } from './plans';

export const SETTING_NAMES = {
  tableName: 'DUALGATE_KEY_TABLE',
  keyPrefix: 'DUALGATE_KEY_PREFIX',
  keyCacheTtlSeconds: 'DUALGATE_KEY_CACHE_TTL_SECONDS',
  negativeKeyCacheTtlSeconds: 'DUALGATE_NEGATIVE_KEY_CACHE_TTL_SECONDS',
  staleIfErrorSeconds: 'DUALGATE_STALE_IF_ERROR_SECONDS',
  jwtCacheTtlSeconds: 'DUALGATE_JWT_CACHE_TTL_SECONDS',
  lastUsedIntervalSeconds: 'DUALGATE_LAST_USED_INTERVAL_SECONDS',
  issuers: 'DUALGATE_ISSUERS',
  adminScope: 'DUALGATE_ADMIN_SCOPE',
  dynamoEndpoint: 'DUALGATE_DYNAMODB_ENDPOINT',
  allowHttpIssuers: 'DUALGATE_ALLOW_HTTP_ISSUERS',
  /** Plans (JSON, see RuntimePlans): absent when the API has none, and then nothing about plans runs. */
  plans: 'DUALGATE_PLANS',
  /** Local mode only: where the API Gateway control-plane emulator listens. */
  apiGatewayEndpoint: 'DUALGATE_APIGATEWAY_ENDPOINT',
  /** Leak detection (lambdas/leaks/leak-settings.ts): GitHub's public key document for secret-scanning reports. */
  githubKeysUrl: 'DUALGATE_GITHUB_KEYS_URL',
  /** How long a fetched key document is used before it is fetched again. */
  githubKeysCacheTtlSeconds: 'DUALGATE_GITHUB_KEYS_CACHE_TTL_SECONDS',
  /** The least time between two fetches caused by an unknown key identifier. */
  githubKeysRefetchIntervalSeconds: 'DUALGATE_GITHUB_KEYS_REFETCH_INTERVAL_SECONDS',
  /** `revoke` (default) or `notify`: what a leak report does to a live key. */
  leakAction: 'DUALGATE_LEAK_ACTION',
  /** An SNS topic every leak is published to; absent: none. */
  leakTopicArn: 'DUALGATE_LEAK_TOPIC_ARN',
  logLevel: 'LOG_LEVEL',
} as const;

export interface RuntimeSettings {
  tableName: string;
  keyPrefix: string;
  keyCacheTtlSeconds: number;
  negativeKeyCacheTtlSeconds: number;
  staleIfErrorSeconds: number;
  jwtCacheTtlSeconds: number;
  /** At most one `lastUsedAt` write per key per this many seconds; 0 = on every table read. */
  lastUsedIntervalSeconds: number;
  issuers: IssuerConfig[];
  adminScope: string;
  dynamoEndpoint?: string;
  allowHttpIssuers: boolean;
  logLevel: string;
  plans?: RuntimePlans;
  apiGatewayEndpoint?: string;
}

export const DEFAULT_SETTINGS = {
  keyPrefix: 'dg',
  keyCacheTtlSeconds: 30,
  negativeKeyCacheTtlSeconds: 5,
  staleIfErrorSeconds: 60,
  jwtCacheTtlSeconds: 300,
  lastUsedIntervalSeconds: 300,
  adminScope: 'keys:admin',
  logLevel: 'INFO',
} as const;

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/** Shared validators word their errors with the config field (`keyPrefix must …`); here the variable is what was set. */
function renamed(message: string, field: string, variable: string): string {
  return message.startsWith(field) ? variable + message.slice(field.length) : `${variable}: ${message}`;
}

/** An integer number of seconds from 0 to `max`, or `fallback` when unset; a SettingsError naming the variable otherwise. */
export function seconds(env: Record<string, string | undefined>, name: string, fallback: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new SettingsError(`${name} must be an integer from 0 to ${max} (got ${JSON.stringify(raw)})`);
  return value;
}

/** The key table and the key prefix, which every dualgate Lambda reads: SettingsError naming the variable. */
export function readKeyTableSettings(env: Record<string, string | undefined>): { tableName: string; keyPrefix: string } {
  const tableName = env[SETTING_NAMES.tableName];
  if (!tableName) throw new SettingsError(`${SETTING_NAMES.tableName} is not set`);
  const keyPrefix = env[SETTING_NAMES.keyPrefix] || DEFAULT_SETTINGS.keyPrefix;
  try {
    assertValidKeyPrefix(keyPrefix);
  } catch (error) {
    throw new SettingsError(renamed((error as Error).message, 'keyPrefix', SETTING_NAMES.keyPrefix));
  }
  return { tableName, keyPrefix };
}

export function readSettings(env: Record<string, string | undefined> = process.env): RuntimeSettings {
  const { tableName, keyPrefix } = readKeyTableSettings(env);
  const allowHttpIssuers = env[SETTING_NAMES.allowHttpIssuers] === 'true';
  let issuers: IssuerConfig[] = [];
  const rawIssuers = env[SETTING_NAMES.issuers];
  if (rawIssuers) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawIssuers);
    } catch {
      throw new SettingsError(`${SETTING_NAMES.issuers} is not valid JSON`);
    }
    try {
      issuers = parseIssuerConfigs(parsed, { allowHttp: allowHttpIssuers });
    } catch (error) {
      throw new SettingsError(renamed((error as Error).message, 'issuers', SETTING_NAMES.issuers));
    }
  }
  const settings: RuntimeSettings = {
    tableName,
    keyPrefix,
    keyCacheTtlSeconds: seconds(env, SETTING_NAMES.keyCacheTtlSeconds, DEFAULT_SETTINGS.keyCacheTtlSeconds, 3600),
    negativeKeyCacheTtlSeconds: seconds(env, SETTING_NAMES.negativeKeyCacheTtlSeconds, DEFAULT_SETTINGS.negativeKeyCacheTtlSeconds, 3600),
    staleIfErrorSeconds: seconds(env, SETTING_NAMES.staleIfErrorSeconds, DEFAULT_SETTINGS.staleIfErrorSeconds, 3600),
    jwtCacheTtlSeconds: seconds(env, SETTING_NAMES.jwtCacheTtlSeconds, DEFAULT_SETTINGS.jwtCacheTtlSeconds, 86400),
    lastUsedIntervalSeconds: seconds(env, SETTING_NAMES.lastUsedIntervalSeconds, DEFAULT_SETTINGS.lastUsedIntervalSeconds, 86400),
    issuers,
    adminScope: env[SETTING_NAMES.adminScope] || DEFAULT_SETTINGS.adminScope,
    allowHttpIssuers,
    logLevel: env[SETTING_NAMES.logLevel] || DEFAULT_SETTINGS.logLevel,
  };
  const endpoint = env[SETTING_NAMES.dynamoEndpoint];
  if (endpoint) settings.dynamoEndpoint = endpoint;
  const rawPlans = env[SETTING_NAMES.plans];
  if (rawPlans) {
    try {
      settings.plans = parseRuntimePlans(JSON.parse(rawPlans));
    } catch (error) {
      throw new SettingsError(`${SETTING_NAMES.plans}: ${error instanceof SyntaxError ? 'is not valid JSON' : (error as Error).message}`);
    }
  }
  const apiGatewayEndpoint = env[SETTING_NAMES.apiGatewayEndpoint];
  if (apiGatewayEndpoint) settings.apiGatewayEndpoint = apiGatewayEndpoint;
  return settings;
}
