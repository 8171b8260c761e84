/**
 * How many authorizer invocations each cache scope costs for a stated client mix: API Gateway's result cache as
 * local mode applies it (the same identity-source values and AuthorizerResultCache the local gateway keys on, the
 * identity sources the construct writes), over a simulated hour of traffic on a simulated clock. Deterministic:
 * a seeded generator, so the figure moves only when the cache rules do.
 *
 *   npm run bench -- --only cache_mix
 */
import { AuthorizerResultCache } from '../lib/local/authorizer-cache';
import { identitySourceValue, localResourceId } from '../lib/local/gateway';
import type { AuthorizerCacheScope } from '../lambdas/core/route-table';

export interface CacheMixOptions {
  clients: number;
  routesPerClient: number;
  /** Routes in the API; each client uses `routesPerClient` of them. */
  tableRoutes: number;
  ttlSeconds: number;
  /** Each client's mean request rate (Poisson arrivals). */
  requestsPerClientPerSecond: number;
  durationSeconds: number;
  seed: number;
}

export interface CacheMixResults {
  settings: CacheMixOptions;
  requests: number;
  authorizer_invocations_per_1000_requests: Record<AuthorizerCacheScope, number>;
}

/** The identity sources DualAuthApi gives its authorizer (lib/construct/authorizer.ts, authorizerIdentitySources). */
export const IDENTITY_SOURCES: Record<AuthorizerCacheScope, readonly string[]> = {
  route: ['method.request.header.Authorization', 'context.resourceId', 'context.httpMethod'],
  credential: ['method.request.header.Authorization'],
};

/** mulberry32: a small seeded generator. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function runCacheMix(options: CacheMixOptions): CacheMixResults {
  const next = random(options.seed);
  const table = Array.from({ length: options.tableRoutes }, (_, index) => ({
    method: index % 3 === 0 ? 'POST' : 'GET',
    path: `/svc${index}/{id}`,
  }));
  const clients = Array.from({ length: options.clients }, (_, index) => {
    const routes = [...table].sort(() => next() - 0.5).slice(0, options.routesPerClient);
    return { authorization: `Bearer client-${index}`, routes, atMs: 0 };
  });
  // Every request of the simulated hour, in time order: exponential gaps per client.
  const requests: { atMs: number; client: (typeof clients)[number]; route: (typeof table)[number] }[] = [];
  for (const client of clients) {
    for (let atMs = 0; ; ) {
      atMs += (-Math.log(1 - next()) / options.requestsPerClientPerSecond) * 1000;
      if (atMs >= options.durationSeconds * 1000) break;
      requests.push({ atMs, client, route: client.routes[Math.floor(next() * client.routes.length)]! });
    }
  }
  requests.sort((left, right) => left.atMs - right.atMs);
  const invocations = {} as Record<AuthorizerCacheScope, number>;
  for (const scope of ['route', 'credential'] as const) {
    let nowMs = 0;
    const cache = new AuthorizerResultCache<true>(options.ttlSeconds, () => nowMs);
    let misses = 0;
    for (const request of requests) {
      nowMs = request.atMs;
      const requestContext = {
        resourceId: localResourceId(request.route.path),
        httpMethod: request.route.method,
        resourcePath: request.route.path,
      };
      const key = JSON.stringify(
        IDENTITY_SOURCES[scope].map((source) =>
          identitySourceValue(source, {
            multiValueHeaders: { Authorization: [request.client.authorization] },
            multiValueQuery: null,
            requestContext,
          }),
        ),
      );
      if (cache.get(key) === undefined) {
        misses++;
        cache.set(key, true);
      }
    }
    invocations[scope] = Math.round((misses / requests.length) * 1000 * 100) / 100;
  }
  return { settings: options, requests: requests.length, authorizer_invocations_per_1000_requests: invocations };
}
