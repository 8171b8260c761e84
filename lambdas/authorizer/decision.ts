/**
 * What each credential check decides, as values. Only the handler turns these into `Unauthorized`,
 * a thrown failure (503) or an IAM policy.
 */
import type { Principal } from '../core/principal';

export type RejectReason =
  | 'no_credential'
  | 'malformed_header'
  | 'ambiguous_header'
  | 'header_too_long'
  | 'wrong_scheme'
  | 'malformed_credential'
  | 'key_wrong_prefix'
  | 'key_bad_checksum'
  | 'key_not_found'
  | 'key_expired'
  | 'key_revoked'
  | 'key_disabled'
  | 'key_item_malformed'
  | 'jwt_malformed'
  /** Padded or otherwise non-canonical base64url: a second spelling of some token. */
  | 'jwt_noncanonical'
  | 'jwt_unsupported_crit'
  | 'jwt_invalid_signature'
  | 'jwt_invalid_algorithm'
  | 'jwt_expired'
  | 'jwt_not_yet_valid'
  | 'jwt_invalid_issuer'
  | 'jwt_invalid_audience'
  | 'jwt_invalid_claim'
  | 'jwt_not_access_token'
  | 'jwt_missing_sub'
  | 'jwt_invalid_scope_claim'
  | 'jwt_unknown_kid';

/** Infrastructure failures: the authorizer fails closed and API Gateway answers 503. */
export type FailureReason = 'key_store_unavailable' | 'jwks_unavailable' | 'internal_error';

export type AllowReason = 'key_valid' | 'key_valid_stale' | 'jwt_valid';

export type CheckResult =
  | { kind: 'principal'; principal: Principal; reason: AllowReason; cached: boolean }
  | { kind: 'reject'; reason: RejectReason }
  | { kind: 'fail'; reason: FailureReason; error: unknown };

export interface CredentialCheck {
  /** Synchronous when the answer is in memory (the hot path), a promise when it needs I/O. */
  evaluate(credential: string): CheckResult | Promise<CheckResult>;
}

export const reject = (reason: RejectReason): CheckResult => ({ kind: 'reject', reason });
