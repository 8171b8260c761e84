/**
 * The identity contract between the authorizer and backends. Whichever credential was used, a backend
 * sees the same `{sub, scopes}`. `authMethod` and `keyId` are for audit; do not branch on them, except the key
 * management API, which treats a key caller differently (lambdas/keys/caller-key.ts, scopes.ts, operation-context.ts):
 * what a key may mint is capped by that key's own expiry and scopes.
 */
/** Which credential the caller used: for audit; do not branch on it. */
export type AuthMethod = 'apiKey' | 'jwt';

/**
 * The default branch of a switch over AuthMethod: a new credential kind fails to compile at every place that treats
 * kinds differently, and a value outside the type fails closed instead of being handled as some other kind.
 */
export function unknownAuthMethod(method: never): never {
  throw new Error(`unknown authMethod ${JSON.stringify(method)}`);
}

export interface Principal {
  readonly sub: string;
  /** Sorted and de-duplicated, so equal scope sets compare and memoise equal. */
  readonly scopes: readonly string[];
  readonly authMethod: AuthMethod;
  readonly keyId?: string;
}

/** What the authorizer returns as `context`. API Gateway allows only string, number or boolean values. */
export interface AuthorizerContext {
  /** The caller: a JWT's `sub`, or the owner of the key used. */
  sub: string;
  /** Space-joined scope list. */
  scopes: string;
  /** `apiKey` or `jwt`. */
  authMethod: AuthMethod;
  /** The key's id (`key_…`), only when a key was used. */
  keyId?: string;
  [key: string]: string | undefined;
}

export function normaliseScopes(scopes: Iterable<string>): string[] {
  return [...new Set(scopes)].filter((scope) => scope.length > 0).sort();
}

export function toAuthorizerContext(principal: Principal): AuthorizerContext {
  const context: AuthorizerContext = {
    sub: principal.sub,
    scopes: principal.scopes.join(' '),
    authMethod: principal.authMethod,
  };
  if (principal.keyId !== undefined) context.keyId = principal.keyId;
  return context;
}

/** The shape backends read: `event.requestContext.authorizer`, whose values API Gateway passes as strings. */
export interface CallerIdentity {
  /** The caller: a JWT's `sub`, or the owner of the key used. The same for both credentials. */
  sub: string;
  /** The scopes the caller holds, sorted and de-duplicated. */
  scopes: string[];
  /** `apiKey` or `jwt`: for audit only. */
  authMethod: AuthMethod;
  /** The key's id (`key_…`), only when a key was used. */
  keyId?: string;
}

/** The event carries no dualgate context: a route deployed without the authorizer, or behind another one. */
export class MissingPrincipalError extends Error {
  /** The class's name, for callers that cannot use `instanceof` (another copy of the package). */
  override readonly name = 'MissingPrincipalError';
}

/** The part of an API Gateway (v1 proxy) event `principalFrom` reads. */
export interface EventWithAuthorizer {
  /** API Gateway's request context; `authorizer` holds the authorizer's context values. */
  requestContext?: {
    /** The authorizer's context: `principalId`, `sub`, `scopes`, `authMethod`, `keyId`. */
    authorizer?: Record<string, unknown> | null;
  } | null;
}

const HINT = 'is the route behind the dualgate authorizer?';

/**
 * Read the caller from a v1 proxy event. Accepts only the context dualgate's authorizer writes (see
 * toAuthorizerContext): `sub`, `scopes` and `authMethod` as strings, and `keyId` exactly when `authMethod` is
 * `apiKey`. Keys API Gateway adds itself (`principalId`, `integrationLatency`) are ignored, never used as a
 * fallback: another authorizer's `principalId` is not a dualgate identity. Anything else throws
 * MissingPrincipalError naming what is wrong: a wiring bug for the backend's author, never a client error.
 */
export function principalFrom(event: EventWithAuthorizer): CallerIdentity {
  const authorizer = event.requestContext?.authorizer;
  if (authorizer === undefined || authorizer === null) throw new MissingPrincipalError(`no authorizer context on this event: ${HINT}`);
  const { sub, scopes: rawScopes, authMethod, keyId } = authorizer;
  const problem = (what: string) => new MissingPrincipalError(`authorizer context is not dualgate's: ${what}; ${HINT}`);
  if (typeof sub !== 'string' || sub.length === 0) throw problem('`sub` must be a non-empty string');
  if (typeof rawScopes !== 'string') throw problem('`scopes` must be a space-separated string');
  if (authMethod !== 'apiKey' && authMethod !== 'jwt')
    throw problem(`\`authMethod\` must be "apiKey" or "jwt" (got ${JSON.stringify(authMethod)})`);
  const identity: CallerIdentity = { sub, scopes: normaliseScopes(rawScopes.split(' ')), authMethod };
  if (authMethod === 'apiKey') {
    if (typeof keyId !== 'string' || keyId.length === 0) throw problem('`keyId` must be a non-empty string when `authMethod` is "apiKey"');
    identity.keyId = keyId;
  } else if (keyId !== undefined) {
    throw problem('`keyId` is only set when `authMethod` is "apiKey"');
  }
  return identity;
}

/**
 * Whether the caller holds every scope in `required` (an empty list: always). Defence in depth: API Gateway has
 * already enforced the route's scopes before the backend runs.
 *
 * @example
 * if (!hasScopes(principalFrom(event), ['write:orders'])) return { statusCode: 403, body: '{"message":"Forbidden"}' };
 */
export function hasScopes(caller: { scopes: readonly string[] }, required: readonly string[]): boolean {
  return required.every((scope) => caller.scopes.includes(scope));
}
