/**
 * The local issuer's interactive sign-in (authorization code + PKCE S256) over real HTTP, as the portal uses it:
 * the sign-in page, the redirect with code and state, the one-time code redeemed against the verifier, the id token's
 * nonce and audience, no open redirect (the portal URL exactly), only the scopes the portal asks for (the admin scope
 * to configured admins alone), and CORS only for the portal's origin on the code grant.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalIssuer, type LocalIssuer } from '../../lib/local/issuer';
import {
  AuthorizationCodes,
  AuthorizationPageError,
  AuthorizationRedirectError,
  parseAuthorizationRequest,
  type PortalClient,
} from '../../lib/local/issuer-sign-in';

const PORTAL_ORIGIN = 'http://127.0.0.1:3999';
const REDIRECT = `${PORTAL_ORIGIN}/portal/`;
const CATALOG = ['keys:admin', 'keys:read', 'keys:write', 'read:orders', 'write:orders'];
const PORTAL: PortalClient = {
  clientId: 'dualgate-portal',
  redirectUris: [REDIRECT],
  scopes: ['openid', 'keys:read', 'keys:write'],
  adminScope: 'keys:admin',
  admins: ['root'],
};
const decodeJwt = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

function authorizeParams(challenge: string, overrides: Record<string, string> = {}): URLSearchParams {
  return new URLSearchParams({
    response_type: 'code',
    client_id: 'dualgate-portal',
    redirect_uri: REDIRECT,
    scope: 'openid keys:read keys:write',
    state: 'st-123',
    nonce: 'n-456',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...overrides,
  });
}

let issuer: LocalIssuer;
beforeAll(async () => {
  issuer = await startLocalIssuer({ host: '127.0.0.1', port: 0, audience: 'dualgate-local', scopeCatalog: CATALOG });
  issuer.setPortals([PORTAL]);
});
afterAll(async () => {
  await issuer?.stop();
});

/** Sign in as `username` through the page's form; returns the redirect's query. */
async function signIn(
  username: string,
  challenge: string,
  overrides: Record<string, string> = {},
): Promise<{ status: number; location: URL | undefined; body: string }> {
  const form = authorizeParams(challenge, overrides);
  form.set('username', username);
  const response = await fetch(`${issuer.url}/authorize`, {
    method: 'POST',
    body: form,
    redirect: 'manual',
    headers: { origin: issuer.url },
  });
  const location = response.headers.get('location');
  return { status: response.status, location: location ? new URL(location) : undefined, body: await response.text() };
}

async function redeem(code: string, verifier: string, overrides: Record<string, string> = {}) {
  const response = await fetch(`${issuer.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: PORTAL_ORIGIN },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: 'dualgate-portal',
      code_verifier: verifier,
      ...overrides,
    }),
  });
  return {
    status: response.status,
    cors: response.headers.get('access-control-allow-origin'),
    json: (await response.json()) as Record<string, string>,
  };
}

describe('the sign-in page and the code flow', () => {
  it('shows a form with a Username box and a Sign in button, without script, carrying the request in hidden fields', async () => {
    const response = await fetch(`${issuer.url}/authorize?${authorizeParams(pkce().challenge).toString()}`);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('<label for="username">Username</label>');
    expect(html).toContain('<button type="submit">Sign in</button>');
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('name="state" value="st-123"');
    expect(response.headers.get('content-security-policy')).toBe(
      `default-src 'none'; img-src data:; form-action 'self' ${PORTAL_ORIGIN}; frame-ancestors 'none'; base-uri 'none'`,
    );
  });

  it('redirects back with code, state and iss; the code gives an access token for the username and an id token with the nonce', async () => {
    const { verifier, challenge } = pkce();
    const back = await signIn('ada', challenge);
    expect(back.status).toBe(302);
    expect(back.location?.origin + (back.location?.pathname ?? '')).toBe(REDIRECT);
    expect(back.location?.searchParams.get('state')).toBe('st-123');
    expect(back.location?.searchParams.get('iss')).toBe(issuer.url);
    const code = back.location?.searchParams.get('code') ?? '';
    const tokens = await redeem(code, verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.cors).toBe(PORTAL_ORIGIN);
    expect(decodeJwt(tokens.json['access_token'] ?? '')).toMatchObject({
      sub: 'ada',
      aud: 'dualgate-local',
      client_id: 'dualgate-portal',
      scope: 'keys:read keys:write',
      iss: issuer.url,
    });
    expect(decodeJwt(tokens.json['id_token'] ?? '')).toMatchObject({ sub: 'ada', aud: 'dualgate-portal', nonce: 'n-456', iss: issuer.url });
    // One use only.
    expect((await redeem(code, verifier)).json).toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses a wrong verifier, another client or another redirect URI, and the code is spent by the attempt', async () => {
    const { verifier, challenge } = pkce();
    const cases: Record<string, string>[] = [
      { code_verifier: pkce().verifier },
      { client_id: 'other' },
      { redirect_uri: `${PORTAL_ORIGIN}/elsewhere/` },
    ];
    for (const overrides of cases) {
      const code = (await signIn('ada', challenge)).location?.searchParams.get('code') ?? '';
      const refused = await redeem(code, verifier, overrides);
      expect(refused).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
      expect((await redeem(code, verifier)).json).toMatchObject({ error: 'invalid_grant' });
    }
  });

  it('never redirects to an origin that serves no portal, and sends protocol errors back to the client', async () => {
    for (const redirect_uri of [
      'https://attacker.example/portal/',
      `${PORTAL_ORIGIN}/orders/leak?x=1`,
      `${PORTAL_ORIGIN}/portal/?x=1`,
      `${PORTAL_ORIGIN}/portal`,
    ]) {
      const foreign = await signIn('ada', pkce().challenge, { redirect_uri });
      expect(foreign.status).toBe(400);
      expect(foreign.location).toBeUndefined();
      expect(foreign.body).toContain('is not the URL of a portal local mode serves');
    }
    const otherClient = await signIn('ada', pkce().challenge, { client_id: 'anything' });
    expect(otherClient).toMatchObject({ status: 400, location: undefined });
    expect(otherClient.body).toContain('is not the local portal&#39;s');
    const plain = await signIn('ada', pkce().challenge, { code_challenge_method: 'plain' });
    expect(plain.status).toBe(302);
    expect(plain.location?.searchParams.get('error')).toBe('invalid_request');
    expect(plain.location?.searchParams.get('state')).toBe('st-123');
    const badName = await signIn('a b', pkce().challenge);
    expect(badName.status).toBe(400);
    expect(badName.body).toContain('A username is 1 to 64 letters');
  });

  it('grants only what the portal asks for: a scope beyond it is refused back to the client, the admin scope goes to configured admins alone', async () => {
    const beyond = await signIn('mallory', pkce().challenge, { scope: 'openid keys:read write:orders' });
    expect(beyond.status).toBe(302);
    expect(beyond.location?.searchParams.get('error')).toBe('invalid_scope');
    for (const [username, scope] of [
      ['mallory', 'keys:read keys:write'],
      ['root', 'keys:read keys:write keys:admin'],
    ] as const) {
      const { verifier, challenge } = pkce();
      const code =
        (await signIn(username, challenge, { scope: 'openid keys:read keys:write keys:admin' })).location?.searchParams.get('code') ?? '';
      const tokens = await redeem(code, verifier);
      expect(decodeJwt(tokens.json['access_token'] ?? '')['scope']).toBe(scope);
      expect(tokens.json['scope']).toBe(`openid ${scope}`);
    }
  });

  it('grants CORS to the portal origin only, and only on the token endpoint for the code grant', async () => {
    const discovery = await fetch(`${issuer.url}/.well-known/openid-configuration`, { headers: { origin: PORTAL_ORIGIN } });
    expect(discovery.headers.get('access-control-allow-origin')).toBeNull();
    expect(((await discovery.json()) as Record<string, string>)['authorization_endpoint']).toBe(`${issuer.url}/authorize`);
    expect(
      (await fetch(`${issuer.url}/jwks`, { headers: { origin: PORTAL_ORIGIN } })).headers.get('access-control-allow-origin'),
    ).toBeNull();
    const page = await fetch(`${issuer.url}/authorize?${authorizeParams(pkce().challenge).toString()}`, {
      headers: { origin: PORTAL_ORIGIN },
    });
    expect(page.headers.get('access-control-allow-origin')).toBeNull();
    // A page at the portal's origin asking for a client-credentials token: refused, and unreadable (no CORS).
    const machine = await fetch(`${issuer.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: PORTAL_ORIGIN },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'x', scope: 'keys:admin' }),
    });
    expect(machine.status).toBe(400);
    expect(machine.headers.get('access-control-allow-origin')).toBeNull();
    expect(await machine.json()).toMatchObject({ error: 'unsupported_grant_type' });
    // Without an Origin (the CLI, curl), client credentials still work.
    const cli = await fetch(`${issuer.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'x', scope: 'keys:read' }),
    });
    expect(cli.status).toBe(200);
  });
});

describe('parseAuthorizationRequest and AuthorizationCodes (pure)', () => {
  const options = { portals: [PORTAL] };
  it('refuses unknown scopes back to the client, and a missing client on the page', () => {
    expect(() => parseAuthorizationRequest(authorizeParams(pkce().challenge, { scope: 'openid delete:all' }), options)).toThrow(
      AuthorizationRedirectError,
    );
    expect(() => parseAuthorizationRequest(authorizeParams(pkce().challenge, { client_id: '' }), options)).toThrow(AuthorizationPageError);
  });

  it('expires a code after 60 seconds', () => {
    const clock = { ms: 0 };
    const codes = new AuthorizationCodes(() => clock.ms);
    const { verifier, challenge } = pkce();
    const request = parseAuthorizationRequest(authorizeParams(challenge), options);
    const code = codes.issue(request, 'ada');
    clock.ms += 60_000;
    expect(() =>
      codes.redeem(new URLSearchParams({ code, redirect_uri: REDIRECT, client_id: 'dualgate-portal', code_verifier: verifier })),
    ).toThrow(/unknown, used or expired/);
  });
});
