import { Injectable, Logger } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { METHODS, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Counter, Histogram } from 'prom-client';
import { VezaMetric } from '../catalog/catalog';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { recordingFailed } from '../veza-metrics.messages';
import { statusLabelOf } from './status-label';

/** The `endpoint` of every request that matched no route: one series, whatever the URL. */
export const UNMATCHED_ENDPOINT = '<unmatched>';
/** The `method` of a request whose method is not one Node knows. */
export const OTHER_METHOD = 'OTHER';
/** The status recorded for a request the client aborted before its response ended (nginx's convention). */
export const CLIENT_CLOSED_STATUS = 499;

const KNOWN_METHODS = new Set(METHODS);
const START = Symbol('vezaMetricsStart');

type TimedRequest = IncomingMessage & { [START]?: number; route?: { path?: unknown } };

interface FastifyLike {
  addHook(name: string, hook: (...args: never[]) => unknown): unknown;
}
interface FastifyRequestLike {
  method: string;
  raw: TimedRequest;
  routeOptions?: { url?: string };
}

/**
 * Records every HTTP response into `veza_http_requests_total` and
 * `veza_http_request_duration_seconds`, at the adapter level rather than in a Nest interceptor:
 * the response's own end knows the status the client received (after guards, filters and the
 * 404 handler), and the router knows the route template.
 */
@Injectable()
export class HttpMetricsRecorder {
  private readonly logger = new Logger('VezaMetrics');
  private readonly requests: Counter<'method' | 'endpoint' | 'status'>;
  private readonly duration: Histogram<'method' | 'endpoint'>;
  private readonly excluded: Set<string>;
  private readonly statusMode: 'class' | 'code';
  private failed = false;

  constructor(metrics: VezaMetricsRegistry) {
    this.requests = metrics.get(VezaMetric.HttpRequestsTotal);
    this.duration = metrics.get(VezaMetric.HttpRequestDuration);
    this.excluded = new Set([metrics.options.path, ...metrics.options.http.exclude]);
    this.statusMode = metrics.options.statusLabel;
  }

  /** Hooks the recorder into the application's HTTP adapter (Express or Fastify). */
  attach(adapter: AbstractHttpAdapter): void {
    if (adapter.getType() === 'fastify') this.attachFastify(adapter.getInstance<FastifyLike>());
    else this.attachNode(adapter.getHttpServer() as Server);
  }

  /** Records one response. Never throws: a failure is logged once and the request goes on. */
  record(method: string, template: string | undefined, statusCode: number, startedAt: number | undefined): void {
    try {
      const endpoint = template ?? UNMATCHED_ENDPOINT;
      if (this.excluded.has(endpoint)) return;
      const m = KNOWN_METHODS.has(method) ? method : OTHER_METHOD;
      const seconds = startedAt === undefined ? 0 : (performance.now() - startedAt) / 1000;
      this.requests.inc({ method: m, endpoint, status: statusLabelOf(statusCode, this.statusMode) });
      this.duration.observe({ method: m, endpoint }, seconds);
    } catch (error) {
      if (this.failed) return;
      this.failed = true;
      this.logger.warn(recordingFailed('the HTTP recorder', error));
    }
  }

  /** Express (and any adapter on a Node HTTP server): the request's arrival, and its response's close. */
  private attachNode(server: Server | undefined): void {
    if (!server || typeof server.prependListener !== 'function') return;
    server.prependListener('request', (req: TimedRequest, res: ServerResponse) => {
      req[START] = performance.now();
      res.once('close', () => {
        const finished = res.writableFinished;
        const path = req.route?.path;
        this.record(
          req.method ?? '',
          typeof path === 'string' ? path : undefined,
          finished ? res.statusCode : CLIENT_CLOSED_STATUS,
          req[START],
        );
      });
    });
  }

  private attachFastify(instance: FastifyLike): void {
    instance.addHook('onRequest', (request: FastifyRequestLike, _reply: unknown, done: () => void) => {
      request.raw[START] = performance.now();
      done();
    });
    instance.addHook('onResponse', (request: FastifyRequestLike, reply: { statusCode: number }, done: () => void) => {
      this.record(request.method, request.routeOptions?.url, reply.statusCode, request.raw[START]);
      done();
    });
    instance.addHook('onRequestAbort', (request: FastifyRequestLike, done: () => void) => {
      this.record(request.method, request.routeOptions?.url, CLIENT_CLOSED_STATUS, request.raw[START]);
      done();
    });
  }
}
