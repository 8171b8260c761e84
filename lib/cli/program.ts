/**
 * `dualgate keys create|list|get|update|rotate|revoke`: the admin CLI over the management API.
 * Exit codes: 0 ok, 1 the API refused (4xx), 2 usage error (nothing sent), 3 network failure or 5xx.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { exitCodeFor, KeysApiClient, NetworkError, resolveToken, UsageError, ApiError, type CliEnv, type FetchLike } from './api-client';
import { describeFieldError, flagForField } from './api-error-text';
import { createdKeyText, keyDetailText, keyTable, type KeyView } from './format';
import { leakPatternReports, leakPatternText } from './leaks-command';
import { processScanIo, runScan, type ScanIo } from './scan-command';

interface CliIo {
  fetch: FetchLike;
  env: CliEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Default: the process's. `dualgate leaks pattern` reads cdk.json here. */
  cwd?: string;
  /** `dualgate scan -` reads this. Default: the process's standard input. */
  readStdin?: () => Promise<Buffer>;
}

function positiveInt(name: string) {
  return (value: string): number => {
    if (!/^[0-9]+$/.test(value)) throw new UsageError(`${name} must be a whole number of seconds (got ${JSON.stringify(value)})`);
    return Number(value);
  };
}

/** The management API's page size bounds (lambdas/keys/schemas.ts MAX_LIST_LIMIT). */
const MAX_LIST_LIMIT = 100;

function listLimit(value: string): number {
  const limit = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_LIST_LIMIT))
    throw new UsageError(
      `--limit must be a whole number from 1 to ${MAX_LIST_LIMIT} (got ${JSON.stringify(value)}); use --all to fetch every page`,
    );
  return limit;
}

/** The version of the dualgate package this CLI belongs to: the nearest package.json named `dualgate` above this file. */
function cliVersion(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'dualgate' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // no package.json here: keep climbing
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new UsageError('--metadata must be a JSON object');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError('--metadata must be a JSON object');
  return parsed as Record<string, unknown>;
}

const splitScopes = (values: string[]): string[] => values.flatMap((value) => value.split(/[\s,]+/)).filter((scope) => scope.length > 0);

/** What a run did that its error message depends on. */
interface RunState {
  /**
   * Commander's parse errors, held rather than printed: with `--json` runCli writes them as JSON instead,
   * and it only knows which form to use once parsing stopped.
   */
  parseErrors: string[];
  /** The token came from a client-credentials login without `--scope`: a 403 probably means a scope-less token. */
  loginWithoutScope: boolean;
  /** The request removed the expiry (`--no-expiry`), so an API complaint about `expiresAt` is about that flag. */
  clearedExpiry: boolean;
  /** Set by a command whose success has more than one outcome: `scan` exits 1 when it found a key. */
  exitCode?: number;
}

interface ConsumerView {
  sub: string;
  plan: string | null;
  assigned: boolean;
  usage?: { date: string; used: number; remaining: number | null } | null;
  scopes?: string[];
  defaultScopes?: string[];
  entitledScopes?: string[];
}

function consumerText(consumer: ConsumerView): string {
  const plan = consumer.assigned
    ? `plan ${consumer.plan}`
    : consumer.plan
      ? `default plan ${consumer.plan} (shared)`
      : 'no plan (stage throttle only)';
  const usage = consumer.usage
    ? `\n  ${consumer.usage.date}: ${consumer.usage.used} used${consumer.usage.remaining === null ? '' : `, ${consumer.usage.remaining} left in the quota`}`
    : '';
  const list = (scopes: string[] | undefined) => (scopes && scopes.length > 0 ? scopes.join(' ') : 'none');
  const entitled =
    consumer.entitledScopes === undefined
      ? ''
      : `\n  entitled to: ${list(consumer.entitledScopes)} (assigned: ${list(consumer.scopes)}; everyone: ${list(consumer.defaultScopes)})`;
  return `${consumer.sub}: ${plan}${usage}${entitled}\n`;
}

function buildProgram(io: CliIo, state: RunState = { parseErrors: [], loginWithoutScope: false, clearedExpiry: false }): Command {
  const output = { writeOut: io.stdout, writeErr: io.stderr, outputError: (text: string) => void state.parseErrors.push(text.trim()) };
  const program = new Command('dualgate')
    .description(
      'Manage dualgate API keys. Needs DUALGATE_URL and DUALGATE_TOKEN (or DUALGATE_TOKEN_URL + DUALGATE_CLIENT_ID + DUALGATE_CLIENT_SECRET).',
    )
    .option('--json', 'print the API response as JSON')
    .option('--scope <scopes>', 'scopes to request in a client-credentials login (space-separated)')
    .version(cliVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput(output);

  const options = () => program.opts<{ json?: boolean; scope?: string }>();
  const client = async () => {
    // Checked before the login, so a missing DUALGATE_URL fails without a token request.
    KeysApiClient.fromEnv(io.env, '', io.fetch);
    state.loginWithoutScope = !io.env.DUALGATE_TOKEN && !options().scope;
    return KeysApiClient.fromEnv(io.env, await resolveToken(io.env, io.fetch, options().scope), io.fetch);
  };
  const print = (body: unknown, human: () => string) => io.stdout(options().json ? `${JSON.stringify(body, null, 2)}\n` : human());

  const keys = program.command('keys').description('create, list, inspect, change, rotate and revoke keys').exitOverride();
  keys.configureOutput(output);

  keys
    .command('create')
    .description('create a key; its plaintext is printed once')
    .requiredOption('--name <name>', 'a label for the key')
    .requiredOption('--scopes <scopes...>', 'scopes to grant (space- or comma-separated)')
    .addOption(new Option('--expires-in <seconds>', 'lifetime in seconds').argParser(positiveInt('--expires-in')).conflicts('expiresAt'))
    .option('--expires-at <iso>', 'expiry as ISO 8601')
    .option('--metadata <json>', 'a JSON object (≤ 1 KB)', jsonObject)
    .option('--owner <sub>', 'create for another owner (keys:admin)')
    .action(
      async (flags: {
        name: string;
        scopes: string[];
        expiresIn?: number;
        expiresAt?: string;
        metadata?: Record<string, unknown>;
        owner?: string;
      }) => {
        const body = {
          name: flags.name,
          scopes: splitScopes(flags.scopes),
          expiresIn: flags.expiresIn,
          expiresAt: flags.expiresAt,
          metadata: flags.metadata,
          owner: flags.owner,
        };
        const created = (await (await client()).request('POST', '/keys', { body: JSON.parse(JSON.stringify(body)) })) as KeyView & {
          key: string;
        };
        print(created, () => createdKeyText(created));
      },
    );

  keys
    .command('list')
    .description('list keys, oldest first')
    .option('--limit <n>', `page size (1-${MAX_LIST_LIMIT})`, listLimit)
    .option('--cursor <cursor>', 'continue from a previous page')
    .option('--owner <sub>', "another owner's keys (keys:admin)")
    .option('--all', 'follow cursors until the last page')
    .action(async (flags: { limit?: number; cursor?: string; owner?: string; all?: boolean }) => {
      const api = await client();
      const items: KeyView[] = [];
      let cursor = flags.cursor;
      let page: { items: KeyView[]; nextCursor: string | null };
      do {
        page = (await api.request('GET', '/keys', {
          query: { limit: flags.limit?.toString(), cursor, owner: flags.owner },
        })) as typeof page;
        items.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (flags.all && cursor);
      const result = { items, nextCursor: page.nextCursor };
      print(result, () => keyTable(items) + (result.nextCursor ? `\nmore: --cursor ${result.nextCursor}\n` : ''));
    });

  keys
    .command('get <id>')
    .description('show one key')
    .action(async (id: string) => {
      const key = (await (await client()).request('GET', `/keys/${encodeURIComponent(id)}`)) as KeyView;
      print(key, () => keyDetailText(key));
    });

  keys
    .command('update <id>')
    .description('change name, scopes, expiry, metadata or enabled')
    .option('--name <name>')
    .option('--scopes <scopes...>')
    // Commander names both flags as typed when they collide: a usage error, nothing is sent.
    .addOption(
      new Option('--expires-in <seconds>', 'new lifetime from now')
        .argParser(positiveInt('--expires-in'))
        .conflicts(['expiresAt', 'expiry']),
    )
    .addOption(new Option('--expires-at <iso>', 'new expiry as ISO 8601').conflicts('expiry'))
    .option('--no-expiry', 'remove the expiry')
    .addOption(new Option('--metadata <json>', 'replace the metadata').argParser(jsonObject).conflicts('clearMetadata'))
    .option('--clear-metadata', 'remove the metadata')
    .addOption(new Option('--enable', 'resume a suspended key').conflicts('disable'))
    .option('--disable', 'suspend the key')
    .action(
      async (
        id: string,
        flags: {
          name?: string;
          scopes?: string[];
          expiresIn?: number;
          expiresAt?: string;
          expiry: boolean;
          metadata?: Record<string, unknown>;
          clearMetadata?: boolean;
          enable?: boolean;
          disable?: boolean;
        },
      ) => {
        const body: Record<string, unknown> = {};
        if (flags.name !== undefined) body['name'] = flags.name;
        if (flags.scopes !== undefined) body['scopes'] = splitScopes(flags.scopes);
        if (flags.expiresIn !== undefined) body['expiresIn'] = flags.expiresIn;
        if (flags.expiresAt !== undefined) body['expiresAt'] = flags.expiresAt;
        if (flags.expiry === false) {
          body['expiresAt'] = null;
          state.clearedExpiry = true;
        }
        if (flags.metadata !== undefined) body['metadata'] = flags.metadata;
        if (flags.clearMetadata) body['metadata'] = null;
        if (flags.enable) body['enabled'] = true;
        if (flags.disable) body['enabled'] = false;
        if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give at least one option');
        const key = (await (await client()).request('PATCH', `/keys/${encodeURIComponent(id)}`, { body })) as KeyView;
        print(key, () => keyTable([key]));
      },
    );

  keys
    .command('rotate <id>')
    .description('issue a successor; the old key keeps working for the grace period')
    .option('--grace-period <seconds>', 'how long the old key keeps working (default 86400, 0 = stop now)', positiveInt('--grace-period'))
    .action(async (id: string, flags: { gracePeriod?: number }) => {
      const body = flags.gracePeriod === undefined ? {} : { gracePeriodSeconds: flags.gracePeriod };
      const rotated = (await (await client()).request('POST', `/keys/${encodeURIComponent(id)}/rotate`, { body })) as KeyView & {
        key: string;
      };
      print(rotated, () => createdKeyText(rotated));
    });

  keys
    .command('revoke <id>')
    .description('revoke a key (idempotent)')
    .action(async (id: string) => {
      await (await client()).request('DELETE', `/keys/${encodeURIComponent(id)}`);
      print({ id, revoked: true }, () => `revoked ${id}\n`);
    });

  // `dualgate scan …` normally starts from its own small bundle (dist/scan.mjs, from bin/dualgate-scan.ts; bin/dualgate-cli.mjs dispatches to it); this is the same command
  // reached through the full CLI (`dualgate --json scan`, or --help listing it).
  program
    .command('scan')
    .description(
      'find dualgate keys with a valid checksum in files, standard input (-) or the staged diff (--staged); exit 1 if any (dualgate scan --help)',
    )
    .argument('[args...]', 'paths, -, and scan options')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (args: string[]) => {
      const scanIo: ScanIo = {
        ...processScanIo(),
        stdout: io.stdout,
        stderr: io.stderr,
        cwd: io.cwd ?? process.cwd(),
        ...(io.readStdin ? { readStdin: io.readStdin } : {}),
      };
      state.exitCode = await runScan([...(options().json ? ['--json'] : []), ...args], scanIo);
    });

  const leaks = program.command('leaks').description('GitHub secret scanning for your keys').exitOverride();
  leaks.configureOutput(output);
  leaks
    .command('pattern')
    .description("the regular expressions and endpoint to give GitHub's secret scanning, generated from your key prefix")
    .option('--prefix <prefix>', 'the key prefix (default: from --assembly, DUALGATE_KEY_PREFIX, cdk.json dualgate:keyPrefix, or dg)')
    .option('--assembly <dir>', "a synthesized app (cdk.out): every DualAuthApi's prefix and leak endpoint path")
    .action((flags: { prefix?: string; assembly?: string }) => {
      const reports = leakPatternReports({ ...flags, cwd: io.cwd ?? process.cwd(), env: io.env });
      print(reports.length === 1 ? reports[0] : reports, () => reports.map(leakPatternText).join('\n'));
    });

  // Consumers: entitlements always; plans when the stack has them (set-plan and clear-plan answer 400 otherwise).
  const consumers = program
    .command('consumers')
    .description("show a consumer's plan, usage and entitlements; assign plans and entitlements (keys:admin)")
    .exitOverride();
  consumers.configureOutput(output);
  const consumerPath = (sub: string) => `/consumers/${encodeURIComponent(sub)}`;
  consumers
    .command('get <sub>')
    .description("a consumer's plan, today's usage and entitlements (yourself with keys:read; anyone with keys:admin)")
    .action(async (sub: string) => {
      const consumer = (await (await client()).request('GET', consumerPath(sub))) as ConsumerView;
      print(consumer, () => consumerText(consumer));
    });
  consumers
    .command('set-plan <sub> <plan>')
    .description('assign a plan (keys:admin); takes effect within the authorizer cache bound')
    .action(async (sub: string, plan: string) => {
      const consumer = (await (await client()).request('PUT', consumerPath(sub), { body: { plan } })) as ConsumerView;
      print(consumer, () => consumerText(consumer));
    });
  consumers
    .command('set-scopes <sub> [scopes...]')
    .description(
      'replace the scopes a consumer is entitled to put on its own keys (keys:admin; --none clears them); a removed scope stops working on its keys within the revocation bound',
    )
    .option('--none', 'clear every entitlement (required instead of scopes, so a forgotten argument never clears them)')
    .action(async (sub: string, scopes: string[], options: { none?: boolean }) => {
      if (options.none && scopes.length > 0) throw new UsageError('give scopes or --none, not both');
      if (!options.none && scopes.length === 0)
        throw new UsageError(`no scopes given: name the scopes ${sub} is entitled to, or pass --none to clear them all`);
      const consumer = (await (await client()).request('PUT', consumerPath(sub), { body: { scopes } })) as ConsumerView;
      print(consumer, () => consumerText(consumer));
    });
  consumers
    .command('clear-plan <sub>')
    .description("back to the default plan, deleting the consumer's own API Gateway key (keys:admin; idempotent)")
    .action(async (sub: string) => {
      const consumer = (await (await client()).request('DELETE', consumerPath(sub))) as ConsumerView;
      print(consumer, () => consumerText(consumer));
    });

  return program;
}

const LOGIN_SCOPE_HINT =
  "the token was requested without --scope, so it may hold none of the management scopes; pass them before the command, e.g. dualgate --scope 'keys:read keys:write' keys list (Cognito names them dualgate/keys:read dualgate/keys:write)";

/** The error as one line for people, and as fields for `--json`. */
function describeError(error: unknown, state: RunState): { message: string; fields: Record<string, unknown> } {
  if (error instanceof ApiError) {
    let message = describeFieldError(error.message, error.field, { clearedExpiry: state.clearedExpiry });
    const hint = error.status === 403 && state.loginWithoutScope ? LOGIN_SCOPE_HINT : undefined;
    if (hint) message += ` (${hint})`;
    const flag =
      error.field === undefined
        ? undefined
        : error.field === 'expiresAt' && state.clearedExpiry
          ? '--no-expiry'
          : flagForField(error.field);
    return {
      message: `HTTP ${error.status}: ${message}`,
      fields: {
        type: 'api_error',
        status: error.status,
        message,
        ...(error.field ? { field: error.field } : {}),
        ...(flag ? { flag } : {}),
        ...(hint ? { hint } : {}),
      },
    };
  }
  if (error instanceof UsageError) return { message: error.message, fields: { type: 'usage_error', message: error.message } };
  if (error instanceof NetworkError) return { message: error.message, fields: { type: 'network_error', message: error.message } };
  const message = error instanceof Error ? error.message : String(error);
  return { message, fields: { type: 'internal_error', message } };
}

/** `--json` before a `--` terminator: the user asked for machine-readable output, errors included. */
function wantsJson(argv: readonly string[], program: Command): boolean {
  if (program.opts<{ json?: boolean }>().json) return true;
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** Run one command line; resolves to the process exit code instead of exiting, so tests can call it. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const state: RunState = { parseErrors: [], loginWithoutScope: false, clearedExpiry: false };
  const program = buildProgram(io, state);
  const report = (exitCode: number, human: string, fields: Record<string, unknown>) => {
    if (wantsJson(argv, program)) io.stderr(`${JSON.stringify({ error: { ...fields, exitCode } })}\n`);
    else io.stderr(`${human}\n`);
    return exitCode;
  };
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return state.exitCode ?? 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are successful exits; every other parse failure is a usage error.
      if (error.exitCode === 0) return 0;
      // `dualgate keys` alone: commander already printed the help to stderr.
      if (error.code === 'commander.help') return 2;
      const message = (state.parseErrors.join(' ') || error.message).replace(/^error: /, '');
      return report(2, `dualgate: ${message}\n(run dualgate --help for usage)`, { type: 'usage_error', message });
    }
    const { message, fields } = describeError(error, state);
    return report(exitCodeFor(error), `dualgate: ${message}`, fields);
  }
}
