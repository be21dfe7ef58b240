import { Injectable, Logger } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { metricsServed, scrapeFailed } from '../veza-metrics.messages';

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

  constructor(private readonly metrics: VezaMetricsRegistry) {}

  /** Registers `GET` (and so `HEAD`) on the configured path. */
  register(adapter: AbstractHttpAdapter): void {
    const path = this.metrics.options.path;
    adapter.get(path, (_req: unknown, res: unknown) => {
      void this.respond(adapter, res);
    });
    this.logger.log(metricsServed(path));
  }

  private async respond(adapter: AbstractHttpAdapter, res: unknown): Promise<void> {
    try {
      const body = await this.metrics.render();
      adapter.setHeader(res, 'Content-Type', this.metrics.contentType);
      adapter.setHeader(res, 'Cache-Control', 'no-store');
      adapter.reply(res, body, 200);
    } catch (error) {
      this.logger.error(scrapeFailed(error));
      adapter.setHeader(res, 'Content-Type', 'text/plain; charset=utf-8');
      adapter.reply(res, 'metrics unavailable\n', 500);
    }
  }
}
