/**
 * The API key format, shared by the authorizer (which parses) and the management API (which mints).
 *
 *   <prefix>_<30 random base62 chars><6 base62 chars of CRC32>
 *
 * The checksum is CRC32 (IEEE, as zlib's) of the UTF-8 string `<prefix>_<random part>`, written in
 * base62 (alphabet 0-9A-Za-z), most significant digit first, left-padded with `0` to 6 chars.
 * It lets the authorizer and secret scanners reject junk offline, with no table read.
 */
import { createHash, randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const KEY_RANDOM_LENGTH = 30;
export const KEY_CHECKSUM_LENGTH = 6;
/** log2(62^30) ≈ 178.6 bits of entropy in the random part. */
export const KEY_ENTROPY_BITS = Math.floor(KEY_RANDOM_LENGTH * Math.log2(62));
export const KEY_PREFIX_PATTERN = /^[a-z][a-z0-9]{1,15}$/;
/** Longest possible key: a 16-char prefix, `_`, 36 chars. */
export const KEY_MAX_LENGTH = 16 + 1 + KEY_RANDOM_LENGTH + KEY_CHECKSUM_LENGTH;
/** Display length of the random part kept in `start` (prefix + first 4 random chars). */
const START_RANDOM_CHARS = 4;

const KEY_SHAPE = /^([a-z][a-z0-9]{1,15})_([0-9A-Za-z]{30})([0-9A-Za-z]{6})$/;

export type KeyParseFailure = 'not_key_shaped' | 'wrong_prefix' | 'bad_checksum';
export type ParsedKey = { ok: true; prefix: string; start: string } | { ok: false; reason: KeyParseFailure };

export function assertValidKeyPrefix(prefix: string): void {
  if (!KEY_PREFIX_PATTERN.test(prefix)) {
    throw new Error(`keyPrefix must match ${KEY_PREFIX_PATTERN} (got ${JSON.stringify(prefix)})`);
  }
}

/** True when the credential has the general shape of a key (any prefix), so it is never tried as a JWT. */
export function isKeyShaped(credential: string): boolean {
  return credential.length <= KEY_MAX_LENGTH && KEY_SHAPE.test(credential);
}

export function encodeBase62(value: number, width: number): string {
  let out = '';
  let rest = value;
  while (rest > 0) {
    out = BASE62_ALPHABET[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out.padStart(width, '0');
}

export function keyChecksum(prefixAndRandom: string): string {
  return encodeBase62(crc32(prefixAndRandom), KEY_CHECKSUM_LENGTH);
}

/** Format and checksum check with no I/O. */
export function parseKey(credential: string, expectedPrefix: string): ParsedKey {
  if (credential.length > KEY_MAX_LENGTH) return { ok: false, reason: 'not_key_shaped' };
  const match = KEY_SHAPE.exec(credential);
  if (!match) return { ok: false, reason: 'not_key_shaped' };
  const prefix = match[1]!;
  const random = match[2]!;
  if (prefix !== expectedPrefix) return { ok: false, reason: 'wrong_prefix' };
  if (keyChecksum(`${prefix}_${random}`) !== match[3]) return { ok: false, reason: 'bad_checksum' };
  return { ok: true, prefix, start: `${prefix}_${random.slice(0, START_RANDOM_CHARS)}` };
}

/** A new key: `randomInt` draws each char uniformly (it rejects biased samples), never Math.random. */
export function generateKey(prefix: string): { key: string; start: string } {
  assertValidKeyPrefix(prefix);
  let random = '';
  for (let i = 0; i < KEY_RANDOM_LENGTH; i++) random += BASE62_ALPHABET[randomInt(62)];
  const body = `${prefix}_${random}`;
  return { key: body + keyChecksum(body), start: `${prefix}_${random.slice(0, START_RANDOM_CHARS)}` };
}

/** SHA-256 hex of the full key: the table's partition key. Keys carry ~178 random bits, so a fast hash is enough (SECURITY.md). */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
