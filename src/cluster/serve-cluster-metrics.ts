import { Logger } from '@nestjs/common';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { routeMetrics } from '../endpoint/metrics-router';
import { ScrapeHandler } from '../endpoint/scrape-handler';
import { authRule, listenHost, scrapeRule, tcpPort } from '../options/resolve-endpoint-options';
import { check, object, shapeOf } from '../options/option-schema';
import type { MetricsAuthOptions, ScrapeOptions } from '../options/veza-metrics-options.interface';
import {
  asClusterOptionMessage,
  metricsServerFailed,
  metricsServerListening,
} from '../veza-metrics.messages';
import { ClusterMetricsAggregator, type ClusterMetricsOptions } from './cluster-aggregator';
import { CLUSTER_AT, clusterMetricsOf, clusterMetricsShape } from './cluster-options';

/**
 * The primary's default interface: the loopback one. An endpoint that answers every metric of every
 * worker is reachable from outside the machine only when `host` says so (`'0.0.0.0'`, the pod's
 * address), ideally with `auth`; a forgotten `host` shows as a target down, never as an open port.
 */
export const DEFAULT_CLUSTER_HOST = '127.0.0.1';

/** Options of {@link serveClusterMetrics}. */
export interface ClusterMetricsServerOptions extends ClusterMetricsOptions {
  /** The port Prometheus scrapes (`0`: any free port, see `port` on the result). */
  port: number;
  /**
   * The interface to listen on, as `metricsServer.host`. Prometheus in another pod or host needs
   * `'0.0.0.0'` (or the pod's address); then set `auth` too.
   * @defaultValue `'127.0.0.1'` (this machine only)
   */
  host?: string;
  /** The path of the exposition. @defaultValue `'/metrics'` */
  path?: string;
  /** Credentials every scrape must carry, as the module's `auth`: 401 with a challenge otherwise. */
  auth?: MetricsAuthOptions;
  /**
   * The module's scrape limits (`maxConcurrent`, `timeoutMs`, `maxBytesInFlight`, `sendTimeoutMs`,
   * ...), same defaults: a scrape waits for the workers within `scrape.timeoutMs` too.
   */
  scrape?: ScrapeOptions;
}

/** A started {@link serveClusterMetrics} listener. */
export interface ClusterMetricsServer {
  /** The bound port. */
  readonly port: number;
  /** The exposition's URL, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  /** The aggregator behind it (its `registry` holds the primary's own metrics). */
  readonly aggregator: ClusterMetricsAggregator;
  /** Stops listening, ends the scrapes being sent and stops asking the workers. */
  close(): Promise<void>;
}

/**
 * The aggregator's options, then `port`, `host`, `auth` and `scrape` by the module's own rules
 * (`metricsServer.port`, `metricsServer.host`, ...), said of these options, then `path`.
 */
export const SERVE_CLUSTER_OPTIONS_SCHEMA = object(
  shapeOf<ClusterMetricsServerOptions>()({
    ...clusterMetricsShape,
    port: tcpPort,
    host: listenHost(DEFAULT_CLUSTER_HOST),
    path: check<string>(
      (v) => typeof v === 'string' && /^\/[^\s?#]*$/.test(v),
      'an absolute path such as "/metrics" (no spaces, query or fragment)',
      '/metrics',
    ),
    auth: authRule,
    scrape: scrapeRule,
  }),
  'a plain object',
  { order: ['timeoutMs', 'aggregators', 'maxWorkerSamples', 'port', 'host', 'auth', 'scrape', 'path'] },
);

/**
 * Serves the sum of every cluster worker's metrics from the primary: call it in the primary
 * (`cluster.isPrimary`), next to `cluster.fork()`; the workers' `VezaMetricsModule` answers by
 * itself. Prometheus then scrapes this one port instead of a random worker behind the shared one.
 * The endpoint is the module's `metricsServer`: the same `host`, `auth` and `scrape` options,
 * checks, limits, send timeout and self-metrics (named `veza_metrics_cluster_*` here). See
 * {@link ClusterMetricsAggregator} for what happens when a worker is slow or exits.
 *
 * @example
 * ```ts
 * if (cluster.isPrimary) {
 *   for (let i = 0; i < os.availableParallelism(); i++) cluster.fork();
 *   await serveClusterMetrics({ port: 9464, host: '0.0.0.0', auth: { bearerToken: process.env.METRICS_TOKEN } });
 * } else {
 *   const app = await NestFactory.create(AppModule); // imports VezaMetricsModule.forRoot({ appEndpoint: false })
 *   await app.listen(3000);
 * }
 * ```
 */
export async function serveClusterMetrics(
  options: ClusterMetricsServerOptions,
): Promise<ClusterMetricsServer> {
  const { timeoutMs, aggregators, maxWorkerSamples, port, host, path, auth, scrape } =
    SERVE_CLUSTER_OPTIONS_SCHEMA.resolve(options ?? {}, CLUSTER_AT, {});
  const endpoint = { auth, scrape };
  const listen = { port, host };

  const aggregator = new ClusterMetricsAggregator(
    clusterMetricsOf({ timeoutMs, aggregators, maxWorkerSamples }),
  );
  const registers = [aggregator.registry];
  const { Counter } = aggregator.client;
  const rejected = new Counter({
    name: 'veza_metrics_cluster_scrapes_rejected_total',
    help: 'Scrapes refused before rendering',
    labelNames: ['reason'],
    registers,
  });
  const aborted = new Counter({
    name: 'veza_metrics_cluster_scrapes_aborted_total',
    help: 'Scrapes whose connection was destroyed while sending (send timeout, shutdown)',
    labelNames: ['reason'],
    registers,
  });
  const limits = endpoint.scrape;
  const handler = new ScrapeHandler({
    auth: endpoint.auth,
    limits,
    render: (format) =>
      aggregator.renderChunks(format, {
        deadline: performance.now() + limits.timeoutMs,
        collectTimeoutMs: limits.collectTimeoutMs,
        onCollectFailure: () => undefined,
      }),
    onRejected: (reason) => rejected.inc({ reason }),
    onAborted: (reason) => aborted.inc({ reason }),
  });
  const server: Server = createServer((req, res) => routeMetrics(path, handler, req, res));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(new Error(asClusterOptionMessage(metricsServerFailed(listen.host, listen.port, error)))),
      );
      server.listen(listen.port, listen.host, () => resolve());
    });
  } catch (error) {
    aggregator.close();
    handler.close();
    throw error;
  }
  const bound = server.address() as AddressInfo;
  const url = `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${bound.port}${path}`;
  new Logger('VezaMetrics').log(metricsServerListening(listen.host, bound.port, path));
  return {
    port: bound.port,
    url,
    aggregator,
    close: () =>
      new Promise<void>((resolve) => {
        aggregator.close();
        handler.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
