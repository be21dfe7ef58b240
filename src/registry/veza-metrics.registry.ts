import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { AnyMetric, CounterMetric, MetricsRegistry } from '../compat/client-types';
import { globalRegistries, metricsOf, selectClient, type MetricsClient } from '../compat/metrics-client';
import {
  renderExposition,
  type CollectFailure,
  type ExpositionFormat,
} from '../exposition/render-exposition';
import { VEZA_CATALOG, VezaMetric, type VezaMetricName } from '../catalog/catalog';
import type { VezaMetricOf } from '../catalog/catalog.types';
import type { ResolvedVezaMetricsOptions } from '../options/resolve-options';
import {
  ambiguousLabelSet,
  defaultMonitorsShared,
  duplicateCatalogMetric,
  metricClash,
  recordingRefused,
  seriesOverflow,
} from '../veza-metrics.messages';
import type { DefaultMetricsHandle } from '../compat/client-seam';
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

/**
 * Limits of one render of the exposition (`/metrics` passes those of the module's `scrape` option).
 * Every field is optional where a method takes `Partial<RenderLimits>`.
 */
export interface RenderLimits {
  /**
   * The `performance.now()` time by which the render ends: metrics not collected by then are left out.
   * @defaultValue now plus `scrape.timeoutMs`
   */
  readonly deadline: number;
  /** One scrape-time source's budget (a gauge's `collect`, a `@GaugeSource`). @defaultValue `scrape.collectTimeoutMs` */
  readonly collectTimeoutMs: number;
  /** Told of each metric left out of this render, and why. @defaultValue does nothing */
  readonly onCollectFailure: (metric: string, reason: CollectFailure, error?: unknown) => void;
}

/**
 * The application's metrics: its registry (of prom-client or of `@prometheus-io/client`, see the
 * README's compatibility table) and every catalog metric in it.
 *
 * One instance per application (per `VezaMetricsModule` import), so two applications in one
 * process never share counts. Inject it to reach the registry, e.g. to register metrics of your own.
 */
@Injectable()
export class VezaMetricsRegistry implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  /** The registry `/metrics` renders. */
  readonly registry: MetricsRegistry;
  /** @internal The Prometheus client the application works with (src/compat/metrics-client.ts). */
  readonly client: MetricsClient;
  private readonly metrics = new Map<string, AnyMetric>();
  private readonly definitions = new Map<string, ExposedDefinition>();
  private readonly ownsRegistry: boolean;
  /**
   * @internal Reads the active OpenTelemetry span for exemplars; `undefined` when exemplars are off or
   * `@opentelemetry/api` is not installed. For the HTTP recorder; its shape follows OpenTelemetry's.
   */
  readonly traceReader: TraceReader | undefined;
  private readonly logger = new Logger('VezaMetrics');
  private readonly guardHooks: SeriesGuardHooks;
  /** The client's default metrics this registry started (event-loop monitor, GC observer): stopped on close. */
  private defaults: DefaultMetricsHandle | undefined;

  /** @internal Nest's injector builds it from the module's options. */
  constructor(
    /** @internal The module's options once resolved: their shape is the library's own and may change. */
    readonly options: ResolvedVezaMetricsOptions,
  ) {
    this.ownsRegistry = options.registry === undefined;
    this.client = selectClient(options.registry);
    this.registry = options.registry ?? new this.client.Registry();
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
      onOverflow: (metric, reason: OverflowReason, client) => {
        overflows.inc({ metric });
        logOnce(`overflow:${reason}:${metric}`, () =>
          reason === 'cap'
            ? seriesOverflow(metric, this.seriesCap(metric))
            : ambiguousLabelSet(metric, client),
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
  protect(metric: AnyMetric): void {
    guardMetric(metric, this.seriesCap((metric as unknown as { name: string }).name), this.guardHooks);
  }

  private seriesCap(name: string): number {
    return this.options.cardinality.perMetric[name] ?? this.options.cardinality.maxSeries;
  }

  /** The catalog metric registered under the catalog (seed) name `name`, whatever the naming mode. */
  get<N extends VezaMetricName>(name: N): VezaMetricOf<N> {
    return this.metrics.get(name) as VezaMetricOf<N>;
  }

  /**
   * @internal How the catalog metric `name` is exposed (its name, buckets and the unit scale of
   * strict naming), for the recorders and the testing helpers; its shape is the library's own.
   */
  definition(name: VezaMetricName): ExposedDefinition {
    return this.definitions.get(name) as ExposedDefinition;
  }

  /** The Content-Type of the exposition: the client's exactly. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The exposition: this application's registry, followed by the metrics other code registered in
   * the global registry of each installed client (those of `@willsoto/nestjs-prometheus`'s
   * `make*Provider` are prom-client's), so that one `/metrics` shows them all. The text format is
   * byte for byte the client's.
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
    return renderExposition([...metricsOf(this.registry), ...this.foreignMetrics()], {
      format,
      defaultLabels: this.client.seam.defaultLabelsOf(this.registry) ?? this.options.defaultLabels,
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
  selfCounter<L extends string>(name: string, help: string, labelNames: readonly L[]): CounterMetric<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) {
      const wanted = { catalogName: name, name, kind: 'counter' as const, help, labelNames, scale: 1 };
      if (!sameDefinition(existing, wanted)) {
        throw new Error(
          metricClash(name, describeDefinition(wanted), describeDefinition(definitionOf(existing))),
        );
      }
      return existing as CounterMetric<L>;
    }
    return new this.client.Counter({ name, help, labelNames: [...labelNames], registers: [this.registry] });
  }

  /** Late declarations of a catalog name (made after this registry was built) fail the start-up. */
  onApplicationBootstrap(): void {
    for (const def of this.definitions.values()) {
      const other = this.otherRegistries()
        .map((r) => r.getSingleMetric(def.name))
        .find((m) => m !== undefined);
      if (!other || other === this.metrics.get(def.catalogName)) continue;
      if (!sameDefinition(other, def))
        throw new Error(
          metricClash(def.name, describeDefinition(def), describeDefinition(definitionOf(other))),
        );
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

  /** The global registries of the installed clients, but this application's own. */
  private otherRegistries(): MetricsRegistry[] {
    return globalRegistries(this.client).filter((r) => r !== this.registry);
  }

  /** Metrics of the other registries whose names this application's registry does not hold (the first wins). */
  private foreignMetrics(): AnyMetric[] {
    const taken = new Set<string>();
    const out: AnyMetric[] = [];
    for (const registry of this.otherRegistries()) {
      for (const metric of metricsOf(registry)) {
        const name = (metric as unknown as { name: string }).name;
        if (taken.has(name) || this.registry.getSingleMetric(name) !== undefined) continue;
        taken.add(name);
        out.push(metric);
      }
    }
    return out;
  }

  /**
   * A metric already registered under a catalog name (in a registry the app brought, or in a
   * client's global registry) is used as it is when its definition is the catalog's, and fails
   * the start-up otherwise: two definitions of one name is what crashed the seed at init.
   */
  private adoptOrCreate(def: ExposedDefinition): AnyMetric {
    const registries = [this.registry, ...this.otherRegistries()];
    for (const registry of registries) {
      const existing = registry.getSingleMetric(def.name);
      if (!existing) continue;
      if (!sameDefinition(existing, def)) {
        throw new Error(
          metricClash(def.name, describeDefinition(def), describeDefinition(definitionOf(existing))),
        );
      }
      if (registry !== this.registry) this.registry.registerMetric(existing);
      return existing;
    }
    return createMetric(
      this.client,
      def,
      this.registry,
      this.traceReader !== undefined && def.catalogName === VezaMetric.HttpRequestDuration,
    );
  }

  private collectDefaults(): void {
    const { prefix } = this.options.defaultMetrics;
    // A registry the app brought may already hold them (a previous app, or the app itself).
    if (this.registry.getSingleMetric(`${prefix}process_cpu_user_seconds_total`) === undefined) {
      const { seam } = this.client;
      this.defaults = seam.startDefaultMetrics(this.registry, prefix);
      const { monitors, observers } = this.defaults.started;
      if (!this.defaults.shared && (monitors !== 1 || observers !== 1))
        this.logger.warn(defaultMonitorsShared(monitors, observers, seam.version, seam.name));
    }
    // Names that break Prometheus' naming rules: gauges named *_total, each the sum of its
    // unsuffixed twin (sum(nodejs_active_handles) in PromQL), so dropping them loses nothing; and the
    // successor's nodejs_eventloop_utilization_{histogram,summary} ("should not include type").
    for (const name of this.client.seam.nonConformingDefaults)
      this.registry.removeSingleMetric(`${prefix}${name}`);
  }
}
