import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { AnyMetric, CounterMetric, MetricsRegistry } from '../compat/client-types';
import type { ExpositionFormat } from '../exposition/render-exposition';
import { MetricsExposition, type RenderLimits } from '../exposition/metrics-exposition';
import { VezaMetric, type VezaMetricName } from '../catalog/catalog';
import type { VezaMetricOf } from '../catalog/catalog.types';
import { duplicateCatalogMetric, metricClash } from '../veza-metrics.messages';
import { ExemplarTraces } from '../tracing/exemplar-traces';
import { AppRegistry } from './app-registry';
import { CatalogDefinitions } from './catalog-definitions';
import { DefaultMetrics } from './default-metrics';
import { SelfMetrics } from './self-metrics';
import {
  createMetric,
  definitionOf,
  describeDefinition,
  sameDefinition,
  type ExposedDefinition,
} from './metric-definition';

/**
 * The application's metrics: its registry (of prom-client or of `@prometheus-io/client`, see the
 * README's compatibility table) and every catalog metric in it.
 *
 * One instance per application (per `VezaMetricsModule` import), so two applications in one
 * process never share counts. Inject it to reach the registry, e.g. to register metrics of your own.
 */
@Injectable()
export class VezaMetricsRegistry implements OnApplicationBootstrap {
  /** The registry `/metrics` renders. */
  readonly registry: MetricsRegistry;
  private readonly metrics = new Map<string, AnyMetric>();

  /** @internal Nest's injector builds it from the module's providers. */
  constructor(
    private readonly app: AppRegistry,
    private readonly definitions: CatalogDefinitions,
    private readonly self: SelfMetrics,
    defaults: DefaultMetrics,
    private readonly exposition: MetricsExposition,
    traces: ExemplarTraces,
  ) {
    this.registry = app.registry;
    const exemplars = traces.reader !== undefined;
    for (const def of definitions.all())
      this.metrics.set(
        def.catalogName,
        this.adoptOrCreate(def, exemplars && def.catalogName === VezaMetric.HttpRequestDuration),
      );
    // After the catalog, so that /metrics lists the catalog first; then the guard's self-counters.
    defaults.start();
    for (const metric of this.metrics.values()) self.protect(metric);
  }

  /**
   * Puts a metric under the application's series cap and run-time safety (see `cardinality`):
   * every catalog metric is; call it for metrics of your own in this registry.
   */
  protect(metric: AnyMetric): void {
    this.self.protect(metric);
  }

  /** The catalog metric registered under the catalog (seed) name `name`, whatever the naming mode. */
  get<N extends VezaMetricName>(name: N): VezaMetricOf<N> {
    return this.metrics.get(name) as VezaMetricOf<N>;
  }

  /**
   * @internal How the catalog metric `name` is exposed (its name, buckets and the unit scale of
   * strict naming); its shape is the library's own. Other folders inject `CatalogDefinitions`.
   */
  definition(name: VezaMetricName): ExposedDefinition {
    return this.definitions.of(name);
  }

  /** The Content-Type of the exposition: the client's exactly. */
  get contentType(): string {
    return this.exposition.contentType;
  }

  /**
   * The exposition: this application's registry, followed by the metrics other code registered in
   * the global registry of each installed client (those of `@willsoto/nestjs-prometheus`'s
   * `make*Provider` are prom-client's), so that one `/metrics` shows them all. The text format is
   * byte for byte the client's. For the text formats: the protobuf one is binary, read it with
   * {@link VezaMetricsRegistry.renderBytes}.
   */
  render(format: ExpositionFormat = 'text', limits: Partial<RenderLimits> = {}): Promise<string> {
    return this.exposition.render(format, limits);
  }

  /**
   * {@link VezaMetricsRegistry.render} as bytes, built outside V8's heap: UTF-8 text, or with
   * `'protobuf'` length-delimited `io.prometheus.client.MetricFamily` messages (what Prometheus
   * asks for when native histograms are on).
   */
  renderBytes(format: ExpositionFormat = 'text', limits: Partial<RenderLimits> = {}): Promise<Buffer> {
    return this.exposition.renderBytes(format, limits);
  }

  /**
   * {@link VezaMetricsRegistry.renderBytes} as the list of chunks it is built in, never joined: what `/metrics` sends
   * (joining megabytes at once would hold the event loop while fresh memory is copied into).
   */
  renderChunks(format: ExpositionFormat = 'text', limits: Partial<RenderLimits> = {}): Promise<Buffer[]> {
    return this.exposition.renderChunks(format, limits);
  }

  /**
   * A counter of the library's own (`veza_metrics_*`) in the application's registry: created once,
   * found again when the registry is shared by several applications.
   */
  selfCounter<L extends string>(name: string, help: string, labelNames: readonly L[]): CounterMetric<L> {
    return this.self.counter(name, help, labelNames);
  }

  /** Late declarations of a catalog name (made after this registry was built) fail the start-up. */
  onApplicationBootstrap(): void {
    for (const def of this.definitions.all()) {
      const other = this.app
        .otherRegistries()
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

  /**
   * A metric already registered under a catalog name (in a registry the app brought, or in a
   * client's global registry) is used as it is when its definition is the catalog's, and fails
   * the start-up otherwise: two definitions of one name is what crashed the seed at init.
   */
  private adoptOrCreate(def: ExposedDefinition, exemplars: boolean): AnyMetric {
    for (const registry of [this.registry, ...this.app.otherRegistries()]) {
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
    return createMetric(this.app.client, def, this.registry, exemplars);
  }
}
