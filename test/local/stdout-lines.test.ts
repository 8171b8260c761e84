import { describe, expect, it } from 'vitest';
import { StdoutLines } from '../../lib/local/stdout-lines';

describe('StdoutLines', () => {
  it('writes the lines of one event-loop turn in one write, in order, and flushes on demand', async () => {
    const writes: string[] = [];
    const out = new StdoutLines((chunk) => writes.push(chunk));
    out.push('a');
    out.push('b');
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['a\nb\n']);
    out.push('c');
    out.flush();
    expect(writes).toEqual(['a\nb\n', 'c\n']);
    out.flush();
    expect(writes).toHaveLength(2);
  });
});
