import type {
  AnyMetric as Metric,
  CounterMetric as Counter,
  GaugeMetric as Gauge,
  HistogramMetric as Histogram,
} from '../compat/client-types';
import { exemplarsOn, layoutOf, metricFields } from '../compat/metrics-client';
import type { CounterSlot, HistogramSlot, SeriesLayout } from '../compat/series-storage';
import { detached, sanitizeLabelValue } from '../registry/series-guard';

/**
 * A cell writes one series of a metric (a fixed set of label values); it is resolved once at bootstrap
 * so that a decorated call does not hash its labels again. ("Cell" has this one meaning across the
 * code: src/http/metric-cells.ts is the HTTP recorder's counterpart; "series" means only the
 * Prometheus series itself.)
 *
 * Both clients keep every series under a string built from the sorted label names or values, and
 * spend most of an `inc` or `observe` building that string. A cell here keeps a slot of the
 * client's seam (src/compat/: prom-client's `hashMap`, the successor's `store`) that writes the
 * entry in place while the client still holds it: after `reset()`, `remove()` or `set()` (which
 * replace or drop entries) the slot says so and the cell is resolved again, so it writes exactly
 * where the client would, and `/metrics` and the injected metric objects stay consistent. When the
 * entry is missing (first call, after a reset), or when the client's internals are not the ones
 * checked once per process, the cell goes through the client's public API instead. An entry is
 * written in place only once it is known to hold exactly these labels: after a call through the API
 * (and the series guard on it) finds it so. A label set the guard folded into its overflow series,
 * or one whose client key another label set already holds, never passes that check, so every one of
 * its calls goes through the guard.
 */
export type Labels = Readonly<Record<string, string>>;

export interface CounterCell {
  inc(): void;
}
export interface GaugeCell {
  inc(): void;
  dec(): void;
}
export interface HistogramCell {
  observe(value: number): void;
}

/** Written in place through the seam's slot while the client still holds its entry; else through the public API. */
class FastCounter implements CounterCell, GaugeCell {
  /** The slot of the entry last found to hold exactly these labels. */
  private slot: CounterSlot | undefined;

  constructor(
    private readonly metric: Counter | Gauge,
    private readonly layout: SeriesLayout,
    private readonly labels: Labels,
  ) {}

  inc(): void {
    const slot = this.slot;
    if (slot !== undefined && slot.add(1)) return;
    this.metric.inc({ ...this.labels }, 1);
    this.slot = this.layout.counterSlot(this.metric, this.labels);
  }

  dec(): void {
    const slot = this.slot;
    if (slot !== undefined && slot.add(-1)) return;
    (this.metric as Gauge).dec({ ...this.labels }, 1);
    this.slot = this.layout.counterSlot(this.metric, this.labels);
  }
}

class SlowCounter implements CounterCell, GaugeCell {
  constructor(
    private readonly metric: Counter | Gauge,
    private readonly labels: Labels,
  ) {}

  inc(): void {
    if (exemplarsOn(this.metric))
      (this.metric as Counter).inc({ labels: { ...this.labels }, value: 1 } as never);
    else this.metric.inc({ ...this.labels }, 1);
  }

  dec(): void {
    (this.metric as Gauge).dec({ ...this.labels }, 1);
  }
}

class FastHistogram implements HistogramCell {
  /** As {@link FastCounter}'s. */
  private slot: HistogramSlot | undefined;

  constructor(
    private readonly metric: Histogram,
    private readonly layout: SeriesLayout,
    private readonly labels: Labels,
  ) {}

  observe(value: number): void {
    const slot = this.slot;
    // A non-finite value goes through the API (and the guard, which refuses and reports it).
    if (slot !== undefined && Number.isFinite(value) && slot.observe(value)) return;
    this.metric.observe({ ...this.labels }, value);
    this.slot = this.layout.histogramSlot(this.metric, this.labels);
  }
}

class SlowHistogram implements HistogramCell {
  constructor(
    private readonly metric: Histogram,
    private readonly labels: Labels,
  ) {}

  observe(value: number): void {
    if (exemplarsOn(this.metric)) this.metric.observe({ labels: { ...this.labels }, value } as never);
    else this.metric.observe({ ...this.labels }, value);
  }
}

/**
 * The layout to write `metric` in place, when the seam knows it and checked it (once per process,
 * against the public API); exemplar metrics always go through the API, which keeps their exemplars.
 */
const fastLayout = (metric: Metric): SeriesLayout | undefined =>
  exemplarsOn(metric) ? undefined : layoutOf(metric);

/**
 * Fixed labels must name every label of the metric, and nothing else, with string values. The copy
 * kept holds each value as the series guard records it (cut to 256 units, well-formed), in memory of
 * its own: a cell never keeps a caller's long string alive, and its key is the guard's.
 */
function checked(metric: Metric, labels: Labels): Labels {
  const names = metricFields(metric).labelNames;
  const keys = Object.keys(labels);
  const ok = keys.length === names.length && names.every((n) => typeof labels[n] === 'string');
  if (!ok) throw new Error(`labels {${keys.join(', ')}} do not match the label names {${names.join(', ')}}`);
  const copy: Record<string, string> = {};
  // In the order given: the client shows a series' labels in the order of the first recording.
  for (const name of keys) copy[name] = detached(sanitizeLabelValue(labels[name]));
  return Object.freeze(copy);
}

/** The cell of `counter`'s series with exactly `labels`. */
export function counterCell(counter: Counter<string>, labels: Labels = {}): CounterCell {
  const copy = checked(counter, labels);
  const layout = fastLayout(counter);
  return layout ? new FastCounter(counter, layout, copy) : new SlowCounter(counter, copy);
}

/** The cell of `gauge`'s series with exactly `labels`, for `inc`/`dec`. */
export function gaugeCell(gauge: Gauge<string>, labels: Labels = {}): GaugeCell {
  const copy = checked(gauge, labels);
  const layout = fastLayout(gauge);
  return layout ? new FastCounter(gauge, layout, copy) : new SlowCounter(gauge, copy);
}

/** The cell of `histogram`'s series with exactly `labels`. */
export function histogramCell(histogram: Histogram<string>, labels: Labels = {}): HistogramCell {
  const copy = checked(histogram, labels);
  const layout = fastLayout(histogram);
  return layout ? new FastHistogram(histogram, layout, copy) : new SlowHistogram(histogram, copy);
}
