/**
 * `dualgate dev`: synthesize the CDK app in the current directory (its cdk.json) with its own command, and serve
 * every DualAuthApi in the result on this machine (lib/local/dev-server.ts). No AWS account, no Docker.
 *
 *   dualgate dev                         synth with cdk.json's "app", then serve
 *   dualgate dev --assembly cdk.out      serve an existing cloud assembly (no synth)
 *   dualgate dev --app "<command>"       synth with another command; --stack NAME serves one stack
 *   dualgate dev --data DIR              keep key tables and the issuer's signing key in DIR (git-ignored by itself)
 *   dualgate dev --env-file vars.json    values for the app's unresolved variables (by function logical id or path)
 *   dualgate dev --watch                 reload on a source change: function code alone in well under 2 s, else a synth
 *   dualgate dev --log-format json       the access log, dualgate's JSON/EMF lines and failures as JSON lines
 *   dualgate dev --allow-host NAME       answer NAME in Host too (repeatable); by default only loopback names
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SETTING_NAMES } from '../../lambdas/core/settings';
import { DualgateConfigError } from '../construct/config';
import { AssemblyError } from './assembly';
import { readCodeOrigins } from './code-origins';
import { banner } from './dev-banner';
import { DevLog, LOG_FORMATS, type LogFormat } from './dev-log';
import { codeSourcesOf, DevReloader } from './dev-reloader';
import { DevServerError, startDevServer, type DevServer, type DevServerOptions } from './dev-server';
import { EnvFileError, readEnvFile } from './function-environment';
import { SigningKeyFileError } from './issuer';
import { localConfigFromEnv, LOCAL_ENV } from './local-config';
import { prepareLocalStateDir } from './local-state';
import { startSourceWatcher, type SourceWatcher, type WatchSettings } from './source-watcher';
import { StdoutLines } from './stdout-lines';
import { killRunningSynth, synthesize, SynthError } from './synth';

const DEV_USAGE = `usage: dualgate dev [--assembly DIR] [--app CMD] [--stack NAME] [--data DIR] [--env-file FILE] [--watch] [--log-format human|json] [--allow-host NAME]...

  Serves every DualAuthApi of the CDK app in this directory (cdk.json) on this machine.

  --assembly DIR    serve an existing cloud assembly (cdk.out) instead of synthesizing
  --app CMD         the command that synthesizes the app (default: cdk.json's "app")
  --stack NAME      serve only this stack
  --data DIR        keep the key tables and the issuer's signing key in DIR (default: in memory); DIR gets a
                    .gitignore of its own, so it never shows in git status
  --env-file FILE   JSON values for the app's functions' variables: {"<logical id or path>": {"VAR": "value"}, "Parameters": {...}}
  --watch           reload when the app's sources change (keys and tokens stay valid): an edit to a function's own
                    code reloads that function alone, anything else synthesizes the app again
  --log-format F    human (default): one line per request, each function's output under it, failures with their
                    stack; json: the access log, dualgate's JSON and EMF lines, console output and failures as JSON
  --allow-host NAME answer requests whose Host is NAME (any port), besides localhost, 127.0.0.1 and [::1]; repeatable.
                    Every listener still binds 127.0.0.1 only and refuses other Host names (DNS rebinding) with 421;
                    allow only names you control that point at this machine (an /etc/hosts alias, host.docker.internal)

environment: ${LOCAL_ENV.gatewayPort} (3000), ${LOCAL_ENV.issuerPort} (3001), ${LOCAL_ENV.authorizerCacheTtlSeconds}, ${SETTING_NAMES.keyCacheTtlSeconds},
  ${SETTING_NAMES.logLevel}, ${LOCAL_ENV.stageName} (override the app's), ${LOCAL_ENV.issuers} (more issuers to trust, JSON),
  ${LOCAL_ENV.allowHttpIssuers} (true: http on loopback only), ${LOCAL_ENV.allowedHosts} (like --allow-host, comma-separated), NO_COLOR,
  ${LOCAL_ENV.githubKeysUrl} (GitHub's key document for POST /leaks/github: https, or http on loopback), ${SETTING_NAMES.leakAction},
  ${LOCAL_ENV.portalAdmins} (usernames that get the admin scope at portal sign-in, comma-separated)`;

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

interface CdkJson {
  app?: string;
  context?: Record<string, unknown>;
  watch?: WatchSettings;
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

function fail(message: string): never {
  process.stderr.write(`dualgate dev: ${message}\n`);
  process.exit(1);
}

export async function runDev(argv: string[]): Promise<void> {
  let values: {
    assembly?: string;
    app?: string;
    stack?: string;
    data?: string;
    'env-file'?: string;
    watch?: boolean;
    'log-format'?: string;
    'allow-host'?: string[];
    help?: boolean;
  };
  try {
    values = parseArgs({
      args: argv,
      options: {
        assembly: { type: 'string' },
        app: { type: 'string' },
        stack: { type: 'string' },
        data: { type: 'string' },
        'env-file': { type: 'string' },
        watch: { type: 'boolean' },
        'log-format': { type: 'string' },
        'allow-host': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (error) {
    fail(`${(error as Error).message}\n${DEV_USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${DEV_USAGE}\n`);
    return;
  }
  if (values.assembly && values.watch) fail('--watch re-synthesizes the app: it cannot be combined with --assembly');
  const logFormat = (values['log-format'] ?? 'human') as LogFormat;
  if (!LOG_FORMATS.includes(logFormat)) fail(`--log-format must be ${LOG_FORMATS.join(' or ')} (got "${values['log-format']}")`);
  // The SDK warns on Node 20 about releases it has not shipped yet; the warning would only bury the banner.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

  const cwd = process.cwd();
  const startedAtMs = Date.now();
  let options: Omit<DevServerOptions, 'assemblyDir'>;
  let cdkJson: CdkJson = {};
  let appCommand: string | undefined;
  try {
    const local = localConfigFromEnv(process.env, {
      ...(values.data ? { dataDir: values.data } : {}),
      allowHosts: values['allow-host'] ?? [],
    });
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
      ...(local.portalAdmins.length > 0 ? { portalAdmins: local.portalAdmins } : {}),
      ...(local.githubKeysUrl ? { githubKeysUrl: local.githubKeysUrl } : {}),
      ...(process.env[LOCAL_ENV.authorizerCacheTtlSeconds] ? { authorizerCacheTtlSeconds: local.dualgate.authorizerCacheTtlSeconds } : {}),
      ...(process.env[LOCAL_ENV.stageName] ? { stageName: local.dualgate.stageName } : {}),
      ...(values.stack ? { stack: values.stack } : {}),
      ...(values.data ? { dataDir: resolve(values.data) } : {}),
      ...(values['env-file'] ? { envFile: readEnvFile(values['env-file']) } : {}),
    };
    // Local state never lands in git: the data directory ignores itself.
    if (values.data && !prepareLocalStateDir(values.data)) {
      process.stderr.write(
        `dualgate dev: ${values.data} holds other files, so no .gitignore was added to it: keep it out of git yourself\n`,
      );
    }
    if (!values.assembly) {
      cdkJson = readCdkJson(cwd);
      appCommand = values.app ?? cdkJson.app;
      if (!appCommand)
        fail(`no cdk.json with an "app" in ${cwd}: run dualgate dev in your CDK app's directory, or pass --app or --assembly`);
    }
  } catch (error) {
    if (error instanceof DualgateConfigError || error instanceof EnvFileError || error instanceof SynthError) fail(error.message);
    throw error;
  }

  const stdoutLines = new StdoutLines();
  const log = new DevLog({
    format: logFormat,
    write: stdoutLines.push,
    color: logFormat === 'human' && Boolean(process.stdout.isTTY) && !process.env['NO_COLOR'],
  });

  // Signals from the start: a Ctrl-C during the first synth must stop the synth too.
  let server: DevServer | undefined;
  let reloader: DevReloader | undefined;
  let watcher: SourceWatcher | undefined;
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`dualgate dev: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    // While everything closes, a request cut off mid-flight (a function's worker stopped during its DynamoDB call,
    // say) may surface as an error in dynalite or a socket: stopping is what was asked, so it is not a failure.
    const ignoreWhileStopping = (error: unknown) =>
      process.stderr.write(`dualgate dev: ignored while stopping: ${error instanceof Error ? error.message : String(error)}\n`);
    process.on('uncaughtException', ignoreWhileStopping);
    process.on('unhandledRejection', ignoreWhileStopping);
    reloader?.stop();
    killRunningSynth();
    log.stop();
    stdoutLines.flush();
    process.stdout.write(`\ndualgate dev: ${signal} received, stopping...\n`);
    const current = reloader?.server ?? server;
    Promise.all([watcher?.close(), current?.stop()]).then(
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

  const serveOptions = { ...options, functionOutput: log.functionOutput, onFunctionFailure: log.functionFailure, accessLog: log.access };
  const synthDirs = new Set<string>();
  const cleanSynthDirs = () => {
    for (const dir of synthDirs) rmSync(dir, { recursive: true, force: true });
    synthDirs.clear();
  };
  const discard = (dir: string) => {
    synthDirs.delete(dir);
    rmSync(dir, { recursive: true, force: true });
  };
  /** A fresh synth of the app, recording where each function's code comes from (stack traces, --watch). */
  const synthFresh = async (onStart?: (child: ChildProcess) => void): Promise<string> => {
    const outdir = mkdtempSync(join(tmpdir(), 'dualgate-dev-'));
    synthDirs.add(outdir);
    try {
      await synthesize(appCommand as string, cwd, outdir, cdkJson.context ?? {}, { probe: true, ...(onStart ? { onStart } : {}) });
    } catch (error) {
      discard(outdir);
      throw error;
    }
    return outdir;
  };

  let assemblyDir: string;
  try {
    assemblyDir = values.assembly ? resolve(values.assembly) : await synthFresh();
    server = await startDevServer({ ...serveOptions, assemblyDir, codeSources: codeSourcesOf(readCodeOrigins(assemblyDir)) });
  } catch (error) {
    cleanSynthDirs();
    if (
      error instanceof DevServerError ||
      error instanceof SigningKeyFileError ||
      error instanceof SynthError ||
      error instanceof AssemblyError
    )
      fail(error.message);
    fail(`could not start: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (stopping) return;
  process.stdout.write(`${banner(server, values.data, options.externalIssuers ?? [], options.allowedHosts ?? [])}\n`);
  process.stdout.write(
    `dualgate dev: ready in ${((Date.now() - startedAtMs) / 1000).toFixed(1)} s${values.assembly ? ' (from --assembly)' : ' (synth included)'}\n`,
  );

  if (values.watch) {
    reloader = new DevReloader({
      server,
      assemblyDir,
      synth: synthFresh,
      discard,
      onSynthStart: () => watcher?.synthStarted(),
      serveOptions,
      note: (message) => log.note(message),
      fatal: fail,
    });
    watcher = startSourceWatcher({
      root: cwd,
      ...(cdkJson.watch ? { settings: cdkJson.watch } : {}),
      onBatch: reloader.onBatch,
      onError: (error) => log.note(`watcher: ${error.message}`),
    });
    await watcher.ready;
    log.note(`watching ${cwd} for changes`);
  }
}
