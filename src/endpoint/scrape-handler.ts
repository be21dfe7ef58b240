import { Logger } from '@nestjs/common';
import { CONTENT_TYPES, type ExpositionFormat } from '../exposition/render-exposition';
import { scrapeFailed } from '../veza-metrics.messages';
import { negotiateFormat, type OfferedFormat } from './accept';
import { MetricsAuthenticator, type MetricsCredentials } from './metrics-auth';
import { ScrapeLimiter, type ScrapeAbort, type ScrapeLimits, type ScrapeRefusal } from './scrape-limiter';
import { bodyLength, type ScrapeResponse } from './write-answer';

/** The parts of a request the scrape looks at. */
export interface ScrapeRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Where it comes from: one client address gets a fair share of the limits when no credentials are required. */
  readonly socket?: { readonly remoteAddress?: string } | null;
}

/** Why a scrape was refused (the `reason` of `veza_metrics_scrapes_rejected_total`). */
export type ScrapeRejection = 'unauthorized' | ScrapeRefusal;

/** What a {@link ScrapeHandler} serves, and under which limits. */
export interface ScrapeHandlerOptions {
  /** Credentials every scrape must carry; none: the endpoint is open and its limits shared fairly by client address. */
  readonly auth: MetricsCredentials | undefined;
  readonly limits: ScrapeLimits;
  /** Renders the exposition in `format`; a rejection is answered 500. */
  readonly render: (format: ExpositionFormat) => Promise<readonly Buffer[]>;
  /** Counts a scrape refused before rendering. */
  readonly onRejected?: (reason: ScrapeRejection) => void;
  /** Counts a scrape whose connection was destroyed while sending. */
  readonly onAborted?: (reason: ScrapeAbort) => void;
}

const TEXT_PLAIN = 'text/plain; charset=utf-8';

const refused = (reason: ScrapeRefusal): ScrapeResponse => ({
  status: 503,
  headers: { 'Content-Type': TEXT_PLAIN, 'Retry-After': '1' },
  body:
    reason === 'concurrency'
      ? 'Too many concurrent scrapes\n'
      : reason === 'bytes_in_flight'
        ? 'Too many scrape bytes in flight\n'
        : 'Shutting down\n',
});

/**
 * Answers scrapes, on any Node HTTP server: authentication first (a refused request takes no slot
 * and no byte), then the limits of {@link ScrapeLimiter}, format negotiation (OpenMetrics or
 * protobuf when the scraper asks for it) and the render. The metrics endpoint, the metrics listener and the cluster
 * primary each have one; see `routeMetrics` (metrics-router.ts) for a
 * listener of its own.
 */
export class ScrapeHandler {
  protected readonly logger = new Logger('VezaMetrics');
  private readonly authenticator: MetricsAuthenticator | undefined;
  private readonly limiter: ScrapeLimiter;

  constructor(private readonly handlerOptions: ScrapeHandlerOptions) {
    const { auth, limits, onAborted } = handlerOptions;
    this.authenticator = auth ? new MetricsAuthenticator(auth) : undefined;
    this.limiter = new ScrapeLimiter(limits, auth === undefined, onAborted);
  }

  /** Bytes of exposition held by scrapes being rendered or sent. */
  get bytesInFlight(): number {
    return this.limiter.bytesInFlight;
  }

  /**
   * Answers one request to the metrics path. Never throws. A 200's `lease` must be handed the
   * response it is sent on ({@link writeAnswer} does), or released.
   */
  async scrape(request: ScrapeRequest): Promise<ScrapeResponse> {
    const { onRejected = () => undefined, render } = this.handlerOptions;
    if (this.authenticator && !this.authenticator.verify(request.headers.authorization)) {
      onRejected('unauthorized');
      return {
        status: 401,
        headers: { 'Content-Type': TEXT_PLAIN, 'WWW-Authenticate': this.authenticator.challenge },
        body: 'Unauthorized\n',
      };
    }
    const lease = this.limiter.admit(request.socket?.remoteAddress ?? '');
    if (typeof lease === 'string') {
      onRejected(lease);
      return refused(lease);
    }
    let body: readonly Buffer[];
    const format = negotiate(request.headers.accept);
    try {
      body = await render(format);
    } catch (error) {
      lease.release();
      this.logger.error(scrapeFailed(error));
      return { status: 500, headers: { 'Content-Type': TEXT_PLAIN }, body: 'Metrics unavailable\n' };
    }
    if (!lease.rendered(bodyLength(body))) {
      const reason = this.limiter.isClosed ? 'shutdown' : 'bytes_in_flight';
      onRejected(reason);
      return refused(reason);
    }
    return {
      status: 200,
      headers: { 'Content-Type': CONTENT_TYPES[format], 'Cache-Control': 'no-store' },
      body,
      lease,
    };
  }

  /** Refuses new scrapes and destroys the connections of scrapes being sent (call it when the server closes). */
  close(): void {
    this.limiter.close();
  }
}

/**
 * The formats a scrape is answered in, the server's choice first (when the scraper accepts several
 * equally: `*\/*`, no `Accept`). OpenMetrics 0.0.1 (which Prometheus 2 asks for second) is served
 * as 1.0.0, its successor, as prom-client does. Protobuf (length-delimited `MetricFamily`
 * messages) comes last: served only to a scraper that prefers it, never for a wildcard alone. A
 * format added here is negotiated with the others.
 */
export const EXPOSITION_OFFERS: readonly OfferedFormat<ExpositionFormat>[] = [
  { format: 'text', type: 'text', subtype: 'plain', params: { version: ['0.0.4'], charset: ['utf-8'] } },
  {
    format: 'openmetrics',
    type: 'application',
    subtype: 'openmetrics-text',
    params: { version: ['1.0.0', '0.0.1'], charset: ['utf-8'] },
  },
  {
    // Only a range that names it whole: `proto` and `encoding` given, with these values.
    format: 'protobuf',
    type: 'application',
    subtype: 'vnd.google.protobuf',
    params: { proto: ['io.prometheus.client.metricfamily'], encoding: ['delimited'] },
    required: ['proto', 'encoding'],
  },
];

/**
 * The format the scraper's `Accept` prefers (RFC 9110 §12.5.1, see {@link negotiateFormat}); the
 * text format when it accepts none of them (`application/json`, every format at `q=0`), as
 * Prometheus's own client_golang does: a scraper is never refused for its `Accept`.
 */
export function negotiate(accept: string | readonly string[] | undefined): ExpositionFormat {
  return negotiateFormat(accept, EXPOSITION_OFFERS) ?? 'text';
}
