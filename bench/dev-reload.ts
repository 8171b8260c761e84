/**
 * `npx tsx bench/dev-reload.ts`: how long `dualgate dev --watch` takes from saving a file to serving the change,
 * on two consumer apps, for a handler edit (no synth) and a stack edit (a synth):
 *
 *   orders-app  examples/orders-app, TypeScript: a NodejsFunction (src/writer.ts) and the stack (lib/orders-stack.ts),
 *               synthesized with tsx, dualgate linked as `npm install ../dualgate` wires it;
 *   dev-loop    test/fixtures/dev-loop-app, plain JavaScript: a Code.fromAsset function and bin/app.mjs, dualgate
 *               installed from the packed tarball and run with `npx dualgate dev --watch`.
 *
 * Each edit writes a temporary file and renames it over the original (an editor's atomic save); the time runs from
 * the rename to the first response that shows the change. Options: --edits N (default 5), --stack-edits N (3).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { devLoopApp, exampleApp, REPO } from '../test/support/prepared';

const READY = /dualgate local mode is ready at (http:\/\/127\.0\.0\.1:\d+)/;
const TOKEN_URL = /token endpoint (http:\/\/127\.0\.0\.1:\d+\/token)/;

interface Dev {
  child: ChildProcess;
  output: () => string;
  url: string;
  tokenUrl: string;
}

async function startDev(cwd: string, command: string, args: string[]): Promise<Dev> {
  const child = spawn(command, args, { cwd, env: { ...process.env, PORT: '0', ISSUER_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const deadline = Date.now() + 300_000;
  while (!READY.test(output) || !output.includes('dualgate dev: watching')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`dualgate dev did not become ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, output: () => output, url: READY.exec(output)![1]!, tokenUrl: TOKEN_URL.exec(output)![1]! };
}

async function stopDev(dev: Dev): Promise<void> {
  const closed = new Promise((resolve) => dev.child.once('close', resolve));
  dev.child.kill('SIGTERM');
  await closed;
}

/** Save `file` as `transform` makes it (temporary file, then rename), and time until `served()` says it is live. */
async function timedEdit(file: string, transform: (text: string) => string, served: () => Promise<boolean>): Promise<number> {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, transform(readFileSync(file, 'utf8')));
  const savedMs = performance.now();
  renameSync(temporary, file);
  while (!(await served().catch(() => false))) {
    if (performance.now() - savedMs > 180_000) throw new Error(`${file}: the edit was not served within 180 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - savedMs;
}

/** Let the confirming synth that follows a function-code reload finish, so it does not slow the next edit down. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20_000));

function summary(label: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const format = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
  return `${label.padEnd(48)} median ${format(median).padStart(7)}   min ${format(sorted[0] ?? 0).padStart(7)}   max ${format(sorted.at(-1) ?? 0).padStart(7)}   (n=${samples.length})`;
}

async function ordersApp(edits: number, stackEdits: number): Promise<string[]> {
  const { appDir, synthCommand } = exampleApp();
  const copy = join(realpathSync(mkdtempSync(join(tmpdir(), 'dualgate-bench-'))), 'orders-app');
  cpSync(appDir, copy, { recursive: true });
  writeFileSync(join(copy, 'package-lock.json'), JSON.stringify({ name: 'orders-app', lockfileVersion: 3, requires: true, packages: {} }));
  const dev = await startDev(copy, process.execPath, [join(REPO, 'bin', 'dualgate-cli.mjs'), 'dev', '--watch', '--app', synthCommand]);
  try {
    const token = (
      (await (
        await fetch(dev.tokenUrl, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from('bench:x').toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'grant_type=client_credentials&scope=write%3Aorders',
        })
      ).json()) as { access_token: string }
    ).access_token;
    const handler: number[] = [];
    for (let edit = 1; edit <= edits; edit++) {
      const marker = `bench-${edit}-${Date.now()}`;
      handler.push(
        await timedEdit(
          join(copy, 'src', 'writer.ts'),
          (text) => text.replace(/role: [^,}]+/, `role: '${marker}'`),
          async () =>
            (await (await fetch(`${dev.url}/orders`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).text()).includes(
              marker,
            ),
        ),
      );
    }
    await settle();
    const stack: number[] = [];
    for (let edit = 1; edit <= stackEdits; edit++) {
      const path = `/bench-${edit}-${Date.now()}`;
      stack.push(
        await timedEdit(
          join(copy, 'lib', 'orders-stack.ts'),
          (text) => text.replace(/path: '\/(status|bench-[^']*)', authorized: false/, `path: '${path}', authorized: false`),
          async () => (await fetch(`${dev.url}${path}`)).status === 200,
        ),
      );
    }
    return [
      summary('orders-app: handler edit (NodejsFunction, TypeScript)', handler),
      summary('orders-app: stack edit (synth with tsx)', stack),
    ];
  } finally {
    await stopDev(dev);
    rmSync(join(copy, '..'), { recursive: true, force: true });
  }
}

async function devLoop(edits: number, stackEdits: number): Promise<string[]> {
  const copy = join(realpathSync(mkdtempSync(join(tmpdir(), 'dualgate-bench-'))), 'dev-loop-app');
  cpSync(devLoopApp(), copy, { recursive: true, verbatimSymlinks: true });
  const dev = await startDev(copy, 'npx', ['dualgate', 'dev', '--watch']);
  try {
    const handler: number[] = [];
    for (let edit = 1; edit <= edits; edit++) {
      handler.push(
        await timedEdit(
          join(copy, 'fns', 'edited', 'index.mjs'),
          (text) => text.replace(/version: \d+/, `version: ${edit}`),
          async () => ((await (await fetch(`${dev.url}/version`)).json()) as { version: number }).version === edit,
        ),
      );
    }
    await settle();
    const stack: number[] = [];
    for (let edit = 1; edit <= stackEdits; edit++) {
      const path = `/bench-${edit}-${Date.now()}`;
      stack.push(
        await timedEdit(
          join(copy, 'bin', 'app.mjs'),
          (text) => text.replace(/path: '\/(version|bench-[^']*)', authorized: false/, `path: '${path}', authorized: false`),
          async () => (await fetch(`${dev.url}${path}`)).status === 200,
        ),
      );
    }
    return [
      summary('dev-loop: handler edit (Code.fromAsset, JavaScript)', handler),
      summary('dev-loop: stack edit (synth with node)', stack),
    ];
  } finally {
    await stopDev(dev);
    rmSync(join(copy, '..'), { recursive: true, force: true });
  }
}

const { values } = parseArgs({ options: { edits: { type: 'string' }, 'stack-edits': { type: 'string' } } });
const edits = Number(values.edits ?? 5);
const stackEdits = Number(values['stack-edits'] ?? 3);
const before = loadavg()[0]!;
const lines = [...(await ordersApp(edits, stackEdits)), ...(await devLoop(edits, stackEdits))];
process.stdout.write(
  [
    '',
    `dualgate dev --watch, save → serving (${cpus().length} CPUs, load average ${before.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}, ${new Date().toISOString()}):`,
    ...lines.map((line) => `  ${line}`),
    '',
    'reproduce: npx tsx bench/dev-reload.ts',
    '',
  ].join('\n'),
);
