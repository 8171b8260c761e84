/** GitHub's report signature: ECDSA P-256/SHA-256, DER, base64; checked over the exact bytes received. */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeSignatureHeader, parseP256PublicKey, verifyReportSignature } from '../../lambdas/leaks/signature';
import { GITHUB_DOCS_EARLIER_SAMPLE, GITHUB_DOCS_SAMPLE, githubSigningKey, signReport } from '../support/github-signing';

const verifies = (body: string | Buffer, signatureBase64: string, publicKeyPem: string): boolean => {
  const key = parseP256PublicKey(publicKeyPem);
  const signature = decodeSignatureHeader(signatureBase64);
  if (!key || !signature) throw new Error('test setup: key or signature did not parse');
  return verifyReportSignature(typeof body === 'string' ? Buffer.from(body) : body, signature, key);
};

describe("GitHub's signed examples (docs.github.com, secret scanning partner program)", () => {
  it('verifies the sample POST of the documentation with the key GitHub publishes under its identifier', () => {
    expect(verifies(GITHUB_DOCS_SAMPLE.body, GITHUB_DOCS_SAMPLE.signature, GITHUB_DOCS_SAMPLE.publicKeyPem)).toBe(true);
  });

  it('verifies the earlier sample, signed with the key GitHub now lists as no longer current', () => {
    expect(verifies(GITHUB_DOCS_EARLIER_SAMPLE.body, GITHUB_DOCS_EARLIER_SAMPLE.signature, GITHUB_DOCS_EARLIER_SAMPLE.publicKeyPem)).toBe(
      true,
    );
  });

  it('refuses the sample once a byte changes: a trailing newline, a space, re-serialised JSON', () => {
    const { body, signature, publicKeyPem } = GITHUB_DOCS_SAMPLE;
    expect(verifies(`${body}\n`, signature, publicKeyPem)).toBe(false);
    expect(verifies(body.replace('"token":', '"token": '), signature, publicKeyPem)).toBe(false);
    // Compact re-serialisation happens to give back the same bytes here; any other formatting does not.
    expect(verifies(JSON.stringify(JSON.parse(body)), signature, publicKeyPem)).toBe(true);
    expect(verifies(JSON.stringify(JSON.parse(body), null, 1), signature, publicKeyPem)).toBe(false);
    expect(verifies(body.replace('some_token', 'some_tokem'), signature, publicKeyPem)).toBe(false);
  });

  it("refuses one sample's signature under the other key", () => {
    expect(verifies(GITHUB_DOCS_SAMPLE.body, GITHUB_DOCS_SAMPLE.signature, GITHUB_DOCS_EARLIER_SAMPLE.publicKeyPem)).toBe(false);
  });
});

describe('reports signed with keys generated here', () => {
  const key = githubSigningKey();
  const other = githubSigningKey();
  const body = '[{"token":"dg_x","type":"dualgate_api_key","url":"https://github.com/o/r/blob/1/f","source":"content"}]';

  it('verifies a report signed with the key, over its exact UTF-8 bytes (non-ASCII included)', () => {
    expect(verifies(body, signReport(body, key), key.publicKeyPem)).toBe(true);
    const unicode = '[{"token":"dg_ü","type":"t","url":"https://github.com/ö/r","source":"content"}]';
    expect(verifies(unicode, signReport(unicode, key), key.publicKeyPem)).toBe(true);
  });

  it('refuses a signature by another key, and every single-bit change of the body', () => {
    expect(verifies(body, signReport(body, other), key.publicKeyPem)).toBe(false);
    const signature = signReport(body, key);
    const bytes = Buffer.from(body);
    for (let index = 0; index < bytes.length; index += 7) {
      const flipped = Buffer.from(bytes);
      flipped[index] = (flipped[index] as number) ^ 1;
      expect(verifies(flipped, signature, key.publicKeyPem)).toBe(false);
    }
  });

  it('refuses a corrupted signature (a flipped DER byte) without throwing', () => {
    const signature = Buffer.from(signReport(body, key), 'base64');
    for (const index of [0, 1, 3, signature.length - 1]) {
      const corrupt = Buffer.from(signature);
      corrupt[index] = (corrupt[index] as number) ^ 0xff;
      expect(verifyReportSignature(Buffer.from(body), corrupt, parseP256PublicKey(key.publicKeyPem)!)).toBe(false);
    }
  });

  it('refuses a raw (IEEE P1363, r||s) signature: GitHub sends DER', () => {
    const raw = sign('sha256', Buffer.from(body), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verifyReportSignature(Buffer.from(body), raw, parseP256PublicKey(key.publicKeyPem)!)).toBe(false);
  });
});

describe('public keys', () => {
  it('accepts P-256 only: not P-384, not Ed25519, not RSA, not garbage', () => {
    const pem = (type: 'ec' | 'ed25519' | 'rsa', options: object = {}) =>
      generateKeyPairSync(type as 'ec', options as { namedCurve: string })
        .publicKey.export({ type: 'spki', format: 'pem' })
        .toString();
    expect(parseP256PublicKey(githubSigningKey().publicKeyPem)).toBeDefined();
    expect(parseP256PublicKey(pem('ec', { namedCurve: 'secp384r1' }))).toBeUndefined();
    expect(parseP256PublicKey(pem('ed25519'))).toBeUndefined();
    expect(parseP256PublicKey(pem('rsa', { modulusLength: 2048 }))).toBeUndefined();
    expect(parseP256PublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')).toBeUndefined();
    expect(parseP256PublicKey('')).toBeUndefined();
  });
});

describe('the signature header', () => {
  it('takes standard base64 (padded, as GitHub sends it, or not) of a plausible length, and nothing else', () => {
    expect(decodeSignatureHeader(GITHUB_DOCS_SAMPLE.signature)?.length).toBe(70);
    expect(decodeSignatureHeader(` ${GITHUB_DOCS_SAMPLE.signature} `)?.length).toBe(70);
    expect(decodeSignatureHeader(GITHUB_DOCS_SAMPLE.signature.replace(/=+$/, ''))).toEqual(
      decodeSignatureHeader(GITHUB_DOCS_SAMPLE.signature),
    );
    expect(decodeSignatureHeader(`${GITHUB_DOCS_SAMPLE.signature.replace(/=+$/, '')}=`)).toBeUndefined();
    expect(decodeSignatureHeader(`${GITHUB_DOCS_SAMPLE.signature}A`)).toBeUndefined();
    expect(decodeSignatureHeader('')).toBeUndefined();
    expect(decodeSignatureHeader('not base64!')).toBeUndefined();
    expect(decodeSignatureHeader(GITHUB_DOCS_SAMPLE.signature.replace(/\+/g, '-').replace(/\//g, '_'))).toBeUndefined();
    expect(decodeSignatureHeader('A'.repeat(400))).toBeUndefined();
    expect(decodeSignatureHeader('AAAA')).toBeUndefined();
  });
});
