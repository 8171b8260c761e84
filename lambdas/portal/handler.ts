/**
 * The portal's function: serves the page (`GET /portal/`), its script and stylesheet (built into this bundle's
 * directory at package build time: lib/build/bundling.ts, PORTAL_ASSETS) and `config.json`, every response with the strict
 * CSP. It holds no secret; its one outbound call is OIDC discovery at cold start when the issuer's endpoints are not
 * configured (discovery.ts). The page signs in with PKCE and calls the key API with the user's token.
 */
import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createLogger, errorFields } from '../shared/logger';
import { PortalDiscoveryError, withDiscoveredEndpoints } from './discovery';
import { contentSecurityPolicy, parsePortalConfig, PORTAL_CONFIG_VARIABLE, type PortalConfig } from './portal-config';

/** The files beside this bundle, and their content types. */
export const PORTAL_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'portal.js': 'text/javascript; charset=utf-8',
  'portal.css': 'text/css; charset=utf-8',
};

export interface PortalSite {
  config: PortalConfig;
  /** File name → contents (index.html, portal.js, portal.css). */
  files: ReadonlyMap<string, string>;
}

/** Security headers on every answer, errors included. */
function headersFor(config: Pick<PortalConfig, 'tokenEndpoint'>, contentType: string): Record<string, string> {
  return {
    'content-type': contentType,
    'content-security-policy': contentSecurityPolicy(config),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    // The sign-in callback carries the authorization code in its URL: never send it on as a Referer.
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cache-control': 'no-store',
  };
}

/** Pure: the answer to one request. */
export function servePortal(
  site: PortalSite,
  event: Pick<APIGatewayProxyEvent, 'httpMethod' | 'path' | 'pathParameters'>,
): APIGatewayProxyResult {
  const notFound = (status: number, message: string): APIGatewayProxyResult => ({
    statusCode: status,
    headers: headersFor(site.config, 'application/json; charset=utf-8'),
    body: JSON.stringify({ message }),
  });
  if (event.httpMethod !== 'GET' && event.httpMethod !== 'HEAD') return notFound(405, 'the portal answers GET only');
  const asset = event.pathParameters?.['asset'];
  if (asset === undefined) {
    // `/portal` without its slash: the page's relative URLs (portal.js, config.json, ../keys) need the slash.
    if (!event.path.endsWith('/'))
      return { statusCode: 302, headers: { ...headersFor(site.config, 'text/plain; charset=utf-8'), location: 'portal/' }, body: '' };
    return {
      statusCode: 200,
      headers: headersFor(site.config, PORTAL_FILES['index.html'] as string),
      body: site.files.get('index.html') ?? '',
    };
  }
  if (asset === 'config.json')
    return { statusCode: 200, headers: headersFor(site.config, 'application/json; charset=utf-8'), body: JSON.stringify(site.config) };
  const contentType = Object.hasOwn(PORTAL_FILES, asset) && asset !== 'index.html' ? PORTAL_FILES[asset] : undefined;
  const body = contentType === undefined ? undefined : site.files.get(asset);
  if (contentType === undefined || body === undefined) return notFound(404, `no ${asset} in the portal`);
  return { statusCode: 200, headers: headersFor(site.config, contentType), body };
}

/** The answer while the issuer's endpoints cannot be found: the page could not sign in, so it is not served. */
function unavailable(message: string): APIGatewayProxyResult {
  const escaped = message.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return {
    statusCode: 503,
    headers: { ...headersFor({}, 'text/html; charset=utf-8'), 'retry-after': String(DISCOVERY_RETRY_SECONDS) },
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Developer portal unavailable</title></head><body><h1>Developer portal unavailable</h1><p>The portal cannot sign anyone in: ${escaped}</p><p>Try again in a minute; if this persists, tell the API's operator.</p></body></html>`,
  };
}

/** After a failed discovery, the next cold-start attempt waits this long (each request in between answers 503). */
const DISCOVERY_RETRY_SECONDS = 10;

let site: PortalSite | undefined;
const logger = createLogger({ service: 'dualgate-portal' });
let failure: { message: string; untilMs: number } | undefined;

export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  if (site === undefined) {
    if (failure !== undefined && Date.now() < failure.untilMs) return unavailable(failure.message);
    // A broken configuration (the construct's or local mode's) throws: that is a deployment bug, not an outage.
    const configured = parsePortalConfig(process.env[PORTAL_CONFIG_VARIABLE]);
    let config: PortalConfig;
    try {
      config = await withDiscoveredEndpoints(configured);
    } catch (error) {
      if (!(error instanceof PortalDiscoveryError)) throw error;
      failure = { message: error.message, untilMs: Date.now() + DISCOVERY_RETRY_SECONDS * 1000 };
      logger.error('portal discovery failed', { reason: 'portal_discovery_failed', ...errorFields(error) });
      return unavailable(error.message);
    }
    failure = undefined;
    site = {
      config,
      files: new Map(Object.keys(PORTAL_FILES).map((file) => [file, readFileSync(new URL(`./${file}`, import.meta.url), 'utf8')])),
    };
  }
  return servePortal(site, event);
}
