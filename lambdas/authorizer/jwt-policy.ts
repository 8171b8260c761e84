/**
 * The JWT policy: aws-jwt-verify checks signature, algorithm (no `none`, no HMAC), `exp`, `nbf`, `iss`
 * and `aud`; this module adds the access-token-only rules, scope extraction and a bounded cache of
 * verified tokens. The verifier for a token is chosen by its `iss` (multi-issuer JwtVerifier).
 */
import { JwtVerifier } from 'aws-jwt-verify/jwt-verifier';
import {
  FetchError,
  JwksNotAvailableInCacheError,
  JwksValidationError,
  JwkValidationError,
  JwtExpiredError,
  JwtInvalidAudienceError,
  JwtInvalidClaimError,
  JwtInvalidIssuerError,
  JwtInvalidSignatureAlgorithmError,
  JwtInvalidSignatureError,
  JwtNotBeforeError,
  JwtParseError,
  JwtWithoutValidKidError,
  KidNotFoundInJwksError,
  ParameterValidationError,
  WaitPeriodNotYetEndedJwkError,
  JwkInvalidKtyError,
  JwkInvalidUseError,
} from 'aws-jwt-verify/error';
import { SimpleJwksCache, SimplePenaltyBox } from 'aws-jwt-verify/jwk';
import type { Fetcher } from 'aws-jwt-verify/https';
import type { JwtHeader, JwtPayload } from 'aws-jwt-verify/jwt-model';
import { BoundedCache } from '../shared/bounded-cache';
import type { IssuerConfig } from '../shared/issuer-config';
import { normaliseScopes, type Principal } from '../shared/principal';
import { SCOPE_PATTERN } from '../shared/route-table';
import { reject, type CredentialPolicy, type PolicyResult, type PrincipalSlot, type RejectReason } from './decision';

export interface JwtPolicyOptions {
  issuers: IssuerConfig[];
  fetcher: Fetcher;
  /** Verified tokens are reused until their `exp` or this TTL, whichever comes first. 0 disables the cache. */
  jwtCacheTtlSeconds: number;
  maxCacheEntries: number;
  /** How long an unknown `kid` blocks further JWKS refetches for that issuer (aws-jwt-verify's penalty box). */
  unknownKidPenaltySeconds?: number;
  /** Allowed clock skew for `exp`/`nbf`. */
  clockSkewSeconds?: number;
  nowMs?: () => number;
}

/** An ID token, or any token that is not an access token, presented where an access token is required. */
export class NotAnAccessTokenError extends JwtInvalidClaimError {}
export class MissingSubjectError extends JwtInvalidClaimError {}
export class InvalidScopeClaimError extends JwtInvalidClaimError {}
export class MissingExpiryError extends JwtInvalidClaimError {}

const MAX_SCOPES = 100;


/** Rules aws-jwt-verify's generic verifier does not know: access tokens only, a `sub`, and a sane scope claim. */
function checkAccessToken(issuer: IssuerConfig, payload: JwtPayload, header: JwtHeader): void {
  if (issuer.requireAccessTokenType) {
    const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : undefined;
    if (typ !== 'at+jwt' && typ !== 'application/at+jwt') throw new NotAnAccessTokenError('typ must be at+jwt (RFC 9068)', String(header.typ), 'at+jwt');
  }
  const tokenUse = payload['token_use'];
  if (issuer.requireTokenUseClaim ? tokenUse !== 'access' : tokenUse !== undefined && tokenUse !== 'access') {
    throw new NotAnAccessTokenError('token_use must be "access"', tokenUse, 'access');
  }
  // Claims that only ID tokens carry (OIDC Core 3.1.3.6, 3.3.2.11).
  if (payload['nonce'] !== undefined || payload['at_hash'] !== undefined || payload['c_hash'] !== undefined) {
    throw new NotAnAccessTokenError('an ID token is not an access token', 'id_token', 'access_token');
  }
  if (issuer.clientIds) {
    const clientId = payload['client_id'] ?? payload['azp'];
    if (typeof clientId !== 'string' || !issuer.clientIds.includes(clientId)) {
      throw new JwtInvalidAudienceError('client_id not allowed', clientId, issuer.clientIds);
    }
  }
  // A token without `exp` would be valid forever.
  if (typeof payload.exp !== 'number') throw new MissingExpiryError('exp is required', payload.exp, 'number');
  if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 256) {
    throw new MissingSubjectError('sub must be a non-empty string', payload.sub, 'string');
  }
  scopesOf(issuer, payload);
}

/**
 * Scope lists seen recently, by issuer prefix and raw claim: tokens of one client repeat the same claim,
 * and sharing one frozen array lets the policy compiler memoise on it.
 */
const scopeLists = new BoundedCache<string, readonly string[]>(512);

/** `scope` (space-delimited string, RFC 8693/9068) or `scp` (array or string), issuer prefix stripped. Throws InvalidScopeClaimError. */
export function scopesOf(issuer: Pick<IssuerConfig, 'scopePrefix'>, payload: JwtPayload): readonly string[] {
  const raw = payload['scope'] ?? payload['scp'];
  const memoKey = typeof raw === 'string' ? `${issuer.scopePrefix ?? ''} ${raw}` : undefined;
  const memoised = memoKey === undefined ? undefined : scopeLists.get(memoKey);
  if (memoised) return memoised;
  const scopes = Object.freeze(parseScopes(issuer, raw));
  if (memoKey !== undefined) scopeLists.set(memoKey, scopes, Number.POSITIVE_INFINITY);
  return scopes;
}

function parseScopes(issuer: Pick<IssuerConfig, 'scopePrefix'>, raw: unknown): string[] {
  let list: string[];
  if (raw === undefined) list = [];
  else if (typeof raw === 'string') list = raw.split(' ');
  else if (Array.isArray(raw) && raw.every((scope) => typeof scope === 'string')) list = raw as string[];
  else throw new InvalidScopeClaimError('scope must be a string or a list of strings', typeof raw, 'string');
  if (list.length > MAX_SCOPES) throw new InvalidScopeClaimError(`more than ${MAX_SCOPES} scopes`, String(list.length), String(MAX_SCOPES));
  const prefix = issuer.scopePrefix;
  const scopes: string[] = [];
  for (const scope of list) {
    const stripped = prefix && scope.startsWith(prefix) ? scope.slice(prefix.length) : scope;
    // A scope that could never name a dualgate route (odd characters, another API's URL scope) is dropped.
    if (SCOPE_PATTERN.test(stripped)) scopes.push(stripped);
  }
  return normaliseScopes(scopes);
}

type ErrorClass = abstract new (...args: never[]) => Error;
/** Most specific classes first: the first match names the reason. */
const REJECTIONS: [ErrorClass, RejectReason][] = [
  [NotAnAccessTokenError, 'jwt_not_access_token'],
  [MissingSubjectError, 'jwt_missing_sub'],
  [InvalidScopeClaimError, 'jwt_invalid_scope_claim'],
  [JwtExpiredError, 'jwt_expired'],
  [JwtNotBeforeError, 'jwt_not_yet_valid'],
  [JwtInvalidIssuerError, 'jwt_invalid_issuer'],
  [ParameterValidationError, 'jwt_invalid_issuer'],
  [JwtInvalidAudienceError, 'jwt_invalid_audience'],
  [JwtInvalidSignatureAlgorithmError, 'jwt_invalid_algorithm'],
  [JwtInvalidClaimError, 'jwt_invalid_claim'],
  [JwtInvalidSignatureError, 'jwt_invalid_signature'],
  [KidNotFoundInJwksError, 'jwt_unknown_kid'],
  [WaitPeriodNotYetEndedJwkError, 'jwt_unknown_kid'],
  [JwtWithoutValidKidError, 'jwt_malformed'],
  [JwkInvalidKtyError, 'jwt_invalid_algorithm'],
  [JwkInvalidUseError, 'jwt_invalid_algorithm'],
  [JwtParseError, 'jwt_malformed'],
];
/** The issuer's JWKS could not be had: fail closed (503), do not blame the caller. */
const FAILURES: ErrorClass[] = [FetchError, JwksValidationError, JwkValidationError, JwksNotAvailableInCacheError];

export function classifyJwtError(error: unknown): PolicyResult {
  for (const [errorClass, reason] of REJECTIONS) if (error instanceof errorClass) return reject(reason);
  if (FAILURES.some((errorClass) => error instanceof errorClass)) return { kind: 'fail', reason: 'jwks_unavailable', error };
  // node:crypto throws (rather than returning false) for some forged signatures, e.g. an ES256 signature of
  // the wrong length ("Malformed signature"): that is the caller's bad signature, not our outage.
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('ERR_CRYPTO_') || code.startsWith('ERR_OSSL_'))) return reject('jwt_invalid_signature');
  return { kind: 'fail', reason: 'internal_error', error };
}

interface VerifiedToken {
  /** The whole token: a hit must be this exact string. */
  token: string;
  principal: Principal;
  slot: PrincipalSlot;
  expMs: number;
}

/**
 * The verified-token cache is keyed by the token's last characters (signature bytes) rather than the whole
 * token: hashing a 1 KB string for a Map costs more than the rest of a cached decision. Each entry keeps
 * the full token and a hit must equal it, so a forged token reusing a signature is only ever a miss.
 */
const TOKEN_CACHE_KEY_CHARS = 48;
const tokenCacheKey = (token: string) => token.slice(-TOKEN_CACHE_KEY_CHARS);

export class JwtPolicy implements CredentialPolicy {
  readonly verifier: { verifySync(jwt: string): JwtPayload; verify(jwt: string): Promise<JwtPayload>; hydrate(): Promise<void> };
  private readonly issuers: Map<string, IssuerConfig>;
  private readonly cache: BoundedCache<string, VerifiedToken>;
  private readonly nowMs: () => number;

  constructor(private readonly options: JwtPolicyOptions) {
    if (options.issuers.length === 0) throw new Error('JwtPolicy needs at least one issuer');
    this.nowMs = options.nowMs ?? Date.now;
    this.issuers = new Map(options.issuers.map((issuer) => [issuer.issuer, issuer]));
    this.cache = new BoundedCache(options.maxCacheEntries, this.nowMs);
    const jwksCache = new SimpleJwksCache({
      fetcher: options.fetcher,
      penaltyBox: new SimplePenaltyBox({ waitSeconds: options.unknownKidPenaltySeconds ?? 10 }),
    });
    const graceSeconds = options.clockSkewSeconds ?? 0;
    const configs = options.issuers.map((issuer) => ({
      issuer: issuer.issuer,
      audience: issuer.audience ?? null,
      graceSeconds,
      ...(issuer.jwksUri ? { jwksUri: issuer.jwksUri } : {}),
      customJwtCheck: ({ payload, header }: { payload: JwtPayload; header: JwtHeader }) => checkAccessToken(issuer, payload, header),
    }));
    this.verifier = JwtVerifier.create(configs as [(typeof configs)[number]], { jwksCache }) as unknown as JwtPolicy['verifier'];
  }

  /** Load every issuer's JWKS (at cold start). Failures are left for the first request to report. */
  async hydrate(): Promise<void> {
    await this.verifier.hydrate();
  }

  evaluate(token: string): PolicyResult | Promise<PolicyResult> {
    const nowMs = this.nowMs();
    // A hit is a string identical to a token that passed every check below, so it needs none of them again.
    // On a miss, aws-jwt-verify parses the token's syntax strictly before it looks at any key (no I/O for junk).
    const hit = this.cache.get(tokenCacheKey(token), nowMs);
    if (hit && hit.token === token && hit.expMs > nowMs) return { kind: 'principal', principal: hit.principal, reason: 'jwt_valid', cached: true, slot: hit.slot };
    let payload: JwtPayload;
    try {
      payload = this.verifier.verifySync(token);
    } catch (error) {
      // Not in the JWKS cache yet (cold start failed, or a new `kid`): fetch, within the penalty box's limits.
      if (error instanceof JwksNotAvailableInCacheError || error instanceof KidNotFoundInJwksError) return this.verifyAfterFetch(token);
      return classifyJwtError(error);
    }
    return this.accept(token, payload, nowMs);
  }

  private async verifyAfterFetch(token: string): Promise<PolicyResult> {
    try {
      return this.accept(token, await this.verifier.verify(token), this.nowMs());
    } catch (error) {
      return classifyJwtError(error);
    }
  }

  private accept(token: string, payload: JwtPayload, nowMs: number): PolicyResult {
    const issuer = this.issuers.get(payload.iss as string);
    if (!issuer) return reject('jwt_invalid_issuer');
    const principal: Principal = Object.freeze({ sub: payload.sub as string, scopes: scopesOf(issuer, payload), authMethod: 'jwt' });
    const expMs = typeof payload.exp === 'number' ? payload.exp * 1000 : nowMs;
    const ttlMs = Math.min(expMs - nowMs, this.options.jwtCacheTtlSeconds * 1000);
    const slot: PrincipalSlot = {};
    if (ttlMs > 0) this.cache.set(tokenCacheKey(token), { token, principal, slot, expMs }, ttlMs);
    return { kind: 'principal', principal, reason: 'jwt_valid', cached: false, slot };
  }
}
