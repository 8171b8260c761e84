/**
 * `npx dualgate dev` in a consumer app installed from the packed tarball, as a platform team runs it: npx finds the
 * installed package's bin. Its own process group, so the whole tree (npm, the shell, dualgate) stops together.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './prepared';

const READY = /dualgate local mode is ready at (http:\/\/127\.0\.0\.1:\d+)/;
const TOKEN_URL = /token endpoint (http:\/\/127\.0\.0\.1:\d+\/token)/;
/** Printed after the whole banner, with dualgate dev's own start-up time. */
const STARTED = /dualgate dev: ready in ([\d.]+) s/;

export interface NpxDev {
  child: ChildProcess;
  output: () => string;
  url: string;
  tokenUrl: string;
  /** dualgate dev's own figure: from its start to serving (synth included unless --assembly). */
  readySeconds: number;
}

/**
 * Start `npx dualgate dev` in `appDir` (it synthesizes the app with its cdk.json command unless `args` name an
 * assembly); `via: 'repo'` runs this repository's CLI instead, for an app with a linked install (no .bin entry).
 */
export async function startNpxDev(
  appDir: string,
  args: readonly string[] = [],
  options: { via?: 'npx' | 'repo'; timeoutMs?: number } = {},
): Promise<NpxDev> {
  const startedAt = Date.now();
  const timeoutMs = options.timeoutMs ?? 240_000;
  const [command, ...prefix] =
    options.via === 'repo' ? [process.execPath, join(REPO, 'bin', 'dualgate-cli.mjs')] : ['npx', '--no', 'dualgate'];
  const child = spawn(command as string, [...prefix, 'dev', ...args], {
    cwd: appDir,
    env: { ...process.env, PORT: '0', ISSUER_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  while (!STARTED.test(output)) {
    if (child.exitCode !== null || Date.now() - startedAt > timeoutMs) {
      stopNpxDev(child);
      throw new Error(`dualgate dev did not become ready:\n${output.slice(-6000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    output: () => output,
    url: READY.exec(output)![1]!,
    tokenUrl: TOKEN_URL.exec(output)![1]!,
    readySeconds: Number(STARTED.exec(output)![1]),
  };
}

export function stopNpxDev(child: ChildProcess | undefined): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    child.kill('SIGTERM');
  }
}

/** An access token from the local issuer (client credentials), holding `scopes`. */
export async function localToken(dev: NpxDev, clientId: string, scopes: readonly string[]): Promise<string> {
  const response = await fetch(dev.tokenUrl, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:any`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: scopes.join(' ') }).toString(),
  });
  if (response.status !== 200)
    throw new Error(`the local issuer refused a token for ${scopes.join(' ')}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** A request to the local gateway: status and parsed JSON body (or `{ unparsed }`). */
export async function callGateway(
  dev: NpxDev,
  method: string,
  path: string,
  credential?: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${dev.url}${path}`, {
    method,
    headers: {
      ...(credential ? { authorization: `Bearer ${credential}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  try {
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  } catch {
    return { status: response.status, body: { unparsed: text } };
  }
}
