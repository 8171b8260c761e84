/**
 * What a verified report does, token by token:
 * - a string that is not a key of this API's prefix, or whose checksum fails, is a `false_positive` decided offline:
 *   no table read (junk never reaches DynamoDB, the same rule as the authorizer's);
 * - a key with a valid checksum is looked up by hash: absent → `false_positive`; present → `true_positive`, and
 *   the configured action runs once: `revoke` (default: revoked at once, reason `leaked`, the report's URL kept) or
 *   `notify` (the leak is recorded and published; the key keeps working);
 * - each acted-on key gets an audit line (key id and URL, never plaintext or hash) and an SNS message if a topic is
 *   configured. A repeated report finds the key already handled and changes nothing.
 * Distinct keys are handled with at most `concurrency` table calls in flight; a token repeated within one report
 * is looked up once.
 */
import { hashKey, keyStart, parseKey, type KeyParseFailure } from '../core/key-format';
import type { KeyRecord } from '../core/key-record';
import { errorFields, type Logger } from '../shared/logger';
import { mapWithConcurrency } from './bounded-concurrency';
import type { LeakNotifier } from './leak-notifier';
import type { LeakAction } from './leak-model';
import type { LeakMark, LeakStore } from './leak-store';
import { recordableSource, recordableUrl, type Feedback, type FeedbackLabel, type ReportedMatch } from './report';

const DEFAULT_LEAK_CONCURRENCY = 16;

/** What happened to one reported token; bounded values, counted in the metric line. */
type TokenOutcome =
  | 'not_key_shaped'
  | 'wrong_prefix'
  | 'bad_checksum'
  | 'unknown_key'
  | 'revoked'
  | 'marked'
  | 'already_revoked'
  | 'already_reported'
  | 'failed';

export interface ActOnReportDeps {
  store: LeakStore;
  notifier?: LeakNotifier;
  keyPrefix: string;
  action: LeakAction;
  logger: Logger;
  nowMs: () => number;
  /** The most table calls in flight at once. Default 16. */
  concurrency?: number;
}

export interface ReportOutcome {
  /** GitHub's feedback, one entry per reported match, in order. */
  feedback: Feedback[];
  /** How many tokens ended in each outcome. */
  counts: Partial<Record<TokenOutcome, number>>;
  /** Tokens whose key could not be handled (table unavailable, malformed item): the report should be retried. */
  failures: number;
  /** Messages that could not be published (the keys were acted on all the same). */
  publishFailures: number;
}

/** Pure: the offline verdict on a reported string, or the hash to look up. */
function classifyToken(token: string, keyPrefix: string): { kind: 'junk'; reason: KeyParseFailure } | { kind: 'key'; keyHash: string } {
  const parsed = parseKey(token, keyPrefix);
  return parsed.ok ? { kind: 'key', keyHash: hashKey(token) } : { kind: 'junk', reason: parsed.reason };
}

/** Pure: what the action does to a stored key, given what was already done to it. */
function leakDecision(
  record: Pick<KeyRecord, 'revokedAt' | 'leakedAt'>,
  action: LeakAction,
): 'revoke' | 'mark' | 'already_revoked' | 'already_reported' {
  if (action === 'revoke') return record.revokedAt === undefined ? 'revoke' : 'already_revoked';
  return record.leakedAt === undefined ? 'mark' : 'already_reported';
}

const LABEL: Record<TokenOutcome, FeedbackLabel | undefined> = {
  not_key_shaped: 'false_positive',
  wrong_prefix: 'false_positive',
  bad_checksum: 'false_positive',
  unknown_key: 'false_positive',
  revoked: 'true_positive',
  marked: 'true_positive',
  already_revoked: 'true_positive',
  already_reported: 'true_positive',
  failed: undefined,
};

/** The reporter's identity in audit lines: no caller sub exists, the signature is the authority. */
const REPORTER_ACTOR = 'github-secret-scanning';

export async function actOnReport(matches: readonly ReportedMatch[], deps: ActOnReportDeps): Promise<ReportOutcome> {
  const outcomes = new Array<TokenOutcome>(matches.length);
  // Distinct keys to look up, each with the first match that named it (its URL is the one recorded).
  const byHash = new Map<string, { match: ReportedMatch; indexes: number[] }>();
  for (const [index, match] of matches.entries()) {
    const verdict = classifyToken(match.token, deps.keyPrefix);
    if (verdict.kind === 'junk') {
      outcomes[index] = verdict.reason;
      continue;
    }
    const entry = byHash.get(verdict.keyHash);
    if (entry) entry.indexes.push(index);
    else byHash.set(verdict.keyHash, { match, indexes: [index] });
  }
  let publishFailures = 0;
  const reportedAt = new Date(deps.nowMs()).toISOString();
  const distinct = [...byHash.entries()];
  const keyOutcomes = await mapWithConcurrency(distinct, deps.concurrency ?? DEFAULT_LEAK_CONCURRENCY, async ([keyHash, { match }]) => {
    try {
      const result = await actOnKey(keyHash, match, reportedAt, deps);
      if (result.publishFailed) publishFailures++;
      return result.outcome;
    } catch (error) {
      // Named by display start only: the hash is the table's key and the token is a live credential.
      deps.logger.error('leak report: key not handled', {
        reason: 'leak_key_failed',
        keyStart: keyStart(match.token),
        ...errorFields(error),
      });
      return 'failed' as const;
    }
  });
  for (const [position, [, { indexes }]] of distinct.entries())
    for (const index of indexes) outcomes[index] = keyOutcomes[position] as TokenOutcome;

  const counts: Partial<Record<TokenOutcome, number>> = {};
  for (const outcome of outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1;
  const feedback = matches.map((match, index) => ({
    token_raw: match.token,
    token_type: match.type,
    label: LABEL[outcomes[index] as TokenOutcome] ?? 'false_positive',
  }));
  return { feedback, counts, failures: counts.failed ?? 0, publishFailures };
}

async function actOnKey(
  keyHash: string,
  match: ReportedMatch,
  reportedAt: string,
  deps: ActOnReportDeps,
): Promise<{ outcome: TokenOutcome; publishFailed?: boolean }> {
  const record = await deps.store.getByHash(keyHash);
  if (!record) return { outcome: 'unknown_key' };
  // A URL that holds the token itself (never GitHub's form, but a report is data) is not recorded or logged.
  const url = match.url?.includes(match.token) ? undefined : recordableUrl(match.url);
  const source = recordableSource(match.source);
  const where = { keyId: record.keyId, owner: record.owner, leakUrl: url, leakSource: source, tokenType: match.type };
  const decision = leakDecision(record, deps.action);
  if (decision === 'already_revoked' || decision === 'already_reported') {
    deps.logger.info('leak report for a key already handled', { outcome: decision, ...where });
    return { outcome: decision };
  }
  const mark: LeakMark = {
    reportedAt,
    reporter: 'github',
    ...(url !== undefined ? { url } : {}),
    ...(source !== undefined ? { source } : {}),
  };
  const revoke = decision === 'revoke' ? { revokedAt: reportedAt, expiresAt: Math.floor(Date.parse(reportedAt) / 1000) } : undefined;
  const wrote = await deps.store.recordLeak(keyHash, mark, revoke);
  if (!wrote) {
    // Revoked or marked by someone else between our read and our write: the outcome this report asked for.
    const outcome = decision === 'revoke' ? 'already_revoked' : 'already_reported';
    deps.logger.info('leak report for a key already handled', { outcome, ...where });
    return { outcome };
  }
  deps.logger.info('audit', {
    action: decision === 'revoke' ? 'revoke' : 'leak_reported',
    reason: 'leaked',
    actorSub: REPORTER_ACTOR,
    authMethod: 'github_signature',
    ...where,
    changedFields: decision === 'revoke' ? ['revokedAt', 'revokedReason', 'expiresAt', 'leakedAt', 'leakUrl'] : ['leakedAt', 'leakUrl'],
    time: reportedAt,
  });
  const outcome: TokenOutcome = decision === 'revoke' ? 'revoked' : 'marked';
  if (!deps.notifier) return { outcome };
  try {
    await deps.notifier.publish({
      type: 'dualgate.key.leaked',
      action: decision === 'revoke' ? 'revoked' : 'marked',
      keyId: record.keyId,
      start: record.start,
      name: record.name,
      owner: record.owner,
      reportedAt,
      reporter: 'github',
      ...(url !== undefined ? { url } : {}),
      ...(source !== undefined ? { source } : {}),
      tokenType: match.type,
    });
    return { outcome };
  } catch (error) {
    deps.logger.error('leak notification not published', { reason: 'leak_publish_failed', keyId: record.keyId, ...errorFields(error) });
    return { outcome, publishFailed: true };
  }
}
