/**
 * Local mode's stdout: log lines are gathered and written once per event-loop turn. Writes to a pipe or a
 * file are synchronous in Node on Linux, so one write per line (access log + authorizer decision, per
 * request) would cost a system call each on the gateway's only thread. Lines keep their order, and
 * `flush()` runs on stop and at process exit so none is lost.
 */
export class StdoutLines {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly write: (chunk: string) => void = (chunk) => void process.stdout.write(chunk)) {
    process.once('exit', () => this.flush());
  }

  readonly push = (line: string): void => {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  };

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.write(`${lines.join('\n')}\n`);
  }
}
