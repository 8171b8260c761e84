/**
 * The package as a platform team gets it: `npm pack`, then install the tarball into a copy of the example
 * consumer app (examples/orders-app), type-check it as `cdk init` apps are (NodeNext, strict, no skipLibCheck),
 * synthesize it, and assert on the template and on the route table its dualgate Lambdas carry.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../lambdas/core/key-format';
import { ensurePackageBuilt } from '../support/prepared';

const REPO = resolve(import.meta.dirname, '..', '..');
const EXAMPLE = join(REPO, 'examples', 'orders-app');

interface CfnResource {
  Type: string;
  Properties: Record<string, any>;
}

let work: string;
let app: string;
let files: string[];
let template: { Resources: Record<string, CfnResource> };

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(command, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${failure.stdout ?? ''}\n${failure.stderr ?? failure.message}`);
  }
}

/** Every `./chunk-*.mjs` that a bundle directory's files import, statically or dynamically. */
function chunksReferencedIn(dir: string): string[] {
  const referenced = new Set<string>();
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.mjs'))) {
    for (const match of readFileSync(join(dir, file), 'utf8').matchAll(/["']\.\/(chunk-[A-Z0-9]+\.mjs)["']/g)) referenced.add(match[1]!);
  }
  return [...referenced].sort();
}

const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], cwd);
const tsc = (args: string[]) => run(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), ...args], app);
const resources = (type: string) => Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'dualgate-pack-'));
  // The build `npm pack` would run (prepack), shared with the other tests that need dist/; then pack without it.
  ensurePackageBuilt();
  const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], REPO)) as {
    filename: string;
    files: { path: string }[];
  }[];
  files = packed[0]!.files.map((file) => file.path);
  app = join(work, 'orders-app');
  cpSync(EXAMPLE, app, { recursive: true, filter: (source) => !/node_modules|cdk\.out|[/\\]build$/.test(source) });
  const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
  manifest.dependencies.dualgate = `file:${join(work, packed[0]!.filename)}`;
  writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
  npm(['install', '--prefer-offline'], app);
  tsc(['-p', 'tsconfig.json']);
  run(process.execPath, [join(app, 'build', 'bin', 'app.js')], app, {
    CDK_OUTDIR: join(app, 'cdk.out'),
    CDK_DEFAULT_ACCOUNT: '123456789012',
    CDK_DEFAULT_REGION: 'eu-west-1',
  });
  template = JSON.parse(readFileSync(join(app, 'cdk.out', 'OrdersApp.template.json'), 'utf8'));
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the npm package, installed into the example app', () => {
  it('ships compiled JavaScript, declarations and pre-built Lambda bundles, and no tests, benchmarks or CI', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'dist/index.cjs',
        'dist/context.cjs',
        'dist/types/lib/index.d.ts',
        'dist/lambdas/authorizer/index.mjs',
        'dist/lambdas/keys/index.mjs',
        'dist/lambdas/leaks/index.mjs',
        'dist/lambdas/portal/index.mjs',
        'dist/lambdas/portal/portal.js',
        'dist/lambdas/portal/portal.css',
        'dist/lambdas/portal/index.html',
        'dist/scan.mjs',
        'bin/dualgate-cli.mjs',
        'README.md',
        'SECURITY.md',
        'docs/api/dualgate.md',
        'docs/local-development.md',
        'docs/portal.md',
      ]),
    );
    // The authorizer's AWS SDK is a chunk loaded on first use: every chunk its files import ships beside them.
    const shippedChunks = files
      .filter((file) => /^dist\/lambdas\/authorizer\/chunk-[A-Z0-9]+\.mjs$/.test(file))
      .map((file) => file.replace('dist/lambdas/authorizer/', ''));
    expect(shippedChunks.length).toBeGreaterThan(0);
    expect(shippedChunks).toEqual(expect.arrayContaining(chunksReferencedIn(join(REPO, 'dist', 'lambdas', 'authorizer'))));
    expect(
      files.filter((file) => /^(test|bench|\.ci|examples|lib|lambdas)\//.test(file) || (file.endsWith('.ts') && !file.endsWith('.d.ts'))),
    ).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules', 'dualgate', 'package.json'), 'utf8'));
    expect(Object.keys(manifest.peerDependencies ?? {}).sort()).toEqual(['aws-cdk-lib', 'constructs']);
    // Bundled code needs nothing at run time but local mode's two servers.
    expect(Object.keys(manifest.dependencies ?? {}).sort()).toEqual(['dynalite', 'oauth2-mock-server']);
    // The app installed dualgate, aws-cdk-lib, constructs and its own dev tools; no tsx, no dualgate sources.
    expect(readdirSync(join(app, 'node_modules'))).not.toContain('tsx');
  });

  it('puts the app’s methods behind the authorizer, leaves the open route open, and adds no demo routes', () => {
    const [authorizerId] = resources('AWS::ApiGateway::Authorizer').map(([id]) => id);
    const methods = resources('AWS::ApiGateway::Method').map(([, method]) => method.Properties);
    // The app's 7, the key API's 6, the consumer routes' 3, the portal's 2 (open) and the GitHub leak endpoint (open).
    expect(methods).toHaveLength(7 + 6 + 3 + 2 + 1);
    const open = methods.filter((method) => method.AuthorizationType === 'NONE');
    expect(open).toHaveLength(4);
    for (const method of methods.filter((candidate) => candidate.AuthorizationType !== 'NONE'))
      expect(method.AuthorizerId).toEqual({ Ref: authorizerId });
    const parts = resources('AWS::ApiGateway::Resource').map(([, resource]) => resource.Properties.PathPart);
    expect(parts.sort()).toEqual(
      [
        'consumers',
        'files',
        'github',
        'keys',
        'leaks',
        'orders',
        'portal',
        'reports',
        'rotate',
        'slow',
        'status',
        '{asset+}',
        '{id}',
        '{orderId}',
        '{proxy+}',
        '{proxy+}',
        '{sub}',
      ].sort(),
    );
  });

  it('hands the app’s route table and scopes to the authorizer and the key API in their assets', () => {
    // The authorizer and the key API carry the route table; the leak endpoint needs none (it reads no route).
    const dualgateFunctions = resources('AWS::Lambda::Function').filter(
      ([, fn]) =>
        JSON.stringify(fn.Properties.Environment ?? {}).includes('DUALGATE_KEY_TABLE') &&
        !('DUALGATE_GITHUB_KEYS_URL' in fn.Properties.Environment.Variables),
    );
    expect(dualgateFunctions).toHaveLength(2);
    for (const [, fn] of dualgateFunctions) {
      expect(fn.Properties.Environment.Variables.DUALGATE_KEY_PREFIX).toBe('ord');
      const asset = join(app, 'cdk.out', `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`);
      const config = JSON.parse(readFileSync(join(asset, 'dualgate-config.json'), 'utf8'));
      expect(config.routeTable.routes.map((route: { method: string; path: string }) => `${route.method} ${route.path}`)).toEqual(
        expect.arrayContaining([
          'GET /orders',
          'GET /orders/{orderId}',
          'POST /orders',
          'ANY /files/{proxy+}',
          'ANY /reports/{proxy+}',
          'GET /slow',
        ]),
      );
      expect(config.routeTable.routes.map((route: { path: string }) => route.path)).not.toContain('/status');
      expect(config.catalog).toEqual(['files:rw', 'keys:admin', 'keys:read', 'keys:write', 'read:orders', 'write:orders']);
      // The bundle directory as built (index.mjs, its chunks, their maps) and the route table: nothing else, nothing missing.
      const listing = readdirSync(asset).sort();
      const bundleFiles = listing.filter((file) => file !== 'dualgate-config.json');
      expect(listing).toContain('dualgate-config.json');
      expect(
        bundleFiles.every((file) => /^(index|chunk-[A-Z0-9]+)\.mjs(\.map)?$/.test(file)),
        bundleFiles.join(' '),
      ).toBe(true);
      expect(bundleFiles).toContain('index.mjs');
      expect(bundleFiles).toEqual(expect.arrayContaining(chunksReferencedIn(asset)));
    }
  });

  it('gives the Cognito resource server the app’s scopes', () => {
    const [[, server]] = resources('AWS::Cognito::UserPoolResourceServer') as [[string, CfnResource]];
    expect(server.Properties.Scopes.map((scope: { ScopeName: string }) => scope.ScopeName)).toEqual([
      'files:rw',
      'keys:admin',
      'keys:read',
      'keys:write',
      'read:orders',
      'write:orders',
    ]);
    expect(JSON.stringify(template)).not.toMatch(/read:users|write:users|"health"/);
  });

  it('imports from CommonJS and ESM, and type-checks under Node16 and Bundler resolution with and without skipLibCheck', () => {
    expect(
      run(
        process.execPath,
        [
          '-e',
          "const d = require('dualgate'); const c = require('dualgate/context'); console.log(typeof d.DualAuthApi, typeof c.principalFrom)",
        ],
        app,
      ).trim(),
    ).toBe('function function');
    expect(
      run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          "import { DualAuthApi } from 'dualgate'; import { principalFrom } from 'dualgate/context'; console.log(typeof DualAuthApi, typeof principalFrom)",
        ],
        app,
      ).trim(),
    ).toBe('function function');
    writeFileSync(
      join(app, 'consumer.mts'),
      "import { DualAuthApi, type DualAuthRoute } from 'dualgate';\nimport { principalFrom } from 'dualgate/context';\nconst route: DualAuthRoute = { method: 'ANY', path: '/x/{proxy+}', scopes: ['x:y'] };\nexport const checks = [DualAuthApi, principalFrom, route];\n",
    );
    tsc([
      '--noEmit',
      '--strict',
      '--target',
      'es2022',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--types',
      'node',
      '--skipLibCheck',
      'consumer.mts',
    ]);
    tsc([
      '--noEmit',
      '--strict',
      '--target',
      'es2022',
      '--module',
      'esnext',
      '--moduleResolution',
      'bundler',
      '--types',
      'node',
      '--skipLibCheck',
      'consumer.mts',
    ]);
    tsc([
      '--noEmit',
      '--strict',
      '--target',
      'es2022',
      '--module',
      'esnext',
      '--moduleResolution',
      'bundler',
      '--types',
      'node',
      'consumer.mts',
    ]);
  }, 300_000);

  it('runs dualgate dev from the installed package alone (dynalite and the mock issuer ship with it)', async () => {
    const child = spawn(join(app, 'node_modules', '.bin', 'dualgate'), ['dev', '--assembly', join(app, 'cdk.out')], {
      cwd: app,
      env: { ...process.env, PORT: '0', ISSUER_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    try {
      const deadline = Date.now() + 60_000;
      while (!/ready at (http:\S+)/.test(output)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`dualgate dev did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const url = /ready at (http:\S+)/.exec(output)![1]!;
      expect(await (await fetch(`${url}/status`)).json()).toEqual({ status: 'ok' });
      expect((await fetch(`${url}/orders`)).status).toBe(401);
      // The shipped leak endpoint bundle answers (an unsigned report is refused before anything else happens).
      const unsigned = await fetch(`${url}/leaks/github`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' });
      expect({ status: unsigned.status, body: await unsigned.json() }).toMatchObject({
        status: 401,
        body: { reason: 'signature_missing' },
      });
    } finally {
      child.kill('SIGTERM');
    }
  }, 120_000);

  it('runs dualgate scan from the installed package: exit 1 on a key, 0 on the app itself, and leaks pattern from its assembly', () => {
    const bin = join(app, 'node_modules', '.bin', 'dualgate');
    const scan = (args: string[], input?: string) =>
      spawnSync(bin, ['scan', ...args], { cwd: app, encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
    const clean = scan(['.']);
    expect(clean.status, clean.stderr).toBe(0);
    const dirty = scan(['-'], `ORDERS_KEY=${generateKey('ord').key}\n`);
    expect(dirty.status).toBe(1);
    expect(dirty.stdout).toMatch(/^-:1:12: ord_[0-9A-Za-z]{4}… is a dualgate API key/);
    const pattern = spawnSync(bin, ['leaks', 'pattern', '--assembly', 'cdk.out'], { cwd: app, encoding: 'utf8' });
    expect(pattern.stdout).toContain('(ord_[0-9A-Za-z]{36})');
    expect(pattern.stdout).toContain('POST <ApiUrl>/leaks/github');
  });

  it('synthesizes from a linked checkout too (npm install ../dualgate, after npm run build there)', () => {
    // What `npm install ../dualgate` makes: a symlink to this repository, whose dist/ the pack above just built.
    rmSync(join(app, 'node_modules', 'dualgate'), { recursive: true, force: true });
    symlinkSync(REPO, join(app, 'node_modules', 'dualgate'), 'dir');
    const outdir = join(work, 'linked.out');
    run(process.execPath, [join(app, 'build', 'bin', 'app.js')], app, {
      CDK_OUTDIR: outdir,
      CDK_DEFAULT_ACCOUNT: '123456789012',
      CDK_DEFAULT_REGION: 'eu-west-1',
    });
    const linked = JSON.parse(readFileSync(join(outdir, 'OrdersApp.template.json'), 'utf8')) as typeof template;
    expect(Object.values(linked.Resources).filter((resource) => resource.Type === 'AWS::ApiGateway::Method')).toHaveLength(19);
    // A whole CDK synth in a child process: ~10 s idle, past 30 s on this shared 2-core machine under load.
  }, 120_000);
});
