/**
 * The identity contract between the authorizer and backends. Whichever credential was used, a backend
 * sees the same `{sub, scopes}`. `authMethod` and `keyId` are for audit; do not branch on them, except the key
 * management API, which caps what a key may mint by that key's own expiry (lambdas/keys/caller-key.ts).
 */
export type AuthMethod = 'apiKey' | 'jwt';

export interface Principal {
  readonly sub: string;
  /** Sorted and de-duplicated, so equal scope sets compare and memoise equal. */
  readonly scopes: readonly string[];
  readonly authMethod: AuthMethod;
  readonly keyId?: string;
}

/** What the authorizer returns as `context`. API Gateway allows only string, number or boolean values. */
export interface AuthorizerContext {
  sub: string;
  /** Space-joined scope list. */
  scopes: string;
  authMethod: AuthMethod;
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
  sub: string;
  scopes: string[];
  authMethod: AuthMethod;
  keyId?: string;
}

export class MissingPrincipalError extends Error {
  override readonly name = 'MissingPrincipalError';
}

interface EventWithAuthorizer {
  requestContext?: { authorizer?: Record<string, unknown> | null } | null;
}

/**
 * Read the caller from a v1 proxy event. Throws when the event carries no authorizer context,
 * which only happens if a route was deployed without the authorizer: a wiring bug, never a client error.
 */
export function principalFrom(event: EventWithAuthorizer): CallerIdentity {
  const authorizer = event.requestContext?.authorizer;
  const sub = authorizer?.['sub'] ?? authorizer?.['principalId'];
  if (typeof sub !== 'string' || sub.length === 0) {
    throw new MissingPrincipalError('no authorizer context on this event: is the route behind the dualgate authorizer?');
  }
  const rawScopes = authorizer?.['scopes'];
  const scopes = typeof rawScopes === 'string' ? normaliseScopes(rawScopes.split(' ')) : [];
  const authMethod = authorizer?.['authMethod'] === 'apiKey' ? 'apiKey' : 'jwt';
  const keyId = authorizer?.['keyId'];
  const identity: CallerIdentity = { sub, scopes, authMethod };
  if (typeof keyId === 'string' && keyId.length > 0) identity.keyId = keyId;
  return identity;
}

export function hasScopes(caller: { scopes: readonly string[] }, required: readonly string[]): boolean {
  return required.every((scope) => caller.scopes.includes(scope));
}
