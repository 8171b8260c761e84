/**
 * Lambda entry point: wiring only. Clients, verifiers and caches live at module scope, built once per
 * container. What needs I/O or a large import is left to the first request that needs it, because an on-demand
 * init is on the first request's path: the issuers' JWKS is fetched by the first JWT, and the AWS SDK is loaded by
 * the first key (or `lastUsedAt` write, or consumer read). When init should load both (provisioned concurrency,
 * plans: see `loadsAtInit`), it does so concurrently, before any request.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { errorFields } from '../shared/logger';
import { RUNTIME_CONFIG_FILE } from '../core/route-config';
import { readRuntimeRouteConfig } from '../shared/route-config-file';
import { readSettings } from '../core/settings';
import { buildAuthorizer, loadsAtInit } from './wiring';

// The app's route table sits beside this bundle in the asset: read once per container.
const { routeTable, entitlements: entitlementConfig } = readRuntimeRouteConfig(new URL(`./${RUNTIME_CONFIG_FILE}`, import.meta.url));
const settings = readSettings();
const { authorize, jwtCheck, keyTable, logger } = buildAuthorizer(settings, routeTable, {}, entitlementConfig?.defaultScopes ?? []);

if (loadsAtInit(settings, process.env)) {
  await Promise.all([
    jwtCheck?.hydrate().catch((error: unknown) => {
      // Not fatal: keys still work, and each JWT retries the fetch (within the fetcher's cooldown).
      logger.error('JWKS hydrate failed at init', { reason: 'jwks_unavailable', ...errorFields(error) });
    }),
    keyTable.load().catch((error: unknown) => {
      // Not fatal either: the first request that needs the table loads it again, or fails closed. The cause says
      // what failed (a missing chunk, the SDK's own initialisation), as decision lines do.
      const cause = error instanceof Error ? error.cause : undefined;
      logger.error('key table client failed to load at init', {
        reason: 'key_store_unavailable',
        ...errorFields(error),
        ...(cause instanceof Error ? { causeName: cause.name, causeMessage: cause.message.slice(0, 300) } : {}),
      });
    }),
  ]);
}

export async function handler(event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  const outcome = await authorize(event);
  // A policy, Allow or Deny (a Deny is API Gateway's 403).
  if (outcome.effect === 'allow' || outcome.effect === 'deny') return outcome.response;
  // API Gateway maps exactly this message to 401; any other error becomes AUTHORIZER_FAILURE (503 here).
  if (outcome.effect === 'unauthorized') throw new Error('Unauthorized');
  throw new Error('AuthorizerFailure');
}
