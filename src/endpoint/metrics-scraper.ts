import { Injectable, Logger } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { pipeline, Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Counter } from 'prom-client';
import { CONTENT_TYPES, type CollectFailure, type ExpositionFormat } from '../exposition/render-exposition';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { collectorFailed, scrapeFailed } from '../veza-metrics.messages';
import { MetricsAuthenticator } from './metrics-auth';

/** What a request to `/metrics` is answered: adapter-neutral, so the app's port and the metrics server share it. */
export interface ScrapeResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** A short message, or the exposition's bytes as the chunks it was rendered in. */
  readonly body: string | readonly Buffer[];
}

/** The body's length in bytes, for `Content-Length`. */
function bodyLength(body: ScrapeResponse['body']): number {
  if (typeof body === 'string') return Buffer.byteLength(body);
  let total = 0;
  for (const chunk of body) total += chunk.length;
  return total;
}

/** The answer's headers, with its exact `Content-Length`. */
export function answerHeaders(answer: ScrapeResponse): Record<string, string | number> {
  return { ...answer.headers, 'Content-Length': bodyLength(answer.body) };
}

/** Chunks of the exposition handed to the socket between two turns of the event loop (1 MiB). */
const CHUNKS_PER_TURN = 16;

/**
 * The exposition's chunks as a stream that hands the socket at most {@link CHUNKS_PER_TURN} of them
 * per turn of the event loop, starting on the turn after the render: writing megabytes at once,
 * when the client reads as fast as we write, holds the event loop for as long as the kernel copies.
 */
export function exposition(chunks: readonly Buffer[]): Readable {
  async function* paced(): AsyncGenerator<Buffer> {
    for (let i = 0; i < chunks.length; i++) {
      if (i % CHUNKS_PER_TURN === 0) await nextTurn();
      yield chunks[i];
    }
  }
  return Readable.from(paced());
}

/** The parts of Node's `ServerResponse` an answer is written with. */
export type NodeResponseLike = Pick<ServerResponse, 'writeHead' | 'end' | 'headersSent' | 'writableEnded' | 'destroyed'> &
  NodeJS.WritableStream;

/**
 * Writes an answer to a Node response; the body of a `HEAD` request is left out. Never throws: a
 * response something else already answered (a timeout middleware) or whose client is gone is left
 * as it is.
 */
export function writeAnswer(res: NodeResponseLike, answer: ScrapeResponse, head: boolean): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  try {
    res.writeHead(answer.status, answerHeaders(answer));
    if (head) res.end();
    else if (typeof answer.body === 'string') res.end(answer.body);
    // A client that goes away ends the pipeline; there is nothing to report.
    else pipeline(exposition(answer.body), res, () => undefined);
  } catch {
    // The response was answered or closed meanwhile: nothing of ours to send any more.
  }
}

/** The parts of a request the scrape looks at. */
export interface ScrapeRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

const TEXT_PLAIN = 'text/plain; charset=utf-8';

/**
 * Answers scrapes: authentication, a limit on concurrent scrapes (more are answered 503 at once),
 * format negotiation (OpenMetrics when the scraper asks for it), and a render that a failing or
 * hanging scrape-time source cannot break: it is left out, counted, and everything else is served.
 */
@Injectable()
export class MetricsScraper {
  private readonly logger = new Logger('VezaMetrics');
  private readonly authenticator: MetricsAuthenticator | undefined;
  private readonly collectFailures: Counter<'metric' | 'reason'>;
  private readonly rejected: Counter<'reason'>;
  private readonly loggedFailures = new Set<string>();
  private inFlight = 0;

  constructor(private readonly metrics: VezaMetricsRegistry) {
    const { auth } = metrics.options.endpoint;
    this.authenticator = auth ? new MetricsAuthenticator(auth) : undefined;
    this.collectFailures = metrics.selfCounter(
      'veza_metrics_collect_failures_total',
      'Metrics left out of a scrape because their scrape-time source failed or timed out',
      ['metric', 'reason'],
    );
    this.rejected = metrics.selfCounter('veza_metrics_scrapes_rejected_total', 'Scrapes refused before rendering', ['reason']);
  }

  /** Answers one request to the metrics path. Never throws. */
  async scrape(request: ScrapeRequest): Promise<ScrapeResponse> {
    if (this.authenticator && !this.authenticator.verify(request.headers.authorization)) {
      this.rejected.inc({ reason: 'unauthorized' });
      return {
        status: 401,
        headers: { 'Content-Type': TEXT_PLAIN, 'WWW-Authenticate': this.authenticator.challenge },
        body: 'Unauthorized\n',
      };
    }
    const { maxConcurrent, timeoutMs, collectTimeoutMs } = this.metrics.options.endpoint.scrape;
    if (this.inFlight >= maxConcurrent) {
      this.rejected.inc({ reason: 'concurrency' });
      return { status: 503, headers: { 'Content-Type': TEXT_PLAIN, 'Retry-After': '1' }, body: 'Too many concurrent scrapes\n' };
    }
    this.inFlight++;
    try {
      const format = negotiate(request.headers.accept);
      const body = await this.metrics.renderChunks(format, {
        deadline: performance.now() + timeoutMs,
        collectTimeoutMs,
        onCollectFailure: (metric, reason, error) => this.onCollectFailure(metric, reason, error),
      });
      return { status: 200, headers: { 'Content-Type': CONTENT_TYPES[format], 'Cache-Control': 'no-store' }, body };
    } catch (error) {
      this.logger.error(scrapeFailed(error));
      return { status: 500, headers: { 'Content-Type': TEXT_PLAIN }, body: 'Metrics unavailable\n' };
    } finally {
      this.inFlight--;
    }
  }

  private onCollectFailure(metric: string, reason: CollectFailure, error: unknown): void {
    this.collectFailures.inc({ metric, reason });
    const key = `${metric}:${reason}`;
    if (this.loggedFailures.has(key)) return;
    this.loggedFailures.add(key);
    this.logger.warn(collectorFailed(metric, reason, error));
  }
}

/** OpenMetrics when the scraper lists it (Prometheus does, first), the text format otherwise. */
function negotiate(accept: string | string[] | undefined): ExpositionFormat {
  const value = Array.isArray(accept) ? accept.join(',') : (accept ?? '');
  return /application\/openmetrics-text/i.test(value) ? 'openmetrics' : 'text';
}
