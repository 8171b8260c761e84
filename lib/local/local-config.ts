/**
 * Local mode's settings: the stack's own typed configuration (resolveConfig in lib/construct/config.ts) plus what
 * only local mode has (ports, the data directory, the mock issuer's audience), overridable by environment
 * variables. The variable names are the Lambda settings' names (SETTING_NAMES) where one exists, so
 * `DUALGATE_KEY_PREFIX` means the same thing locally and in a Lambda.
 */
import { DualgateConfigError, resolveConfig, type DualgateConfig } from '../construct/config';
import { parseIssuerConfigs, type IssuerConfig } from '../../lambdas/core/issuer-config';
import { githubKeysUrlProblem } from '../../lambdas/leaks/leak-settings';
import { SETTING_NAMES } from '../../lambdas/core/settings';
import { ALLOW_HOST_FLAG, ALLOWED_HOSTS_ENV, normalizeAllowedHost } from './loopback-guard';

export const LOCAL_HOST = '127.0.0.1';
const DEFAULT_GATEWAY_PORT = 3000;
const DEFAULT_ISSUER_PORT = 3001;
export const DEFAULT_LOCAL_AUDIENCE = 'dualgate-local';
const DEFAULT_LOCAL_TABLE_NAME = 'dualgate-keys';

/** Environment variables local mode reads, beyond the Lambda settings. */
export const LOCAL_ENV = {
  gatewayPort: 'PORT',
  issuerPort: 'ISSUER_PORT',
  authorizerCacheTtlSeconds: 'DUALGATE_AUTHORIZER_CACHE_TTL_SECONDS',
  stageName: 'DUALGATE_STAGE_NAME',
  audience: 'DUALGATE_LOCAL_AUDIENCE',
  maxBodyBytes: 'DUALGATE_LOCAL_MAX_BODY_BYTES',
  /** Issuers to trust beside the mock one: the Lambda setting, same JSON. */
  issuers: SETTING_NAMES.issuers,
  allowHttpIssuers: SETTING_NAMES.allowHttpIssuers,
  /** More names every listener answers in `Host`, comma-separated (like `--allow-host`). */
  allowedHosts: ALLOWED_HOSTS_ENV,
  /** GitHub's key document for POST /leaks/github: the Lambda setting; http on loopback as for DUALGATE_ISSUERS. */
  githubKeysUrl: SETTING_NAMES.githubKeysUrl,
  /** Usernames that get the admin scope when they sign in to the local portal, comma-separated (none by default). */
  portalAdmins: 'DUALGATE_LOCAL_PORTAL_ADMINS',
} as const;

/** The variable that sets each stack setting in local mode, so an error names what the user typed. */
const ENV_FOR_SETTING: Partial<Record<keyof DualgateConfig, string>> = {
  keyPrefix: SETTING_NAMES.keyPrefix,
  authorizerCacheTtlSeconds: LOCAL_ENV.authorizerCacheTtlSeconds,
  keyCacheTtlSeconds: SETTING_NAMES.keyCacheTtlSeconds,
  negativeKeyCacheTtlSeconds: SETTING_NAMES.negativeKeyCacheTtlSeconds,
  staleIfErrorSeconds: SETTING_NAMES.staleIfErrorSeconds,
  jwtCacheTtlSeconds: SETTING_NAMES.jwtCacheTtlSeconds,
  lastUsedIntervalSeconds: SETTING_NAMES.lastUsedIntervalSeconds,
  adminScope: SETTING_NAMES.adminScope,
  stageName: LOCAL_ENV.stageName,
  logLevel: SETTING_NAMES.logLevel,
  issuers: SETTING_NAMES.issuers,
};

interface LocalConfig {
  host: typeof LOCAL_HOST;
  /** 0 = any free port (tests). */
  gatewayPort: number;
  issuerPort: number;
  /** Persist dynalite here; in memory when absent. */
  dataDir?: string;
  /** The `aud` the mock issuer stamps and the authorizer requires. */
  audience: string;
  /** Issuers trusted beside the mock one (`DUALGATE_ISSUERS`): a team's real IdP, tried locally. */
  externalIssuers: IssuerConfig[];
  tableName: string;
  maxBodyBytes: number;
  /** Names besides the loopback ones that every listener answers in `Host`: `--allow-host` and DUALGATE_ALLOWED_HOSTS. */
  allowedHosts: string[];
  /** Where the leak endpoint fetches GitHub's signing keys (DUALGATE_GITHUB_KEYS_URL); absent: the app's setting. */
  githubKeysUrl?: string;
  /** DUALGATE_LOCAL_PORTAL_ADMINS: the usernames the local issuer gives the admin scope at portal sign-in. */
  portalAdmins: string[];
  /**
   * The stack's configuration. Its first issuer is the mock one at `http://127.0.0.1:<issuerPort>` (when the
   * issuer port is 0 the real URL is only known once it listens, and dev-server.ts fills it in then), then
   * `externalIssuers`.
   */
  dualgate: DualgateConfig;
}

function port(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535)
    throw new DualgateConfigError(`${name} must be a port number from 0 to 65535 (got ${JSON.stringify(raw)})`);
  return value;
}

/**
 * `DUALGATE_ISSUERS`: the same JSON list the Lambda reads. http is accepted on loopback only (a Keycloak or
 * a mock on this machine), unless `DUALGATE_ALLOW_HTTP_ISSUERS=false` insists on https.
 */
function externalIssuersFromEnv(env: Record<string, string | undefined>, mockIssuerUrl: string): IssuerConfig[] {
  const allowRaw = env[LOCAL_ENV.allowHttpIssuers];
  if (allowRaw !== undefined && allowRaw !== '' && allowRaw !== 'true' && allowRaw !== 'false') {
    throw new DualgateConfigError(`${LOCAL_ENV.allowHttpIssuers} must be true or false (got ${JSON.stringify(allowRaw)})`);
  }
  const allowHttp = allowRaw !== 'false';
  const raw = env[LOCAL_ENV.issuers];
  if (raw === undefined || raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new DualgateConfigError(`${LOCAL_ENV.issuers} must be JSON: [{"issuer":"https://…","audience":"…","jwksUri":"…"}]`);
  }
  let issuers: IssuerConfig[];
  try {
    issuers = parseIssuerConfigs(parsed, { allowHttp });
  } catch (error) {
    const message = (error as Error).message.replace(/^issuers/, LOCAL_ENV.issuers);
    const hint = /must be an https URL/.test(message)
      ? allowHttp
        ? ' (http is accepted on loopback only: 127.0.0.1, localhost, [::1])'
        : ` (${LOCAL_ENV.allowHttpIssuers}=false)`
      : '';
    throw new DualgateConfigError(message + hint);
  }
  const clash = issuers.findIndex((issuer) => issuer.issuer === mockIssuerUrl);
  if (clash >= 0)
    throw new DualgateConfigError(
      `${LOCAL_ENV.issuers}[${clash}].issuer is local mode's own issuer (${mockIssuerUrl}); set ${LOCAL_ENV.issuerPort} to move it`,
    );
  return issuers;
}

/** `--allow-host` values and DUALGATE_ALLOWED_HOSTS, normalized and de-duplicated; a bad name names where it came from. */
function allowedHostsFrom(env: Record<string, string | undefined>, flagValues: readonly string[]): string[] {
  const given = [
    ...flagValues.map((value) => ({ value, from: ALLOW_HOST_FLAG })),
    ...(env[LOCAL_ENV.allowedHosts] ?? '')
      .split(',')
      .filter((value) => value.trim() !== '')
      .map((value) => ({ value, from: LOCAL_ENV.allowedHosts })),
  ];
  const names = given.map(({ value, from }) => {
    const name = normalizeAllowedHost(value);
    if (name === undefined)
      throw new DualgateConfigError(
        `${from} takes a host name or IP address without scheme, port or wildcard (got ${JSON.stringify(value)}); it is then answered on every port`,
      );
    return name;
  });
  return [...new Set(names)];
}

function localIssuerUrl(issuerPort: number): string {
  return `http://${LOCAL_HOST}:${issuerPort}`;
}

/** Read local mode's configuration; throws DualgateConfigError naming the bad variable. */
export function localConfigFromEnv(
  env: Record<string, string | undefined> = process.env,
  options: { dataDir?: string; allowHosts?: readonly string[] } = {},
): LocalConfig {
  const gatewayPort = port(env, LOCAL_ENV.gatewayPort, DEFAULT_GATEWAY_PORT);
  const issuerPort = port(env, LOCAL_ENV.issuerPort, DEFAULT_ISSUER_PORT);
  if (gatewayPort !== 0 && gatewayPort === issuerPort)
    throw new DualgateConfigError(`${LOCAL_ENV.gatewayPort} and ${LOCAL_ENV.issuerPort} must differ (both are ${gatewayPort})`);
  const audience = env[LOCAL_ENV.audience] || DEFAULT_LOCAL_AUDIENCE;
  const maxBodyRaw = env[LOCAL_ENV.maxBodyBytes];
  const maxBodyBytes = maxBodyRaw ? Number(maxBodyRaw) : 1024 * 1024;
  // API Gateway's own payload limit is 10 MB: a larger local limit would accept what AWS refuses.
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1 || maxBodyBytes > 10 * 1024 * 1024) {
    throw new DualgateConfigError(
      `${LOCAL_ENV.maxBodyBytes} must be an integer from 1 to ${10 * 1024 * 1024} (got ${JSON.stringify(maxBodyRaw)})`,
    );
  }
  const issuerUrl = localIssuerUrl(issuerPort);
  const externalIssuers = externalIssuersFromEnv(env, issuerUrl);
  const allowedHosts = allowedHostsFrom(env, options.allowHosts ?? []);
  const portalAdmins = (env[LOCAL_ENV.portalAdmins] ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  const badAdmin = portalAdmins.find((name) => !/^[A-Za-z0-9._@+-]{1,64}$/.test(name));
  if (badAdmin !== undefined)
    throw new DualgateConfigError(
      `${LOCAL_ENV.portalAdmins}: ${JSON.stringify(badAdmin)} is not a username (1 to 64 letters, digits or . _ @ + -)`,
    );
  const githubKeysUrl = env[LOCAL_ENV.githubKeysUrl];
  if (githubKeysUrl) {
    const allowHttp = env[LOCAL_ENV.allowHttpIssuers] !== 'false';
    const problem = githubKeysUrlProblem(githubKeysUrl, { allowHttpLoopback: allowHttp });
    if (problem)
      throw new DualgateConfigError(`${LOCAL_ENV.githubKeysUrl} ${problem}${allowHttp ? '' : ` (${LOCAL_ENV.allowHttpIssuers}=false)`}`);
  }
  const input: Parameters<typeof resolveConfig>[0] = {
    issuers: [{ issuer: issuerUrl, audience, jwksUri: `${issuerUrl}/jwks` }, ...externalIssuers],
    cognito: false,
  };
  const fromEnv = {
    keyPrefix: env[SETTING_NAMES.keyPrefix],
    authorizerCacheTtlSeconds: env[LOCAL_ENV.authorizerCacheTtlSeconds],
    keyCacheTtlSeconds: env[SETTING_NAMES.keyCacheTtlSeconds],
    negativeKeyCacheTtlSeconds: env[SETTING_NAMES.negativeKeyCacheTtlSeconds],
    staleIfErrorSeconds: env[SETTING_NAMES.staleIfErrorSeconds],
    jwtCacheTtlSeconds: env[SETTING_NAMES.jwtCacheTtlSeconds],
    lastUsedIntervalSeconds: env[SETTING_NAMES.lastUsedIntervalSeconds],
    adminScope: env[SETTING_NAMES.adminScope],
    stageName: env[LOCAL_ENV.stageName],
    logLevel: env[SETTING_NAMES.logLevel],
  };
  for (const [name, value] of Object.entries(fromEnv)) {
    if (value !== undefined && value !== '') input[name as keyof typeof fromEnv] = value;
  }
  const dualgate = resolveConfig(input, { allowHttpIssuers: true, settingName: (setting) => ENV_FOR_SETTING[setting] ?? setting });
  const config: LocalConfig = {
    host: LOCAL_HOST,
    gatewayPort,
    issuerPort,
    audience,
    externalIssuers,
    tableName: DEFAULT_LOCAL_TABLE_NAME,
    maxBodyBytes,
    allowedHosts,
    portalAdmins,
    dualgate,
  };
  if (options.dataDir) config.dataDir = options.dataDir;
  if (githubKeysUrl) config.githubKeysUrl = githubKeysUrl;
  return config;
}
