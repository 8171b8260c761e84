/**
 * How to trust one JWT issuer. Shared by the CDK config (validated at synth time) and the authorizer
 * (which reads it from its environment).
 */
export interface IssuerConfig {
  /** Exact `iss` value. https in AWS; local mode alone may use http on loopback. */
  issuer: string;
  /** Accepted `aud` values. For Cognito access tokens, which carry no `aud`, use `clientIds`. */
  audience?: string[];
  /** Accepted `client_id` claims (Cognito access tokens, and OIDC providers that set it). */
  clientIds?: string[];
  /** Default: found by OIDC discovery (`<issuer>/.well-known/openid-configuration` → `jwks_uri`); Cognito issuers use `<issuer>/.well-known/jwks.json`. */
  jwksUri?: string;
  /**
   * Cognito's `<resource-server-id>/`: only scopes carrying it count, stripped, so a JWT's `dualgate/read:users`
   * equals a key's `read:users`; unprefixed scopes belong to other resource servers and are dropped.
   */
  scopePrefix?: string;
  /** Cognito marks its tokens with `token_use`; when true the claim must be present and `access`. */
  requireTokenUseClaim?: boolean;
  /**
   * Require the RFC 9068 header `typ: at+jwt` (Auth0, Okta, Keycloak and others can set it). The strongest
   * guard against an ID token being presented as an access token when `audience` is also a client id.
   */
  requireAccessTokenType?: boolean;
}

/**
 * One trusted OIDC issuer, as a platform team writes it (the `issuers` prop of `DualAuthApi`). A token is checked
 * against the entry whose `issuer` equals its `iss` claim: signature (RS/ES/EdDSA), `exp`, `nbf` and `aud` or
 * `client_id` by aws-jwt-verify, then dualgate's access-token rules (docs/security-model.md).
 *
 * @example
 * { issuer: 'https://dev-123.okta.com/oauth2/default', audience: 'api://orders' }
 */
export interface OidcIssuer {
  /** The issuer's exact `iss` value, an https URL. Its keys are found by OIDC discovery unless `jwksUri` is set. */
  readonly issuer: string;
  /**
   * The `aud` values accepted (one or a list). Required unless `clientIds` is set: without either, any token the
   * issuer mints for any application would pass.
   */
  readonly audience?: string | readonly string[];
  /** The `client_id` (or `azp`) values accepted. Cognito access tokens carry `client_id` and no `aud`. */
  readonly clientIds?: string | readonly string[];
  /**
   * Where the issuer's JWKS is, an https URL. Default: read from `<issuer>/.well-known/openid-configuration`
   * (once per Lambda container); Cognito issuers use `<issuer>/.well-known/jwks.json` directly.
   */
  readonly jwksUri?: string;
  /**
   * A prefix the issuer puts on scopes, such as Cognito's `<resource-server-id>/`. Only scopes carrying it count,
   * with the prefix stripped, so a token's `orders/read:orders` equals a key's `read:orders`.
   */
  readonly scopePrefix?: string;
  /** Require the `token_use` claim to be present and `access` (Cognito). Default `false`. */
  readonly requireTokenUseClaim?: boolean;
  /**
   * Require the RFC 9068 header `typ: at+jwt`. Set it whenever the issuer emits it (Auth0, Okta, Keycloak can): it
   * is the strongest guard against an ID token presented as an access token. Default `false`.
   */
  readonly requireAccessTokenType?: boolean;
}

class IssuerConfigError extends Error {
  override readonly name = 'IssuerConfigError';
}

function isUrl(value: string, allowHttp: boolean): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  return allowHttp && url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

function stringList(value: unknown, field: string, where: string): string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((item) => typeof item !== 'string' || item.length === 0)) {
    throw new IssuerConfigError(`${where}.${field} must be a non-empty string or a non-empty list of strings`);
  }
  return list as string[];
}

/** Validate untrusted issuer configuration (CDK context, props or an environment variable) with clear errors. */
export function parseIssuerConfigs(value: unknown, options: { allowHttp?: boolean } = {}): IssuerConfig[] {
  const allowHttp = options.allowHttp ?? false;
  if (!Array.isArray(value)) throw new IssuerConfigError('issuers must be a list of {issuer, audience, jwksUri?}');
  const seen = new Set<string>();
  return value.map((raw: unknown, index) => {
    const where = `issuers[${index}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new IssuerConfigError(`${where} must be an object`);
    const entry = raw as Record<string, unknown>;
    const known = ['issuer', 'audience', 'clientIds', 'jwksUri', 'scopePrefix', 'requireTokenUseClaim', 'requireAccessTokenType'];
    const unknown = Object.keys(entry).filter((field) => !known.includes(field));
    if (unknown.length > 0) throw new IssuerConfigError(`${where} has unknown field(s): ${unknown.join(', ')}`);
    if (typeof entry['issuer'] !== 'string' || !isUrl(entry['issuer'], allowHttp)) {
      throw new IssuerConfigError(`${where}.issuer must be an https URL (got ${JSON.stringify(entry['issuer'])})`);
    }
    const issuer = entry['issuer'];
    if (seen.has(issuer)) throw new IssuerConfigError(`${where}.issuer ${issuer} is configured twice`);
    seen.add(issuer);
    const config: IssuerConfig = { issuer };
    const audience = stringList(entry['audience'], 'audience', where);
    const clientIds = stringList(entry['clientIds'], 'clientIds', where);
    if (!audience && !clientIds) {
      throw new IssuerConfigError(
        `${where} needs an audience (or clientIds): without one, any token this issuer mints for any app would be accepted`,
      );
    }
    if (audience) config.audience = audience;
    if (clientIds) config.clientIds = clientIds;
    if (entry['jwksUri'] !== undefined) {
      if (typeof entry['jwksUri'] !== 'string' || !isUrl(entry['jwksUri'], allowHttp)) {
        throw new IssuerConfigError(`${where}.jwksUri must be an https URL (got ${JSON.stringify(entry['jwksUri'])})`);
      }
      config.jwksUri = entry['jwksUri'];
    }
    if (entry['scopePrefix'] !== undefined) {
      if (typeof entry['scopePrefix'] !== 'string') throw new IssuerConfigError(`${where}.scopePrefix must be a string`);
      config.scopePrefix = entry['scopePrefix'];
    }
    for (const flag of ['requireTokenUseClaim', 'requireAccessTokenType'] as const) {
      if (entry[flag] === undefined) continue;
      if (typeof entry[flag] !== 'boolean') throw new IssuerConfigError(`${where}.${flag} must be a boolean`);
      config[flag] = entry[flag];
    }
    return config;
  });
}

export function cognitoIssuer(region: string, userPoolId: string): string {
  return `https://cognito-idp.${region}.amazonaws.com/${userPoolId}`;
}
