/**
 * The documentation's relative links: every link from README.md, SECURITY.md, docs/ and the rooms' READMEs to a file of this
 * repository, and every `#anchor` into a Markdown file, must resolve (GitHub's heading slugs).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '..', '..');
const markdownUnder = (dir: string, only?: string) =>
  readdirSync(join(REPO, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => (only ? file.split('/').pop() === only : file.endsWith('.md')) && !file.includes('node_modules'))
    .map((file) => join(dir, file));
/** The front door, the guides, and the one-page README that opens each room of the layout (lib/, lambdas/, bin/, examples/demo). */
const DOCS = [
  'README.md',
  'SECURITY.md',
  ...markdownUnder('docs'),
  ...['lib', 'lambdas', 'bin', 'examples/demo'].flatMap((dir) => markdownUnder(dir, 'README.md')),
];

const withoutCode = (text: string) => text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');

/** GitHub's anchors for a Markdown file: one per heading (lower-cased, punctuation dropped, `-n` for repeats), plus `<a id>`s. */
function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8')
    .replace(/```[\s\S]*?```/g, '')
    .split('\n')) {
    for (const match of line.matchAll(/<a id="([^"]+)"/g)) anchors.add(match[1]!);
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const slug = heading[1]!
      .replace(/\\/g, '')
      .trim()
      .toLowerCase()
      .replace(/<[^>]+>/g, '')
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

describe('documentation links', () => {
  it.each(DOCS)('%s: every relative link and anchor resolves', (doc) => {
    const broken: string[] = [];
    for (const match of withoutCode(readFileSync(join(REPO, doc), 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      const [path, anchor] = target.split('#');
      const file = path ? resolve(dirname(join(REPO, doc)), path) : join(REPO, doc);
      if (!existsSync(file) || !relative(REPO, file) || relative(REPO, file).startsWith('..'))
        broken.push(`${target} (no such file in the repository)`);
      else if (anchor && statSync(file).isFile() && file.endsWith('.md') && !anchorsOf(file).has(anchor))
        broken.push(`${target} (no such heading)`);
    }
    expect(broken).toEqual([]);
  });
});
