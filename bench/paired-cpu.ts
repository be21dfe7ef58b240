/**
 * What the dependency benchmarks (bench/deps-*.bench.ts) share: process CPU time per operation,
 * rounds that alternate without and with the module, and the verdict printed beside each figure.
 */

/** Process CPU time (user + system) since `start`, in nanoseconds per operation of `operations`. */
export function cpuNsPer(start: NodeJS.CpuUsage, operations: number): number {
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / operations;
}

/** The median of `xs` (the upper one of an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

/** Per operation: the medians without and with the module, and the median of their paired differences. */
export interface Paired {
  readonly without: number;
  readonly with: number;
  readonly added: number;
}

/**
 * One round of each side to warm up, then `rounds` pairs of a round without the module followed by
 * one with it. Each recorded round is compared with the bare round just before it, so a change of
 * the machine's load between pairs cancels out: the cost added is the median of those differences.
 */
export async function pairedRounds(
  rounds: number,
  without: () => number | Promise<number>,
  withModule: () => number | Promise<number>,
): Promise<Paired> {
  await without();
  await withModule();
  const bare: number[] = [];
  const recorded: number[] = [];
  for (let i = 0; i < rounds; i++) {
    bare.push(await without());
    recorded.push(await withModule());
  }
  return {
    without: median(bare),
    with: median(recorded),
    added: median(recorded.map((x, i) => x - bare[i])),
  };
}

/** What is printed beside a figure judged against its target. */
export function verdict(ok: boolean): 'met' | 'not met' {
  return ok ? 'met' : 'not met';
}

/** The sum of the samples of the exposition `text` on the lines that start with `prefix`. */
export function sumSamples(text: string, prefix: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(prefix))
    .reduce((total, line) => total + Number(line.split(' ').pop()), 0);
}
