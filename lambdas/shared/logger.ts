/**
 * Structured JSON logs in Powertools' shape (`level`, `message`, `timestamp`, `service`, plus fields), without
 * its weight in the authorizer's cold start. Never pass a credential: log a `keyId`, a key's `start`,
 * or a reason code instead.
 */
import type { EmfDirective } from './emf';

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
const LEVEL_ORDER: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

export type LogSink = (line: string) => void;
export type LogFields = Record<string, unknown>;

/**
 * `metrics`: the line is also a CloudWatch EMF document under that directive (lambdas/shared/emf.ts): its `_aws`
 * block is added with the line's own Timestamp, and `fields` must hold the directive's dimensions and metric values.
 * Below the log level such a line is not dropped: its metric part is still written.
 */
export interface Logger {
  debug(message: string, fields?: LogFields, metrics?: EmfDirective): void;
  info(message: string, fields?: LogFields, metrics?: EmfDirective): void;
  warn(message: string, fields?: LogFields, metrics?: EmfDirective): void;
  error(message: string, fields?: LogFields, metrics?: EmfDirective): void;
  /** A logger that adds `bindings` to every line; they are serialised once, here (pino-style child loggers). */
  child(bindings: LogFields): Logger;
}

/** An error as loggable fields: name and message only. Stacks and causes can carry request data. */
export function errorFields(error: unknown): LogFields {
  if (error instanceof Error) return { errorName: error.name, errorMessage: error.message.slice(0, 300) };
  return { errorName: typeof error };
}

/** Characters that need JSON escaping (quotes, backslash, controls, separators, any surrogate half). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what JSON must escape.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u2028\u2029\ud800-\udfff]/;

/**
 * `,"name":value` for each defined field. Field names come from our code; string values are quoted
 * directly when they need no escaping (the common case), else JSON.stringify'd: the same JSON, at half
 * the cost on the authorizer's per-decision line.
 */
function serialiseFields(fields: LogFields): string {
  let out = '';
  for (const name in fields) {
    const value = fields[name];
    if (value === undefined) continue;
    if (typeof value === 'string') out += NEEDS_ESCAPE.test(value) ? `,"${name}":${JSON.stringify(value)}` : `,"${name}":"${value}"`;
    else if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) out += `,"${name}":${value}`;
    else out += `,"${name}":${JSON.stringify(value) ?? 'null'}`;
  }
  return out;
}

/** What every logger of one `createLogger` call shares: the sink, the threshold and the formatting caches. */
class LogWriter {
  private timestampMs = -1;
  private timestamp = '';
  private readonly prefixes = new Map<string, string>();
  private readonly serviceSuffix: string;
  private readonly serviceField: string;

  constructor(
    private readonly threshold: number,
    private readonly sink: LogSink,
    service: string,
  ) {
    this.serviceSuffix = `","service":${JSON.stringify(service)}`;
    this.serviceField = `"service":${JSON.stringify(service)}`;
  }

  // The authorizer logs every decision: the timestamp is formatted once per millisecond and each
  // level/message prefix once, so a line is mostly concatenation.
  write(level: LogLevel, message: string, bound: string, fields?: LogFields, metrics?: EmfDirective): void {
    if (LEVEL_ORDER[level] < this.threshold) {
      // Metrics do not depend on the log level: below it, a line that carries metrics still writes its EMF part.
      if (metrics !== undefined) this.writeMetricsOnly(metrics, bound, fields ?? {});
      return;
    }
    const nowMs = Date.now();
    if (nowMs !== this.timestampMs) {
      this.timestampMs = nowMs;
      this.timestamp = new Date(nowMs).toISOString();
    }
    const prefixKey = level + message;
    let prefix = this.prefixes.get(prefixKey);
    if (prefix === undefined) {
      prefix = `{"level":"${level}","message":${JSON.stringify(message)},"timestamp":"`;
      if (this.prefixes.size < 256) this.prefixes.set(prefixKey, prefix);
    }
    this.sink(
      `${prefix}${this.timestamp}${this.serviceSuffix}${bound}${fields === undefined ? '' : serialiseFields(fields)}${metrics === undefined ? '' : metrics.awsMember(nowMs)}}`,
    );
  }

  /** The metric part of a line below the log level: `service`, the bound fields, `_aws` and the directive's own members. */
  private writeMetricsOnly(directive: EmfDirective, bound: string, fields: LogFields): void {
    const picked: LogFields = {};
    for (const name in fields) if (directive.members.has(name)) picked[name] = fields[name];
    this.sink(`{${this.serviceField}${bound}${serialiseFields(picked)}${directive.awsMember(Date.now())}}`);
  }
}

class JsonLogger implements Logger {
  constructor(
    private readonly writer: LogWriter,
    /** Serialised bindings of this (child) logger. */
    private readonly bound: string,
  ) {}
  debug(message: string, fields?: LogFields, metrics?: EmfDirective): void {
    this.writer.write('DEBUG', message, this.bound, fields, metrics);
  }
  info(message: string, fields?: LogFields, metrics?: EmfDirective): void {
    this.writer.write('INFO', message, this.bound, fields, metrics);
  }
  warn(message: string, fields?: LogFields, metrics?: EmfDirective): void {
    this.writer.write('WARN', message, this.bound, fields, metrics);
  }
  error(message: string, fields?: LogFields, metrics?: EmfDirective): void {
    this.writer.write('ERROR', message, this.bound, fields, metrics);
  }
  child(bindings: LogFields): Logger {
    return new JsonLogger(this.writer, this.bound + serialiseFields(bindings));
  }
}

export function createLogger(options: { service: string; level?: string; sink?: LogSink }): Logger {
  const threshold = LEVEL_ORDER[(options.level?.toUpperCase() as LogLevel) ?? 'INFO'] ?? LEVEL_ORDER.INFO;
  const sink = options.sink ?? ((line: string) => process.stdout.write(`${line}\n`));
  return new JsonLogger(new LogWriter(threshold, sink, options.service), '');
}
