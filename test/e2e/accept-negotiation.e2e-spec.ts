/**
 * Issue #21, item 14: the format a scrape is answered in follows `Accept` as RFC 9110 reads it, on
 * every place that serves metrics: the application's `/metrics` on Express and Fastify, the metrics
 * server, and the cluster primary. Before, `application/openmetrics-text;q=0, text/plain` and
 * `x-application/openmetrics-textual` got OpenMetrics (a substring test).
 */
import { Logger, type INestApplication } from '@nestjs/common';
import { MetricsServer, serveClusterMetrics, VezaMetricsModule } from '../../src';
import { ADAPTERS, startApp } from '../utils/app';
import { rawRequest } from '../utils/raw-http';

const TEXT = 'text/plain; version=0.0.4; charset=utf-8';
const OPEN_METRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const PROTOBUF =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

/** Accept headers and the Content-Type each must be answered with. */
const CASES: ReadonlyArray<[string, string | undefined, string]> = [
  ['q=0 refuses OpenMetrics (issue #21)', 'application/openmetrics-text;q=0, text/plain', TEXT],
  ['another type that contains the name (issue #21)', 'x-application/openmetrics-textual', TEXT],
  [
    'Prometheus 2',
    'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
    OPEN_METRICS,
  ],
  [
    'Prometheus 3',
    'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1',
    OPEN_METRICS,
  ],
  [
    'Prometheus 2.42 with --enable-feature=native-histograms (issue #24)',
    'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
    PROTOBUF,
  ],
  [
    'protobuf without proto and encoding (issue #24)',
    'application/vnd.google.protobuf, text/plain;q=0.1',
    TEXT,
  ],
  [
    'protobuf refused with q=0 (issue #24)',
    'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0,*/*;q=0.1',
    TEXT,
  ],
  [
    'Prometheus with scrape_protocols: [PrometheusText0.0.4]',
    'text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
    TEXT,
  ],
  ['higher q wins', 'text/plain;q=0.5, APPLICATION/OpenMetrics-Text;q=0.6', OPEN_METRICS],
  ['no Accept', undefined, TEXT],
  ['*/*', '*/*', TEXT],
  ['a version not served', 'application/openmetrics-text;version=2.0.0, text/plain;q=0.5', TEXT],
  ['nothing acceptable: the text format', 'application/json', TEXT],
  // As many ranges as Node's 16 KiB of headers let through; the parser reads the first 64.
  ['a hostile header: 3,000 ranges', `${'a/b,'.repeat(3_000)}application/openmetrics-text`, TEXT],
];

async function contentTypeOf(baseUrl: string, accept: string | undefined): Promise<[string, boolean]> {
  const res = await rawRequest(baseUrl, '/metrics', { headers: accept === undefined ? {} : { accept } });
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${res.body.slice(0, 200)}`);
  return [String(res.headers['content-type']), res.body.endsWith('# EOF\n')];
}

describe.each(ADAPTERS)('the format of a scrape follows Accept on %s', (kind) => {
  let app: INestApplication;
  let appUrl: string;
  let serverUrl: string;

  beforeAll(async () => {
    ({ app, url: appUrl } = await startApp(kind, {
      imports: [
        VezaMetricsModule.forRoot({
          defaultMetrics: false,
          appEndpoint: true,
          metricsServer: { port: 0, host: '127.0.0.1' },
        }),
      ],
    }));
    serverUrl = `http://127.0.0.1:${app.get(MetricsServer).address()?.port ?? 0}`;
  });
  afterAll(() => app?.close());

  it.each(CASES)('%s', async (_what, accept, contentType) => {
    const body = contentType === OPEN_METRICS;
    expect(await contentTypeOf(appUrl, accept)).toEqual([contentType, body]);
    expect(await contentTypeOf(serverUrl, accept)).toEqual([contentType, body]);
  });
});

describe('the format of a scrape follows Accept on the cluster primary', () => {
  let server: Awaited<ReturnType<typeof serveClusterMetrics>>;

  beforeAll(async () => {
    Logger.overrideLogger(false);
    server = await serveClusterMetrics({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await server?.close();
    Logger.overrideLogger(['error', 'warn', 'log']);
  });

  it.each(CASES)('%s', async (_what, accept, contentType) => {
    expect(await contentTypeOf(new URL(server.url).origin, accept)).toEqual([
      contentType,
      contentType === OPEN_METRICS,
    ]);
  });
});
