/**
 * `dualgate dev`: synthesize the CDK app in the current directory (its cdk.json) with its own command, and serve
 * every DualAuthApi in the result on this machine (lib/local/dev-server.ts). No AWS account, no Docker.
 *
 *   dualgate dev                         synth with cdk.json's "app", then serve
 *   dualgate dev --assembly cdk.out      serve an existing cloud assembly (no synth)
 *   dualgate dev --app "<command>"       synth with another command; --stack NAME serves one stack
 *   dualgate dev --data DIR              keep key tables and the issuer's signing key in DIR
 *   dualgate dev --env-file vars.json    values for the app's unresolved variables (by function logical id or path)
 *   dualgate dev --watch                 re-synthesize and reload when the app's sources change (keys stay valid)
 *   dualgate dev --allow-host NAME       answer NAME in Host too (repeatable); by default only loopback names
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { IssuerConfig } from '../../lambdas/shared/issuer-config';
import { SETTING_NAMES } from '../../lambdas/shared/settings';
import { DualgateConfigError } from '../config';
import { DevServerError, startDevServer, type DevServer, type DevServerOptions } from './dev-server';
import { EnvFileError, readEnvFile } from './function-environment';
import { SigningKeyFileError } from './issuer';
import { AssemblyError } from './assembly';
import { localConfigFromEnv, LOCAL_ENV } from './local-config';
import { ALLOW_HOST_FLAG } from './loopback-guard';
import { StdoutLines } from './stdout-lines';

export const DEV_USAGE = `usage: dualgate dev [--assembly DIR] [--app CMD] [--stack NAME] [--data DIR] [--env-file FILE] [--watch] [--allow-host NAME]...

  Serves every DualAuthApi of the CDK app in this directory (cdk.json) on this machine.

  --assembly DIR    serve an existing cloud assembly (cdk.out) instead of synthesizing
  --app CMD         the command that synthesizes the app (default: cdk.json's "app")
  --stack NAME      serve only this stack
  --data DIR        keep the key tables and the issuer's signing key in DIR (default: in memory)
  --env-file FILE   JSON values for the app's functions' variables: {"<logical id or path>": {"VAR": "value"}, "Parameters": {...}}
  --watch           re-synthesize and reload when the app's sources change (keys and tokens stay valid)
  --allow-host NAME answer requests whose Host is NAME (any port), besides localhost, 127.0.0.1 and [::1]; repeatable.
                    Every listener still binds 127.0.0.1 only and refuses other Host names (DNS rebinding) with 421;
                    allow only names you control that point at this machine (an /etc/hosts alias, host.docker.internal)

environment: ${LOCAL_ENV.gatewayPort} (3000), ${LOCAL_ENV.issuerPort} (3001), ${LOCAL_ENV.authorizerCacheTtlSeconds}, ${SETTING_NAMES.keyCacheTtlSeconds},
  ${SETTING_NAMES.logLevel}, ${LOCAL_ENV.stageName} (override the app's), ${LOCAL_ENV.issuers} (more issuers to trust, JSON),
  ${LOCAL_ENV.allowHttpIssuers} (true: http on loopback only), ${LOCAL_ENV.allowedHosts} (like --allow-host, comma-separated),
  ${LOCAL_ENV.githubKeysUrl} (GitHub's key document for POST /leaks/github: https, or http on loopback), ${SETTING_NAMES.leakAction}`;

/** The dualgate settings a user may override in local mode's environment (they win over the app's). */
const OVERRIDABLE = [
  SETTING_NAMES.keyPrefix,
  SETTING_NAMES.keyCacheTtlSeconds,
  SETTING_NAMES.negativeKeyCacheTtlSeconds,
  SETTING_NAMES.staleIfErrorSeconds,
  SETTING_NAMES.jwtCacheTtlSeconds,
  SETTING_NAMES.adminScope,
  SETTING_NAMES.logLevel,
  SETTING_NAMES.leakAction,
  SETTING_NAMES.githubKeysCacheTtlSeconds,
  SETTING_NAMES.githubKeysRefetchIntervalSeconds,
] as const;

export class SynthError extends Error {
  override readonly name = 'SynthError';
}

interface CdkJson {
  app?: string;
  context?: Record<string, unknown>;
  watch?: { include?: string | string[]; exclude?: string | string[] };
}

function readCdkJson(dir: string): CdkJson {
  const file = join(dir, 'cdk.json');
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as CdkJson;
  } catch (error) {
    throw new SynthError(`cdk.json: ${(error as Error).message}`);
  }
}

/** The synth running now, if any: killed (with its process group) when dev stops, so nothing is orphaned. */
let runningSynth: ChildProcess | undefined;
export function killRunningSynth(): void {
  if (runningSynth?.pid && runningSynth.exitCode === null) {
    try {
      process.kill(-runningSynth.pid, 'SIGTERM');
    } catch {
      runningSynth.kill('SIGTERM');
    }
  }
}

/** Run the app's synth command as the CDK CLI does: CDK_OUTDIR and CDK_CONTEXT_JSON, with asset metadata on. */
export function synthesize(appCommand: string, cwd: string, outdir: string, context: Record<string, unknown>): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(appCommand, {
      cwd,
      shell: true,
      // Its own process group: a Ctrl-C or SIGTERM to dev stops the whole synth (npx, tsc, node…).
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        CDK_OUTDIR: outdir,
        CDK_CONTEXT_JSON: JSON.stringify({ ...context, 'aws:cdk:enable-path-metadata': true, 'aws:cdk:enable-asset-metadata': true, 'dualgate:dev': true }),
      },
    });
    runningSynth = child;
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', (error) => reject(new SynthError(`could not run "${appCommand}": ${error.message}`)));
    child.on('exit', (code, signal) => {
      if (runningSynth === child) runningSynth = undefined;
      if (code === 0 && existsSync(join(outdir, 'manifest.json'))) resolvePromise();
      else reject(new SynthError(`"${appCommand}" ${signal ? `was killed (${signal})` : `exited with code ${code}`}:\n${output.trim().split('\n').slice(-30).join('\n')}`));
    });
  });
}

function globToRegExp(glob: string): RegExp {
  const pattern = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\/?/g, '\u0000').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]').replace(/\u0000/g, '(?:.*/)?');
  return new RegExp(`^${pattern.replace(/\(\?:\.\*\/\)\?$/, '.*')}(?:/.*)?$`);
}

/** cdk.json's "watch" settings, or `cdk watch`'s defaults for a TypeScript app. */
function watchFilter(cdkJson: CdkJson, cwd: string): (path: string) => boolean {
  const list = (value: string | string[] | undefined) => (value === undefined ? undefined : Array.isArray(value) ? value : [value]);
  const include = (list(cdkJson.watch?.include) ?? ['**']).map(globToRegExp);
  const exclude = [...(list(cdkJson.watch?.exclude) ?? ['README.md', 'cdk*.json', '**/*.d.ts', 'tsconfig.json', 'package*.json', 'yarn.lock', 'test', 'build', 'dist']), 'node_modules', 'cdk.out', '.git', '.dualgate', '**/*.tsbuildinfo'].map(globToRegExp);
  // JavaScript is watched (a Code.fromAsset directory may hold plain .js), except tsc's output beside its .ts source.
  const compiled = (path: string) => /\.(c|m)?js$/.test(path) && ['.ts', '.mts', '.cts'].some((extension) => existsSync(join(cwd, path.replace(/\.(c|m)?js$/, extension))));
  return (path) => include.some((pattern) => pattern.test(path)) && !exclude.some((pattern) => pattern.test(path)) && !compiled(path);
}

function banner(server: DevServer, dataDir: string | undefined, externalIssuers: readonly IssuerConfig[], allowedHosts: readonly string[]): string {
  const json = `node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8"))`;
  const { issuer } = server;
  const lines = [''];
  for (const api of server.apis) lines.push(`  gateway   ${api.url}   (${api.stackName}/${api.logicalId}, stage ${api.stageName}, key prefix ${api.keyPrefix})`);
  lines.push(`  issuer    ${issuer.url}   (token endpoint ${issuer.tokenUrl}, JWKS ${issuer.jwksUri})`);
  for (const external of externalIssuers) lines.push(`  issuer    ${external.issuer}   (from ${LOCAL_ENV.issuers}; aud ${(external.audience ?? external.clientIds ?? []).join(' ')})`);
  lines.push(`  dynamodb  ${server.dynamo.endpoint}   (tables ${server.apis.map((api) => api.tableName).join(', ')})${dataDir ? `, data in ${dataDir}` : ', in memory'}`);
  const first = server.apis[0]!;
  lines.push(`  caches    authorizer ${first.authorizerCacheTtlSeconds}s + key ${first.keyCacheTtlSeconds}s: a revoked key stops working within ${first.authorizerCacheTtlSeconds + first.keyCacheTtlSeconds}s`);
  for (const api of server.apis) {
    if (!api.leakDetection) continue;
    const { path, githubKeysUrl, action } = api.leakDetection;
    lines.push(`  leaks     POST ${api.url}${path}   (GitHub secret scanning; keys from ${githubKeysUrl} (${LOCAL_ENV.githubKeysUrl}); action ${action}; SNS not emulated: see the audit lines)`);
  }
  for (const api of server.apis) {
    if (!api.plans) continue;
    const described = Object.entries(api.plans.plans).map(([name, plan]) => `${name} (${plan.rateLimitPerSecond}/s, burst ${plan.burstLimit}${plan.quota ? `, ${plan.quota.limit}/${plan.quota.period}` : ''})`);
    const unassigned = api.plans.defaultPlan ? `share ${api.plans.defaultPlan}` : 'stage throttle only';
    lines.push(`  plans     ${described.join(', ')}; unassigned consumers: ${unassigned}; a plan change applies within ${api.authorizerCacheTtlSeconds + api.keyCacheTtlSeconds}s${dataDir ? '; counters kept in --data' : ''}${api.usagePlans ? `; control plane ${api.usagePlans.endpoint}` : ''}`);
  }
  if (allowedHosts.length > 0) lines.push(`  hosts     localhost, 127.0.0.1, [::1] and ${allowedHosts.join(', ')} (${ALLOW_HOST_FLAG}, ${LOCAL_ENV.allowedHosts}); any other Host is refused`);
  for (const skipped of server.skippedApis) lines.push(`  skipped   ${skipped}: not a DualAuthApi`);
  for (const api of server.apis) for (const method of api.notServed) lines.push(`  not served locally (501)  ${method.method} ${method.path}: ${method.why}`);
  if (server.unresolved.length > 0) {
    lines.push('', '  Unresolved variables (they name AWS resources that exist only once deployed; supply values with --env-file):');
    for (const entry of server.unresolved) lines.push(`    ${entry.functionPath ?? entry.functionId}  ${entry.variable}  → ${entry.references}  = "${entry.placeholder}"`);
  }
  const example = exampleRoute(server);
  const tokenScopes = ['keys:read', 'keys:write', ...example.scopes].join(' ');
  lines.push(
    '',
    '  Try it (copy and paste into a shell):',
    '',
    `  # 1. get an access token for client "local-admin" (any secret works)`,
    `  TOKEN=$(curl -s -u local-admin:secret ${issuer.tokenUrl} -d grant_type=client_credentials --data-urlencode 'scope=${tokenScopes}' | ${json}.access_token')`,
    '',
    `  # 2. create an API key with that token`,
    `  KEY=$(curl -s -X POST ${first.url}/keys -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"name":"my first key","scopes":${JSON.stringify(example.scopes)}}' | ${json}.key')`,
    '',
    `  # 3. call ${example.path} with the token, then with the key: the same sub`,
    `  curl -s ${first.url}${example.path} -H "Authorization: Bearer $TOKEN"; echo`,
    `  curl -s ${first.url}${example.path} -H "Authorization: Bearer $KEY"; echo`,
    '',
    `  # or use the admin CLI: these two lines point it at local mode (client-credentials login, any secret)`,
    `  export DUALGATE_URL=${first.url}`,
    `  export DUALGATE_TOKEN_URL=${issuer.tokenUrl} DUALGATE_CLIENT_ID=local-admin DUALGATE_CLIENT_SECRET=secret`,
    `  npx dualgate --scope 'keys:read keys:write' keys list`,
    '',
    `dualgate local mode is ready at ${first.url} (Ctrl-C to stop)`,
    '',
  );
  return lines.join('\n');
}

/** A GET route without parameters to show off: `/me` when the app has it, else the first one that needs scopes. */
function exampleRoute(server: DevServer): { path: string; scopes: string[] } {
  const table = server.apis[0]!.routeTable;
  const candidates = table.filter((route) => route.method === 'GET' && !route.path.includes('{') && !route.scopes.some((scope) => scope.startsWith('keys:')));
  const chosen = candidates.find((route) => route.path === '/me') ?? candidates.find((route) => route.scopes.length > 0) ?? candidates[0];
  // Scopes for the token and the key: every scope of those example routes, so both calls succeed.
  const scopes = [...new Set(candidates.flatMap((route) => route.scopes))].sort();
  return { path: chosen?.path ?? '/keys', scopes: chosen ? scopes : [] };
}

function fail(message: string): never {
  process.stderr.write(`dualgate dev: ${message}\n`);
  process.exit(1);
}

export async function runDev(argv: string[]): Promise<void> {
  let values: { assembly?: string; app?: string; stack?: string; data?: string; 'env-file'?: string; watch?: boolean; 'allow-host'?: string[]; help?: boolean };
  try {
    values = parseArgs({
      args: argv,
      options: { assembly: { type: 'string' }, app: { type: 'string' }, stack: { type: 'string' }, data: { type: 'string' }, 'env-file': { type: 'string' }, watch: { type: 'boolean' }, 'allow-host': { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }).values;
  } catch (error) {
    fail(`${(error as Error).message}\n${DEV_USAGE}`);
  }
  if (values.help) {
    process.stdout.write(DEV_USAGE + '\n');
    return;
  }
  if (values.assembly && values.watch) fail('--watch re-synthesizes the app: it cannot be combined with --assembly');
  // The SDK warns on Node 20 about releases it has not shipped yet; the warning would only bury the banner.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

  const cwd = process.cwd();
  const startedAtMs = Date.now();
  let options: Omit<DevServerOptions, 'assemblyDir'>;
  let cdkJson: CdkJson = {};
  let appCommand: string | undefined;
  try {
    const local = localConfigFromEnv(process.env, { ...(values.data ? { dataDir: values.data } : {}), allowHosts: values['allow-host'] ?? [] });
    const overrides: Record<string, string> = {};
    for (const name of OVERRIDABLE) if (process.env[name]) overrides[name] = process.env[name] as string;
    options = {
      gatewayPort: local.gatewayPort,
      issuerPort: local.issuerPort,
      audience: local.audience,
      externalIssuers: local.externalIssuers,
      maxBodyBytes: local.maxBodyBytes,
      settingOverrides: overrides,
      ...(local.allowedHosts.length > 0 ? { allowedHosts: local.allowedHosts } : {}),
      ...(local.githubKeysUrl ? { githubKeysUrl: local.githubKeysUrl } : {}),
      ...(process.env[LOCAL_ENV.authorizerCacheTtlSeconds] ? { authorizerCacheTtlSeconds: local.dualgate.authorizerCacheTtlSeconds } : {}),
      ...(process.env[LOCAL_ENV.stageName] ? { stageName: local.dualgate.stageName } : {}),
      ...(values.stack ? { stack: values.stack } : {}),
      ...(values.data ? { dataDir: resolve(values.data) } : {}),
      ...(values['env-file'] ? { envFile: readEnvFile(values['env-file']) } : {}),
    };
    if (values.data) mkdirSync(values.data, { recursive: true });
    if (!values.assembly) {
      cdkJson = readCdkJson(cwd);
      appCommand = values.app ?? cdkJson.app;
      if (!appCommand) fail(`no cdk.json with an "app" in ${cwd}: run dualgate dev in your CDK app's directory, or pass --app or --assembly`);
    }
  } catch (error) {
    if (error instanceof DualgateConfigError || error instanceof EnvFileError || error instanceof SynthError) fail(error.message);
    throw error;
  }

  // Signals from the start: a Ctrl-C during the first synth must stop the synth too.
  let server: DevServer | undefined;
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`dualgate dev: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    // While everything closes, a request cut off mid-flight (a function's worker stopped during its DynamoDB call,
    // say) may surface as an error in dynalite or a socket: stopping is what was asked, so it is not a failure.
    const ignoreWhileStopping = (error: unknown) => process.stderr.write(`dualgate dev: ignored while stopping: ${error instanceof Error ? error.message : String(error)}\n`);
    process.on('uncaughtException', ignoreWhileStopping);
    process.on('unhandledRejection', ignoreWhileStopping);
    killRunningSynth();
    process.stdout.write(`\ndualgate dev: ${signal} received, stopping...\n`);
    stdoutLines.flush();
    (server ? server.stop() : Promise.resolve()).then(
      () => {
        cleanSynthDirs();
        process.stdout.write('dualgate dev: stopped\n');
        process.exit(0);
      },
      (error: unknown) => fail(`error while stopping: ${error instanceof Error ? error.message : String(error)}`),
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  // `npm run dev` under a supervisor: npm may exit on SIGTERM without passing it on. Orphaned, stop too.
  const parentPid = process.ppid;
  setInterval(() => {
    if (process.ppid !== parentPid) shutdown('SIGTERM');
  }, 500).unref();

  const stdoutLines = new StdoutLines();
  const serveOptions = { ...options, functionOutput: stdoutLines.push, accessLog: (entry: object) => stdoutLines.push(JSON.stringify(entry)) };
  const synthDirs: string[] = [];
  const cleanSynthDirs = (keep?: string) => {
    for (const dir of synthDirs.splice(0)) if (dir !== keep) rmSync(dir, { recursive: true, force: true });
    if (keep) synthDirs.push(keep);
  };
  const assemblyFor = async (): Promise<string> => {
    if (values.assembly) return resolve(values.assembly);
    const outdir = mkdtempSync(join(tmpdir(), 'dualgate-dev-'));
    synthDirs.push(outdir);
    await synthesize(appCommand as string, cwd, outdir, cdkJson.context ?? {});
    return outdir;
  };

  let started: DevServer;
  try {
    const assemblyDir = await assemblyFor();
    started = await startDevServer({ ...serveOptions, assemblyDir });
    server = started;
  } catch (error) {
    cleanSynthDirs();
    if (error instanceof DevServerError || error instanceof SigningKeyFileError || error instanceof SynthError || error instanceof AssemblyError) fail(error.message);
    fail(`could not start: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.stdout.write(banner(started, values.data, options.externalIssuers ?? [], options.allowedHosts ?? []) + '\n');
  process.stdout.write(`dualgate dev: ready in ${((Date.now() - startedAtMs) / 1000).toFixed(1)} s${values.assembly ? ' (from --assembly)' : ' (synth included)'}\n`);

  let reloading: Promise<void> | undefined;
  let pending = false;
  const reload = async () => {
    const reloadStartMs = Date.now();
    let assemblyDir: string;
    try {
      assemblyDir = await assemblyFor();
    } catch (error) {
      process.stdout.write(`dualgate dev: synth failed, still serving the previous version: ${(error as Error).message}\n`);
      return;
    }
    const previous = server as DevServer;
    await previous.stop({ keepData: true });
    try {
      const gatewayPorts = previous.apis.map((api) => Number(new URL(api.url).port));
      server = await startDevServer({ ...serveOptions, assemblyDir, gatewayPorts, reuse: { dynamo: previous.dynamo, issuer: previous.issuer } });
      cleanSynthDirs(assemblyDir);
      process.stdout.write(`dualgate dev: reloaded in ${Date.now() - reloadStartMs} ms (${server.apis.map((api) => api.url).join(', ')})\n`);
    } catch (error) {
      fail(`reload failed: ${(error as Error).message}`);
    }
  };
  if (values.watch) {
    const accept = watchFilter(cdkJson, cwd);
    let timer: NodeJS.Timeout | undefined;
    watch(cwd, { recursive: true }, (_event, file) => {
      if (!file || !accept(relative(cwd, resolve(cwd, file.toString())).split('\\').join('/'))) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (reloading) {
          pending = true;
          return;
        }
        reloading = reload().finally(() => {
          reloading = undefined;
          if (pending) {
            pending = false;
            reloading = reload().finally(() => (reloading = undefined));
          }
        });
      }, 300);
    });
    process.stdout.write(`dualgate dev: watching ${cwd} for changes\n`);
  }

}
