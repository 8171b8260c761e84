/**
 * End to end: autocannon through local mode (the gateway that follows API Gateway's rules, in front of the
 * real authorizer and handlers) in its own process, against the unauthenticated `GET /health` (the
 * baseline: routing, a handler, the access log) and against `GET /me` with an API key and with a JWT,
 * interleaved round by round in the same run.
 *
 * By default the gateway's authorizer result cache is off (TTL 0), so every request runs the authorizer
 * (its in-memory key and token caches still apply, as in a warm Lambda): the figure is the authorizer's
 * cost, not the cache's.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import type { E2eServerReady } from './e2e-server';
import { median, round } from './stats';

export interface E2eOptions {
  rounds: number;
  /** Seconds per autocannon run. */
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  /** The local gateway's authorizer cache TTL; 0 makes every request call the authorizer. */
  authorizerCacheTtlSeconds: number;
}

export interface E2eResults {
  baseline_rps: number;
  authorized_rps: number;
  ratio: number;
  key_rps: number;
  jwt_rps: number;
  /** Median of the runs' median latencies, ms. */
  latency_p50_ms: { health: number; key: number; jwt: number };
  settings: { connections: number; duration_s: number; rounds: number; authorizer_cache_ttl_s: number };
}

type Target = 'health' | 'key' | 'jwt';

async function startServer(options: E2eOptions): Promise<{ ready: E2eServerReady; stop: () => Promise<void> }> {
  const child = fork(join(import.meta.dirname, 'e2e-server.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, DUALGATE_AUTHORIZER_CACHE_TTL_SECONDS: String(options.authorizerCacheTtlSeconds), NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = await new Promise<E2eServerReady>((resolve, reject) => {
    child.once('message', (message) => resolve(message as E2eServerReady));
    child.once('exit', (code) => reject(new Error(`e2e server exited ${code} before it was ready: ${stderr.slice(0, 2000)}`)));
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.disconnect();
    });
  return { ready, stop };
}

export async function runE2e(options: E2eOptions, progress: (line: string) => void = () => undefined): Promise<E2eResults> {
  progress('starting local mode in a child process');
  const { ready, stop } = await startServer(options);
  try {
    const requests: Record<Target, { url: string; headers: Record<string, string> }> = {
      health: { url: `${ready.gatewayUrl}/health`, headers: {} },
      key: { url: `${ready.gatewayUrl}/me`, headers: { authorization: `Bearer ${ready.apiKey}` } },
      jwt: { url: `${ready.gatewayUrl}/me`, headers: { authorization: `Bearer ${ready.accessToken}` } },
    };
    // A wrong answer at high speed is no figure: check each target once first.
    for (const [target, request] of Object.entries(requests)) {
      const response = await fetch(request.url, { headers: request.headers });
      const body = await response.text();
      if (response.status !== 200) throw new Error(`e2e ${target}: ${request.url} answered ${response.status}: ${body}`);
      if (target !== 'health' && !body.includes('"sub"')) throw new Error(`e2e ${target}: /me gave no sub: ${body}`);
    }
    const run = async (target: Target, seconds: number) => {
      const result = await autocannon({
        url: requests[target].url,
        headers: requests[target].headers,
        connections: options.connections,
        duration: seconds,
      });
      if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0) {
        throw new Error(`e2e ${target}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx responses`);
      }
      return { rps: result.requests.average, p50: result.latency.p50 };
    };
    const targets: Target[] = ['health', 'key', 'jwt'];
    progress(
      `autocannon warm-up, then ${options.rounds} rounds × ${targets.length} targets × ${options.durationSeconds}s, ${options.connections} connections`,
    );
    for (const target of targets) await run(target, options.warmupSeconds);
    const rps: Record<Target, number[]> = { health: [], key: [], jwt: [] };
    const p50: Record<Target, number[]> = { health: [], key: [], jwt: [] };
    for (let roundIndex = 0; roundIndex < options.rounds; roundIndex++) {
      for (let index = 0; index < targets.length; index++) {
        const target = targets[(index + roundIndex) % targets.length]!;
        const figures = await run(target, options.durationSeconds);
        rps[target].push(figures.rps);
        p50[target].push(figures.p50);
      }
    }
    const baseline = median(rps.health);
    const keyRps = median(rps.key);
    const jwtRps = median(rps.jwt);
    // The slower credential kind is the figure: a target met by one kind only is not met.
    const authorized = Math.min(keyRps, jwtRps);
    return {
      baseline_rps: round(baseline, 1),
      authorized_rps: round(authorized, 1),
      ratio: round(authorized / baseline, 3),
      key_rps: round(keyRps, 1),
      jwt_rps: round(jwtRps, 1),
      latency_p50_ms: { health: median(p50.health), key: median(p50.key), jwt: median(p50.jwt) },
      settings: {
        connections: options.connections,
        duration_s: options.durationSeconds,
        rounds: options.rounds,
        authorizer_cache_ttl_s: options.authorizerCacheTtlSeconds,
      },
    };
  } finally {
    await stop();
  }
}
