import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { MetricsRegistry } from '../compat/client-types';
import { globalRegistries, selectClient, type MetricsClient } from '../compat/metrics-client';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';

/**
 * The application's Prometheus registry and the client it belongs to (prom-client or
 * `@prometheus-io/client`, chosen by src/compat/metrics-client.ts): the registry the `registry`
 * option gave, else one of the application's own, with the `defaultLabels` set. Cleared when the
 * module is destroyed, when the module created it.
 */
@Injectable()
export class AppRegistry implements OnModuleDestroy {
  /** The Prometheus client the application works with. */
  readonly client: MetricsClient;
  /** The registry `/metrics` renders. */
  readonly registry: MetricsRegistry;
  /** The module created the registry (no `registry` option). */
  readonly owned: boolean;

  constructor(@InjectVezaMetricsOptions() options: ResolvedOptions) {
    this.owned = options.registry === undefined;
    this.client = selectClient(options.registry);
    this.registry = options.registry ?? new this.client.Registry();
    const { defaultLabels } = options;
    if (Object.keys(defaultLabels).length > 0) this.registry.setDefaultLabels({ ...defaultLabels });
  }

  /** The global registries of the installed clients, but this application's own. */
  otherRegistries(): MetricsRegistry[] {
    return globalRegistries(this.client).filter((r) => r !== this.registry);
  }

  /** Nest's shutdown hook: clears the registry, when the module created it. */
  onModuleDestroy(): void {
    if (this.owned) this.registry.clear();
  }
}
