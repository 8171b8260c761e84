/**
 * Where `dualgate scan` looks: files and directories (skipping `.git`, `node_modules` and `cdk.out`; `.gitignore`
 * only when asked, through git itself), standard input, or the staged diff (only the lines a commit would add).
 * Reads are synchronous: a pre-commit hook scans many small files, and one thread reading them in order is fast.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { findKeys, type KeyFinding } from './key-scanner';

/** Never worth scanning: git's objects, installed packages, CDK's synthesized output. */
const SKIPPED_DIRECTORIES: readonly string[] = ['.git', 'node_modules', 'cdk.out'];
/** Larger files are skipped, and named as skipped. */
const MAX_FILE_BYTES = 50 * 1024 * 1024;

interface FileFinding extends KeyFinding {
  /** As given, or relative to the working directory. `-` is standard input. */
  file: string;
}

export interface ScanResult {
  findings: FileFinding[];
  filesScanned: number;
  /** Files not scanned, and why (too large, unreadable). */
  skipped: { file: string; why: string }[];
}

interface ScanOptions {
  cwd: string;
  /** Only keys with this prefix; default any prefix (the checksum covers it). */
  prefix?: string;
  /** Follow .gitignore (and git's other excludes) in directories, through `git ls-files`. */
  gitignore?: boolean;
  maxFileBytes?: number;
}

export class ScanError extends Error {
  override readonly name = 'ScanError';
}

/** Bytes as Latin-1: one character per byte, so a key (ASCII) is found wherever it sits, in text or binary. */
function textOf(bytes: Buffer): string {
  return bytes.toString('latin1');
}

function scanText(file: string, text: string, options: Pick<ScanOptions, 'prefix'> = {}): FileFinding[] {
  return findKeys(text, options).map((finding) => ({ file, ...finding }));
}

function displayName(cwd: string, path: string): string {
  const fromCwd = relative(cwd, path);
  return fromCwd === '' ? '.' : fromCwd.startsWith('..') || isAbsolute(fromCwd) ? path : fromCwd;
}

function isSkippedPath(relativePath: string): boolean {
  return relativePath.split(/[\\/]/).some((part) => SKIPPED_DIRECTORIES.includes(part));
}

/** Files under `dir`, depth first, in name order; symbolic links are not followed (they may loop, or leave the tree). */
function walk(dir: string, files: string[]): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    throw new ScanError(`cannot read directory ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRECTORIES.includes(entry.name)) walk(join(dir, entry.name), files);
    } else if (entry.isFile()) files.push(join(dir, entry.name));
  }
}

/** What git would consider part of the repository under `dir`: tracked files and untracked ones it does not ignore. */
function gitFiles(dir: string): string[] {
  let listed: string;
  try {
    listed = execFileSync('git', ['-C', dir, 'ls-files', '-z', '--cached', '--others', '--exclude-standard', '--full-name', '--', '.'], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    throw new ScanError(
      `--gitignore needs git and a repository: git ls-files failed in ${dir} (${((error as { stderr?: string }).stderr ?? (error as Error).message).trim().split('\n')[0]})`,
    );
  }
  const top = execFileSync('git', ['-C', dir, 'rev-parse', '--show-toplevel'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
  return [...new Set(listed.split('\0').filter((file) => file.length > 0 && !isSkippedPath(file)))].map((file) => join(top, file)).sort();
}

/** Scan files and directories (recursively). A path that does not exist is an error; so is `-` (use scanStdin). */
export function scanPaths(paths: readonly string[], options: ScanOptions): ScanResult {
  const files: string[] = [];
  for (const given of paths) {
    const path = resolve(options.cwd, given);
    let stats;
    try {
      stats = statSync(path);
    } catch {
      throw new ScanError(`no such file or directory: ${given}`);
    }
    if (stats.isDirectory()) {
      if (options.gitignore) files.push(...gitFiles(path));
      else walk(path, files);
    } else files.push(path);
  }
  const result: ScanResult = { findings: [], filesScanned: 0, skipped: [] };
  const maxBytes = options.maxFileBytes ?? MAX_FILE_BYTES;
  for (const path of [...new Set(files)]) {
    const name = displayName(options.cwd, path);
    let bytes: Buffer;
    try {
      const stats = lstatSync(path);
      // git ls-files lists symbolic links too; their target is scanned where it lives, if at all.
      if (!stats.isFile()) continue;
      if (stats.size > maxBytes) {
        result.skipped.push({ file: name, why: `larger than ${maxBytes} bytes` });
        continue;
      }
      bytes = readFileSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Listed by git but deleted in the working tree: nothing to scan.
      if (code === 'ENOENT') continue;
      result.skipped.push({ file: name, why: `unreadable (${code ?? (error as Error).message})` });
      continue;
    }
    result.filesScanned++;
    result.findings.push(...scanText(name.split(sep).join('/'), textOf(bytes), options));
  }
  return result;
}

export function scanStdin(input: Buffer, options: Pick<ScanOptions, 'prefix'>): ScanResult {
  return { findings: scanText('-', textOf(input), options), filesScanned: 1, skipped: [] };
}

/**
 * A path from git's diff header, given as Latin-1 text (one character per byte): git's C-style quoting of unusual
 * names (`"b/a\tb"`, octal escapes for bytes) undone, and the bytes read as UTF-8.
 */
export function unquoteGitPath(path: string): string {
  if (!path.startsWith('"') || !path.endsWith('"')) return Buffer.from(path, 'latin1').toString('utf8');
  const bytes: number[] = [];
  const escapes: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };
  const inner = path.slice(1, -1);
  for (let index = 0; index < inner.length; index++) {
    const char = inner[index] as string;
    if (char !== '\\') {
      bytes.push(char.charCodeAt(0) & 0xff);
      continue;
    }
    const next = inner[index + 1] ?? '';
    if (/[0-7]/.test(next)) {
      bytes.push(parseInt(inner.slice(index + 1, index + 4), 8));
      index += 3;
    } else {
      bytes.push(escapes[next] ?? next.charCodeAt(0));
      index += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * The lines the next commit adds, from `git diff --cached` (the index, not the working tree) read as Latin-1, scanned
 * with their line numbers in the staged file. Keys already committed are not reported: this is the pre-commit check.
 */
export function parseStagedDiff(diff: string, options: Pick<ScanOptions, 'prefix'> = {}): ScanResult {
  const result: ScanResult = { findings: [], filesScanned: 0, skipped: [] };
  let file: string | undefined;
  let inHeader = false;
  let nextLine = 0;
  for (const raw of diff.split('\n')) {
    if (raw.startsWith('diff --git ')) {
      inHeader = true;
      file = undefined;
      continue;
    }
    // `+++ ` is the file's name only in the header: in a hunk it is an added line that starts with `++ `.
    if (inHeader) {
      if (raw.startsWith('+++ ')) {
        // git ends the name with a tab when it holds a space (for patch(1)).
        const target = unquoteGitPath(raw.slice(4).replace(/\t$/, ''));
        file = target === '/dev/null' ? undefined : target.replace(/^b\//, '');
        if (file !== undefined) result.filesScanned++;
      }
      if (!raw.startsWith('@@')) continue;
      inHeader = false;
    }
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(raw);
    if (hunk) {
      nextLine = Number(hunk[1]);
      continue;
    }
    if (file === undefined || !raw.startsWith('+')) continue;
    for (const finding of findKeys(raw.slice(1), options)) result.findings.push({ file, ...finding, line: nextLine });
    nextLine++;
  }
  return result;
}

export function scanStaged(options: Pick<ScanOptions, 'cwd' | 'prefix'>): ScanResult {
  let diff: string;
  try {
    diff = execFileSync(
      'git',
      [
        '-c',
        'core.quotePath=false',
        'diff',
        '--cached',
        '--no-color',
        '--no-ext-diff',
        '--no-textconv',
        '--text',
        '--unified=0',
        '--diff-filter=d',
        '--src-prefix=a/',
        '--dst-prefix=b/',
      ],
      { cwd: options.cwd, encoding: 'latin1', maxBuffer: 1024 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (error) {
    throw new ScanError(
      `--staged needs git and a repository: git diff --cached failed (${((error as { stderr?: string }).stderr ?? (error as Error).message).trim().split('\n')[0]})`,
    );
  }
  return parseStagedDiff(diff, options);
}
