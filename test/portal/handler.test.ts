import { describe, expect, it } from 'vitest';
import { PORTAL_FILES, servePortal, type PortalSite } from '../../lambdas/portal/handler';
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
const site: PortalSite = { config: parsePortalConfig(JSON.stringify(config)), files: new Map([['index.html', '<!doctype html>'], ['portal.js', 'void 0'], ['portal.css', 'body{}']]) };
const get = (path: string, asset?: string) => servePortal(site, { httpMethod: 'GET', path, pathParameters: asset === undefined ? null : { asset } });

describe('the portal function', () => {
  it('serves the page, its files and config.json, each with its type and the strict CSP', () => {
    expect(get('/portal/')).toMatchObject({ statusCode: 200, body: '<!doctype html>', headers: { 'content-type': PORTAL_FILES['index.html'] } });
    expect(get('/portal/portal.js', 'portal.js')).toMatchObject({ statusCode: 200, headers: { 'content-type': 'text/javascript; charset=utf-8' } });
    expect(JSON.parse(get('/portal/config.json', 'config.json').body)).toEqual(config);
    for (const response of [get('/portal/'), get('/portal/portal.css', 'portal.css'), get('/portal/x', 'index.html'), get('/portal/nope', 'nope')]) {
      expect(response.headers?.['content-security-policy']).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' https://cognito-idp.eu-west-1.amazonaws.com https://dualgate-x.auth.eu-west-1.amazoncognito.com; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
      );
      expect(response.headers).toMatchObject({ 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer', 'x-content-type-options': 'nosniff' });
    }
  });

  it('redirects /portal to portal/ (its relative links need the slash), answers 404 for other files and 405 for other verbs', () => {
    expect(get('/portal')).toMatchObject({ statusCode: 302, headers: { location: 'portal/' } });
    expect(get('/portal/index.html', 'index.html').statusCode).toBe(404);
    expect(get('/portal/..', '..').statusCode).toBe(404);
    expect(servePortal(site, { httpMethod: 'POST', path: '/portal/', pathParameters: null }).statusCode).toBe(405);
  });

  it('refuses a broken configuration at cold start, naming the field', () => {
    expect(() => parsePortalConfig(undefined)).toThrow(PortalConfigError);
    expect(() => parsePortalConfig(JSON.stringify({ ...config, issuer: 'javascript:alert(1)' }))).toThrow(/issuer must be an http\(s\) URL/);
    expect(() => parsePortalConfig(JSON.stringify({ ...config, keysPath: 'keys' }))).toThrow(/keysPath must be a path/);
    expect(contentSecurityPolicy({ issuer: 'http://127.0.0.1:3001' })).toContain("connect-src 'self' http://127.0.0.1:3001;");
  });
});
