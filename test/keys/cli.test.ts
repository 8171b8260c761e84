/** The admin CLI against the real keys handler (on dynalite), through an injected fetch; no sockets to the API. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CATALOG } from '../support/demo-app';
import type { FetchLike } from '../../lib/cli/api-client';
import { describeFieldError } from '../../lib/cli/api-error-text';
import { runCli } from '../../lib/cli/program';
import { createKeysHandler } from '../../lambdas/keys/router';
import { KeyStore } from '../../lambdas/shared/key-store';
import { hashKey } from '../../lambdas/core/key-format';
import { DynamoLeakStore } from '../../lambdas/leaks/leak-store';
import { captureLogger } from '../support/logs';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { keysEvent, type TestCaller } from './harness';

const TOKENS: Record<string, TestCaller> = {
  'admin-token': { sub: 'ops', scopes: ['keys:admin', 'keys:read', 'keys:write', 'read:users'], authMethod: 'jwt' },
  'narrow-token': { sub: 'dev', scopes: ['keys:read', 'keys:write'], authMethod: 'jwt' },
};
const RESOURCES: [RegExp, string][] = [
  [/^\/keys$/, '/keys'],
  [/^\/keys\/([^/]+)$/, '/keys/{id}'],
  [/^\/keys\/([^/]+)\/rotate$/, '/keys/{id}/rotate'],
];

let dynamo: LocalDynamo;
let store: KeyStore;
let tableName: string;
let apiFetch: FetchLike;
const sent: { url: string; headers: Record<string, string>; body?: string }[] = [];

beforeAll(async () => {
  dynamo = await startDynalite();
  tableName = await dynamo.createTable();
  store = new KeyStore(dynamo.client, tableName);
  const handler = createKeysHandler({
    catalog: DEMO_CATALOG,
    store,
    keyPrefix: 'dg',
    adminScope: 'keys:admin',
    logger: captureLogger().logger,
  });
  // A stand-in for API Gateway + the authorizer: the bearer token picks the caller.
  apiFetch = async (url, init) => {
    sent.push({ url, headers: init.headers, ...(init.body !== undefined ? { body: init.body } : {}) });
    const parsed = new URL(url);
    const caller = TOKENS[init.headers['authorization']?.replace('Bearer ', '') ?? ''];
    if (!caller) return { status: 401, text: async () => JSON.stringify({ message: 'Unauthorized' }) };
    // API Gateway strips the stage name before routing.
    const path = parsed.pathname.replace(/^\/prod(?=\/)/, '');
    const match = RESOURCES.map(([pattern, resource]) => ({ m: pattern.exec(path), resource })).find((entry) => entry.m);
    // The stack's MISSING_AUTHENTICATION_TOKEN response (lib/construct/gateway-responses.ts) for a path the API lacks.
    if (!match) return { status: 404, text: async () => '{"message":"Not Found"}' };
    const query = Object.fromEntries(parsed.searchParams);
    const result = await handler(
      keysEvent(init.method, match.resource, {
        caller,
        ...(match.m![1] ? { id: decodeURIComponent(match.m![1]) } : {}),
        ...(init.body !== undefined ? { rawBody: init.body } : {}),
        ...(Object.keys(query).length > 0 ? { query } : {}),
      }),
    );
    return { status: result.statusCode, text: async () => result.body };
  };
});
afterAll(async () => {
  await dynamo.close();
});

async function run(
  argv: string[],
  env: Record<string, string> = { DUALGATE_URL: 'https://api.example.test/prod', DUALGATE_TOKEN: 'admin-token' },
  fetch: FetchLike = apiFetch,
) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { fetch, env, stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
  return { code, stdout, stderr };
}

describe('dualgate keys', () => {
  it('get and list show a key revoked on a leak report, with where it was found', async () => {
    const created = JSON.parse((await run(['--json', 'keys', 'create', '--name', 'leaky', '--scopes', 'read:users'])).stdout) as {
      id: string;
      key: string;
    };
    const url = 'https://github.com/octo-org/app/blob/0123456789abcdef0123456789abcdef01234567/.env';
    const nowIso = new Date().toISOString();
    await new DynamoLeakStore(dynamo.client, tableName).recordLeak(
      hashKey(created.key),
      { reportedAt: nowIso, reporter: 'github', url, source: 'commit' },
      { revokedAt: nowIso, expiresAt: Math.floor(Date.now() / 1000) },
    );
    const shown = await run(['keys', 'get', created.id]);
    expect(shown.stdout).toMatch(/revoked \(leaked\)/);
    expect(shown.stdout).toContain(`leak reported ${nowIso} by github (commit)\n  found at ${url}\n`);
    expect(shown.stdout).not.toContain('still works');
    expect(JSON.parse((await run(['--json', 'keys', 'get', created.id])).stdout)).toMatchObject({
      status: 'revoked',
      revokedReason: 'leaked',
      leak: { url, reportedBy: 'github' },
    });
    expect((await run(['keys', 'list', '--all'])).stdout).toMatch(new RegExp(`${created.id}.*revoked \\(leaked\\)`));
  });

  it('get says a key the notify action only marked still works', async () => {
    const created = JSON.parse((await run(['--json', 'keys', 'create', '--name', 'marked', '--scopes', 'read:users'])).stdout) as {
      id: string;
      key: string;
    };
    await new DynamoLeakStore(dynamo.client, tableName).recordLeak(hashKey(created.key), {
      reportedAt: new Date().toISOString(),
      reporter: 'github',
    });
    const shown = await run(['keys', 'get', created.id]);
    expect(shown.stdout).toMatch(/active \(leak reported\)/);
    expect(shown.stdout).toContain('found at (no URL in the report)');
    expect(shown.stdout).toContain('the key still works: revoke or rotate it');
  });

  it('create prints a table and the plaintext once; --json prints the API body', async () => {
    const human = await run(['keys', 'create', '--name', 'deploy', '--scopes', 'read:users', '--expires-in', '3600']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ID\s+NAME\s+OWNER\s+STATUS/);
    expect(human.stdout).toMatch(/key: dg_[0-9A-Za-z]{36}\n/);
    const json = await run([
      '--json',
      'keys',
      'create',
      '--name',
      'x',
      '--scopes',
      'read:users,keys:read',
      '--metadata',
      '{"team":"a"}',
      '--owner',
      'carol',
    ]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      owner: 'carol',
      scopes: ['keys:read', 'read:users'],
      metadata: { team: 'a' },
      key: expect.stringMatching(/^dg_/),
    });
    expect(sent.at(-1)?.url).toBe('https://api.example.test/prod/keys');
  });

  it("shows LAST USED in the table: 'never' for an unused key, the authorizer's lastUsedAt once used", async () => {
    const created = JSON.parse((await run(['--json', 'keys', 'create', '--name', 'usage', '--scopes', 'read:users'])).stdout) as {
      id: string;
      key: string;
    };
    const unused = await run(['keys', 'get', created.id]);
    const [header, row] = unused.stdout.split('\n') as [string, string];
    expect(header).toMatch(/\bEXPIRES\s+LAST USED\s+START$/);
    expect(row.slice(header.indexOf('LAST USED')).split(/\s{2,}/)[0]).toBe('never');
    // What the authorizer does on a key's first use.
    expect(await store.recordUse(hashKey(created.key), '2030-01-02T03:04:05.000Z', '2030-01-02T02:59:05.000Z')).toBe(true);
    const used = await run(['keys', 'get', created.id]);
    const usedRow = used.stdout.split('\n')[1]!;
    expect(usedRow.slice(header.indexOf('LAST USED')).split(/\s{2,}/)[0]).toBe('2030-01-02T03:04:05.000Z');
    expect(JSON.parse((await run(['--json', 'keys', 'get', created.id])).stdout)).toMatchObject({ lastUsedAt: '2030-01-02T03:04:05.000Z' });
  });

  it('list, get, update, rotate and revoke round-trip with exit code 0', async () => {
    const created = JSON.parse((await run(['--json', 'keys', 'create', '--name', 'cycle', '--scopes', 'read:users'])).stdout) as {
      id: string;
    };
    const list = await run(['--json', 'keys', 'list', '--all', '--limit', '1']);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { items: { id: string }[] }).items.map((item) => item.id)).toContain(created.id);
    expect((await run(['keys', 'get', created.id])).stdout).toContain(created.id);
    const disabled = await run(['--json', 'keys', 'update', created.id, '--disable', '--name', 'paused', '--no-expiry']);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ name: 'paused', status: 'disabled', expiresAt: null });
    await run(['keys', 'update', created.id, '--enable']);
    const rotated = await run(['--json', 'keys', 'rotate', created.id, '--grace-period', '0']);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ rotatedFrom: created.id, predecessor: { status: 'expired' } });
    expect(await run(['keys', 'revoke', created.id])).toMatchObject({ code: 0, stdout: `revoked ${created.id}\n` });
    expect((await run(['keys', 'revoke', created.id])).code).toBe(0);
  });

  it('exits 1 on an API refusal (404, 403 escalation, 400 with its field)', async () => {
    const missing = await run(['keys', 'get', 'key_01ARZ3NDEKTSV4RRFFQ69G5FAV']);
    expect(missing).toMatchObject({ code: 1, stderr: 'dualgate: HTTP 404: key not found\n' });
    const narrow = { DUALGATE_URL: 'https://api.example.test', DUALGATE_TOKEN: 'narrow-token' };
    expect(await run(['keys', 'create', '--name', 'x', '--scopes', 'keys:admin'], narrow)).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('HTTP 403'),
    });
    expect(await run(['keys', 'create', '--name', 'x', '--scopes', 'nope:nope'])).toMatchObject({
      code: 1,
      stderr: 'dualgate: HTTP 400: --scopes: unknown scope(s): nope:nope\n',
    });
  });

  it('exits 2 on usage errors, before sending anything', async () => {
    const before = sent.length;
    expect((await run(['keys', 'list'], { DUALGATE_TOKEN: 'admin-token' })).code).toBe(2);
    expect((await run(['keys', 'list'], { DUALGATE_URL: 'https://api.example.test' })).code).toBe(2);
    expect((await run(['keys', 'frobnicate'])).code).toBe(2);
    expect((await run(['keys', 'create', '--name', 'x'])).code).toBe(2);
    expect((await run(['keys', 'list', '--limit', 'ten'])).code).toBe(2);
    expect((await run(['keys', 'create', '--name', 'x', '--scopes', 'a', '--metadata', '[1]'])).code).toBe(2);
    expect((await run(['keys', 'update', 'key_01ARZ3NDEKTSV4RRFFQ69G5FAV'])).code).toBe(2);
    expect(sent.length).toBe(before);
    expect((await run(['--help'])).code).toBe(0);
  });

  it('exits 3 on a 5xx and on a network failure', async () => {
    const unavailable: FetchLike = async () => ({ status: 503, text: async () => '{"message":"key store unavailable; retry later"}' });
    expect(await run(['keys', 'list'], undefined, unavailable)).toMatchObject({
      code: 3,
      stderr: 'dualgate: HTTP 503: key store unavailable; retry later\n',
    });
    const down: FetchLike = async () => {
      throw new TypeError('fetch failed');
    };
    expect(await run(['keys', 'list'], undefined, down)).toMatchObject({
      code: 3,
      stderr: expect.stringContaining('cannot reach https://api.example.test'),
    });
  });

  it('logs in with client credentials and the requested --scope when no token is given', async () => {
    const tokenRequests: { headers: Record<string, string>; body?: string }[] = [];
    const withLogin: FetchLike = async (url, init) => {
      if (url === 'https://auth.example.test/oauth2/token') {
        tokenRequests.push({ headers: init.headers, ...(init.body !== undefined ? { body: init.body } : {}) });
        return { status: 200, text: async () => JSON.stringify({ access_token: 'admin-token', token_type: 'Bearer', expires_in: 3600 }) };
      }
      return apiFetch(url, init);
    };
    const env = {
      DUALGATE_URL: 'https://api.example.test',
      DUALGATE_TOKEN_URL: 'https://auth.example.test/oauth2/token',
      DUALGATE_CLIENT_ID: 'cli',
      DUALGATE_CLIENT_SECRET: 's3cret',
    };
    const result = await run(['--scope', 'keys:read keys:write', '--json', 'keys', 'list'], env, withLogin);
    expect(result.code).toBe(0);
    expect(tokenRequests).toHaveLength(1);
    expect(tokenRequests[0]!.headers['authorization']).toBe(`Basic ${Buffer.from('cli:s3cret').toString('base64')}`);
    expect(new URLSearchParams(tokenRequests[0]!.body)).toEqual(
      new URLSearchParams({ grant_type: 'client_credentials', scope: 'keys:read keys:write' }),
    );
    expect(sent.at(-1)?.headers['authorization']).toBe('Bearer admin-token');

    const refused: FetchLike = async () => ({ status: 400, text: async () => '{"error":"invalid_client"}' });
    expect(await run(['keys', 'list'], env, refused)).toMatchObject({ code: 1, stderr: expect.stringContaining('invalid_client') });
  });

  it('refuses --limit outside 1-100 with the real range, before sending anything', async () => {
    const before = sent.length;
    const result = await run(['keys', 'list', '--limit', '1000']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('dualgate: --limit must be a whole number from 1 to 100 (got "1000"); use --all to fetch every page\n');
    expect((await run(['keys', 'list', '--limit', '0'])).code).toBe(2);
    expect(sent.length).toBe(before);
    // The API says the same to any other client.
    const direct = await apiFetch('https://api.example.test/keys?limit=1000', {
      method: 'GET',
      headers: { authorization: 'Bearer admin-token' },
    });
    expect(JSON.parse(await direct.text())).toEqual({ message: 'limit: must be an integer from 1 to 100', field: 'limit' });
  });

  it('refuses clashing expiry flags as a usage error naming the flags typed, before sending anything', async () => {
    const before = sent.length;
    const id = 'key_01ARZ3NDEKTSV4RRFFQ69G5FAV';
    for (const [argv, flags] of [
      [
        ['keys', 'update', id, '--no-expiry', '--expires-in', '5'],
        ['--no-expiry', '--expires-in'],
      ],
      [
        ['keys', 'update', id, '--expires-at', '2031-01-01T00:00:00Z', '--no-expiry'],
        ['--no-expiry', '--expires-at'],
      ],
      [
        ['keys', 'update', id, '--expires-in', '5', '--expires-at', '2031-01-01T00:00:00Z'],
        ['--expires-in', '--expires-at'],
      ],
      [
        ['keys', 'update', id, '--metadata', '{}', '--clear-metadata'],
        ['--metadata', '--clear-metadata'],
      ],
    ] as const) {
      const result = await run([...argv]);
      expect(result.code).toBe(2);
      for (const flag of flags) expect(result.stderr).toContain(`'${flag}`);
      expect(result.stderr).not.toMatch(/expiresAt|expiresIn|HTTP/);
    }
    expect(sent.length).toBe(before);
  });

  it("turns the API's validation wording into one sentence about the flag, named once", async () => {
    const created = JSON.parse((await run(['--json', 'keys', 'create', '--name', 'graceful', '--scopes', 'read:users'])).stdout) as {
      id: string;
    };
    const rotate = await run(['keys', 'rotate', created.id, '--grace-period', '2592001']);
    expect(rotate).toMatchObject({ code: 1, stderr: 'dualgate: HTTP 400: --grace-period must be at most 2592000 seconds (30 days)\n' });
    const create = await run(['keys', 'create', '--name', 'x', '--scopes', 'read:users', '--expires-in', '999999999999']);
    expect(create).toMatchObject({ code: 1, stderr: 'dualgate: HTTP 400: --expires-in must be at most 315360000 seconds (3650 days)\n' });
    const badDate = await run(['keys', 'create', '--name', 'x', '--scopes', 'read:users', '--expires-at', 'tomorrow']);
    expect(badDate).toMatchObject({
      code: 1,
      stderr: 'dualgate: HTTP 400: --expires-at must be an ISO 8601 date-time with a zone, e.g. 2031-01-01T00:00:00Z\n',
    });
    const longName = await run(['keys', 'update', created.id, '--name', 'n'.repeat(200)]);
    expect(longName.stderr).toBe('dualgate: HTTP 400: --name must have at most 128 characters\n');
  });

  it('maps API field names back to flags, item and --no-expiry included (pure)', () => {
    expect(describeFieldError('scopes.1: is not a valid scope name', 'scopes')).toBe('--scopes (item 2) is not a valid scope name');
    expect(
      describeFieldError(
        'expiresAt: a key cannot create or extend keys beyond its own expiry (never); ask for that or earlier',
        'expiresAt',
        { clearedExpiry: true },
      ),
    ).toBe('--no-expiry: a key cannot create or extend keys beyond its own expiry (never); ask for that or earlier');
    expect(describeFieldError('expiresIn: Too small: expected number to be >0', 'expiresIn')).toBe(
      '--expires-in must be greater than 0 seconds',
    );
    expect(describeFieldError('key not found', undefined)).toBe('key not found');
  });

  it('explains a wrong DUALGATE_URL once, without "HTTP 404: HTTP 404"', async () => {
    const wrongStage = await run(['keys', 'list'], { DUALGATE_URL: 'https://api.example.test/prod/extra', DUALGATE_TOKEN: 'admin-token' });
    expect(wrongStage.code).toBe(1);
    expect(wrongStage.stderr).toMatch(
      /^dualgate: HTTP 404: no dualgate management API at https:\/\/api\.example\.test\/prod\/extra\/keys \(Not Found\); check DUALGATE_URL/,
    );
    const htmlServer: FetchLike = async () => ({ status: 404, text: async () => '<html><body>404 page</body></html>' });
    const html = await run(['keys', 'list'], undefined, htmlServer);
    expect(html.code).toBe(1);
    expect(html.stderr).toContain('check DUALGATE_URL');
    expect(html.stderr).not.toMatch(/HTTP 404: HTTP 404|<html>/);
    expect(html.stderr.match(/HTTP 404/g)).toHaveLength(2); // the prefix, and once in the explanation
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync('package.json', 'utf8'))) as { version: string };
    expect(await run(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('with --json, errors go to stderr as one JSON object carrying the exit code', async () => {
    const api = await run(['--json', 'keys', 'create', '--name', 'x', '--scopes', 'read:users', '--expires-in', '999999999999']);
    expect(api.code).toBe(1);
    expect(api.stdout).toBe('');
    expect(JSON.parse(api.stderr)).toEqual({
      error: {
        type: 'api_error',
        status: 400,
        field: 'expiresIn',
        flag: '--expires-in',
        message: '--expires-in must be at most 315360000 seconds (3650 days)',
        exitCode: 1,
      },
    });
    const usage = await run(['--json', 'keys', 'update', 'key_01ARZ3NDEKTSV4RRFFQ69G5FAV', '--no-expiry', '--expires-in', '5']);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stderr)).toMatchObject({
      error: { type: 'usage_error', exitCode: 2, message: expect.stringContaining('--no-expiry') },
    });
    const badLimit = await run(['--json', 'keys', 'list', '--limit', '1000']);
    expect(JSON.parse(badLimit.stderr)).toMatchObject({ error: { type: 'usage_error', exitCode: 2 } });
    const down: FetchLike = async () => {
      throw new TypeError('fetch failed');
    };
    const network = await run(['--json', 'keys', 'list'], undefined, down);
    expect(network.code).toBe(3);
    expect(JSON.parse(network.stderr)).toMatchObject({ error: { type: 'network_error', exitCode: 3 } });
  });

  it('hints at --scope when a client-credentials login without it gets a 403', async () => {
    // The token endpoint grants no scope unless asked; the API then refuses the scope-less token.
    const scopeless: FetchLike = async (url, init) => {
      if (url === 'https://auth.example.test/oauth2/token') {
        const scope = new URLSearchParams(init.body).get('scope');
        return {
          status: 200,
          text: async () => JSON.stringify({ access_token: scope ? 'admin-token' : 'no-scope-token', token_type: 'Bearer' }),
        };
      }
      if (init.headers['authorization'] === 'Bearer no-scope-token') return { status: 403, text: async () => '{"message":"Forbidden"}' };
      return apiFetch(url, init);
    };
    const env = {
      DUALGATE_URL: 'https://api.example.test',
      DUALGATE_TOKEN_URL: 'https://auth.example.test/oauth2/token',
      DUALGATE_CLIENT_ID: 'cli',
      DUALGATE_CLIENT_SECRET: 's3cret',
    };
    const bare = await run(['keys', 'list'], env, scopeless);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/^dualgate: HTTP 403: Forbidden \(the token was requested without --scope.*--scope 'keys:read keys:write'/);
    expect((await run(['--scope', 'keys:read keys:write', 'keys', 'list'], env, scopeless)).code).toBe(0);
    // A 403 with a token the user gave is not about the login.
    const given = await run(['keys', 'list'], { DUALGATE_URL: 'https://api.example.test', DUALGATE_TOKEN: 'no-scope-token' }, scopeless);
    expect(given.stderr).toBe('dualgate: HTTP 403: Forbidden\n');
  });
});
