import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { Injectable, Logger } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { metricsServed } from '../veza-metrics.messages';
import { exposition } from './exposition-pacer';
import { MetricsScraper } from './metrics-scraper';
import type { ScrapeRequest } from './scrape-handler';
import {
  answerHeaders,
  recycleWhenSent,
  writeAnswer,
  type NodeResponseLike,
  type ScrapeResponse,
} from './write-answer';

/**
 * Serves the exposition at the configured path, on the application's own HTTP adapter.
 *
 * A route registered on the adapter rather than a Nest controller: its path comes from options that
 * `forRootAsync` only knows at run time, and each application gets its own, where a controller's
 * path is static metadata shared by every application in the process.
 */
@Injectable()
export class MetricsEndpoint {
  private readonly logger = new Logger('VezaMetrics');

  constructor(
    @InjectVezaMetricsOptions() private readonly options: ResolvedOptions,
    private readonly scraper: MetricsScraper,
  ) {}

  /** Registers `GET` (and so `HEAD`) on the configured path, unless `appEndpoint: false`. */
  register(adapter: AbstractHttpAdapter): void {
    if (!this.options.endpoint.app) return;
    const path = this.options.path;
    adapter.get(path, (req: ScrapeRequest & { method?: string }, res: unknown) => {
      void this.scraper.scrape(req).then((answer) => send(adapter.getType(), req, res, answer));
    });
    this.logger.log(metricsServed(path));
  }
}

interface FastifyReplyLike {
  readonly sent: boolean;
  /** Node's response under the reply: the send timeout and the shutdown destroy its connection. */
  readonly raw: ServerResponse;
  code(status: number): FastifyReplyLike;
  headers(values: Record<string, string | number>): FastifyReplyLike;
  send(payload: Readable | string): unknown;
}

/**
 * Sends the answer as bytes. Nest's `reply()` would JSON-encode a Buffer on Express, so the
 * response is written directly: on Fastify through its reply (a stream, so that its hooks and
 * `HEAD` handling still apply), on Express to the Node response. Never throws: a response that was
 * already answered (by a timeout, say) is left as it is.
 */
function send(adapterType: string, req: { method?: string }, res: unknown, answer: ScrapeResponse): void {
  if (adapterType !== 'fastify') {
    writeAnswer(res as NodeResponseLike, answer, req.method === 'HEAD');
    return;
  }
  const reply = res as FastifyReplyLike;
  if (reply.sent || reply.raw.destroyed) {
    answer.lease?.release();
    return;
  }
  try {
    answer.lease?.send(reply.raw);
    recycleWhenSent(reply.raw, answer.body);
    const payload = typeof answer.body === 'string' ? answer.body : exposition(answer.body);
    reply.code(answer.status).headers(answerHeaders(answer)).send(payload);
  } catch {
    // Answered or closed meanwhile: nothing of ours to send any more.
    answer.lease?.release();
  }
}
