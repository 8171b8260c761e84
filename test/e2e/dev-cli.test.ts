/**
 * `npm run dev` as a user meets it: the process prints a ready line and curl lines that work when pasted
 * into a shell, stops cleanly on SIGTERM/SIGINT, and explains a taken port in one line with exit code 1.
 * Local only: it starts the real entry point (tsx bin/local.ts) as a child process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isDeployedTarget } from '../support/e2e-target';

const TSX = 'node_modules/.bin/tsx';
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

function startDev(env: Record<string, string>): Dev {
  const child = spawn(TSX, ['bin/local.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
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

describe.skipIf(isDeployedTarget())('npm run dev (bin/local.ts)', () => {
  it('prints a ready line and curl lines that work when pasted into a shell, then stops cleanly on SIGTERM', async () => {
    const dev = startDev({ PORT: '0', ISSUER_PORT: '0' });
    await waitFor(() => READY.test(dev.stdout()), 20_000, 'the ready line');
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
      const [viaToken, viaKey] = shell.stdout.trim().split('\n').map((line) => JSON.parse(line) as { sub: string; scopes: string[] });
      expect(viaToken?.sub).toBe('local-admin');
      expect(viaKey).toEqual({ sub: 'local-admin', scopes: ['read:users'] });
    }

    dev.child.kill('SIGTERM');
    expect(await dev.exited).toEqual({ code: 0, signal: null });
    expect(dev.stdout()).toContain('stopped');
    await expect(fetch(`${gatewayUrl}/health`)).rejects.toThrow();
  });

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
      const message = dev.stderr().split('\n').filter((line) => line.startsWith('dualgate local:'));
      expect(message).toEqual([`dualgate local: port ${port} is already in use (gateway); stop the other process or set PORT to another port`]);
      expect(dev.stderr()).not.toMatch(/^\s+at /m);
      expect(dev.stdout()).not.toMatch(READY);
    } finally {
      blocker.close();
    }
  });

  it('rejects a bad setting with a message that names it, and exit code 1', async () => {
    const dev = startDev({ PORT: '0', ISSUER_PORT: '0', DUALGATE_KEY_CACHE_TTL_SECONDS: 'soon' });
    expect((await dev.exited).code).toBe(1);
    expect(dev.stderr()).toMatch(/dualgate local: keyCacheTtlSeconds must be an integer/);
    expect(dev.stderr()).not.toMatch(/^\s+at /m);
  });
});
