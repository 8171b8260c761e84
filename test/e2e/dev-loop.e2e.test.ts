/**
 * The daily loop as the issue's acceptance check runs it: a consumer app installed from the packed tarball, run with
 * `npx dualgate dev --watch`. A function that logs and then throws shows its error, a stack line in the user's file
 * and its console output in the dev output; a function edited four times in a row, each time by writing a temporary
 * file and renaming it over the original, serves every edit; local state stays out of `git status`.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDeployedTarget } from '../support/e2e-target';
import { devLoopApp } from '../support/prepared';

const READY = /dualgate local mode is ready at (http:\/\/127\.0\.0\.1:\d+)/;
const hasGit = spawnSync('git', ['--version']).status === 0;

let app: string;
let dev: ChildProcess;
let output = '';
let url: string;

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; dev output:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const git = (...args: string[]) =>
  execFileSync('git', args, {
    cwd: app,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  });

describe.skipIf(isDeployedTarget() || !hasGit)('npx dualgate dev --watch on a packed install (the issue’s acceptance check)', () => {
  beforeAll(async () => {
    // A copy of its own, under git as a user's app is: this test edits it.
    app = join(realpathSync(mkdtempSync(join(tmpdir(), 'dualgate-loop-'))), 'dev-loop-app');
    cpSync(devLoopApp(), app, { recursive: true, verbatimSymlinks: true });
    git('init', '-q');
    git('add', '-A');
    git('commit', '-qm', 'the app');
    dev = spawn('npx', ['dualgate', 'dev', '--watch', '--data', '.dualgate'], {
      cwd: app,
      env: { ...process.env, PORT: '0', ISSUER_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    dev.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    dev.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    await waitFor(() => READY.test(output) && output.includes('dualgate dev: watching'), 180_000, 'the ready and watching lines');
    url = READY.exec(output)![1]!;
  }, 240_000);

  afterAll(async () => {
    if (dev && dev.exitCode === null && dev.signalCode === null) {
      dev.kill('SIGTERM');
      await new Promise((resolve) => dev.once('close', resolve));
    }
    if (app) rmSync(join(app, '..'), { recursive: true, force: true });
  });

  it('lists every route with its scopes and function in the banner', () => {
    expect(output).toMatch(/GET\s+\/boom\s+open\s+DevLoopApp\/Thrower/);
    expect(output).toMatch(/GET\s+\/things\s+read:things\s+DevLoopApp\/Edited/);
  });

  it('shows a thrown error’s message, a stack line in the user’s file and the invocation’s console output; the answer stays 502', async () => {
    const response = await fetch(`${url}/boom`);
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({ message: 'Internal server error' });
    const requestId = response.headers.get('x-amzn-requestid') as string;
    await waitFor(() => output.includes('thrower failed on purpose for /boom'), 10_000, 'the error');
    const file = join(app, 'fns', 'thrower', 'index.mjs');
    const block = output.slice(output.indexOf('GET    /boom'));
    expect(block).toContain('thrower called for /boom');
    expect(block).toContain('DevLoopApp/Thrower threw Error: thrower failed on purpose for /boom');
    expect(block).toContain(`request ${requestId}`);
    expect(block).toMatch(new RegExp(`at placeOrder \\(${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:8:9\\)`));
    // The console output is printed under its request, before the failure.
    expect(block.indexOf('thrower called for /boom')).toBeLessThan(block.indexOf('threw Error'));
  });

  it('serves every one of four edits made by writing a temporary file and renaming it over the original, without a synth', async () => {
    const file = join(app, 'fns', 'edited', 'index.mjs');
    const original = readFileSync(file, 'utf8');
    const servedAfterMs: number[] = [];
    const servedVersion = async () => ((await (await fetch(`${url}/version`)).json()) as { version: number }).version;
    for (let version = 1; version <= 4; version++) {
      const temporary = join(app, 'fns', 'edited', `.index.mjs.${version}.tmp`);
      writeFileSync(temporary, original.replace('version: 0', `version: ${version}`));
      const savedMs = Date.now();
      renameSync(temporary, file);
      while ((await servedVersion()) !== version) {
        if (Date.now() - savedMs > 60_000) throw new Error(`edit ${version} was not served within 60 s; dev output:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      servedAfterMs.push(Date.now() - savedMs);
    }
    process.stdout.write(`save → serving, four edits: ${servedAfterMs.join(', ')} ms\n`);
    // The line that says so comes once the new code has started, which a request may beat.
    const servedLines = () => output.match(/dualgate dev: reloaded in \d+ ms: serving the new code of DevLoopApp\/Edited/g) ?? [];
    await waitFor(() => servedLines().length >= 4, 10_000, 'four "serving the new code" lines');
    expect(servedLines()).toHaveLength(4);
    expect(output).not.toContain('synthesizing the app again');
  });

  it('reloads the whole app when a function’s file turns out to be read by the stack too (a synth confirms in the background)', async () => {
    const file = join(app, 'fns', 'edited', 'extra-route.json');
    const reloads = () => (output.match(/reloaded in \d+ ms \(restart \d+ ms\)/g) ?? []).length;
    const before = reloads();
    writeFileSync(file, '{ "path": "/renamed" }\n');
    // First the function's code alone, then the confirming synth finds the template changed.
    await waitFor(() => reloads() > before, 120_000, 'the whole app to reload');
    expect(output).toContain("the change reached the app's template too");
    expect(output).toMatch(/\+ GET\s+\/renamed\s+open\s+DevLoopApp\/Edited/);
    expect(output).toMatch(/- GET\s+\/extra\s+open\s+DevLoopApp\/Edited/);
    expect((await fetch(`${url}/renamed`)).status).toBe(200);
    expect((await fetch(`${url}/extra`)).status).toBe(404);
  });

  it('keeps local state out of git status', () => {
    expect(git('status', '--porcelain', '--untracked-files=all')).toBe(' M fns/edited/extra-route.json\n M fns/edited/index.mjs\n');
    expect(readFileSync(join(app, '.dualgate', '.gitignore'), 'utf8')).toMatch(/^\*$/m);
  });

  it('stops cleanly on SIGTERM', async () => {
    // npx passes the signal on; its output closes once dualgate dev, which holds it too, has exited.
    const closed = new Promise((resolve) => dev.once('close', resolve));
    dev.kill('SIGTERM');
    await closed;
    expect(output).toContain('dualgate dev: stopped');
    expect(output).not.toMatch(/ignored while stopping|error while stopping/);
  });
});
