import { performance } from 'node:perf_hooks';

/**
 * Start times of the requests in flight, in a typed array. A request is known by the index of its
 * slot, a small integer V8 stores unboxed: a start time kept in an object field would be a double
 * boxed in a fresh heap number per request. Slots are reused as requests end; the array doubles
 * when every slot is taken.
 */
export class RequestClock {
  private starts = new Float64Array(64);
  private free = new Int32Array(64);
  private top = 0;
  private size = 0;

  /** Takes a slot and starts it now. */
  start(): number {
    return this.startAt(performance.now());
  }

  /** Takes a slot started at `time` (a `performance.now()` reading). */
  startAt(time: number): number {
    if (this.top === 0) this.grow();
    const slot = this.free[--this.top];
    this.starts[slot] = time;
    return slot;
  }

  /** The milliseconds since `slot` started; frees the slot. */
  stop(slot: number): number {
    this.free[this.top++] = slot;
    return performance.now() - this.starts[slot];
  }

  /** Frees `slot` without reading the time. */
  release(slot: number): void {
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
