/**
 * The leak endpoint's settings, read from its Lambda environment (names in SETTING_NAMES). The construct writes
 * them from the `leakDetection` prop, local mode from DUALGATE_GITHUB_KEYS_URL; both validate with the functions
 * here, so a bad value fails the synth or the start, not the first report.
 */
import { DEFAULT_SETTINGS, readKeyTableSettings, seconds, SETTING_NAMES, SettingsError } from '../core/settings';
import { LEAK_ACTIONS, type LeakAction } from './leak-model';
import { DEFAULT_GITHUB_KEYS_URL } from './github-keys';

interface LeakSettings {
  tableName: string;
  keyPrefix: string;
  githubKeysUrl: string;
  /** True when the URL is plain http (local mode, on loopback only). */
  githubKeysUrlIsHttp: boolean;
  githubKeysCacheTtlSeconds: number;
  githubKeysRefetchIntervalSeconds: number;
  action: LeakAction;
  topicArn?: string;
  dynamoEndpoint?: string;
  logLevel: string;
}

export const DEFAULT_LEAK_SETTINGS = {
  githubKeysUrl: DEFAULT_GITHUB_KEYS_URL,
  githubKeysCacheTtlSeconds: 3600,
  githubKeysRefetchIntervalSeconds: 60,
  action: 'revoke',
} as const;

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

/** Why a key document URL is refused, or undefined when it is fine: https anywhere, http only on loopback (and only when allowed). */
export function githubKeysUrlProblem(value: unknown, options: { allowHttpLoopback: boolean }): string | undefined {
  if (typeof value !== 'string') return 'must be a URL';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `must be a URL (got ${JSON.stringify(value)})`;
  }
  if (url.username || url.password) return 'must not carry credentials';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.includes(url.hostname)) {
    return options.allowHttpLoopback
      ? undefined
      : `must be an https URL (got ${JSON.stringify(value)}; http is accepted on loopback in local mode only)`;
  }
  return `must be an https URL, or http on loopback (127.0.0.1, localhost, [::1]) in local mode (got ${JSON.stringify(value)})`;
}

export function readLeakSettings(env: Record<string, string | undefined> = process.env): LeakSettings {
  const { tableName, keyPrefix } = readKeyTableSettings(env);
  const githubKeysUrl = env[SETTING_NAMES.githubKeysUrl] || DEFAULT_LEAK_SETTINGS.githubKeysUrl;
  // Local mode allows http issuers on loopback; the same switch allows a loopback key server.
  const problem = githubKeysUrlProblem(githubKeysUrl, { allowHttpLoopback: env[SETTING_NAMES.allowHttpIssuers] === 'true' });
  if (problem) throw new SettingsError(`${SETTING_NAMES.githubKeysUrl} ${problem}`);
  const action = env[SETTING_NAMES.leakAction] || DEFAULT_LEAK_SETTINGS.action;
  if (!(LEAK_ACTIONS as readonly string[]).includes(action))
    throw new SettingsError(`${SETTING_NAMES.leakAction} must be one of ${LEAK_ACTIONS.join(', ')} (got ${JSON.stringify(action)})`);
  const settings: LeakSettings = {
    tableName,
    keyPrefix,
    githubKeysUrl,
    githubKeysUrlIsHttp: githubKeysUrl.startsWith('http:'),
    githubKeysCacheTtlSeconds: seconds(
      env,
      SETTING_NAMES.githubKeysCacheTtlSeconds,
      DEFAULT_LEAK_SETTINGS.githubKeysCacheTtlSeconds,
      86400,
    ),
    githubKeysRefetchIntervalSeconds: seconds(
      env,
      SETTING_NAMES.githubKeysRefetchIntervalSeconds,
      DEFAULT_LEAK_SETTINGS.githubKeysRefetchIntervalSeconds,
      3600,
    ),
    action: action as LeakAction,
    logLevel: env[SETTING_NAMES.logLevel] || DEFAULT_SETTINGS.logLevel,
  };
  const topicArn = env[SETTING_NAMES.leakTopicArn];
  if (topicArn) settings.topicArn = topicArn;
  const endpoint = env[SETTING_NAMES.dynamoEndpoint];
  if (endpoint) settings.dynamoEndpoint = endpoint;
  return settings;
}
