/**
 * GitHub's key document: parsed strictly, cached, refetched at most once per interval for an unknown identifier,
 * non-current keys kept; and fetched through the authorizer's bounded fetcher, whose failures are tested here over
 * real loopback sockets (timeout, size cap, redirects, status, scheme).
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { JwksFetcher } from '../../lambdas/authorizer/jwks-fetcher';
import { GithubKeysUnavailableError } from '../../lambdas/leaks/errors';
import {
  GithubKeyCache,
  GithubKeyDocumentError,
  identifierForLog,
  parseGithubKeyDocument,
  type KeyDocumentFetcher,
} from '../../lambdas/leaks/github-keys';
import { GITHUB_KEYS_USER_AGENT } from '../../lambdas/leaks/handler';
import { captureLogger } from '../support/logs';
import {
  GITHUB_DOCS_EARLIER_SAMPLE,
  GITHUB_DOCS_SAMPLE,
  githubSigningKey,
  keyDocument,
  startGithubKeyServer,
} from '../support/github-signing';

const bytes = (text: string) => new TextEncoder().encode(text);
const arrayBuffer = (text: string): ArrayBuffer => bytes(text).buffer as ArrayBuffer;

describe('parseGithubKeyDocument', () => {
  it("reads GitHub's document: identifiers, P-256 keys, and which one is current", () => {
    const { keys, skipped } = parseGithubKeyDocument(bytes(keyDocument([GITHUB_DOCS_EARLIER_SAMPLE, GITHUB_DOCS_SAMPLE])));
    expect(skipped).toBe(0);
    expect(keys.map((key) => [key.identifier, key.isCurrent])).toEqual([
      [GITHUB_DOCS_EARLIER_SAMPLE.identifier, false],
      [GITHUB_DOCS_SAMPLE.identifier, true],
    ]);
  });

  it('skips entries that are not usable P-256 keys and keeps the rest', () => {
    const good = githubSigningKey();
    const document = JSON.stringify({
      public_keys: [
        { key_identifier: 'no-key', is_current: true },
        { key_identifier: 'junk-key', key: 'not a pem', is_current: true },
        { key: good.publicKeyPem, is_current: true },
        { key_identifier: 'bad-flag', key: good.publicKeyPem, is_current: 'yes' },
        null,
        { key_identifier: good.identifier, key: good.publicKeyPem, is_current: true },
      ],
    });
    const { keys, skipped } = parseGithubKeyDocument(bytes(document));
    expect(keys.map((key) => key.identifier)).toEqual([good.identifier]);
    expect(skipped).toBe(5);
  });

  it('refuses a document that is not JSON, has no public_keys list, lists no usable key, or lists too many', () => {
    expect(() => parseGithubKeyDocument(bytes('<html>rate limited</html>'))).toThrow(GithubKeyDocumentError);
    expect(() => parseGithubKeyDocument(bytes('{"keys":[]}'))).toThrow(/no public_keys list/);
    expect(() => parseGithubKeyDocument(bytes('{"public_keys":[]}'))).toThrow(/no usable P-256 key/);
    const one = githubSigningKey();
    expect(() => parseGithubKeyDocument(bytes(keyDocument(Array.from({ length: 101 }, () => one))))).toThrow(/more than 100 keys/);
  });
});

/** A fetcher that serves whatever `document` holds now, counting calls, or fails when `failing` is set. */
class FakeFetcher implements KeyDocumentFetcher {
  calls = 0;
  failing = false;
  constructor(public document: string) {}
  async fetch(): Promise<ArrayBuffer> {
    this.calls++;
    if (this.failing) throw new Error('connect ECONNREFUSED');
    return arrayBuffer(this.document);
  }
}

describe('GithubKeyCache', () => {
  const current = githubSigningKey(true);
  const previous = githubSigningKey(false);
  const rotated = githubSigningKey(true);
  const clock = () => {
    let nowMs = 1_000_000;
    return { nowMs: () => nowMs, advance: (ms: number) => (nowMs += ms) };
  };

  it('fetches once and answers every known identifier, current or not, from the cache', async () => {
    const fetcher = new FakeFetcher(keyDocument([previous, current]));
    const cache = new GithubKeyCache('https://keys.example/doc', fetcher);
    expect((await cache.keyFor(current.identifier))?.isCurrent).toBe(true);
    expect((await cache.keyFor(previous.identifier))?.isCurrent).toBe(false);
    expect(await cache.keyFor(current.identifier)).toBeDefined();
    expect(fetcher.calls).toBe(1);
  });

  it('refetches once for an unknown identifier (GitHub rotated), then not again within the interval', async () => {
    const time = clock();
    const fetcher = new FakeFetcher(keyDocument([current]));
    const cache = new GithubKeyCache('https://keys.example/doc', fetcher, { refetchIntervalMs: 60_000, nowMs: time.nowMs });
    await cache.keyFor(current.identifier);
    time.advance(61_000);
    fetcher.document = keyDocument([current, rotated]);
    expect(await cache.keyFor(rotated.identifier)).toBeDefined();
    expect(fetcher.calls).toBe(2);
    // A forger's identifiers: at most one fetch per interval, however many reports.
    for (let attempt = 0; attempt < 20; attempt++) expect(await cache.keyFor(`forged-${attempt}`)).toBeUndefined();
    expect(fetcher.calls).toBe(2);
    time.advance(60_000);
    expect(await cache.keyFor('forged-again')).toBeUndefined();
    expect(fetcher.calls).toBe(3);
  });

  it('does not refetch for an unknown identifier right after the first fetch', async () => {
    const fetcher = new FakeFetcher(keyDocument([current]));
    const cache = new GithubKeyCache('https://keys.example/doc', fetcher);
    expect(await cache.keyFor('unknown')).toBeUndefined();
    expect(fetcher.calls).toBe(1);
  });

  it('shares one fetch between concurrent reports', async () => {
    const fetcher = new FakeFetcher(keyDocument([current]));
    const cache = new GithubKeyCache('https://keys.example/doc', fetcher);
    const keys = await Promise.all(Array.from({ length: 10 }, () => cache.keyFor(current.identifier)));
    expect(keys.every((key) => key !== undefined)).toBe(true);
    expect(fetcher.calls).toBe(1);
  });

  it('refreshes a document older than its TTL, and drops a key GitHub stopped publishing', async () => {
    const time = clock();
    const fetcher = new FakeFetcher(keyDocument([previous, current]));
    const cache = new GithubKeyCache('https://keys.example/doc', fetcher, { cacheTtlMs: 3_600_000, nowMs: time.nowMs });
    await cache.keyFor(previous.identifier);
    fetcher.document = keyDocument([current]);
    time.advance(3_600_000);
    expect(await cache.keyFor(previous.identifier)).toBeUndefined();
    expect(fetcher.calls).toBe(2);
  });

  it('keeps the last document when a refresh fails, and retries only after the interval', async () => {
    const time = clock();
    const logs = captureLogger();
    const fetcher = new FakeFetcher(keyDocument([current]));
    const cache = new GithubKeyCache('https://keys.example/doc', fetcher, {
      cacheTtlMs: 1000,
      refetchIntervalMs: 60_000,
      nowMs: time.nowMs,
      logger: logs.logger,
    });
    await cache.keyFor(current.identifier);
    fetcher.failing = true;
    time.advance(61_000);
    expect(await cache.keyFor(current.identifier)).toBeDefined();
    expect(await cache.keyFor(current.identifier)).toBeDefined();
    expect(fetcher.calls).toBe(2);
    expect(logs.entries().find((line) => line['reason'] === 'github_keys_unavailable')).toMatchObject({ keptPrevious: true });
  });

  it('fails with GithubKeysUnavailableError when there is no document at all', async () => {
    const fetcher = new FakeFetcher('');
    fetcher.failing = true;
    const cache = new GithubKeyCache('https://keys.example/doc', fetcher);
    await expect(cache.keyFor(current.identifier)).rejects.toBeInstanceOf(GithubKeysUnavailableError);
    fetcher.failing = false;
    fetcher.document = '{"public_keys":"nope"}';
    await expect(cache.keyFor(current.identifier)).rejects.toThrow(/could not be fetched/);
  });

  it('logs identifiers shortened: 64 hex digits look like a key hash to every log scanner', () => {
    expect(identifierForLog(GITHUB_DOCS_SAMPLE.identifier)).toBe('bcb53661c06b…');
    expect(identifierForLog('short')).toBe('short');
  });
});

describe('the bounded fetcher (the JWKS fetcher) under GitHub key documents', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });
  const serve = async (listener: RequestListener): Promise<string> => {
    const server = createServer(listener);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/meta/public_keys/secret_scanning`;
  };
  const cacheOver = (url: string, options: ConstructorParameters<typeof JwksFetcher>[0] = {}) =>
    new GithubKeyCache(url, new JwksFetcher({ allowHttp: true, timeoutMs: 300, failureCooldownMs: 0, ...options }));
  const key = githubSigningKey();

  it('fetches the document with a User-Agent (GitHub refuses requests without one)', async () => {
    const server = await startGithubKeyServer([key]);
    try {
      const cache = new GithubKeyCache(server.url, new JwksFetcher({ allowHttp: true, headers: { 'user-agent': GITHUB_KEYS_USER_AGENT } }));
      expect(await cache.keyFor(key.identifier)).toBeDefined();
      expect(server.requests[0]?.['user-agent']).toBe(GITHUB_KEYS_USER_AGENT);
    } finally {
      await server.close();
    }
  });

  it('gives up on a server that never answers, within the timeout', async () => {
    const url = await serve(() => undefined);
    const startedMs = Date.now();
    await expect(cacheOver(url).keyFor(key.identifier)).rejects.toBeInstanceOf(GithubKeysUnavailableError);
    expect(Date.now() - startedMs).toBeLessThan(2000);
  });

  it('refuses a document larger than the size cap', async () => {
    const url = await serve((_request, response) => response.end(JSON.stringify({ public_keys: [], padding: 'x'.repeat(200_000) })));
    await expect(cacheOver(url, { maxBodyBytes: 64 * 1024 }).keyFor(key.identifier)).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/larger than 65536 bytes/) },
    });
  });

  it('follows no redirect, to another host or its own', async () => {
    const elsewhere = await startGithubKeyServer([key]);
    try {
      const url = await serve((_request, response) => response.writeHead(302, { location: elsewhere.url }).end());
      await expect(cacheOver(url).keyFor(key.identifier)).rejects.toMatchObject({
        cause: { message: expect.stringMatching(/status 302/) },
      });
      expect(elsewhere.requests).toHaveLength(0);
    } finally {
      await elsewhere.close();
    }
  });

  it('treats an error status (GitHub rate limiting) as unavailable', async () => {
    const url = await serve((_request, response) =>
      response.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"API rate limit exceeded"}'),
    );
    await expect(cacheOver(url).keyFor(key.identifier)).rejects.toMatchObject({ cause: { message: expect.stringMatching(/status 403/) } });
  });

  it('refuses plain http unless it was allowed (local mode, loopback)', async () => {
    const server = await startGithubKeyServer([key]);
    try {
      await expect(new GithubKeyCache(server.url, new JwksFetcher({ timeoutMs: 300 })).keyFor(key.identifier)).rejects.toMatchObject({
        cause: { message: expect.stringMatching(/protocol http: is not allowed/) },
      });
      expect(server.requests).toHaveLength(0);
    } finally {
      await server.close();
    }
  });

  it('survives a server that drops the connection mid-answer', async () => {
    const url = await serve((request) => request.socket.destroy());
    await expect(cacheOver(url).keyFor(key.identifier)).rejects.toBeInstanceOf(GithubKeysUnavailableError);
  });
});
