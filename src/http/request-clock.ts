import { performance } from 'node:perf_hooks';

/**
 * Start times of the requests in flight, in a typed array. A request is known by the index of its
 * slot, a small integer V8 stores unboxed, and durations are written to {@link RESPONSE_MS}: a
 * double stored in an object field, returned or passed to a function V8 does not inline is boxed
 * in a fresh heap number, one allocation per request. Slots are reused as requests end; the array
 * doubles when every slot is taken.
 */
export class RequestClock {
  private starts = new Float64Array(64);
  private free = new Int32Array(64);
  private top = 0;
  private size = 0;

  /** Takes a slot and starts it now. */
  start(): number {
    if (this.top === 0) this.grow();
    const slot = this.free[--this.top];
    this.starts[slot] = performance.now();
    return slot;
  }

  /** Writes the milliseconds since `slot` started to {@link RESPONSE_MS}, and frees the slot. */
  stop(slot: number): void {
    RESPONSE_MS[0] = performance.now() - this.starts[slot];
    this.free[this.top++] = slot;
  }

  private grow(): void {
    const capacity = this.size === 0 ? this.starts.length : this.size * 2;
    if (capacity > this.starts.length) {
      const starts = new Float64Array(capacity);
      starts.set(this.starts);
      this.starts = starts;
      this.free = new Int32Array(capacity);
    }
    for (let slot = capacity - 1; slot >= this.size; slot--) this.free[this.top++] = slot;
    this.size = capacity;
  }
}

/**
 * The duration of the response being recorded, in milliseconds (monotonic, from `process.hrtime`),
 * handed from the adapter hooks to the recorder through this one-slot array, without boxing.
 */
export const RESPONSE_MS = new Float64Array(1);
