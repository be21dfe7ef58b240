import { Injectable, Logger } from '@nestjs/common';
import type { Counter } from 'prom-client';
import { CONTENT_TYPES, type CollectFailure, type ExpositionFormat } from '../exposition/render-exposition';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { collectorFailed, scrapeFailed } from '../veza-metrics.messages';
import { MetricsAuthenticator } from './metrics-auth';

/** What a request to `/metrics` is answered: adapter-neutral, so the app's port and the metrics server share it. */
export interface ScrapeResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
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
      const body = await this.metrics.renderBytes(format, {
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
