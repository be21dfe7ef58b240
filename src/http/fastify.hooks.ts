import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { CLIENT_CLOSED_STATUS, type ResponseSink } from './node-server.hooks';
import { noteTrace, type TraceReader } from '../tracing/trace-context';
import { RESPONSE_MS } from './request-clock';

interface FastifyLike {
  addHook(name: string, hook: (...args: never[]) => unknown): unknown;
}
interface FastifyRequestLike {
  raw: IncomingMessage;
}
interface FastifyReplyLike {
  request: FastifyRequestLike;
  raw: ServerResponse;
  statusCode: number;
  elapsedTime: number;
}

/**
 * Hooks a Fastify instance: an `onResponse` hook records each response with Fastify's own timing
 * (`reply.elapsedTime`, from the moment the request arrived and was routed to the response's end)
 * and the route's URL (global prefix and version included). Fastify runs no hook for a request
 * whose client went away before its response ended, so an `onRequest` hook notes the reply in
 * flight on its socket, and the socket's `close` (listened to once per connection) records it as
 * {@link CLIENT_CLOSED_STATUS}. Nothing is allocated per request: the socket's field is written in
 * place, and the route URL is read without `request.routeOptions` (which builds an object per read).
 */
export function hookFastify(instance: FastifyLike, sink: ResponseSink, trace?: TraceReader): void {
  const IN_FLIGHT = Symbol('vezaMetricsInFlight');
  const WATCHED = Symbol('vezaMetricsWatched');
  const ABORTED = Symbol('vezaMetricsAborted');
  type Reply = FastifyReplyLike & { [ABORTED]?: true };
  type WatchedSocket = Socket & { [IN_FLIGHT]?: Reply | null; [WATCHED]?: true };
  const routeUrl = routeUrlReader();

  const record = (reply: Reply, status: number): void => {
    const request = reply.request;
    RESPONSE_MS[0] = reply.elapsedTime;
    sink(request.raw.method ?? '', routeUrl(request), status, request, reply);
  };

  function socketClosed(this: WatchedSocket): void {
    const reply = this[IN_FLIGHT];
    if (reply === undefined || reply === null || reply.raw.writableFinished) return;
    this[IN_FLIGHT] = null;
    // If the handler answers later, Fastify may still run onResponse (on the response's error).
    reply[ABORTED] = true;
    record(reply, CLIENT_CLOSED_STATUS);
  }

  instance.addHook('onRequest', (request: FastifyRequestLike, reply: Reply, done: () => void) => {
    const socket = request.raw.socket as WatchedSocket | null;
    if (socket !== null) {
      if (socket[WATCHED] !== true) {
        socket[WATCHED] = true;
        socket.on('close', socketClosed);
      }
      socket[IN_FLIGHT] = reply;
    }
    noteTrace(trace, request.raw);
    done();
  });
  instance.addHook('onResponse', (request: FastifyRequestLike, reply: Reply, done: () => void) => {
    const socket = request.raw.socket as WatchedSocket | null;
    if (socket !== null && socket[IN_FLIGHT] === reply) socket[IN_FLIGHT] = null;
    if (reply[ABORTED] !== true) record(reply, reply.statusCode);
    done();
  });
}

/**
 * Reads the route URL of a Fastify request. Fastify keeps the route's context (whose config has the
 * `url`; none for the 404 handler) on the request under a symbol, found once by its description;
 * `request.routeOptions.url`, the public way, builds and freezes an object on every read and is the
 * fallback if the symbol is ever missing.
 */
function routeUrlReader(): (request: FastifyRequestLike) => string | undefined {
  let key: symbol | undefined | null = null;
  return (request) => {
    if (key === null) key = Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context');
    const url =
      key !== undefined
        ? (request as unknown as Record<symbol, { config?: { url?: unknown } } | undefined>)[key]?.config?.url
        : (request as { routeOptions?: { url?: unknown } }).routeOptions?.url;
    return typeof url === 'string' ? url : undefined;
  };
}
