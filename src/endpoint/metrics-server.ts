import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { metricsServerFailed, metricsServerListening } from '../veza-metrics.messages';
import { routeMetrics } from './metrics-router';
import { MetricsScraper } from './metrics-scraper';

/**
 * The optional listener of its own for `/metrics` (option `metricsServer`): nothing but the
 * metrics path is served there, matched exactly (no case folding, trailing slash or decoding), so
 * the application's routes, guards and prefix never apply. Starts with the application (a port in
 * use fails the start-up) and closes with it. Works for application contexts without HTTP too.
 *
 * Exported so that an application can inject it, or `app.get()` it, to read the bound address.
 *
 * @example
 * ```ts
 * // metricsServer: { port: 0 } in a test: ask the server which port it got.
 * const port = app.get(MetricsServer).address()?.port;
 * await fetch(`http://127.0.0.1:${port}/metrics`);
 * ```
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('VezaMetrics');
  private server: Server | undefined;

  /** @internal Nest's injector builds it; the module provides it. */
  constructor(
    @InjectVezaMetricsOptions() private readonly options: ResolvedOptions,
    private readonly scraper: MetricsScraper,
  ) {}

  /** The bound address, once listening (useful with `port: 0`). */
  address(): AddressInfo | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  /** Nest's start-up hook: starts listening, when the option `metricsServer` is set. */
  async onApplicationBootstrap(): Promise<void> {
    const options = this.options.endpoint.server;
    if (!options || this.server) return;
    const server = createServer((req, res) => routeMetrics(this.options.path, this.scraper, req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(new Error(metricsServerFailed(options.host, options.port, error))),
      );
      server.listen(options.port, options.host, () => resolve());
    });
    this.server = server;
    const bound = this.address();
    this.logger.log(
      metricsServerListening(bound?.address ?? options.host, bound?.port ?? options.port, this.options.path),
    );
  }

  /** Nest's shutdown hook: closes the listener and its connections. */
  async onModuleDestroy(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
