/**
 * `npm run dev`: the whole stack on this machine (dynalite, the mock OIDC issuer, the local gateway in
 * front of the real authorizer and handlers). Entry point only; the work is in lib/local/.
 *
 *   npm run dev                  in-memory key table
 *   npm run dev -- --data DIR    key table and issuer signing key persisted in DIR
 */
import { parseArgs } from 'node:util';
import { DualgateConfigError, revocationDelayBoundSeconds } from '../lib/config';
import { localConfigFromEnv, LOCAL_ENV } from '../lib/local/local-config';
import { SigningKeyFileError } from '../lib/local/issuer';
import { LocalStackError, startLocalStack, type LocalStack } from '../lib/local/local-stack';
import { SETTING_NAMES } from '../lambdas/shared/settings';

const USAGE = `usage: npm run dev [-- --data DIR]

  --data DIR   persist the key table and the issuer's signing key in DIR (default: in memory)

environment: ${LOCAL_ENV.gatewayPort} (3000), ${LOCAL_ENV.issuerPort} (3001), ${LOCAL_ENV.authorizerCacheTtlSeconds} (60),
  ${SETTING_NAMES.keyCacheTtlSeconds} (30), ${SETTING_NAMES.keyPrefix} (dg), ${SETTING_NAMES.logLevel} (INFO), ${LOCAL_ENV.stageName} (v1),
  ${LOCAL_ENV.issuers} (more issuers to trust, JSON), ${LOCAL_ENV.allowHttpIssuers} (true: http on loopback only),
  ${LOCAL_ENV.plans} (usage plans to emulate, JSON: {"plans":{"free":{"rateLimitPerSecond":5,"burstLimit":10}},"defaultPlan":"free"})`;

function fail(message: string): never {
  process.stderr.write(`dualgate local: ${message}\n`);
  process.exit(1);
}

function banner(stack: LocalStack): string {
  const { gatewayUrl, tokenUrl, issuerUrl, config } = stack;
  const json = `node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8"))`;
  return [
    '',
    `  gateway   ${gatewayUrl}`,
    `  issuer    ${issuerUrl}   (token endpoint ${tokenUrl}, JWKS ${stack.jwksUri})`,
    ...stack.externalIssuers.map((issuer) => `  issuer    ${issuer.issuer}   (from ${LOCAL_ENV.issuers}; aud ${(issuer.audience ?? issuer.clientIds ?? []).join(' ')})`),
    `  dynamodb  ${stack.dynamoEndpoint}   (table ${stack.tableName})${stack.dataDir ? `, data in ${stack.dataDir}` : ', in memory'}`,
    ...(stack.plans
      ? [
          `  plans     ${Object.entries(stack.plans.plans)
            .map(([name, plan]) => `${name} (${plan.rateLimitPerSecond}/s, burst ${plan.burstLimit}${plan.quota ? `, ${plan.quota.limit}/${plan.quota.period}` : ''})`)
            .join(', ')}; unassigned consumers: ${stack.plans.defaultPlan ? `share ${stack.plans.defaultPlan}` : 'stage throttle only'}; a plan change applies within ${revocationDelayBoundSeconds(config)}s${stack.dataDir ? '; counters kept in --data' : ''}`,
        ]
      : []),
    `  caches    authorizer ${config.authorizerCacheTtlSeconds}s + key ${config.keyCacheTtlSeconds}s: a revoked key stops working within ${revocationDelayBoundSeconds(config)}s`,
    '',
    '  Try it (copy and paste into a shell):',
    '',
    `  # 1. get an access token for client "local-admin" (any secret works)`,
    `  TOKEN=$(curl -s -u local-admin:secret ${tokenUrl} -d grant_type=client_credentials --data-urlencode 'scope=keys:read keys:write read:users' | ${json}.access_token')`,
    '',
    `  # 2. create an API key with that token`,
    `  KEY=$(curl -s -X POST ${gatewayUrl}/keys -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"name":"my first key","scopes":["read:users"]}' | ${json}.key')`,
    '',
    `  # 3. call /me with the token, then with the key: the same sub`,
    `  curl -s ${gatewayUrl}/me -H "Authorization: Bearer $TOKEN"; echo`,
    `  curl -s ${gatewayUrl}/me -H "Authorization: Bearer $KEY"; echo`,
    '',
    `  # or use the admin CLI: these two lines point it at local mode (client-credentials login, any secret)`,
    `  export DUALGATE_URL=${gatewayUrl}`,
    `  export DUALGATE_TOKEN_URL=${tokenUrl} DUALGATE_CLIENT_ID=local-admin DUALGATE_CLIENT_SECRET=secret`,
    `  npx dualgate --scope 'keys:read keys:write' keys list`,
    '',
    `dualgate local mode is ready at ${gatewayUrl} (Ctrl-C to stop)`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  let dataDir: string | undefined;
  try {
    const { values } = parseArgs({ options: { data: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return;
    }
    dataDir = values.data;
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`);
  }

  // The SDK warns on Node 20 about releases it has not shipped yet; local mode runs the locked version, so the
  // warning would only bury the banner. An explicit setting from the user still wins.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

  let stack: LocalStack;
  try {
    const config = localConfigFromEnv(process.env, dataDir ? { dataDir } : {});
    stack = await startLocalStack({ config });
  } catch (error) {
    if (error instanceof DualgateConfigError || error instanceof LocalStackError || error instanceof SigningKeyFileError) fail(error.message);
    fail(`could not start: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.stdout.write(banner(stack) + '\n');

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`dualgate local: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stdout.write(`\ndualgate local: ${signal} received, stopping...\n`);
    stack.stop().then(
      () => {
        process.stdout.write('dualgate local: stopped\n');
        process.exit(0);
      },
      (error: unknown) => fail(`error while stopping: ${error instanceof Error ? error.message : String(error)}`),
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

await main();
