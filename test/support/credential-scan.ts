/**
 * Runs in every test file (vitest setupFiles): records every line written to stdout/stderr and every
 * line a test logger captured, and fails the file if any holds a credential: an API key with a valid
 * checksum, a JWT, or (in dualgate's own JSON log lines) a 64-hex key hash.
 */
import { afterAll } from 'vitest';
import { keyChecksum } from '../../lambdas/core/key-format';

declare global {
  // Lines captured by test loggers (test/support/logs.ts) are added here too.
  var __dualgateCapturedLines: string[] | undefined;
}

const written: string[] = [];
globalThis.__dualgateCapturedLines = written;

for (const stream of [process.stdout, process.stderr]) {
  const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
    return original(chunk, ...rest);
  }) as typeof stream.write;
}

// vitest routes console output around process.stdout, so watch the console too.
for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    written.push(args.map((arg) => (typeof arg === 'string' ? arg : safeStringify(arg))).join(' '));
    original(...args);
  };
}

function safeStringify(value: unknown): string {
  try {
    return value instanceof Error ? `${value.name}: ${value.message}` : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}

const KEY_PATTERN = /([a-z][a-z0-9]{1,15})_([0-9A-Za-z]{30})([0-9A-Za-z]{6})(?![0-9A-Za-z])/g;
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const HASH_PATTERN = /(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])/g;

export function findCredentials(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(KEY_PATTERN)) {
    if (keyChecksum(`${match[1]}_${match[2]}`) === match[3]) found.push(`api key ${match[1]}_${match[2]?.slice(0, 4)}…`);
  }
  for (const match of text.matchAll(JWT_PATTERN)) found.push(`JWT ${match[0].slice(0, 16)}…`);
  for (const line of text.split('\n')) {
    // Only dualgate's structured lines are checked for hashes: CDK's asset hashes are 64-hex too.
    if (line.startsWith('{') && line.includes('"service"') && HASH_PATTERN.test(line)) found.push(`64-hex hash in ${line.slice(0, 80)}…`);
    HASH_PATTERN.lastIndex = 0;
  }
  return found;
}

afterAll(() => {
  const leaks = findCredentials(written.join('\n'));
  if (leaks.length > 0) throw new Error(`credentials written to logs during this test file:\n${[...new Set(leaks)].join('\n')}`);
});
