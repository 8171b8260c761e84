/**
 * `dualgate keys create|list|get|update|rotate|revoke`: the admin CLI over the management API.
 * Exit codes: 0 ok, 1 the API refused (4xx), 2 usage error (nothing sent), 3 network failure or 5xx.
 */
import { Command, CommanderError, Option } from 'commander';
import { exitCodeFor, KeysApiClient, resolveToken, UsageError, ApiError, type CliEnv, type FetchLike } from './api-client';
import { createdKeyText, keyTable, type KeyView } from './format';

export interface CliIo {
  fetch: FetchLike;
  env: CliEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

function positiveInt(name: string) {
  return (value: string): number => {
    if (!/^[0-9]+$/.test(value)) throw new UsageError(`${name} must be a non-negative integer (got ${JSON.stringify(value)})`);
    return Number(value);
  };
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

export function buildProgram(io: CliIo): Command {
  const program = new Command('dualgate')
    .description('Manage dualgate API keys. Needs DUALGATE_URL and DUALGATE_TOKEN (or DUALGATE_TOKEN_URL + DUALGATE_CLIENT_ID + DUALGATE_CLIENT_SECRET).')
    .option('--json', 'print the API response as JSON')
    .option('--scope <scopes>', 'scopes to request in a client-credentials login (space-separated)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  const options = () => program.opts<{ json?: boolean; scope?: string }>();
  const client = async () => KeysApiClient.fromEnv(io.env, await resolveToken(io.env, io.fetch, options().scope), io.fetch);
  const print = (body: unknown, human: () => string) => io.stdout(options().json ? JSON.stringify(body, null, 2) + '\n' : human());

  const keys = program.command('keys').description('create, list, inspect, change, rotate and revoke keys').exitOverride();
  keys.configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  keys
    .command('create')
    .description('create a key; its plaintext is printed once')
    .requiredOption('--name <name>', 'a label for the key')
    .requiredOption('--scopes <scopes...>', 'scopes to grant (space- or comma-separated)')
    .addOption(new Option('--expires-in <seconds>', 'lifetime in seconds').argParser(positiveInt('--expires-in')).conflicts('expiresAt'))
    .option('--expires-at <iso>', 'expiry as ISO 8601')
    .option('--metadata <json>', 'a JSON object (≤ 1 KB)', jsonObject)
    .option('--owner <sub>', 'create for another owner (keys:admin)')
    .action(async (flags: { name: string; scopes: string[]; expiresIn?: number; expiresAt?: string; metadata?: Record<string, unknown>; owner?: string }) => {
      const body = { name: flags.name, scopes: splitScopes(flags.scopes), expiresIn: flags.expiresIn, expiresAt: flags.expiresAt, metadata: flags.metadata, owner: flags.owner };
      const created = (await (await client()).request('POST', '/keys', { body: JSON.parse(JSON.stringify(body)) })) as KeyView & { key: string };
      print(created, () => createdKeyText(created));
    });

  keys
    .command('list')
    .description('list keys, oldest first')
    .option('--limit <n>', 'page size (1-100)', positiveInt('--limit'))
    .option('--cursor <cursor>', 'continue from a previous page')
    .option('--owner <sub>', "another owner's keys (keys:admin)")
    .option('--all', 'follow cursors until the last page')
    .action(async (flags: { limit?: number; cursor?: string; owner?: string; all?: boolean }) => {
      const api = await client();
      const items: KeyView[] = [];
      let cursor = flags.cursor;
      let page: { items: KeyView[]; nextCursor: string | null };
      do {
        page = (await api.request('GET', '/keys', { query: { limit: flags.limit?.toString(), cursor, owner: flags.owner } })) as typeof page;
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
      print(key, () => keyTable([key]));
    });

  keys
    .command('update <id>')
    .description('change name, scopes, expiry, metadata or enabled')
    .option('--name <name>')
    .option('--scopes <scopes...>')
    .option('--expires-in <seconds>', 'new lifetime from now', positiveInt('--expires-in'))
    .option('--expires-at <iso>')
    .option('--no-expiry', 'remove the expiry')
    .option('--metadata <json>', 'replace the metadata', jsonObject)
    .option('--clear-metadata', 'remove the metadata')
    .addOption(new Option('--enable', 'resume a suspended key').conflicts('disable'))
    .option('--disable', 'suspend the key')
    .action(async (id: string, flags: { name?: string; scopes?: string[]; expiresIn?: number; expiresAt?: string; expiry: boolean; metadata?: Record<string, unknown>; clearMetadata?: boolean; enable?: boolean; disable?: boolean }) => {
      const body: Record<string, unknown> = {};
      if (flags.name !== undefined) body['name'] = flags.name;
      if (flags.scopes !== undefined) body['scopes'] = splitScopes(flags.scopes);
      if (flags.expiresIn !== undefined) body['expiresIn'] = flags.expiresIn;
      if (flags.expiresAt !== undefined) body['expiresAt'] = flags.expiresAt;
      if (flags.expiry === false) body['expiresAt'] = null;
      if (flags.metadata !== undefined) body['metadata'] = flags.metadata;
      if (flags.clearMetadata) body['metadata'] = null;
      if (flags.enable) body['enabled'] = true;
      if (flags.disable) body['enabled'] = false;
      if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give at least one option');
      const key = (await (await client()).request('PATCH', `/keys/${encodeURIComponent(id)}`, { body })) as KeyView;
      print(key, () => keyTable([key]));
    });

  keys
    .command('rotate <id>')
    .description('issue a successor; the old key keeps working for the grace period')
    .option('--grace-period <seconds>', 'how long the old key keeps working (default 86400, 0 = stop now)', positiveInt('--grace-period'))
    .action(async (id: string, flags: { gracePeriod?: number }) => {
      const body = flags.gracePeriod === undefined ? {} : { gracePeriodSeconds: flags.gracePeriod };
      const rotated = (await (await client()).request('POST', `/keys/${encodeURIComponent(id)}/rotate`, { body })) as KeyView & { key: string };
      print(rotated, () => createdKeyText(rotated));
    });

  keys
    .command('revoke <id>')
    .description('revoke a key (idempotent)')
    .action(async (id: string) => {
      await (await client()).request('DELETE', `/keys/${encodeURIComponent(id)}`);
      print({ id, revoked: true }, () => `revoked ${id}\n`);
    });

  return program;
}

/** Run one command line; resolves to the process exit code instead of exiting, so tests can call it. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are successful exits; every other parse failure is a usage error.
      return error.exitCode === 0 ? 0 : 2;
    }
    const code = exitCodeFor(error);
    const field = error instanceof ApiError && error.field ? ` (field: ${error.field})` : '';
    const status = error instanceof ApiError ? `HTTP ${error.status}: ` : '';
    io.stderr(`dualgate: ${status}${(error as Error).message}${field}\n`);
    return code;
  }
}
