/**
 * Did an ambiguous write commit? The keys Lambda's DynamoDB client retries (maxAttempts 3, 2 s per attempt), so a
 * conditional write whose first attempt committed but whose answer was lost is sent again and fails its own
 * condition, or the attempts run out: the error alone does not say whether the item changed. A consistent read
 * of the item does. Decisions that would be wrong if the write had committed (deleting a successor the
 * predecessor already points at) must ask first.
 */
import type { KeyRecord } from '../core/key-record';
import { KeyStoreUnavailableError, KeyWriteConflictError } from '../shared/key-store';
import { errorFields } from '../shared/logger';
import type { OperationContext } from './operation-context';

export type ReadBack = { kind: 'found'; record: KeyRecord } | { kind: 'absent' } | { kind: 'unavailable' };

/** The item as the table holds it now (consistent read); `unavailable` when even that read fails. */
export async function readBack(context: OperationContext, keyHash: string): Promise<ReadBack> {
  try {
    const record = await context.store.getByHashConsistent(keyHash);
    return record === undefined ? { kind: 'absent' } : { kind: 'found', record };
  } catch (error) {
    // The caller logs and answers the original failure; this only records why the outcome stays unknown.
    context.logger.warn('read-back after an ambiguous write failed', { reason: 'write_outcome_unknown', ...errorFields(error) });
    return { kind: 'unavailable' };
  }
}

/** Whether a failed write's error leaves open that the write committed (a retried conditional write, a timeout). */
function isAmbiguous(error: unknown): boolean {
  return error instanceof KeyWriteConflictError || error instanceof KeyStoreUnavailableError;
}

/**
 * Put a new key (`attribute_not_exists(keyHash)`). On an ambiguous failure, succeed if the item under that hash is
 * this very record (same keyId: hashes of fresh random keys do not collide); otherwise rethrow.
 */
export async function createKeyRecord(context: OperationContext, record: KeyRecord): Promise<void> {
  try {
    await context.store.create(record);
  } catch (error) {
    if (!isAmbiguous(error)) throw error;
    const stored = await readBack(context, record.keyHash);
    if (stored.kind === 'found' && stored.record.keyId === record.keyId) {
      context.logger.warn('create reported a failure but had committed', { keyId: record.keyId, ...errorFields(error) });
      return;
    }
    throw error;
  }
}
