/**
 * Lambda entry point for the key management API: wiring only. The DynamoDB client and the store are built
 * once per container, on the first invocation (not at import, so importing this module needs no environment).
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { DynamoConsumerStore } from '../shared/consumer-store';
import { createDynamoClient, KeyStore } from '../shared/key-store';
import { createLogger } from '../shared/logger';
import { RUNTIME_CONFIG_FILE } from '../core/route-config';
import { readRuntimeRouteConfig } from '../shared/route-config-file';
import { readSettings } from '../core/settings';
import { createKeysHandler, type KeysHandler } from './router';
import { AwsUsagePlanGateway, createApiGatewayClient } from './usage-plan-gateway';

export { createKeysHandler } from './router';

let keysHandler: KeysHandler | undefined;

function build(): KeysHandler {
  const settings = readSettings();
  // The app's scope catalog and base path sit beside this bundle in the asset.
  const routeConfig = readRuntimeRouteConfig(new URL(`./${RUNTIME_CONFIG_FILE}`, import.meta.url));
  // The management API is not on the authorizer's hot path: the SDK's usual patience is fine here.
  const client = createDynamoClient({
    ...(settings.dynamoEndpoint ? { endpoint: settings.dynamoEndpoint } : {}),
    requestTimeoutMs: 2000,
    maxAttempts: 3,
  });
  const plans = settings.plans;
  const consumerStore = new DynamoConsumerStore(client, settings.tableName);
  return createKeysHandler({
    entitlements: { store: consumerStore, defaultScopes: routeConfig.entitlements?.defaultScopes ?? [] },
    ...(plans
      ? {
          consumers: {
            store: consumerStore,
            usagePlans: new AwsUsagePlanGateway(
              createApiGatewayClient(settings.apiGatewayEndpoint ? { endpoint: settings.apiGatewayEndpoint } : {}),
              plans.usageKeyOwner !== undefined ? { namePrefix: plans.usageKeyOwner, owner: plans.usageKeyOwner } : {},
            ),
            plans,
          },
        }
      : {}),
    store: new KeyStore(client, settings.tableName),
    keyPrefix: settings.keyPrefix,
    adminScope: settings.adminScope,
    catalog: routeConfig.catalog,
    ...(routeConfig.managementBasePath ? { basePath: routeConfig.managementBasePath } : {}),
    logger: createLogger({ service: 'dualgate-keys', level: settings.logLevel }),
  });
}

export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  keysHandler ??= build();
  return keysHandler(event);
}
