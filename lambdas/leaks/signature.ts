/**
 * GitHub's report signature, as its secret-scanning partner programme publishes it: ECDSA over NIST P-256 with
 * SHA-256 (`ECDSA-NIST-P256V1-SHA256`), the signature DER-encoded and then base64 in `Github-Public-Key-Signature`,
 * computed over the raw request body. Pure functions over bytes and Node's own crypto: nothing here parses JSON,
 * so a report is verified before any of it is read.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/** A DER ECDSA P-256 signature is at most 72 bytes (96 base64 characters); anything much longer is not one. */
const MAX_SIGNATURE_BASE64_CHARS = 200;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The header's bytes, or undefined when it is not standard base64 of a plausible length. GitHub pads; a sender that
 * does not is accepted too (the signature decides, not its spelling), but nothing outside the base64 alphabet is.
 */
export function decodeSignatureHeader(value: string): Buffer | undefined {
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_SIGNATURE_BASE64_CHARS || !BASE64.test(trimmed)) return undefined;
  const unpadded = trimmed.replace(/=+$/, '');
  // A base64 text is never 1 character past a multiple of 4; padding may only complete a group.
  if (unpadded.length % 4 === 1 || (trimmed.length !== unpadded.length && trimmed.length % 4 !== 0)) return undefined;
  const bytes = Buffer.from(unpadded, 'base64');
  return bytes.length >= 8 ? bytes : undefined;
}

/** A PEM (SPKI) public key, only if it is an EC key on P-256: GitHub's signing keys are, and nothing else may verify. */
export function parseP256PublicKey(pem: string): KeyObject | undefined {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    return undefined;
  }
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? key : undefined;
}

/** True only when `signature` (DER) is a valid ECDSA P-256/SHA-256 signature of exactly `body` under `key`. */
export function verifyReportSignature(body: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  try {
    return verify('sha256', body, { key, dsaEncoding: 'der' }, signature);
  } catch {
    // Malformed DER and the like: not a signature of this body.
    return false;
  }
}
