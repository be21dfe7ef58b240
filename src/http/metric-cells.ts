import type { CounterMetric, HistogramMetric, LabelValues } from '../compat/client-types';
import { exemplarsOn, layoutOf } from '../compat/metrics-client';
import type { CounterSlot, HistogramSlot, SeriesLayout } from '../compat/series-storage';
import { sanitizeLabelValue } from '../registry/series-guard';

/*
 * A client's `inc(labels)` and `observe(labels, v)` build a key string, a closure and a label
 * object on every call. The recorder runs on every request, so it resolves each series once, through
 * that public API, and then writes into the very entry the client keeps for it: the value of a
 * counter series, the bucket, sum and count of a histogram series, through a slot of the client's
 * seam (src/compat/: prom-client's `hashMap`, the successor's `store`). The client renders that
 * entry, so /metrics stays exact. Each write first checks that the entry is still the one the client
 * holds (`reset()` replaces the storage, `remove()` deletes the entry); if not, the series is
 * resolved again through the public API. When a metric does not have a layout the seam knows,
 * cells use the public API on every call: slower, equally exact. Metrics with exemplars enabled
 * take their arguments as one object; the entry is the same.
 */

/**
 * A cell's labels as the series guard records them (cut, well-formed, a guard value such as
 * `__overflow__` escaped): the slot is then looked up under the series the writes went to, never
 * under the overflow series a value spelled like it would name.
 */
function asRecorded<L extends string>(labels: LabelValues<L>): LabelValues<L> {
  const copy: Record<string, unknown> = {};
  for (const name of Object.keys(labels)) {
    const value = (labels as Record<string, unknown>)[name];
    copy[name] = typeof value === 'string' ? sanitizeLabelValue(value) : value;
  }
  return copy as LabelValues<L>;
}

/** One series of a counter: `inc()` adds 1 without allocating. */
export class CounterCell<L extends string> {
  private slot: CounterSlot | undefined;
  private readonly layout: SeriesLayout | undefined;

  private readonly labels: LabelValues<L>;

  constructor(
    private readonly counter: CounterMetric<L>,
    labels: LabelValues<L>,
  ) {
    this.labels = asRecorded(labels);
    this.layout = layoutOf(counter);
  }

  inc(): void {
    const slot = this.slot;
    if (slot !== undefined && slot.add(1)) return;
    this.resolve();
  }

  private resolve(): void {
    const counter = this.counter as unknown as { inc(...args: unknown[]): unknown };
    if (exemplarsOn(counter)) counter.inc({ labels: this.labels, value: 1 });
    else counter.inc(this.labels, 1);
    this.slot = this.layout?.counterSlot(this.counter, this.labels);
  }
}

/** One series of a histogram: `observe(v)` files `v` without allocating. */
export class HistogramCell<L extends string> {
  private slot: HistogramSlot | undefined;
  private readonly layout: SeriesLayout | undefined;

  private readonly labels: LabelValues<L>;

  constructor(
    private readonly histogram: HistogramMetric<L>,
    labels: LabelValues<L>,
  ) {
    this.labels = asRecorded(labels);
    this.layout = layoutOf(histogram);
  }

  observe(value: number): void {
    const slot = this.slot;
    // A value the client would refuse goes through its API (and the guard), which reports it.
    if (slot !== undefined && Number.isFinite(value) && slot.observe(value)) return;
    this.resolve(value);
  }

  private resolve(value: number): void {
    const histogram = this.histogram as unknown as { observe(...args: unknown[]): unknown };
    if (exemplarsOn(histogram)) histogram.observe({ labels: this.labels, value });
    else histogram.observe(this.labels, value);
    this.slot = this.layout?.histogramSlot(this.histogram, this.labels);
  }
}
