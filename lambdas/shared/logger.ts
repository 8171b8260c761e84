/**
 * Structured JSON logs in Powertools' shape (`level`, `message`, `timestamp`, `service`, plus fields), without
 * its weight in the authorizer's cold start. Never pass a credential: log a `keyId`, a key's `start`,
 * or a reason code instead.
 */
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
const LEVEL_ORDER: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

export type LogSink = (line: string) => void;
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** An error as loggable fields: name and message only. Stacks and causes can carry request data. */
export function errorFields(error: unknown): LogFields {
  if (error instanceof Error) return { errorName: error.name, errorMessage: error.message.slice(0, 300) };
  return { errorName: typeof error };
}

export function createLogger(options: { service: string; level?: string; sink?: LogSink }): Logger {
  const threshold = LEVEL_ORDER[(options.level?.toUpperCase() as LogLevel) ?? 'INFO'] ?? LEVEL_ORDER.INFO;
  const sink = options.sink ?? ((line: string) => process.stdout.write(line + '\n'));
  const service = JSON.stringify(options.service);
  // The authorizer logs every decision: build the line by concatenation and format the timestamp once per millisecond.
  let timestampMs = -1;
  let timestamp = '';
  const write = (level: LogLevel, message: string, fields?: LogFields) => {
    if (LEVEL_ORDER[level] < threshold) return;
    const nowMs = Date.now();
    if (nowMs !== timestampMs) {
      timestampMs = nowMs;
      timestamp = new Date(nowMs).toISOString();
    }
    const head = `{"level":"${level}","message":${JSON.stringify(message)},"timestamp":"${timestamp}","service":${service}`;
    const rest = fields === undefined ? '{}' : JSON.stringify(fields);
    sink(rest.length > 2 ? `${head},${rest.slice(1)}` : `${head}}`);
  };
  return {
    debug: (message, fields) => write('DEBUG', message, fields),
    info: (message, fields) => write('INFO', message, fields),
    warn: (message, fields) => write('WARN', message, fields),
    error: (message, fields) => write('ERROR', message, fields),
  };
}
