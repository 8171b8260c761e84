#!/usr/bin/env node
/**
 * `dualgate scan` on its own (bin/dualgate-cli.mjs starts it for `dualgate scan …`): the scanner without the rest of
 * the CLI, so a pre-commit hook pays for neither local mode's servers nor the AWS SDK. The logic lives in lib/cli.
 */
import { processScanIo, runScan } from '../lib/cli/scan-command';

const argv = process.argv.slice(2);
process.exitCode = await runScan(argv[0] === 'scan' ? argv.slice(1) : argv, processScanIo());
