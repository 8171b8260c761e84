/**
 * What the portal page needs to sign in and find the key API: written by the construct into the portal function's
 * environment (DUALGATE_PORTAL_CONFIG), overridden by local mode with its own issuer, served to the page as
 * `config.json`, and turned into the Content-Security-Policy. Pure: no I/O.
 */

export const PORTAL_CONFIG_VARIABLE = 'DUALGATE_PORTAL_CONFIG';
/** Where the portal is served (a literal path: its assets are `<path>/<file>`). */
export const PORTAL_PATH = '/portal';

export interface PortalConfig {
  /** The OIDC issuer: the id token's `iss`, and where discovery starts when the endpoints are not given. */
  issuer: string;
  /** The public client (no secret) the portal signs in with. */
  clientId: string;
  /** What the portal asks for at sign-in: `openid` and the key API's scopes (Cognito: prefixed). */
  scopes: string[];
  /**
   * Given for Cognito (its domain differs from its issuer) or by `portal.oidc`; otherwise the portal function finds
   * them by discovery at cold start, before it serves anything (the page itself never runs discovery).
   */
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  /** Cognito's `/logout`: sign-out ends the hosted UI's session there too (`client_id` + `logout_uri`). */
  logoutEndpoint?: string;
  /** Where the key API and the consumer routes are mounted (`/keys`, `/consumers`). */
  keysPath: string;
  consumersPath: string;
  /** The admin scope: holders see the consumers section. */
  adminScope: string;
  /** Stripped from token scopes before they are compared (Cognito's `dualgate/`). */
  scopePrefix?: string;
  /** Whether the API has plans (the page then shows the plan and today's usage). */
  plans: boolean;
}

export class PortalConfigError extends Error {
  override readonly name = 'PortalConfigError';
}

const isHttpUrl = (value: unknown): value is string => {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
};

/** Check the JSON the construct (or local mode) wrote; a broken one fails the cold start, not a page view. */
export function parsePortalConfig(text: string | undefined): PortalConfig {
  if (text === undefined || text === '') throw new PortalConfigError(`${PORTAL_CONFIG_VARIABLE} is not set`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new PortalConfigError(`${PORTAL_CONFIG_VARIABLE} is not JSON`);
  }
  if (raw === null || typeof raw !== 'object') throw new PortalConfigError(`${PORTAL_CONFIG_VARIABLE} is not an object`);
  const problem = (field: string, what: string): never => {
    throw new PortalConfigError(`${PORTAL_CONFIG_VARIABLE}.${field} must be ${what}`);
  };
  if (!isHttpUrl(raw['issuer'])) problem('issuer', 'an http(s) URL');
  if (typeof raw['clientId'] !== 'string' || raw['clientId'].length === 0) problem('clientId', 'a client id');
  const scopes = raw['scopes'];
  if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string' && /^[\x21-\x7e]+$/.test(scope)))
    problem('scopes', 'a list of scope names');
  for (const field of ['authorizationEndpoint', 'tokenEndpoint', 'logoutEndpoint'] as const)
    if (raw[field] !== undefined && !isHttpUrl(raw[field])) problem(field, 'an http(s) URL');
  for (const field of ['keysPath', 'consumersPath'] as const)
    if (typeof raw[field] !== 'string' || !/^(\/[A-Za-z0-9._~-]+)+$/.test(raw[field] as string)) problem(field, 'a path such as /keys');
  if (typeof raw['adminScope'] !== 'string') problem('adminScope', 'a scope name');
  if (raw['scopePrefix'] !== undefined && typeof raw['scopePrefix'] !== 'string') problem('scopePrefix', 'a string');
  if (typeof raw['plans'] !== 'boolean') problem('plans', 'true or false');
  const config: PortalConfig = {
    issuer: raw['issuer'] as string,
    clientId: raw['clientId'] as string,
    scopes: scopes as string[],
    keysPath: raw['keysPath'] as string,
    consumersPath: raw['consumersPath'] as string,
    adminScope: raw['adminScope'] as string,
    plans: raw['plans'] as boolean,
  };
  if (raw['authorizationEndpoint'] !== undefined) config.authorizationEndpoint = raw['authorizationEndpoint'] as string;
  if (raw['tokenEndpoint'] !== undefined) config.tokenEndpoint = raw['tokenEndpoint'] as string;
  if (raw['logoutEndpoint'] !== undefined) config.logoutEndpoint = raw['logoutEndpoint'] as string;
  if (raw['scopePrefix'] !== undefined) config.scopePrefix = raw['scopePrefix'] as string;
  return config;
}

/**
 * The page's Content-Security-Policy: scripts, styles and fetches from its own origin only, plus the token endpoint's
 * origin (the one URL outside the API the page fetches: the code is redeemed there). The portal function fills in the
 * endpoints by discovery at cold start when they are not configured (discovery.ts); without a token endpoint the page
 * may fetch nothing beyond its own origin. No inline script, no eval, no framing.
 */
export function contentSecurityPolicy(config: Pick<PortalConfig, 'tokenEndpoint'>): string {
  const connect = ["'self'", ...(config.tokenEndpoint === undefined ? [] : [new URL(config.tokenEndpoint).origin])];
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connect.join(' ')}`,
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
