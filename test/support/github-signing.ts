/**
 * GitHub's side of the secret-scanning partner protocol, for tests: P-256 signing keys, signed reports, the key
 * document, and a loopback server that publishes it (what DUALGATE_GITHUB_KEYS_URL points local mode at).
 * Also GitHub's own published, signed examples (docs.github.com, "Secret scanning partner program").
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GithubSigningKey {
  identifier: string;
  privateKey: KeyObject;
  publicKeyPem: string;
  isCurrent: boolean;
}

/** A fresh P-256 key pair, named as GitHub names its keys (hex SHA-256 of the public key). */
export function githubSigningKey(isCurrent = true): GithubSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { identifier: createHash('sha256').update(publicKeyPem).digest('hex'), privateKey, publicKeyPem, isCurrent };
}

/** base64 of the DER ECDSA signature of exactly these bytes, as `Github-Public-Key-Signature` carries it. */
export function signReport(body: string | Buffer, key: Pick<GithubSigningKey, 'privateKey'>): string {
  return sign('sha256', typeof body === 'string' ? Buffer.from(body, 'utf8') : body, { key: key.privateKey, dsaEncoding: 'der' }).toString(
    'base64',
  );
}

export function keyDocument(keys: readonly Pick<GithubSigningKey, 'identifier' | 'publicKeyPem' | 'isCurrent'>[]): string {
  return JSON.stringify({
    public_keys: keys.map((key) => ({ key_identifier: key.identifier, key: key.publicKeyPem, is_current: key.isCurrent })),
  });
}

/** Headers GitHub sends with a report signed by `key`. */
export function signedHeaders(body: string, key: GithubSigningKey): Record<string, string> {
  return {
    'content-type': 'application/json',
    'Github-Public-Key-Identifier': key.identifier,
    'Github-Public-Key-Signature': signReport(body, key),
  };
}

/**
 * The signed sample request of GitHub's documentation (docs.github.com/en/code-security/secret-scanning/
 * secret-scanning-partnership-program/secret-scanning-partner-program, "Sample HTTP POST sent to verify endpoint"),
 * and the public key GitHub publishes under that identifier at https://api.github.com/meta/public_keys/secret_scanning.
 */
export const GITHUB_DOCS_SAMPLE = {
  identifier: 'bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c',
  signature: 'MEQCIQDaMKqrGnE27S0kgMrEK0eYBmyG0LeZismAEz/BgZyt7AIfXt9fErtRS4XaeSt/AO1RtBY66YcAdjxji410VQV4xg==',
  body: '[{"source":"commit","token":"some_token","type":"some_type","url":"https://example.com/base-repo-url/"}]',
  publicKeyPem:
    '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\nAjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n-----END PUBLIC KEY-----\n',
  isCurrent: true,
} as const;

/**
 * The earlier sample of the same page (before GitHub's key rotation; its Python example), signed with the key GitHub
 * still publishes as `is_current: false`: a report signed by a key that is no longer current.
 */
export const GITHUB_DOCS_EARLIER_SAMPLE = {
  identifier: '90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a',
  signature: 'MEUCIQDKZokqnCjrRtw0tni+2Ltvl/uiMJ1EGumEsp1BsNr32AIgQY1YXD2nlj+XNfGK4rBfkMJ1JDOQcYXxa2sY8FNkrKc=',
  body: '[{"token":"some_token","type":"some_type","url":"some_url"}]',
  publicKeyPem:
    '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9MJJHnMfn2+H4xL4YaPDA4RpJqUq\nkCmRCBnYERxZanmcpzQSXs1X/AljlKkbJ8qpVIW4clayyef9gWhFbNHWAA==\n-----END PUBLIC KEY-----\n',
  isCurrent: false,
} as const;

export interface GithubKeyServer {
  url: string;
  /** Every request's headers, in order. */
  requests: IncomingHttpHeaders[];
  /** Replace the published keys (GitHub rotating). */
  publish(keys: readonly Pick<GithubSigningKey, 'identifier' | 'publicKeyPem' | 'isCurrent'>[]): void;
  close(): Promise<void>;
}

/** A loopback server answering GitHub's key document at /meta/public_keys/secret_scanning. */
export async function startGithubKeyServer(
  keys: readonly Pick<GithubSigningKey, 'identifier' | 'publicKeyPem' | 'isCurrent'>[],
): Promise<GithubKeyServer> {
  let document = keyDocument(keys);
  const requests: IncomingHttpHeaders[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(request.headers);
    if (request.url !== '/meta/public_keys/secret_scanning') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(document);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/meta/public_keys/secret_scanning`,
    requests,
    publish: (next) => {
      document = keyDocument(next);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
