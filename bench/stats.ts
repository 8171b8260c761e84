/**
 * Timing primitives for the benchmarks: a monotonic clock, medians, and an interleaved runner that
 * measures every case of a group round by round, so that machine noise (other processes on a shared
 * 2-core box, CPU frequency changes, GC) falls on a figure and on its floor alike.
 */

export const nowNs = (): bigint => process.hrtime.bigint();

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Round to `digits` significant decimals, for the JSON and the table. */
export function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** One operation under test. `op` may be sync or async; an async op is awaited, as its caller would. */
export interface MicroCase {
  name: string;
  op: () => unknown;
  /** Fixed batch size; by default it is calibrated so one batch takes about `batchMs`. */
  iterations?: number;
}

export interface InterleavedOptions {
  /** Measured rounds; the figure is the median over them. */
  rounds: number;
  /** Unmeasured rounds first (JIT warm-up, caches filled). */
  warmupRounds: number;
  /** Target duration of one batch, for calibration. */
  batchMs: number;
}

export interface CaseResult {
  /** Median over rounds of (batch time / batch iterations), in microseconds. */
  medianUs: number;
  /** Every round's per-op figure, in microseconds. */
  roundsUs: number[];
  iterations: number;
}

/** Sink for op results, so the JIT cannot drop an op whose value is never used. */
let blackhole: unknown;
export function consume(value: unknown): void {
  blackhole = value;
}
export function blackholeValue(): unknown {
  return blackhole;
}

async function runBatch(op: () => unknown, iterations: number): Promise<number> {
  // Probe once: a sync op runs in a tight loop; an async one is awaited each time.
  const start = nowNs();
  for (let i = 0; i < iterations; i++) {
    const value = op();
    blackhole = value instanceof Promise ? await value : value;
  }
  return Number(nowNs() - start) / 1000 / iterations;
}

async function calibrate(op: () => unknown, batchMs: number): Promise<number> {
  let iterations = 16;
  for (;;) {
    const perOpUs = await runBatch(op, iterations);
    const batchUs = perOpUs * iterations;
    if (batchUs >= batchMs * 250 || iterations >= 1 << 20) {
      return Math.max(16, Math.min(1 << 20, Math.round((batchMs * 1000) / Math.max(perOpUs, 0.001))));
    }
    iterations *= 4;
  }
}

/**
 * Run the cases interleaved: each round runs one batch of every case, in an order rotated every
 * round (so no case always runs right after the same neighbour). Returns the median per-op time of each.
 */
export async function runInterleaved(cases: readonly MicroCase[], options: InterleavedOptions): Promise<Record<string, CaseResult>> {
  const iterations = new Map<string, number>();
  for (const entry of cases) iterations.set(entry.name, entry.iterations ?? (await calibrate(entry.op, options.batchMs)));
  const perRound = new Map<string, number[]>(cases.map((entry) => [entry.name, []]));
  const total = options.warmupRounds + options.rounds;
  for (let round = 0; round < total; round++) {
    for (let index = 0; index < cases.length; index++) {
      const entry = cases[(index + round) % cases.length]!;
      const perOpUs = await runBatch(entry.op, iterations.get(entry.name)!);
      if (round >= options.warmupRounds) perRound.get(entry.name)!.push(perOpUs);
    }
  }
  const results: Record<string, CaseResult> = {};
  for (const entry of cases) {
    const roundsUs = perRound.get(entry.name)!;
    results[entry.name] = { medianUs: median(roundsUs), roundsUs, iterations: iterations.get(entry.name)! };
  }
  return results;
}
