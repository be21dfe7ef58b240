import { Injectable, type INestApplication } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { VezaMetricsModule, VezaMetricsRegistry } from '../../src';
import { MetricsScraper } from '../../src/endpoint/metrics-scraper';
import { ADAPTERS, startApp, type AdapterKind } from '../utils/app';
import { parseExposition, sampleValue } from '../utils/exposition';
import { rawRequest } from '../utils/raw-http';
import { until } from '../utils/until';

/** Registers gauges whose scrape-time source is slow, failing or never settles. */
@Injectable()
class Sources {
  constructor(metrics: VezaMetricsRegistry) {
    const registers = [metrics.registry as Registry];
    new Gauge({
      name: 'app_slow_source',
      help: 'A source that takes 300 ms',
      registers,
      async collect() {
        await new Promise((resolve) => setTimeout(resolve, 300));
        this.set(1);
      },
    });
    new Gauge({
      name: 'app_failing_source',
      help: 'A source that throws',
      registers,
      collect() {
        throw new Error('database down');
      },
    });
    new Gauge({
      name: 'app_hanging_source',
      help: 'A source that never settles',
      registers,
      collect() {
        return new Promise<void>(() => undefined);
      },
    });
  }
}

describe.each(ADAPTERS)('scrapes that cannot stall or break (%s)', (kind: AdapterKind) => {
  let app: INestApplication;
  let url: string;
  beforeAll(async () => {
    ({ app, url } = await startApp(kind, {
      imports: [VezaMetricsModule.forRoot({ scrape: { maxConcurrent: 1, collectTimeoutMs: 500 } })],
      providers: [Sources],
    }));
  });
  afterAll(() => app.close());

  it('answers 200 with every other metric when a source throws or hangs, and counts each failure', async () => {
    // A hanging source would hold the scrape forever; rawRequest gives up (and fails the test) after 10 s.
    const res = await rawRequest(url, '/metrics');
    expect(res.status).toBe(200);
    const families = parseExposition(res.body);
    expect(families.has('app_failing_source')).toBe(false);
    expect(families.has('app_hanging_source')).toBe(false);
    expect(sampleValue(res.body, 'app_slow_source')).toBe(1);
    expect(families.get('veza_http_requests_total')?.type).toBe('counter');
    const next = await rawRequest(url, '/metrics');
    expect(
      sampleValue(next.body, 'veza_metrics_collect_failures_total', {
        metric: 'app_failing_source',
        reason: 'error',
      }),
    ).toBe(1);
    expect(
      sampleValue(next.body, 'veza_metrics_collect_failures_total', {
        metric: 'app_hanging_source',
        reason: 'timeout',
      }),
    ).toBe(1);
  });

  it('answers 503 at once to scrapes beyond the concurrency limit', async () => {
    const answers = await Promise.all([
      rawRequest(url, '/metrics'),
      rawRequest(url, '/metrics'),
      rawRequest(url, '/metrics'),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 503, 503]);
    const refused = answers.find((a) => a.status === 503);
    expect(refused?.headers['retry-after']).toBe('1');
    const after = await rawRequest(url, '/metrics');
    expect(sampleValue(after.body, 'veza_metrics_scrapes_rejected_total', { reason: 'concurrency' })).toBe(2);
  });

  it('answers in OpenMetrics when the scraper asks for it', async () => {
    const res = await rawRequest(url, '/metrics', {
      headers: {
        Accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      },
    });
    expect(res.headers['content-type']).toBe(Registry.OPENMETRICS_CONTENT_TYPE);
    expect(res.body.endsWith('\n# EOF\n')).toBe(true);
    expect(res.body).toContain('# TYPE veza_auth_login_attempts counter\n');
    expect(res.body).toContain('# TYPE veza_auth_sessions_active gauge\nveza_auth_sessions_active 0\n');
    expect(res.body).toMatch(/^veza_tracks_uploaded_total 0$/m);
  });
});

describe('a scrape whose response something else answered first (express)', () => {
  it('leaves that answer alone, and nothing is thrown or rejected', async () => {
    const errors: unknown[] = [];
    const onError = (error: unknown): void => void errors.push(error);
    const { app, url } = await startApp(
      'express',
      { imports: [VezaMetricsModule.forRoot({ defaultMetrics: false })], providers: [Sources] },
      (a) => {
        // A timeout middleware: it answers 503 while the scrape still waits for its 300 ms source.
        a.use(
          (
            req: { url?: string },
            res: { headersSent: boolean; writeHead(s: number): { end(b: string): void } },
            next: () => void,
          ) => {
            if (req.url === '/metrics')
              setTimeout(() => res.headersSent || res.writeHead(503).end('busy\n'), 20);
            next();
          },
        );
      },
    );
    process.on('uncaughtException', onError).on('unhandledRejection', onError);
    try {
      const res = await rawRequest(url, '/metrics');
      expect([res.status, res.body]).toEqual([503, 'busy\n']);
      // The render ends after the source's 300 ms, finds the response answered, and lets its hold go.
      const scraper = app.get(MetricsScraper);
      await until(() => scraper.bytesInFlight === 0, 'the render to end');
      expect((await rawRequest(url, '/metrics')).status).toBe(503);
      await until(() => scraper.bytesInFlight === 0, 'the second render to end');
    } finally {
      process.off('uncaughtException', onError).off('unhandledRejection', onError);
      await app.close();
    }
    expect(errors).toEqual([]);
  });
});
