/**
 * Where the end-to-end suite runs: local mode booted in this process on free ports (the default), or a
 * deployed stack when DUALGATE_E2E_URL is set (the post-deploy smoke test). Tests talk to either only over
 * HTTP. Against a deployed stack the cache TTLs are whatever the stack was deployed with, so tests that
 * wait for a cache to expire need them passed in, and skip with a stated reason otherwise.
 *
 * Deployed-stack variables:
 *   DUALGATE_E2E_URL                     the stage URL, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/v1
 *   DUALGATE_E2E_TOKEN_URL               the OAuth token endpoint (the stack's TokenUrl output)
 *   DUALGATE_E2E_CLIENT_ID / _SECRET     a client-credentials app client allowed every catalog scope
 *   DUALGATE_E2E_SCOPE_PREFIX            prefix the issuer puts on scopes (Cognito: `<resource-server-id>/`)
 *   DUALGATE_E2E_AUTHORIZER_CACHE_TTL_SECONDS, DUALGATE_E2E_KEY_CACHE_TTL_SECONDS
 *                                        the deployed TTLs; without them the revocation, expiry and rotation
 *                                        timing tests are skipped
 */
import { startDevServer } from '../../lib/local/dev-server';
import type { AccessLogEntry } from '../../lib/local/gateway';
import { DEFAULT_LOCAL_AUDIENCE } from '../../lib/local/local-config';
import { demoAssembly } from './prepared';

export interface E2eTarget {
  kind: 'local' | 'deployed';
  baseUrl: string;
  /** The `sub` a token from `token()` carries: the client id. */
  clientId: string;
  /** An access token holding exactly these scopes. */
  token(scopes: readonly string[]): Promise<string>;
  /** Worst-case seconds from a revocation to rejection (authorizer cache + key cache); undefined when unknown. */
  revocationDelaySeconds: number | undefined;
  /** Every log line local mode wrote (access log and authorizer); empty against a deployed stack. */
  logLines: string[];
  stop(): Promise<void>;
}

/** Small TTLs so time-based tests take seconds, not minutes. */
export const LOCAL_TEST_TTLS = { authorizerCacheTtlSeconds: 2, keyCacheTtlSeconds: 1 } as const;
const LOCAL_CLIENT_ID = 'e2e-client';

async function fetchToken(tokenUrl: string, clientId: string, clientSecret: string, scopes: readonly string[]): Promise<string> {
  const response = await fetch(tokenUrl, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: scopes.join(' ') }).toString(),
  });
  const body = (await response.json()) as { access_token?: string; error?: string };
  if (!response.ok || !body.access_token) throw new Error(`token request failed: ${response.status} ${body.error ?? ''}`);
  return body.access_token;
}

function optionalSeconds(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer`);
  return value;
}

export function isDeployedTarget(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env['DUALGATE_E2E_URL']);
}

export async function startE2eTarget(env: NodeJS.ProcessEnv = process.env): Promise<E2eTarget> {
  if (isDeployedTarget(env)) {
    const required = ['DUALGATE_E2E_URL', 'DUALGATE_E2E_TOKEN_URL', 'DUALGATE_E2E_CLIENT_ID', 'DUALGATE_E2E_CLIENT_SECRET'];
    const missing = required.filter((name) => !env[name]);
    if (missing.length > 0) throw new Error(`deployed-stack e2e run needs ${missing.join(', ')}`);
    const prefix = env['DUALGATE_E2E_SCOPE_PREFIX'] ?? '';
    const authorizerTtl = optionalSeconds(env, 'DUALGATE_E2E_AUTHORIZER_CACHE_TTL_SECONDS');
    const keyTtl = optionalSeconds(env, 'DUALGATE_E2E_KEY_CACHE_TTL_SECONDS');
    const clientId = env['DUALGATE_E2E_CLIENT_ID'] as string;
    return {
      kind: 'deployed',
      baseUrl: (env['DUALGATE_E2E_URL'] as string).replace(/\/$/, ''),
      clientId,
      token: (scopes) =>
        fetchToken(
          env['DUALGATE_E2E_TOKEN_URL'] as string,
          clientId,
          env['DUALGATE_E2E_CLIENT_SECRET'] as string,
          scopes.map((scope) => prefix + scope),
        ),
      revocationDelaySeconds: authorizerTtl !== undefined && keyTtl !== undefined ? authorizerTtl + keyTtl : undefined,
      logLines: [],
      stop: async () => undefined,
    };
  }
  const logLines: string[] = [];
  // What `npm run dev` serves: the demo app's cloud assembly, with small cache TTLs (as DUALGATE_* variables would set them).
  const server = await startDevServer({
    assemblyDir: demoAssembly(),
    gatewayPort: 0,
    issuerPort: 0,
    audience: DEFAULT_LOCAL_AUDIENCE,
    authorizerCacheTtlSeconds: LOCAL_TEST_TTLS.authorizerCacheTtlSeconds,
    settingOverrides: {
      DUALGATE_KEY_CACHE_TTL_SECONDS: String(LOCAL_TEST_TTLS.keyCacheTtlSeconds),
      DUALGATE_NEGATIVE_KEY_CACHE_TTL_SECONDS: '1',
      LOG_LEVEL: 'DEBUG',
    },
    accessLog: (entry: AccessLogEntry) => logLines.push(JSON.stringify(entry)),
    functionOutput: (line) => logLines.push(line),
  });
  return {
    kind: 'local',
    baseUrl: server.apis[0]!.url,
    clientId: LOCAL_CLIENT_ID,
    token: (scopes) => fetchToken(server.issuer.tokenUrl, LOCAL_CLIENT_ID, 'any-secret', scopes),
    revocationDelaySeconds: LOCAL_TEST_TTLS.authorizerCacheTtlSeconds + LOCAL_TEST_TTLS.keyCacheTtlSeconds,
    logLines,
    stop: () => server.stop(),
  };
}
