import { describe, expect, it } from 'vitest';
import { DevLog, userStack, type LogFormat } from '../../lib/local/dev-log';
import type { FunctionFailure } from '../../lib/local/dev-server';
import type { AccessLogEntry } from '../../lib/local/gateway';

const NOW = new Date(2026, 10, 30, 12, 1, 9).getTime();

function entry(overrides: Partial<AccessLogEntry>): AccessLogEntry {
  return {
    requestId: 'r-1',
    ip: '127.0.0.1',
    method: 'GET',
    resourcePath: '/orders',
    status: 200,
    responseLatencyMs: 14,
    sub: 'orders-team',
    authMethod: 'jwt',
    keyId: null,
    authorizerStatus: 200,
    authorizerLatencyMs: 3,
    authorizerCached: false,
    errorType: null,
    ...overrides,
  };
}

const failure: FunctionFailure = {
  function: 'OrdersApp/Writer',
  logicalId: 'WriterA1B2',
  role: 'integration',
  route: 'POST /orders',
  requestId: 'r-2',
  kind: 'threw',
  errorName: 'TypeError',
  message: 'an order needs a body',
  stack:
    'TypeError: an order needs a body\n    at save (/app/src/writer.ts:12:26)\n    at handler (/app/src/writer.ts:4:10)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n    at MessagePort.<anonymous> (file:///x/dist/function-worker.mjs:140:11)',
};

function devLog(format: LogFormat): { log: DevLog; written: string[] } {
  const written: string[] = [];
  const log = new DevLog({ format, write: (line) => written.push(line), nowMs: () => NOW });
  return { log, written };
}

describe('the dev log, for a person (human)', () => {
  it('prints one line per request: time, method, path, status, latency, caller and how it authenticated', () => {
    const { log, written } = devLog('human');
    log.access(entry({ keyId: 'key-9', authMethod: 'apiKey' }), { path: '/orders' });
    log.stop();
    expect(written).toEqual(['12:01:09 GET    /orders              200 14 ms orders-team (apiKey key-9)']);
  });

  it('holds a function’s output until its request is printed, then indents it beneath, failure block last', () => {
    const { log, written } = devLog('human');
    log.functionOutput('creating an order', { function: 'OrdersApp/Writer', requestId: 'r-2', stream: 'stdout', level: 'INFO' });
    log.functionOutput('slow disk\nreally', { function: 'OrdersApp/Writer', requestId: 'r-2', stream: 'stderr', level: 'WARN' });
    log.functionFailure(failure);
    expect(written).toEqual([]);
    log.access(entry({ requestId: 'r-2', method: 'POST', status: 502, responseLatencyMs: 41, errorType: 'INTEGRATION_FAILURE' }), {
      path: '/orders',
    });
    log.stop();
    expect(written).toHaveLength(1);
    expect(written[0]?.split('\n')).toEqual([
      '12:01:09 POST   /orders              502 41 ms orders-team (jwt) the function failed',
      '    creating an order',
      '    WARN slow disk',
      '    really',
      '  ✖ OrdersApp/Writer threw TypeError: an order needs a body',
      '    POST /orders · request r-2 · answered 502 · WriterA1B2',
      '      at save (/app/src/writer.ts:12:26)',
      '      at handler (/app/src/writer.ts:4:10)',
    ]);
  });

  it('puts the authorizer’s reason on a deny and hides dualgate’s routine JSON lines, keeping its warnings', () => {
    const { log, written } = devLog('human');
    const authorizer = { function: 'OrdersApp/Gate/Authorizer', dualgate: true, requestId: 'r-3', stream: 'stdout' } as const;
    log.functionOutput(JSON.stringify({ level: 'INFO', message: 'denied', reason: 'missing_scope', _aws: {} }), authorizer);
    log.functionOutput(JSON.stringify({ level: 'WARN', message: 'JWKS refresh failed', error: 'ECONNREFUSED' }), authorizer);
    log.access(entry({ requestId: 'r-3', status: 403, errorType: 'ACCESS_DENIED', resourcePath: '/keys' }), { path: '/keys' });
    log.access(
      entry({
        requestId: 'r-4',
        status: 401,
        errorType: 'UNAUTHORIZED',
        sub: null,
        authMethod: null,
        authorizerStatus: null,
        authorizerCached: null,
      }),
      { path: '/orders' },
    );
    log.stop();
    expect(written).toEqual([
      '12:01:09 GET    /keys                403 14 ms orders-team (jwt) denied: missing_scope\n    WARN OrdersApp/Gate/Authorizer: JWKS refresh failed (error=ECONNREFUSED)',
      '12:01:09 GET    /orders              401 14 ms no credential (the Authorization header is missing)',
    ]);
  });

  it('prints output that belongs to no request (module init) at once, named by its function', () => {
    const { log, written } = devLog('human');
    log.functionOutput('connecting to the table', { function: 'OrdersApp/Reader', stream: 'stdout', level: 'INFO' });
    log.stop();
    expect(written).toEqual(['OrdersApp/Reader connecting to the table']);
  });

  it('prints a failure no request caused (new code that does not load after a reload) at once, without a request id', () => {
    const { log, written } = devLog('human');
    log.functionFailure({
      ...failure,
      kind: 'init',
      errorName: 'Runtime.UserCodeSyntaxError',
      message: "SyntaxError: Unexpected token ';'",
      route: 'loading its new code',
      requestId: '',
      stack: undefined,
    });
    log.stop();
    expect(written).toEqual([
      "  ✖ OrdersApp/Writer could not be loaded: Runtime.UserCodeSyntaxError: SyntaxError: Unexpected token ';'\n    loading its new code · WriterA1B2",
    ]);
  });

  it('keeps only the user’s frames of a stack, and says how many it left out', () => {
    const frames = Array.from({ length: 15 }, (_, index) => `    at f${index} (/app/src/a.ts:${index + 1}:1)`);
    const shown = userStack(['Error: x', ...frames, '    at node:internal/x:1:1'].join('\n'), 'Error: x');
    expect(shown).toHaveLength(13);
    expect(shown[12]).toBe('    … 3 more frames');
  });
});

describe('the dev log, for a machine (json)', () => {
  it('writes the access entry as the stack does, passes structured lines as they are, and wraps console output', () => {
    const { log, written } = devLog('json');
    const emf = JSON.stringify({ level: 'INFO', message: 'allowed', _aws: { CloudWatchMetrics: [] } });
    log.functionOutput(emf, { function: 'OrdersApp/Gate/Authorizer', dualgate: true, requestId: 'r-1', stream: 'stdout' });
    log.functionOutput('creating an order', { function: 'OrdersApp/Writer', requestId: 'r-1', stream: 'stdout', level: 'INFO' });
    log.functionFailure(failure);
    log.access(entry({}), { path: '/orders?secret=1' });
    log.stop();
    expect(written[0]).toBe(emf);
    expect(JSON.parse(written[1] as string)).toEqual({
      timestamp: new Date(NOW).toISOString(),
      level: 'INFO',
      function: 'OrdersApp/Writer',
      requestId: 'r-1',
      message: 'creating an order',
    });
    expect(JSON.parse(written[2] as string)).toMatchObject({
      level: 'ERROR',
      message: 'function failed',
      function: 'OrdersApp/Writer',
      route: 'POST /orders',
      requestId: 'r-2',
      errorType: 'TypeError',
      errorMessage: 'an order needs a body',
    });
    expect(JSON.parse(written[2] as string).stackTrace[1]).toBe('    at save (/app/src/writer.ts:12:26)');
    // The access entry is the stack's fields only: never the raw path or query.
    expect(JSON.parse(written[3] as string)).toEqual(entry({}));
  });
});
