import { Injectable, Logger } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { metricsServed } from '../veza-metrics.messages';
import { MetricsScraper, type ScrapeRequest } from './metrics-scraper';

/**
 * Serves the exposition at the configured path, on the application's own HTTP adapter.
 *
 * A route registered on the adapter rather than a Nest controller: its path comes from options that
 * `forRootAsync` only knows at run time, and each application gets its own, where a controller's
 * path is static metadata shared by every application in the process.
 */
@Injectable()
export class MetricsEndpoint {
  private readonly logger = new Logger('VezaMetrics');

  constructor(
    private readonly metrics: VezaMetricsRegistry,
    private readonly scraper: MetricsScraper,
  ) {}

  /** Registers `GET` (and so `HEAD`) on the configured path, unless `appEndpoint: false`. */
  register(adapter: AbstractHttpAdapter): void {
    if (!this.metrics.options.endpoint.app) return;
    const path = this.metrics.options.path;
    adapter.get(path, (req: ScrapeRequest, res: unknown) => {
      void this.scraper.scrape(req).then((answer) => {
        for (const [name, value] of Object.entries(answer.headers)) adapter.setHeader(res, name, value);
        adapter.reply(res, answer.body, answer.status);
      });
    });
    this.logger.log(metricsServed(path));
  }
}
