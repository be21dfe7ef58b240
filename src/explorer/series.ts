import type {
  AnyMetric as Metric,
  CounterMetric as Counter,
  GaugeMetric as Gauge,
  HistogramMetric as Histogram,
} from '../compat/client-types';
import { layoutOf } from '../compat/metrics-client';
import type { CounterSlot, HistogramSlot, SeriesLayout } from '../compat/series-storage';
import { detached, sanitizeLabelValue } from '../registry/series-guard';

/**
 * One series of a metric (a fixed set of label values), resolved once at bootstrap so that a
 * decorated call does not hash its labels again.
 *
 * Both clients keep every series under a string built from the sorted label names or values, and
 * spend most of an `inc` or `observe` building that string. A series here keeps a slot of the
 * client's seam (src/compat/: prom-client's `hashMap`, the successor's `store`) that writes the
 * entry in place while the client still holds it: after `reset()`, `remove()` or `set()` (which
 * replace or drop entries) the slot says so and the series is resolved again, so it writes exactly
 * where the client would, and `/metrics` and the injected metric objects stay consistent. When the
 * entry is missing (first call, after a reset), or when the client's internals are not the ones
 * checked once per process, the series goes through the client's public API instead. An entry is
 * written in place only once it is known to hold exactly these labels: after a call through the API
 * (and the series guard on it) finds it so. A label set the guard folded into its overflow series,
 * or one whose client key another label set already holds, never passes that check, so every one of
 * its calls goes through the guard.
 */
export type Labels = Readonly<Record<string, string>>;

export interface CounterSeries {
  inc(): void;
}
export interface GaugeSeries {
  inc(): void;
  dec(): void;
}
export interface HistogramSeries {
  observe(value: number): void;
}

interface Exemplary {
  enableExemplars?: boolean;
}

/** Written in place through the seam's slot while the client still holds its entry; else through the public API. */
class FastCounter implements CounterSeries, GaugeSeries {
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

class SlowCounter implements CounterSeries, GaugeSeries {
  constructor(
    private readonly metric: Counter | Gauge,
    private readonly labels: Labels,
  ) {}

  inc(): void {
    if ((this.metric as Exemplary).enableExemplars)
      (this.metric as Counter).inc({ labels: { ...this.labels }, value: 1 } as never);
    else this.metric.inc({ ...this.labels }, 1);
  }

  dec(): void {
    (this.metric as Gauge).dec({ ...this.labels }, 1);
  }
}

class FastHistogram implements HistogramSeries {
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

class SlowHistogram implements HistogramSeries {
  constructor(
    private readonly metric: Histogram,
    private readonly labels: Labels,
  ) {}

  observe(value: number): void {
    if ((this.metric as Exemplary).enableExemplars)
      this.metric.observe({ labels: { ...this.labels }, value } as never);
    else this.metric.observe({ ...this.labels }, value);
  }
}

/**
 * The layout to write `metric` in place, when the seam knows it and checked it (once per process,
 * against the public API); exemplar metrics always go through the API, which keeps their exemplars.
 */
const fastLayout = (metric: Metric): SeriesLayout | undefined =>
  (metric as Exemplary).enableExemplars ? undefined : layoutOf(metric);

/**
 * Fixed labels must name every label of the metric, and nothing else, with string values. The copy
 * kept holds each value as the series guard records it (cut to 256 units, well-formed), in memory of
 * its own: a series never keeps a caller's long string alive, and its key is the guard's.
 */
function checked(metric: Metric, labels: Labels): Labels {
  const names = (metric as unknown as { labelNames: readonly string[] }).labelNames;
  const keys = Object.keys(labels);
  const ok = keys.length === names.length && names.every((n) => typeof labels[n] === 'string');
  if (!ok) throw new Error(`labels {${keys.join(', ')}} do not match the label names {${names.join(', ')}}`);
  const copy: Record<string, string> = {};
  // In the order given: the client shows a series' labels in the order of the first recording.
  for (const name of keys) copy[name] = detached(sanitizeLabelValue(labels[name]));
  return Object.freeze(copy);
}

/** The series of `counter` with exactly `labels`. */
export function counterSeries(counter: Counter<string>, labels: Labels = {}): CounterSeries {
  const copy = checked(counter, labels);
  const layout = fastLayout(counter);
  return layout ? new FastCounter(counter, layout, copy) : new SlowCounter(counter, copy);
}

/** The series of `gauge` with exactly `labels`, for `inc`/`dec`. */
export function gaugeSeries(gauge: Gauge<string>, labels: Labels = {}): GaugeSeries {
  const copy = checked(gauge, labels);
  const layout = fastLayout(gauge);
  return layout ? new FastCounter(gauge, layout, copy) : new SlowCounter(gauge, copy);
}

/** The series of `histogram` with exactly `labels`. */
export function histogramSeries(histogram: Histogram<string>, labels: Labels = {}): HistogramSeries {
  const copy = checked(histogram, labels);
  const layout = fastLayout(histogram);
  return layout ? new FastHistogram(histogram, layout, copy) : new SlowHistogram(histogram, copy);
}
