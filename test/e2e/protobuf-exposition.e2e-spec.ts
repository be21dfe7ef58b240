/**
 * Issue #24, item 1: `/metrics` (Express and Fastify), the metrics listener and the cluster primary
 * answer Prometheus' protobuf `Accept` with length-delimited `MetricFamily` messages that decode
 * (protobufjs, test/fixtures/metrics.proto) family by family to the samples of the text scrape of
 * the same state: the catalog, default metrics, `@willsoto/nestjs-prometheus` metrics, a summary,
 * exemplars as OpenMetrics shows them. Auth and the scrape limits apply as to text.
 */
import { Controller, Get, Injectable, Logger, Module, Param, type INestApplication } from '@nestjs/common';
import {
  InjectMetric as WillsotoInjectMetric,
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
  makeSummaryProvider,
} from '@willsoto/nestjs-prometheus';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import * as PI from '@prometheus-io/client';
import type { Server } from 'node:http';
import { register, type Counter, type Gauge, type Histogram, type Summary } from 'prom-client';
import { MetricsServer, serveClusterMetrics, VezaMetricsModule, VezaMetricsRegistry } from '../../src';
import { MetricsScraper } from '../../src/endpoint/metrics-scraper';
import { AppModule } from '../../sample-app/src/app.module';
import { ADAPTERS, startApp } from '../utils/app';
import { sampleValue } from '../utils/exposition';
import {
  decodeFamilies,
  expectProtobufMatchesText,
  getBytes,
  PROMETHEUS_PROTOBUF_ACCEPT,
  PROTOBUF_CONTENT_TYPE,
} from '../utils/protobuf';
import { rawRequest } from '../utils/raw-http';
import { bigExposition, slowScrape } from '../utils/slow-scraper';
import { until } from '../utils/until';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

/** OpenTelemetry's HTTP instrumentation in short: the request's `request` event runs in a span. */
function traceRequests(server: Server): void {
  const emit = server.emit.bind(server) as (event: string, ...args: unknown[]) => boolean;
  server.emit = ((event: string, ...args: unknown[]) => {
    const req = args[0] as { headers?: Record<string, string | string[] | undefined> } | undefined;
    const traceId = event === 'request' ? req?.headers?.['x-test-trace-id'] : undefined;
    if (typeof traceId !== 'string') return emit(event, ...args);
    const span = trace.wrapSpanContext({
      traceId,
      spanId: traceId.slice(0, 16),
      traceFlags: TraceFlags.SAMPLED,
    });
    return context.with(trace.setSpan(context.active(), span), () => emit(event, ...args));
  }) as Server['emit'];
}

@Injectable()
class PlayerService {
  constructor(
    @WillsotoInjectMetric('player_plays_total') readonly plays: Counter<'quality'>,
    @WillsotoInjectMetric('player_buffer_seconds') readonly buffer: Gauge,
    @WillsotoInjectMetric('player_startup_seconds') readonly startup: Histogram,
    @WillsotoInjectMetric('player_bitrate_kbps') readonly bitrate: Summary,
  ) {}
}

@Controller('player')
class PlayerController {
  constructor(private readonly player: PlayerService) {}
  @Get('play/:id')
  play(@Param('id') id: string): string {
    this.player.plays.inc({ quality: id === '1' ? 'hd' : 'sd' });
    this.player.buffer.set(2.5);
    this.player.startup.observe(0.3);
    this.player.bitrate.observe(320);
    return 'ok';
  }
}

@Module({
  controllers: [PlayerController],
  providers: [
    PlayerService,
    makeCounterProvider({ name: 'player_plays_total', help: 'Plays', labelNames: ['quality'] }),
    makeGaugeProvider({ name: 'player_buffer_seconds', help: 'Buffer' }),
    makeHistogramProvider({ name: 'player_startup_seconds', help: 'Startup', buckets: [0.1, 0.5, 1] }),
    makeSummaryProvider({ name: 'player_bitrate_kbps', help: 'Bitrate', percentiles: [0.5, 0.9] }),
  ],
})
class PlayerModule {}

/** What PlayerModule's providers register in prom-client's global registry (removed after each app). */
const PLAYER_METRICS = [
  'player_plays_total',
  'player_buffer_seconds',
  'player_startup_seconds',
  'player_bitrate_kbps',
];

describe.each(ADAPTERS)('the protobuf exposition (%s)', (kind) => {
  let app: INestApplication;
  let url: string;
  let serverUrl: string;
  const manager = new AsyncLocalStorageContextManager();

  beforeAll(async () => {
    context.setGlobalContextManager(manager.enable());
    ({ app, url } = await startApp(
      kind,
      {
        imports: [
          VezaMetricsModule.forRoot({
            defaultLabels: { service: 'player' },
            metricsServer: { port: 0, host: '127.0.0.1' },
          }),
          PlayerModule,
        ],
      },
      (a) => traceRequests(a.getHttpServer() as Server),
    ));
    serverUrl = `http://127.0.0.1:${app.get(MetricsServer).address()?.port ?? 0}`;
    await rawRequest(url, '/player/play/1', { headers: { 'x-test-trace-id': TRACE } });
    await rawRequest(url, '/player/play/2');
    await rawRequest(url, '/player/play/1');
  });
  afterAll(async () => {
    await app?.close();
    context.disable();
    // The @willsoto providers registered on prom-client's global registry.
    for (const name of PLAYER_METRICS) register.removeSingleMetric(name);
  });

  it('/metrics decodes family by family to the text scrape (catalog, default metrics, @willsoto metrics, exemplars)', async () => {
    const decoded = await expectProtobufMatchesText(url);
    const names = decoded.map((f) => f.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'veza_http_requests_total',
        'veza_http_request_duration_seconds',
        'process_cpu_seconds_total',
        'nodejs_heap_size_total_bytes',
        'player_plays_total',
        'player_startup_seconds',
        'player_bitrate_kbps',
      ]),
    );
    // The traced request's exemplar, on a bucket of the HTTP duration histogram.
    const duration = decoded.find((f) => f.name === 'veza_http_request_duration_seconds');
    const exemplars = duration?.metric.flatMap(
      (m: { histogram: { bucket: Array<{ exemplar?: unknown }> } }) =>
        m.histogram.bucket.filter((b) => b.exemplar).map((b) => b.exemplar),
    );
    expect(exemplars).toEqual([
      expect.objectContaining({
        label: [
          { name: 'trace_id', value: TRACE },
          { name: 'span_id', value: TRACE.slice(0, 16) },
        ],
      }),
    ]);
    // The summary of @willsoto: quantiles, count and sum.
    const bitrate = decoded.find((f) => f.name === 'player_bitrate_kbps');
    expect(bitrate?.type).toBe(2);
    expect(bitrate?.metric[0].summary).toMatchObject({ sampleCount: 3, sampleSum: 960 });
  });

  it('the metrics listener answers protobuf too, the same families', async () => {
    await expectProtobufMatchesText(serverUrl);
  });

  it('answers every other Accept as before: text for */*, a bare protobuf type, or protobuf at q=0', async () => {
    for (const accept of [
      '*/*',
      'application/vnd.google.protobuf',
      'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0, text/plain;q=0.1',
    ]) {
      const res = await getBytes(url, '/metrics', { accept });
      expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(sampleValue(res.body.toString('utf8'), 'player_buffer_seconds', { service: 'player' })).toBe(
        2.5,
      );
    }
  });
});

/** The successor runs on Node 22+ only; VEZA_TEST_CLIENT=prometheus-io runs this whole spec on it (scripts/matrix.sh). */
const NODE_22 = Number(process.versions.node.split('.')[0]) >= 22;

(NODE_22 ? describe.each(ADAPTERS) : describe.skip.each(ADAPTERS))(
  'the protobuf exposition of an app on @prometheus-io/client, prom-client beside it (%s)',
  (kind) => {
    it('decodes family by family to the text scrape', async () => {
      const registry = new PI.Registry();
      const hits = new PI.Histogram({
        name: 'app_hits_seconds',
        help: 'Hits',
        labelNames: ['route'],
        buckets: [0.1, 1],
        registers: [registry],
      });
      hits.observe({ route: '/a' }, 0.5);
      hits.observe({ route: '/b' }, 5);
      const { app, url } = await startApp(kind, {
        imports: [VezaMetricsModule.forRoot({ registry, defaultLabels: { service: 'svc' } })],
      });
      try {
        const decoded = await expectProtobufMatchesText(url);
        expect(decoded.map((f) => f.name)).toContain('app_hits_seconds');
      } finally {
        await app.close();
      }
    });
  },
);

describe.each(ADAPTERS)('the sample app’s protobuf scrape (%s)', (kind) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(kind, { imports: [AppModule] }));
  }, 60_000); // the sample app builds its GraphQL schema at start-up
  afterAll(() => app?.close());

  it('decodes, family by family, to the same samples as its text scrape', async () => {
    for (const path of [
      '/tracks',
      '/playlists',
      '/commerce/products',
      '/health',
      '/tracks/unknown',
      '/nowhere',
    ])
      await rawRequest(url, path);
    await rawRequest(url, '/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'nobody@veza.test', password: 'wrong password' }),
    });
    const decoded = await expectProtobufMatchesText(url);
    expect(decoded.length).toBeGreaterThan(40);
    const requests = decoded.find((f) => f.name === 'veza_http_requests_total');
    expect(requests?.metric[0].label).toEqual(
      expect.arrayContaining([{ name: 'service', value: 'veza-api' }]),
    );
  }, 60_000);
});

describe.each(ADAPTERS)('auth and limits of a protobuf scrape (%s)', (kind) => {
  it('without credentials a protobuf Accept gets 401, with them the protobuf exposition', async () => {
    const { app, url } = await startApp(kind, {
      imports: [
        VezaMetricsModule.forRoot({
          defaultMetrics: false,
          auth: { bearerToken: 'proto-token-0123456789abcdef' },
        }),
      ],
    });
    try {
      const refused = await getBytes(url, '/metrics', { accept: PROMETHEUS_PROTOBUF_ACCEPT });
      expect(refused.status).toBe(401);
      expect(refused.body.toString('utf8')).toBe('Unauthorized\n');
      const served = await getBytes(url, '/metrics', {
        accept: PROMETHEUS_PROTOBUF_ACCEPT,
        authorization: 'Bearer proto-token-0123456789abcdef',
      });
      expect(served.status).toBe(200);
      expect(served.headers['content-type']).toBe(PROTOBUF_CONTENT_TYPE);
      expect(decodeFamilies(served.body).length).toBeGreaterThan(0);
    } finally {
      await app.close();
    }
  });

  it('a protobuf body held by a slow scraper counts in the bytes in flight, by its length', async () => {
    const { app, url } = await startApp(kind, {
      imports: [VezaMetricsModule.forRoot({ defaultMetrics: false })],
      providers: [bigExposition(40_000)],
    });
    const slow = slowScrape(url, '/metrics', {
      reading: 'paused',
      headers: { Accept: PROMETHEUS_PROTOBUF_ACCEPT },
    });
    try {
      expect(await slow.status).toBe(200);
      const scraper = app.get(MetricsScraper);
      await until(() => scraper.bytesInFlight > 0, 'the protobuf scrape to be in flight');
      const protobuf = await app.get(VezaMetricsRegistry).renderBytes('protobuf');
      const text = await app.get(VezaMetricsRegistry).renderBytes('text');
      // Counted as the protobuf body it sends (give or take the self-metrics a scrape moves), not the text.
      expect(Math.abs(scraper.bytesInFlight - protobuf.length)).toBeLessThan(2_048);
      expect(Math.abs(scraper.bytesInFlight - text.length)).toBeGreaterThan(50_000);
    } finally {
      slow.destroy();
      await app.close();
    }
  });
});

describe.each(ADAPTERS)('native histograms in the protobuf scrape (%s)', (kind) => {
  it('each series of the HTTP duration histogram carries its native part beside its classic buckets; text unchanged', async () => {
    const { app, url } = await startApp(kind, {
      imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, nativeHistograms: true }), PlayerModule],
    });
    try {
      for (let i = 0; i < 5; i++) await rawRequest(url, `/player/play/${i % 2}`);
      await rawRequest(url, '/nowhere');
      const decoded = await expectProtobufMatchesText(url);
      const duration = decoded.find((f) => f.name === 'veza_http_request_duration_seconds');
      expect(duration?.metric.length).toBeGreaterThanOrEqual(2);
      for (const metric of duration?.metric ?? []) {
        const h = metric.histogram;
        expect(h.schema).toBe(3);
        expect(h.zeroThreshold).toBe(2 ** -128);
        // The native buckets hold every observation the classic count does.
        let total = h.zeroCount ?? 0;
        for (const deltas of [h.positiveDelta ?? [], h.negativeDelta ?? []]) {
          let count = 0;
          for (const d of deltas as number[]) total += count += d;
        }
        expect(total).toBe(h.sampleCount);
        expect(h.bucket.at(-1)).toMatchObject({ upperBound: Infinity, cumulativeCount: h.sampleCount });
      }
      // A histogram the library did not create (@willsoto's) stays classic.
      const startup = decoded.find((f) => f.name === 'player_startup_seconds');
      expect(startup?.metric[0].histogram.schema).toBeUndefined();
    } finally {
      await app.close();
      for (const name of PLAYER_METRICS) register.removeSingleMetric(name);
    }
  });
});

describe.each(ADAPTERS)('protobuf scrapes at once, and one cut off mid-send (%s)', (kind) => {
  it('three at once and three after a scrape whose client went away mid-send: each byte for byte the render', async () => {
    const { app, url } = await startApp(kind, {
      imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, scrape: { maxConcurrent: 4 } })],
      providers: [bigExposition(40_000)],
    });
    const scraper = app.get(MetricsScraper);
    const get = async (): Promise<Buffer> => {
      const res = await getBytes(url, '/metrics', { accept: PROMETHEUS_PROTOBUF_ACCEPT });
      expect(res.status).toBe(200);
      return res.body;
    };
    try {
      const expected = await app.get(VezaMetricsRegistry).renderBytes('protobuf');
      expect(expected.length).toBeGreaterThan(8_000_000);
      for (const body of await Promise.all([get(), get(), get()])) expect(body.equals(expected)).toBe(true);
      // Cut off mid-send: its chunks are never given back (the socket may still hold writes).
      const slow = slowScrape(url, '/metrics', {
        reading: 'paused',
        headers: { Accept: PROMETHEUS_PROTOBUF_ACCEPT },
      });
      expect(await slow.status).toBe(200);
      await until(() => scraper.bytesInFlight > 0, 'the protobuf scrape to be in flight');
      slow.destroy();
      await slow.closed;
      await until(() => scraper.bytesInFlight === 0, 'the cut-off scrape to be let go');
      for (let i = 0; i < 3; i++) expect((await get()).equals(expected)).toBe(true);
      expect(decodeFamilies(expected).find((f) => f.name === 'app_big')?.metric).toHaveLength(40_000);
    } finally {
      await app.close();
    }
  }, 60_000);
});

describe('the cluster primary answers protobuf', () => {
  let server: Awaited<ReturnType<typeof serveClusterMetrics>>;

  beforeAll(async () => {
    Logger.overrideLogger(false);
    server = await serveClusterMetrics({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await server?.close();
    Logger.overrideLogger(['error', 'warn', 'log']);
  });

  it('with the families of its text scrape', async () => {
    const decoded = await expectProtobufMatchesText(new URL(server.url).origin);
    expect(decoded.map((f) => f.name)).toEqual(expect.arrayContaining(['veza_metrics_cluster_workers']));
  });
});
