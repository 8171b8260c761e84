/**
 * dualgate's typed configuration: construct props, or CDK context (`-c dualgate:keyPrefix=...` or cdk.json).
 * Everything is validated at synth time with an error that names the setting.
 */
import { assertValidKeyPrefix } from '../../lambdas/core/key-format';
import { parseIssuerConfigs, type IssuerConfig } from '../../lambdas/core/issuer-config';
import { DEFAULT_SETTINGS, SETTING_NAMES } from '../../lambdas/core/settings';
import { SCOPE_PATTERN } from '../../lambdas/core/route-table';

/** dualgate's settings after validation and defaults: `DualAuthApi`'s `config` field. */
export interface DualgateConfig {
  /** Key prefix, `[a-z][a-z0-9]{1,15}`. Default `dg`. */
  keyPrefix: string;
  /** External OIDC issuers. When empty, a Cognito user pool is the issuer. */
  issuers: IssuerConfig[];
  /** Create the Cognito user pool, resource server and client-credentials app client. Default: when no issuers are given. */
  cognito: boolean;
  /** API Gateway's authorizer result cache. 0 turns it off. Default 60. */
  authorizerCacheTtlSeconds: number;
  /** The authorizer's in-memory cache of found keys. Default 30. */
  keyCacheTtlSeconds: number;
  /** The in-memory cache of unknown key hashes. Default 5. */
  negativeKeyCacheTtlSeconds: number;
  /** How long past `keyCacheTtlSeconds` a verified key keeps working while DynamoDB fails. 0 = fail closed at once. Default 60. */
  staleIfErrorSeconds: number;
  /** The in-memory cache of verified JWTs (never past their `exp`). Default 300. */
  jwtCacheTtlSeconds: number;
  /** At most one `lastUsedAt` write per key per this many seconds (0 = on every table read). Default 300. */
  lastUsedIntervalSeconds: number;
  /** The scope that may grant any scope and act for any owner. Default `keys:admin`. */
  adminScope: string;
  /** The API Gateway stage, 1–64 letters, digits or underscores. Default `v1`. */
  stageName: string;
  /** dualgate's own Lambdas' log level (`WARN` keeps failures and stale-if-error allows only). Default `INFO`. */
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

/** A setting is invalid. Thrown at synth; the message names the setting as it was written (`keyCacheTtlSeconds must be …`). */
export class DualgateConfigError extends Error {
  /** The class's name, for callers that cannot use `instanceof` (another copy of the package). */
  override readonly name = 'DualgateConfigError';
}

const MAX_CACHE_SECONDS = 3600;
/** Every setting of DualgateConfig: the props DualAuthApi passes through, and the keys resolveConfig accepts. */
export const CONFIG_KEYS = [
  'keyPrefix',
  'issuers',
  'cognito',
  'authorizerCacheTtlSeconds',
  'keyCacheTtlSeconds',
  'negativeKeyCacheTtlSeconds',
  'staleIfErrorSeconds',
  'jwtCacheTtlSeconds',
  'lastUsedIntervalSeconds',
  'adminScope',
  'stageName',
  'logLevel',
] as const satisfies readonly (keyof DualgateConfig)[];

/**
 * How a setting is spelled where the user set it: the prop name (`keyCacheTtlSeconds`), the CDK context key
 * (`dualgate:keyCacheTtlSeconds`) or local mode's variable (`DUALGATE_KEY_CACHE_TTL_SECONDS`). Errors use it,
 * so they name what the user typed.
 */
type SettingNamer = (setting: keyof DualgateConfig) => string;

interface ResolveConfigOptions {
  allowHttpIssuers?: boolean;
  /** Default: the prop name. */
  settingName?: SettingNamer;
}

/** `issuers[0].issuer must …` → `DUALGATE_ISSUERS[0].issuer must …`: lower layers word errors with the prop name. */
function renamed(message: string, setting: keyof DualgateConfig, nameOf: SettingNamer): string {
  return message.startsWith(setting) ? nameOf(setting) + message.slice(setting.length) : `${nameOf(setting)}: ${message}`;
}

function integerSetting(name: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 0 || number > max) {
    throw new DualgateConfigError(`${name} must be an integer from 0 to ${max} seconds (got ${JSON.stringify(value)})`);
  }
  return number;
}

/** Validate and complete a partial configuration. */
export function resolveConfig(
  input: Partial<Record<keyof DualgateConfig, unknown>> = {},
  options: ResolveConfigOptions = {},
): DualgateConfig {
  const nameOf: SettingNamer = options.settingName ?? ((setting) => setting);
  const keyPrefix = input.keyPrefix ?? DEFAULT_SETTINGS.keyPrefix;
  if (typeof keyPrefix !== 'string') throw new DualgateConfigError(`${nameOf('keyPrefix')} must be a string`);
  try {
    assertValidKeyPrefix(keyPrefix);
  } catch (error) {
    throw new DualgateConfigError(renamed((error as Error).message, 'keyPrefix', nameOf));
  }
  let rawIssuers = input.issuers ?? [];
  if (typeof rawIssuers === 'string') {
    try {
      rawIssuers = JSON.parse(rawIssuers);
    } catch {
      throw new DualgateConfigError(`${nameOf('issuers')} must be JSON: [{"issuer":"https://…","audience":"…"}]`);
    }
  }
  let issuers: IssuerConfig[];
  try {
    issuers = parseIssuerConfigs(rawIssuers, { allowHttp: options.allowHttpIssuers ?? false });
  } catch (error) {
    throw new DualgateConfigError(renamed((error as Error).message, 'issuers', nameOf));
  }
  const cognitoInput = input.cognito;
  const cognito = cognitoInput === undefined ? issuers.length === 0 : cognitoInput === true || cognitoInput === 'true';
  if (typeof cognitoInput === 'string' && !['true', 'false'].includes(cognitoInput))
    throw new DualgateConfigError(`${nameOf('cognito')} must be true or false`);
  if (!cognito && issuers.length === 0) {
    throw new DualgateConfigError(
      `no JWT issuer: set ${nameOf('issuers')}, or leave ${nameOf('cognito')} on (only API keys would work otherwise)`,
    );
  }
  const adminScope = input.adminScope ?? DEFAULT_SETTINGS.adminScope;
  if (typeof adminScope !== 'string' || !SCOPE_PATTERN.test(adminScope))
    throw new DualgateConfigError(`${nameOf('adminScope')} must match ${SCOPE_PATTERN} (got ${JSON.stringify(adminScope)})`);
  const stageName = input.stageName ?? 'v1';
  if (typeof stageName !== 'string' || !/^[A-Za-z0-9_]{1,64}$/.test(stageName))
    throw new DualgateConfigError(`${nameOf('stageName')} must be 1-64 letters, digits or underscores (got ${JSON.stringify(stageName)})`);
  const logLevel = input.logLevel ?? DEFAULT_SETTINGS.logLevel;
  if (typeof logLevel !== 'string' || !['DEBUG', 'INFO', 'WARN', 'ERROR'].includes(logLevel))
    throw new DualgateConfigError(`${nameOf('logLevel')} must be DEBUG, INFO, WARN or ERROR (got ${JSON.stringify(logLevel)})`);
  const unknown = Object.keys(input).filter((name) => !(CONFIG_KEYS as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new DualgateConfigError(`unknown setting(s): ${unknown.join(', ')} (known: ${CONFIG_KEYS.map(nameOf).join(', ')})`);
  return {
    keyPrefix,
    issuers,
    cognito,
    authorizerCacheTtlSeconds: integerSetting(nameOf('authorizerCacheTtlSeconds'), input.authorizerCacheTtlSeconds, 60, MAX_CACHE_SECONDS),
    keyCacheTtlSeconds: integerSetting(
      nameOf('keyCacheTtlSeconds'),
      input.keyCacheTtlSeconds,
      DEFAULT_SETTINGS.keyCacheTtlSeconds,
      MAX_CACHE_SECONDS,
    ),
    negativeKeyCacheTtlSeconds: integerSetting(
      nameOf('negativeKeyCacheTtlSeconds'),
      input.negativeKeyCacheTtlSeconds,
      DEFAULT_SETTINGS.negativeKeyCacheTtlSeconds,
      MAX_CACHE_SECONDS,
    ),
    staleIfErrorSeconds: integerSetting(
      nameOf('staleIfErrorSeconds'),
      input.staleIfErrorSeconds,
      DEFAULT_SETTINGS.staleIfErrorSeconds,
      MAX_CACHE_SECONDS,
    ),
    jwtCacheTtlSeconds: integerSetting(nameOf('jwtCacheTtlSeconds'), input.jwtCacheTtlSeconds, DEFAULT_SETTINGS.jwtCacheTtlSeconds, 86400),
    lastUsedIntervalSeconds: integerSetting(
      nameOf('lastUsedIntervalSeconds'),
      input.lastUsedIntervalSeconds,
      DEFAULT_SETTINGS.lastUsedIntervalSeconds,
      86400,
    ),
    adminScope,
    stageName,
    logLevel: logLevel as DualgateConfig['logLevel'],
  };
}

/** Worst-case seconds between a revocation and the last request a revoked key can still make. */
export function revocationDelayBoundSeconds(config: Pick<DualgateConfig, 'authorizerCacheTtlSeconds' | 'keyCacheTtlSeconds'>): number {
  return config.authorizerCacheTtlSeconds + config.keyCacheTtlSeconds;
}

/** Read `dualgate:<setting>` context values. */
export function configFromContext(tryGetContext: (key: string) => unknown): DualgateConfig {
  const input: Partial<Record<keyof DualgateConfig, unknown>> = {};
  for (const name of CONFIG_KEYS) {
    const value = tryGetContext(`dualgate:${name}`);
    if (value !== undefined) input[name] = value;
  }
  return resolveConfig(input, { settingName: (setting) => `dualgate:${setting}` });
}

/**
 * The Lambda environment that carries a configuration to the authorizer and the management API
 * (read back by lambdas/core/settings.ts). The stack and local mode both build it here.
 */
export function runtimeEnvironment(
  config: DualgateConfig,
  where: { tableName: string; issuersJson: string; dynamoEndpoint?: string; allowHttpIssuers?: boolean },
): Record<string, string> {
  const env: Record<string, string> = {
    [SETTING_NAMES.tableName]: where.tableName,
    [SETTING_NAMES.keyPrefix]: config.keyPrefix,
    [SETTING_NAMES.keyCacheTtlSeconds]: String(config.keyCacheTtlSeconds),
    [SETTING_NAMES.negativeKeyCacheTtlSeconds]: String(config.negativeKeyCacheTtlSeconds),
    [SETTING_NAMES.staleIfErrorSeconds]: String(config.staleIfErrorSeconds),
    [SETTING_NAMES.jwtCacheTtlSeconds]: String(config.jwtCacheTtlSeconds),
    [SETTING_NAMES.lastUsedIntervalSeconds]: String(config.lastUsedIntervalSeconds),
    [SETTING_NAMES.issuers]: where.issuersJson,
    [SETTING_NAMES.adminScope]: config.adminScope,
    [SETTING_NAMES.logLevel]: config.logLevel,
  };
  if (where.dynamoEndpoint) env[SETTING_NAMES.dynamoEndpoint] = where.dynamoEndpoint;
  if (where.allowHttpIssuers) env[SETTING_NAMES.allowHttpIssuers] = 'true';
  return env;
}
