/**
 * `dualgate dev --watch`'s eyes: chokidar over the app's directory (a recursive `fs.watch` loses a file once an
 * editor or a script has replaced it by rename), filtered by cdk.json's "watch" settings as `cdk watch` filters,
 * and gathered into batches: one batch per burst of changes (an atomic save, a `git checkout` of many files).
 */
import { existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

export interface WatchSettings {
  include?: string | string[];
  exclude?: string | string[];
}

/** What dualgate dev itself never watches, whatever cdk.json says: dependencies, outputs, local state, editors' scratch files. */
const ALWAYS_EXCLUDED = [
  'node_modules',
  'cdk.out',
  '.git',
  '.dualgate',
  '**/*.tsbuildinfo',
  '**/*.swp',
  '**/*.swx',
  '**/*~',
  '**/.#*',
  '**/#*#',
  '**/4913',
  '**/.DS_Store',
];
/** `cdk watch`'s exclusions for a TypeScript app, when cdk.json names none. */
const DEFAULT_EXCLUDED = ['README.md', 'cdk*.json', '**/*.d.ts', 'tsconfig.json', 'package*.json', 'yarn.lock', 'test', 'build', 'dist'];

export function globToRegExp(glob: string): RegExp {
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*\*\/?/g, '\u0000')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL stands in for `**/` between the two replacements.
    .replace(/\u0000/g, '(?:.*/)?');
  return new RegExp(`^${pattern.replace(/\(\?:\.\*\/\)\?$/, '.*')}(?:/.*)?$`);
}

const asList = (value: string | string[] | undefined) => (value === undefined ? undefined : Array.isArray(value) ? value : [value]);

/** The paths (relative, `/`-separated) whose change reloads: cdk.json's "watch" settings, or `cdk watch`'s defaults. */
export function watchFilter(
  settings: WatchSettings | undefined,
  root: string,
): { accepts(path: string): boolean; excludes(path: string): boolean } {
  const include = (asList(settings?.include) ?? ['**']).map(globToRegExp);
  const exclude = [...(asList(settings?.exclude) ?? DEFAULT_EXCLUDED), ...ALWAYS_EXCLUDED].map(globToRegExp);
  const excludes = (path: string) => exclude.some((pattern) => pattern.test(path));
  // JavaScript is watched (a Code.fromAsset directory may hold plain .js), except tsc's output beside its .ts source.
  const compiled = (path: string) =>
    /\.(c|m)?js$/.test(path) && ['.ts', '.mts', '.cts'].some((extension) => existsSync(join(root, path.replace(/\.(c|m)?js$/, extension))));
  return { excludes, accepts: (path) => include.some((pattern) => pattern.test(path)) && !excludes(path) && !compiled(path) };
}

/** One changed file: absolute path, and whether it exists now (a deleted or a scratch file does not). */
export interface ChangedFile {
  path: string;
  /** Relative to the watched directory, `/`-separated. */
  relativePath: string;
  exists: boolean;
  /**
   * Created since the last synth (see `SourceWatcher.synthStarted`), so no synth has read it yet: until something
   * that was there refers to it, it cannot change what is served (an editor's temporary file, a new file not yet used).
   */
  isNew: boolean;
}

export interface ChangeBatch {
  files: ChangedFile[];
  /** When the first change of the batch was seen. */
  firstSeenMs: number;
}

export interface SourceWatcher {
  /** Resolves once the initial scan is done: every later change is reported. */
  ready: Promise<void>;
  /** A synth is starting: it reads the files as they are now, so none of them is new any more. */
  synthStarted(): void;
  close(): Promise<void>;
}

interface SourceWatcherOptions {
  root: string;
  settings?: WatchSettings;
  onBatch: (batch: ChangeBatch) => void;
  onError?: (error: Error) => void;
  /** Quiet time that ends a burst. */
  settleMs?: number;
}

export function startSourceWatcher(options: SourceWatcherOptions): SourceWatcher {
  const { root } = options;
  const filter = watchFilter(options.settings, root);
  const relativeOf = (path: string) => relative(root, path).split(sep).join('/');
  const settleMs = options.settleMs ?? 100;
  let batch = new Map<string, { added: boolean }>();
  /** Files created since the last synth started; and files that were there then but have been deleted since. */
  let created = new Set<string>();
  const removed = new Set<string>();
  let firstSeenMs = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const seen = batch;
    batch = new Map();
    const files: ChangedFile[] = [];
    for (const [path, { added }] of seen) {
      const exists = existsSync(path);
      // Created and gone within the burst (an editor's or a script's temporary file): nothing changed.
      if (added && !exists) continue;
      files.push({ path, relativePath: relativeOf(path), exists, isNew: created.has(path) });
    }
    if (files.length > 0) options.onBatch({ files, firstSeenMs });
  };
  const seen = (event: 'add' | 'change' | 'unlink', path: string) => {
    const relativePath = relativeOf(path);
    if (relativePath.startsWith('..') || !filter.accepts(relativePath)) return;
    if (batch.size === 0) firstSeenMs = Date.now();
    // A file replaced by delete-then-create is the same file changed, not a new one.
    if (event === 'add' && !removed.delete(path)) created.add(path);
    if (event === 'unlink' && !created.has(path)) removed.add(path);
    const known = batch.get(path);
    batch.set(path, { added: known ? known.added : event === 'add' });
    clearTimeout(timer);
    timer = setTimeout(flush, settleMs);
  };
  const watcher: FSWatcher = watch(root, {
    ignoreInitial: true,
    // Not chokidar's delayed unlink: a file replaced by rename then reports its temporary file's add and unlink
    // together, in one burst, and the burst drops it.
    atomic: false,
    // Directories cdk.json or dualgate excludes are not even read (node_modules can hold tens of thousands of files).
    ignored: (path) => {
      const relativePath = relativeOf(path);
      return relativePath !== '' && !relativePath.startsWith('..') && filter.excludes(relativePath);
    },
  });
  watcher.on('add', (path) => seen('add', path));
  watcher.on('change', (path) => seen('change', path));
  watcher.on('unlink', (path) => seen('unlink', path));
  watcher.on('error', (error) => options.onError?.(error instanceof Error ? error : new Error(String(error))));
  const ready = new Promise<void>((resolvePromise) => watcher.once('ready', () => resolvePromise()));
  return {
    ready,
    synthStarted: () => {
      created = new Set();
      removed.clear();
    },
    close: async () => {
      clearTimeout(timer);
      await watcher.close();
    },
  };
}
