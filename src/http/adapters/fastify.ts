import { Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { CORS_PREFLIGHT_URL, fastifyVersion, RouteUrlReader } from '../../compat/fastify';
import { handedOver } from '../../compat/node-http';
import { noteTrace, type TraceReader } from '../../tracing/trace-context';
import { fastifyRouteUrlFallback } from '../../veza-metrics.messages';
import {
  CLIENT_CLOSED_STATUS,
  preflight,
  type HttpAdapterRecorder,
  type NestHttpAdapterLike,
  type RecordResponse,
} from './http-adapter-recorder';

interface FastifyLike {
  addHook(name: string, hook: (...args: never[]) => unknown): unknown;
  version?: unknown;
}
interface FastifyRequestLike {
  raw: IncomingMessage;
}
interface FastifyReplyLike {
  request: FastifyRequestLike;
  raw: ServerResponse;
  statusCode: number;
  elapsedTime: number;
  getHeaders(): object;
}

/** Said once per process, whichever application first finds the internal read unusable (F1). */
let fallbackLogged = false;

/**
 * The Fastify adapter: hooks on the Fastify instance (Fastify's public hook API), the duration from
 * Fastify's own clock (`reply.elapsedTime`), the template from the route's URL
 * (src/compat/fastify.ts, F1).
 */
export const fastifyRecorder: HttpAdapterRecorder = {
  type: 'fastify',
  attach(adapter: NestHttpAdapterLike, record: RecordResponse, trace: TraceReader | undefined): void {
    const instance = adapter.getInstance() as FastifyLike;
    const urls = new RouteUrlReader((why) => {
      if (fallbackLogged) return;
      fallbackLogged = true;
      new Logger('VezaMetrics').warn(fastifyRouteUrlFallback(fastifyVersion(instance), why));
    });
    hookFastify(instance, urls, record, trace);
  },
  headerNames: (reply) => Object.keys((reply as FastifyReplyLike).getHeaders()),
};

/**
 * Hooks a Fastify instance: an `onResponse` hook records each response with Fastify's own timing
 * (`reply.elapsedTime`, from the moment the request arrived and was routed to the response's end)
 * and the route's URL (global prefix and version included). Fastify runs no hook for a request
 * whose client went away before its response ended (F2), so an `onRequest` hook notes the reply in
 * flight on its socket, and the socket's `close` (listened to once per connection) records it as
 * {@link CLIENT_CLOSED_STATUS}. Nothing is allocated per request by this code: the socket's field
 * is written in place, and the route URL is read through the route context (F1).
 *
 * Pipelining: Node hands Fastify every request it parses, even behind a response in flight, so a
 * connection can have several replies in flight; those after the first are kept in a Set on the
 * socket (created for the second one only), and the socket's `close` records each one left under
 * its own route. Bound: one Set entry (about 20 B) per reply Node and Fastify themselves keep in
 * flight on that connection; nothing once the socket closed.
 */
export function hookFastify(
  instance: FastifyLike,
  urls: RouteUrlReader,
  record: RecordResponse,
  trace?: TraceReader,
): void {
  const IN_FLIGHT = Symbol('vezaMetricsInFlight');
  const MORE_IN_FLIGHT = Symbol('vezaMetricsMoreInFlight');
  const WATCHED = Symbol('vezaMetricsWatched');
  const RECORDED = Symbol('vezaMetricsRecorded');
  type Reply = FastifyReplyLike & { [RECORDED]?: true };
  type WatchedSocket = Socket & {
    [IN_FLIGHT]?: Reply | null;
    [MORE_IN_FLIGHT]?: Set<Reply>;
    [WATCHED]?: true;
  };

  const recordReply = (reply: Reply, status: number): void => {
    const request = reply.request;
    const method = request.raw.method ?? '';
    let template = urls.read(request);
    // The route `@fastify/cors` adds for preflights, or the 404 handler's answer to one (F3).
    if (method === 'OPTIONS' && (template === undefined || template === CORS_PREFLIGHT_URL))
      template = preflight(request.raw) ?? template;
    record(method, template, status, reply.elapsedTime, request, reply);
  };

  /** A reply still in flight as its connection closed: an abort, unless the whole response was handed over. */
  const closedInFlight = (reply: Reply): void => {
    const res = reply.raw;
    if (res.writableFinished) return;
    // If the handler answers later, Fastify may still run onResponse (on the response's error; F2).
    reply[RECORDED] = true;
    const sent = handedOver(res) && reply.request.raw.aborted !== true;
    recordReply(reply, sent ? reply.statusCode : CLIENT_CLOSED_STATUS);
  };

  function socketClosed(this: WatchedSocket): void {
    const reply = this[IN_FLIGHT];
    const more = this[MORE_IN_FLIGHT];
    this[IN_FLIGHT] = null;
    this[MORE_IN_FLIGHT] = undefined;
    if (reply !== undefined && reply !== null) closedInFlight(reply);
    if (more !== undefined) for (const queued of more) closedInFlight(queued);
  }

  instance.addHook('onRequest', (request: FastifyRequestLike, reply: Reply, done: () => void) => {
    const socket = request.raw.socket as WatchedSocket | null;
    if (socket !== null) {
      if (socket[WATCHED] !== true) {
        socket[WATCHED] = true;
        socket.on('close', socketClosed);
      }
      const current = socket[IN_FLIGHT];
      if (current === undefined || current === null) socket[IN_FLIGHT] = reply;
      else (socket[MORE_IN_FLIGHT] ??= new Set()).add(reply);
    }
    noteTrace(trace, request.raw);
    done();
  });
  instance.addHook('onResponse', (request: FastifyRequestLike, reply: Reply, done: () => void) => {
    const socket = request.raw.socket as WatchedSocket | null;
    if (socket !== null) {
      if (socket[IN_FLIGHT] === reply) socket[IN_FLIGHT] = null;
      else socket[MORE_IN_FLIGHT]?.delete(reply);
    }
    if (reply[RECORDED] !== true) recordReply(reply, reply.statusCode);
    done();
  });
}
