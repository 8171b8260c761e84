import { afterEach, describe, expect, it, vi } from 'vitest';
import { PortalDiscoveryError, withDiscoveredEndpoints } from '../../lambdas/portal/discovery';
import { PORTAL_FILES, servePortal, type PortalSite } from '../../lambdas/portal/handler';
import { PORTAL_CONFIG_VARIABLE } from '../../lambdas/portal/portal-config';
import { contentSecurityPolicy, parsePortalConfig, PortalConfigError } from '../../lambdas/portal/portal-config';

const config = {
  issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc',
  clientId: 'portal-client',
  scopes: ['openid', 'dualgate/keys:read', 'dualgate/keys:write'],
  authorizationEndpoint: 'https://dualgate-x.auth.eu-west-1.amazoncognito.com/oauth2/authorize',
  tokenEndpoint: 'https://dualgate-x.auth.eu-west-1.amazoncognito.com/oauth2/token',
  logoutEndpoint: 'https://dualgate-x.auth.eu-west-1.amazoncognito.com/logout',
  keysPath: '/keys',
  consumersPath: '/consumers',
  adminScope: 'keys:admin',
  scopePrefix: 'dualgate/',
  plans: false,
};
const site: PortalSite = {
  config: parsePortalConfig(JSON.stringify(config)),
  files: new Map([
    ['index.html', '<!doctype html>'],
    ['portal.js', 'void 0'],
    ['portal.css', 'body{}'],
  ]),
};
const get = (path: string, asset?: string) =>
  servePortal(site, { httpMethod: 'GET', path, pathParameters: asset === undefined ? null : { asset } });

describe('the portal function', () => {
  it('serves the page, its files and config.json, each with its type and the strict CSP', () => {
    expect(get('/portal/')).toMatchObject({
      statusCode: 200,
      body: '<!doctype html>',
      headers: { 'content-type': PORTAL_FILES['index.html'] },
    });
    expect(get('/portal/portal.js', 'portal.js')).toMatchObject({
      statusCode: 200,
      headers: { 'content-type': 'text/javascript; charset=utf-8' },
    });
    expect(JSON.parse(get('/portal/config.json', 'config.json').body)).toEqual(config);
    for (const response of [
      get('/portal/'),
      get('/portal/portal.css', 'portal.css'),
      get('/portal/x', 'index.html'),
      get('/portal/nope', 'nope'),
    ]) {
      expect(response.headers?.['content-security-policy']).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' https://dualgate-x.auth.eu-west-1.amazoncognito.com; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
      );
      expect(response.headers).toMatchObject({
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'x-content-type-options': 'nosniff',
      });
    }
  });

  it('redirects /portal to portal/ (its relative links need the slash), answers 404 for other files and 405 for other verbs', () => {
    expect(get('/portal')).toMatchObject({ statusCode: 302, headers: { location: 'portal/' } });
    expect(get('/portal/index.html', 'index.html').statusCode).toBe(404);
    expect(get('/portal/..', '..').statusCode).toBe(404);
    // Deeper paths reach the function through the greedy route: its 404 carries the CSP and the other headers.
    expect(get('/portal/a/b', 'a/b')).toMatchObject({
      statusCode: 404,
      headers: { 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff' },
    });
    expect(get('/portal/a/b', 'a/b').headers?.['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(servePortal(site, { httpMethod: 'POST', path: '/portal/', pathParameters: null }).statusCode).toBe(405);
  });

  it('refuses a broken configuration at cold start, naming the field', () => {
    expect(() => parsePortalConfig(undefined)).toThrow(PortalConfigError);
    expect(() => parsePortalConfig(JSON.stringify({ ...config, issuer: 'javascript:alert(1)' }))).toThrow(
      /issuer must be an http\(s\) URL/,
    );
    expect(() => parsePortalConfig(JSON.stringify({ ...config, keysPath: 'keys' }))).toThrow(/keysPath must be a path/);
    expect(contentSecurityPolicy({ tokenEndpoint: 'http://127.0.0.1:3001/token' })).toContain("connect-src 'self' http://127.0.0.1:3001;");
    expect(contentSecurityPolicy({})).toContain("connect-src 'self';");
  });
});

describe('an issuer without configured endpoints (portal.oidc with discovery)', () => {
  const google = {
    ...config,
    issuer: 'https://accounts.google.com',
    authorizationEndpoint: undefined,
    tokenEndpoint: undefined,
    logoutEndpoint: undefined,
    scopePrefix: undefined,
  };
  const discovered = parsePortalConfig(JSON.stringify(google));
  const documentFetch = (document: unknown, status = 200) =>
    vi.fn(
      async (_url: string | URL | Request) =>
        new Response(JSON.stringify(document), { status, headers: { 'content-type': 'application/json' } }),
    ) as unknown as typeof fetch & ReturnType<typeof vi.fn>;
  const googleDocument = {
    issuer: 'https://accounts.google.com',
    authorization_endpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
    token_endpoint: 'https://oauth2.googleapis.com/token',
  };

  afterEach(() => {
    vi.unstubAllGlobals();
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('fills the endpoints in from the discovery document, so the CSP names the token endpoint on its own origin', async () => {
    const fetchImpl = documentFetch(googleDocument);
    const filled = await withDiscoveredEndpoints(discovered, fetchImpl);
    expect(fetchImpl.mock.calls[0]?.[0]).toBe('https://accounts.google.com/.well-known/openid-configuration');
    expect(filled).toMatchObject({
      authorizationEndpoint: googleDocument.authorization_endpoint,
      tokenEndpoint: googleDocument.token_endpoint,
    });
    const served = servePortal({ config: filled, files: site.files }, { httpMethod: 'GET', path: '/portal/', pathParameters: null });
    expect(served.headers?.['content-security-policy']).toContain("connect-src 'self' https://oauth2.googleapis.com;");
    expect(
      JSON.parse(
        servePortal(
          { config: filled, files: site.files },
          { httpMethod: 'GET', path: '/portal/config.json', pathParameters: { asset: 'config.json' } },
        ).body,
      ),
    ).toMatchObject({ tokenEndpoint: 'https://oauth2.googleapis.com/token' });
  });

  it('runs no discovery when both endpoints are given', async () => {
    const fetchImpl = documentFetch(googleDocument);
    expect(await withDiscoveredEndpoints(site.config, fetchImpl)).toBe(site.config);
    expect(fetchImpl).not.toHaveBeenCalled();
  });

  it('refuses a document that names another issuer, lacks an endpoint, gives a non-https one, or fails', async () => {
    await expect(withDiscoveredEndpoints(discovered, documentFetch({ ...googleDocument, issuer: 'https://evil.example' }))).rejects.toThrow(
      /issuer "https:\/\/evil.example" is not https:\/\/accounts.google.com/,
    );
    await expect(withDiscoveredEndpoints(discovered, documentFetch({ ...googleDocument, token_endpoint: undefined }))).rejects.toThrow(
      /token_endpoint is missing or not an https URL/,
    );
    await expect(
      withDiscoveredEndpoints(discovered, documentFetch({ ...googleDocument, token_endpoint: 'http://oauth2.googleapis.com/token' })),
    ).rejects.toThrow(PortalDiscoveryError);
    await expect(withDiscoveredEndpoints(discovered, documentFetch({}, 500))).rejects.toThrow(/answered 500/);
    await expect(
      withDiscoveredEndpoints(discovered, vi.fn(async () => Promise.reject(new TypeError('fetch failed'))) as unknown as typeof fetch),
    ).rejects.toThrow(/failed: fetch failed/);
  });

  it('the function fails closed: 503 with an error page under the strict CSP (no outside origin) while discovery fails', async () => {
    vi.stubEnv(PORTAL_CONFIG_VARIABLE, JSON.stringify(google));
    vi.stubGlobal('fetch', documentFetch({}, 502));
    const { handler } = await import('../../lambdas/portal/handler');
    for (const path of ['/portal/', '/portal/config.json']) {
      const response = await handler({
        httpMethod: 'GET',
        path,
        pathParameters: path.endsWith('json') ? { asset: 'config.json' } : null,
      } as never);
      expect(response.statusCode).toBe(503);
      expect(response.headers).toMatchObject({
        'content-type': 'text/html; charset=utf-8',
        'x-frame-options': 'DENY',
        'retry-after': '10',
      });
      expect(response.headers?.['content-security-policy']).toContain("connect-src 'self';");
      expect(response.body).toContain('Developer portal unavailable');
      expect(response.body).toContain('OIDC discovery at https://accounts.google.com/.well-known/openid-configuration answered 502');
    }
  });
});
