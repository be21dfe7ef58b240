import { Logger } from '@nestjs/common';
import { ClusterMetricsAggregator, serveClusterMetrics, type ClusterMetricsServerOptions } from '../../src';
import { parseExposition } from '../utils/exposition';
import { metricsContext } from '../utils/module';

async function serveError(options: unknown): Promise<string> {
  try {
    const server = await serveClusterMetrics(options as ClusterMetricsServerOptions);
    await server.close();
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('cluster options', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it.each([
    ['no options', undefined, 'VezaMetrics cluster: option "port" must be a port number from 0 to 65535, got undefined.'],
    [
      'an unknown key',
      { port: 0, timeout: 5 },
      'VezaMetrics cluster: unknown option "timeout"; expected one of timeoutMs, aggregators, port, host, path.',
    ],
    [
      'a port out of range',
      { port: 70_000 },
      'VezaMetrics cluster: option "port" must be a port number from 0 to 65535, got number 70000.',
    ],
    [
      'an empty host',
      { port: 0, host: '' },
      'VezaMetrics cluster: option "host" must be a host name or address such as "0.0.0.0", got the string "".',
    ],
    [
      'a relative path',
      { port: 0, path: 'metrics' },
      'VezaMetrics cluster: option "path" must be an absolute path such as "/metrics" (no spaces, query or fragment), got the string "metrics".',
    ],
    [
      'a zero timeout',
      { port: 0, timeoutMs: 0 },
      'VezaMetrics cluster: option "timeoutMs" must be a positive whole number of milliseconds, got number 0.',
    ],
    [
      'an unknown aggregator',
      { port: 0, aggregators: { veza_active_users: 'median' } },
      'VezaMetrics cluster: option "aggregators.veza_active_users" must be one of "sum", "min", "max", "average", "first", "omit", got the string "median".',
    ],
    [
      'a class instance instead of a plain object',
      new (class {
        port = 0;
        host = '127.0.0.1';
      })(),
      'VezaMetrics cluster: option "options" must be a plain object, got an instance of an anonymous class ({"port":0,"host":"127.0.0.1"}).',
    ],
  ])('serveClusterMetrics fails on %s', async (_what, options, message) => {
    expect(await serveError(options)).toBe(message);
  });

  it('ClusterMetricsAggregator validates its options too', () => {
    expect(() => new ClusterMetricsAggregator({ port: 1 } as never)).toThrow(
      'VezaMetrics cluster: unknown option "port"; expected one of timeoutMs, aggregators.',
    );
  });

  it('with no worker at all, a scrape answers at once with the self-metrics only', async () => {
    const server = await serveClusterMetrics({ port: 0, host: '127.0.0.1' });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
      const res = await fetch(server.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const families = parseExposition(await res.text());
      expect([...families.keys()].sort()).toEqual([
        'veza_metrics_cluster_worker_errors_total',
        'veza_metrics_cluster_worker_timeouts_total',
        'veza_metrics_cluster_workers',
      ]);
      expect(families.get('veza_metrics_cluster_workers')?.samples[0]?.value).toBe(0);
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
      const post = await fetch(server.url, { method: 'POST' });
      expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    } finally {
      await server.close();
    }
  });

  it('a process that is not a cluster worker does not listen to its IPC channel', async () => {
    const listeners = process.listenerCount('message');
    const ctx = await metricsContext({ cluster: true });
    expect(process.listenerCount('message')).toBe(listeners);
    await ctx.close();
  });
});
