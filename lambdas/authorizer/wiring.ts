/** Build the authorizer's dependencies from settings. Used by the Lambda handler and by local mode. */
import type { Fetcher } from 'aws-jwt-verify/https';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ConsumerLookup } from '../shared/consumer-store';
import { DynamoConsumerLookup } from '../shared/consumer-store';
import { createDynamoClient, DynamoKeyLookup, type KeyLookup, type KeyUsageWriter } from '../shared/key-store';
import { createLogger, type Logger } from '../shared/logger';
import type { RuntimeSettings } from '../shared/settings';
import { ApiKeyPolicy } from './api-key-policy';
import { createAuthorizer, type RouteAuthorization } from './authorizer';
import { JwksFetcher } from './jwks-fetcher';
import { LastUsedRecorder } from './last-used';
import { JwtPolicy } from './jwt-policy';
import { PolicyCompiler, type CompiledRouteTable } from './policy-compiler';
import { RouteBoundTable } from './route-policy';
import { UsageIdentifiers } from './usage-identifier';

/** Bounds on in-process caches: memory stays flat whatever credentials callers spray. */
export const MAX_KEY_CACHE_ENTRIES = 10_000;
export const MAX_JWT_CACHE_ENTRIES = 2_000;

export interface AuthorizerOverrides {
  dynamoClient?: DynamoDBClient;
  keyLookup?: KeyLookup;
  consumerLookup?: ConsumerLookup;
  /** Where `lastUsedAt` is written. Default: the DynamoDB lookup itself; with a `keyLookup` override, nowhere unless given. */
  usageWriter?: KeyUsageWriter;
  fetcher?: Fetcher;
  logger?: Logger;
  nowMs?: () => number;
  /** Monotonic milliseconds for the key-lookup latency metric (tests). */
  monotonicMs?: () => number;
}

/** `routeTable` is the app's, compiled at synth (lambdas/shared/route-config.ts). */
export function buildAuthorizer(settings: RuntimeSettings, routeTable: CompiledRouteTable, overrides: AuthorizerOverrides = {}) {
  const logger = overrides.logger ?? createLogger({ service: 'dualgate-authorizer', level: settings.logLevel });
  const nowMs = overrides.nowMs ?? Date.now;
  let dynamoClient = overrides.dynamoClient;
  const client = () => (dynamoClient ??= createDynamoClient(settings.dynamoEndpoint ? { endpoint: settings.dynamoEndpoint } : {}));
  const dynamoLookup = overrides.keyLookup ? undefined : new DynamoKeyLookup(client(), settings.tableName);
  const keyLookup: KeyLookup = overrides.keyLookup ?? (dynamoLookup as DynamoKeyLookup);
  const usageWriter = overrides.usageWriter ?? dynamoLookup;
  const lastUsed = usageWriter ? new LastUsedRecorder({ writer: usageWriter, intervalSeconds: settings.lastUsedIntervalSeconds, logger, nowMs }) : undefined;
  // Plans only: without them nothing here runs, and the authorizer reads nothing more than before.
  const usageIdentifiers = settings.plans
    ? new UsageIdentifiers({
        lookup: overrides.consumerLookup ?? new DynamoConsumerLookup(client(), settings.tableName),
        sharedUsageKey: settings.plans.sharedUsageKey,
        cacheTtlSeconds: settings.keyCacheTtlSeconds,
        staleIfErrorSeconds: settings.staleIfErrorSeconds,
        maxCacheEntries: MAX_KEY_CACHE_ENTRIES,
        nowMs,
      })
    : undefined;
  const apiKeyPolicy = new ApiKeyPolicy({
    keyPrefix: settings.keyPrefix,
    store: keyLookup,
    keyCacheTtlSeconds: settings.keyCacheTtlSeconds,
    negativeCacheTtlSeconds: settings.negativeKeyCacheTtlSeconds,
    staleIfErrorSeconds: settings.staleIfErrorSeconds,
    maxCacheEntries: MAX_KEY_CACHE_ENTRIES,
    nowMs,
    ...(lastUsed ? { lastUsed } : {}),
  });
  const jwtPolicy =
    settings.issuers.length > 0
      ? new JwtPolicy({
          issuers: settings.issuers,
          fetcher: overrides.fetcher ?? new JwksFetcher({ allowHttp: settings.allowHttpIssuers, nowMs, logger }),
          jwtCacheTtlSeconds: settings.jwtCacheTtlSeconds,
          maxCacheEntries: MAX_JWT_CACHE_ENTRIES,
          nowMs,
        })
      : undefined;
  const authorize = createAuthorizer({
    apiKeyPolicy,
    ...(jwtPolicy ? { jwtPolicy } : {}),
    routes: routeAuthorization(routeTable),
    logger,
    ...(usageIdentifiers ? { usageIdentifiers } : {}),
    ...(overrides.monotonicMs ? { monotonicMs: overrides.monotonicMs } : {}),
  });
  return { authorize, apiKeyPolicy, jwtPolicy, usageIdentifiers, logger, lastUsed };
}

/** The table as the authorizer decides with it: by route (the default) or one policy per credential. */
export function routeAuthorization(routeTable: CompiledRouteTable): RouteAuthorization {
  return routeTable.cacheScope === 'credential'
    ? { cacheScope: 'credential', compiler: new PolicyCompiler(routeTable) }
    : { cacheScope: 'route', table: new RouteBoundTable(routeTable.routes) };
}
