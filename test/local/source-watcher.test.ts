import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { globToRegExp, startSourceWatcher, watchFilter, type ChangeBatch, type SourceWatcher } from '../../lib/local/source-watcher';

let watcher: SourceWatcher | undefined;
let root: string;

afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  rmSync(root, { recursive: true, force: true });
});

async function watching(settings?: {
  include?: string[];
  exclude?: string[];
}): Promise<{ batches: ChangeBatch[]; next: (what: string, timeoutMs?: number) => Promise<ChangeBatch> }> {
  const batches: ChangeBatch[] = [];
  watcher = startSourceWatcher({ root, ...(settings ? { settings } : {}), onBatch: (batch) => batches.push(batch) });
  await watcher.ready;
  let taken = 0;
  return {
    batches,
    next: async (what, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (batches.length <= taken) {
        if (Date.now() > deadline) throw new Error(`no batch for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return batches[taken++] as ChangeBatch;
    },
  };
}

describe('the --watch source watcher', () => {
  it('sees every one of four edits made by writing a temporary file and renaming it over the original', async () => {
    root = mkdtempSync(join(tmpdir(), 'dualgate-watch-'));
    mkdirSync(join(root, 'fns'));
    const file = join(root, 'fns', 'edited.mjs');
    writeFileSync(file, 'export const version = 0;\n');
    const { next } = await watching();
    for (let version = 1; version <= 4; version++) {
      const temporary = join(root, 'fns', `.edited.mjs.${version}.tmp`);
      writeFileSync(temporary, `export const version = ${version};\n`);
      renameSync(temporary, file);
      const batch = await next(`edit ${version}`);
      // The temporary file came and went within the burst: only the edited file is reported.
      expect(batch.files).toEqual([{ path: file, relativePath: 'fns/edited.mjs', exists: true, isNew: false }]);
    }
  });

  it('reports a checkout of many files as one burst, deletions included, and ignores node_modules and cdk.out', async () => {
    root = mkdtempSync(join(tmpdir(), 'dualgate-watch-'));
    mkdirSync(join(root, 'src'));
    mkdirSync(join(root, 'node_modules', 'dep'), { recursive: true });
    writeFileSync(join(root, 'src', 'gone.ts'), 'export {};\n');
    const { next, batches } = await watching();
    for (let index = 0; index < 40; index++) writeFileSync(join(root, 'src', `file-${index}.ts`), `export const n = ${index};\n`);
    rmSync(join(root, 'src', 'gone.ts'));
    writeFileSync(join(root, 'node_modules', 'dep', 'index.js'), '');
    mkdirSync(join(root, 'cdk.out'));
    writeFileSync(join(root, 'cdk.out', 'manifest.json'), '{}');
    const batch = await next('the checkout');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const reported = batches.flatMap((each) => each.files.map((changed) => changed.relativePath)).sort();
    expect(reported).toEqual([...Array.from({ length: 40 }, (_, index) => `src/file-${index}.ts`), 'src/gone.ts'].sort());
    expect(batch.files.find((changed) => changed.relativePath === 'src/gone.ts')?.exists ?? false).toBe(false);
  });

  it('calls a file new until a synth starts, and a file deleted then created again not new', async () => {
    root = mkdtempSync(join(tmpdir(), 'dualgate-watch-'));
    writeFileSync(join(root, 'existing.ts'), 'export {};\n');
    const { next } = await watching();
    writeFileSync(join(root, 'added.ts'), 'export {};\n');
    expect((await next('the new file')).files).toEqual([expect.objectContaining({ relativePath: 'added.ts', exists: true, isNew: true })]);
    rmSync(join(root, 'added.ts'));
    expect((await next('its deletion')).files).toEqual([expect.objectContaining({ relativePath: 'added.ts', exists: false, isNew: true })]);
    rmSync(join(root, 'existing.ts'));
    writeFileSync(join(root, 'existing.ts'), 'export const x = 1;\n');
    expect((await next('the replaced file')).files).toEqual([
      expect.objectContaining({ relativePath: 'existing.ts', exists: true, isNew: false }),
    ]);
    writeFileSync(join(root, 'later.ts'), 'export {};\n');
    expect((await next('another new file')).files).toEqual([expect.objectContaining({ relativePath: 'later.ts', isNew: true })]);
    watcher?.synthStarted();
    writeFileSync(join(root, 'later.ts'), 'export const y = 2;\n');
    expect((await next('its edit after a synth')).files).toEqual([expect.objectContaining({ relativePath: 'later.ts', isNew: false })]);
  });

  it('follows cdk.json "watch" include and exclude, and never tsc output beside its TypeScript source', () => {
    root = mkdtempSync(join(tmpdir(), 'dualgate-watch-'));
    mkdirSync(join(root, 'lib'));
    writeFileSync(join(root, 'lib', 'stack.ts'), '');
    const filter = watchFilter({ include: ['lib/**', 'lambdas/**'], exclude: ['lambdas/vendor'] }, root);
    expect(filter.accepts('lib/stack.ts')).toBe(true);
    expect(filter.accepts('lib/stack.js')).toBe(false);
    expect(filter.accepts('lambdas/fn/index.mjs')).toBe(true);
    expect(filter.accepts('lambdas/vendor/x.js')).toBe(false);
    expect(filter.accepts('bin/app.ts')).toBe(false);
    expect(filter.accepts('lib/.stack.ts.swp')).toBe(false);
    expect(watchFilter(undefined, root).accepts('test/stack.test.ts')).toBe(false);
    expect(globToRegExp('**/*.d.ts').test('types/a.d.ts')).toBe(true);
  });
});
