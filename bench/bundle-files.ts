/**
 * What a bundle directory (lib/build/bundling.ts: index.mjs and its chunks) holds, read from the files themselves:
 * which chunks a start loads before its first decision (index.mjs and what it imports statically, transitively)
 * and which load only when a dynamic `import()` runs. Used by the cold-start benchmark and the bundle tests.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LAMBDA_BUNDLE_FILE } from '../lib/build/bundling';

// esbuild's ESM output: `import{a as b}from"./chunk-X.mjs"`, `import"./chunk-X.mjs"`, `export{…}from"./chunk-X.mjs"`.
// A dynamic `import("./chunk-X.mjs")` has a parenthesis before the quote, so it does not match.
const STATIC_IMPORT = /(?:\bfrom\s*|\bimport\s*)["'](\.\/[^"']+\.mjs)["']/g;

/** The static imports of one output file, by file name (relative imports only: node builtins are not files here). */
export function staticImportsOf(dir: string, file: string): string[] {
  return [...readFileSync(join(dir, file), 'utf8').matchAll(STATIC_IMPORT)].map((match) => match[1]!.slice(2));
}

/** index.mjs and every chunk it imports statically, transitively: what Node reads and evaluates at init. */
export function staticClosure(dir: string, entry = LAMBDA_BUNDLE_FILE): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const imported of staticImportsOf(dir, file)) visit(imported);
  };
  visit(entry);
  return seen;
}

/** The chunks only a dynamic `import()` reaches (the authorizer's AWS SDK, for one). */
export function lazyChunks(dir: string): string[] {
  const loadedAtInit = staticClosure(dir);
  return readdirSync(dir)
    .filter((file) => file.endsWith('.mjs') && !loadedAtInit.has(file))
    .sort();
}

/** JavaScript bytes (all files, and those read at init) and source-map bytes of a bundle directory. */
export function bundleBytes(dir: string): { js: number; map: number; init_js: number } {
  const loadedAtInit = staticClosure(dir);
  let js = 0;
  let map = 0;
  let initJs = 0;
  for (const file of readdirSync(dir)) {
    const size = statSync(join(dir, file)).size;
    if (file.endsWith('.mjs')) {
      js += size;
      if (loadedAtInit.has(file)) initJs += size;
    } else if (file.endsWith('.mjs.map')) map += size;
  }
  return { js, map, init_js: initJs };
}
