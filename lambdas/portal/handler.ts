/**
 * The portal's function: serves the page (`GET /portal/`), its script and stylesheet (built into this bundle's
 * directory at package build time: lib/bundling.ts, PORTAL_ASSETS) and `config.json`, every response with the strict
 * CSP. It holds no secret and calls nothing: the page signs in with PKCE and calls the key API with the user's token.
 */
import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
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
function headersFor(config: PortalConfig, contentType: string): Record<string, string> {
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
export function servePortal(site: PortalSite, event: Pick<APIGatewayProxyEvent, 'httpMethod' | 'path' | 'pathParameters'>): APIGatewayProxyResult {
  const notFound = (status: number, message: string): APIGatewayProxyResult => ({ statusCode: status, headers: headersFor(site.config, 'application/json; charset=utf-8'), body: JSON.stringify({ message }) });
  if (event.httpMethod !== 'GET' && event.httpMethod !== 'HEAD') return notFound(405, 'the portal answers GET only');
  const asset = event.pathParameters?.['asset'];
  if (asset === undefined) {
    // `/portal` without its slash: the page's relative URLs (portal.js, config.json, ../keys) need the slash.
    if (!event.path.endsWith('/')) return { statusCode: 302, headers: { ...headersFor(site.config, 'text/plain; charset=utf-8'), location: 'portal/' }, body: '' };
    return { statusCode: 200, headers: headersFor(site.config, PORTAL_FILES['index.html'] as string), body: site.files.get('index.html') ?? '' };
  }
  if (asset === 'config.json') return { statusCode: 200, headers: headersFor(site.config, 'application/json; charset=utf-8'), body: JSON.stringify(site.config) };
  const contentType = Object.hasOwn(PORTAL_FILES, asset) && asset !== 'index.html' ? PORTAL_FILES[asset] : undefined;
  const body = contentType === undefined ? undefined : site.files.get(asset);
  if (contentType === undefined || body === undefined) return notFound(404, `no ${asset} in the portal`);
  return { statusCode: 200, headers: headersFor(site.config, contentType), body };
}

let site: PortalSite | undefined;

export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  site ??= {
    config: parsePortalConfig(process.env[PORTAL_CONFIG_VARIABLE]),
    files: new Map(Object.keys(PORTAL_FILES).map((file) => [file, readFileSync(new URL(`./${file}`, import.meta.url), 'utf8')])),
  };
  return servePortal(site, event);
}
