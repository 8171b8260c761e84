/**
 * Pull the bearer credential out of a REQUEST authorizer event, with no I/O and bounded work.
 * Header names are case-insensitive (RFC 9110); so is the scheme (RFC 7235): `bearer x` is accepted.
 *
 * This only finds the credential. Its syntax is checked by the one credential check that may judge it (the key's
 * one-pass shape and checksum scan, or aws-jwt-verify's parser before any signature work).
 */
import type { RejectReason } from './decision';

/** Longest `Authorization` value considered. Real JWTs are 1-4 KB; a 1 MB header is rejected unparsed. */
export const MAX_AUTHORIZATION_LENGTH = 8192;
const AUTHORIZATION = 'authorization';

export type CredentialExtraction =
  | { ok: true; credential: string }
  | {
      ok: false;
      reason: Extract<RejectReason, 'no_credential' | 'malformed_header' | 'ambiguous_header' | 'header_too_long' | 'wrong_scheme'>;
    };

interface HeaderBearingEvent {
  headers?: Record<string, string | undefined> | null;
  multiValueHeaders?: Record<string, string[] | undefined> | null;
}

const BEARER_PREFIX = /^[ \t]*bearer +/i;

export function extractCredential(event: HeaderBearingEvent): CredentialExtraction {
  let value: unknown;
  let seen = 0;
  const headers = event.headers;
  if (headers) {
    for (const name in headers) {
      if (name.length === AUTHORIZATION.length && name.toLowerCase() === AUTHORIZATION) {
        value = headers[name];
        seen++;
      }
    }
  }
  const multiValueHeaders = event.multiValueHeaders;
  if (multiValueHeaders) {
    let values = 0;
    for (const name in multiValueHeaders) {
      if (name.length === AUTHORIZATION.length && name.toLowerCase() === AUTHORIZATION) {
        const list = multiValueHeaders[name];
        if (Array.isArray(list)) {
          values += list.length;
          if (value === undefined) value = list[0];
        }
      }
    }
    // Two Authorization headers (or two spellings of the name) are ambiguous: a proxy and the backend might pick differently.
    if (values > 1) return { ok: false, reason: 'ambiguous_header' };
  }
  if (seen > 1) return { ok: false, reason: 'ambiguous_header' };
  if (value === undefined || value === null) return { ok: false, reason: 'no_credential' };
  if (typeof value !== 'string') return { ok: false, reason: 'malformed_header' };
  if (value.length > MAX_AUTHORIZATION_LENGTH) return { ok: false, reason: 'header_too_long' };
  const scheme = BEARER_PREFIX.exec(value);
  if (!scheme) return { ok: false, reason: value.trim() === '' ? 'no_credential' : 'wrong_scheme' };
  const credential = value.slice(scheme[0].length).trimEnd();
  if (credential.length === 0) return { ok: false, reason: 'wrong_scheme' };
  // One credential only: a second word is a second scheme or credential, never something to guess at.
  // (Other odd characters are refused by each credential check's own syntax check; includes is a fast scan.)
  if (credential.includes(' ') || credential.includes(',') || credential.includes('\t')) return { ok: false, reason: 'malformed_header' };
  return { ok: true, credential };
}
