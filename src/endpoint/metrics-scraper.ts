import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { CounterMetric as Counter } from '../compat/client-types';
import { collectFailuresCounter } from '../exposition/collect-failures';
import {
  CONTENT_TYPES,
  recycleChunks,
  type CollectFailure,
  type ExpositionFormat,
} from '../exposition/render-exposition';
import { MetricsExposition } from '../exposition/metrics-exposition';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { SelfMetrics } from '../registry/self-metrics';
import { collectorFailed, scrapeFailed } from '../veza-metrics.messages';
import { negotiateFormat, type OfferedFormat } from './accept';
import { MetricsAuthenticator, type MetricsCredentials } from './metrics-auth';
import {
  ScrapeLimiter,
  type ScrapeAbort,
  type ScrapeLease,
  type ScrapeLimits,
  type ScrapeRefusal,
} from './scrape-limiter';

/** What a request to `/metrics` is answered: adapter-neutral, so the app's port and the metrics server share it. */
export interface ScrapeResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** A short message, or the exposition's bytes as the chunks it was rendered in. */
  readonly body: string | readonly Buffer[];
  /** The admitted scrape's hold on the limits: handed the response it is sent on, or released. */
  readonly lease?: ScrapeLease;
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

/** Chunks of exposition handed to sockets per turn of the event loop, all scrapes together (1 MiB). */
const CHUNKS_PER_TURN = 16;

/**
 * Hands out {@link CHUNKS_PER_TURN} chunks per turn of the event loop to every exposition being
 * sent: writing megabytes at once, when clients read as fast as we write, holds the event loop for
 * as long as the kernel copies, and fifty scrapes sending 1 MiB each per turn held it for hundreds
 * of milliseconds. The budget is the process's, since the event loop is: module state on purpose.
 */
const pacer = {
  used: 0,
  turn: undefined as Promise<void> | undefined,
  async take(): Promise<void> {
    while (this.used >= CHUNKS_PER_TURN) {
      this.turn ??= nextTurn().then(() => {
        this.used = 0;
        this.turn = undefined;
      });
      await this.turn;
    }
    this.used++;
  },
};

/**
 * The exposition's chunks as a stream that starts on the turn after the render and hands the socket
 * chunks within the shared per-turn budget (see {@link pacer}).
 */
export function exposition(chunks: readonly Buffer[]): Readable {
  async function* paced(): AsyncGenerator<Buffer> {
    await nextTurn();
    for (const chunk of chunks) {
      await pacer.take();
      yield chunk;
    }
  }
  return Readable.from(paced());
}

/** The parts of Node's `ServerResponse` an answer is written with. */
export type NodeResponseLike = Pick<
  ServerResponse,
  'writeHead' | 'end' | 'headersSent' | 'writableEnded' | 'destroyed'
> &
  NodeJS.WritableStream;

/**
 * Writes an answer to a Node response; the body of a `HEAD` request is left out. Never throws: a
 * response something else already answered (a timeout middleware) or whose client is gone is left
 * as it is. The answer's lease follows the response (send timeout, release when it ends).
 */
export function writeAnswer(res: NodeResponseLike, answer: ScrapeResponse, head: boolean): void {
  if (res.headersSent || res.writableEnded || res.destroyed) {
    answer.lease?.release();
    return;
  }
  try {
    answer.lease?.send(res as ServerResponse);
    res.writeHead(answer.status, answerHeaders(answer));
    recycleWhenSent(res, answer.body);
    if (head) res.end();
    else if (typeof answer.body === 'string') res.end(answer.body);
    // A client that goes away ends the pipeline; there is nothing to report.
    else pipeline(exposition(answer.body), res, () => undefined);
  } catch {
    // The response was answered or closed meanwhile: nothing of ours to send any more.
    answer.lease?.release();
  }
}

/**
 * Gives the exposition's chunks back for the next render once `res` has finished: every write is
 * then done, so no socket holds them. A send cut short (client gone, send timeout, shutdown) may
 * leave writes queued on the destroyed socket: its chunks are left to the garbage collector.
 */
export function recycleWhenSent(res: Pick<NodeJS.EventEmitter, 'once'>, body: ScrapeResponse['body']): void {
  if (typeof body !== 'string') res.once('finish', () => recycleChunks(body));
}

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
 * and no byte), then the limits of {@link ScrapeLimiter}, format negotiation (OpenMetrics when the
 * scraper asks for it) and the render. The metrics endpoint, the metrics listener and the cluster
 * primary each have one; see {@link serveScrape} for a plain Node response.
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
 * Serves one request to the metrics path on a plain Node response: auth, limits, render, send
 * under the send timeout. The caller has matched the path and the method (`GET` or `HEAD`). Never
 * throws.
 *
 * @example
 * ```ts
 * createServer((req, res) => (req.url === '/metrics' ? serveScrape(handler, req, res) : res.writeHead(404).end()));
 * ```
 */
export function serveScrape(handler: ScrapeHandler, req: IncomingMessage, res: ServerResponse): void {
  void handler.scrape(req).then((answer) => writeAnswer(res, answer, req.method === 'HEAD'));
}

/**
 * The application's {@link ScrapeHandler}: renders its registry, counts refusals, aborted sends and
 * failing scrape-time sources in its `veza_metrics_*` counters, and closes with the application,
 * so that no scraper, however slow, holds `app.close()`.
 */
@Injectable()
export class MetricsScraper extends ScrapeHandler implements OnModuleDestroy {
  constructor(
    self: SelfMetrics,
    exposition: MetricsExposition,
    @InjectVezaMetricsOptions() options: ResolvedOptions,
  ) {
    const collectFailures = collectFailuresCounter(self);
    const rejected: Counter<'reason'> = self.counter(
      'veza_metrics_scrapes_rejected_total',
      'Scrapes refused before rendering',
      ['reason'],
    );
    const aborted: Counter<'reason'> = self.counter(
      'veza_metrics_scrapes_aborted_total',
      'Scrapes whose connection was destroyed while sending (send timeout, shutdown)',
      ['reason'],
    );
    const logger = new Logger('VezaMetrics');
    // Bound: one key per metric of the registry and reason.
    const logged = new Set<string>();
    const onCollectFailure = (metric: string, reason: CollectFailure, error: unknown): void => {
      collectFailures.inc({ metric, reason });
      const key = `${metric}:${reason}`;
      if (logged.has(key)) return;
      logged.add(key);
      logger.warn(collectorFailed(metric, reason, error));
    };
    const { auth, scrape } = options.endpoint;
    super({
      auth,
      limits: scrape,
      render: (format) =>
        exposition.renderChunks(format, {
          deadline: performance.now() + scrape.timeoutMs,
          collectTimeoutMs: scrape.collectTimeoutMs,
          onCollectFailure,
        }),
      onRejected: (reason) => rejected.inc({ reason }),
      onAborted: (reason) => aborted.inc({ reason }),
    });
  }

  onModuleDestroy(): void {
    this.close();
  }
}

/**
 * The formats a scrape is answered in, the server's choice first (when the scraper accepts several
 * equally: `*\/*`, no `Accept`). OpenMetrics 0.0.1 (which Prometheus 2 asks for second) is served
 * as 1.0.0, its successor, as prom-client does. A format added here (protobuf, issue #24) is
 * negotiated with the others.
 */
export const EXPOSITION_OFFERS: readonly OfferedFormat<ExpositionFormat>[] = [
  { format: 'text', type: 'text', subtype: 'plain', params: { version: ['0.0.4'], charset: ['utf-8'] } },
  {
    format: 'openmetrics',
    type: 'application',
    subtype: 'openmetrics-text',
    params: { version: ['1.0.0', '0.0.1'], charset: ['utf-8'] },
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
