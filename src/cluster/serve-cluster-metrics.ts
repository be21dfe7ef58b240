import { Logger } from '@nestjs/common';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { clusterMetricsListening, invalidClusterOption, scrapeFailed } from '../veza-metrics.messages';
import { ClusterMetricsAggregator, resolveClusterMetricsOptions, type ClusterMetricsOptions } from './cluster-aggregator';

/** Options of {@link serveClusterMetrics}. */
export interface ClusterMetricsServerOptions extends ClusterMetricsOptions {
  /** The port Prometheus scrapes (`0`: any free port, see `port` on the result). */
  port: number;
  /** The interface to listen on. @defaultValue every interface (what a Kubernetes pod needs) */
  host?: string;
  /** The path of the exposition. @defaultValue `'/metrics'` */
  path?: string;
}

/** A started {@link serveClusterMetrics} listener. */
export interface ClusterMetricsServer {
  /** The bound port. */
  readonly port: number;
  /** The exposition's URL, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  /** The aggregator behind it (its `registry` holds the primary's own metrics). */
  readonly aggregator: ClusterMetricsAggregator;
  /** Stops listening and stops asking the workers. */
  close(): Promise<void>;
}

/**
 * Serves the sum of every cluster worker's metrics from the primary: call it in the primary
 * (`cluster.isPrimary`), next to `cluster.fork()`; the workers' `VezaMetricsModule` answers by
 * itself. Prometheus then scrapes this one port instead of a random worker behind the shared one.
 * See {@link ClusterMetricsAggregator} for what happens when a worker is slow or exits.
 *
 * @example
 * ```ts
 * if (cluster.isPrimary) {
 *   for (let i = 0; i < os.availableParallelism(); i++) cluster.fork();
 *   await serveClusterMetrics({ port: 9464 });
 * } else {
 *   const app = await NestFactory.create(AppModule); // imports VezaMetricsModule.forRoot()
 *   await app.listen(3000);
 * }
 * ```
 */
export async function serveClusterMetrics(options: ClusterMetricsServerOptions): Promise<ClusterMetricsServer> {
  const { port, host, path = '/metrics', ...aggregation } = options ?? ({} as ClusterMetricsServerOptions);
  resolveClusterMetricsOptions(options, ['port', 'host', 'path']);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(invalidClusterOption('port', 'a port number from 0 to 65535', port));
  }
  if (host !== undefined && (typeof host !== 'string' || host === '')) {
    throw new Error(invalidClusterOption('host', 'a host name or address such as "0.0.0.0"', host));
  }
  if (typeof path !== 'string' || !/^\/[^\s?#]*$/.test(path)) {
    throw new Error(invalidClusterOption('path', 'an absolute path such as "/metrics" (no spaces, query or fragment)', path));
  }

  const aggregator = new ClusterMetricsAggregator(aggregation);
  const logger = new Logger('VezaMetrics');
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    if ((query === -1 ? url : url.slice(0, query)) !== path) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not Found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD' }).end('Method Not Allowed\n');
      return;
    }
    aggregator.metrics().then(
      (body) => {
        res.writeHead(200, { 'Content-Type': aggregator.contentType, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        logger.error(scrapeFailed(error));
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n');
      },
    );
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (error) {
    aggregator.close();
    throw error;
  }
  const bound = server.address() as AddressInfo;
  const shownHost = host ?? 'localhost';
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${bound.port}${path}`;
  logger.log(clusterMetricsListening(url));
  return {
    port: bound.port,
    url,
    aggregator,
    close: () =>
      new Promise<void>((resolve) => {
        aggregator.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
