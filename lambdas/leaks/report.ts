/**
 * The body of a GitHub secret-scanning report, read only after its signature verified: a JSON array of
 * `{token, type, url, source}`, one per match. Objects are loose (GitHub may add fields), and the two fields that
 * reach the key table or a reply are bounded. What we answer is GitHub's feedback format, one entry per match.
 */
import { z } from 'zod';
import { MalformedReportError, ReportTooLargeError } from './errors';

/** The most bytes one report may hold (API Gateway allows 10 MB; a 1,000-match report is about 300 KB). */
export const MAX_REPORT_BYTES = 1024 * 1024;
/** The most matches one report may hold: with bounded table concurrency, well inside the function's timeout. */
const MAX_REPORT_TOKENS = 5000;
/** Longer URLs are not recorded (the leak itself is). */
const MAX_LEAK_URL_CHARS = 2048;

const item = z.looseObject({
  token: z.string(),
  // GitHub always names the secret type; a report without one is still read (and echoed as '').
  type: z.string().max(256).default(''),
  url: z.string().optional(),
  source: z.string().max(128).optional(),
});
export type ReportedMatch = z.infer<typeof item>;

export type FeedbackLabel = 'true_positive' | 'false_positive';
/** GitHub's feedback entry, raw-token form. */
export interface Feedback {
  token_raw: string;
  token_type: string;
  label: FeedbackLabel;
}

/** Parse a verified body. 400 for anything but an array of matches; 413 for more than MAX_REPORT_TOKENS. */
export function parseReport(body: Uint8Array): ReportedMatch[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw new MalformedReportError('the report is not JSON');
  }
  if (!Array.isArray(parsed)) throw new MalformedReportError('the report must be a JSON array of {token, type, url, source}');
  if (parsed.length > MAX_REPORT_TOKENS)
    throw new ReportTooLargeError(`a report may hold at most ${MAX_REPORT_TOKENS} matches (got ${parsed.length})`);
  const result = z.array(item).safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new MalformedReportError(`report${issue ? `[${issue.path.join('].')}: ${issue.message}` : ' is malformed'}`);
  }
  return result.data;
}

/** The URL worth recording: an http(s) URL of reasonable length (GitHub's may be empty), never another scheme. */
export function recordableUrl(url: string | undefined): string | undefined {
  if (url === undefined || url.length === 0 || url.length > MAX_LEAK_URL_CHARS) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** GitHub's `source` (`content`, `commit`, `issue_comment`…), normalised to a short lowercase code. */
export function recordableSource(source: string | undefined): string | undefined {
  if (source === undefined) return undefined;
  const code = source.trim().toLowerCase();
  return /^[a-z0-9_-]{1,64}$/.test(code) ? code : undefined;
}
