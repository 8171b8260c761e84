#!/usr/bin/env node
// The `dualgate` command. From the installed package: the pre-built CLI. In a checkout of the repository: the
// TypeScript source through tsx (a devDependency), so the command never runs stale code.
// `dualgate scan …` starts the scanner's own small entry point: a pre-commit hook should not load local mode.
import { existsSync } from 'node:fs';

const scan = process.argv[2] === 'scan';
const source = new URL(scan ? './dualgate-scan.ts' : './dualgate-cli.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL(scan ? '../dist/scan.mjs' : '../dist/cli.mjs', import.meta.url).href);
}
