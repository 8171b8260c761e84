/**
 * OIDC discovery for a portal whose issuer's endpoints are not configured: run once by the portal function at cold
 * start, so that the Content-Security-Policy can name the token endpoint's origin (often not the issuer's: Cognito's
 * is `<domain>.auth.<region>.amazoncognito.com`, Google's `oauth2.googleapis.com`) and the page never fetches the
 * discovery document itself.
 */
import type { PortalConfig } from './portal-config';

export class PortalDiscoveryError extends Error {
  override readonly name = 'PortalDiscoveryError';
}

/** How long the discovery request may take before the cold start gives up (and answers 503). */
const DISCOVERY_TIMEOUT_MS = 3000;

/** An endpoint the page may be sent to or fetch: https, or http only when the issuer itself is http (local mode). */
function endpoint(value: unknown, issuer: string, field: string): string {
  const fail = (): never => {
    throw new PortalDiscoveryError(
      `OIDC discovery at ${issuer}: ${field} is missing or not an ${new URL(issuer).protocol === 'http:' ? 'http(s)' : 'https'} URL`,
    );
  };
  if (typeof value !== 'string') return fail();
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail();
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && new URL(issuer).protocol === 'http:')) fail();
  return value;
}

/**
 * The config with `authorizationEndpoint` and `tokenEndpoint` filled from the issuer's discovery document (as is when
 * both are given). Throws PortalDiscoveryError, naming the issuer and what went wrong, when the document cannot be
 * fetched, is not JSON, names another issuer or lacks an endpoint.
 */
export async function withDiscoveredEndpoints(
  config: PortalConfig,
  fetchImpl: typeof fetch = fetch,
  timeoutMs = DISCOVERY_TIMEOUT_MS,
): Promise<PortalConfig> {
  if (config.authorizationEndpoint !== undefined && config.tokenEndpoint !== undefined) return config;
  const url = `${config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let document: Record<string, unknown>;
  try {
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (!response.ok) throw new PortalDiscoveryError(`OIDC discovery at ${url} answered ${response.status}`);
    document = (await response.json()) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof PortalDiscoveryError) throw error;
    throw new PortalDiscoveryError(`OIDC discovery at ${url} failed: ${(error as Error).message}`);
  }
  if (document === null || typeof document !== 'object') throw new PortalDiscoveryError(`OIDC discovery at ${url}: not a JSON object`);
  if (document['issuer'] !== config.issuer)
    throw new PortalDiscoveryError(`OIDC discovery at ${url}: issuer ${JSON.stringify(document['issuer'])} is not ${config.issuer}`);
  return {
    ...config,
    authorizationEndpoint:
      config.authorizationEndpoint ?? endpoint(document['authorization_endpoint'], config.issuer, 'authorization_endpoint'),
    tokenEndpoint: config.tokenEndpoint ?? endpoint(document['token_endpoint'], config.issuer, 'token_endpoint'),
  };
}
