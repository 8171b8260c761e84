/**
 * `dualgate scan` on real trees: files, directories, stdin and a staged git diff; exit 1 with `file:line:column` and
 * the key's start when a key is found, 0 when none, 2 on errors; never the whole key.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { generateKey, keyStart } from '../../lambdas/core/key-format';
import { runScan } from '../../lib/cli/scan-command';
import { parseStagedDiff, unquoteGitPath } from '../../lib/cli/scan/scan-sources';
import { REPO } from '../support/prepared';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'dualgate-scan-'));
  dirs.push(root);
  for (const [path, contents] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), contents);
  }
  return root;
}

async function scan(argv: string[], cwd: string, stdin = '') {
  let stdout = '';
  let stderr = '';
  const code = await runScan(argv, {
    cwd,
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    readStdin: async () => Buffer.from(stdin),
  });
  return { code, stdout, stderr };
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

describe('dualgate scan [paths…]', () => {
  const key = generateKey('dg').key;
  const other = generateKey('ord').key;
  const wrong = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');

  it('reports file:line:column and the start of each key, never the key, and exits 1', async () => {
    const root = tree({
      'src/config.ts': `export const a = 1;\nexport const key = '${key}';\n`,
      'README.md': `use ${other} here\n`,
      'notes.txt': `look-alike ${wrong}\n`,
    });
    const result = await scan([], root);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      `README.md:1:5: ${keyStart(other)}… is a dualgate API key (valid checksum)\nsrc/config.ts:2:21: ${keyStart(key)}… is a dualgate API key (valid checksum)\n`,
    );
    expect(result.stderr).toMatch(/2 keys found in 2 files \(3 files in \d+ ms\)/);
    expect(result.stdout + result.stderr).not.toContain(key.slice(7));
    expect(result.stdout + result.stderr).not.toContain(other.slice(8));
  });

  it('exits 0 and says so on stderr when there is nothing (look-alikes included)', async () => {
    const root = tree({ 'a.txt': `dg_EXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEE ${wrong}\n`, 'b/c.json': '{}' });
    expect(await scan(['.'], root)).toMatchObject({
      code: 0,
      stdout: '',
      stderr: expect.stringMatching(/^dualgate scan: no keys found \(2 files in \d+ ms\)\n$/),
    });
  });

  it('skips .git, node_modules and cdk.out wherever they are, and does not follow symbolic links', async () => {
    const root = tree({
      '.git/config': key,
      'node_modules/x/index.js': key,
      'packages/a/node_modules/y.js': key,
      'cdk.out/asset.1/index.js': key,
      'outside/secret.txt': key,
      'src/ok.ts': 'ok',
    });
    symlinkSync(join(root, 'outside'), join(root, 'src', 'linked'));
    const result = await scan(['src', 'packages'], root);
    expect(result).toMatchObject({ code: 0, stdout: '' });
  });

  it('scans a file named explicitly, and a directory inside a skipped one when named', async () => {
    const root = tree({ 'node_modules/pkg/leak.js': `x=${key}` });
    expect((await scan(['node_modules/pkg/leak.js'], root)).stdout).toContain('node_modules/pkg/leak.js:1:3:');
  });

  it('follows .gitignore only with --gitignore', async () => {
    const root = tree({ '.gitignore': 'build/\n*.local\n', 'build/out.js': key, '.env.local': key, 'src/app.ts': 'ok' });
    git(root, 'init', '-q');
    expect((await scan(['.'], root)).code).toBe(1);
    const ignoring = await scan(['--gitignore', '.'], root);
    expect(ignoring).toMatchObject({ code: 0, stdout: '' });
    // .gitignore and src/app.ts: build/ and *.local are ignored.
    expect(ignoring.stderr).toMatch(/\(2 files in/);
  });

  it('refuses --gitignore outside a git repository with exit 2', async () => {
    const root = tree({ 'a.txt': 'x' });
    // Outside any repository even when the temporary directory's parents are one: git stops looking at the ceiling.
    vi.stubEnv('GIT_CEILING_DIRECTORIES', dirname(root));
    const result = await scan(['--gitignore', '.'], root).finally(() => vi.unstubAllEnvs());
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--gitignore needs git and a repository/);
  });

  it('reads standard input with -', async () => {
    expect(await scan(['-'], tree({}), `line 1\nKEY=${key}\n`)).toMatchObject({
      code: 1,
      stdout: `-:2:5: ${keyStart(key)}… is a dualgate API key (valid checksum)\n`,
    });
    expect((await scan(['-'], tree({}), 'nothing here')).code).toBe(0);
  });

  it('keeps to one prefix with --prefix', async () => {
    const root = tree({ 'a.txt': `${key}\n${other}\n` });
    const result = await scan(['--prefix', 'ord', '.'], root);
    expect(result.stdout).toBe(`a.txt:2:1: ${keyStart(other)}… is a dualgate API key (valid checksum)\n`);
    expect((await scan(['--prefix', 'Bad!', '.'], root)).code).toBe(2);
  });

  it('prints machine output with --json', async () => {
    const root = tree({ 'a.txt': `\n  ${key}\n` });
    const result = await scan(['--json'], root);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      findings: [{ file: 'a.txt', line: 2, column: 3, start: `${keyStart(key)}…` }],
      filesScanned: 1,
      skipped: [],
      durationMs: expect.any(Number),
    });
    expect(result.stdout).not.toContain(key);
  });

  it('exits 2 for a path that does not exist and for an unknown option', async () => {
    const root = tree({});
    expect(await scan(['missing'], root)).toMatchObject({ code: 2, stderr: expect.stringMatching(/no such file or directory: missing/) });
    expect((await scan(['--stagd'], root)).code).toBe(2);
    expect((await scan(['--json', 'missing'], root)).stderr).toMatch(/^\{"error":\{"type":"scan_error"/);
  });
});

describe('dualgate scan --staged', () => {
  it('reports keys on the lines the next commit adds, with their line in the staged file, and nothing already committed', async () => {
    const committed = generateKey('dg').key;
    const added = generateKey('dg').key;
    const root = tree({ 'config.env': `OLD=${committed}\n` });
    git(root, 'init', '-q');
    git(root, 'add', '.');
    git(root, 'commit', '-q', '-m', 'first');
    writeFileSync(join(root, 'config.env'), `OLD=${committed}\nA=1\nNEW=${added}\n`);
    writeFileSync(join(root, 'unstaged.txt'), generateKey('dg').key);
    mkdirSync(join(root, 'node_modules'));
    writeFileSync(join(root, 'node_modules', 'vendored.js'), `k='${added}'`);
    writeFileSync(join(root, 'a file ü.txt'), `\n${added}`);
    git(root, 'add', 'config.env', 'node_modules/vendored.js', 'a file ü.txt');
    const result = await scan(['--staged'], root);
    expect(result.code).toBe(1);
    // Everything staged is scanned (a vendored file being committed too); the untracked and the committed key are not.
    expect(result.stdout.split('\n').filter(Boolean).sort()).toEqual(
      [
        `a file ü.txt:2:1: ${keyStart(added)}… is a dualgate API key (valid checksum)`,
        `config.env:3:5: ${keyStart(added)}… is a dualgate API key (valid checksum)`,
        `node_modules/vendored.js:1:4: ${keyStart(added)}… is a dualgate API key (valid checksum)`,
      ].sort(),
    );
    git(root, 'commit', '-q', '-m', 'second');
    expect(await scan(['--staged'], root)).toMatchObject({ code: 0, stderr: expect.stringMatching(/no keys found \(0 staged files/) });
  });

  it('ignores staged deletions, and refuses paths or --gitignore beside --staged', async () => {
    const root = tree({ 'old.txt': generateKey('dg').key });
    git(root, 'init', '-q');
    git(root, 'add', '.');
    git(root, 'commit', '-q', '-m', 'first');
    git(root, 'rm', '-q', 'old.txt');
    expect((await scan(['--staged'], root)).code).toBe(0);
    expect((await scan(['--staged', '.'], root)).code).toBe(2);
    expect((await scan(['--staged', '--gitignore'], root)).code).toBe(2);
  });

  it('parses added lines only: "+++" inside a hunk is content, and hunk headers set the line numbers', () => {
    const key = generateKey('dg').key;
    const diff = [
      'diff --git a/x b/x',
      'index 1..2 100644',
      '--- a/x',
      '+++ b/x',
      '@@ -0,0 +10,2 @@',
      `+++ ${key}`,
      `-${key}`,
      `+ ${key}`,
    ].join('\n');
    expect(parseStagedDiff(diff).findings).toEqual([
      { file: 'x', line: 10, column: 4, start: keyStart(key), prefix: 'dg' },
      { file: 'x', line: 11, column: 2, start: keyStart(key), prefix: 'dg' },
    ]);
    expect(unquoteGitPath('"b/a\\tb \\303\\274.txt"')).toBe('b/a\tb ü.txt');
    expect(unquoteGitPath(Buffer.from('b/ü.txt', 'utf8').toString('latin1'))).toBe('b/ü.txt');
  });
});

describe('the dualgate command', () => {
  it('runs scan as its own process: exit 1 with a key, 0 without, through bin/dualgate-cli.mjs', () => {
    const dirty = tree({ 'leak.txt': generateKey('dg').key });
    const clean = tree({ 'ok.txt': 'nothing' });
    const run = (cwd: string) => spawnSync(process.execPath, [join(REPO, 'bin', 'dualgate-cli.mjs'), 'scan'], { cwd, encoding: 'utf8' });
    expect(run(dirty).status).toBe(1);
    expect(run(clean).status).toBe(0);
  });
});
