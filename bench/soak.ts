/**
 * Soak through local mode: local mode runs in its own process (as `npm run dev`), and this process fires
 * a mix of valid keys, valid JWTs, revoked and expired keys, junk and missing-scope calls at it over
 * 50 keep-alive connections, checking every response against the expected decision.
 *
 *   npm run soak                       20 000 requests, 50 connections
 *   SOAK_REQUESTS=50000 SOAK_CONNECTIONS=100 npm run soak
 *
 * Exits 1 if any decision is wrong or any response is a 5xx.
 */
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { Agent, request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { generateKey } from '../lambdas/core/key-format';

const TOTAL = Number(process.env.SOAK_REQUESTS ?? 20_000);
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? 50);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startLocalMode(): Promise<{ baseUrl: string; tokenUrl: string; stop: () => Promise<void> }> {
  const [port, issuerPort] = [await freePort(), await freePort()];
  // `npm run dev`: dualgate dev on the demo app (it synthesizes the app first).
  const child = spawn(process.execPath, ['bin/dualgate-cli.mjs', 'dev'], {
    env: { ...process.env, PORT: String(port), ISSUER_PORT: String(issuerPort), LOG_LEVEL: 'WARN' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`local mode did not start in 120 s:\n${output}`)), 120_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('is ready at')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`local mode exited with ${code}:\n${output}`)));
  });
  child.stdout.resume();
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    tokenUrl: `http://127.0.0.1:${issuerPort}/token`,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
function send(url: string, method: string, authorization: string | undefined, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (authorization !== undefined) headers['authorization'] = authorization;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const req = request(url, { method, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function token(tokenUrl: string, clientId: string, scopes: string[]): Promise<string> {
  const response = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: 'x', scope: scopes.join(' ') }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

interface Scenario {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  authorization: () => string | undefined;
  expectedStatus: number;
  expectedSub?: string;
  body?: string;
}

async function main(): Promise<void> {
  const local = await startLocalMode();
  try {
    const admin = await token(local.tokenUrl, 'soak-admin', ['keys:read', 'keys:write', 'read:users', 'write:users']);
    const reader = await token(local.tokenUrl, 'soak-reader', ['read:users']);
    const createKey = async (body: Record<string, unknown>) => {
      const created = await send(`${local.baseUrl}/keys`, 'POST', `Bearer ${admin}`, JSON.stringify({ name: 'soak', ...body }));
      if (created.status !== 201) throw new Error(`could not create a key: ${created.status} ${created.text}`);
      return JSON.parse(created.text) as { id: string; key: string };
    };
    const readKey = (await createKey({ scopes: ['read:users'] })).key;
    const revoked = await createKey({ scopes: ['read:users'] });
    if ((await send(`${local.baseUrl}/keys/${revoked.id}`, 'DELETE', `Bearer ${admin}`)).status !== 204) throw new Error('revoke failed');
    const expiring = (await createKey({ scopes: ['read:users'], expiresIn: 1 })).key;
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const [h, p] = reader.split('.');
    const tamperedJwt = `${h}.${Buffer.from(JSON.stringify({ sub: 'soak-reader', scope: 'write:users' })).toString('base64url')}.${reader.split('.')[2]}`;
    const badChecksum = readKey.slice(0, -1) + (readKey.endsWith('A') ? 'B' : 'A');
    void p;

    const scenarios: Scenario[] = [
      {
        name: 'key → GET /users (held scope)',
        method: 'GET',
        path: '/users',
        authorization: () => `Bearer ${readKey}`,
        expectedStatus: 200,
      },
      {
        name: 'key → GET /me',
        method: 'GET',
        path: '/me',
        authorization: () => `Bearer ${readKey}`,
        expectedStatus: 200,
        expectedSub: 'soak-admin',
      },
      {
        name: 'key → POST /users (missing scope)',
        method: 'POST',
        path: '/users',
        authorization: () => `Bearer ${readKey}`,
        expectedStatus: 403,
        body: '{"name":"x"}',
      },
      {
        name: 'JWT → GET /users (held scope)',
        method: 'GET',
        path: '/users',
        authorization: () => `Bearer ${reader}`,
        expectedStatus: 200,
      },
      {
        name: 'JWT → GET /me',
        method: 'GET',
        path: '/me',
        authorization: () => `Bearer ${reader}`,
        expectedStatus: 200,
        expectedSub: 'soak-reader',
      },
      {
        name: 'JWT → POST /users (missing scope)',
        method: 'POST',
        path: '/users',
        authorization: () => `Bearer ${reader}`,
        expectedStatus: 403,
        body: '{"name":"x"}',
      },
      { name: 'revoked key', method: 'GET', path: '/me', authorization: () => `Bearer ${revoked.key}`, expectedStatus: 401 },
      { name: 'expired key', method: 'GET', path: '/me', authorization: () => `Bearer ${expiring}`, expectedStatus: 401 },
      { name: 'bad checksum', method: 'GET', path: '/me', authorization: () => `Bearer ${badChecksum}`, expectedStatus: 401 },
      {
        name: 'unknown well-formed key',
        method: 'GET',
        path: '/me',
        authorization: () => `Bearer ${generateKey('dg').key}`,
        expectedStatus: 401,
      },
      {
        name: 'junk',
        method: 'GET',
        path: '/me',
        authorization: () => `Bearer ${randomBytes(24).toString('base64url')}`,
        expectedStatus: 401,
      },
      { name: 'tampered JWT', method: 'GET', path: '/users', authorization: () => `Bearer ${tamperedJwt}`, expectedStatus: 401 },
      { name: 'no credential', method: 'GET', path: '/me', authorization: () => undefined, expectedStatus: 401 },
      {
        name: 'wrong scheme',
        method: 'GET',
        path: '/me',
        authorization: () => `Basic ${Buffer.from('a:b').toString('base64')}`,
        expectedStatus: 401,
      },
    ];

    const latenciesMs: number[] = [];
    const perScenario = new Map(scenarios.map((scenario) => [scenario.name, { requests: 0, wrong: 0 }]));
    const wrongSamples: string[] = [];
    let serverErrors = 0;
    let networkErrors = 0;
    let issued = 0;
    const startedMs = performance.now();
    const worker = async () => {
      while (issued < TOTAL) {
        const scenario = scenarios[issued++ % scenarios.length]!;
        const stats = perScenario.get(scenario.name)!;
        stats.requests++;
        const t0 = performance.now();
        try {
          const { status, text } = await send(`${local.baseUrl}${scenario.path}`, scenario.method, scenario.authorization(), scenario.body);
          latenciesMs.push(performance.now() - t0);
          if (status >= 500) serverErrors++;
          let wrong = status !== scenario.expectedStatus;
          if (!wrong && scenario.expectedSub) wrong = (JSON.parse(text) as { sub?: string }).sub !== scenario.expectedSub;
          if (wrong) {
            stats.wrong++;
            if (wrongSamples.length < 10) wrongSamples.push(`${scenario.name}: got ${status} ${text.slice(0, 120)}`);
          }
        } catch (error) {
          networkErrors++;
          stats.wrong++;
          if (wrongSamples.length < 10) wrongSamples.push(`${scenario.name}: ${(error as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, worker));
    const elapsedS = (performance.now() - startedMs) / 1000;
    latenciesMs.sort((a, b) => a - b);
    const percentile = (q: number) =>
      +(latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))] ?? NaN).toFixed(2);
    const wrongDecisions = [...perScenario.values()].reduce((sum, stats) => sum + stats.wrong, 0);
    console.table([...perScenario.entries()].map(([scenario, stats]) => ({ scenario, ...stats })));
    const summary = {
      requests: TOTAL,
      connections: CONNECTIONS,
      wrongDecisions,
      serverErrors5xx: serverErrors,
      networkErrors,
      rps: Math.round(TOTAL / elapsedS),
      latencyMs: { p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99), max: +(latenciesMs.at(-1) ?? NaN).toFixed(2) },
    };
    console.log(JSON.stringify(summary, null, 2));
    if (wrongSamples.length > 0) console.log(`wrong decisions (first ${wrongSamples.length}):\n${wrongSamples.join('\n')}`);
    process.exitCode = wrongDecisions === 0 && serverErrors === 0 ? 0 : 1;
  } finally {
    agent.destroy();
    await local.stop();
  }
}

await main();
