import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ScrapeHandler } from './scrape-handler';
import { writeAnswer } from './write-answer';

const TEXT_PLAIN = 'text/plain; charset=utf-8';

/**
 * The router of a listener that serves nothing but the metrics: `path`, matched exactly (no case
 * folding, trailing slash or decoding; the query is ignored), answered by `handler` for `GET` and
 * `HEAD` (sent under the send timeout), `405` with `Allow: GET, HEAD` for any other method, `404` for any other path. The module's
 * `metricsServer` and `serveClusterMetrics` both route with it. Never throws.
 */
export function routeMetrics(
  path: string,
  handler: ScrapeHandler,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  if ((query === -1 ? url : url.slice(0, query)) !== path) {
    res.writeHead(404, { 'Content-Type': TEXT_PLAIN }).end('Not Found\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'Content-Type': TEXT_PLAIN, Allow: 'GET, HEAD' }).end('Method Not Allowed\n');
    return;
  }
  void handler.scrape(req).then((answer) => writeAnswer(res, answer, req.method === 'HEAD'));
}
