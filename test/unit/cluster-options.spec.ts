import { Logger } from '@nestjs/common';
import { ClusterMetricsAggregator, serveClusterMetrics, type ClusterMetricsServerOptions } from '../../src';
import { resolveOptions } from '../../src/veza-metrics.options';
import { sampleValue } from '../utils/exposition';
import { parseExposition } from '../utils/exposition';
import { metricsContext } from '../utils/module';
import { accepts, expectLoopbackOnly, externalIPv4 } from '../utils/raw-http';

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
    [
      'no options',
      undefined,
      'VezaMetrics cluster: option "port" must be a TCP port from 0 to 65535 (0: any free port), got undefined.',
    ],
    [
      'an unknown key',
      { port: 0, timeout: 5 },
      'VezaMetrics cluster: unknown option "timeout"; expected one of timeoutMs, aggregators, maxWorkerSamples, port, host, path, auth, scrape.',
    ],
    [
      'a port out of range',
      { port: 70_000 },
      'VezaMetrics cluster: option "port" must be a TCP port from 0 to 65535 (0: any free port), got number 70000.',
    ],
    [
      'an empty host',
      { port: 0, host: '' },
      'VezaMetrics cluster: option "host" must be a host name or address such as "127.0.0.1", got the string "".',
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
      'a fractional maxWorkerSamples',
      { port: 0, maxWorkerSamples: 1.5 },
      'VezaMetrics cluster: option "maxWorkerSamples" must be an integer from 1 to 100000000, got number 1.5.',
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
      'VezaMetrics cluster: unknown option "port"; expected one of timeoutMs, aggregators, maxWorkerSamples.',
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
        'veza_metrics_cluster_retired_samples',
        'veza_metrics_cluster_scrapes_aborted_total',
        'veza_metrics_cluster_scrapes_rejected_total',
        'veza_metrics_cluster_worker_errors_total',
        'veza_metrics_cluster_worker_timeouts_total',
        'veza_metrics_cluster_worker_up',
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

  /** The module's message for the same `auth` / `scrape` value. */
  function moduleError(options: Record<string, unknown>): string {
    try {
      resolveOptions(options);
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  }

  it.each([
    ['an empty bearer token', { auth: { bearerToken: '' } }],
    ['an unknown auth key', { auth: { token: 'x' } }],
    ['auth without credentials', { auth: {} }],
    ['a basic user name with a colon', { auth: { basic: { username: 'a:b', password: 'p' } } }],
    ['basic without a password', { auth: { basic: { username: 'a' } } }],
    ['a string as scrape', { scrape: 'fast' }],
    ['an unknown scrape key', { scrape: { concurrency: 2 } }],
    ['a zero maxConcurrent', { scrape: { maxConcurrent: 0 } }],
    ['a fractional timeoutMs', { scrape: { timeoutMs: 1.5 } }],
    ['a collectTimeoutMs above timeoutMs', { scrape: { timeoutMs: 1_000, collectTimeoutMs: 2_000 } }],
  ])('auth and scrape are checked as the module checks them: %s', async (_what, options) => {
    const expected = moduleError(options);
    expect(expected).toMatch(/^VezaMetricsModule: (option|unknown option) "(auth|scrape)/);
    expect(await serveError({ port: 0, ...options })).toBe(
      expected.replace('VezaMetricsModule:', 'VezaMetrics cluster:'),
    );
  });

  it('names the option and hides the secret, as the module does', async () => {
    expect(await serveError({ port: 0, auth: { bearerToken: '' } })).toBe(
      'VezaMetrics cluster: option "auth.bearerToken" must be a non-empty string, got the string "(hidden)".',
    );
  });

  it('a port in use fails with a message naming the address', async () => {
    const first = await serveClusterMetrics({ port: 0 });
    try {
      expect(await serveError({ port: first.port })).toMatch(
        new RegExp(
          `^VezaMetrics cluster: option "port" could not listen on 127\\.0\\.0\\.1:${first.port} \\(.*EADDRINUSE.*\\); choose a free port\\.$`,
        ),
      );
    } finally {
      await first.close();
    }
  });

  it('locks the endpoint with auth: 401 and a challenge without the credentials, 200 with them', async () => {
    const server = await serveClusterMetrics({
      port: 0,
      auth: { bearerToken: 's3cret', basic: { username: 'prom', password: 'pw' } },
    });
    try {
      const none = await fetch(server.url);
      expect([none.status, none.headers.get('www-authenticate'), await none.text()]).toEqual([
        401,
        'Bearer realm="metrics", Basic realm="metrics", charset="UTF-8"',
        'Unauthorized\n',
      ]);
      const wrong = await fetch(server.url, { headers: { authorization: 'Bearer s3cre' } });
      expect(wrong.status).toBe(401);
      expect((await fetch(server.url, { method: 'HEAD' })).status).toBe(401);
      const bearer = await fetch(server.url, { headers: { authorization: 'Bearer s3cret' } });
      expect(bearer.status).toBe(200);
      await bearer.text();
      const basic = await fetch(server.url, {
        headers: { authorization: `Basic ${Buffer.from('prom:pw').toString('base64')}` },
      });
      expect(basic.status).toBe(200);
      const text = await basic.text();
      expect(
        sampleValue(text, 'veza_metrics_cluster_scrapes_rejected_total', { reason: 'unauthorized' }),
      ).toBe(3);
    } finally {
      await server.close();
    }
  });

  it('answers OpenMetrics to a scraper that asks for it, as the module does', async () => {
    const server = await serveClusterMetrics({ port: 0 });
    try {
      const res = await fetch(server.url, {
        headers: { accept: 'application/openmetrics-text; version=1.0.0' },
      });
      expect(res.headers.get('content-type')).toBe(
        'application/openmetrics-text; version=1.0.0; charset=utf-8',
      );
      const text = await res.text();
      expect(text).toContain(
        '# TYPE veza_metrics_cluster_worker_timeouts counter\nveza_metrics_cluster_worker_timeouts_total 0\n',
      );
      expect(text.endsWith('# EOF\n')).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('listens on the loopback interface only, unless host says otherwise', async () => {
    const external = externalIPv4();
    const server = await serveClusterMetrics({ port: 0 });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
      await expectLoopbackOnly(server.port);
    } finally {
      await server.close();
    }
    const open = await serveClusterMetrics({ port: 0, host: '0.0.0.0' });
    try {
      expect(open.url).toBe(`http://0.0.0.0:${open.port}/metrics`);
      if (external) expect(await accepts(external, open.port)).toBe(true);
    } finally {
      await open.close();
    }
  });

  it('a process that is not a cluster worker does not listen to its IPC channel', async () => {
    const listeners = process.listenerCount('message');
    const ctx = await metricsContext({ cluster: true });
    expect(process.listenerCount('message')).toBe(listeners);
    await ctx.close();
  });
});
