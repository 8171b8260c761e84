// Preloaded (NODE_OPTIONS --require) into the Node processes of the app's synth whenever `dualgate dev` synthesizes.
// It records how each function's code asset was made: stack traces then name the app's own files, and `--watch` can
// rebuild an edited function's code without synthesizing the whole app again (lib/local/code-origins.ts):
//   copy    a Code.fromAsset directory staged by copying: the directory it came from;
//   esbuild a bundle (NodejsFunction's local bundling): the esbuild command, with a --metafile (when the app asked
//           for none) whose inputs say which files the bundle is made of;
//   rename  the bundling directory renamed to its asset directory.
// It only observes: every call goes through unchanged, except esbuild's, which gets a --metafile and, when the app
// asked for none, a --sourcemap (local mode's synth only). Plain CommonJS, no dependencies.
'use strict';

const recordsFile = process.env.DUALGATE_DEV_PROBE_FILE;
const outdir = process.env.CDK_OUTDIR;

if (recordsFile && outdir) {
  const fs = require('node:fs');
  const childProcess = require('node:child_process');
  const path = require('node:path');
  const root = path.resolve(outdir);
  const probeDir = path.dirname(recordsFile);
  const inOutdir = (candidate) => typeof candidate === 'string' && path.resolve(candidate).startsWith(root + path.sep);
  const record = (entry) => {
    try {
      fs.appendFileSync(recordsFile, `${JSON.stringify(entry)}\n`);
    } catch {
      // Recording is best effort: without it, every change re-synthesizes.
    }
  };

  let metafiles = 0;
  const spawnSync = childProcess.spawnSync;
  childProcess.spawnSync = function probedSpawnSync(command, args, options) {
    try {
      const output =
        Array.isArray(args) && args.includes('--bundle')
          ? args.find((arg) => typeof arg === 'string' && /^--out(file|dir)=/.test(arg))
          : undefined;
      const target = output ? output.slice(output.indexOf('=') + 1) : undefined;
      if (target && inOutdir(target)) {
        const outputDir = output.startsWith('--outfile=') ? path.dirname(path.resolve(target)) : path.resolve(target);
        const given = args.find((arg) => typeof arg === 'string' && arg.startsWith('--metafile='));
        const metafile = given
          ? path.resolve(options?.cwd ?? process.cwd(), given.slice('--metafile='.length))
          : path.join(probeDir, `meta-${process.pid}-${++metafiles}.json`);
        if (!given) args = [...args, `--metafile=${metafile}`];
        // A source map, when the app asked for none: failures in local mode then name the TypeScript line. This synth
        // is local mode's own; what deploys is built by the CDK CLI's synth, without it.
        if (!args.some((arg) => typeof arg === 'string' && /^--sourcemap(=|$)/.test(arg))) args = [...args, '--sourcemap'];
        const env = {};
        for (const [name, value] of Object.entries(options?.env ?? {}))
          if (process.env[name] !== value && typeof value === 'string') env[name] = value;
        record({
          kind: 'esbuild',
          command,
          args,
          cwd: path.resolve(options?.cwd ?? process.cwd()),
          env,
          outputDir,
          metafile,
          metafileAdded: !given,
        });
      }
    } catch {
      // Never in the way of the synth.
    }
    return spawnSync.call(this, command, args, options);
  };

  const renameSync = fs.renameSync;
  fs.renameSync = function probedRenameSync(from, to, ...rest) {
    const result = renameSync.call(this, from, to, ...rest);
    if (inOutdir(to)) record({ kind: 'rename', from: path.resolve(String(from)), to: path.resolve(String(to)) });
    return result;
  };

  const staged = new Set();
  const copyFileSync = fs.copyFileSync;
  fs.copyFileSync = function probedCopyFileSync(source, destination, ...rest) {
    const result = copyFileSync.call(this, source, destination, ...rest);
    try {
      if (inOutdir(destination)) {
        const inside = path.relative(root, path.resolve(String(destination))).split(path.sep);
        const assetDir = path.join(root, inside[0]);
        const within = inside.slice(1).join(path.sep);
        const from = path.resolve(String(source));
        if (inside[0].startsWith('asset.') && within && !staged.has(assetDir) && from.endsWith(path.sep + within)) {
          staged.add(assetDir);
          record({ kind: 'copy', assetDir, sourceDir: from.slice(0, -(within.length + 1)) });
        }
      }
    } catch {
      // Never in the way of the synth.
    }
    return result;
  };
}
