import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { extractCredential, MAX_AUTHORIZATION_LENGTH } from '../../lambdas/authorizer/credential';
import { classifyCredential } from '../../lambdas/authorizer/classify';
import { generateKey } from '../../lambdas/core/key-format';

const withHeader = (value: string, name = 'Authorization') => ({ headers: { [name]: value } });

describe('extractCredential', () => {
  it('finds the header whatever its case, and the scheme whatever its case (RFC 7235)', () => {
    for (const name of ['Authorization', 'authorization', 'AUTHORIZATION']) {
      for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
        expect(extractCredential(withHeader(`${scheme} abc.def.ghi`, name))).toEqual({ ok: true, credential: 'abc.def.ghi' });
      }
    }
  });

  it('rejects missing, empty, other-scheme, repeated-scheme and malformed values', () => {
    expect(extractCredential({ headers: {} })).toEqual({ ok: false, reason: 'no_credential' });
    expect(extractCredential({ headers: null })).toEqual({ ok: false, reason: 'no_credential' });
    expect(extractCredential(withHeader('   '))).toEqual({ ok: false, reason: 'no_credential' });
    expect(extractCredential(withHeader('Bearer'))).toEqual({ ok: false, reason: 'wrong_scheme' });
    expect(extractCredential(withHeader('Bearer '))).toEqual({ ok: false, reason: 'wrong_scheme' });
    expect(extractCredential(withHeader('Basic dXNlcjpwYXNz'))).toEqual({ ok: false, reason: 'wrong_scheme' });
    expect(extractCredential(withHeader('Bearer Bearer abc'))).toEqual({ ok: false, reason: 'malformed_header' });
    expect(extractCredential(withHeader('Bearer a,b'))).toEqual({ ok: false, reason: 'malformed_header' });
    expect(extractCredential(withHeader('Bearer abc\tdef'))).toEqual({ ok: false, reason: 'malformed_header' });
    expect(extractCredential(withHeader('Bearerabc'))).toEqual({ ok: false, reason: 'wrong_scheme' });
  });

  it('rejects an oversized header before parsing it', () => {
    expect(extractCredential(withHeader(`Bearer ${'a'.repeat(MAX_AUTHORIZATION_LENGTH)}`))).toEqual({
      ok: false,
      reason: 'header_too_long',
    });
    expect(extractCredential(withHeader(`Bearer ${'a'.repeat(1024 * 1024)}`))).toEqual({ ok: false, reason: 'header_too_long' });
  });

  it('rejects two Authorization headers as ambiguous', () => {
    expect(extractCredential({ headers: { Authorization: 'Bearer a', authorization: 'Bearer b' } })).toEqual({
      ok: false,
      reason: 'ambiguous_header',
    });
    expect(
      extractCredential({ headers: { Authorization: 'Bearer a' }, multiValueHeaders: { Authorization: ['Bearer a', 'Bearer b'] } }),
    ).toEqual({
      ok: false,
      reason: 'ambiguous_header',
    });
  });

  it('ignores a credential in the query string', () => {
    const { key } = generateKey('dg');
    expect(extractCredential({ headers: {}, ...{ queryStringParameters: { api_key: key } } })).toEqual({
      ok: false,
      reason: 'no_credential',
    });
  });

  it('property: never throws, and any credential it returns is one non-empty word without whitespace or commas', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 })), (value) => {
        const result = extractCredential(withHeader(value));
        if (result.ok) {
          expect(result.credential.length).toBeGreaterThan(0);
          expect(result.credential).not.toMatch(/[\s,]/);
          expect(value.toLowerCase()).toContain(`bearer ${result.credential.toLowerCase()}`);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('classifyCredential', () => {
  it('routes key-shaped credentials to the key check and JWT-shaped ones to the JWT check', () => {
    expect(classifyCredential(generateKey('dg').key)).toBe('apiKey');
    expect(classifyCredential(generateKey('other').key)).toBe('apiKey');
    expect(classifyCredential('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')).toBe('jwt');
    expect(classifyCredential('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.')).toBe('jwt');
  });

  it('sends anything with a dot to the JWT check and dot-free, underscore-bearing strings to the key check; the rest is unknown', () => {
    expect(classifyCredential('a.b.c.d.e')).toBe('jwt');
    expect(classifyCredential(`dg_${'a'.repeat(35)}`)).toBe('apiKey');
    expect(classifyCredential('hello')).toBe('unknown');
    expect(classifyCredential('_leading')).toBe('unknown');
    expect(classifyCredential(`dg_${'a'.repeat(200)}`)).toBe('unknown');
  });

  it('property: never classifies one string as both', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (value) => {
        expect(['apiKey', 'jwt', 'unknown']).toContain(classifyCredential(value));
      }),
    );
  });
});
