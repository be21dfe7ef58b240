import { Injectable, Logger } from '@nestjs/common';
import { ApplicationConfig, ModuleRef, ModulesContainer, type AbstractHttpAdapter } from '@nestjs/core';
import { VezaMetric } from '../catalog/catalog';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { ExemplarTraces } from '../tracing/exemplar-traces';
import { httpAdapterNotRecorded, recordingFailed } from '../veza-metrics.messages';
import { CounterCell } from './metric-cells';
import { defaultErrorSeverity } from './error-labels';
import { ErrorCounter } from './error-counter';
import { captureHandledExceptions, handledException } from './exception-capture';
import { resolveExcludedRoutes, type ExcludedRoutes } from './excluded-routes';
import {
  DEFAULT_LIMIT_TYPE,
  isThrottlerException,
  limitTypeOf,
  throttlerNames,
  THROTTLER_OPTIONS_TOKEN,
} from './rate-limit';
import { expressRecorder } from './adapters/express';
import { fastifyRecorder } from './adapters/fastify';
import type { HttpAdapterRecorder, RecordResponse } from './adapters/http-adapter-recorder';
import { SeriesTable } from './route-series';
import { notedTrace, type TraceExemplar, type TraceReader } from '../tracing/trace-context';
import type { HistogramMetric as Histogram } from '../compat/client-types';

/** The adapter recorders, by what the adapter's `getType()` answers: one file each. */
const ADAPTER_RECORDERS: ReadonlyMap<string, HttpAdapterRecorder> = new Map(
  [expressRecorder, fastifyRecorder].map((recorder) => [recorder.type, recorder]),
);

/**
 * The `endpoint` of every request that matched no route: one series, whatever the URL.
 *
 * @example
 * ```ts
 * await request(app.getHttpServer()).get('/no-such-page').expect(404);
 * expect(await getMetricValue(app, VezaMetric.HttpRequestsTotal, { method: 'GET', endpoint: UNMATCHED_ENDPOINT, status: '4xx' })).toBe(1);
 * ```
 */
export const UNMATCHED_ENDPOINT = '<unmatched>';
export { CLIENT_CLOSED_STATUS, PREFLIGHT_ENDPOINT } from './adapters/http-adapter-recorder';
export { OTHER_METHOD } from './route-series';

/**
 * Records every HTTP response into `veza_http_requests_total` and
 * `veza_http_request_duration_seconds`, at the adapter level rather than in a Nest interceptor:
 * the response's own end knows the status the client received (after guards, filters and the 404
 * handler), and the router knows the route template. Responses of 500 or more also count in
 * `veza_errors_total`, and 429s of `@nestjs/throttler` in `veza_rate_limit_hits_total`.
 *
 * Each adapter has its recorder, one file each under src/http/adapters/ (`HttpAdapterRecorder`),
 * which hands this class every response as values (method, template, status, duration, request and
 * response objects):
 *
 * - Express: the app's `handle` is wrapped to take a start time and listen for the response's
 *   `close`, so requests are seen whatever server serves the app; the template is `req.route.path`.
 * - Fastify: an `onResponse` hook, with `reply.elapsedTime` (Fastify's own start time, taken as the
 *   request arrives) and the route's URL; a client abort is seen on the socket's `close`, with the
 *   reply in flight on it noted by an `onRequest` hook.
 * - Any other adapter: nothing is recorded, and start-up says so.
 */
@Injectable()
export class HttpMetricsRecorder {
  private readonly logger = new Logger('VezaMetrics');
  private readonly excluded: ExcludedRoutes;
  private readonly series: SeriesTable;
  private readonly duration: Histogram<'method' | 'endpoint'>;
  private readonly errors: ErrorCounter;
  private readonly rateLimitCells = new Map<string, CounterCell<'endpoint' | 'limit_type'>>();
  private throttlers = new Map<string, string>();
  /** The names of the headers of a response, on the adapter in use (read for 429s only). */
  private headerNames: (response: object) => string[] = () => [];
  private failed = false;
  /** Set once a request arrived inside a span: until then no request carries trace ids to read. */
  private tracing = false;

  constructor(
    private readonly metrics: VezaMetricsRegistry,
    private readonly modules: ModulesContainer,
    private readonly config: ApplicationConfig,
    private readonly moduleRef: ModuleRef,
    @InjectVezaMetricsOptions() options: ResolvedOptions,
    private readonly traces: ExemplarTraces,
  ) {
    this.excluded = { paths: new Set([options.path, ...options.http.exclude]), routes: new Set() };
    this.duration = metrics.get(VezaMetric.HttpRequestDuration);
    this.errors = new ErrorCounter(() => metrics.get(VezaMetric.Errors));
    this.series = new SeriesTable(
      metrics.get(VezaMetric.HttpRequestsTotal),
      metrics.get(VezaMetric.HttpRequestDuration),
      options.statusLabel === 'code',
      this.excluded,
    );
  }

  /**
   * Lets the adapter's recorder take its place in the server before other libraries wrap it (see
   * {@link HttpAdapterRecorder.reserve}); called while the module is built. Never throws.
   */
  reserve(adapter: AbstractHttpAdapter): void {
    try {
      ADAPTER_RECORDERS.get(adapter.getType())?.reserve?.(adapter);
    } catch {
      // The recording then wraps the server's listener as it finds it, at attach().
    }
  }

  /**
   * Hooks the recorder into the application's HTTP adapter, through the adapter's recorder (Express
   * or Fastify). Called while the application initializes, before Nest registers its routes. An
   * adapter with no recorder is left alone: its requests are not recorded, and a warning says so.
   */
  attach(adapter: AbstractHttpAdapter): void {
    const type = adapter.getType();
    const recorder = ADAPTER_RECORDERS.get(type);
    if (recorder === undefined) {
      this.logger.warn(httpAdapterNotRecorded(adapter.constructor.name, type));
      return;
    }
    captureHandledExceptions();
    resolveExcludedRoutes(this.modules, this.config, adapter, this.excluded);
    this.series.clear();
    this.throttlers = throttlerNames(this.throttlerOptions());
    this.headerNames = recorder.headerNames;
    recorder.attach(adapter, this.record, this.traceReader());
  }

  /**
   * Records one response: `template` is the route template (`undefined` when no route matched),
   * `durationMs` the milliseconds from the request's arrival to the response's end, `request` and
   * `response` the adapter's objects. Bound to this recorder: it is the adapter recorder's callback.
   */
  readonly record: RecordResponse = (method, template, status, durationMs, request, response) => {
    try {
      const series = this.series.get(method, template ?? UNMATCHED_ENDPOINT);
      if (series.excluded) return;
      // Reading the note costs an allocation on Express' request objects: only once a request had a span.
      const trace = this.tracing ? notedTrace(rawRequest(request)) : undefined;
      if (trace === undefined) series.duration.observe(durationMs * 0.001);
      else this.observeWithExemplar(series.method, series.endpoint, durationMs, trace);
      series.count(status);
      if (status >= 500) this.countError(status, request);
      else if (status === 429) this.countRateLimit(series.endpoint, request, response);
    } catch (error) {
      this.fail(error);
    }
  };

  /** With a trace id, through prom-client's API: the exemplar is kept on the bucket it falls in. */
  private observeWithExemplar(
    method: string,
    endpoint: string,
    durationMs: number,
    trace: TraceExemplar,
  ): void {
    // prom-client types exemplar labels as the metric's own label names; they are free-form.
    const exemplarLabels: Record<string, string> = { ...trace };
    this.duration.observe({ labels: { method, endpoint }, value: durationMs * 0.001, exemplarLabels });
  }

  /** The registry's trace reader (exemplars), noting when a request first arrives inside a span. */
  private traceReader(): TraceReader | undefined {
    const read = this.traces.reader;
    if (read === undefined) return undefined;
    return () => {
      const ids = read();
      if (ids !== undefined) this.tracing = true;
      return ids;
    };
  }

  private countError(status: number, request: object): void {
    const exception = handledException(request);
    const type = this.errors.typeOf(exception);
    this.errors.count(type, defaultErrorSeverity({ status, type, exception }));
  }

  private countRateLimit(endpoint: string, request: object, response: object): void {
    const limitType = limitTypeOf(this.headerNames(response), this.throttlers);
    if (limitType === undefined && !isThrottlerException(handledException(request))) return;
    const name = limitType ?? DEFAULT_LIMIT_TYPE;
    const key = `${endpoint}\u0000${name}`;
    let cell = this.rateLimitCells.get(key);
    if (!cell) {
      cell = new CounterCell(this.metrics.get(VezaMetric.RateLimitHits), { endpoint, limit_type: name });
      this.rateLimitCells.set(key, cell);
    }
    cell.inc();
  }

  /** `@nestjs/throttler`'s options, when the application uses it: they give throttler names their case. */
  private throttlerOptions(): unknown {
    try {
      return this.moduleRef.get(THROTTLER_OPTIONS_TOKEN, { strict: false });
    } catch {
      return undefined;
    }
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.logger.warn(recordingFailed('the HTTP recorder', error));
  }
}

/** Node's request object: Express' request is one; Fastify's wraps it as `raw`. */
function rawRequest(request: object): object {
  return (request as { raw?: object }).raw ?? request;
}
