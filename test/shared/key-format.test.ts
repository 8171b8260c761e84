import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  BASE62_ALPHABET,
  encodeBase62,
  generateKey,
  hashKey,
  KEY_ENTROPY_BITS,
  keyChecksum,
  parseKey,
} from '../../lambdas/core/key-format';

/** The published key shape (lambdas/core/key-format.ts), which the hand-written parser must agree with. */
const KEY_SHAPE = /^[a-z][a-z0-9]{1,15}_[0-9A-Za-z]{36}$/;

/** An independent CRC32 (IEEE 802.3, reflected, poly 0xEDB88320), to check the published format without trusting zlib. */
function referenceCrc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function referenceBase62(value: number): string {
  let digits = '';
  do {
    digits = BASE62_ALPHABET[value % 62] + digits;
    value = Math.floor(value / 62);
  } while (value > 0);
  return digits.padStart(6, '0');
}

describe('key format', () => {
  it('generates keys of the published shape: prefix, 30 base62 chars, 6-char CRC32 checksum', () => {
    const { key, start } = generateKey('dg');
    expect(key).toMatch(/^dg_[0-9A-Za-z]{36}$/);
    const body = key.slice(0, 33);
    expect(key.slice(33)).toBe(referenceBase62(referenceCrc32(body)));
    expect(start).toBe(key.slice(0, 7));
    expect(parseKey(key, 'dg')).toEqual({ ok: true });
  });

  it('has about 178 bits of entropy and never repeats', () => {
    expect(KEY_ENTROPY_BITS).toBe(178);
    const keys = new Set(Array.from({ length: 2000 }, () => generateKey('dg').key));
    expect(keys.size).toBe(2000);
  });

  it('draws every base62 character (no modulo bias that drops the top of the alphabet)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 400; i++) for (const char of generateKey('dg').key.slice(3, 33)) counts.set(char, (counts.get(char) ?? 0) + 1);
    expect(counts.size).toBe(62);
  });

  it('matches the checksum spec on a fixed vector (secret scanners rely on it)', () => {
    const body = 'dg_0123456789ABCDEFGHIJabcdefghij';
    expect(keyChecksum(body)).toBe(referenceBase62(referenceCrc32(body)));
    expect(encodeBase62(0, 6)).toBe('000000');
    expect(encodeBase62(61, 6)).toBe('00000z');
    expect(encodeBase62(62, 6)).toBe('000010');
    expect(encodeBase62(0xffffffff, 6)).toBe('4gfFC3');
  });

  it('rejects a bad checksum, a wrong prefix and anything not key-shaped', () => {
    const { key } = generateKey('dg');
    const flipped = key.slice(0, 10) + (key[10] === 'a' ? 'b' : 'a') + key.slice(11);
    expect(parseKey(flipped, 'dg')).toEqual({ ok: false, reason: 'bad_checksum' });
    expect(parseKey(generateKey('acme').key, 'dg')).toEqual({ ok: false, reason: 'wrong_prefix' });
    expect(parseKey(key.toUpperCase(), 'dg').ok).toBe(false);
    expect(parseKey(`${key}x`, 'dg')).toEqual({ ok: false, reason: 'not_key_shaped' });
    expect(parseKey(`dg_${'а'.repeat(36)}`, 'dg')).toEqual({ ok: false, reason: 'not_key_shaped' });
    expect(parseKey('', 'dg')).toEqual({ ok: false, reason: 'not_key_shaped' });
  });

  it('rejects invalid prefixes when minting', () => {
    expect(() => generateKey('DG')).toThrow(/keyPrefix/);
    expect(() => generateKey('a')).toThrow(/keyPrefix/);
    expect(() => generateKey('1dg')).toThrow(/keyPrefix/);
  });

  it('hashes with SHA-256 hex', () => {
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('property: any single-character change to a valid key is caught offline', () => {
    const { key } = generateKey('dg');
    fc.assert(
      fc.property(fc.integer({ min: 3, max: key.length - 1 }), fc.constantFrom(...BASE62_ALPHABET), (index, char) => {
        fc.pre(key[index] !== char);
        const mutated = key.slice(0, index) + char + key.slice(index + 1);
        expect(parseKey(mutated, 'dg').ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('property: the hand-written parser agrees with the published shape regex on shape-valid strings', () => {
    fc.assert(
      fc.property(fc.stringMatching(KEY_SHAPE), (input) => {
        const parsed = parseKey(input, input.slice(0, input.indexOf('_')));
        const body = input.slice(0, -6);
        expect(parsed.ok).toBe(keyChecksum(body) === input.slice(-6));
        if (!parsed.ok) expect(parsed.reason).toBe('bad_checksum');
      }),
      { numRuns: 2000 },
    );
  });

  it('property: accepts every correctly checksummed key of any valid prefix, and only with that prefix', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9]{1,15}$/), fc.stringMatching(/^[0-9A-Za-z]{30}$/), (prefix, random) => {
        const body = `${prefix}_${random}`;
        const key = body + keyChecksum(body);
        expect(key).toMatch(KEY_SHAPE);
        expect(parseKey(key, prefix)).toEqual({ ok: true });
        expect(parseKey(key, prefix === 'dg' ? 'dh' : 'dg')).toEqual({ ok: false, reason: 'wrong_prefix' });
      }),
      { numRuns: 2000 },
    );
  });

  it('property: parseKey never throws and only accepts strings of the published shape', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (input) => {
        const parsed = parseKey(input, 'dg');
        if (parsed.ok) expect(input).toMatch(KEY_SHAPE);
      }),
      { numRuns: 2000 },
    );
  });
});
