import type { IncomingMessage } from 'node:http';
import type { TraceReader } from '../../tracing/trace-context';

/**
 * Receives each finished response, once, as values: the request's method, the route template
 * (`undefined` when no route matched: `<unmatched>`), the status the client received, the
 * milliseconds from the request's arrival to the response's end, and the adapter's own request and
 * response objects (read for the exception behind a 5xx, the headers of a 429, the trace note).
 */
export type RecordResponse = (
  method: string,
  template: string | undefined,
  status: number,
  durationMs: number,
  request: object,
  response: object,
) => void;

/** The part of Nest's `AbstractHttpAdapter` an adapter recorder uses (every method is Nest's public API). */
export interface NestHttpAdapterLike {
  getType(): string;
  getInstance(): unknown;
  getHttpServer(): unknown;
  setNotFoundHandler?(handler: unknown, prefix?: string): unknown;
  setErrorHandler?(handler: unknown, prefix?: string): unknown;
}

/**
 * How one HTTP adapter (Express, Fastify) tells the recorder about each response. One file per
 * adapter implements it (src/http/adapters/*.ts); the recorder picks the file by the adapter's
 * `getType()` and records nothing, saying so at start-up, for an adapter with none.
 */
export interface HttpAdapterRecorder {
  /** What the adapter's `getType()` answers (`'express'`, `'fastify'`). */
  readonly type: string;
  /**
   * Hooks the adapter so that `record` is called once per response, including those of requests
   * that matched no route and of clients that went away (status {@link CLIENT_CLOSED_STATUS}).
   * Called while the application initializes, before Nest registers its routes. `trace` notes the
   * request's span, when exemplars are on.
   */
  attach(adapter: NestHttpAdapterLike, record: RecordResponse, trace: TraceReader | undefined): void;
  /**
   * Called while the module is built, before Nest connects gateways or calls {@link
   * HttpAdapterRecorder.attach}: takes the place in the server that the recording needs before
   * other libraries (Socket.IO's engine) wrap it.
   */
  reserve?(adapter: NestHttpAdapterLike): void;
  /** The names of the headers of the adapter's response object (read for 429s only). */
  readonly headerNames: (response: object) => string[];
}

/**
 * The status recorded for a request the client aborted before its response ended: 499, nginx's
 * convention (`status="4xx"` under the default `statusLabel: 'class'`).
 */
export const CLIENT_CLOSED_STATUS = 499;

/**
 * The `endpoint` of a CORS preflight (an `OPTIONS` request with `Access-Control-Request-Method`)
 * that no route of the application handles: answered by the CORS layer (or, without one, by the
 * 404 handler), for whatever path it names. One series, whatever the path.
 */
export const PREFLIGHT_ENDPOINT = '<preflight>';

/** {@link PREFLIGHT_ENDPOINT} for a CORS preflight, `undefined` for any other request. */
export function preflight(req: IncomingMessage): string | undefined {
  return req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined
    ? PREFLIGHT_ENDPOINT
    : undefined;
}
