/**
 * `npm run dev` as a user meets it: the process prints a ready line and curl lines that work when pasted
 * into a shell, stops cleanly on SIGTERM/SIGINT, and explains a taken port in one line with exit code 1.
 * Local only: it starts the real entry point (`npm run dev` = `dualgate dev` on the demo app) as a child process:
 * the first test synthesizes the app as a user's first run does, the others serve its cached assembly (--assembly).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalIssuer } from '../../lib/local/issuer';
import { isDeployedTarget } from '../support/e2e-target';
import { demoAssembly } from '../support/prepared';

const CLI = 'bin/dualgate-cli.mjs';
const READY = /dualgate local mode is ready at (http:\/\/127\.0\.0\.1:\d+)/;
const hasCurl = spawnSync('curl', ['--version']).status === 0;

interface Dev {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** `npm run dev` (dualgate dev); `synth: true` runs the app's synth, otherwise it serves `assembly` (default: the demo's cached one). */
function startDev(env: Record<string, string>, args: string[] = [], options: { synth?: boolean; assembly?: string } = {}): Dev {
  const source = options.synth ? [] : ['--assembly', options.assembly ?? demoAssembly()];
  const child = spawn(process.execPath, [CLI, 'dev', ...source, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadlineMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function occupyPort(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** A port that was free a moment ago (a restart must reuse the issuer's port: it is part of the token's `iss`). */
async function freePort(): Promise<number> {
  const server = await occupyPort();
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function clientCredentialsToken(tokenUrl: string, clientId: string, scope: string): Promise<string> {
  const response = await fetch(tokenUrl, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:secret`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** The status of a GET with exactly this Host header (fetch cannot set Host). */
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { headers: { host }, agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

async function ready(dev: Dev): Promise<string> {
  await waitFor(() => READY.test(dev.stdout()) || dev.child.exitCode !== null, 30_000, 'the ready line');
  const gatewayUrl = READY.exec(dev.stdout())?.[1];
  if (!gatewayUrl) throw new Error(`local mode did not start: ${dev.stderr()}`);
  return gatewayUrl;
}

async function stopDev(dev: Dev): Promise<void> {
  dev.child.kill('SIGTERM');
  expect(await dev.exited, dev.stderr()).toEqual({ code: 0, signal: null });
}

describe.skipIf(isDeployedTarget())('npm run dev (dualgate dev on the demo app)', () => {
  it('prints a ready line and curl lines that work when pasted into a shell, then stops cleanly on SIGTERM', async () => {
    const dev = startDev({ PORT: '0', ISSUER_PORT: '0' }, [], { synth: true });
    // A cold start synthesizes the app first (the figure is in docs/local-development.md; a loaded CI machine is slower).
    await waitFor(() => READY.test(dev.stdout()), 120_000, 'the ready line');
    const gatewayUrl = READY.exec(dev.stdout())?.[1] as string;
    expect((await fetch(`${gatewayUrl}/health`)).status).toBe(200);

    const pasteable = dev
      .stdout()
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => /^(TOKEN=|KEY=|curl )/.test(line));
    expect(pasteable.map((line) => line.split(/[=\s]/)[0])).toEqual(['TOKEN', 'KEY', 'curl', 'curl']);
    if (hasCurl) {
      const shell = spawnSync('bash', ['-c', ['set -e', ...pasteable].join('\n')], { encoding: 'utf8', timeout: 20_000 });
      expect(shell.status, shell.stderr).toBe(0);
      const [viaToken, viaKey] = shell.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { sub: string; scopes: string[] });
      expect(viaToken?.sub).toBe('local-admin');
      expect(viaKey).toEqual({ sub: 'local-admin', scopes: ['read:users'] });
    }

    dev.child.kill('SIGTERM');
    expect(await dev.exited).toEqual({ code: 0, signal: null });
    expect(dev.stdout()).toContain('stopped');
    await expect(fetch(`${gatewayUrl}/health`)).rejects.toThrow();
  }, 180_000);

  it('leaves no orphaned child when it gets SIGTERM during the synth', async () => {
    const marker = `orphan-check-${process.pid}-${Date.now()}`;
    const dev = startDev({ PORT: '0', ISSUER_PORT: '0' }, ['--app', `node --import tsx bin/dualgate.ts ${marker}`], { synth: true });
    const running = () =>
      spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter((line) => line.includes(marker) && !line.includes('dualgate-cli')).length;
    await waitFor(() => running() > 0, 30_000, 'the synth to start');
    dev.child.kill('SIGTERM');
    expect(await dev.exited).toEqual({ code: 0, signal: null });
    await waitFor(() => running() === 0, 5_000, 'the synth to be gone');
    expect(running()).toBe(0);
  }, 60_000);

  it('stops cleanly on SIGINT (Ctrl-C)', async () => {
    const dev = startDev({ PORT: '0', ISSUER_PORT: '0' });
    await waitFor(() => READY.test(dev.stdout()), 20_000, 'the ready line');
    dev.child.kill('SIGINT');
    expect(await dev.exited).toEqual({ code: 0, signal: null });
  });

  it('explains a port already in use in one line and exits with code 1', async () => {
    const blocker = await occupyPort();
    const port = (blocker.address() as AddressInfo).port;
    try {
      const dev = startDev({ PORT: String(port), ISSUER_PORT: '0' });
      expect((await dev.exited).code).toBe(1);
      const message = dev
        .stderr()
        .split('\n')
        .filter((line) => line.startsWith('dualgate dev:'));
      expect(message).toEqual([
        `dualgate dev: port ${port} is already in use (gateway); stop the other process or set PORT to another port`,
      ]);
      expect(dev.stderr()).not.toMatch(/^\s+at /m);
      expect(dev.stdout()).not.toMatch(READY);
    } finally {
      blocker.close();
    }
  });

  it('logs a line per request for a person by default, and the stack’s access-log JSON with --log-format json', async () => {
    const human = startDev({ PORT: '0', ISSUER_PORT: '0' });
    const humanUrl = await ready(human);
    const missing = await fetch(`${humanUrl}/me`);
    await waitFor(() => /GET\s+\/me\s+401 \d+ ms no credential/.test(human.stdout()), 10_000, 'the human access line');
    expect(human.stdout()).not.toContain(`"requestId":"${missing.headers.get('x-amzn-requestid')}"`);
    await stopDev(human);

    const json = startDev({ PORT: '0', ISSUER_PORT: '0' }, ['--log-format', 'json']);
    const jsonUrl = await ready(json);
    const response = await fetch(`${jsonUrl}/me`);
    const requestId = response.headers.get('x-amzn-requestid') as string;
    await waitFor(() => json.stdout().includes(`"requestId":"${requestId}"`), 10_000, 'the JSON access line');
    const line = json
      .stdout()
      .split('\n')
      .find((candidate) => candidate.includes(`"requestId":"${requestId}"`)) as string;
    expect(JSON.parse(line)).toMatchObject({ requestId, method: 'GET', resourcePath: '/me', status: 401, errorType: 'UNAUTHORIZED' });
    await stopDev(json);

    const wrong = startDev({ PORT: '0', ISSUER_PORT: '0' }, ['--log-format', 'yaml']);
    expect((await wrong.exited).code).toBe(1);
    expect(wrong.stderr()).toContain('dualgate dev: --log-format must be human or json (got "yaml")');
  });

  it('rejects a bad setting with a message that names it, and exit code 1', async () => {
    const dev = startDev({ PORT: '0', ISSUER_PORT: '0', DUALGATE_KEY_CACHE_TTL_SECONDS: 'soon' });
    expect((await dev.exited).code).toBe(1);
    expect(dev.stderr()).toMatch(/dualgate dev: DUALGATE_KEY_CACHE_TTL_SECONDS must be an integer from 0 to 3600 seconds \(got "soon"\)/);
    expect(dev.stderr()).not.toMatch(/^\s+at /m);
  });

  it.skipIf(!hasCurl)(
    'prints two export lines that point the admin CLI at local mode, and the CLI line it prints works',
    async () => {
      const dev = startDev({ PORT: '0', ISSUER_PORT: '0' });
      const gatewayUrl = await ready(dev);
      const lines = dev
        .stdout()
        .split('\n')
        .map((line) => line.trim());
      const exports = lines.filter((line) => line.startsWith('export '));
      expect(exports).toHaveLength(2);
      expect(exports[0]).toBe(`export DUALGATE_URL=${gatewayUrl}`);
      expect(exports[1]).toMatch(
        /^export DUALGATE_TOKEN_URL=http:\/\/127\.0\.0\.1:\d+\/token DUALGATE_CLIENT_ID=local-admin DUALGATE_CLIENT_SECRET=secret$/,
      );
      const cliLine = lines.find((line) => line.startsWith('npx dualgate '));
      expect(cliLine).toBeDefined();
      // Pasted as printed, after creating one key through the CLI with the same login.
      const script = [
        'set -e',
        ...exports,
        `npx dualgate --scope 'keys:read keys:write' keys create --name from-cli --scopes keys:read >/dev/null`,
        cliLine as string,
      ];
      const { DUALGATE_URL: _url, DUALGATE_TOKEN: _token, ...cleanEnv } = process.env;
      const shell = spawnSync('bash', ['-c', script.join('\n')], { encoding: 'utf8', timeout: 60_000, env: cleanEnv });
      expect(shell.status, shell.stderr).toBe(0);
      expect(shell.stdout).toMatch(/^ID\s+NAME\s+OWNER/);
      expect(shell.stdout).toMatch(/from-cli\s+local-admin\s+active/);
      await stopDev(dev);
    },
    180_000,
  );

  it('trusts an external issuer from DUALGATE_ISSUERS (http on loopback), beside the mock one', async () => {
    // A team's IdP stand-in: another issuer on this machine, with its own keys, audience and JWKS path.
    const idp = await startLocalIssuer({ host: '127.0.0.1', port: 0, audience: 'team-api', scopeCatalog: ['read:users', 'keys:read'] });
    try {
      const issuers = [{ issuer: idp.url, audience: 'team-api', jwksUri: idp.jwksUri }];
      const dev = startDev({ PORT: '0', ISSUER_PORT: '0', DUALGATE_ISSUERS: JSON.stringify(issuers) });
      const gatewayUrl = await ready(dev);
      expect(dev.stdout()).toContain(`issuer    ${idp.url}   (from DUALGATE_ISSUERS; aud team-api)`);
      const token = await clientCredentialsToken(idp.tokenUrl, 'team-ci', 'read:users');
      const me = await fetch(`${gatewayUrl}/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toEqual({ sub: 'team-ci', scopes: ['read:users'] });
      // The IdP's tokens for another audience are still refused.
      const other = await startLocalIssuer({ host: '127.0.0.1', port: 0, audience: 'someone-else', scopeCatalog: ['read:users'] });
      try {
        const foreign = await clientCredentialsToken(other.tokenUrl, 'team-ci', 'read:users');
        expect((await fetch(`${gatewayUrl}/me`, { headers: { authorization: `Bearer ${foreign}` } })).status).toBe(401);
      } finally {
        await other.stop();
      }
      await stopDev(dev);
    } finally {
      await idp.stop();
    }
  });

  it('refuses a rebound Host on every port it listens on, and answers names given by --allow-host and DUALGATE_ALLOWED_HOSTS', async () => {
    const plans = { 'dualgate:plans': { free: { rateLimitPerSecond: 100, burstLimit: 100 } }, 'dualgate:defaultPlan': 'free' };
    const dev = startDev({ PORT: '0', ISSUER_PORT: '0', DUALGATE_ALLOWED_HOSTS: 'other.test' }, ['--allow-host', 'devbox.test'], {
      assembly: demoAssembly(plans),
    });
    const gatewayUrl = await ready(dev);
    const banner = dev.stdout();
    expect(banner).toContain('hosts     localhost, 127.0.0.1, [::1] and devbox.test, other.test');
    const urls = {
      gateway: `${gatewayUrl}/health`,
      issuer: `${/issuer {4}(http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1]}/jwks`,
      dynamodb: /dynamodb {2}(http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1],
      controlPlane: `${/control plane (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1]}/usageplans`,
    };
    expect(Object.values(urls).filter((url) => url === undefined || url.includes('undefined'))).toEqual([]);
    for (const [listener, url] of Object.entries(urls)) {
      expect([listener, await statusWithHost(url as string, 'rebind.attacker.example')]).toEqual([listener, 421]);
      for (const allowed of ['devbox.test', 'other.test:1'])
        expect([listener, allowed, await statusWithHost(url as string, allowed)]).toEqual([listener, allowed, 200]);
    }
    await stopDev(dev);
  }, 120_000);

  it('with --data, a token and a key saved before a restart still work after it (the issuer key persists too)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dualgate-data-'));
    try {
      const env = { PORT: String(await freePort()), ISSUER_PORT: String(await freePort()) };
      const first = startDev(env, ['--data', dataDir]);
      const gatewayUrl = await ready(first);
      const tokenUrl = `http://127.0.0.1:${env.ISSUER_PORT}/token`;
      const token = await clientCredentialsToken(tokenUrl, 'local-admin', 'keys:write keys:read read:users');
      const created = await fetch(`${gatewayUrl}/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{"name":"kept","scopes":["read:users"]}',
      });
      expect(created.status).toBe(201);
      const { key } = (await created.json()) as { key: string };
      await stopDev(first);
      expect(statSync(join(dataDir, 'issuer-signing-key.json')).mode & 0o777).toBe(0o600);

      const second = startDev(env, ['--data', dataDir]);
      expect(await ready(second)).toBe(gatewayUrl);
      for (const credential of [token, key]) {
        const me = await fetch(`${gatewayUrl}/me`, { headers: { authorization: `Bearer ${credential}` } });
        expect(me.status).toBe(200);
        expect(((await me.json()) as { sub: string }).sub).toBe('local-admin');
      }
      await stopDev(second);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
