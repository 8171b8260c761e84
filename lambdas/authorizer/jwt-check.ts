/**
 * The JWT check: aws-jwt-verify checks signature, algorithm (no `none`, no HMAC), `exp`, `nbf`, `iss`
 * and `aud`; this module adds what it lacks (canonical base64url only, no `crit`), the access-token-only
 * rules, scope extraction, JWKS location by OIDC discovery, and a bounded cache of verified tokens. The
 * verifier for a token is chosen by its `iss` (multi-issuer JwtVerifier).
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
import { JwtBaseError } from 'aws-jwt-verify/error';
import { SimpleJwksCache, SimplePenaltyBox } from 'aws-jwt-verify/jwk';
import type { Fetcher } from 'aws-jwt-verify/https';
import type { JwtHeader, JwtPayload } from 'aws-jwt-verify/jwt-model';
import { BoundedCache } from '../core/bounded-cache';
import type { IssuerConfig } from '../core/issuer-config';
import { normaliseScopes, type Principal } from '../core/principal';
import { SCOPE_PATTERN } from '../core/route-table';
import { DiscoveringJwksFetcher, discoveryUrlOf } from './oidc-discovery';
import { reject, type CredentialCheck, type CheckResult, type RejectReason } from './decision';

export interface JwtCheckOptions {
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
class NotAnAccessTokenError extends JwtInvalidClaimError {}
class MissingSubjectError extends JwtInvalidClaimError {}
class InvalidScopeClaimError extends JwtInvalidClaimError {}
class MissingExpiryError extends JwtInvalidClaimError {}
/** A `crit` header: it names extensions the recipient must understand, and this authorizer implements none. */
class UnsupportedCriticalHeaderError extends JwtBaseError {}

const MAX_SCOPES = 100;

/** Rules aws-jwt-verify's generic verifier does not know: access tokens only, a `sub`, and a sane scope claim. */
function checkAccessToken(issuer: IssuerConfig, payload: JwtPayload, header: JwtHeader): void {
  // RFC 7515 §4.1.11: a recipient that does not understand every extension `crit` lists MUST reject the
  // token. We implement no extension (and an empty or malformed `crit` is invalid anyway), so any `crit` fails.
  if (header['crit'] !== undefined)
    throw new UnsupportedCriticalHeaderError(`crit header not supported: ${JSON.stringify(header['crit']).slice(0, 100)}`);
  if (issuer.requireAccessTokenType) {
    const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : undefined;
    if (typ !== 'at+jwt' && typ !== 'application/at+jwt')
      throw new NotAnAccessTokenError('typ must be at+jwt (RFC 9068)', String(header.typ), 'at+jwt');
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
    // With a prefix, only prefixed scopes are this API's: a bare `keys:admin` belongs to some other resource
    // server of the same issuer (or was never granted for us), so it must not count.
    if (prefix && !scope.startsWith(prefix)) continue;
    const stripped = prefix ? scope.slice(prefix.length) : scope;
    // A scope that could never name a dualgate route (odd characters, another API's URL scope) is dropped.
    if (SCOPE_PATTERN.test(stripped)) scopes.push(stripped);
  }
  return normaliseScopes(scopes);
}

type ErrorClass = abstract new (...args: never[]) => Error;
/** Most specific classes first: the first match names the reason. */
const REJECTIONS: [ErrorClass, RejectReason][] = [
  [UnsupportedCriticalHeaderError, 'jwt_unsupported_crit'],
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

function classifyJwtError(error: unknown): CheckResult {
  for (const [errorClass, reason] of REJECTIONS) if (error instanceof errorClass) return reject(reason);
  if (FAILURES.some((errorClass) => error instanceof errorClass)) return { kind: 'fail', reason: 'jwks_unavailable', error };
  // node:crypto throws (rather than returning false) for some forged signatures, e.g. an ES256 signature of
  // the wrong length ("Malformed signature"): that is the caller's bad signature, not our outage.
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('ERR_CRYPTO_') || code.startsWith('ERR_OSSL_'))) return reject('jwt_invalid_signature');
  return { kind: 'fail', reason: 'internal_error', error };
}

const BASE64URL_VALUES = new Int8Array(128).fill(-1);
for (const [index, char] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries())
  BASE64URL_VALUES[char.charCodeAt(0)] = index;

/**
 * One spelling per token: three segments of unpadded base64url (RFC 7515 §2, §7.1) whose last character
 * carries no stray low bits. aws-jwt-verify accepts `=` padding, and base64 decoders ignore the unused low
 * bits of a final character, so without this one signed token has many spellings: each a separate entry in
 * API Gateway's and our caches, and a way around any future deny-list of tokens.
 * Returns the reason to reject, or undefined for a canonical token. Runs only on a verified-token cache miss.
 */
export function nonCanonicalReason(token: string): 'jwt_malformed' | 'jwt_noncanonical' | undefined {
  // Structure first (three segments of the alphabet), so junk is `jwt_malformed` whatever its padding.
  const firstDot = token.indexOf('.');
  const secondDot = firstDot < 0 ? -1 : token.indexOf('.', firstDot + 1);
  if (secondDot < 0 || token.indexOf('.', secondDot + 1) >= 0) return 'jwt_malformed';
  let padded = false;
  for (let index = 0; index < token.length; index++) {
    const code = token.charCodeAt(index);
    if (code === 61 /* '=' */) padded = true;
    else if (code !== 46 /* '.' */ && (code > 127 || BASE64URL_VALUES[code] === -1)) return 'jwt_malformed';
  }
  if (padded) return 'jwt_noncanonical';
  return (
    segmentReason(token, 0, firstDot) ?? segmentReason(token, firstDot + 1, secondDot) ?? segmentReason(token, secondDot + 1, token.length)
  );
}

function segmentReason(token: string, start: number, end: number): 'jwt_malformed' | 'jwt_noncanonical' | undefined {
  const length = end - start;
  if (length === 0) return 'jwt_malformed';
  const lastValue = BASE64URL_VALUES[token.charCodeAt(end - 1)] ?? -1;
  switch (length % 4) {
    case 1:
      return 'jwt_noncanonical'; // six bits cannot end a byte string
    case 2:
      return (lastValue & 0x0f) === 0 ? undefined : 'jwt_noncanonical'; // 2 data bits, 4 must be zero
    case 3:
      return (lastValue & 0x03) === 0 ? undefined : 'jwt_noncanonical'; // 4 data bits, 2 must be zero
    default:
      return undefined;
  }
}

interface VerifiedToken {
  /** The whole token: a hit must be this exact string. */
  token: string;
  principal: Principal;
  expMs: number;
}

/**
 * The verified-token cache is keyed by the token's last characters (signature bytes) rather than the whole
 * token: hashing a 1 KB string for a Map costs more than the rest of a cached decision. Each entry keeps
 * the full token and a hit must equal it, so a forged token reusing a signature is only ever a miss.
 */
const TOKEN_CACHE_KEY_CHARS = 48;
const tokenCacheKey = (token: string) => token.slice(-TOKEN_CACHE_KEY_CHARS);

/**
 * Cognito publishes its keys at aws-jwt-verify's default path (its CognitoJwtVerifier relies on it), so a
 * Cognito issuer skips the discovery round trip at cold start.
 */
const COGNITO_ISSUER = /^https:\/\/cognito-idp\.[a-z0-9-]+\.amazonaws\.com\/[A-Za-z0-9-]+_[A-Za-z0-9]+$/;
function knownJwksUri(issuer: string): string | undefined {
  return COGNITO_ISSUER.test(issuer) ? `${issuer}/.well-known/jwks.json` : undefined;
}

export class JwtCheck implements CredentialCheck {
  readonly verifier: { verifySync(jwt: string): JwtPayload; verify(jwt: string): Promise<JwtPayload>; hydrate(): Promise<void> };
  private readonly issuers: Map<string, IssuerConfig>;
  private readonly cache: BoundedCache<string, VerifiedToken>;
  private readonly nowMs: () => number;
  /** The fetcher the JWKS cache uses: the given one, wrapped with OIDC discovery when an issuer needs it. */
  readonly fetcher: Fetcher;

  constructor(private readonly options: JwtCheckOptions) {
    if (options.issuers.length === 0) throw new Error('JwtCheck needs at least one issuer');
    this.nowMs = options.nowMs ?? Date.now;
    this.issuers = new Map(options.issuers.map((issuer) => [issuer.issuer, issuer]));
    this.cache = new BoundedCache(options.maxCacheEntries, this.nowMs);
    // An issuer without a jwksUri finds it by OIDC discovery; the verifier keys its JWKS cache on the
    // discovery URL, and the discovering fetcher turns a fetch of that URL into discovery + JWKS fetch.
    const jwksUriOf = (issuer: IssuerConfig) => issuer.jwksUri ?? knownJwksUri(issuer.issuer) ?? discoveryUrlOf(issuer.issuer);
    const discovered = options.issuers
      .filter((issuer) => jwksUriOf(issuer) === discoveryUrlOf(issuer.issuer))
      .map((issuer) => issuer.issuer);
    this.fetcher =
      discovered.length > 0
        ? new DiscoveringJwksFetcher(options.fetcher, discovered, { ...(options.nowMs ? { nowMs: options.nowMs } : {}) })
        : options.fetcher;
    const jwksCache = new SimpleJwksCache({
      fetcher: this.fetcher,
      penaltyBox: new SimplePenaltyBox({ waitSeconds: options.unknownKidPenaltySeconds ?? 10 }),
    });
    const graceSeconds = options.clockSkewSeconds ?? 0;
    const configs = options.issuers.map((issuer) => ({
      issuer: issuer.issuer,
      audience: issuer.audience ?? null,
      graceSeconds,
      jwksUri: jwksUriOf(issuer),
      customJwtCheck: ({ payload, header }: { payload: JwtPayload; header: JwtHeader }) => checkAccessToken(issuer, payload, header),
    }));
    this.verifier = JwtVerifier.create(configs as [(typeof configs)[number]], { jwksCache }) as unknown as JwtCheck['verifier'];
  }

  /** Load every issuer's JWKS (at cold start). Failures are left for the first request to report. */
  async hydrate(): Promise<void> {
    await this.verifier.hydrate();
  }

  evaluate(token: string): CheckResult | Promise<CheckResult> {
    const nowMs = this.nowMs();
    // A hit is a string identical to a token that passed every check below, so it needs none of them again.
    // On a miss, aws-jwt-verify parses the token's syntax strictly before it looks at any key (no I/O for junk).
    const hit = this.cache.get(tokenCacheKey(token), nowMs);
    if (hit && hit.token === token && hit.expMs > nowMs)
      return { kind: 'principal', principal: hit.principal, reason: 'jwt_valid', cached: true };
    // Every cached token passed this, so a hit needs no check; a miss pays one scan before any parsing.
    const nonCanonical = nonCanonicalReason(token);
    if (nonCanonical) return reject(nonCanonical);
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

  private async verifyAfterFetch(token: string): Promise<CheckResult> {
    try {
      return this.accept(token, await this.verifier.verify(token), this.nowMs());
    } catch (error) {
      return classifyJwtError(error);
    }
  }

  private accept(token: string, payload: JwtPayload, nowMs: number): CheckResult {
    const issuer = this.issuers.get(payload.iss as string);
    if (!issuer) return reject('jwt_invalid_issuer');
    const principal: Principal = Object.freeze({ sub: payload.sub as string, scopes: scopesOf(issuer, payload), authMethod: 'jwt' });
    const expMs = typeof payload.exp === 'number' ? payload.exp * 1000 : nowMs;
    const ttlMs = Math.min(expMs - nowMs, this.options.jwtCacheTtlSeconds * 1000);
    if (ttlMs > 0) this.cache.set(tokenCacheKey(token), { token, principal, expMs }, ttlMs);
    return { kind: 'principal', principal, reason: 'jwt_valid', cached: false };
  }
}
