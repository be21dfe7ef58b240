/**
 * The shapes this library reads of a Prometheus client's objects, as structural types of its own:
 * prom-client 15 and `@prometheus-io/client` 0.16 objects both satisfy them, so that the public
 * `.d.ts` never imports either package (an application that installed only one of them, and type
 * checks without `skipLibCheck`, would otherwise fail on the other's missing types). Nothing here
 * reads an internal: only methods both clients document.
 */

/** Label values of a series: a value for some of the metric's label names. */
export type LabelValues<L extends string = string> = Partial<Record<L, string | number>>;

/** How the cluster primary merges one metric's series across workers. */
export type MetricAggregator = 'omit' | 'sum' | 'first' | 'min' | 'max' | 'average';

/** One sample of a metric, as `get()` returns it. */
export interface MetricSample {
  /** The sample's value. */
  value: number;
  /** The sample's labels (without the registry's default labels). */
  labels: Record<string, string | number | undefined>;
  /** The sample's own name where it differs from the metric's (`_bucket`, `_sum`, `_count`). */
  metricName?: string;
}

/** A metric as `get()` returns it (and `registry.getMetricsAsJSON()` lists them). */
export interface MetricSnapshot {
  /** The metric's name. */
  name: string;
  /** The metric's help text. */
  help: string;
  /** `'counter'`, `'gauge'`, `'histogram'` or `'summary'` at run time (prom-client's types declare an enum). */
  type: string | number;
  /** Its samples. */
  values: MetricSample[];
  /** How the cluster primary merges it across workers. */
  aggregator?: string;
}

/**
 * Any metric of either client: what a registry holds.
 *
 * @remarks Both clients' `Counter`, `Gauge`, `Histogram` and `Summary` are assignable to it.
 */
export interface AnyMetric {
  /** The metric's samples (runs its scrape-time `collect`, if any). */
  get(): Promise<MetricSnapshot>;
  /** Removes every series (a metric without labels goes back to 0). */
  reset(): void;
}

/** What `labels(...)` returns: the series' own methods, labels bound. */
export interface MetricChild {
  /** Adds to the series (counters, gauges). */
  inc?(value?: number): void;
  /** Subtracts from the series (gauges). */
  dec?(value?: number): void;
  /** Sets the series (gauges). */
  set?(value: number): void;
  /** Observes a value (histograms, summaries). */
  observe?(value: number): void;
}

/** A recording with an exemplar (metrics created with `enableExemplars`). */
export interface ExemplarRecording<L extends string> {
  /** The series' labels. */
  labels?: LabelValues<L>;
  /** The amount or the observed value. */
  value?: number;
  /** The exemplar's labels, e.g. `{ trace_id }`. */
  exemplarLabels?: LabelValues<string>;
}

/**
 * A counter of either client, with its label names typed.
 *
 * @example
 * ```ts
 * constructor(@InjectMetric(VezaMetric.HttpRequestsTotal) private readonly requests: CounterMetric<'method' | 'endpoint' | 'status'>) {}
 * ```
 */
export interface CounterMetric<L extends string = string> extends AnyMetric {
  /** Adds `value` (1 by default) to the series of `labels`. */
  inc(labels: LabelValues<L>, value?: number): void;
  /** Adds `value` (1 by default) to the metric without labels. */
  inc(value?: number): void;
  /** Adds `recording.value` with an exemplar (a metric created with `enableExemplars`). */
  inc(recording: ExemplarRecording<L>): void;
  /** The series of these label values, for repeated calls. */
  labels(labels: LabelValues<L>): { inc(value?: number): void };
  /** The series of these label values, for repeated calls. */
  labels(...values: string[]): { inc(value?: number): void };
  /** Removes the series of these label values. */
  remove(labels: LabelValues<L>): void;
  /** Removes the series of these label values. */
  remove(...values: string[]): void;
}

/** A gauge of either client, with its label names typed. */
export interface GaugeMetric<L extends string = string> extends AnyMetric {
  /** Adds `value` (1 by default) to the series of `labels`. */
  inc(labels: LabelValues<L>, value?: number): void;
  /** Adds `value` (1 by default) to the series of `labels`. */
  inc(value?: number): void;
  /** Subtracts `value` (1 by default) from the series of `labels`. */
  dec(labels: LabelValues<L>, value?: number): void;
  /** Subtracts `value` (1 by default) from the series of `labels`. */
  dec(value?: number): void;
  /** Sets the series of `labels` to `value`. */
  set(labels: LabelValues<L>, value: number): void;
  /** Sets the series of `labels` to `value`. */
  set(value: number): void;
  /** Sets the series to the current Unix time in seconds. */
  setToCurrentTime(labels?: LabelValues<L>): void;
  /** Starts a timer; the returned function sets the series to the seconds elapsed. */
  startTimer(labels?: LabelValues<L>): (labels?: LabelValues<L>) => number;
  /** The series of these label values, for repeated calls. */
  labels(labels: LabelValues<L>): {
    inc(value?: number): void;
    dec(value?: number): void;
    set(value: number): void;
  };
  /** The series of these label values, for repeated calls. */
  labels(...values: string[]): {
    inc(value?: number): void;
    dec(value?: number): void;
    set(value: number): void;
  };
  /** Removes the series of these label values. */
  remove(labels: LabelValues<L>): void;
  /** Removes the series of these label values. */
  remove(...values: string[]): void;
}

/** A histogram of either client, with its label names typed. */
export interface HistogramMetric<L extends string = string> extends AnyMetric {
  /** Observes `value` in the series of `labels`. */
  observe(labels: LabelValues<L>, value: number): void;
  /** Observes `value` in the metric without labels. */
  observe(value: number): void;
  /** Observes `recording.value` with an exemplar (a metric created with `enableExemplars`). */
  observe(recording: ExemplarRecording<L> & { value: number }): void;
  /** Starts a timer; the returned function observes the seconds elapsed. */
  startTimer(labels?: LabelValues<L>): (labels?: LabelValues<L>) => number | void;
  /** Creates the series of `labels` with every bucket at 0. */
  zero(labels: LabelValues<L>): void;
  /** The series of these label values, for repeated calls. */
  labels(labels: LabelValues<L>): { observe(value: number): void };
  /** The series of these label values, for repeated calls. */
  labels(...values: string[]): { observe(value: number): void };
  /** Removes the series of these label values. */
  remove(labels: LabelValues<L>): void;
  /** Removes the series of these label values. */
  remove(...values: string[]): void;
}

/** A summary of either client, with its label names typed. */
export interface SummaryMetric<L extends string = string> extends AnyMetric {
  /** Observes `value` in the series of `labels`. */
  observe(labels: LabelValues<L>, value: number): void;
  /** Observes `value` in the series of `labels`. */
  observe(value: number): void;
  /** Removes the series of these label values. */
  remove(labels: LabelValues<L>): void;
  /** Removes the series of these label values. */
  remove(...values: string[]): void;
}

/**
 * A `Registry` of either client: `new Registry()` of prom-client 15 or of `@prometheus-io/client`
 * 0.16 (the `registry` option takes either; see the README's compatibility table).
 */
export interface MetricsRegistry {
  /** The Content-Type of what `metrics()` renders. */
  readonly contentType: string;
  /** Every metric, rendered in the exposition format. */
  metrics(): Promise<string>;
  /** Adds a metric (created with `registers: []`). */
  registerMetric(metric: AnyMetric): void;
  /** The metric registered under `name`, if any. */
  getSingleMetric(name: string): AnyMetric | undefined;
  /** Every metric registered (both clients' own types of this list differ: read each as {@link AnyMetric}). */
  getMetricsAsArray(): unknown[];
  /** Every metric's samples. */
  getMetricsAsJSON(): Promise<MetricSnapshot[]>;
  /** Removes the metric registered under `name`. */
  removeSingleMetric(name: string): void;
  /** Labels added to every series this registry renders. */
  setDefaultLabels(labels: object): void;
  /** Resets every metric (see {@link AnyMetric.reset}). */
  resetMetrics(): void;
  /** Removes every metric. */
  clear(): void;
}
