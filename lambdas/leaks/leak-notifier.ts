/**
 * Where a leak is announced: an SNS topic when one is configured (the owner's team subscribes email, chat or a
 * ticketing hook). The message names the key by id and display start, never by plaintext or hash.
 */
export interface LeakEvent {
  type: 'dualgate.key.leaked';
  /** What dualgate did: `revoked`, or `marked` (the `notify` action: the key still works). */
  action: 'revoked' | 'marked';
  keyId: string;
  /** The key's display start (`dg_AbCd`). */
  start: string;
  name: string;
  owner: string;
  /** ISO 8601: when the report arrived. */
  reportedAt: string;
  reporter: 'github';
  url?: string;
  source?: string;
  /** The secret type GitHub matched (the name registered with its partner programme). */
  tokenType: string;
}

export interface LeakNotifier {
  /** Rejects when the message could not be published; the caller logs it (the key was already acted on). */
  publish(event: LeakEvent): Promise<void>;
}

export class LeakPublishError extends Error {
  override readonly name = 'LeakPublishError';
}
