/**
 * The typed interface both Prometheus clients' seams implement (`prom-client.ts`,
 * `prometheus-io-client.ts`), chosen between by `metrics-client.ts`. Types only: the two seams
 * import this file and never `metrics-client.ts`, so the client seams form no import circle
 * (test/unit/seams.spec.ts checks the graph of src/compat/).
 */
import type {
  CounterMetric,
  GaugeMetric,
  HistogramMetric,
  MetricAggregator,
  MetricsRegistry,
  SummaryMetric,
} from './client-types';

export type ClientName = 'prom-client' | '@prometheus-io/client';

/** What a metric's constructor takes (the options both clients share). */
export interface MetricConfig {
  name: string;
  help: string;
  labelNames?: string[];
  registers?: MetricsRegistry[];
  buckets?: number[];
  enableExemplars?: boolean;
  aggregator?: MetricAggregator;
  collect?: (this: never) => void | Promise<void>;
}

/** The public classes of a client, as this library uses them. */
export interface ClientClasses {
  readonly Registry: { new (): MetricsRegistry; readonly PROMETHEUS_CONTENT_TYPE: string };
  readonly Counter: new (config: MetricConfig) => CounterMetric;
  readonly Gauge: new (config: MetricConfig) => GaugeMetric;
  readonly Histogram: new (config: MetricConfig) => HistogramMetric;
  readonly Summary: new (config: MetricConfig) => SummaryMetric;
  /** The client's global registry (`register`). */
  readonly register: MetricsRegistry;
}

/** One client's seam: the only code that knows its internals. */
export interface ClientSeam {
  readonly name: ClientName;
  /** The installed version (`(unknown version)` when unreadable), for messages. */
  readonly version: string;
  /** The loaded client, or `undefined` when it is not installed. */
  classes(): ClientClasses | undefined;
  /** Whether `module` (what loading a package name gave) is this client. */
  isModule(module: unknown): boolean;
  /** Whether `registry` is a Registry of this client (any copy of it). */
  ownsRegistry(registry: object): boolean;
  /** `collectDefaultMetrics` into `registry`, with what it starts caught so that `stop()` ends it. */
  startDefaultMetrics(registry: MetricsRegistry, prefix: string): DefaultMetricsHandle;
  /** Default metrics whose names break Prometheus' naming rules: left out of our default metrics. */
  readonly nonConformingDefaults: readonly string[];
  /** The default labels set on a registry of this client. */
  defaultLabelsOf(registry: MetricsRegistry): Readonly<Record<string, string>> | undefined;
  /** Why this client cannot run here (a sentence), or `undefined`. */
  unsupportedHere(nodeVersion: string): string | undefined;
}

/** Stops what `startDefaultMetrics` started. */
export interface DefaultMetricsHandle {
  /** Names of the metrics it registered (to take them out of a registry the application brought). */
  readonly names: readonly string[];
  /** Disables the event-loop monitor and disconnects the GC observer; safe to call twice. */
  stop(): void;
  /** True when the metrics are those a first registry started (the A1/A2 fallback): nothing to stop. */
  readonly shared: boolean;
  /** How many monitors and observers were seen started (1 and 1 while A1 and A2 hold). */
  readonly started: { readonly monitors: number; readonly observers: number };
}
