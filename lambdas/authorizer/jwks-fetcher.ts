/**
 * The JWKS fetcher handed to aws-jwt-verify. It adds what the default lacks:
 * - plain http for local mode's loopback issuer (aws-jwt-verify fetches over https only);
 * - a hard response timeout, so a slow JWKS endpoint fails closed in bounded time;
 * - a short circuit breaker: after a failed fetch, further fetches fail at once for `failureCooldownMs`,
 *   so an outage or a flood of unknown `kid`s cannot hammer the issuer or stall every request;
 * - a body size bound and a fetch counter (tests and benchmarks count fetches).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Fetcher } from 'aws-jwt-verify/https';
import { FetchError, NonRetryableFetchError } from 'aws-jwt-verify/error';
import { AUTHORIZER_METRICS, JWKS_FETCH_DIRECTIVE } from '../shared/emf';
import { errorFields, type Logger } from '../shared/logger';

export interface JwksFetcherOptions {
  /** Whole-request budget. */
  timeoutMs?: number;
  failureCooldownMs?: number;
  allowHttp?: boolean;
  maxBodyBytes?: number;
  nowMs?: () => number;
  /** Each fetch attempt is logged here as a metric line (`JwksFetches`, `JwksFetchFailures`). */
  logger?: Logger;
  /** Extra request headers (the leak endpoint sends a User-Agent: GitHub's API refuses requests without one). */
  headers?: Record<string, string>;
}

const FETCHES = AUTHORIZER_METRICS.jwksFetches.name;
const FAILURES = AUTHORIZER_METRICS.jwksFetchFailures.name;

export class JwksFetcher implements Fetcher {
  fetches = 0;
  /** Per JWKS URI: one failing issuer must not block key fetches for the others. */
  private readonly openUntilMs = new Map<string, number>();
  private readonly timeoutMs: number;
  private readonly failureCooldownMs: number;
  private readonly maxBodyBytes: number;
  private readonly nowMs: () => number;

  constructor(private readonly options: JwksFetcherOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 1500;
    this.failureCooldownMs = options.failureCooldownMs ?? 2000;
    this.maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;
    this.nowMs = options.nowMs ?? Date.now;
  }

  async fetch(uri: string): Promise<ArrayBuffer> {
    if (this.nowMs() < (this.openUntilMs.get(uri) ?? 0))
      throw new FetchError(uri, 'JWKS fetch skipped: a recent fetch failed (cooling down)');
    this.fetches++;
    try {
      const body = await this.get(uri);
      this.openUntilMs.delete(uri);
      this.options.logger?.info('JWKS fetched', { jwksUri: uri, [FETCHES]: 1, [FAILURES]: 0 }, JWKS_FETCH_DIRECTIVE);
      return body;
    } catch (error) {
      // Bounded: one entry per configured JWKS URI.
      this.openUntilMs.set(uri, this.nowMs() + this.failureCooldownMs);
      this.options.logger?.warn(
        'JWKS fetch failed',
        { jwksUri: uri, reason: 'jwks_unavailable', ...errorFields(error), [FETCHES]: 1, [FAILURES]: 1 },
        JWKS_FETCH_DIRECTIVE,
      );
      throw error;
    }
  }

  private get(uri: string): Promise<ArrayBuffer> {
    const url = new URL(uri);
    const request = url.protocol === 'https:' ? httpsRequest : this.options.allowHttp && url.protocol === 'http:' ? httpRequest : undefined;
    if (!request) return Promise.reject(new NonRetryableFetchError(uri, `protocol ${url.protocol} is not allowed for JWKS`));
    return new Promise((resolve, reject) => {
      const req = request(url, { method: 'GET', headers: { ...this.options.headers, accept: 'application/json' } }, (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          finish(new NonRetryableFetchError(uri, `status ${response.statusCode}, expected 200`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.maxBodyBytes) finish(new NonRetryableFetchError(uri, `JWKS larger than ${this.maxBodyBytes} bytes`));
          else chunks.push(chunk);
        });
        response.on('end', () => {
          const body = Buffer.concat(chunks);
          finish(undefined, body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer);
        });
        response.on('error', (error) => finish(error));
      });
      const timer = setTimeout(() => finish(new FetchError(uri, `no complete response within ${this.timeoutMs} ms`)), this.timeoutMs);
      timer.unref();
      let settled = false;
      const finish = (error?: Error, body?: ArrayBuffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          req.destroy();
          reject(error instanceof FetchError ? error : new FetchError(uri, error.message));
        } else resolve(body as ArrayBuffer);
      };
      req.on('error', (error) => finish(error));
      req.end();
    });
  }
}
