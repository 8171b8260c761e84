/**
 * `dualgate leaks pattern`: what to give GitHub's secret scanning for this app's keys, generated from its settings.
 * The key prefix comes from --prefix, else the synthesized app (--assembly: every DualAuthApi's authorizer setting,
 * and the leak endpoint's path), else DUALGATE_KEY_PREFIX, else cdk.json's `dualgate:keyPrefix`, else `dg`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SETTINGS, SETTING_NAMES } from '../../lambdas/core/settings';
import { readCloudAssembly } from '../local/assembly';
import { keyPatterns, type KeyPatterns } from './scan/key-pattern';
import { UsageError } from './api-client';

const DEFAULT_LEAK_PATH = '/leaks/github';

interface LeakPatternReport extends KeyPatterns {
  /** Where the prefix came from. */
  source: string;
  /** The path GitHub posts to; the full URL is the stack output GithubLeakEndpoint. */
  endpointPath: string | null;
  stackName?: string;
}

function fromCdkJson(cwd: string): string | undefined {
  const file = join(cwd, 'cdk.json');
  if (!existsSync(file)) return undefined;
  try {
    const value = (JSON.parse(readFileSync(file, 'utf8')) as { context?: Record<string, unknown> }).context?.['dualgate:keyPrefix'];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

export function leakPatternReports(options: {
  prefix?: string;
  assembly?: string;
  cwd: string;
  env: Record<string, string | undefined>;
}): LeakPatternReport[] {
  const make = (prefix: string, source: string, endpointPath: string | null, stackName?: string): LeakPatternReport => {
    try {
      return { ...keyPatterns(prefix), source, endpointPath, ...(stackName ? { stackName } : {}) };
    } catch (error) {
      throw new UsageError(`${source}: ${(error as Error).message}`);
    }
  };
  if (options.prefix !== undefined) return [make(options.prefix, '--prefix', DEFAULT_LEAK_PATH)];
  if (options.assembly !== undefined) {
    let assembly;
    try {
      assembly = readCloudAssembly(options.assembly);
    } catch (error) {
      throw new UsageError(`--assembly: ${(error as Error).message}`);
    }
    const reports = assembly.apis.flatMap((api) => {
      const authorizer = api.authorizer ? assembly.functions.get(api.authorizer.functionId) : undefined;
      if (!authorizer?.dualgateConfig) return [];
      const prefix = authorizer.environment[SETTING_NAMES.keyPrefix];
      const leakMethod = api.methods.find(
        (method) => method.integration.kind === 'lambda' && assembly.functions.get(method.integration.functionId)?.dualgateRole === 'leaks',
      );
      return [
        make(
          typeof prefix === 'string' ? prefix : DEFAULT_SETTINGS.keyPrefix,
          `${api.stackName} (${options.assembly})`,
          leakMethod?.path ?? null,
          api.stackName,
        ),
      ];
    });
    if (reports.length === 0) throw new UsageError(`--assembly: no DualAuthApi in ${options.assembly}`);
    return reports;
  }
  const fromEnv = options.env[SETTING_NAMES.keyPrefix];
  if (fromEnv) return [make(fromEnv, SETTING_NAMES.keyPrefix, DEFAULT_LEAK_PATH)];
  const fromContext = fromCdkJson(options.cwd);
  if (fromContext) return [make(fromContext, 'cdk.json dualgate:keyPrefix', DEFAULT_LEAK_PATH)];
  return [make(DEFAULT_SETTINGS.keyPrefix, 'the default prefix', DEFAULT_LEAK_PATH)];
}

export function leakPatternText(report: LeakPatternReport): string {
  const endpoint = report.endpointPath
    ? `POST <ApiUrl>${report.endpointPath}   (the URL is the stack output GithubLeakEndpoint${report.stackName ? ` of ${report.stackName}` : ''})`
    : 'off in this app (leakDetection: false): turn it on to receive reports';
  return [
    `dualgate keys with prefix "${report.prefix}" (from ${report.source})`,
    '',
    'GitHub secret scanning partner programme (public repositories; start at secret-scanning@github.com):',
    `  secret type    ${report.secretType}`,
    `  regex          ${report.partnerRegex}`,
    `  endpoint       ${endpoint}`,
    `  checksum       ${report.checksum}`,
    '',
    'GitHub custom pattern (private repositories, no partnership: Settings > Code security > Secret scanning > New pattern):',
    `  Secret format  ${report.customPattern.secretFormat}`,
    `  Before secret  ${report.customPattern.beforeSecret}`,
    `  After secret   ${report.customPattern.afterSecret}`,
    `  Test string    ${report.customPattern.testString}`,
    '  (a pattern cannot check the checksum: `dualgate scan` does, locally and in CI)',
    '',
  ].join('\n');
}
