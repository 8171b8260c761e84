/** `dualgate leaks pattern`: GitHub's patterns and the endpoint, generated from the app's key prefix. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../lambdas/core/key-format';
import { runCli } from '../../lib/cli/program';
import { demoAssembly } from '../support/prepared';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function cli(argv: string[], options: { env?: Record<string, string>; cwd?: string; stdin?: string } = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    fetch: async () => {
      throw new Error('no network in these commands');
    },
    env: options.env ?? {},
    cwd: options.cwd ?? mkdtempSync(join(tmpdir(), 'dualgate-pattern-')),
    readStdin: async () => Buffer.from(options.stdin ?? ''),
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  });
  return { code, stdout, stderr };
}

describe('dualgate leaks pattern', () => {
  it('prints the partner regex, the endpoint and the custom pattern for the default prefix', async () => {
    const result = await cli(['leaks', 'pattern']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('dualgate keys with prefix "dg" (from the default prefix)');
    expect(result.stdout).toContain('  regex          (?:^|[^0-9A-Za-z])(dg_[0-9A-Za-z]{36})(?:[^0-9A-Za-z]|$)');
    expect(result.stdout).toContain('  endpoint       POST <ApiUrl>/leaks/github');
    expect(result.stdout).toContain('  Secret format  dg_[0-9A-Za-z]{36}');
    expect(result.stdout).toContain('  Before secret  \\A|[^0-9A-Za-z]');
  });

  it('takes the prefix from --prefix, DUALGATE_KEY_PREFIX, or cdk.json, in that order', async () => {
    const app = mkdtempSync(join(tmpdir(), 'dualgate-app-'));
    dirs.push(app);
    writeFileSync(join(app, 'cdk.json'), JSON.stringify({ app: 'npx tsx bin/app.ts', context: { 'dualgate:keyPrefix': 'acme' } }));
    expect((await cli(['leaks', 'pattern'], { cwd: app })).stdout).toContain('prefix "acme" (from cdk.json dualgate:keyPrefix)');
    expect((await cli(['leaks', 'pattern'], { cwd: app, env: { DUALGATE_KEY_PREFIX: 'ord' } })).stdout).toContain(
      'prefix "ord" (from DUALGATE_KEY_PREFIX)',
    );
    expect((await cli(['leaks', 'pattern', '--prefix', 'zz'], { cwd: app, env: { DUALGATE_KEY_PREFIX: 'ord' } })).stdout).toContain(
      '(zz_[0-9A-Za-z]{36})',
    );
    const bad = await cli(['leaks', 'pattern', '--prefix', 'Z']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--prefix: keyPrefix must match/);
  });

  it('reads the prefix and the endpoint path from a synthesized app (--assembly), as JSON with --json', async () => {
    const result = await cli(['--json', 'leaks', 'pattern', '--assembly', demoAssembly()]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      prefix: 'dg',
      secretType: 'dualgate_api_key',
      endpointPath: '/leaks/github',
      stackName: 'Dualgate',
      partnerRegex: expect.stringContaining('dg_'),
    });
    expect(new RegExp(report.partnerRegex).exec(` ${generateKey('dg').key} `)).not.toBeNull();
  });
});

describe('dualgate scan through the full CLI', () => {
  it('is listed in --help and honours the global --json', async () => {
    const help = await cli(['--help']);
    expect(help.stdout).toMatch(/scan \[args\.\.\.\]/);
    expect(help.stdout).toMatch(/leaks/);
    const key = generateKey('dg').key;
    const found = await cli(['--json', 'scan', '-'], { stdin: `x ${key}` });
    expect(found.code).toBe(1);
    expect(JSON.parse(found.stdout).findings).toEqual([{ file: '-', line: 1, column: 3, start: `${key.slice(0, 7)}…` }]);
    expect((await cli(['scan', '--staged', 'x'])).code).toBe(2);
  });
});
