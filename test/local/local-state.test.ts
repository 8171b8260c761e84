import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareLocalStateDir } from '../../lib/local/local-state';

const hasGit = spawnSync('git', ['--version']).status === 0;
let app: string;
afterEach(() => rmSync(app, { recursive: true, force: true }));

describe('local state directories', () => {
  it.skipIf(!hasGit)('ignore themselves: a --data directory never shows in git status', () => {
    app = mkdtempSync(join(tmpdir(), 'dualgate-state-'));
    execFileSync('git', ['init', '-q'], { cwd: app });
    expect(prepareLocalStateDir(join(app, '.dualgate'))).toBe(true);
    writeFileSync(join(app, '.dualgate', 'issuer-signing-key.json'), '{}');
    mkdirSync(join(app, '.dualgate', 'api-2'));
    writeFileSync(join(app, '.dualgate', 'api-2', 'CURRENT'), '');
    writeFileSync(join(app, 'app.ts'), '');
    expect(execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: app, encoding: 'utf8' })).toBe('?? app.ts\n');
    expect(readFileSync(join(app, '.dualgate', '.gitignore'), 'utf8')).toMatch(/^\*$/m);
  });

  it('mark an existing directory that holds dualgate’s state, and never one holding the user’s files', () => {
    app = mkdtempSync(join(tmpdir(), 'dualgate-state-'));
    mkdirSync(join(app, 'old-data'));
    writeFileSync(join(app, 'old-data', 'issuer-signing-key.json'), '{}');
    expect(prepareLocalStateDir(join(app, 'old-data'))).toBe(true);
    expect(existsSync(join(app, 'old-data', '.gitignore'))).toBe(true);
    mkdirSync(join(app, 'src'));
    writeFileSync(join(app, 'src', 'handler.ts'), '');
    expect(prepareLocalStateDir(join(app, 'src'))).toBe(false);
    expect(existsSync(join(app, 'src', '.gitignore'))).toBe(false);
  });
});
