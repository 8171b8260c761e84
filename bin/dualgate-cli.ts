#!/usr/bin/env node
/** `dualgate` admin CLI entry point; the logic lives in lib/cli. */
import { runCli } from '../lib/cli/program';
import { runDev } from '../lib/local/dev-command';

const argv = process.argv.slice(2);
// `dualgate dev` runs until stopped; everything else is the admin CLI, which answers and exits.
if (argv[0] === 'dev') await runDev(argv.slice(1));
else
  process.exitCode = await runCli(argv, {
    fetch: (url, init) => fetch(url, init),
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  });
