/** findKeys: every key with a valid checksum, where it is; nothing else, whatever surrounds it. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BASE62_ALPHABET, generateKey, keyStart, parseKey } from '../../lambdas/core/key-format';
import { findKeys } from '../../lib/cli/scan/key-scanner';
import { keyPatterns } from '../../lib/cli/scan/key-pattern';

describe('findKeys', () => {
  it('finds keys in code, config and prose with their line and column, and only their start', () => {
    const dg = generateKey('dg').key;
    const ord = generateKey('ord').key;
    const text = ['const a = 1;', `const key = "${dg}";`, '', `DUALGATE_KEY=${ord}`, `  ${dg}${dg}`].join('\n');
    expect(findKeys(text)).toEqual([
      { line: 2, column: 14, start: keyStart(dg), prefix: 'dg' },
      { line: 4, column: 14, start: keyStart(ord), prefix: 'ord' },
      { line: 5, column: 3, start: keyStart(dg), prefix: 'dg' },
      { line: 5, column: 3 + dg.length, start: keyStart(dg), prefix: 'dg' },
    ]);
    expect(findKeys(text, { prefix: 'ord' })).toEqual([{ line: 4, column: 14, start: keyStart(ord), prefix: 'ord' }]);
  });

  it('finds a key glued to the text before it (the checksum tells which prefix is real), and in CRLF and minified text', () => {
    const key = generateKey('dg').key;
    expect(findKeys(`xyz${key}`)).toEqual([{ line: 1, column: 4, start: keyStart(key), prefix: 'dg' }]);
    expect(findKeys(`Bearer${key}`)[0]?.column).toBe(7);
    expect(findKeys(`a\r\nb\r\n${key}\r\n`)[0]).toMatchObject({ line: 3, column: 1 });
    expect(findKeys(`{"k":"${key}","x":1}`)[0]).toMatchObject({ line: 1, column: 7 });
  });

  it('ignores look-alikes: a wrong checksum, the wrong length, characters outside base62, an upper-case prefix', () => {
    const key = generateKey('dg').key;
    const wrong = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    expect(
      findKeys(
        [
          wrong,
          key.slice(0, -1),
          `${key.slice(0, 10)}-${key.slice(11)}`,
          `DG${key.slice(2)}`,
          'dg_EXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEE',
          keyPatterns('dg').customPattern.testString,
        ].join('\n'),
      ),
    ).toEqual([]);
  });

  it('property: a key placed anywhere in random text is found at its position; one changed character hides it', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme-ascii' }),
        fc.string({ unit: 'grapheme-ascii' }),
        fc.integer({ min: 0, max: 35 }),
        fc.constantFrom(...BASE62_ALPHABET),
        (before, after, index, char) => {
          const key = generateKey('dg').key;
          // Base62 glued on after the key would lengthen it: keep a separator.
          const text = `${before} ${key} ${after}`;
          const lines = `${before} `.split('\n');
          const found = findKeys(text, { prefix: 'dg' });
          expect(found).toContainEqual({
            line: lines.length,
            column: (lines.at(-1) as string).length + 1,
            start: keyStart(key),
            prefix: 'dg',
          });
          const at = 3 + index;
          const mutated = key.slice(0, at) + (key[at] === char ? (char === '0' ? '1' : '0') : char) + key.slice(at + 1);
          expect(parseKey(mutated, 'dg').ok).toBe(false);
          expect(findKeys(`${before} ${mutated} ${after}`)).toEqual([]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: random base62 runs and snake_case text yield nothing', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z0-9_]{0,12}_[0-9A-Za-z]{30,50}$/), { maxLength: 20 }), (words) => {
        // A random run passes the checksum with a chance of 1 in 5.7e10 per position: never, here.
        expect(findKeys(words.join(' '))).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('scans a megabyte of source-like text in milliseconds', () => {
    const line =
      'const some_identifier_name = await client.send(new GetItemCommand({ TableName: table_name, Key: { keyHash: { S: hash } } }));\n';
    const text = line.repeat(Math.ceil((1024 * 1024) / line.length));
    const startedMs = performance.now();
    expect(findKeys(text)).toEqual([]);
    expect(performance.now() - startedMs).toBeLessThan(200);
  });
});

describe('keyPatterns', () => {
  it('give regexes that match generated keys of the prefix, and not other prefixes or longer runs', () => {
    for (const prefix of ['dg', 'ord', 'a1b2c3d4e5f6g7h8']) {
      const patterns = keyPatterns(prefix);
      const partner = new RegExp(patterns.partnerRegex);
      const custom = new RegExp(
        `(?:^|${patterns.customPattern.beforeSecret.replace('\\A', '^')})(${patterns.customPattern.secretFormat})(?:${patterns.customPattern.afterSecret.replace('\\z', '$')})`,
      );
      for (let index = 0; index < 50; index++) {
        const key = generateKey(prefix).key;
        for (const text of [key, `TOKEN=${key}`, `"${key}"`, `${key}\n`]) {
          expect(partner.exec(text)?.[1]).toBe(key);
          expect(custom.exec(text)?.[1]).toBe(key);
        }
        expect(partner.test(`${key}A`)).toBe(false);
        expect(partner.test(`x${key}`)).toBe(false);
      }
      expect(partner.test(generateKey(prefix === 'dg' ? 'zz' : 'dg').key)).toBe(false);
    }
  });

  it('give a test string that matches the pattern but is no key (wrong checksum)', () => {
    const { customPattern } = keyPatterns('dg');
    expect(new RegExp(customPattern.secretFormat).test(customPattern.testString)).toBe(true);
    expect(findKeys(customPattern.testString)).toEqual([]);
  });

  it('refuses a prefix dualgate would refuse', () => {
    expect(() => keyPatterns('Dg')).toThrow(/keyPrefix must match/);
  });
});
