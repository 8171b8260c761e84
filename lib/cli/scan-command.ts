/**
 * `dualgate scan`: find dualgate keys (valid checksum) before they leave the machine, for pre-commit hooks and CI.
 *
 *   dualgate scan [paths…]     files and directories (default: .), skipping .git, node_modules and cdk.out
 *   dualgate scan -            standard input
 *   dualgate scan --staged     the lines the next commit adds (git diff --cached)
 *
 * Prints `file:line:column` and the key's public start (`dg_AbCd…`), never the key. Exit 1 when a key was found,
 * 0 when none, 2 on a usage or I/O error. Kept free of the rest of the CLI (no commander, no SDK), so a hook
 * starts in tens of milliseconds.
 */
import { parseArgs } from 'node:util';
import { KEY_PREFIX_PATTERN } from '../../lambdas/core/key-format';
import { ScanError, scanPaths, scanStaged, scanStdin, type ScanResult } from './scan/scan-sources';

const SCAN_USAGE = `usage: dualgate scan [--staged | paths… | -] [--json] [--gitignore] [--prefix PREFIX]

  Finds dualgate API keys with a valid checksum. Prints file:line:column and the key's start (dg_AbCd…), never the key.
  Exit 1 if a key was found, 0 if none, 2 on an error.

  paths…         files and directories to scan (default: .); .git, node_modules and cdk.out are skipped
  -              scan standard input
  --staged       scan the lines staged for the next commit (git diff --cached): the pre-commit check
  --gitignore    in directories, skip what git ignores (.gitignore, .git/info/exclude, core.excludesFile)
  --prefix P     only keys with this prefix (default: any prefix; the checksum covers it)
  --json         print {findings, filesScanned, skipped, durationMs} as JSON`;

export interface ScanIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<Buffer>;
  cwd: string;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

export const processScanIo = (): ScanIo => ({
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: () => readAll(process.stdin),
  cwd: process.cwd(),
});

function merge(results: ScanResult[]): ScanResult {
  return {
    findings: results.flatMap((result) => result.findings),
    filesScanned: results.reduce((sum, result) => sum + result.filesScanned, 0),
    skipped: results.flatMap((result) => result.skipped),
  };
}

/** Run one scan; resolves to the exit code. */
export async function runScan(argv: readonly string[], io: ScanIo): Promise<number> {
  const startedMs = performance.now();
  let values: { staged?: boolean; json?: boolean; gitignore?: boolean; prefix?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: {
        staged: { type: 'boolean' },
        json: { type: 'boolean' },
        gitignore: { type: 'boolean' },
        prefix: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    io.stderr(`dualgate scan: ${(error as Error).message}\n${SCAN_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(`${SCAN_USAGE}\n`);
    return 0;
  }
  const fail = (message: string) => {
    if (values.json) io.stderr(`${JSON.stringify({ error: { type: 'scan_error', message, exitCode: 2 } })}\n`);
    else io.stderr(`dualgate scan: ${message}\n`);
    return 2;
  };
  if (values.prefix !== undefined && !KEY_PREFIX_PATTERN.test(values.prefix))
    return fail(`--prefix must match ${KEY_PREFIX_PATTERN} (got ${JSON.stringify(values.prefix)})`);
  if (values.staged && positionals.length > 0) return fail('--staged scans the index: give no paths with it');
  if (values.staged && values.gitignore) return fail('--staged scans what is staged: --gitignore does not apply');
  const options = {
    cwd: io.cwd,
    ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
    ...(values.gitignore ? { gitignore: true } : {}),
  };
  let result: ScanResult;
  try {
    if (values.staged) result = scanStaged(options);
    else {
      const paths = positionals.length > 0 ? positionals : ['.'];
      const results: ScanResult[] = [];
      if (paths.includes('-')) results.push(scanStdin(await io.readStdin(), options));
      const files = paths.filter((path) => path !== '-');
      if (files.length > 0) results.push(scanPaths(files, options));
      result = merge(results);
    }
  } catch (error) {
    if (error instanceof ScanError) return fail(error.message);
    throw error;
  }
  const durationMs = Math.round(performance.now() - startedMs);
  // Never the key: its public start and an ellipsis.
  const findings = result.findings.map((finding) => ({
    file: finding.file,
    line: finding.line,
    column: finding.column,
    start: `${finding.start}…`,
  }));
  if (values.json) {
    io.stdout(`${JSON.stringify({ findings, filesScanned: result.filesScanned, skipped: result.skipped, durationMs }, null, 2)}\n`);
  } else {
    for (const finding of findings)
      io.stdout(`${finding.file}:${finding.line}:${finding.column}: ${finding.start} is a dualgate API key (valid checksum)\n`);
    for (const skipped of result.skipped) io.stderr(`dualgate scan: skipped ${skipped.file}: ${skipped.why}\n`);
    const scanned = `${result.filesScanned} ${values.staged ? 'staged file' : 'file'}${result.filesScanned === 1 ? '' : 's'} in ${durationMs} ms`;
    if (findings.length === 0) io.stderr(`dualgate scan: no keys found (${scanned})\n`);
    else {
      const files = new Set(findings.map((finding) => finding.file)).size;
      io.stderr(
        `dualgate scan: ${findings.length} key${findings.length === 1 ? '' : 's'} found in ${files} file${files === 1 ? '' : 's'} (${scanned}).\n` +
          '  Remove each key from the file (read it from the environment or a secret store instead). If it was ever pushed or shared,\n' +
          '  treat it as leaked: find it with `dualgate keys list` (the START column) and revoke or rotate it.\n',
      );
    }
  }
  return findings.length > 0 ? 1 : 0;
}
