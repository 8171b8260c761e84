/** In-memory stand-ins for the leak endpoint's table, key document and SNS topic, counting what they are asked. */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { KeyRecord } from '../../lambdas/core/key-record';
import type { LeakEvent, LeakNotifier } from '../../lambdas/leaks/leak-notifier';
import type { LeakMark, LeakRevocation, LeakStore } from '../../lambdas/leaks/leak-store';
import { LEAK_REVOKED_REASON } from '../../lambdas/leaks/leak-model';
import { GithubKeyCache, type KeyDocumentFetcher } from '../../lambdas/leaks/github-keys';
import { keyDocument, type GithubSigningKey } from '../support/github-signing';

export class FakeLeakStore implements LeakStore {
  reads = 0;
  writes = 0;
  inFlight = 0;
  maxInFlight = 0;
  failReadsWith: Error | undefined;
  readonly records = new Map<string, KeyRecord>();
  constructor(
    records: KeyRecord[] = [],
    private readonly latencyMs = 0,
  ) {
    for (const record of records) this.records.set(record.keyHash, record);
  }
  private async call<T>(work: () => T): Promise<T> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      return work();
    } finally {
      this.inFlight--;
    }
  }
  async getByHash(keyHash: string): Promise<KeyRecord | undefined> {
    this.reads++;
    return this.call(() => {
      if (this.failReadsWith) throw this.failReadsWith;
      const record = this.records.get(keyHash);
      return record && { ...record };
    });
  }
  async recordLeak(keyHash: string, leak: LeakMark, revoke?: LeakRevocation): Promise<boolean> {
    this.writes++;
    return this.call(() => {
      const record = this.records.get(keyHash);
      if (!record || (revoke ? record.revokedAt !== undefined : record.leakedAt !== undefined)) return false;
      const next: KeyRecord = {
        ...record,
        leakedAt: record.leakedAt ?? leak.reportedAt,
        leakReporter: record.leakReporter ?? leak.reporter,
        updatedAt: revoke?.revokedAt ?? leak.reportedAt,
        version: record.version + 1,
      };
      if (leak.url !== undefined) next.leakUrl = record.leakUrl ?? leak.url;
      if (leak.source !== undefined) next.leakSource = record.leakSource ?? leak.source;
      if (revoke) Object.assign(next, { revokedAt: revoke.revokedAt, revokedReason: LEAK_REVOKED_REASON, expiresAt: revoke.expiresAt });
      this.records.set(keyHash, next);
      return true;
    });
  }
}

export class FakeNotifier implements LeakNotifier {
  readonly published: LeakEvent[] = [];
  failWith: Error | undefined;
  async publish(event: LeakEvent): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.published.push(event);
  }
}

export class FakeDocumentFetcher implements KeyDocumentFetcher {
  calls = 0;
  constructor(public document: string) {}
  async fetch(): Promise<ArrayBuffer> {
    this.calls++;
    return new TextEncoder().encode(this.document).buffer as ArrayBuffer;
  }
}

export function keyCacheFor(keys: readonly GithubSigningKey[]): { cache: GithubKeyCache; fetcher: FakeDocumentFetcher } {
  const fetcher = new FakeDocumentFetcher(keyDocument(keys));
  return { cache: new GithubKeyCache('https://api.github.com/meta/public_keys/secret_scanning', fetcher), fetcher };
}

/** The v1 proxy event API Gateway hands the function for a POST to the open route. */
export function leakEvent(
  body: string | null,
  headers: Record<string, string> = {},
  options: { isBase64Encoded?: boolean; multiValueHeaders?: Record<string, string[]> } = {},
): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    resource: '/leaks/github',
    path: '/leaks/github',
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    headers,
    multiValueHeaders: options.multiValueHeaders ?? Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    body,
    isBase64Encoded: options.isBase64Encoded ?? false,
    stageVariables: null,
    requestContext: {} as APIGatewayProxyEvent['requestContext'],
  };
}
