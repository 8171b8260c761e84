/**
 * GitHub secret scanning against `dualgate dev` (the real CLI, serving the demo app's assembly), with a GitHub-format
 * key server on loopback (DUALGATE_GITHUB_KEYS_URL) and short cache TTLs: forged, unsigned and unknown-key reports
 * change nothing; a signed report revokes a live key at once (GET /keys/{id} and the CLI show the leak), the key
 * stops working within the revocation bound, and another key of the same owner keeps working; a report signed by a
 * key GitHub no longer lists as current is accepted, and repeating it changes nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../lib/cli/program';
import { generateKey } from '../../lambdas/core/key-format';
import { isDeployedTarget } from '../support/e2e-target';
import { githubSigningKey, signReport, signedHeaders, startGithubKeyServer, type GithubKeyServer } from '../support/github-signing';
import { demoAssembly, REPO } from '../support/prepared';

const READY = /dualgate local mode is ready at (http:\/\/127\.0\.0\.1:\d+)/;
const TOKEN_URL = /token endpoint (http:\/\/127\.0\.0\.1:\d+\/token)/;
const AUTHORIZER_CACHE_TTL_SECONDS = 2;
const KEY_CACHE_TTL_SECONDS = 1;
const REVOCATION_BOUND_MS = (AUTHORIZER_CACHE_TTL_SECONDS + KEY_CACHE_TTL_SECONDS) * 1000;
const LEAK_URL = 'https://github.com/octo-org/app/blob/0123456789abcdef0123456789abcdef01234567/deploy/.env';

const current = githubSigningKey(true);
const retired = githubSigningKey(false);
const forger = githubSigningKey(true);

let keyServer: GithubKeyServer;
let dev: ChildProcess;
let output = '';
let url: string;
let jwt: string;

async function api(path: string, options: { method?: string; credential?: string; body?: string; headers?: Record<string, string> } = {}) {
  const response = await fetch(url + path, {
    method: options.method ?? 'GET',
    headers: {
      ...(options.credential ? { authorization: `Bearer ${options.credential}` } : {}),
      ...(options.body !== undefined && !options.headers ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as any) : undefined };
}

const postReport = (body: string, headers: Record<string, string>) =>
  api('/leaks/github', { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
const reportOf = (...tokens: string[]) =>
  JSON.stringify(tokens.map((token) => ({ token, type: 'dualgate_api_key', url: LEAK_URL, source: 'commit' })));

async function createKey(name: string): Promise<{ id: string; key: string }> {
  const response = await api('/keys', { method: 'POST', credential: jwt, body: JSON.stringify({ name, scopes: ['read:users'] }) });
  expect(response.status).toBe(201);
  return response.json as { id: string; key: string };
}

beforeAll(async () => {
  keyServer = await startGithubKeyServer([retired, current]);
  dev = spawn(process.execPath, [`${REPO}/bin/dualgate-cli.mjs`, 'dev', '--log-format', 'json', '--assembly', demoAssembly()], {
    env: {
      ...process.env,
      PORT: '0',
      ISSUER_PORT: '0',
      DUALGATE_GITHUB_KEYS_URL: keyServer.url,
      DUALGATE_AUTHORIZER_CACHE_TTL_SECONDS: String(AUTHORIZER_CACHE_TTL_SECONDS),
      DUALGATE_KEY_CACHE_TTL_SECONDS: String(KEY_CACHE_TTL_SECONDS),
      DUALGATE_NEGATIVE_KEY_CACHE_TTL_SECONDS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  dev.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  dev.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const deadline = Date.now() + 120_000;
  while (!READY.test(output)) {
    if (dev.exitCode !== null || Date.now() > deadline) throw new Error(`dualgate dev did not become ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  url = READY.exec(output)![1]!;
  const tokenResponse = await fetch(TOKEN_URL.exec(output)![1]!, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('leak-owner:any').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'keys:read keys:write read:users' }).toString(),
  });
  jwt = ((await tokenResponse.json()) as { access_token: string }).access_token;
}, 180_000);

afterAll(async () => {
  if (dev && dev.exitCode === null) {
    const exited = new Promise((resolve) => dev.once('exit', resolve));
    dev.kill('SIGTERM');
    await exited;
  }
  await keyServer?.close();
});

describe.skipIf(isDeployedTarget())('GitHub leak reports through dualgate dev', () => {
  it('announces the endpoint and the key server it uses', () => {
    expect(output).toContain(`leaks     POST ${url}/leaks/github`);
    expect(output).toContain(keyServer.url);
  });

  it('refuses forged, unsigned and unknown-key reports, changing nothing', async () => {
    const victim = await createKey('victim');
    expect((await api('/me', { credential: victim.key })).status).toBe(200);
    const body = reportOf(victim.key);
    expect(await postReport(body, {})).toMatchObject({ status: 401, json: { reason: 'signature_missing' } });
    expect(
      await postReport(body, { ...signedHeaders(body, current), 'Github-Public-Key-Signature': signReport(body, forger) }),
    ).toMatchObject({ status: 403, json: { reason: 'bad_signature' } });
    expect(await postReport(body, signedHeaders(body, forger))).toMatchObject({ status: 403, json: { reason: 'unknown_key_identifier' } });
    expect(await postReport(`${body} `, signedHeaders(body, current))).toMatchObject({ status: 403 });
    await new Promise((resolve) => setTimeout(resolve, REVOCATION_BOUND_MS + 500));
    expect((await api(`/keys/${victim.id}`, { credential: jwt })).json).toMatchObject({ status: 'active' });
    expect((await api(`/keys/${victim.id}`, { credential: jwt })).json.leak).toBeUndefined();
    expect((await api('/me', { credential: victim.key })).status).toBe(200);
  });

  it('revokes a leaked key at once; it stops within the revocation bound while the owner’s other key keeps working', async () => {
    const leaked = await createKey('leaked');
    const sibling = await createKey('sibling');
    // Both verdicts are now cached by the gateway and the authorizer: the bound is what the revocation must beat.
    expect((await api('/me', { credential: leaked.key })).status).toBe(200);
    expect((await api('/me', { credential: sibling.key })).status).toBe(200);
    const unknown = generateKey('dg').key;
    const badChecksum = leaked.key.slice(0, -1) + (leaked.key.endsWith('A') ? 'B' : 'A');
    const body = reportOf(leaked.key, 'some_token', badChecksum, unknown);
    const response = await postReport(body, signedHeaders(body, current));
    const reportedAtMs = Date.now();
    expect(response).toEqual({
      status: 200,
      json: [
        { token_raw: leaked.key, token_type: 'dualgate_api_key', label: 'true_positive' },
        { token_raw: 'some_token', token_type: 'dualgate_api_key', label: 'false_positive' },
        { token_raw: badChecksum, token_type: 'dualgate_api_key', label: 'false_positive' },
        { token_raw: unknown, token_type: 'dualgate_api_key', label: 'false_positive' },
      ],
    });
    // Revoked in the key store at once, with the reason and where it was found.
    const view = await api(`/keys/${leaked.id}`, { credential: jwt });
    expect(view.json).toMatchObject({
      status: 'revoked',
      revokedReason: 'leaked',
      leak: { reportedBy: 'github', url: LEAK_URL, source: 'commit' },
    });
    // …and in the admin CLI.
    let cliOut = '';
    const code = await runCli(['keys', 'get', leaked.id], {
      fetch: (target, init) => fetch(target, init),
      env: { DUALGATE_URL: url, DUALGATE_TOKEN: jwt },
      stdout: (text) => (cliOut += text),
      stderr: (text) => (cliOut += text),
    });
    expect(code).toBe(0);
    expect(cliOut).toContain('revoked (leaked)');
    expect(cliOut).toContain(`found at ${LEAK_URL}`);

    let stoppedAfterMs: number | undefined;
    while (Date.now() - reportedAtMs < REVOCATION_BOUND_MS + 3000) {
      const status = (await api('/me', { credential: leaked.key })).status;
      if (status === 401) {
        stoppedAfterMs = Date.now() - reportedAtMs;
        break;
      }
      expect(status).toBe(200);
      expect((await api('/me', { credential: sibling.key })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(stoppedAfterMs, 'the leaked key never stopped working').toBeDefined();
    expect(stoppedAfterMs!).toBeLessThanOrEqual(REVOCATION_BOUND_MS + 1000);
    expect((await api('/me', { credential: sibling.key })).status).toBe(200);
    expect((await api(`/keys/${sibling.id}`, { credential: jwt })).json.status).toBe('active');

    // The audit line names the key by id and the URL; no log line holds the plaintext.
    const audit = output
      .split('\n')
      .find((line) => line.includes('"message":"audit"') && line.includes('"action":"revoke"') && line.includes(leaked.id));
    expect(audit).toBeDefined();
    expect(JSON.parse(audit!)).toMatchObject({ action: 'revoke', reason: 'leaked', keyId: leaked.id, leakUrl: LEAK_URL });
    expect(output).not.toContain(leaked.key);
  });

  it('accepts a report signed by a key that is no longer current, and a repeat changes nothing', async () => {
    const leaked = await createKey('leaked-again');
    const body = reportOf(leaked.key);
    expect(await postReport(body, signedHeaders(body, retired))).toMatchObject({ status: 200, json: [{ label: 'true_positive' }] });
    const first = (await api(`/keys/${leaked.id}`, { credential: jwt })).json;
    expect(first).toMatchObject({ status: 'revoked', revokedReason: 'leaked' });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await postReport(body, signedHeaders(body, retired))).toMatchObject({ status: 200, json: [{ label: 'true_positive' }] });
    expect(await postReport(body, signedHeaders(body, current))).toMatchObject({ status: 200, json: [{ label: 'true_positive' }] });
    expect((await api(`/keys/${leaked.id}`, { credential: jwt })).json).toEqual(first);
  });

  it('picks up a key GitHub started publishing after the first fetch (rotation)', async () => {
    const rotated = githubSigningKey(true);
    keyServer.publish([retired, { ...current, isCurrent: false }, rotated]);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const body = reportOf('junk');
    expect(await postReport(body, signedHeaders(body, rotated))).toMatchObject({ status: 200, json: [{ label: 'false_positive' }] });
  });
});
