import { Controller, Get, Param, type INestApplication } from '@nestjs/common';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { Server } from 'node:http';
import { VezaMetricsModule } from '../../src';
import { ADAPTERS, startApp, type AdapterKind } from '../utils/app';
import { startPrometheus, type PrometheusServer } from '../utils/prometheus';
import { rawRequest } from '../utils/raw-http';
import { findTool } from '../utils/tools';

const prometheusBinary = findTool('prometheus');

@Controller('tracks')
class TracksController {
  @Get(':id')
  get(@Param('id') id: string): { id: string } {
    return { id };
  }
}

/**
 * What OpenTelemetry's HTTP instrumentation does for every request: run the server's `request`
 * event inside the request's span. The span context comes from the test (`x-test-trace-id`), so the
 * test knows which trace id each request must carry.
 */
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

const TRACE_A = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACE_B = '0af7651916cd43dd8448eb211c80319c';
const OPEN_METRICS = { Accept: 'application/openmetrics-text; version=1.0.0' };

describe.each(ADAPTERS)('exemplars on the HTTP duration histogram (%s)', (kind: AdapterKind) => {
  let app: INestApplication;
  let url: string;
  const manager = new AsyncLocalStorageContextManager();

  beforeAll(async () => {
    context.setGlobalContextManager(manager.enable());
    ({ app, url } = await startApp(
      kind,
      { imports: [VezaMetricsModule.forRoot()], controllers: [TracksController] },
      (a) => {
        traceRequests(a.getHttpServer() as Server);
      },
    ));
  });
  afterAll(async () => {
    await app.close();
    context.disable();
  });

  it('carries the trace and span ids of the request, in OpenMetrics only', async () => {
    await rawRequest(url, '/tracks/1', { headers: { 'x-test-trace-id': TRACE_A } });
    const om = (await rawRequest(url, '/metrics', { headers: OPEN_METRICS })).body;
    const line = om
      .split('\n')
      .find((l) => l.startsWith('veza_http_request_duration_seconds_bucket') && l.includes(TRACE_A));
    expect(line).toMatch(
      new RegExp(
        `^veza_http_request_duration_seconds_bucket\\{le="[^"]+",method="GET",endpoint="/tracks/:id"\\} 1 # \\{trace_id="${TRACE_A}",span_id="${TRACE_A.slice(0, 16)}"\\} [0-9.e-]+ [0-9.]+$`,
      ),
    );
    const text = (await rawRequest(url, '/metrics')).body;
    expect(text).not.toContain(TRACE_A);
    expect(text).toMatch(
      /^veza_http_request_duration_seconds_count\{method="GET",endpoint="\/tracks\/:id"\} 1$/m,
    );
  });

  it('records requests without a span as before, with no exemplar', async () => {
    await rawRequest(url, '/tracks/2');
    const om = (await rawRequest(url, '/metrics', { headers: OPEN_METRICS })).body;
    expect(om).toMatch(
      /^veza_http_request_duration_seconds_count\{method="GET",endpoint="\/tracks\/:id"\} 2$/m,
    );
    expect(om.match(/# \{trace_id=/g)).toHaveLength(1);
  });
});

(prometheusBinary ? describe : describe.skip)('exemplars read by a real Prometheus', () => {
  let app: INestApplication;
  let prometheus: PrometheusServer | undefined;
  const manager = new AsyncLocalStorageContextManager();

  afterAll(async () => {
    await prometheus?.stop();
    await app?.close();
    context.disable();
  });

  it('stores the trace id of a request (OpenMetrics scrape, exemplar storage on)', async () => {
    context.setGlobalContextManager(manager.enable());
    let url: string;
    ({ app, url } = await startApp(
      'express',
      { imports: [VezaMetricsModule.forRoot()], controllers: [TracksController] },
      (a) => {
        traceRequests(a.getHttpServer() as Server);
      },
    ));
    await rawRequest(url, '/tracks/7', { headers: { 'x-test-trace-id': TRACE_B } });
    prometheus = await startPrometheus({
      targets: [new URL(url).host],
      binary: prometheusBinary,
      features: ['exemplar-storage'],
    });
    await prometheus.scrapedAfterNow();
    const now = Date.now() / 1000;
    const res = await fetch(
      `${prometheus.url}/api/v1/query_exemplars?query=${encodeURIComponent('veza_http_request_duration_seconds_bucket')}&start=${now - 600}&end=${now + 60}`,
    );
    const body = (await res.json()) as {
      status: string;
      data: Array<{ exemplars: Array<{ labels: Record<string, string> }> }>;
    };
    expect(body.status).toBe('success');
    const traceIds = body.data.flatMap((d) => d.exemplars.map((e) => e.labels.trace_id));
    expect(traceIds).toContain(TRACE_B);
  }, 60_000);
});
