/**
 * cfn-lint (https://github.com/aws-cloudformation/cfn-lint, from PyPI) on every template dualgate synthesizes for the
 * demo, the example apps, the 300-route packed app and a 1,000-route app, nested stacks included: no error (E-level),
 * and no warning but the accepted ones below. Without cfn-lint on PATH (.ci/run installs it
 * with pip when PyPI is reachable) the test is skipped, and its name says so.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { assemblyTemplates } from '../support/template-checks';
import { synthLargeApp } from '../support/large-app';
import { demoAssembly, exampleApp, largeApp } from '../support/prepared';

function cfnLintVersion(): string | undefined {
  const probe = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}
const version = cfnLintVersion();

interface Finding {
  Level: 'Error' | 'Warning' | 'Informational';
  Rule: { Id: string };
  Message: string;
  Filename: string;
  Location?: { Path?: unknown[] };
}

/** cfn-lint's findings for the templates, as JSON (its exit code is a bit mask of the levels found). */
function lint(templates: string[]): Finding[] {
  const run = spawnSync('cfn-lint', ['--format', 'json', '--', ...templates], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  try {
    return JSON.parse(run.stdout || '[]') as Finding[];
  } catch {
    throw new Error(`cfn-lint gave no JSON (exit ${run.status}):\n${run.stdout.slice(0, 2000)}\n${run.stderr.slice(0, 2000)}`);
  }
}
/**
 * Warnings accepted, each for a reason (docs/large-apis.md lists them):
 * - W3005: CDK gives every Lambda function a DependsOn on its role (and default policy) that its `Role: Fn::GetAtt`
 *   already implies; redundant, harmless, and CDK's own output.
 */
export const ACCEPTED_WARNINGS: Readonly<Record<string, string>> = {
  W3005: "CDK's Lambda functions depend on their role both by DependsOn and by Fn::GetAtt",
};

/** Every error, and every warning not accepted above: what must not be there. */
const errors = (findings: Finding[]) =>
  findings
    .filter((finding) => finding.Level === 'Error' || (finding.Level === 'Warning' && !(finding.Rule.Id in ACCEPTED_WARNINGS)))
    .map((finding) => `${finding.Filename}: ${finding.Level} ${finding.Rule.Id} ${finding.Message}`);

describe.skipIf(!version)(version ? `cfn-lint (${version})` : 'cfn-lint (skipped: cfn-lint is not on PATH; pip install cfn-lint)', () => {
  it('finds no error (nor an unaccepted warning) in the demo app’s templates', () => {
    expect(errors(lint(assemblyTemplates(demoAssembly())))).toEqual([]);
  }, 300_000);

  it('finds no error (nor an unaccepted warning) in the example apps’ templates (orders-app, existing-api)', () => {
    expect(
      errors(lint([...assemblyTemplates(exampleApp().assemblyDir), ...assemblyTemplates(exampleApp('existing-api').assemblyDir)])),
    ).toEqual([]);
  }, 300_000);

  it('finds no error (nor an unaccepted warning) in the 300-route packed app’s and a 1,000-route app’s templates, nested stacks included', () => {
    const thousand = synthLargeApp({
      routeCount: 1000,
      scopeCount: 100,
      props: { issuers: [{ issuer: 'https://login.example.com/', audience: 'api://large' }] },
    });
    const templates = [...assemblyTemplates(largeApp().assemblyDir), ...assemblyTemplates(thousand.assembly.directory)];
    expect(templates.filter((file) => file.endsWith('.nested.template.json')).length).toBeGreaterThan(2);
    expect(errors(lint(templates))).toEqual([]);
  }, 600_000);

  it('finds no error (E3004, a dependency cycle, included) in a 300-route app whose routes are given LambdaIntegrations, in nested stacks', () => {
    const integrations = synthLargeApp({ routeCount: 300, scopeCount: 60, lambdaIntegration: true, props: { nestedStacks: true } });
    const templates = assemblyTemplates(integrations.assembly.directory);
    expect(templates.filter((file) => file.endsWith('.nested.template.json')).length).toBeGreaterThan(2);
    expect(errors(lint(templates))).toEqual([]);
  }, 300_000);
});
