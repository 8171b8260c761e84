/** Capture structured log lines, so tests can assert on reason codes and scan for leaked credentials. */
import { createLogger, type Logger } from '../../lambdas/shared/logger';

export function captureLogger(service = 'test'): { logger: Logger; lines: string[]; entries: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const logger = createLogger({
    service,
    level: 'DEBUG',
    sink: (line) => {
      lines.push(line);
      // Also scanned for credentials by test/support/credential-scan.ts.
      globalThis.__dualgateCapturedLines?.push(line);
    },
  });
  return { logger, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}
