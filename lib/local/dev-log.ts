/**
 * What `dualgate dev` prints while it serves: one line per request, the functions' own output under the request
 * that produced it, and a readable block when a function fails. Two formats:
 *
 * - `human` (the default, terminal or not): `12:01:09 POST /orders 502 41 ms orders-team (jwt) function failed`, the
 *   function's console output indented beneath, then the failure: function, route, request id, error, stack.
 *   dualgate's own functions (authorizer, key API) write structured JSON: only their warnings and errors are shown,
 *   and a deny's reason joins the request's line.
 * - `json` (`--log-format json`): the access-log entry as the stack writes it, dualgate's JSON and EMF lines as they
 *   are, console output as Lambda's JSON log format writes it (timestamp, level, requestId, message) plus the
 *   function, and a failure as Lambda logs one (errorType, errorMessage, stackTrace).
 *
 * Output arrives before its request's access entry (the worker sends it first), so human mode holds it until then.
 */
import type { FunctionOutputOrigin } from './function-host';
import type { FunctionFailure } from './dev-server';
import type { AccessLogEntry } from './gateway';

export const LOG_FORMATS = ['human', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

interface DevLogOptions {
  format: LogFormat;
  /** Where a line goes (lib/local/stdout-lines.ts batches them). */
  write: (line: string) => void;
  /** ANSI colours in human mode (a terminal without NO_COLOR). */
  color?: boolean;
  nowMs?: () => number;
}

/** Lines kept per request until its access entry comes; the rest are counted. */
const MAX_LINES_PER_REQUEST = 500;
/** Output for a request whose entry never came (it cannot happen, but must not pile up) is printed after this. */
const ORPHAN_AFTER_MS = 60_000;
/** Stack frames shown in a failure block. */
const MAX_FRAMES = 12;

type Held = { kind: 'output'; line: string; origin: FunctionOutputOrigin } | { kind: 'failure'; failure: FunctionFailure };

interface PendingRequest {
  sinceMs: number;
  items: Held[];
  dropped: number;
  /** The authorizer's reason for a deny (dualgate's `denied` log line). */
  denyReason?: string;
}

const STYLES = { dim: 2, red: 31, green: 32, yellow: 33, cyan: 36, bold: 1 } as const;
type Style = keyof typeof STYLES;

/** What the gateway's errorType means to the person who sent the request. */
function outcomeText(entry: AccessLogEntry, denyReason: string | undefined): string | undefined {
  const reason = denyReason ? `: ${denyReason}` : '';
  switch (entry.errorType) {
    case null:
      return undefined;
    case 'MISSING_AUTHENTICATION_TOKEN':
      return 'no such route';
    case 'UNAUTHORIZED':
      return entry.authorizerStatus === null && !entry.authorizerCached
        ? 'no credential (the Authorization header is missing)'
        : `unauthorized${reason}`;
    case 'ACCESS_DENIED':
      return `denied${reason}`;
    case 'AUTHORIZER_FAILURE':
      return 'the authorizer failed';
    case 'AUTHORIZER_CONFIGURATION_ERROR':
      return 'the authorizer returned a malformed response';
    case 'INTEGRATION_FAILURE':
      return 'the function failed';
    case 'INTEGRATION_TIMEOUT':
      return 'timed out';
    case 'THROTTLED':
      return 'throttled by the usage plan';
    case 'QUOTA_EXCEEDED':
      return "over the usage plan's quota";
    case 'REQUEST_TOO_LARGE':
      return 'request body too large';
    default:
      return entry.errorType;
  }
}

/** A stack trace without the runtime's own frames, paths as they are (function-host.ts already made them the user's). */
export function userStack(stack: string | undefined, headline: string): string[] {
  if (!stack) return [];
  const lines = stack.split('\n');
  // The first line repeats the headline the block already shows.
  if (lines[0]?.trim() === headline.trim()) lines.shift();
  const internal = (line: string) =>
    /^\s+at /.test(line) && /(\(|\s)node:|function-worker\.mjs|processTicksAndRejections|new Promise \(<anonymous>\)/.test(line);
  const kept: string[] = [];
  let frames = 0;
  let hidden = 0;
  for (const line of lines) {
    if (internal(line)) continue;
    if (/^\s+at /.test(line)) {
      frames += 1;
      if (frames > MAX_FRAMES) {
        hidden += 1;
        continue;
      }
    }
    kept.push(line);
  }
  while (kept.length > 0 && kept[kept.length - 1]?.trim() === '') kept.pop();
  if (hidden > 0) kept.push(`    … ${hidden} more frame${hidden === 1 ? '' : 's'}`);
  return kept;
}

/** The headline of a failure, as a person reads it. */
function failureHeadline(failure: FunctionFailure): string {
  switch (failure.kind) {
    case 'threw':
      return `${failure.function} threw ${failure.errorName}: ${failure.message}`;
    case 'init':
      return `${failure.function} could not be loaded: ${failure.errorName}: ${failure.message}`;
    case 'timeout':
      return `${failure.function} timed out: ${failure.message}`;
    case 'malformed':
      return `${failure.function} returned a malformed result: ${failure.message}`;
  }
}

/** A dualgate function's JSON log line, when it is one. */
function structuredLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as unknown;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export class DevLog {
  private readonly pending = new Map<string, PendingRequest>();
  /** Requests already printed: later output for them (a function still running past 29 s) prints on its own. */
  private readonly finished = new Map<string, number>();
  private readonly nowMs: () => number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: DevLogOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.sweeper = setInterval(() => this.sweep(), 10_000);
    this.sweeper.unref();
  }

  get format(): LogFormat {
    return this.options.format;
  }

  private style(text: string, ...styles: Style[]): string {
    if (!this.options.color || styles.length === 0) return text;
    return `\u001b[${styles.map((style) => STYLES[style]).join(';')}m${text}\u001b[0m`;
  }

  private time(): string {
    const now = new Date(this.nowMs());
    return [now.getHours(), now.getMinutes(), now.getSeconds()].map((part) => String(part).padStart(2, '0')).join(':');
  }

  /** The gateway's access-log sink. */
  readonly access = (entry: AccessLogEntry, request: { path: string }): void => {
    if (this.options.format === 'json') {
      this.options.write(JSON.stringify(entry));
      return;
    }
    const held = this.pending.get(entry.requestId);
    this.pending.delete(entry.requestId);
    this.finished.set(entry.requestId, this.nowMs());
    const statusStyle: Style = entry.status >= 500 ? 'red' : entry.status >= 400 ? 'yellow' : 'green';
    const caller = entry.sub ? `${entry.sub} (${[entry.authMethod, entry.keyId].filter(Boolean).join(' ') || 'authorized'})` : undefined;
    const outcome = outcomeText(entry, held?.denyReason);
    const cached = entry.authorizerCached ? 'cached decision' : undefined;
    const parts = [
      this.style(this.time(), 'dim'),
      entry.method.padEnd(6),
      request.path.padEnd(20),
      this.style(String(entry.status), statusStyle, 'bold'),
      this.style(`${entry.responseLatencyMs} ms`, 'dim'),
      ...(caller ? [caller] : []),
      ...(outcome ? [this.style(outcome, statusStyle)] : []),
      ...(cached && (entry.errorType === 'UNAUTHORIZED' || entry.errorType === 'ACCESS_DENIED') ? [this.style(`(${cached})`, 'dim')] : []),
    ];
    const lines = [parts.join(' ')];
    for (const item of held?.items ?? []) {
      if (item.kind === 'output') lines.push(...this.outputLines(item.line, item.origin, '    '));
      else lines.push(...this.failureBlock(item.failure, entry.status));
    }
    if (held && held.dropped > 0) lines.push(this.style(`    … ${held.dropped} more lines of output`, 'dim'));
    this.options.write(lines.join('\n'));
  };

  /** A line a function wrote. */
  readonly functionOutput = (line: string, origin: FunctionOutputOrigin): void => {
    if (this.options.format === 'json') {
      this.options.write(this.jsonOutput(line, origin));
      return;
    }
    const requestId = origin.requestId;
    if (requestId && !this.finished.has(requestId)) {
      const held = this.hold(requestId);
      if (origin.dualgate) {
        const structured = structuredLine(line);
        if (structured?.['message'] === 'denied' && typeof structured['reason'] === 'string') held.denyReason = structured['reason'];
      }
      if (held.items.length < MAX_LINES_PER_REQUEST) held.items.push({ kind: 'output', line, origin });
      else held.dropped += 1;
      return;
    }
    const shown = this.outputLines(line, origin, '');
    if (shown.length === 0) return;
    const about = requestId ? `${origin.function} (request ${requestId})` : origin.function;
    this.options.write(shown.map((text) => `${this.style(about, 'cyan')} ${text}`).join('\n'));
  };

  /** A function that threw, timed out, returned a malformed result or could not be loaded. */
  readonly functionFailure = (failure: FunctionFailure): void => {
    if (this.options.format === 'json') {
      const stackTrace = failure.stack ? failure.stack.split('\n') : [];
      this.options.write(
        JSON.stringify({
          timestamp: new Date(this.nowMs()).toISOString(),
          level: 'ERROR',
          message: 'function failed',
          function: failure.function,
          logicalId: failure.logicalId,
          route: failure.route,
          requestId: failure.requestId,
          kind: failure.kind,
          errorType: failure.errorName,
          errorMessage: failure.message,
          stackTrace,
        }),
      );
      return;
    }
    if (failure.requestId && !this.finished.has(failure.requestId)) {
      this.hold(failure.requestId).items.push({ kind: 'failure', failure });
      return;
    }
    this.options.write(this.failureBlock(failure, undefined).join('\n'));
  };

  /** dualgate dev's own news (reloads, synth failures): the same in both formats, for the person at the terminal. */
  note(message: string): void {
    this.options.write(`dualgate dev: ${message}`);
  }

  /** Print whatever is still held (on stop). */
  flush(): void {
    for (const requestId of [...this.pending.keys()]) this.release(requestId);
  }

  stop(): void {
    clearInterval(this.sweeper);
    this.flush();
  }

  private hold(requestId: string): PendingRequest {
    let held = this.pending.get(requestId);
    if (!held) {
      held = { sinceMs: this.nowMs(), items: [], dropped: 0 };
      this.pending.set(requestId, held);
    }
    return held;
  }

  /** Held output whose request never got an entry: printed on its own. */
  private release(requestId: string): void {
    const held = this.pending.get(requestId);
    this.pending.delete(requestId);
    this.finished.set(requestId, this.nowMs());
    for (const item of held?.items ?? []) {
      if (item.kind === 'output') this.functionOutput(item.line, item.origin);
      else this.functionFailure(item.failure);
    }
  }

  private sweep(): void {
    const now = this.nowMs();
    for (const [requestId, held] of this.pending) if (now - held.sinceMs > ORPHAN_AFTER_MS) this.release(requestId);
    for (const [requestId, atMs] of this.finished) if (now - atMs > ORPHAN_AFTER_MS) this.finished.delete(requestId);
  }

  /** A function's line for a person: the user's own as written; dualgate's structured lines only when they warn. */
  private outputLines(line: string, origin: FunctionOutputOrigin, indent: string): string[] {
    let text = line;
    let level = origin.level;
    if (origin.dualgate) {
      const structured = structuredLine(line);
      if (structured) {
        level = typeof structured['level'] === 'string' ? structured['level'].toUpperCase() : undefined;
        if (level !== 'WARN' && level !== 'ERROR') return [];
        const details = ['reason', 'error', 'errorMessage']
          .filter((name) => structured[name] !== undefined)
          .map((name) => `${name}=${typeof structured[name] === 'string' ? structured[name] : JSON.stringify(structured[name])}`);
        text = `${origin.function}: ${String(structured['message'] ?? '')}${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
      }
    }
    const tag = level === 'WARN' || level === 'ERROR' ? this.style(`${level} `, level === 'ERROR' ? 'red' : 'yellow') : '';
    return text.split('\n').map((part, index) => `${indent}${index === 0 ? tag : ''}${part}`);
  }

  private failureBlock(failure: FunctionFailure, status: number | undefined): string[] {
    const headline = failureHeadline(failure);
    const answered = status === undefined ? '' : `answered ${status}`;
    const stack = userStack(failure.stack, `${failure.errorName}: ${failure.message}`);
    return [
      this.style(`  ✖ ${headline}`, 'red', 'bold'),
      this.style(
        `    ${[failure.route, ...(failure.requestId ? [`request ${failure.requestId}`] : []), ...(answered ? [answered] : []), failure.logicalId].join(' · ')}`,
        'dim',
      ),
      ...stack.map((line) => `  ${line}`),
    ];
  }

  private jsonOutput(line: string, origin: FunctionOutputOrigin): string {
    // Structured lines (dualgate's, EMF, the app's own JSON logger) are passed on as written, as CloudWatch gets them.
    if (origin.level === undefined && structuredLine(line)) return line;
    return JSON.stringify({
      timestamp: new Date(this.nowMs()).toISOString(),
      level: origin.level ?? (origin.stream === 'stderr' ? 'ERROR' : 'INFO'),
      function: origin.function,
      ...(origin.requestId ? { requestId: origin.requestId } : {}),
      message: line,
    });
  }
}
