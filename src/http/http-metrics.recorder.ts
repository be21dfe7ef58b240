import { Injectable, Logger } from '@nestjs/common';
import { ApplicationConfig, ModuleRef, ModulesContainer, type AbstractHttpAdapter } from '@nestjs/core';
import type { Server, ServerResponse } from 'node:http';
import { VezaMetric } from '../catalog/catalog';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { recordingFailed } from '../veza-metrics.messages';
import { CounterCell } from './metric-cells';
import { defaultErrorSeverity, ErrorTypes } from './error-labels';
import { captureHandledExceptions, handledException } from './exception-capture';
import { resolveExcludedRoutes, type ExcludedRoutes } from './excluded-routes';
import { DEFAULT_LIMIT_TYPE, isThrottlerException, limitTypeOf, throttlerNames } from './rate-limit';
import { ExpressEndpoints } from './express-endpoints';
import { hookFastify } from './fastify.hooks';
import { hookNodeServer, type ResponseSink, type UnmatchedRoutes } from './node-server.hooks';
import { RESPONSE_MS } from './request-clock';
import { SeriesTable } from './route-series';
import { notedTrace, type TraceExemplar, type TraceReader } from '../tracing/trace-context';
import type { HistogramMetric as Histogram } from '../compat/client-types';

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
export { CLIENT_CLOSED_STATUS, PREFLIGHT_ENDPOINT } from './node-server.hooks';
export { OTHER_METHOD } from './route-series';

/**
 * Records every HTTP response into `veza_http_requests_total` and
 * `veza_http_request_duration_seconds`, at the adapter level rather than in a Nest interceptor:
 * the response's own end knows the status the client received (after guards, filters and the 404
 * handler), and the router knows the route template. Responses of 500 or more also count in
 * `veza_errors_total`, and 429s of `@nestjs/throttler` in `veza_rate_limit_hits_total`.
 *
 * - Express: the app's `handle` is wrapped to take a start time and listen for the response's
 *   `close`, so requests are seen whatever server serves the app; the template is `req.route.path`.
 *   (Another adapter on a Node server: its server's request listener.)
 * - Fastify: an `onResponse` hook, with `reply.elapsedTime` (Fastify's own start time, taken as the
 *   request arrives) and the route's URL; a client abort is seen on the socket's `close`, with the
 *   reply in flight on it noted by an `onRequest` hook.
 */
@Injectable()
export class HttpMetricsRecorder {
  private readonly logger = new Logger('VezaMetrics');
  private readonly excluded: ExcludedRoutes;
  private readonly series: SeriesTable;
  private readonly duration: Histogram<'method' | 'endpoint'>;
  private readonly errorTypes = new ErrorTypes();
  private readonly errorCells = new Map<string, CounterCell<'type' | 'severity'>>();
  private readonly rateLimitCells = new Map<string, CounterCell<'endpoint' | 'limit_type'>>();
  private throttlers = new Map<string, string>();
  /** The names of the headers of a response, on the adapter in use (read for 429s only). */
  private headerNames: (response: unknown) => string[] = () => [];
  private failed = false;
  /** Set once a request arrived inside a span: until then no request carries trace ids to read. */
  private tracing = false;

  constructor(
    private readonly metrics: VezaMetricsRegistry,
    private readonly modules: ModulesContainer,
    private readonly config: ApplicationConfig,
    private readonly moduleRef: ModuleRef,
  ) {
    const { options } = metrics;
    this.excluded = { paths: new Set([options.path, ...options.http.exclude]), routes: new Set() };
    this.duration = metrics.get(VezaMetric.HttpRequestDuration);
    this.series = new SeriesTable(
      metrics.get(VezaMetric.HttpRequestsTotal),
      metrics.get(VezaMetric.HttpRequestDuration),
      options.statusLabel === 'code',
      this.excluded,
    );
  }

  /**
   * Hooks the recorder into the application's HTTP adapter (Express or Fastify). Called while the
   * application initializes, before Nest registers its routes.
   */
  attach(adapter: AbstractHttpAdapter): void {
    captureHandledExceptions();
    resolveExcludedRoutes(this.modules, this.config, adapter, this.excluded);
    this.series.clear();
    this.throttlers = throttlerNames(this.throttlerOptions());
    const sink: ResponseSink = (method, template, status, request, response) =>
      this.record(method, template, status, request, response);
    if (adapter.getType() === 'fastify') {
      this.headerNames = (reply) => Object.keys((reply as { getHeaders(): object }).getHeaders());
      hookFastify(adapter.getInstance(), sink, this.traceReader());
      return;
    }
    this.headerNames = (res) => (res as ServerResponse).getHeaderNames();
    const unmatched: UnmatchedRoutes = { handler: undefined };
    const app: unknown = adapter.getType() === 'express' ? adapter.getInstance() : undefined;
    const endpoints = app === undefined ? undefined : new ExpressEndpoints(app);
    if (endpoints !== undefined) unmatched.outside = (req, res) => endpoints.resolve(req, res);
    const setNotFoundHandler = adapter.setNotFoundHandler?.bind(adapter);
    if (setNotFoundHandler) {
      adapter.setNotFoundHandler = (handler: unknown, ...rest: unknown[]) => {
        const marked =
          endpoints !== undefined && typeof handler === 'function'
            ? endpoints.notFound(handler as () => unknown)
            : handler;
        unmatched.handler = marked;
        return (setNotFoundHandler as (...args: unknown[]) => unknown)(marked, ...rest);
      };
    }
    const setErrorHandler = adapter.setErrorHandler?.bind(adapter);
    if (setErrorHandler && endpoints !== undefined) {
      adapter.setErrorHandler = (handler: unknown, ...rest: unknown[]) => {
        endpoints.errorHandler(handler);
        return (setErrorHandler as (...args: unknown[]) => unknown)(handler, ...rest);
      };
    }
    hookNodeServer(adapter.getHttpServer() as Server | undefined, app, unmatched, sink, this.traceReader());
  }

  /**
   * Records one response: `template` is the route template (`undefined` when no route matched),
   * `request` and `response` the adapter's objects; its duration is in `RESPONSE_MS`.
   */
  record(
    method: string,
    template: string | undefined,
    status: number,
    request: object,
    response: object,
  ): void {
    try {
      const series = this.series.get(method, template ?? UNMATCHED_ENDPOINT);
      if (series.excluded) return;
      // Reading the note costs an allocation on Express' request objects: only once a request had a span.
      const trace = this.tracing ? notedTrace(rawRequest(request)) : undefined;
      if (trace === undefined) series.duration.observeFrom(RESPONSE_MS, 0.001);
      else this.observeWithExemplar(series.method, series.endpoint, trace);
      series.count(status);
      if (status >= 500) this.countError(status, request);
      else if (status === 429) this.countRateLimit(series.endpoint, request, response);
    } catch (error) {
      this.fail(error);
    }
  }

  /** With a trace id, through prom-client's API: the exemplar is kept on the bucket it falls in. */
  private observeWithExemplar(method: string, endpoint: string, trace: TraceExemplar): void {
    // prom-client types exemplar labels as the metric's own label names; they are free-form.
    const exemplarLabels: Record<string, string> = { ...trace };
    this.duration.observe({ labels: { method, endpoint }, value: RESPONSE_MS[0] * 0.001, exemplarLabels });
  }

  /** The registry's trace reader (exemplars), noting when a request first arrives inside a span. */
  private traceReader(): TraceReader | undefined {
    const read = this.metrics.traceReader;
    if (read === undefined) return undefined;
    return () => {
      const ids = read();
      if (ids !== undefined) this.tracing = true;
      return ids;
    };
  }

  private countError(status: number, request: object): void {
    const exception = handledException(request);
    const type = this.errorTypes.typeOf(exception);
    const severity = defaultErrorSeverity({ status, type, exception });
    const key = `${type}\u0000${severity}`;
    let cell = this.errorCells.get(key);
    if (!cell) {
      cell = new CounterCell(this.metrics.get(VezaMetric.Errors), { type, severity });
      this.errorCells.set(key, cell);
    }
    cell.inc();
  }

  private countRateLimit(endpoint: string, request: object, response: unknown): void {
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
      return this.moduleRef.get('THROTTLER:MODULE_OPTIONS', { strict: false });
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
