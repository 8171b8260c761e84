import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createLogger } from '../../lambdas/shared/logger';

function lines(level = 'DEBUG') {
  const written: string[] = [];
  return { logger: createLogger({ service: 'svc "x"', level, sink: (line) => written.push(line) }), written };
}

describe('logger', () => {
  it('writes one JSON object per line in Powertools’ shape, dropping undefined fields', () => {
    const { logger, written } = lines();
    logger.info('allowed', { reason: 'key_valid', sub: 'user-1', keyId: undefined, cached: true, count: 3, nested: { a: [1] } });
    const entry = JSON.parse(written[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 'INFO',
      message: 'allowed',
      service: 'svc "x"',
      reason: 'key_valid',
      sub: 'user-1',
      cached: true,
      count: 3,
      nested: { a: [1] },
    });
    expect(entry).not.toHaveProperty('keyId');
    expect(new Date(entry['timestamp'] as string).toISOString()).toBe(entry['timestamp']);
  });

  it('respects the level threshold', () => {
    const { logger, written } = lines('WARN');
    logger.info('hidden');
    logger.debug('hidden');
    logger.warn('shown');
    logger.error('shown');
    expect(written.map((line) => (JSON.parse(line) as { level: string }).level)).toEqual(['WARN', 'ERROR']);
  });

  it('property: any string values and non-finite numbers still give valid JSON that round-trips', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary' }),
        fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 1.5),
        (sub, message, number) => {
          const { logger, written } = lines();
          logger.info(message, { sub, number });
          const entry = JSON.parse(written[0]!) as Record<string, unknown>;
          expect(entry['message']).toBe(JSON.parse(JSON.stringify(message)));
          expect(entry['sub']).toBe(JSON.parse(JSON.stringify(sub)));
          expect(entry['number']).toEqual(JSON.parse(JSON.stringify(number)));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('child loggers', () => {
  it('add their bindings to every line, after the standard keys and before the call’s fields', () => {
    const { logger, written } = lines();
    const child = logger.child({ sub: 'a"b', keyId: undefined }).child({ authMethod: 'jwt' });
    child.warn('allowed', { reason: 'jwt_valid' });
    expect(written[0]).toMatch(
      /^\{"level":"WARN","message":"allowed","timestamp":"[^"]+","service":"svc \\"x\\"","sub":"a\\"b","authMethod":"jwt","reason":"jwt_valid"\}$/,
    );
  });
});
