#!/usr/bin/env node
// The `dualgate` command. From the installed package: the pre-built CLI. In a checkout of the repository: the
// TypeScript source through tsx (a devDependency), so the command never runs stale code.
import { existsSync } from 'node:fs';

const source = new URL('./dualgate-cli.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/cli.mjs', import.meta.url).href);
}
