/** Sign test JWTs with node:crypto, so JWT tests need neither the network nor a mock server. */
import { createHmac, createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Fetcher } from 'aws-jwt-verify/https';

export interface TestSigningKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: Record<string, string>;
  publicPem: string;
}

export function createSigningKey(kid = 'test-key-1'): TestSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  return {
    kid,
    privateKey,
    publicJwk: { ...jwk, kid, alg: 'RS256', use: 'sig' },
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

export function signJwt(
  payload: Record<string, unknown>,
  options: {
    key?: TestSigningKey;
    alg?: 'RS256' | 'HS256' | 'none';
    kid?: string;
    hmacSecret?: string | Buffer;
    header?: Record<string, unknown>;
  } = {},
): string {
  const alg = options.alg ?? 'RS256';
  const header = {
    alg,
    typ: 'JWT',
    ...((options.kid ?? options.key?.kid) ? { kid: options.kid ?? options.key?.kid } : {}),
    ...options.header,
  };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  if (alg === 'none') return `${signingInput}.`;
  if (alg === 'HS256')
    return `${signingInput}.${createHmac('sha256', options.hmacSecret ?? 'secret')
      .update(signingInput)
      .digest('base64url')}`;
  if (!options.key) throw new Error('RS256 needs a key');
  return `${signingInput}.${createSign('RSA-SHA256').update(signingInput).sign(options.key.privateKey).toString('base64url')}`;
}

/** A Fetcher that serves a JWKS from memory, counts fetches, and can be made to fail. */
export class FakeJwksFetcher implements Fetcher {
  fetches = 0;
  failWith: Error | undefined;
  constructor(public keys: Record<string, string>[]) {}
  async fetch(): Promise<ArrayBuffer> {
    this.fetches++;
    if (this.failWith) throw this.failWith;
    const body = Buffer.from(JSON.stringify({ keys: this.keys }));
    return body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  }
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export const TEST_ISSUER = 'https://issuer.example.com';
