/**
 * GitHub's public signing keys for secret-scanning reports: the key document
 * (`{"public_keys":[{"key_identifier","key","is_current"}]}`, https://api.github.com/meta/public_keys/secret_scanning),
 * fetched through the same bounded fetcher as the authorizer's JWKS (timeout, size cap, no redirects, a short
 * circuit breaker), cached, and refetched at most once per `refetchIntervalMs` when a report names an identifier the
 * cached document lacks (GitHub rotating its key). Keys that are no longer current are kept and accepted, as GitHub
 * asks: reports signed before a rotation may still arrive.
 */
import type { KeyObject } from 'node:crypto';
import { errorFields, type Logger } from '../shared/logger';
import { GithubKeysUnavailableError } from './errors';
import { parseP256PublicKey } from './signature';

export const DEFAULT_GITHUB_KEYS_URL = 'https://api.github.com/meta/public_keys/secret_scanning';

interface GithubPublicKey {
  identifier: string;
  key: KeyObject;
  isCurrent: boolean;
}

/** What fetches the document: the authorizer's JwksFetcher in Lambda and local mode, a fake in tests. */
export interface KeyDocumentFetcher {
  fetch(uri: string): Promise<ArrayBuffer>;
}

/** Where the endpoint finds the key a report names. */
export interface GithubKeySource {
  /** The key, or undefined when GitHub does not publish it. Throws GithubKeysUnavailableError when nothing can be known. */
  keyFor(identifier: string): Promise<GithubPublicKey | undefined>;
}

export class GithubKeyDocumentError extends Error {
  override readonly name = 'GithubKeyDocumentError';
}

const MAX_KEYS = 100;
const MAX_IDENTIFIER_CHARS = 256;
const MAX_PEM_CHARS = 4096;

/**
 * Parse and check a key document. Entries that are not P-256 PEM keys are skipped (and counted), so one odd entry
 * cannot take the others down; a document with no usable key at all is an error.
 */
export function parseGithubKeyDocument(bytes: Uint8Array): { keys: GithubPublicKey[]; skipped: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new GithubKeyDocumentError('the key document is not JSON');
  }
  const entries = (parsed as { public_keys?: unknown } | null)?.public_keys;
  if (parsed === null || typeof parsed !== 'object' || !Array.isArray(entries))
    throw new GithubKeyDocumentError('the key document has no public_keys list');
  if (entries.length > MAX_KEYS) throw new GithubKeyDocumentError(`the key document lists more than ${MAX_KEYS} keys`);
  const keys: GithubPublicKey[] = [];
  let skipped = 0;
  for (const entry of entries as unknown[]) {
    const fields = (entry ?? {}) as Record<string, unknown>;
    const identifier = fields['key_identifier'];
    const pem = fields['key'];
    const isCurrent = fields['is_current'];
    const key = typeof pem === 'string' && pem.length <= MAX_PEM_CHARS ? parseP256PublicKey(pem) : undefined;
    if (
      typeof identifier !== 'string' ||
      identifier.length === 0 ||
      identifier.length > MAX_IDENTIFIER_CHARS ||
      !key ||
      (isCurrent !== undefined && typeof isCurrent !== 'boolean')
    ) {
      skipped++;
      continue;
    }
    keys.push({ identifier, key, isCurrent: isCurrent === true });
  }
  if (keys.length === 0) throw new GithubKeyDocumentError(`the key document has no usable P-256 key (${skipped} skipped)`);
  return { keys, skipped };
}

interface GithubKeyCacheOptions {
  /** Use a fetched document this long before fetching it again. Default one hour. */
  cacheTtlMs?: number;
  /** The least time between fetches caused by an unknown identifier (or by a failed refresh). Default 60 s. */
  refetchIntervalMs?: number;
  nowMs?: () => number;
  logger?: Logger;
}

/** A short, loggable form of an identifier: GitHub's are 64 hex digits, which log scanners rightly take for hashes. */
export function identifierForLog(identifier: string): string {
  return identifier.length > 12 ? `${identifier.slice(0, 12)}…` : identifier;
}

export class GithubKeyCache implements GithubKeySource {
  /** Fetch attempts, successful or not (tests and the metric line read it). */
  fetches = 0;
  private keys?: Map<string, GithubPublicKey>;
  private fetchedAtMs = Number.NEGATIVE_INFINITY;
  private attemptedAtMs = Number.NEGATIVE_INFINITY;
  private inFlight?: Promise<void>;
  private readonly cacheTtlMs: number;
  private readonly refetchIntervalMs: number;
  private readonly nowMs: () => number;

  constructor(
    private readonly url: string,
    private readonly fetcher: KeyDocumentFetcher,
    private readonly options: GithubKeyCacheOptions = {},
  ) {
    this.cacheTtlMs = options.cacheTtlMs ?? 3_600_000;
    this.refetchIntervalMs = options.refetchIntervalMs ?? 60_000;
    this.nowMs = options.nowMs ?? Date.now;
  }

  async keyFor(identifier: string): Promise<GithubPublicKey | undefined> {
    const stale = this.nowMs() - this.fetchedAtMs >= this.cacheTtlMs;
    // No document yet: fetch (or fail). A stale one is refreshed, but a failing refresh is retried only after the interval.
    if (!this.keys || (stale && this.mayFetch())) await this.refresh();
    const known = this.keys?.get(identifier);
    if (known || !this.mayFetch()) return known;
    // An identifier we do not know: GitHub may have rotated its key since the last fetch. Once per interval.
    await this.refresh();
    return this.keys?.get(identifier);
  }

  private mayFetch(): boolean {
    return this.nowMs() - this.attemptedAtMs >= this.refetchIntervalMs;
  }

  /** One fetch at a time: concurrent reports share it. Keeps the previous document when a refresh fails. */
  private refresh(): Promise<void> {
    this.inFlight ??= this.fetchDocument().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async fetchDocument(): Promise<void> {
    this.attemptedAtMs = this.nowMs();
    this.fetches++;
    try {
      const { keys, skipped } = parseGithubKeyDocument(new Uint8Array(await this.fetcher.fetch(this.url)));
      this.keys = new Map(keys.map((key) => [key.identifier, key]));
      this.fetchedAtMs = this.nowMs();
      this.options.logger?.info('GitHub signing keys fetched', {
        githubKeysUrl: this.url,
        keys: keys.map((key) => ({ identifier: identifierForLog(key.identifier), isCurrent: key.isCurrent })),
        ...(skipped > 0 ? { skipped } : {}),
      });
    } catch (error) {
      this.options.logger?.warn('GitHub signing keys unavailable', {
        githubKeysUrl: this.url,
        reason: 'github_keys_unavailable',
        keptPrevious: this.keys !== undefined,
        ...errorFields(error),
      });
      if (!this.keys) throw new GithubKeysUnavailableError(`GitHub's signing keys could not be fetched from ${this.url}`, { cause: error });
    }
  }
}
