/**
 * Local mode's OIDC issuer: oauth2-mock-server's key store, JWKS, discovery document and token signing,
 * behind a token endpoint of our own that implements the client-credentials grant the way a real
 * authorization server does (RFC 6749 §4.4 and §5.2):
 * - client id from HTTP Basic auth or the form body (any secret: this is a local mock);
 * - `scope` is space-delimited; every scope must be in the catalog, else `invalid_scope`;
 * - any other grant type → `unsupported_grant_type`.
 * The access token carries `sub` = the client id, `client_id`, `aud` = the configured audience and `scope`.
 * (The mock's own token endpoint accepts every grant and leaves `sub` unset, hence the front.)
 * Loopback Host names only, no foreign Origin, and no CORS grants (the mock's own `cors()` included): loopback-guard.ts.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { OAuth2Server } from 'oauth2-mock-server';
import { BodyTooLargeError, readBody } from './request-body';
import { listen } from './listen';
import { loopbackOnly } from './loopback-guard';
import {
  AuthorizationCodes,
  AuthorizationPageError,
  AuthorizationRedirectError,
  CodeGrantError,
  errorPage,
  grantedScopes,
  parseAuthorizationRequest,
  type PortalClient,
  redirectBack,
  signInPageCsp,
  signInPage,
  USERNAME_PATTERN,
} from './issuer-sign-in';

const DEFAULT_TOKEN_TTL_SECONDS = 3600;
const MAX_TOKEN_REQUEST_BYTES = 16 * 1024;

interface LocalIssuerOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  audience: string;
  /** The scopes a client may ask for. */
  scopeCatalog: readonly string[];
  tokenTtlSeconds?: number;
  /**
   * Keep the signing key (a private JWK) in this file: read it when it exists, else generate one and write it.
   * With `--data`, a token saved before a restart keeps working after it. Absent: a new key each start.
   */
  signingKeyFile?: string;
  /** Names besides the loopback ones that `Host` may carry (`--allow-host`). */
  allowedHosts?: readonly string[];
}

/** The file named by `signingKeyFile` is not a key the issuer can sign with. */
export class SigningKeyFileError extends Error {
  override readonly name = 'SigningKeyFileError';
}

type KeyStore = OAuth2Server['issuer']['keys'];

async function loadOrCreateSigningKey(keys: KeyStore, file: string | undefined): Promise<void> {
  if (file === undefined) {
    await keys.generate('RS256');
    return;
  }
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text === undefined) {
    const jwk = await keys.generate('RS256');
    // Private key material: readable by the owner only. `wx`: never overwrite a key another start just wrote.
    await writeFile(file, `${JSON.stringify(jwk)}\n`, { mode: 0o600, flag: 'wx' });
    return;
  }
  try {
    await keys.add(JSON.parse(text) as Record<string, unknown>);
  } catch (error) {
    throw new SigningKeyFileError(
      `${file} is not the local issuer's signing key (${(error as Error).message}); delete it to make a new one (tokens signed with the old key then stop working)`,
    );
  }
}

export interface LocalIssuer {
  /** The `iss` claim and the base URL. */
  url: string;
  tokenUrl: string;
  jwksUri: string;
  port: number;
  /** The scopes `POST /token` grants from now on (`dualgate dev --watch` after the app's catalog changed). */
  setScopeCatalog(scopes: readonly string[]): void;
  /**
   * The developer portals local mode serves, the issuer's only interactive clients: sign-in redirects to their exact
   * URLs, and the page there may redeem its code at `/token` (CORS for exactly their origins, on the
   * authorization_code grant only; every other answer grants none).
   */
  setPortals(portals: readonly PortalClient[]): void;
  stop(): Promise<void>;
}

/** An RFC 6749 §5.2 error response. */
export class TokenRequestError extends Error {
  override readonly name = 'TokenRequestError';
  constructor(
    readonly error: 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope',
    readonly description: string,
    readonly statusCode = error === 'invalid_client' ? 401 : 400,
  ) {
    super(description);
  }
}

interface ClientCredentialsGrant {
  clientId: string;
  scopes: string[];
}

/** Parse and check a token request (pure: headers and the raw form body in, a grant or a typed error out). */
export function parseClientCredentialsRequest(
  authorizationHeader: string | undefined,
  contentType: string | undefined,
  rawBody: string,
  scopeCatalog: readonly string[],
): ClientCredentialsGrant {
  if (!(contentType ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    throw new TokenRequestError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  const form = new URLSearchParams(rawBody);
  for (const name of ['grant_type', 'client_id', 'scope']) {
    if (form.getAll(name).length > 1) throw new TokenRequestError('invalid_request', `${name} is repeated`);
  }
  const grantType = form.get('grant_type');
  if (!grantType) throw new TokenRequestError('invalid_request', 'grant_type is required');
  if (grantType !== 'client_credentials')
    throw new TokenRequestError('unsupported_grant_type', 'only the client_credentials grant is supported');
  let clientId = form.get('client_id') ?? undefined;
  const basic = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorizationHeader ?? '');
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    // RFC 6749 §2.3.1: the client id is form-urlencoded inside Basic credentials.
    const fromBasic = safeDecode(separator >= 0 ? decoded.slice(0, separator) : decoded);
    if (clientId !== undefined && clientId !== fromBasic)
      throw new TokenRequestError('invalid_request', 'client_id differs between Basic auth and the body');
    clientId = fromBasic;
  }
  if (!clientId || !/^[A-Za-z0-9._:@-]{1,128}$/.test(clientId)) {
    throw new TokenRequestError('invalid_client', 'a client_id of 1-128 letters, digits or ._:@- is required (Basic auth or form body)');
  }
  const scopes = [...new Set((form.get('scope') ?? '').split(' ').filter((scope) => scope.length > 0))];
  const unknown = scopes.filter((scope) => !scopeCatalog.includes(scope));
  if (unknown.length > 0)
    throw new TokenRequestError('invalid_scope', `unknown scope(s): ${unknown.join(' ')}; known: ${scopeCatalog.join(' ')}`);
  return { clientId, scopes };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

function sendJson(response: ServerResponse, statusCode: number, body: unknown): void {
  response.writeHead(statusCode, { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' });
  response.end(JSON.stringify(body));
}

/** The response's writeHead before the CORS wrapper replaced it (to write a head without CORS after all). */
const originalWriteHead = new WeakMap<ServerResponse, ServerResponse['writeHead']>();
const plainWriteHead = (response: ServerResponse): ServerResponse['writeHead'] => originalWriteHead.get(response) ?? response.writeHead;

export async function startLocalIssuer(options: LocalIssuerOptions): Promise<LocalIssuer> {
  const mock = new OAuth2Server();
  await loadOrCreateSigningKey(mock.issuer.keys, options.signingKeyFile);
  const tokenTtlSeconds = options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  let scopeCatalog = options.scopeCatalog;
  let url = '';
  let portals: readonly PortalClient[] = [];
  let portalOrigins: ReadonlySet<string> = new Set();
  const codes = new AuthorizationCodes();
  const delegate = mock.service.requestHandler;

  async function redeemCode(form: URLSearchParams, response: ServerResponse): Promise<void> {
    let issued;
    try {
      issued = codes.redeem(form);
    } catch (error) {
      if (error instanceof CodeGrantError) {
        sendJson(response, 400, { error: error.error, error_description: error.description });
        return;
      }
      throw error;
    }
    // Only what the portal asks for, within the catalog; the admin scope only to the configured admins.
    const granted = grantedScopes(issued.portal, issued.scopes, issued.sub);
    const apiScopes = granted.filter((scope) => scopeCatalog.includes(scope));
    const accessToken = await mock.issuer.buildToken({
      expiresIn: tokenTtlSeconds,
      scopesOrTransform: (_header, payload) => {
        payload['sub'] = issued.sub;
        payload['client_id'] = issued.clientId;
        payload['aud'] = options.audience;
        payload['scope'] = apiScopes.join(' ');
        payload['jti'] = crypto.randomUUID();
      },
    });
    // The id token is for the client (aud = client id): the authorizer, which wants the API's audience, refuses it.
    const idToken = await mock.issuer.buildToken({
      expiresIn: tokenTtlSeconds,
      scopesOrTransform: (_header, payload) => {
        delete payload['scope'];
        payload['sub'] = issued.sub;
        payload['aud'] = issued.clientId;
        payload['preferred_username'] = issued.sub;
        if (issued.nonce) payload['nonce'] = issued.nonce;
      },
    });
    sendJson(response, 200, {
      access_token: accessToken,
      id_token: idToken,
      token_type: 'Bearer',
      expires_in: tokenTtlSeconds,
      scope: issued.scopes.filter((scope) => !scopeCatalog.includes(scope) || apiScopes.includes(scope)).join(' '),
    });
  }

  /** `same-origin`, not `no-referrer`: with no-referrer the page's form would post `Origin: null`, which the guard refuses. */
  function sendPage(response: ServerResponse, statusCode: number, html: string, redirectUri?: string): void {
    response.writeHead(statusCode, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': signInPageCsp(redirectUri ? new URL(redirectUri).origin : undefined),
      'x-frame-options': 'DENY',
      'referrer-policy': 'same-origin',
    });
    response.end(html);
  }

  /** `GET /authorize` shows the sign-in page; `POST /authorize` (the page's form) signs in and redirects back. */
  async function authorize(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const isPost = request.method === 'POST';
    const params = isPost
      ? new URLSearchParams((await readBody(request, MAX_TOKEN_REQUEST_BYTES)).toString('utf8'))
      : new URL(request.url ?? '/', 'http://issuer').searchParams;
    let parsed;
    try {
      parsed = parseAuthorizationRequest(params, { portals });
    } catch (error) {
      if (error instanceof AuthorizationPageError) return sendPage(response, 400, errorPage(error.message));
      if (error instanceof AuthorizationRedirectError) {
        response.writeHead(302, {
          location: redirectBack(error.redirectUri, {
            error: error.error,
            error_description: error.description,
            state: error.state,
            iss: url,
          }),
          'cache-control': 'no-store',
        });
        response.end();
        return;
      }
      throw error;
    }
    if (!isPost) return sendPage(response, 200, signInPage(parsed), parsed.redirectUri);
    const username = params.get('username') ?? '';
    if (!USERNAME_PATTERN.test(username))
      return sendPage(response, 400, signInPage(parsed, 'A username is 1 to 64 letters, digits or . _ @ + -'), parsed.redirectUri);
    const code = codes.issue(parsed, username);
    response.writeHead(302, {
      location: redirectBack(parsed.redirectUri, { code, state: parsed.state, iss: url }),
      'cache-control': 'no-store',
    });
    response.end();
  }

  async function issueToken(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let rawBody: string;
    try {
      rawBody = (await readBody(request, MAX_TOKEN_REQUEST_BYTES)).toString('utf8');
    } catch (error) {
      throw error instanceof BodyTooLargeError ? new TokenRequestError('invalid_request', error.message) : error;
    }
    if (
      new URLSearchParams(rawBody).get('grant_type') === 'authorization_code' &&
      (request.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')
    ) {
      await redeemCode(new URLSearchParams(rawBody), response);
      return;
    }
    // Any other grant from a portal's page: refused, and without CORS (the page cannot read even the refusal).
    if (request.headers.origin !== undefined && portalOrigins.has(request.headers.origin)) {
      for (const name of response.getHeaderNames()) if (/^access-control-/i.test(name)) response.removeHeader(name);
      response.writeHead = plainWriteHead(response);
      throw new TokenRequestError('unsupported_grant_type', 'a page may only redeem an authorization code here');
    }
    const grant = parseClientCredentialsRequest(request.headers.authorization, request.headers['content-type'], rawBody, scopeCatalog);
    const accessToken = await mock.issuer.buildToken({
      expiresIn: tokenTtlSeconds,
      scopesOrTransform: (_header, payload) => {
        payload['sub'] = grant.clientId;
        payload['client_id'] = grant.clientId;
        payload['aud'] = options.audience;
        payload['scope'] = grant.scopes.join(' ');
        payload['jti'] = crypto.randomUUID();
      },
    });
    sendJson(response, 200, {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: tokenTtlSeconds,
      scope: grant.scopes.join(' '),
    });
  }

  /**
   * CORS for the portal's own origin on the one thing its page fetches here: `/token`, redeeming a code. Decided from
   * the request line and headers (the body is not read yet): a POST of a form, with an `authorization_code` grant
   * checked again once the body is read (issueToken), so a page there never reads a client-credentials answer.
   */
  const grantsCors = (request: IncomingMessage): boolean => {
    const path = (request.url ?? '/').split('?')[0];
    const origin = request.headers.origin;
    return origin !== undefined && portalOrigins.has(origin) && path === '/token' && request.method === 'POST';
  };

  const listener = (request: IncomingMessage, response: ServerResponse): void => {
    const path = (request.url ?? '/').split('?')[0];
    const origin = request.headers.origin;
    if (origin !== undefined && grantsCors(request)) {
      // The portal page signs in from the gateway's origin: it may read these answers (and only these). Set when the
      // head is written, over whatever oauth2-mock-server set (it grants `*`).
      const writeHead = response.writeHead;
      originalWriteHead.set(response, writeHead);
      response.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        for (const name of this.getHeaderNames()) if (/^access-control-/i.test(name)) this.removeHeader(name);
        this.setHeader('access-control-allow-origin', origin);
        this.setHeader('vary', 'Origin');
        return (writeHead as (...rest: unknown[]) => ServerResponse).apply(this, args);
      } as ServerResponse['writeHead'];
    }
    if (path === '/authorize') {
      if (request.method !== 'GET' && request.method !== 'POST') {
        response.setHeader('allow', 'GET, POST');
        sendJson(response, 405, { error: 'invalid_request', error_description: 'use GET or POST' });
        return;
      }
      authorize(request, response).catch(() => {
        if (!response.headersSent) sendPage(response, 500, errorPage('the local issuer failed to sign you in'));
      });
      return;
    }
    if (path === '/token') {
      if (request.method !== 'POST') {
        response.setHeader('allow', 'POST');
        sendJson(response, 405, { error: 'invalid_request', error_description: 'use POST' });
        return;
      }
      issueToken(request, response).catch((error: unknown) => {
        if (error instanceof TokenRequestError) {
          if (error.error === 'invalid_client') response.setHeader('www-authenticate', 'Basic realm="dualgate-local"');
          sendJson(response, error.statusCode, { error: error.error, error_description: error.description });
        } else sendJson(response, 500, { error: 'server_error', error_description: 'the local issuer failed to sign a token' });
      });
      return;
    }
    // Only the JWKS and the discovery document are oauth2-mock-server's: its own token endpoint (reachable
    // as `/token/` or `/TOKEN` through its router) would mint tokens for any grant and any scope.
    if (request.method === 'GET' && (path === '/jwks' || path === '/.well-known/openid-configuration')) {
      delegate(request, response);
      return;
    }
    sendJson(response, 404, {
      error: 'not_found',
      error_description: `no ${path ?? ''} here: POST /token, GET /authorize, GET /jwks, GET /.well-known/openid-configuration`,
    });
  };
  const server: Server = createServer(
    loopbackOnly(listener, {
      kind: 'internal',
      ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
      keepsCors: grantsCors,
    }),
  );
  const port = await listen(server, options.port, options.host);
  url = `http://${options.host}:${port}`;
  // The mock signs `iss` with this URL; it must equal the configured issuer exactly (no trailing slash).
  mock.issuer.url = url;
  return {
    url,
    tokenUrl: `${url}/token`,
    jwksUri: `${url}/jwks`,
    port,
    setScopeCatalog: (scopes) => {
      scopeCatalog = [...scopes];
    },
    setPortals: (next) => {
      portals = [...next];
      portalOrigins = new Set(next.flatMap((portal) => portal.redirectUris.map((uri) => new URL(uri).origin)));
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
