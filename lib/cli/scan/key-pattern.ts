/**
 * The regular expressions that find dualgate keys, generated from the key prefix (a setting), for GitHub's secret
 * scanning: the partner programme's pattern (public repositories: GitHub reports matches to POST /leaks/github) and a
 * custom pattern (private repositories, no partnership needed). Regexes find the shape; the CRC32 checksum, which no
 * regex can check, is what `dualgate scan`, the leak endpoint and the authorizer check.
 */
import { assertValidKeyPrefix, KEY_CHECKSUM_LENGTH, KEY_RANDOM_LENGTH } from '../../../lambdas/core/key-format';

export interface KeyPatterns {
  prefix: string;
  /** The secret type name to register with GitHub; reports carry it as `type`. */
  secretType: string;
  /** For the partner programme: one expression, the key in group 1, delimited by anything not base62. */
  partnerRegex: string;
  /** GitHub's custom pattern form (Settings → Code security → Secret scanning → Custom patterns). */
  customPattern: { secretFormat: string; beforeSecret: string; afterSecret: string; testString: string };
  checksum: string;
}

const BODY = `[0-9A-Za-z]{${KEY_RANDOM_LENGTH + KEY_CHECKSUM_LENGTH}}`;

export function keyPatterns(prefix: string): KeyPatterns {
  assertValidKeyPrefix(prefix);
  const secretFormat = `${prefix}_${BODY}`;
  return {
    prefix,
    secretType: prefix === 'dg' ? 'dualgate_api_key' : `${prefix}_api_key`,
    partnerRegex: `(?:^|[^0-9A-Za-z])(${secretFormat})(?:[^0-9A-Za-z]|$)`,
    customPattern: {
      secretFormat,
      beforeSecret: '\\A|[^0-9A-Za-z]',
      afterSecret: '\\z|[^0-9A-Za-z]',
      // Shaped like a key, checksum deliberately wrong: safe to paste anywhere, and matched by the pattern.
      testString: `TOKEN=${prefix}_${'EXAMPLE'.repeat(6).slice(0, KEY_RANDOM_LENGTH + KEY_CHECKSUM_LENGTH)}`,
    },
    checksum: `the last ${KEY_CHECKSUM_LENGTH} characters are the CRC32 (IEEE, as zlib) of "${prefix}_" and the ${KEY_RANDOM_LENGTH} characters before them, in base62 (0-9A-Za-z), most significant digit first, left-padded with 0`,
  };
}
