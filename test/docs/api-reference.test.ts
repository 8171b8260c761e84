/**
 * The API reference in docs/api is generated from the TSDoc of the package's public entries (`dualgate`,
 * `dualgate/context`) by TypeDoc (docs/typedoc.json) and checked in. This test generates it again and fails when
 * the checked-in copy differs, or when a public export has no documentation (TypeDoc's `notDocumented` validation,
 * treated as an error). Regenerate with `npm run docs:api`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '..', '..');
const CHECKED_IN = join(REPO, 'docs', 'api');
const work = mkdtempSync(join(tmpdir(), 'dualgate-api-doc-'));

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('API reference (docs/api)', () => {
  it('matches what TypeDoc generates from the current TSDoc, with every public export documented', () => {
    const out = join(work, 'api');
    try {
      execFileSync(
        process.execPath,
        [join(REPO, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--options', join(REPO, 'docs', 'typedoc.json'), '--out', out],
        {
          cwd: REPO,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
    } catch (error) {
      const failure = error as { stdout?: string; stderr?: string };
      throw new Error(`TypeDoc failed (an undocumented or unexported public type?):\n${failure.stdout ?? ''}${failure.stderr ?? ''}`);
    }
    const generated = filesUnder(out);
    expect(filesUnder(CHECKED_IN), 'the files of docs/api: run `npm run docs:api`').toEqual(generated);
    for (const file of generated) {
      expect(readFileSync(join(CHECKED_IN, file), 'utf8'), `docs/api/${file} is out of date: run \`npm run docs:api\``).toBe(
        readFileSync(join(out, file), 'utf8'),
      );
    }
  }, 120_000);
});
