/**
 * One application's metrics without Nest: the module's providers built by hand, in the order Nest's
 * injector builds them, for unit tests that need a registry and the explorer but no application.
 */
import type { ModulesContainer } from '@nestjs/core';
import { MetricsExposition } from '../../src/exposition/metrics-exposition';
import { VezaMetricsExplorer } from '../../src/instrumentation/metrics-explorer';
import { AppRegistry } from '../../src/registry/app-registry';
import { CatalogDefinitions } from '../../src/registry/catalog-definitions';
import { DefaultMetrics } from '../../src/registry/default-metrics';
import { SelfMetrics } from '../../src/registry/self-metrics';
import { VezaMetricsRegistry } from '../../src/registry/veza-metrics.registry';
import { ExemplarTraces } from '../../src/tracing/exemplar-traces';
import {
  resolveOptions,
  type ResolvedVezaMetricsOptions,
  type VezaMetricsModuleOptions,
} from '../../src/veza-metrics.options';

export interface StandaloneMetrics {
  readonly options: ResolvedVezaMetricsOptions;
  readonly app: AppRegistry;
  readonly definitions: CatalogDefinitions;
  readonly self: SelfMetrics;
  readonly defaults: DefaultMetrics;
  readonly metrics: VezaMetricsRegistry;
  /** The decorators' explorer over `modules` (not initialised). */
  explorer(modules: ModulesContainer): VezaMetricsExplorer;
  /** What Nest's shutdown does to these providers: default metrics stopped, an owned registry cleared. */
  close(): void;
}

export function standaloneMetrics(given: VezaMetricsModuleOptions = {}): StandaloneMetrics {
  const options = resolveOptions(given);
  const app = new AppRegistry(options);
  const definitions = new CatalogDefinitions(options);
  const self = new SelfMetrics(app, options);
  const defaults = new DefaultMetrics(app, options);
  const exposition = new MetricsExposition(app, options);
  const metrics = new VezaMetricsRegistry(
    app,
    definitions,
    self,
    defaults,
    exposition,
    new ExemplarTraces(options),
  );
  return {
    options,
    app,
    definitions,
    self,
    defaults,
    metrics,
    explorer: (modules) => new VezaMetricsExplorer(modules, metrics, app, self, definitions),
    close: () => {
      defaults.onApplicationShutdown();
      app.onModuleDestroy();
    },
  };
}
