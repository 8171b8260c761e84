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

export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
const MAX_TOKEN_REQUEST_BYTES = 16 * 1024;

export interface LocalIssuerOptions {
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
    await writeFile(file, JSON.stringify(jwk) + '\n', { mode: 0o600, flag: 'wx' });
    return;
  }
  try {
    await keys.add(JSON.parse(text) as Record<string, unknown>);
  } catch (error) {
    throw new SigningKeyFileError(`${file} is not the local issuer's signing key (${(error as Error).message}); delete it to make a new one (tokens signed with the old key then stop working)`);
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

export interface ClientCredentialsGrant {
  clientId: string;
  scopes: string[];
}

/** Parse and check a token request (pure: headers and the raw form body in, a grant or a typed error out). */
export function parseClientCredentialsRequest(authorizationHeader: string | undefined, contentType: string | undefined, rawBody: string, scopeCatalog: readonly string[]): ClientCredentialsGrant {
  if (!(contentType ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    throw new TokenRequestError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  const form = new URLSearchParams(rawBody);
  for (const name of ['grant_type', 'client_id', 'scope']) {
    if (form.getAll(name).length > 1) throw new TokenRequestError('invalid_request', `${name} is repeated`);
  }
  const grantType = form.get('grant_type');
  if (!grantType) throw new TokenRequestError('invalid_request', 'grant_type is required');
  if (grantType !== 'client_credentials') throw new TokenRequestError('unsupported_grant_type', 'only the client_credentials grant is supported');
  let clientId = form.get('client_id') ?? undefined;
  const basic = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorizationHeader ?? '');
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    // RFC 6749 §2.3.1: the client id is form-urlencoded inside Basic credentials.
    const fromBasic = safeDecode(separator >= 0 ? decoded.slice(0, separator) : decoded);
    if (clientId !== undefined && clientId !== fromBasic) throw new TokenRequestError('invalid_request', 'client_id differs between Basic auth and the body');
    clientId = fromBasic;
  }
  if (!clientId || !/^[A-Za-z0-9._:@-]{1,128}$/.test(clientId)) {
    throw new TokenRequestError('invalid_client', 'a client_id of 1-128 letters, digits or ._:@- is required (Basic auth or form body)');
  }
  const scopes = [...new Set((form.get('scope') ?? '').split(' ').filter((scope) => scope.length > 0))];
  const unknown = scopes.filter((scope) => !scopeCatalog.includes(scope));
  if (unknown.length > 0) throw new TokenRequestError('invalid_scope', `unknown scope(s): ${unknown.join(' ')}; known: ${scopeCatalog.join(' ')}`);
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

export async function startLocalIssuer(options: LocalIssuerOptions): Promise<LocalIssuer> {
  const mock = new OAuth2Server();
  await loadOrCreateSigningKey(mock.issuer.keys, options.signingKeyFile);
  const tokenTtlSeconds = options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  let scopeCatalog = options.scopeCatalog;
  const delegate = mock.service.requestHandler;

  async function issueToken(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let rawBody: string;
    try {
      rawBody = (await readBody(request, MAX_TOKEN_REQUEST_BYTES)).toString('utf8');
    } catch (error) {
      throw error instanceof BodyTooLargeError ? new TokenRequestError('invalid_request', error.message) : error;
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
    sendJson(response, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: tokenTtlSeconds, scope: grant.scopes.join(' ') });
  }

  const listener = (request: IncomingMessage, response: ServerResponse): void => {
    const path = (request.url ?? '/').split('?')[0];
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
    sendJson(response, 404, { error: 'not_found', error_description: `no ${path ?? ''} here: POST /token, GET /jwks, GET /.well-known/openid-configuration` });
  };
  const server: Server = createServer(loopbackOnly(listener, { kind: 'internal', ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}) }));
  const port = await listen(server, options.port, options.host);
  const url = `http://${options.host}:${port}`;
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
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
