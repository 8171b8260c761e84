/**
 * `lastUsedAt`: when a key last got a principal. Written by the authorizer, off the decision's path:
 * - at most once per key per `intervalSeconds` (default 300), from this container's memory, and across
 *   containers through the write's own condition (`lastUsedAt < now - interval`);
 * - only when the key was just read from the table anyway, or when the interval has passed since this
 *   container last wrote it: a cached key costs one Map lookup per request, never a write;
 * - `intervalSeconds: 0` writes on every table read (and never on a cache hit);
 * - the decision never waits: the write is started and forgotten, and a failure is logged and counted.
 */
import { BoundedCache } from '../core/bounded-cache';
import { AUTHORIZER_METRICS, LAST_USED_FAILURE_DIRECTIVE } from '../shared/emf';
import type { KeyRecord } from '../core/key-record';
import type { KeyUsageWriter } from '../shared/key-store';
import { errorFields, type Logger } from '../shared/logger';

export interface LastUsedRecorderOptions {
  writer: KeyUsageWriter;
  intervalSeconds: number;
  logger: Logger;
  nowMs?: () => number;
  /** Keys remembered as recently written; beyond this, the oldest is forgotten (it may be written again early). */
  maxEntries?: number;
}

export class LastUsedRecorder {
  /** keyHash → when this container last wrote (or saw in the table) a lastUsedAt within the interval. */
  private readonly written: BoundedCache<string, number>;
  private readonly intervalMs: number;
  private readonly nowMs: () => number;
  /** Writes started and failed, for tests and benchmarks. */
  writes = 0;
  failures = 0;
  /** The writes still under way (tests await them; the authorizer never does). */
  readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: LastUsedRecorderOptions) {
    if (!Number.isInteger(options.intervalSeconds) || options.intervalSeconds < 0)
      throw new Error('intervalSeconds must be a non-negative integer');
    this.intervalMs = options.intervalSeconds * 1000;
    this.nowMs = options.nowMs ?? Date.now;
    this.written = new BoundedCache(options.maxEntries ?? 10_000, this.nowMs);
  }

  /**
   * Note that `record` just authenticated a request at `nowMs`. `fromTable`: the record was read from the
   * table for this decision (a cache miss), so its stored `lastUsedAt` is current.
   */
  noteUse(record: KeyRecord, nowMs: number, fromTable: boolean): void {
    if (this.intervalMs === 0) {
      if (fromTable) this.write(record.keyHash, nowMs);
      return;
    }
    if (this.written.get(record.keyHash, nowMs) !== undefined) return;
    if (fromTable && record.lastUsedAt !== undefined) {
      const storedMs = Date.parse(record.lastUsedAt);
      // Another container (or an earlier life of this one) wrote it within the interval: nothing to do until it passes.
      if (nowMs - storedMs < this.intervalMs) {
        this.written.set(record.keyHash, storedMs, storedMs + this.intervalMs - nowMs);
        return;
      }
    }
    this.written.set(record.keyHash, nowMs, this.intervalMs);
    this.write(record.keyHash, nowMs);
  }

  private write(keyHash: string, nowMs: number): void {
    this.writes++;
    const usedAt = new Date(nowMs).toISOString();
    const notAfter = new Date(nowMs - this.intervalMs).toISOString();
    // Started on the next turn of the event loop, after the decision has been answered: the SDK's synchronous work
    // for the write (a command's middleware stack, serialising, signing) then never delays the answer, not even the
    // first one after a cold start. In Lambda that turn comes while the runtime posts the response.
    const started = new Promise<unknown>((resolve, reject) => {
      setImmediate(() => {
        try {
          resolve(this.options.writer.recordUse(keyHash, usedAt, this.intervalMs === 0 ? usedAt : notAfter));
        } catch (error) {
          reject(error);
        }
      });
    });
    const settled: Promise<void> = started.then(
      () => undefined,
      (error: unknown) => {
        this.failures++;
        // The key stays remembered: the next attempt waits for the interval, so a failing table is not hammered.
        this.options.logger.warn(
          'lastUsedAt write failed',
          {
            reason: 'last_used_write_failed',
            ...errorFields(error),
            [AUTHORIZER_METRICS.lastUsedWriteFailures.name]: 1,
          },
          LAST_USED_FAILURE_DIRECTIVE,
        );
      },
    );
    this.pending.add(settled);
    void settled.finally(() => this.pending.delete(settled));
  }

  /** Wait for every write started so far (tests and local mode's shutdown; never the decision path). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
