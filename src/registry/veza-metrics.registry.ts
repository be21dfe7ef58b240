import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleDestroy } from '@nestjs/common';
import { Counter, register as globalRegistry, Registry, type Metric } from 'prom-client';
import { renderExposition, type CollectFailure, type ExpositionFormat } from '../exposition/render-exposition';
import { VEZA_CATALOG, VezaMetric, type VezaMetricName } from '../catalog/catalog';
import type { VezaMetricOf } from '../catalog/catalog.types';
import type { ResolvedVezaMetricsOptions } from '../options/resolve-options';
import {
  ambiguousLabelSet,
  defaultMonitorsShared,
  duplicateCatalogMetric,
  metricClash,
  recordingRefused,
  reservedLabelValue,
  seriesOverflow,
} from '../veza-metrics.messages';
import { promClientVersion, startDefaultMetrics, type DefaultMetricsHandle } from '../compat/prom-client';
import { guardMetric, type OverflowReason, type SeriesGuardHooks } from './series-guard';
import { loadTraceReader, type TraceReader } from '../tracing/trace-context';
import {
  createMetric,
  definitionOf,
  describeDefinition,
  exposedDefinition,
  sameDefinition,
  type ExposedDefinition,
} from './metric-definition';

/** Rendering yields to the event loop after this many milliseconds of work. */
const RENDER_SLICE_MS = 5;

/** Limits of one render: see `ScrapeOptions`. */
export interface RenderLimits {
  readonly deadline: number;
  readonly collectTimeoutMs: number;
  readonly onCollectFailure: (metric: string, reason: CollectFailure, error?: unknown) => void;
}

/** prom-client's default gauges whose `_total` suffix breaks the naming rules (`promtool check metrics`). */
const NON_CONFORMING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * The application's metrics: its prom-client registry and every catalog metric in it.
 *
 * One instance per application (per `VezaMetricsModule` import), so two applications in one
 * process never share counts. Inject it to reach the registry, e.g. to register metrics of your own.
 */
@Injectable()
export class VezaMetricsRegistry implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  /** The registry `/metrics` renders. */
  readonly registry: Registry;
  private readonly metrics = new Map<string, Metric>();
  private readonly definitions = new Map<string, ExposedDefinition>();
  private readonly ownsRegistry: boolean;
  /**
   * Reads the active OpenTelemetry span for exemplars; `undefined` when exemplars are off or
   * `@opentelemetry/api` is not installed.
   */
  readonly traceReader: TraceReader | undefined;
  private readonly logger = new Logger('VezaMetrics');
  private readonly guardHooks: SeriesGuardHooks;
  /** prom-client's default metrics this registry started (event-loop monitor, GC observer): stopped on close. */
  private defaults: DefaultMetricsHandle | undefined;

  /** @internal Nest's injector builds it from the module's options. */
  constructor(
    /** @internal The module's options once resolved: their shape is the library's own and may change. */
    readonly options: ResolvedVezaMetricsOptions,
  ) {
    this.ownsRegistry = options.registry === undefined;
    this.registry = options.registry ?? new Registry();
    const { defaultLabels } = options;
    if (Object.keys(defaultLabels).length > 0) this.registry.setDefaultLabels({ ...defaultLabels });

    this.traceReader = options.exemplars ? loadTraceReader() : undefined;
    for (const row of VEZA_CATALOG) {
      const def = exposedDefinition(row, options.naming, options.buckets);
      this.definitions.set(row.name, def);
      this.metrics.set(row.name, this.adoptOrCreate(def));
    }
    if (options.defaultMetrics.enabled) this.collectDefaults();
    const overflows = this.selfCounter(
      'veza_metrics_series_overflow_total',
      'Recordings folded into the overflow series of a metric at its series cap',
      ['metric'],
    );
    const refused = this.selfCounter(
      'veza_metrics_recording_errors_total',
      'Recordings refused: a value Prometheus forbids, an unknown label, an error',
      ['metric'],
    );
    const logged = new Set<string>();
    const logOnce = (key: string, message: () => string): void => {
      if (logged.has(key)) return;
      logged.add(key);
      this.logger.warn(message());
    };
    this.guardHooks = {
      onOverflow: (metric, reason: OverflowReason) => {
        overflows.inc({ metric });
        logOnce(`overflow:${reason}:${metric}`, () =>
          reason === 'cap'
            ? seriesOverflow(metric, this.seriesCap(metric))
            : reason === 'reserved'
              ? reservedLabelValue(metric)
              : ambiguousLabelSet(metric),
        );
      },
      onError: (metric, error) => {
        refused.inc({ metric });
        logOnce(`error:${metric}`, () => recordingRefused(metric, error));
      },
    };
    for (const metric of this.metrics.values()) this.protect(metric);
  }

  /**
   * Puts a metric under the application's series cap and run-time safety (see `cardinality`):
   * every catalog metric is; call it for metrics of your own in this registry.
   */
  protect(metric: Metric): void {
    guardMetric(metric, this.seriesCap((metric as unknown as { name: string }).name), this.guardHooks);
  }

  private seriesCap(name: string): number {
    return this.options.cardinality.perMetric[name] ?? this.options.cardinality.maxSeries;
  }

  /** The catalog metric registered under the catalog (seed) name `name`, whatever the naming mode. */
  get<N extends VezaMetricName>(name: N): VezaMetricOf<N> {
    return this.metrics.get(name) as VezaMetricOf<N>;
  }

  /** How the catalog metric `name` is exposed (its name, buckets and the unit scale of strict naming). */
  definition(name: VezaMetricName): ExposedDefinition {
    return this.definitions.get(name) as ExposedDefinition;
  }

  /** The Content-Type of the exposition: prom-client's exactly. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The exposition: this application's registry, followed by the metrics other code registered in
   * prom-client's global registry (those of `@willsoto/nestjs-prometheus`'s `make*Provider`), so that
   * one `/metrics` shows them all. The text format is byte for byte prom-client's.
   */
  async render(format: ExpositionFormat = 'text', limits: Partial<RenderLimits> = {}): Promise<string> {
    return (await this.renderBytes(format, limits)).toString('utf8');
  }

  /** {@link VezaMetricsRegistry.render} as UTF-8 bytes, built outside V8's heap. */
  async renderBytes(format: ExpositionFormat = 'text', limits: Partial<RenderLimits> = {}): Promise<Buffer> {
    return Buffer.concat(await this.renderChunks(format, limits));
  }

  /**
   * {@link VezaMetricsRegistry.renderBytes} as the list of chunks it is built in, never joined: what `/metrics` sends
   * (joining megabytes at once would hold the event loop while fresh memory is copied into).
   */
  renderChunks(format: ExpositionFormat = 'text', limits: Partial<RenderLimits> = {}): Promise<Buffer[]> {
    const now = performance.now();
    return renderExposition([...this.registry.getMetricsAsArray(), ...this.foreignMetrics()] as Metric[], {
      format,
      defaultLabels: (this.registry as unknown as { _defaultLabels?: Record<string, string> })._defaultLabels ?? this.options.defaultLabels,
      collectTimeoutMs: limits.collectTimeoutMs ?? this.options.endpoint.scrape.collectTimeoutMs,
      deadline: limits.deadline ?? now + this.options.endpoint.scrape.timeoutMs,
      sliceMs: RENDER_SLICE_MS,
      onCollectFailure: limits.onCollectFailure ?? (() => undefined),
    });
  }

  /**
   * A counter of the library's own (`veza_metrics_*`) in the application's registry: created once,
   * found again when the registry is shared by several applications.
   */
  selfCounter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) {
      const wanted = { catalogName: name, name, kind: 'counter' as const, help, labelNames, scale: 1 };
      if (!sameDefinition(existing, wanted)) {
        throw new Error(metricClash(name, describeDefinition(wanted), describeDefinition(definitionOf(existing))));
      }
      return existing as Counter<L>;
    }
    return new Counter({ name, help, labelNames: [...labelNames], registers: [this.registry] });
  }

  /** Late declarations of a catalog name (made after this registry was built) fail the start-up. */
  onApplicationBootstrap(): void {
    if (this.registry === globalRegistry) return;
    for (const def of this.definitions.values()) {
      const other = globalRegistry.getSingleMetric(def.name);
      if (!other || other === this.metrics.get(def.catalogName)) continue;
      if (!sameDefinition(other, def))
        throw new Error(metricClash(def.name, describeDefinition(def), describeDefinition(definitionOf(other))));
      throw new Error(duplicateCatalogMetric(def.name, describeDefinition(definitionOf(other))));
    }
  }

  /** Nest's shutdown hook: clears the registry, when the module created it. */
  onModuleDestroy(): void {
    if (this.ownsRegistry) this.registry.clear();
  }

  /**
   * Stops the event-loop monitor and the GC observer of the default metrics this registry started:
   * last, after the final Pushgateway push (which reads them) and once the HTTP server is closed, so
   * that a closed application leaves nothing running. In a registry the application brought, those
   * metrics are taken out too, so that the next application starts live ones.
   */
  onApplicationShutdown(): void {
    const defaults = this.defaults;
    if (!defaults) return;
    this.defaults = undefined;
    defaults.stop();
    if (!this.ownsRegistry) for (const name of defaults.names) this.registry.removeSingleMetric(name);
  }

  private foreignMetrics(): Metric[] {
    if (this.registry === globalRegistry) return [];
    return (globalRegistry.getMetricsAsArray() as unknown as Metric[]).filter(
      (m) => this.registry.getSingleMetric((m as unknown as { name: string }).name) === undefined,
    );
  }

  /**
   * A metric already registered under a catalog name (in a registry the app brought, or in
   * prom-client's global registry) is used as it is when its definition is the catalog's, and fails
   * the start-up otherwise: two definitions of one name is what crashed the seed at init.
   */
  private adoptOrCreate(def: ExposedDefinition): Metric {
    const registries = this.registry === globalRegistry ? [this.registry] : [this.registry, globalRegistry];
    for (const registry of registries) {
      const existing = registry.getSingleMetric(def.name);
      if (!existing) continue;
      if (!sameDefinition(existing, def)) {
        throw new Error(metricClash(def.name, describeDefinition(def), describeDefinition(definitionOf(existing))));
      }
      if (registry !== this.registry) this.registry.registerMetric(existing);
      return existing;
    }
    return createMetric(def, this.registry, this.traceReader !== undefined && def.catalogName === VezaMetric.HttpRequestDuration);
  }

  private collectDefaults(): void {
    const { prefix } = this.options.defaultMetrics;
    // A registry the app brought may already hold them (a previous app, or the app itself).
    if (this.registry.getSingleMetric(`${prefix}process_cpu_user_seconds_total`) === undefined) {
      this.defaults = startDefaultMetrics(this.registry, prefix);
      const { monitors, observers } = this.defaults.started;
      if (!this.defaults.shared && (monitors !== 1 || observers !== 1))
        this.logger.warn(defaultMonitorsShared(monitors, observers, promClientVersion()));
    }
    // Gauges named *_total break Prometheus' naming rules; each is the sum of its unsuffixed twin
    // (sum(nodejs_active_handles) in PromQL), so dropping them loses nothing.
    for (const name of NON_CONFORMING_DEFAULTS) this.registry.removeSingleMetric(`${prefix}${name}`);
  }
}
