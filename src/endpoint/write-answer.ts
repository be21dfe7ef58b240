import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { recycleChunks } from '../exposition/render-exposition';
import { exposition } from './exposition-pacer';
import type { ScrapeLease } from './scrape-limiter';

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
export function bodyLength(body: ScrapeResponse['body']): number {
  if (typeof body === 'string') return Buffer.byteLength(body);
  let total = 0;
  for (const chunk of body) total += chunk.length;
  return total;
}

/** The answer's headers, with its exact `Content-Length`. */
export function answerHeaders(answer: ScrapeResponse): Record<string, string | number> {
  return { ...answer.headers, 'Content-Length': bodyLength(answer.body) };
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
