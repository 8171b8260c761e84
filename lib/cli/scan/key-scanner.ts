/**
 * Find dualgate keys in text: every `<prefix>_<36 base62>` whose CRC32 checksum is valid (lambdas/core/key-format.ts,
 * the same parse the authorizer runs). Look-alikes and wrong checksums are not keys; a random 36-character string has
 * about one chance in 5.7e10 of a valid checksum. Pure: no I/O, one pass of one regular expression per text.
 */
import { keyStart, parseKey } from '../../../lambdas/core/key-format';

export interface KeyFinding {
  /** 1-based line and column of the key's first character. */
  line: number;
  column: number;
  /** The key's public display start (`dg_AbCd`): the only part of a key ever printed. */
  start: string;
  prefix: string;
}

/** `_` and the 36 characters after it (30 random + 6 checksum); a key's body holds no `_`, so no match hides another. */
const KEY_BODY = /_[0-9A-Za-z]{36}/g;
const MAX_PREFIX = 16;

const isLowerOrDigit = (code: number) => (code >= 97 && code <= 122) || (code >= 48 && code <= 57);
const isLower = (code: number) => code >= 97 && code <= 122;

/**
 * Every key in `text`. With `prefix`, only keys of that prefix; without, keys of any valid prefix (`[a-z][a-z0-9]{1,15}`):
 * the checksum covers the prefix, so `xdg_…` glued to a `dg_` key is tried both ways and only the real one matches.
 */
export function findKeys(text: string, options: { prefix?: string } = {}): KeyFinding[] {
  const findings: KeyFinding[] = [];
  // Line numbers are counted only up to each finding, from where the previous count stopped.
  let line = 1;
  let lineStart = 0;
  for (const match of text.matchAll(KEY_BODY)) {
    const underscore = match.index;
    // The run of [a-z0-9] before the underscore: the longest prefix the key could have.
    let runStart = underscore;
    while (runStart > 0 && underscore - runStart < MAX_PREFIX && isLowerOrDigit(text.charCodeAt(runStart - 1))) runStart--;
    const end = underscore + 37;
    let found: { at: number; prefix: string } | undefined;
    if (options.prefix !== undefined) {
      const at = underscore - options.prefix.length;
      if (at >= runStart && text.startsWith(options.prefix, at) && parseKey(text.slice(at, end), options.prefix).ok)
        found = { at, prefix: options.prefix };
    } else {
      for (let at = runStart; at <= underscore - 2 && !found; at++) {
        if (!isLower(text.charCodeAt(at))) continue;
        const prefix = text.slice(at, underscore);
        if (parseKey(text.slice(at, end), prefix).ok) found = { at, prefix };
      }
    }
    if (!found) continue;
    for (let newline = text.indexOf('\n', lineStart); newline !== -1 && newline < found.at; newline = text.indexOf('\n', lineStart)) {
      line++;
      lineStart = newline + 1;
    }
    findings.push({ line, column: found.at - lineStart + 1, start: keyStart(text.slice(found.at, end)), prefix: found.prefix });
  }
  return findings;
}
