/**
 * Turn the management API's 400 wording (`<field>: <zod message>`) into a sentence about the flag the user
 * typed: "expiresIn: Too big: expected number to be <=315360000" → "--expires-in must be at most
 * 315360000 seconds (3650 days)". Pure; the API's JSON stays available with `--json`.
 */

/** API body/query field → the CLI flag that sets it. */
const FLAG_FOR_FIELD: Record<string, string> = {
  name: '--name',
  scopes: '--scopes',
  expiresIn: '--expires-in',
  expiresAt: '--expires-at',
  metadata: '--metadata',
  owner: '--owner',
  enabled: '--enable/--disable',
  gracePeriodSeconds: '--grace-period',
  limit: '--limit',
  cursor: '--cursor',
  id: '<id>',
};

/** Flags whose value is a number of seconds: their bounds read better with a unit and a rough duration. */
const SECONDS_FLAGS = new Set(['--expires-in', '--grace-period']);

export function flagForField(field: string): string | undefined {
  return FLAG_FOR_FIELD[field];
}

function duration(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400} day${seconds === 86400 ? '' : 's'}`;
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}`;
  return `${seconds} seconds`;
}

function bound(flag: string, value: string): string {
  const number = Number(value);
  if (SECONDS_FLAGS.has(flag) && Number.isFinite(number))
    return number >= 3600 ? `${value} seconds (${duration(number)})` : `${value} seconds`;
  return value;
}

/** zod 4's default messages, as the API passes them through, rewritten as "must …". */
function plainEnglish(flag: string, message: string): string {
  for (const [pattern, rewrite] of ZOD_MESSAGES) {
    const match = pattern.exec(message);
    if (match) return rewrite(match, flag);
  }
  return message;
}

/** Each zod message this CLI rewrites, and how. */
const ZOD_MESSAGES: [RegExp, (match: RegExpExecArray, flag: string) => string][] = [
  [/^Too big: expected number to be <=?\s*(-?[0-9.e+]+)$/, (match, flag) => `must be at most ${bound(flag, match[1]!)}`],
  [/^Too small: expected number to be >=\s*(-?[0-9.e+]+)$/, (match, flag) => `must be at least ${bound(flag, match[1]!)}`],
  [/^Too small: expected number to be >\s*(-?[0-9.e+]+)$/, (match, flag) => `must be greater than ${bound(flag, match[1]!)}`],
  [/^Too big: expected (?:string|array) to have <=\s*([0-9]+) (characters|items)$/, (match) => `must have at most ${match[1]} ${match[2]}`],
  [
    /^Too small: expected (?:string|array) to have >=\s*([0-9]+) (characters|items)$/,
    (match) => (match[1] === '1' ? 'must not be empty' : `must have at least ${match[1]} ${match[2]}`),
  ],
  [/^Invalid input: expected int, received number$/, () => 'must be a whole number'],
  [/^Invalid input: expected (\w+), received (\w+)$/, (match) => `must be a ${match[1]} (got a ${match[2]})`],
  [/^Invalid ISO datetime$/, () => 'must be an ISO 8601 date-time with a zone, e.g. 2031-01-01T00:00:00Z'],
];

/**
 * One readable line for an API error that names a field: the flag is named once, at the start.
 * `clearedExpiry`: the request removed the expiry, so an `expiresAt` problem is about `--no-expiry`.
 */
export function describeFieldError(message: string, field: string | undefined, options: { clearedExpiry?: boolean } = {}): string {
  if (field === undefined) return message;
  let flag = flagForField(field);
  if (flag === undefined) return message;
  if (field === 'expiresAt' && options.clearedExpiry) flag = '--no-expiry';
  // The API writes `<field>: …` or `<field>.<index>: …` (an item of a list).
  const prefix = new RegExp(`^${field}(?:\\.([0-9]+))?: `).exec(message);
  if (!prefix) return `${flag}: ${message}`;
  const item = prefix[1] !== undefined ? ` (item ${Number(prefix[1]) + 1})` : '';
  const text = plainEnglish(flag, message.slice(prefix[0].length));
  return /^(must|is|cannot|may) /.test(text) ? `${flag}${item} ${text}` : `${flag}${item}: ${text}`;
}
