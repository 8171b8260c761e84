/**
 * The whiteboard rules of the layout (docs/architecture.md, "Where things live"), checked on every import in the tree:
 * - the domain core (lambdas/core) imports nothing of the other rooms, and does no I/O;
 * - nothing under lambdas/ imports lib/, examples/ or the CDK (the Lambdas ship without aws-cdk-lib);
 * - the construct (lib/construct and the package entries) imports neither the dev server (lib/local) nor the CLI (lib/cli).
 * A rule that breaks names the file and the import.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

interface Import {
  /** Repository-relative path of the importing file. */
  from: string;
  /** The specifier as written. */
  specifier: string;
  /** Repository-relative path for a relative specifier; undefined for a package or built-in. */
  target?: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|mts|cts|mjs|cjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

// Static imports and re-exports (`import … from`, `export … from`, `import '…'`) and dynamic `import('…')`.
const IMPORT_PATTERN =
  /(?:^|[\n;])\s*(import|export)\s+(type\s+)?(?:[^'"`;]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): Import[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found: Import[] = [];
  for (const match of text.matchAll(IMPORT_PATTERN)) {
    const specifier = match[3] ?? match[4]!;
    const typeOnly = match[2] !== undefined;
    const target = specifier.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), specifier)) : undefined;
    found.push({ from: file, specifier, typeOnly, ...(target !== undefined ? { target } : {}) });
  }
  return found;
}

const within = (path: string | undefined, ...rooms: string[]): boolean =>
  path !== undefined && rooms.some((room) => path === room || path.startsWith(`${room}/`));
const describeImport = (entry: Import): string => `${entry.from} imports '${entry.specifier}'`;

const lambdaImports = sourceFiles('lambdas').flatMap(importsOf);
const coreImports = lambdaImports.filter((entry) => within(entry.from, 'lambdas/core'));
const constructImports = [...sourceFiles('lib/construct'), 'lib/index.ts', 'lib/context.ts'].flatMap(importsOf);

/** The core may use node:crypto (hashing is computation, not I/O) and types from the SDK (the key item's shape). */
const CORE_PACKAGES = ['node:crypto'];

describe('the layout keeps its whiteboard rules', () => {
  it('finds the imports it checks (the scanner is not blind)', () => {
    expect(coreImports.length).toBeGreaterThan(10);
    expect(lambdaImports.length).toBeGreaterThan(200);
    expect(constructImports.some((entry) => entry.specifier === 'aws-cdk-lib')).toBe(true);
    // A dynamic import is seen too: the authorizer loads its DynamoDB side on demand.
    expect(
      lambdaImports.some(
        (entry) => entry.from === 'lambdas/authorizer/wiring.ts' && entry.target === 'lambdas/authorizer/key-table-client',
      ),
    ).toBe(true);
  });

  it('the domain core imports nothing of the other rooms and does no I/O', () => {
    const outside = coreImports.filter((entry) =>
      entry.target !== undefined ? !within(entry.target, 'lambdas/core') : !entry.typeOnly && !CORE_PACKAGES.includes(entry.specifier),
    );
    expect(outside.map(describeImport)).toEqual([]);
  });

  it('nothing under lambdas/ imports lib/, examples/ or the CDK', () => {
    const forbidden = lambdaImports.filter(
      (entry) => within(entry.target, 'lib', 'examples', 'bin') || /^(aws-cdk-lib|constructs|cdk-nag)(\/|$)/.test(entry.specifier),
    );
    expect(forbidden.map(describeImport)).toEqual([]);
  });

  it('the construct imports neither the dev server nor the CLI', () => {
    const forbidden = constructImports.filter((entry) => within(entry.target, 'lib/local', 'lib/cli', 'examples', 'bin'));
    expect(forbidden.map(describeImport)).toEqual([]);
  });
});
