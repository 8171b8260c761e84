/** Build the authorizer's dependencies from settings. Used by the Lambda handler and by local mode. */
import type { Fetcher } from 'aws-jwt-verify/https';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ConsumerLookup } from '../shared/consumer-store';
import type { KeyLookup, KeyUsageWriter } from '../shared/key-store';
import { createLogger, type Logger } from '../shared/logger';
import type { RuntimeSettings } from '../core/settings';
import { ApiKeyCheck } from './api-key-check';
import { createAuthorizer, type RouteAuthorization } from './authorizer';
import { JwksFetcher } from './jwks-fetcher';
import { LastUsedRecorder } from './last-used';
import { OnDemandKeyTable, type KeyTableLoader, type KeyTableStores } from './on-demand-key-table';
import { JwtCheck } from './jwt-check';
import { PolicyCompiler, type CompiledRouteTable } from '../core/policy-compiler';
import { RouteBoundTable } from './route-policy';
import { UsageIdentifiers } from './usage-identifier';
import { EntitlementCache } from './entitlement-cache';
import type { EntitlementLookup } from '../shared/consumer-store';

/** Bounds on in-process caches: memory stays flat whatever credentials callers spray. */
export const MAX_KEY_CACHE_ENTRIES = 10_000;
export const MAX_JWT_CACHE_ENTRIES = 2_000;

export interface AuthorizerOverrides {
  /** The client the key table uses once loaded (tests, benchmarks); it is still wrapped on demand. */
  dynamoClient?: DynamoDBClient;
  /** How the key table is loaded on first use (tests). Default: import key-table-client.ts, the SDK's chunk. */
  loadKeyTable?: KeyTableLoader;
  keyLookup?: KeyLookup;
  consumerLookup?: ConsumerLookup;
  entitlementLookup?: EntitlementLookup;
  /** Where `lastUsedAt` is written. Default: the DynamoDB lookup itself; with a `keyLookup` override, nowhere unless given. */
  usageWriter?: KeyUsageWriter;
  fetcher?: Fetcher;
  logger?: Logger;
  nowMs?: () => number;
  /** Monotonic milliseconds for the key-lookup latency metric (tests). */
  monotonicMs?: () => number;
}

/**
 * `routeTable` is the app's, compiled at synth (lambdas/core/route-config.ts); `defaultScopes` is its
 * `portal.defaultScopes` (every consumer's entitlements).
 */
export function buildAuthorizer(
  settings: RuntimeSettings,
  routeTable: CompiledRouteTable,
  overrides: AuthorizerOverrides = {},
  defaultScopes: readonly string[] = [],
) {
  const logger = overrides.logger ?? createLogger({ service: 'dualgate-authorizer', level: settings.logLevel });
  const nowMs = overrides.nowMs ?? Date.now;
  // Nothing here imports the AWS SDK: the key table loads it on first use (on-demand-key-table.ts).
  const keyTable = new OnDemandKeyTable(overrides.loadKeyTable ?? (() => importKeyTable(settings, overrides.dynamoClient)));
  const keyLookup: KeyLookup = overrides.keyLookup ?? keyTable;
  const usageWriter = overrides.usageWriter ?? (overrides.keyLookup ? undefined : keyTable);
  const lastUsed = usageWriter
    ? new LastUsedRecorder({ writer: usageWriter, intervalSeconds: settings.lastUsedIntervalSeconds, logger, nowMs })
    : undefined;
  // Plans only: without them nothing here runs, and the authorizer reads nothing more than before.
  const usageIdentifiers = settings.plans
    ? new UsageIdentifiers({
        lookup: overrides.consumerLookup ?? keyTable,
        sharedUsageKey: settings.plans.sharedUsageKey,
        cacheTtlSeconds: settings.keyCacheTtlSeconds,
        staleIfErrorSeconds: settings.staleIfErrorSeconds,
        maxCacheEntries: MAX_KEY_CACHE_ENTRIES,
        nowMs,
      })
    : undefined;
  // Read only for keys that hold entitled scopes; a key without any never causes this read.
  const entitlements = new EntitlementCache({
    lookup: overrides.entitlementLookup ?? keyTable,
    defaultScopes,
    cacheTtlSeconds: settings.keyCacheTtlSeconds,
    staleIfErrorSeconds: settings.staleIfErrorSeconds,
    maxCacheEntries: MAX_KEY_CACHE_ENTRIES,
    nowMs,
  });
  const apiKeyCheck = new ApiKeyCheck({
    entitlements,
    keyPrefix: settings.keyPrefix,
    store: keyLookup,
    keyCacheTtlSeconds: settings.keyCacheTtlSeconds,
    negativeCacheTtlSeconds: settings.negativeKeyCacheTtlSeconds,
    staleIfErrorSeconds: settings.staleIfErrorSeconds,
    maxCacheEntries: MAX_KEY_CACHE_ENTRIES,
    nowMs,
    ...(lastUsed ? { lastUsed } : {}),
  });
  const jwtCheck =
    settings.issuers.length > 0
      ? new JwtCheck({
          issuers: settings.issuers,
          fetcher: overrides.fetcher ?? new JwksFetcher({ allowHttp: settings.allowHttpIssuers, nowMs, logger }),
          jwtCacheTtlSeconds: settings.jwtCacheTtlSeconds,
          maxCacheEntries: MAX_JWT_CACHE_ENTRIES,
          nowMs,
        })
      : undefined;
  const authorize = createAuthorizer({
    apiKeyCheck,
    ...(jwtCheck ? { jwtCheck } : {}),
    routes: routeAuthorization(routeTable),
    logger,
    ...(usageIdentifiers ? { usageIdentifiers } : {}),
    ...(overrides.monotonicMs ? { monotonicMs: overrides.monotonicMs } : {}),
  });
  return { authorize, apiKeyCheck, jwtCheck, usageIdentifiers, entitlements, logger, lastUsed, keyTable };
}

/**
 * The split point: a dynamic import of a literal path, so esbuild emits key-table-client.ts and the AWS SDK as a
 * chunk beside the bundle (lib/build/bundling.ts) that Node reads only when this runs.
 */
async function importKeyTable(settings: RuntimeSettings, client: DynamoDBClient | undefined): Promise<KeyTableStores> {
  const { openKeyTable } = await import('./key-table-client');
  return openKeyTable({
    tableName: settings.tableName,
    ...(settings.dynamoEndpoint ? { endpoint: settings.dynamoEndpoint } : {}),
    ...(client ? { client } : {}),
  });
}

/**
 * Whether init loads what requests would otherwise load on first use (the issuers' JWKS, the key table's SDK client):
 * - under provisioned concurrency (Lambda sets `AWS_LAMBDA_INITIALIZATION_TYPE`), init runs before the environment
 *   gets any request, so its time is on no request's path;
 * - with plans, every allowed decision reads the caller's consumer record (a JWT's too), so the first request
 *   needs the table whatever its credential; loading it during init overlaps the SDK's import with the JWKS fetch.
 * Otherwise (on-demand init, no plans) init is on the first request's path, and each load waits for a request that
 * needs it: a JWT-only container never loads the SDK, and a key never waits for an issuer's JWKS.
 */
export function loadsAtInit(settings: Pick<RuntimeSettings, 'plans'>, env: Readonly<Record<string, string | undefined>>): boolean {
  return env['AWS_LAMBDA_INITIALIZATION_TYPE'] === 'provisioned-concurrency' || settings.plans !== undefined;
}

/** The table as the authorizer decides with it: by route (the default) or one policy per credential. */
function routeAuthorization(routeTable: CompiledRouteTable): RouteAuthorization {
  return routeTable.cacheScope === 'credential'
    ? { cacheScope: 'credential', compiler: new PolicyCompiler(routeTable) }
    : { cacheScope: 'route', table: new RouteBoundTable(routeTable.routes) };
}
