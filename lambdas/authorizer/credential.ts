/**
 * Pull the bearer credential out of a REQUEST authorizer event, with no I/O and bounded work.
 * Header names are case-insensitive (RFC 9110); so is the scheme (RFC 7235): `bearer x` is accepted.
 */
import type { RejectReason } from './decision';

/** Longest `Authorization` value considered. Real JWTs are 1-4 KB; a 1 MB header is rejected unparsed. */
export const MAX_AUTHORIZATION_LENGTH = 8192;

export type CredentialExtraction =
  | { ok: true; credential: string }
  | { ok: false; reason: Extract<RejectReason, 'no_credential' | 'malformed_header' | 'ambiguous_header' | 'header_too_long' | 'wrong_scheme'> };

interface HeaderBearingEvent {
  headers?: Record<string, string | undefined> | null;
  multiValueHeaders?: Record<string, string[] | undefined> | null;
}

function findHeader<T>(headers: Record<string, T> | null | undefined, lowerName: string): T[] {
  if (!headers) return [];
  const found: T[] = [];
  for (const name of Object.keys(headers)) {
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) found.push(headers[name] as T);
  }
  return found;
}

// A credential is one token68-like run of visible ASCII with no spaces or commas (so no second scheme).
const CREDENTIAL_CHARS = /^[\x21-\x2b\x2d-\x7e]+$/;
const BEARER_PREFIX = /^bearer +/i;

export function extractCredential(event: HeaderBearingEvent): CredentialExtraction {
  const multi = findHeader(event.multiValueHeaders, 'authorization').flatMap((values) => values ?? []);
  // Two Authorization headers (or two spellings of the name) are ambiguous: a proxy and the backend might pick differently.
  if (multi.length > 1) return { ok: false, reason: 'ambiguous_header' };
  const single = findHeader(event.headers, 'authorization');
  if (single.length > 1) return { ok: false, reason: 'ambiguous_header' };
  const value = single[0] ?? multi[0];
  if (value === undefined || value === null || value.trim() === '') return { ok: false, reason: 'no_credential' };
  if (typeof value !== 'string') return { ok: false, reason: 'malformed_header' };
  if (value.length > MAX_AUTHORIZATION_LENGTH) return { ok: false, reason: 'header_too_long' };
  const trimmed = value.trim();
  const scheme = BEARER_PREFIX.exec(trimmed);
  if (!scheme) return { ok: false, reason: 'wrong_scheme' };
  const credential = trimmed.slice(scheme[0].length);
  if (credential.length === 0 || !CREDENTIAL_CHARS.test(credential)) return { ok: false, reason: 'malformed_header' };
  return { ok: true, credential };
}
