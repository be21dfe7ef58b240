import type { ServerResponse } from 'node:http';

/**
 * What this library assumes of `node:http`'s `ServerResponse` beyond its documented API. Verified
 * against Node 20.20.2 (the one installed here); each assumption has a contract test in
 * test/unit/compat-node-http.spec.ts that names it and `process.version`.
 *
 * H1. A response has an own boolean field `finished`, false until `end()` is called and true from
 *     then on (`writableEnded` is a getter that returns it). Why: a response Node queued behind
 *     another of a keep-alive connection has no socket yet; `socket === null && !finished` tells it
 *     from one already ended, read on every request without going through the getter.
 *     Fallback: no boolean `finished`: `res.writableEnded` (public, exact).
 * H2. A response has an own number field `outputSize`: the bytes it still holds in its own buffer
 *     (`outputData`), not yet written to a socket; 0 once everything it was given went to the
 *     socket. Why: at the response's `close`, an ended response whose bytes all went to the socket
 *     was sent as far as the server can tell (like nginx counts it), even when the socket's own
 *     buffer still holds some, or when the socket is light-my-request's mock socket, which keeps the
 *     bytes until after `close`; an ended response still holding bytes, or one never ended, was
 *     aborted (499). `res.writableFinished` waits for the socket's buffer, so it reads a response
 *     sent to a slow client as aborted, and reading it in the close listener allocates (32 B per
 *     call on Node 20). Fallback: no number `outputSize` (or H1's field missing): `res.writableEnded`
 *     (public), exact for every response except one ended while Node still held its bytes, which is
 *     then counted as sent.
 * H3. `node:http2`'s compatibility API: a response whose stream the client cancelled
 *     (`RST_STREAM`), or that went with its session, emits `finish` and `close` when its stream
 *     closes, though the application never ended it (`writableEnded` false), and its stream's
 *     `rstCode` (public) is not 0. Why: Fastify runs its `onResponse` hook on that `finish`, with the
 *     status the reply had (200 until the handler sets another): the response is recorded as 499,
 *     not as that status, unless it was ended and its stream closed with `rstCode` 0.
 *     Fallback: none needed: a response not ended, or with no stream, is 499; one ended with no
 *     `rstCode` to read counts as delivered.
 *
 * Nothing here throws: the reads are plain property reads.
 */

/** The fields of a response this file reads. */
interface ResponseFields {
  finished?: unknown;
  outputSize?: unknown;
}

/** H1: the application called `end()` on `res`. */
export function responseEnded(res: ServerResponse): boolean {
  const finished = (res as unknown as ResponseFields).finished;
  return typeof finished === 'boolean' ? finished : res.writableEnded;
}

/**
 * H1 + H2: the application ended `res` and Node handed all of it to the connection (its socket, or
 * light-my-request's mock socket). False for a response whose client went away first.
 */
export function handedOver(res: ServerResponse): boolean {
  const r = res as unknown as ResponseFields;
  if (typeof r.outputSize !== 'number' || typeof r.finished !== 'boolean') return res.writableEnded;
  return r.finished && r.outputSize === 0;
}

/** The running Node's version, for messages. */
export function nodeVersion(): string {
  return process.version;
}

/** What {@link http2Delivered} reads of an HTTP/2 response (`http2.Http2ServerResponse`, public API). */
interface Http2ResponseLike {
  writableEnded: boolean;
  stream?: { rstCode?: number } | null;
}

/**
 * H3: an HTTP/2 response reached its client: the application ended it and its stream closed
 * without an error code (`rstCode` 0: both sides ended the stream). A stream the client cancelled,
 * or one destroyed with its session, was not delivered, whatever the handler does later.
 */
export function http2Delivered(res: object): boolean {
  const r = res as Http2ResponseLike;
  if (r.writableEnded !== true) return false;
  const code = r.stream?.rstCode;
  return code === undefined || code === 0;
}
