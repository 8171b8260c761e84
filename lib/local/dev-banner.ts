/**
 * What `dualgate dev` prints when it is ready: where everything listens, every route with its method, scopes and
 * what answers it (as `sam local start-api`'s "Mounting …" lines), unresolved variables, and copy-paste lines.
 */
import type { IssuerConfig } from '../../lambdas/core/issuer-config';
import type { DevServer, ServedApi, ServedRoute } from './dev-server';
import { LOCAL_ENV } from './local-config';
import { ALLOW_HOST_FLAG } from './loopback-guard';

/** Who may call a route: `open`, `any caller` (authenticated, no scope), its scopes, or its own authorization (`AWS_IAM`). */
function access(route: ServedRoute): string {
  if (route.foreignAuthorization) return route.foreignAuthorization;
  if (!route.authorized) return 'open';
  return route.scopes.length === 0 ? 'any caller' : route.scopes.join(' ');
}

/** One line per route, in columns: `GET    /orders/{orderId}   read:orders   OrdersApp/OrdersReader`. */
function routeLines(api: Pick<ServedApi, 'routes'>, indent = '    '): string[] {
  const rows = api.routes.map((route) => [route.method, route.path, access(route), route.target] as const);
  const width = (column: 0 | 1 | 2) => Math.min(48, Math.max(0, ...rows.map((row) => row[column].length)));
  const widths = [width(0), width(1), width(2)] as const;
  return rows.map((row) =>
    `${indent}${row[0].padEnd(widths[0])}  ${row[1].padEnd(widths[1])}  ${row[2].padEnd(widths[2])}  ${row[3]}`.trimEnd(),
  );
}

/** The routes a reload added and removed, as `+ GET /hello …` and `- GET /old …` lines. */
export function routeChanges(before: readonly ServedApi[], after: readonly ServedApi[]): string[] {
  const key = (api: ServedApi, route: ServedRoute) =>
    `${api.stackName}/${api.logicalId} ${route.method} ${route.path} ${access(route)} ${route.target}`;
  const described = (apis: readonly ServedApi[]) =>
    new Map(
      apis.flatMap((api) =>
        api.routes.map((route, index) => [key(api, route), routeLines({ routes: api.routes })[index]?.trim() ?? ''] as const),
      ),
    );
  const old = described(before);
  const now = described(after);
  return [
    ...[...now].filter(([name]) => !old.has(name)).map(([, line]) => `  + ${line}`),
    ...[...old].filter(([name]) => !now.has(name)).map(([, line]) => `  - ${line}`),
  ];
}

/** A GET route without parameters to show off: `/me` when the app has it, else the first one that needs scopes. */
function exampleRoute(server: DevServer): { path: string; scopes: string[] } {
  const table = server.apis[0]!.routeTable;
  const candidates = table.filter(
    (route) => route.method === 'GET' && !route.path.includes('{') && !route.scopes.some((scope) => scope.startsWith('keys:')),
  );
  const chosen = candidates.find((route) => route.path === '/me') ?? candidates.find((route) => route.scopes.length > 0) ?? candidates[0];
  // Scopes for the token and the key: every scope of those example routes, so both calls succeed.
  const scopes = [...new Set(candidates.flatMap((route) => route.scopes))].sort();
  return { path: chosen?.path ?? '/keys', scopes: chosen ? scopes : [] };
}

export function banner(
  server: DevServer,
  dataDir: string | undefined,
  externalIssuers: readonly IssuerConfig[],
  allowedHosts: readonly string[],
): string {
  const json = `node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8"))`;
  const { issuer } = server;
  const lines = [''];
  for (const api of server.apis)
    lines.push(`  gateway   ${api.url}   (${api.stackName}/${api.logicalId}, stage ${api.stageName}, key prefix ${api.keyPrefix})`);
  lines.push(`  issuer    ${issuer.url}   (token endpoint ${issuer.tokenUrl}, JWKS ${issuer.jwksUri})`);
  for (const external of externalIssuers)
    lines.push(
      `  issuer    ${external.issuer}   (from ${LOCAL_ENV.issuers}; aud ${(external.audience ?? external.clientIds ?? []).join(' ')})`,
    );
  lines.push(
    `  dynamodb  ${server.dynamo.endpoint}   (tables ${server.apis.map((api) => api.tableName).join(', ')})${dataDir ? `, data in ${dataDir}` : ', in memory'}`,
  );
  const first = server.apis[0]!;
  lines.push(
    `  caches    authorizer ${first.authorizerCacheTtlSeconds}s + key ${first.keyCacheTtlSeconds}s: a revoked key stops working within ${first.authorizerCacheTtlSeconds + first.keyCacheTtlSeconds}s`,
  );
  for (const api of server.apis) {
    if (api.portalUrl) lines.push(`  portal    ${api.portalUrl}   (developer portal: sign in with any username at the local issuer)`);
  }
  for (const api of server.apis) {
    if (!api.leakDetection) continue;
    const { path, githubKeysUrl, action } = api.leakDetection;
    lines.push(
      `  leaks     POST ${api.url}${path}   (GitHub secret scanning; keys from ${githubKeysUrl} (${LOCAL_ENV.githubKeysUrl}); action ${action}; SNS not emulated: see the audit lines)`,
    );
  }
  for (const api of server.apis) {
    if (!api.plans) continue;
    const described = Object.entries(api.plans.plans).map(
      ([name, plan]) =>
        `${name} (${plan.rateLimitPerSecond}/s, burst ${plan.burstLimit}${plan.quota ? `, ${plan.quota.limit}/${plan.quota.period}` : ''})`,
    );
    const unassigned = api.plans.defaultPlan ? `share ${api.plans.defaultPlan}` : 'stage throttle only';
    lines.push(
      `  plans     ${described.join(', ')}; unassigned consumers: ${unassigned}; a plan change applies within ${api.authorizerCacheTtlSeconds + api.keyCacheTtlSeconds}s${dataDir ? '; counters kept in --data' : ''}${api.usagePlans ? `; control plane ${api.usagePlans.endpoint}` : ''}`,
    );
  }
  if (allowedHosts.length > 0)
    lines.push(
      `  hosts     localhost, 127.0.0.1, [::1] and ${allowedHosts.join(', ')} (${ALLOW_HOST_FLAG}, ${LOCAL_ENV.allowedHosts}); any other Host is refused`,
    );
  for (const skipped of server.skippedApis) lines.push(`  skipped   ${skipped}: not a DualAuthApi`);
  for (const api of server.apis) {
    lines.push('', `  routes of ${api.stackName}/${api.logicalId} (${api.url}):`, ...routeLines(api));
  }
  for (const api of server.apis)
    for (const method of api.notServed) lines.push(`  not served locally (501)  ${method.method} ${method.path}: ${method.why}`);
  if (server.unresolved.length > 0) {
    lines.push('', '  Unresolved variables (they name AWS resources that exist only once deployed; supply values with --env-file):');
    for (const entry of server.unresolved)
      lines.push(`    ${entry.functionPath ?? entry.functionId}  ${entry.variable}  → ${entry.references}  = "${entry.placeholder}"`);
  }
  const example = exampleRoute(server);
  const tokenScopes = ['keys:read', 'keys:write', ...example.scopes].join(' ');
  lines.push(
    '',
    '  Try it (copy and paste into a shell):',
    '',
    `  # 1. get an access token for client "local-admin" (any secret works)`,
    `  TOKEN=$(curl -s -u local-admin:secret ${issuer.tokenUrl} -d grant_type=client_credentials --data-urlencode 'scope=${tokenScopes}' | ${json}.access_token')`,
    '',
    `  # 2. create an API key with that token`,
    `  KEY=$(curl -s -X POST ${first.url}/keys -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"name":"my first key","scopes":${JSON.stringify(example.scopes)}}' | ${json}.key')`,
    '',
    `  # 3. call ${example.path} with the token, then with the key: the same sub`,
    `  curl -s ${first.url}${example.path} -H "Authorization: Bearer $TOKEN"; echo`,
    `  curl -s ${first.url}${example.path} -H "Authorization: Bearer $KEY"; echo`,
    '',
    `  # or use the admin CLI: these two lines point it at local mode (client-credentials login, any secret)`,
    `  export DUALGATE_URL=${first.url}`,
    `  export DUALGATE_TOKEN_URL=${issuer.tokenUrl} DUALGATE_CLIENT_ID=local-admin DUALGATE_CLIENT_SECRET=secret`,
    `  npx dualgate --scope 'keys:read keys:write' keys list`,
    '',
    `dualgate local mode is ready at ${first.url} (Ctrl-C to stop)`,
    '',
  );
  return lines.join('\n');
}
