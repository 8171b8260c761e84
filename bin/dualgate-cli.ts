#!/usr/bin/env node
/** `dualgate` admin CLI entry point; the logic lives in lib/cli. */
import { runCli } from '../lib/cli/program';

process.exitCode = await runCli(process.argv.slice(2), {
  fetch: (url, init) => fetch(url, init),
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
