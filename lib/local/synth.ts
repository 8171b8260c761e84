/**
 * Synthesize the user's CDK app with its own command, as the CDK CLI does (CDK_OUTDIR, CDK_CONTEXT_JSON with asset
 * metadata on; without CDK's template validation unless CDK_VALIDATION says otherwise), and explain a failure with
 * its real error first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The synth failed; `message` leads with the error, `output` is everything it printed. */
export class SynthError extends Error {
  override readonly name = 'SynthError';
  constructor(
    message: string,
    readonly output: string = '',
  ) {
    super(message);
  }
}

/** The synth running now, if any: killed (with its process group) when dev stops, so nothing is orphaned. */
const runningSynths = new Set<ChildProcess>();
export function killRunningSynth(child?: ChildProcess): void {
  for (const running of child ? [child] : [...runningSynths]) {
    if (!running.pid || running.exitCode !== null) continue;
    try {
      process.kill(-running.pid, 'SIGTERM');
    } catch {
      running.kill('SIGTERM');
    }
  }
}

/** The preload that records how function code assets are made (see synth-probe.cjs): beside this module, or in dist/. */
function probeScript(): string | undefined {
  for (const candidate of ['./synth-probe.cjs', './local/synth-probe.cjs']) {
    const url = new URL(candidate, import.meta.url);
    if (existsSync(url)) return fileURLToPath(url);
  }
  return undefined;
}

/** Where the probe's records of a synth into `outdir` are. */
export function probeRecordsFile(outdir: string): string {
  return join(outdir, 'dualgate-dev-probe', 'records.jsonl');
}

interface SynthOptions {
  /** Record how function code assets are made (probeRecordsFile), for `--watch`'s reloads of function code alone. */
  probe?: boolean;
  /** Called with the child as soon as it runs (a newer change may kill a synth that only confirms). */
  onStart?: (child: ChildProcess) => void;
}

/** Run the app's synth command as the CDK CLI does: CDK_OUTDIR and CDK_CONTEXT_JSON, with asset metadata on. */
export function synthesize(
  appCommand: string,
  cwd: string,
  outdir: string,
  context: Record<string, unknown>,
  options: SynthOptions = {},
): Promise<void> {
  const env: NodeJS.ProcessEnv = {
    // CDK's built-in CloudFormation template validation costs two seconds or more of every synth, most of a small
    // app's: local mode skips it unless the user's environment asks for it (`cdk synth` and `cdk deploy` still run it).
    CDK_VALIDATION: 'false',
    ...process.env,
    CDK_OUTDIR: outdir,
    CDK_CONTEXT_JSON: JSON.stringify({
      ...context,
      'aws:cdk:enable-path-metadata': true,
      'aws:cdk:enable-asset-metadata': true,
      'dualgate:dev': true,
    }),
  };
  const probe = options.probe ? probeScript() : undefined;
  if (probe) {
    const records = probeRecordsFile(outdir);
    mkdirSync(join(records, '..'), { recursive: true });
    env['DUALGATE_DEV_PROBE_FILE'] = records;
    env['NODE_OPTIONS'] = `${process.env['NODE_OPTIONS'] ?? ''} --require ${JSON.stringify(probe)}`.trim();
  }
  return new Promise((resolvePromise, reject) => {
    const child = spawn(appCommand, {
      cwd,
      shell: true,
      // Its own process group: a Ctrl-C or SIGTERM to dev stops the whole synth (npx, tsc, node…).
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    runningSynths.add(child);
    options.onStart?.(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', (error) => {
      runningSynths.delete(child);
      reject(new SynthError(`could not run "${appCommand}": ${error.message}`));
    });
    child.on('exit', (code, signal) => {
      runningSynths.delete(child);
      if (code === 0 && existsSync(join(outdir, 'manifest.json'))) return resolvePromise();
      const how = signal
        ? `was killed (${signal})`
        : code === 0
          ? 'wrote no cloud assembly (no manifest.json)'
          : `exited with code ${code}`;
      // The real error first; which command failed, and how, after it.
      reject(new SynthError(`${summarizeSynthOutput(output)}\n("${appCommand}" ${how})`.trim(), output));
    });
  });
}

/** What CDK and esbuild print while bundling, which says nothing about a failure. */
const NOISE = [
  /^Bundling asset \S+\.\.\.$/,
  /^\s*\S+\s+\d+(\.\d+)?(b|kb|mb|gb)\b.*$/i, // esbuild's output size lines
  /^⚡ Done in \d+(\.\d+)?m?s$/,
  /^Node\.js v\d+/,
  /^\s*$/,
];

/** The line that names the error: `RouteTableError: …`, CDK's `[«Id» …]`, tsc's `x.ts(3,5): error TS…`, esbuild's `✘ [ERROR]`. */
const ERROR_LINE = [/^\s*(\w+\.)*\w*(Error|Exception)( \[\w+\])?: /, /^\s*Error: /, /^\s*\[«\w+»/, /\berror TS\d+:/, /✘ \[ERROR\]/];

/**
 * A failed synth's output, the real error first: the error line and the frames in the app's own code, then what
 * came after it, without the bundling chatter that comes before. Output where no error line is found is returned without the chatter.
 */
export function summarizeSynthOutput(output: string, maxLines = 30): string {
  const lines = output.replace(/\r/g, '').split('\n');
  const meaningful = lines.filter((line) => !NOISE.some((pattern) => pattern.test(line)));
  const errorIndex = meaningful.findIndex((line) => ERROR_LINE.some((pattern) => pattern.test(line)));
  if (errorIndex < 0) return meaningful.slice(-maxLines).join('\n');
  // The error with its message lines, then its frames, the app's own before node_modules and Node's internals.
  const block: string[] = [];
  let index = errorIndex;
  for (; index < meaningful.length && !/^\s+at /.test(meaningful[index] as string); index++) block.push(meaningful[index] as string);
  const frames: string[] = [];
  for (; index < meaningful.length && /^\s+at /.test(meaningful[index] as string); index++) frames.push(meaningful[index] as string);
  const own = frames.filter((frame) => !/node_modules|\(node:|at node:/.test(frame));
  const shownFrames = (own.length > 0 ? own : frames).slice(0, 8);
  // What came after (CDK's "Relates to construct" tree, a second error), as context.
  const after = meaningful.slice(index, index + 10);
  return [...block.slice(0, 12), ...shownFrames, ...(after.length > 0 ? ['  then:', ...after.map((line) => `  ${line}`)] : [])].join('\n');
}
