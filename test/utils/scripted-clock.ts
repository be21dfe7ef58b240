/**
 * A scripted `performance.now()`, for the specs that must know to the bit what `@Timed` observes.
 *
 * The library reads its clock through `performance.now` bound once, when
 * src/instrumentation/method-meter.ts loads; so this module patches `performance.now` when it is
 * imported, and must be imported BEFORE anything that loads the library (put its import first).
 * With nothing scripted the clock is the real one; {@link scriptClock} queues readings that the
 * next calls return, in order, then the real clock again.
 */
const realNow = performance.now.bind(performance);
const script: number[] = [];

performance.now = (): number => (script.length > 0 ? script.shift()! : realNow());

/** Queues readings for the next calls of `performance.now()`. */
export function scriptClock(...readings: number[]): void {
  script.push(...readings);
}

/** The readings queued and not read yet (0 once a timed call read both of its). */
export function scriptedLeft(): number {
  return script.length;
}
