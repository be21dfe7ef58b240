import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { DefaultMetricsHandle } from '../compat/prom-client';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { defaultMonitorsShared } from '../veza-metrics.messages';
import { AppRegistry } from './app-registry';

/**
 * The client's default metrics (`process_*`, `nodejs_*`; option `defaultMetrics`): started in the
 * application's registry by `start()` (the catalog calls it once its own metrics are in, so that
 * `/metrics` lists the catalog first), stopped at shutdown.
 */
@Injectable()
export class DefaultMetrics implements OnApplicationShutdown {
  private readonly logger = new Logger('VezaMetrics');
  /** What this application started (event-loop monitor, GC observer): stopped on close. */
  private handle: DefaultMetricsHandle | undefined;
  private started = false;

  constructor(
    private readonly app: AppRegistry,
    @InjectVezaMetricsOptions() private readonly options: ResolvedOptions,
  ) {}

  /** Registers the default metrics, when the options ask for them; once. */
  start(): void {
    if (this.started || !this.options.defaultMetrics.enabled) return;
    this.started = true;
    const { prefix } = this.options.defaultMetrics;
    const { registry, client } = this.app;
    const { seam } = client;
    // A registry the app brought may already hold them (a previous app, or the app itself).
    if (registry.getSingleMetric(`${prefix}process_cpu_user_seconds_total`) === undefined) {
      this.handle = seam.startDefaultMetrics(registry, prefix);
      const { monitors, observers } = this.handle.started;
      if (!this.handle.shared && (monitors !== 1 || observers !== 1))
        this.logger.warn(defaultMonitorsShared(monitors, observers, seam.version, seam.name));
    }
    // Names that break Prometheus' naming rules: left out (docs/design-notes.md, registry section).
    for (const name of seam.nonConformingDefaults) registry.removeSingleMetric(`${prefix}${name}`);
  }

  /**
   * Stops the event-loop monitor and the GC observer this application started: last, after the
   * final Pushgateway push (which reads them) and once the HTTP server is closed. In a registry the
   * application brought, those metrics are taken out too, so that the next application starts live
   * ones.
   */
  onApplicationShutdown(): void {
    const handle = this.handle;
    if (!handle) return;
    this.handle = undefined;
    handle.stop();
    if (!this.app.owned) for (const name of handle.names) this.app.registry.removeSingleMetric(name);
  }
}
