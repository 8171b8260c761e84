/**
 * Local mode's interactive sign-in, for the developer portal: OIDC authorization code with PKCE (S256 only), as a
 * public client (no secret), the way a real authorization server does it (RFC 6749 §4.1, RFC 7636, OIDC Core 3.1):
 * - `GET /authorize` shows a page with a **Username** box and a **Sign in** button; any username signs in and
 *   becomes the `sub` (this is a local mock, not an identity provider);
 * - `POST /authorize` issues a one-time code (60 s) bound to the client, the redirect URI, the PKCE challenge, the
 *   scopes and the nonce, and redirects back with it and the `state`;
 * - `POST /token` with `grant_type=authorization_code` redeems it against the `code_verifier`.
 * Only the portals local mode serves are clients: the redirect URI must equal one of their URLs exactly (never an
 * open redirect, nor another page of the same origin), the client id must be theirs, and the code grant carries only
 * the scopes the portal asks for; the admin scope only to the usernames named in DUALGATE_LOCAL_PORTAL_ADMINS.
 */
import { createHash, randomBytes } from 'node:crypto';

const AUTHORIZATION_CODE_TTL_MS = 60_000;
export const USERNAME_PATTERN = /^[A-Za-z0-9._@+-]{1,64}$/;
/** Scopes that are about the sign-in itself, granted beside the catalog's. */
const OIDC_SCOPES = ['openid', 'profile', 'email'];

interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  state: string;
  nonce?: string;
  codeChallenge: string;
}

/** A request that cannot be sent back to the client (bad client or redirect URI): shown on the page, never redirected. */
export class AuthorizationPageError extends Error {
  override readonly name = 'AuthorizationPageError';
}

/** A request the client should hear about: redirected back as `?error=…&state=…`. */
export class AuthorizationRedirectError extends Error {
  override readonly name = 'AuthorizationRedirectError';
  constructor(
    readonly error: 'invalid_request' | 'unsupported_response_type' | 'invalid_scope',
    readonly description: string,
    readonly redirectUri: string,
    readonly state: string | undefined,
  ) {
    super(description);
  }
}

/** A portal local mode serves, as a registered client of the local issuer. */
export interface PortalClient {
  clientId: string;
  /** The portal URL under each loopback name a browser may use (`http://127.0.0.1:3000/portal/`, …): exact matches. */
  redirectUris: readonly string[];
  /** What the portal asks for (its config's `scopes`): a code grant carries no other. */
  scopes: readonly string[];
  /** The admin scope, granted (when asked for) only to `admins`. */
  adminScope: string;
  admins: readonly string[];
}

/** The scopes a code grant for `sub` carries: those asked for, within the portal's, the admin scope to admins only. */
export function grantedScopes(portal: PortalClient, requested: readonly string[], sub: string): string[] {
  return requested.filter((scope) => (scope === portal.adminScope ? portal.admins.includes(sub) : portal.scopes.includes(scope)));
}

/** Check an authorization request's parameters (query or form), in the order RFC 6749 §4.1.2.1 asks. */
export function parseAuthorizationRequest(
  params: URLSearchParams,
  options: { portals: readonly PortalClient[] },
): AuthorizationRequest & { portal: PortalClient } {
  for (const name of ['client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method']) {
    if (params.getAll(name).length > 1) throw new AuthorizationPageError(`${name} is repeated`);
  }
  const clientId = params.get('client_id');
  if (!clientId || !/^[A-Za-z0-9._:@-]{1,128}$/.test(clientId)) throw new AuthorizationPageError('client_id is missing or malformed');
  const redirectUri = params.get('redirect_uri') ?? '';
  let redirect: URL;
  try {
    redirect = new URL(redirectUri);
  } catch {
    throw new AuthorizationPageError('redirect_uri is missing or not a URL');
  }
  const portal = options.portals.find((candidate) => candidate.redirectUris.includes(redirect.href) && redirect.href === redirectUri);
  if (!portal) {
    throw new AuthorizationPageError(
      `redirect_uri ${redirectUri} is not the URL of a portal local mode serves (${options.portals.flatMap((candidate) => candidate.redirectUris).join(', ') || 'none'})`,
    );
  }
  if (portal.clientId !== clientId)
    throw new AuthorizationPageError(`client_id ${clientId} is not the local portal's (${portal.clientId})`);
  const state = params.get('state') ?? undefined;
  const back = (error: AuthorizationRedirectError['error'], description: string) =>
    new AuthorizationRedirectError(error, description, redirectUri, state);
  if (params.get('response_type') !== 'code') throw back('unsupported_response_type', 'only response_type=code is supported');
  if (!state) throw back('invalid_request', 'state is required');
  const codeChallenge = params.get('code_challenge') ?? '';
  if (params.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge))
    throw back('invalid_request', 'PKCE is required: code_challenge (S256, 43 base64url characters) and code_challenge_method=S256');
  const scopes = [...new Set((params.get('scope') ?? '').split(' ').filter((scope) => scope.length > 0))];
  const unknown = scopes.filter((scope) => !OIDC_SCOPES.includes(scope) && !portal.scopes.includes(scope) && scope !== portal.adminScope);
  if (unknown.length > 0) throw back('invalid_scope', `scope(s) the portal does not ask for: ${unknown.join(' ')}`);
  const nonce = params.get('nonce') ?? undefined;
  return { clientId, redirectUri, scopes, state, ...(nonce ? { nonce } : {}), codeChallenge, portal };
}

/** Where the browser goes back to: the redirect URI with `code` (or `error`), `state` and `iss` (RFC 9207). */
export function redirectBack(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
  return url.href;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/** The sign-in page: no script, a labelled text box and a button; every request parameter rides a hidden field. */
export function signInPage(request: AuthorizationRequest, problem?: string): string {
  const hidden: Record<string, string> = {
    response_type: 'code',
    client_id: request.clientId,
    redirect_uri: request.redirectUri,
    scope: request.scopes.join(' '),
    state: request.state,
    code_challenge: request.codeChallenge,
    code_challenge_method: 'S256',
    ...(request.nonce ? { nonce: request.nonce } : {}),
  };
  const fields = Object.entries(hidden)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n      ');
  return `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in · dualgate local mode</title><link rel="icon" href="data:,"></head>
  <body>
    <main>
      <h1>Sign in</h1>
      <p>dualgate local mode's issuer: any username signs in, and becomes your <code>sub</code>.</p>
      ${problem ? `<p role="alert">${escapeHtml(problem)}</p>` : ''}
      <form method="post" action="/authorize">
      ${fields}
        <p><label for="username">Username</label> <input id="username" name="username" type="text" autocomplete="username" required autofocus pattern="[A-Za-z0-9._@+\\-]{1,64}"></p>
        <p><button type="submit">Sign in</button></p>
      </form>
    </main>
  </body>
</html>
`;
}

/** An error page for requests that cannot be redirected. */
export function errorPage(message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error · dualgate local mode</title><link rel="icon" href="data:,"></head><body><main><h1>Sign-in error</h1><p role="alert">${escapeHtml(message)}</p></main></body></html>\n`;
}

/**
 * The issuer's pages: no script at all, no framing. The form posts here and is redirected back to the portal, and
 * browsers apply form-action to that redirect too: the portal's origin is named.
 */
export function signInPageCsp(redirectOrigin?: string): string {
  return `default-src 'none'; img-src data:; form-action 'self'${redirectOrigin ? ` ${redirectOrigin}` : ''}; frame-ancestors 'none'; base-uri 'none'`;
}

interface IssuedCode extends AuthorizationRequest {
  portal: PortalClient;
  sub: string;
  expiresAtMs: number;
}

/** A `/token` request redeeming a code was refused (RFC 6749 §5.2). */
export class CodeGrantError extends Error {
  override readonly name = 'CodeGrantError';
  constructor(
    readonly error: 'invalid_request' | 'invalid_grant',
    readonly description: string,
  ) {
    super(description);
  }
}

/** One-time codes, in memory (a restart forgets them: sign in again). Bounded: old codes go first. */
export class AuthorizationCodes {
  private readonly codes = new Map<string, IssuedCode>();

  constructor(
    private readonly nowMs: () => number = Date.now,
    private readonly maxCodes = 1000,
  ) {}

  issue(request: AuthorizationRequest & { portal: PortalClient }, sub: string): string {
    const code = randomBytes(32).toString('base64url');
    this.codes.set(code, { ...request, sub, expiresAtMs: this.nowMs() + AUTHORIZATION_CODE_TTL_MS });
    if (this.codes.size > this.maxCodes) this.codes.delete(this.codes.keys().next().value as string);
    return code;
  }

  /** Redeem `code` once: client, redirect URI and PKCE verifier must match what it was issued for. */
  redeem(form: URLSearchParams): IssuedCode {
    for (const name of ['code', 'redirect_uri', 'client_id', 'code_verifier']) {
      if (form.getAll(name).length !== 1) throw new CodeGrantError('invalid_request', `${name} is required once`);
    }
    const code = form.get('code') as string;
    const issued = this.codes.get(code);
    // Single use: gone whatever the outcome (RFC 6749 §4.1.2).
    this.codes.delete(code);
    if (!issued || issued.expiresAtMs <= this.nowMs()) throw new CodeGrantError('invalid_grant', 'the code is unknown, used or expired');
    if (issued.clientId !== form.get('client_id')) throw new CodeGrantError('invalid_grant', 'the code was issued to another client');
    if (issued.redirectUri !== form.get('redirect_uri'))
      throw new CodeGrantError('invalid_grant', 'redirect_uri differs from the authorization request');
    const verifier = form.get('code_verifier') as string;
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || createHash('sha256').update(verifier).digest('base64url') !== issued.codeChallenge) {
      throw new CodeGrantError('invalid_grant', 'code_verifier does not match the code_challenge');
    }
    return issued;
  }
}
