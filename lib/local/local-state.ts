/**
 * Local state never lands in git: a directory `dualgate dev` writes into the user's app (its `--data` directory,
 * `.dualgate/` by convention) carries its own `.gitignore` holding `*`, so `git status` stays clean without the
 * user doing anything. Only a directory that is dualgate's is marked: one it creates, an empty one, or one already
 * holding its files; never a directory with the user's own files in it.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ISSUER_SIGNING_KEY_FILE } from './dev-server';

const LOCAL_STATE_GITIGNORE = '# dualgate dev keeps local state here (keys, tables, the issuer key): never commit it\n*\n';

/** Files that say a directory already is dualgate's state: the issuer's key and dynalite's LevelDB files. */
const STATE_FILES = [ISSUER_SIGNING_KEY_FILE, 'CURRENT', 'LOCK'];

/** Create `dir` if needed and give it a `.gitignore` with `*` when it is dualgate's; true when it has one now. */
export function prepareLocalStateDir(dir: string): boolean {
  const created = !existsSync(dir);
  if (created) mkdirSync(dir, { recursive: true });
  const gitignore = join(dir, '.gitignore');
  if (existsSync(gitignore)) return true;
  const entries = created ? [] : readdirSync(dir);
  const ours = entries.length === 0 || STATE_FILES.some((name) => entries.includes(name));
  if (!ours) return false;
  writeFileSync(gitignore, LOCAL_STATE_GITIGNORE);
  return true;
}
