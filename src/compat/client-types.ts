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
  value: number;
  labels: Record<string, string | number | undefined>;
  metricName?: string;
}

/** A metric as `get()` returns it (and `registry.getMetricsAsJSON()` lists them). */
export interface MetricSnapshot {
  name: string;
  help: string;
  /** `'counter'`, `'gauge'`, `'histogram'` or `'summary'` at run time (prom-client's types declare an enum). */
  type: string | number;
  values: MetricSample[];
  aggregator?: string;
}

/**
 * Any metric of either client: what a registry holds.
 *
 * @remarks Both clients' `Counter`, `Gauge`, `Histogram` and `Summary` are assignable to it.
 */
export interface AnyMetric {
  get(): Promise<MetricSnapshot>;
  reset(): void;
}

/** What `labels(...)` returns: the series' own methods, labels bound. */
export interface MetricChild {
  inc?(value?: number): void;
  dec?(value?: number): void;
  set?(value: number): void;
  observe?(value: number): void;
}

/**
 * A counter of either client, with its label names typed.
 *
 * @example
 * ```ts
 * constructor(@InjectMetric(VezaMetric.HttpRequestsTotal) private readonly requests: CounterMetric<'method' | 'endpoint' | 'status'>) {}
 * ```
 */
/** A recording with an exemplar (metrics created with `enableExemplars`). */
export interface ExemplarRecording<L extends string> {
  labels?: LabelValues<L>;
  value?: number;
  exemplarLabels?: LabelValues<string>;
}

export interface CounterMetric<L extends string = string> extends AnyMetric {
  inc(labels: LabelValues<L>, value?: number): void;
  inc(value?: number): void;
  inc(recording: ExemplarRecording<L>): void;
  labels(labels: LabelValues<L>): { inc(value?: number): void };
  labels(...values: string[]): { inc(value?: number): void };
  remove(labels: LabelValues<L>): void;
  remove(...values: string[]): void;
}

/** A gauge of either client, with its label names typed. */
export interface GaugeMetric<L extends string = string> extends AnyMetric {
  inc(labels: LabelValues<L>, value?: number): void;
  inc(value?: number): void;
  dec(labels: LabelValues<L>, value?: number): void;
  dec(value?: number): void;
  set(labels: LabelValues<L>, value: number): void;
  set(value: number): void;
  setToCurrentTime(labels?: LabelValues<L>): void;
  startTimer(labels?: LabelValues<L>): (labels?: LabelValues<L>) => number;
  labels(labels: LabelValues<L>): { inc(value?: number): void; dec(value?: number): void; set(value: number): void };
  labels(...values: string[]): { inc(value?: number): void; dec(value?: number): void; set(value: number): void };
  remove(labels: LabelValues<L>): void;
  remove(...values: string[]): void;
}

/** A histogram of either client, with its label names typed. */
export interface HistogramMetric<L extends string = string> extends AnyMetric {
  observe(labels: LabelValues<L>, value: number): void;
  observe(value: number): void;
  observe(recording: ExemplarRecording<L> & { value: number }): void;
  startTimer(labels?: LabelValues<L>): (labels?: LabelValues<L>) => number | void;
  zero(labels: LabelValues<L>): void;
  labels(labels: LabelValues<L>): { observe(value: number): void };
  labels(...values: string[]): { observe(value: number): void };
  remove(labels: LabelValues<L>): void;
  remove(...values: string[]): void;
}

/** A summary of either client, with its label names typed. */
export interface SummaryMetric<L extends string = string> extends AnyMetric {
  observe(labels: LabelValues<L>, value: number): void;
  observe(value: number): void;
  remove(labels: LabelValues<L>): void;
  remove(...values: string[]): void;
}

/**
 * A `Registry` of either client: `new Registry()` of prom-client 15 or of `@prometheus-io/client`
 * 0.16 (the `registry` option takes either; see the README's compatibility table).
 */
export interface MetricsRegistry {
  readonly contentType: string;
  metrics(): Promise<string>;
  registerMetric(metric: AnyMetric): void;
  getSingleMetric(name: string): AnyMetric | undefined;
  /** Every metric registered (both clients' own types of this list differ: read each as {@link AnyMetric}). */
  getMetricsAsArray(): unknown[];
  getMetricsAsJSON(): Promise<MetricSnapshot[]>;
  removeSingleMetric(name: string): void;
  setDefaultLabels(labels: object): void;
  resetMetrics(): void;
  clear(): void;
}
