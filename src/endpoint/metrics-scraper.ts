import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { CounterMetric as Counter } from '../compat/client-types';
import { collectFailuresCounter } from '../exposition/collect-failures';
import type { CollectFailure } from '../exposition/render-exposition';
import { MetricsExposition } from '../exposition/metrics-exposition';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { SelfMetrics } from '../registry/self-metrics';
import { collectorFailed } from '../veza-metrics.messages';
import { ScrapeHandler } from './scrape-handler';
import { Pm2Metrics } from '../pm2/pm2-metrics';

/**
 * The application's {@link ScrapeHandler}: renders its registry, counts refusals, aborted sends and
 * failing scrape-time sources in its `veza_metrics_*` counters, and closes with the application,
 * so that no scraper, however slow, holds `app.close()`.
 */
@Injectable()
export class MetricsScraper extends ScrapeHandler implements OnModuleDestroy {
  constructor(
    self: SelfMetrics,
    exposition: MetricsExposition,
    @InjectVezaMetricsOptions() options: ResolvedOptions,
    pm2: Pm2Metrics,
  ) {
    const collectFailures = collectFailuresCounter(self);
    const rejected: Counter<'reason'> = self.counter(
      'veza_metrics_scrapes_rejected_total',
      'Scrapes refused before rendering',
      ['reason'],
    );
    const aborted: Counter<'reason'> = self.counter(
      'veza_metrics_scrapes_aborted_total',
      'Scrapes whose connection was destroyed while sending (send timeout, shutdown)',
      ['reason'],
    );
    const logger = new Logger('VezaMetrics');
    // Bound: one key per metric of the registry and reason.
    const logged = new Set<string>();
    const onCollectFailure = (metric: string, reason: CollectFailure, error: unknown): void => {
      collectFailures.inc({ metric, reason });
      const key = `${metric}:${reason}`;
      if (logged.has(key)) return;
      logged.add(key);
      logger.warn(collectorFailed(metric, reason, error));
    };
    const { auth, scrape } = options.endpoint;
    super({
      auth,
      limits: scrape,
      render: (format) => {
        const limits = {
          deadline: performance.now() + scrape.timeoutMs,
          collectTimeoutMs: scrape.collectTimeoutMs,
          onCollectFailure,
        };
        // Under pm2's cluster mode, the sum over the app's instances (src/pm2/).
        return pm2.active ? pm2.renderChunks(format, limits) : exposition.renderChunks(format, limits);
      },
      onRejected: (reason) => rejected.inc({ reason }),
      onAborted: (reason) => aborted.inc({ reason }),
    });
  }

  onModuleDestroy(): void {
    this.close();
  }
}
