import { Controller, Get, Injectable, Logger, Module, Param } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { connect } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import { MetricsServer, VezaMetricsModule, type VezaMetricsModuleOptions } from '../../src';
import { ADAPTERS, scrape, startApp, type StartedApp } from '../utils/app';
import { parseExposition, sampleValue } from '../utils/exposition';
import { freePort } from '../utils/prometheus';
import { rawRequest } from '../utils/raw-http';

@Controller('tracks')
class TracksController {
  @Get(':id')
  get(@Param('id') id: string): { id: string } {
    return { id };
  }
}

async function withApp(
  kind: (typeof ADAPTERS)[number],
  imports: NonNullable<Parameters<typeof startApp>[1]['imports']>,
  run: (s: StartedApp) => Promise<void>,
): Promise<void> {
  const started = await startApp(kind, { imports, controllers: [TracksController] });
  try {
    await run(started);
  } finally {
    await started.app.close();
  }
}

describe.each(ADAPTERS)('module options over real HTTP (%s)', (kind) => {
  it("serves the exposition at /metrics by default, with prom-client's exact Content-Type", async () => {
    await withApp(kind, [VezaMetricsModule.forRoot()], async ({ url }) => {
      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
      const text = await res.text();
      expect(text).toContain('# TYPE veza_http_requests_total counter');
      expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
    });
  });

  it('serves at the configured path only', async () => {
    await withApp(kind, [VezaMetricsModule.forRoot({ path: '/internal/prometheus' })], async ({ url }) => {
      expect(await scrape(url, '/internal/prometheus')).toContain('veza_auth_sessions_active 0');
      expect((await fetch(`${url}/metrics`)).status).toBe(404);
    });
  });

  it('turns default metrics off, or prefixes them', async () => {
    await withApp(kind, [VezaMetricsModule.forRoot({ defaultMetrics: false })], async ({ url }) => {
      const text = await scrape(url);
      expect(text).not.toContain('process_cpu_user_seconds_total');
      expect(text).not.toContain('nodejs_');
      expect(text).toContain('veza_active_users 0');
    });
    await withApp(
      kind,
      [VezaMetricsModule.forRoot({ defaultMetrics: { prefix: 'veza_node_' } })],
      async ({ url }) => {
        const text = await scrape(url);
        expect(text).toContain('# TYPE veza_node_process_cpu_user_seconds_total counter');
        expect(text).not.toMatch(/^process_cpu_user_seconds_total/m);
      },
    );
  });

  it('adds default labels to every series', async () => {
    await withApp(
      kind,
      [VezaMetricsModule.forRoot({ defaultLabels: { service: 'veza-api', env: 'test' } })],
      async ({ url }) => {
        await fetch(`${url}/tracks/1`);
        const families = parseExposition(await scrape(url));
        let series = 0;
        for (const family of families.values()) {
          for (const sample of family.samples) {
            series++;
            expect(sample.labels.env).toBe('test');
            // veza_health_check_* carry their own "service" label (the checked service); every other series gets the default.
            if (!family.name.startsWith('veza_health_check')) expect(sample.labels.service).toBe('veza-api');
          }
        }
        expect(series).toBeGreaterThan(50);
      },
    );
  });

  it('uses a registry the app brings', async () => {
    const registry = new Registry();
    await withApp(kind, [VezaMetricsModule.forRoot({ registry, defaultMetrics: false })], async ({ url }) => {
      await fetch(`${url}/tracks/9`);
      const text = await registry.metrics();
      expect(sampleValue(text, 'veza_http_requests_total', { endpoint: '/tracks/:id', status: '2xx' })).toBe(
        1,
      );
      expect(await scrape(url)).toBe(text);
    });
  });

  it('serves a multi-megabyte exposition whole, on the app port and on a listener of its own, with an exact Content-Length', async () => {
    const registry = new Registry();
    // ~4 MiB: 64 chunks of the renderer, paced over several turns of the event loop on the way out.
    const big = new Gauge({
      name: 'app_big_labels',
      help: 'Series with long label values',
      labelNames: ['key'],
      registers: [registry],
    });
    for (let i = 0; i < 2000; i++) big.set({ key: `${i}-${'x'.repeat(2100)}` }, i);
    const options = { registry, defaultMetrics: false, metricsServer: { port: 0, host: '127.0.0.1' } };
    await withApp(kind, [VezaMetricsModule.forRoot(options)], async ({ app, url }) => {
      const expected = await registry.metrics();
      expect(Buffer.byteLength(expected)).toBeGreaterThan(4 * 2 ** 20);
      const own = `http://127.0.0.1:${app.get(MetricsServer).address()?.port ?? 0}`;
      for (const base of [url, own]) {
        const get = await rawRequest(base, '/metrics');
        expect([get.status, get.headers['content-length']]).toEqual([
          200,
          String(Buffer.byteLength(expected)),
        ]);
        expect(get.body === expected).toBe(true);
        const head = await rawRequest(base, '/metrics', { method: 'HEAD' });
        expect([head.status, head.headers['content-length'], head.body]).toEqual([
          200,
          String(Buffer.byteLength(expected)),
          '',
        ]);
      }
      // Scrapers that hang up after the first bytes: the app logs nothing, throws nothing, and serves the next scrape whole.
      const errors: unknown[] = [];
      const onError = (error: unknown): void => void errors.push(error);
      process.on('uncaughtException', onError).on('unhandledRejection', onError);
      try {
        for (const base of [url, own]) {
          for (let i = 0; i < 5; i++) await hangUpAfterFirstBytes(base);
          const after = await rawRequest(base, '/metrics');
          expect([after.status, after.body === expected]).toEqual([200, true]);
        }
      } finally {
        process.off('uncaughtException', onError).off('unhandledRejection', onError);
      }
      expect(errors).toEqual([]);
    });
  });

  it("overrides a histogram's buckets", async () => {
    await withApp(
      kind,
      [VezaMetricsModule.forRoot({ buckets: { veza_http_request_duration_seconds: [0.25, 2.5] } })],
      async ({ url }) => {
        await fetch(`${url}/tracks/1`);
        const text = await scrape(url);
        const les = parseExposition(text)
          .get('veza_http_request_duration_seconds')
          ?.samples.filter((s) => s.name.endsWith('_bucket'))
          .map((s) => s.labels.le);
        expect(les).toEqual(['0.25', '2.5', '+Inf']);
      },
    );
  });

  it('labels the status by class by default and by code with statusLabel "code"', async () => {
    await withApp(kind, [VezaMetricsModule.forRoot()], async ({ url }) => {
      await fetch(`${url}/tracks/1`);
      await fetch(`${url}/nowhere`);
      const text = await scrape(url);
      expect(sampleValue(text, 'veza_http_requests_total', { endpoint: '/tracks/:id', status: '2xx' })).toBe(
        1,
      );
      expect(sampleValue(text, 'veza_http_requests_total', { endpoint: '<unmatched>', status: '4xx' })).toBe(
        1,
      );
    });
    await withApp(kind, [VezaMetricsModule.forRoot({ statusLabel: 'code' })], async ({ url }) => {
      await fetch(`${url}/tracks/1`);
      await fetch(`${url}/nowhere`);
      const text = await scrape(url);
      expect(sampleValue(text, 'veza_http_requests_total', { endpoint: '/tracks/:id', status: '200' })).toBe(
        1,
      );
      expect(sampleValue(text, 'veza_http_requests_total', { endpoint: '<unmatched>', status: '404' })).toBe(
        1,
      );
    });
  });

  it('renames the two non-conforming metrics and drops prom-client\'s *_total gauges with naming "strict"', async () => {
    await withApp(kind, [VezaMetricsModule.forRoot({ naming: 'strict' })], async ({ url }) => {
      const families = parseExposition(await scrape(url));
      expect(families.get('veza_health_check_duration_seconds')?.type).toBe('histogram');
      expect(families.get('veza_live_stream_viewers')?.type).toBe('gauge');
      expect(families.has('veza_health_check_duration_ms')).toBe(false);
      expect(families.has('veza_live_stream_viewers_total')).toBe(false);
      expect(families.has('nodejs_active_handles_total')).toBe(false);
      expect(families.has('nodejs_active_handles')).toBe(true);
    });
  });
});

describe.each(ADAPTERS)('forRootAsync (%s)', (kind) => {
  const env = { METRICS_PATH: '/ops/metrics', SERVICE_NAME: 'veza-async' };

  @Injectable()
  class MetricsConfig {
    createVezaMetricsOptions(): VezaMetricsModuleOptions {
      return { path: '/class/metrics', defaultLabels: { service: 'from-class' } };
    }
  }

  @Module({ providers: [MetricsConfig], exports: [MetricsConfig] })
  class MetricsConfigModule {}

  it('takes its options from ConfigService through useFactory', async () => {
    const imports = [
      VezaMetricsModule.forRootAsync({
        imports: [ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => env] })],
        inject: [ConfigService],
        useFactory: (config: ConfigService) => ({
          path: config.getOrThrow<string>('METRICS_PATH'),
          defaultLabels: { service: config.getOrThrow<string>('SERVICE_NAME') },
        }),
      }),
    ];
    await withApp(kind, imports, async ({ url }) => {
      const text = await scrape(url, '/ops/metrics');
      expect(text).toContain('veza_active_users{service="veza-async"} 0');
    });
  });

  it('takes its options from a class through useClass', async () => {
    await withApp(kind, [VezaMetricsModule.forRootAsync({ useClass: MetricsConfig })], async ({ url }) => {
      expect(await scrape(url, '/class/metrics')).toContain('veza_active_users{service="from-class"} 0');
    });
  });

  it('takes its options from an existing provider through useExisting', async () => {
    await withApp(
      kind,
      [VezaMetricsModule.forRootAsync({ imports: [MetricsConfigModule], useExisting: MetricsConfig })],
      async ({ url }) => {
        expect(await scrape(url, '/class/metrics')).toContain('veza_active_users{service="from-class"} 0');
      },
    );
  });
});

/** Asks for /metrics, and closes the connection as soon as the first bytes of the answer arrive. */
function hangUpAfterFirstBytes(base: string): Promise<void> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () =>
      socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'),
    );
    socket.once('data', () => socket.destroy());
    socket.once('close', () => resolve());
    socket.once('error', reject);
  });
}

describe.each(ADAPTERS)('where /metrics is served, and what start-up says about it (%s)', (kind) => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());
  const warnings = (): string[] => warn.mock.calls.map(([message]) => String(message));
  const status = async (base: string): Promise<number> => (await rawRequest(base, '/metrics')).status;
  const ownUrl = (app: StartedApp['app']): string =>
    `http://127.0.0.1:${app.get(MetricsServer).address()?.port ?? 0}`;

  it('metricsServer alone: both ports answer, and start-up says so once, naming the port and appEndpoint', async () => {
    await withApp(
      kind,
      [VezaMetricsModule.forRoot({ metricsServer: { port: 0, host: '127.0.0.1' } })],
      async ({ app, url }) => {
        const own = ownUrl(app);
        expect([await status(url), await status(own)]).toEqual([200, 200]);
        expect(warnings()).toEqual([
          `"/metrics" is served on the application's port and on metricsServer's port ${new URL(own).port}. Set appEndpoint: false to keep it off the application's port, or appEndpoint: true to keep both and silence this line.`,
        ]);
      },
    );
  });

  it('metricsServer with appEndpoint: true serves both ports without a word; with appEndpoint: false, its own port only', async () => {
    await withApp(
      kind,
      [VezaMetricsModule.forRoot({ appEndpoint: true, metricsServer: { port: 0, host: '127.0.0.1' } })],
      async ({ app, url }) => {
        expect([await status(url), await status(ownUrl(app))]).toEqual([200, 200]);
      },
    );
    await withApp(
      kind,
      [VezaMetricsModule.forRoot({ appEndpoint: false, metricsServer: { port: 0, host: '127.0.0.1' } })],
      async ({ app, url }) => {
        expect([await status(url), await status(ownUrl(app))]).toEqual([404, 200]);
      },
    );
    expect(warnings()).toEqual([]);
  });

  it('appEndpoint: false with no other way out starts, and warns that the metrics are served nowhere', async () => {
    await withApp(kind, [VezaMetricsModule.forRoot({ appEndpoint: false })], async ({ url }) => {
      expect(await status(url)).toBe(404);
      expect(warnings()).toEqual([
        'appEndpoint is false and none of metricsServer, pushgateway and remoteWrite is set: "/metrics" is served nowhere and nothing pushes the metrics. ' +
          'Set metricsServer: { port: 9464 } (a listener of its own), pushgateway, or appEndpoint: true (ignore this line if your own code renders VezaMetricsRegistry).',
      ]);
    });
    // A Pushgateway is a way out: nothing to say.
    await withApp(
      kind,
      [
        VezaMetricsModule.forRoot({
          appEndpoint: false,
          pushgateway: { url: 'http://127.0.0.1:9', jobName: 'j', pushOnShutdown: false },
        }),
      ],
      () => Promise.resolve(),
    );
    expect(warnings()).toHaveLength(1);
    // Remote write is one too.
    await withApp(
      kind,
      [
        VezaMetricsModule.forRoot({
          appEndpoint: false,
          remoteWrite: { url: 'http://127.0.0.1:9/api/v1/write', sendOnShutdown: false },
        }),
      ],
      () => Promise.resolve(),
    );
    expect(warnings()).toHaveLength(1);
  });

  it('takes metricsServer.port from ConfigService as the string the environment gives', async () => {
    const port = await freePort();
    const imports = [
      VezaMetricsModule.forRootAsync({
        imports: [
          ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ METRICS_PORT: String(port) })] }),
        ],
        inject: [ConfigService],
        useFactory: (config: ConfigService) => ({
          appEndpoint: false,
          metricsServer: { port: config.getOrThrow<string>('METRICS_PORT'), host: '127.0.0.1' },
        }),
      }),
    ];
    await withApp(kind, imports, async ({ app }) => {
      expect(app.get(MetricsServer).address()?.port).toBe(port);
      expect(await scrape(`http://127.0.0.1:${port}`)).toContain('veza_active_users 0');
    });
  });
});
