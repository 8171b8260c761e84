/**
 * The leak vocabulary shared by the function, the construct (IAM, validation) and local mode: pure constants, so
 * importing them pulls in neither the SDK nor zod.
 */

/** What a report of a live key does: `revoke` it at once, or only record the leak and `notify`. */
export type LeakAction = 'revoke' | 'notify';
export const LEAK_ACTIONS: readonly LeakAction[] = ['revoke', 'notify'];

/** `revokedReason` of a key revoked on a leak report. */
export const LEAK_REVOKED_REASON = 'leaked';

/** The attributes a leak write touches (the IAM policy's dynamodb:Attributes list is built from these). */
export const LEAK_MARK_ATTRIBUTES = ['keyHash', 'leakedAt', 'leakReporter', 'leakUrl', 'leakSource', 'updatedAt', 'version'] as const;
export const LEAK_REVOKE_ATTRIBUTES = [...LEAK_MARK_ATTRIBUTES, 'revokedAt', 'revokedReason', 'expiresAt'] as const;
