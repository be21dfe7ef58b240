/**
 * The event loop's longest turns while some work runs, seen by a 1 ms timer: the worst gap between two
 * of its runs (wall time: what a request waiting in that turn waited, the machine's load included),
 * and, on Linux, the most time the main thread ran on a CPU within one gap (from
 * /proc/self/task/<pid>/schedstat: the work of one turn, GC pauses included, time spent waiting for
 * a CPU not), so that a loaded machine that deschedules the process does not read as a long turn.
 * The same measure as bench:cluster-scrape's worker.
 */
import { readFileSync } from 'node:fs';

export interface Turns<T> {
  readonly result: T;
  /** The worst gap between two runs of the timer, in ms. */
  readonly stallMs: number;
  /** The most the main thread ran within one gap, in ms (undefined where Linux' schedstat is not readable). */
  readonly ranMs: number | undefined;
}

const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;

/** The main thread's time on a CPU so far, in ms, where Linux tells it. */
function ran(): number | undefined {
  try {
    return Number(readFileSync(SCHEDSTAT, 'latin1').split(' ')[0]) / 1e6;
  } catch {
    return undefined;
  }
}

/** Runs `work`, watching the event loop's turns until it is done (and 5 ms after). */
export async function watchTurns<T>(work: () => Promise<T>): Promise<Turns<T>> {
  let last = performance.now();
  let lastRan = ran();
  let worst = 0;
  let worstRan = 0;
  const sample = (): void => {
    const now = performance.now();
    const thread = ran();
    worst = Math.max(worst, now - last);
    if (thread !== undefined && lastRan !== undefined) worstRan = Math.max(worstRan, thread - lastRan);
    last = now;
    lastRan = thread;
  };
  const timer = setInterval(sample, 1);
  try {
    const result = await work();
    await new Promise((resolve) => setTimeout(resolve, 5));
    sample();
    return { result, stallMs: worst, ranMs: lastRan === undefined ? undefined : worstRan };
  } finally {
    clearInterval(timer);
  }
}
