/**
 * What the synth probe learns about a real app's synth (a Code.fromAsset directory and a NodejsFunction), and
 * rebuilding each kind of code from edited sources without synthesizing again.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCloudAssembly } from '../../lib/local/assembly';
import { isSourceOf, readCodeOrigins, rebuildCode, RebuildError, sameFiles, type CodeOrigin } from '../../lib/local/code-origins';
import { synthesize } from '../../lib/local/synth';
import { REPO } from '../support/prepared';

const APP = `
const path = require('node:path');
const cdk = require('aws-cdk-lib');
const lambda = require('aws-cdk-lib/aws-lambda');
const { NodejsFunction } = require('aws-cdk-lib/aws-lambda-nodejs');
const app = new cdk.App();
const stack = new cdk.Stack(app, 'Probe');
new lambda.Function(stack, 'Plain', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromAsset(path.join(__dirname, 'fns', 'plain')) });
new NodejsFunction(stack, 'Bundled', { runtime: lambda.Runtime.NODEJS_22_X, entry: path.join(__dirname, 'src', 'handler.ts'), depsLockFilePath: path.join(__dirname, 'package-lock.json'), projectRoot: __dirname });
app.synth();
`;

let app: string;
let outdir: string;
let origins: Map<string, CodeOrigin>;
let codeDirs: Map<string, string>;
const made: string[] = [];

beforeAll(async () => {
  app = realpathSync(mkdtempSync(join(tmpdir(), 'dualgate-probe-app-')));
  symlinkSync(join(REPO, 'node_modules'), join(app, 'node_modules'), 'dir');
  writeFileSync(join(app, 'app.cjs'), APP);
  writeFileSync(join(app, 'package.json'), '{ "name": "probe-app", "private": true }');
  writeFileSync(join(app, 'package-lock.json'), '{ "name": "probe-app", "lockfileVersion": 3, "requires": true, "packages": {} }');
  mkdirSync(join(app, 'fns', 'plain', 'lib'), { recursive: true });
  writeFileSync(
    join(app, 'fns', 'plain', 'index.js'),
    "exports.handler = async () => ({ statusCode: 200, body: require('./lib/text.js') });\n",
  );
  writeFileSync(join(app, 'fns', 'plain', 'lib', 'text.js'), "module.exports = 'one';\n");
  writeFileSync(join(app, 'fns', 'plain', 'notes.txt'), 'kept\n');
  mkdirSync(join(app, 'src'));
  writeFileSync(
    join(app, 'src', 'handler.ts'),
    "import { greeting } from './shared';\nexport const handler = async () => ({ statusCode: 200, body: greeting });\n",
  );
  writeFileSync(join(app, 'src', 'shared.ts'), "export const greeting: string = 'hello';\n");
  outdir = mkdtempSync(join(tmpdir(), 'dualgate-probe-out-'));
  await synthesize('node app.cjs', app, outdir, {}, { probe: true });
  origins = readCodeOrigins(outdir);
  codeDirs = new Map(
    [...readCloudAssembly(outdir).functions.values()].map((fn) => [fn.logicalId.replace(/[A-F0-9]{8}$/, ''), fn.codeDir as string]),
  );
}, 120_000);

afterAll(() => {
  for (const dir of [app, outdir, ...made]) if (dir) rmSync(dir, { recursive: true, force: true });
});

function originOf(name: string): CodeOrigin {
  const origin = origins.get(codeDirs.get(name) as string);
  expect(origin, name).toBeDefined();
  return origin as CodeOrigin;
}

describe('the synth probe', () => {
  it('records the directory a Code.fromAsset function was copied from', () => {
    expect(originOf('Plain')).toEqual({ kind: 'copy', assetDir: codeDirs.get('Plain'), sourceDir: join(app, 'fns', 'plain') });
  });

  it('records a NodejsFunction’s esbuild command and the files its bundle is made of, and gives it a source map', () => {
    const origin = originOf('Bundled');
    expect(origin.kind).toBe('esbuild');
    expect(isSourceOf(origin, join(app, 'src', 'handler.ts'))).toBe(true);
    expect(isSourceOf(origin, join(app, 'src', 'shared.ts'))).toBe(true);
    expect(isSourceOf(origin, join(app, 'app.cjs'))).toBe(false);
    expect(existsSync(join(codeDirs.get('Bundled') as string, 'index.js.map'))).toBe(true);
  });
});

describe('rebuilding function code without a synth', () => {
  it('copies the changed files of a Code.fromAsset directory over the served code, and drops deleted ones', async () => {
    const origin = originOf('Plain');
    writeFileSync(join(app, 'fns', 'plain', 'lib', 'text.js'), "module.exports = 'two';\n");
    rmSync(join(app, 'fns', 'plain', 'notes.txt'));
    const rebuilt = await rebuildCode(origin, origin.assetDir, [
      join(app, 'fns', 'plain', 'lib', 'text.js'),
      join(app, 'fns', 'plain', 'notes.txt'),
    ]);
    made.push(rebuilt.codeDir);
    expect(readFileSync(join(rebuilt.codeDir, 'lib', 'text.js'), 'utf8')).toBe("module.exports = 'two';\n");
    expect(existsSync(join(rebuilt.codeDir, 'notes.txt'))).toBe(false);
    expect(existsSync(join(rebuilt.codeDir, 'index.js'))).toBe(true);
  });

  it('runs the bundle’s esbuild command again, and learns a new import', async () => {
    const origin = originOf('Bundled');
    writeFileSync(join(app, 'src', 'added.ts'), "export const suffix: string = ' again';\n");
    writeFileSync(join(app, 'src', 'shared.ts'), "import { suffix } from './added';\nexport const greeting: string = 'hello' + suffix;\n");
    const rebuilt = await rebuildCode(origin, origin.assetDir, [join(app, 'src', 'shared.ts')]);
    made.push(rebuilt.codeDir);
    expect(readFileSync(join(rebuilt.codeDir, 'index.js'), 'utf8')).toContain('" again"');
    expect(isSourceOf(rebuilt.origin, join(app, 'src', 'added.ts'))).toBe(true);
    expect(sameFiles(rebuilt.codeDir, origin.assetDir)).toBe(false);
  });

  it('reports esbuild’s own message when the edit does not compile, and makes nothing', async () => {
    const origin = originOf('Bundled');
    writeFileSync(join(app, 'src', 'shared.ts'), 'export const greeting: string = ;\n');
    const error = await rebuildCode(origin, origin.assetDir, [join(app, 'src', 'shared.ts')]).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RebuildError);
    expect((error as Error).message).toMatch(/shared\.ts:1:\d+: ERROR|Unexpected ";"/);
  });
});
