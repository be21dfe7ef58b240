import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { MetricsRegistry } from '../compat/client-types';
import { globalRegistries, selectClient, type MetricsClient } from '../compat/metrics-client';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';

/**
 * The application's Prometheus registry and the client it belongs to (prom-client or
 * `@prometheus-io/client`, chosen by src/compat/metrics-client.ts): the registry the `registry`
 * option gave, else one of the application's own, with the `defaultLabels` set. Cleared when the
 * module is destroyed, when the module created it (or once what {@link AppRegistry.keepUntil} was
 * given settles).
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

  /** What the registry is kept for after the module is destroyed (see {@link AppRegistry.keepUntil}). */
  private readonly holds: Promise<unknown>[] = [];

  /**
   * Keeps the registry as it is past the module's destruction, until `until` settles: for a read
   * once the HTTP server is closed (the final state of a pm2 instance, src/pm2/), which the requests
   * served until then are counted in.
   */
  keepUntil(until: Promise<unknown>): void {
    this.holds.push(until);
  }

  /**
   * Nest's shutdown hook: clears the registry, when the module created it (Nest 10 and 11 call every
   * provider's at once: a provider that reads the registry later holds it with `keepUntil`).
   */
  onModuleDestroy(): void {
    if (!this.owned) return;
    if (this.holds.length === 0) {
      this.registry.clear();
      return;
    }
    // Kept for a second call too (a hook called by hand): the registry is cleared once they settle.
    void Promise.allSettled([...this.holds]).then(() => this.registry.clear());
  }
}
