/**
 * Lambda entry point for POST /leaks/github: wiring only. Everything is built once per container, on the first
 * invocation: the DynamoDB client, the cached GitHub key document and its bounded fetcher (the authorizer's JWKS
 * fetcher: timeout, size cap, no redirects, circuit breaker), and the SNS notifier when a topic is configured.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { JwksFetcher } from '../authorizer/jwks-fetcher';
import { LEAK_SERVICE } from '../shared/emf';
import { createDynamoClient } from '../shared/key-store';
import { createLogger } from '../shared/logger';
import { createLeakHandler, type LeakHandler } from './endpoint';
import { GithubKeyCache } from './github-keys';
import { DynamoLeakStore } from './leak-store';
import { readLeakSettings } from './leak-settings';
import { SnsLeakNotifier } from './sns-publisher';

/** GitHub's REST API refuses requests without a User-Agent. */
export const GITHUB_KEYS_USER_AGENT = 'dualgate-leak-detection';

let leakHandler: LeakHandler | undefined;

function build(): LeakHandler {
  const settings = readLeakSettings();
  const logger = createLogger({ service: LEAK_SERVICE, level: settings.logLevel });
  const fetcher = new JwksFetcher({
    timeoutMs: 3000,
    maxBodyBytes: 64 * 1024,
    allowHttp: settings.githubKeysUrlIsHttp,
    headers: { 'user-agent': GITHUB_KEYS_USER_AGENT },
  });
  // Off the authorizer's hot path: the SDK's usual patience, as for the key API.
  const client = createDynamoClient({
    ...(settings.dynamoEndpoint ? { endpoint: settings.dynamoEndpoint } : {}),
    requestTimeoutMs: 2000,
    maxAttempts: 3,
  });
  return createLeakHandler({
    githubKeys: new GithubKeyCache(settings.githubKeysUrl, fetcher, {
      cacheTtlMs: settings.githubKeysCacheTtlSeconds * 1000,
      refetchIntervalMs: settings.githubKeysRefetchIntervalSeconds * 1000,
      logger,
    }),
    store: new DynamoLeakStore(client, settings.tableName),
    ...(settings.topicArn ? { notifier: new SnsLeakNotifier(settings.topicArn) } : {}),
    keyPrefix: settings.keyPrefix,
    action: settings.action,
    logger,
    nowMs: Date.now,
  });
}

export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  leakHandler ??= build();
  return leakHandler(event);
}
