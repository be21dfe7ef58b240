import { Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { CORS_PREFLIGHT_URL, fastifyVersion, RouteUrlReader } from '../../compat/fastify';
import { handedOver, http2Delivered } from '../../compat/node-http';
import { RequestClock } from '../request-clock';
import { FastifyRouteTable, type RouteMatchOptions } from './fastify-routes';
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
    hookFastify(instance, urls, record, trace, adapter.getHttpServer());
  },
  reserve(adapter: NestHttpAdapterLike): void {
    // Fastify's public `server`: Nest's adapter hands it out (`getHttpServer()`) only once it initializes.
    const instance = adapter.getInstance() as { server?: unknown; routing?: unknown };
    reserveRequestListener(instance.server, instance.routing);
  },
  headerNames: (reply) => Object.keys((reply as FastifyReplyLike).getHeaders()),
};

/** A request of HTTP/2 (Node's compatibility API): one stream of a session, not a socket of its own. */
function isHttp2(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 2;
}

/** A `request` listener of Node's server (Fastify's: it routes the request). */
export type RequestListener = (this: unknown, req: IncomingMessage, res: ServerResponse) => void;

/**
 * Hooks a Fastify instance: an `onResponse` hook records each response with Fastify's own timing
 * (`reply.elapsedTime`, from the moment the request arrived and was routed to the response's end)
 * and the route's URL (global prefix and version included). Fastify runs no hook for a request
 * whose client went away before its response ended (F2), so an `onRequest` hook notes the reply in
 * flight on its socket, and the socket's `close` (listened to once per connection) records it as
 * {@link CLIENT_CLOSED_STATUS}. Nothing is allocated per request by the hooks: the socket's field is
 * written in place, and the route URL is read through the route context (F1).
 *
 * Pipelining: Node hands Fastify every request it parses, even behind a response in flight, so a
 * connection can have several replies in flight; those after the first are kept in a Set on the
 * socket (created for the second one only), and the socket's `close` records each one left under
 * its own route. Bound: one Set entry (about 20 B) per reply Node and Fastify themselves keep in
 * flight on that connection; nothing once the socket closed.
 *
 * HTTP/2: a request is a stream, and its response ends (and Fastify runs `onResponse`) when the
 * stream closes, delivered or not; `onResponse` records a stream the client cancelled, or that went
 * with its session, as {@link CLIENT_CLOSED_STATUS} ({@link http2Delivered}), and the socket is
 * not watched (it is the session's, shared by its streams).
 *
 * Responses no hook sees: Fastify's router answers a malformed URL (400) and a route parameter
 * over `maxParamLength` (414) itself, like an async constraint's failure (500) and Fastify's own 503
 * while it closes, before any hook runs, and a client can leave before the first `onRequest` hook of
 * ours ran. So Fastify's `request` listener on `server` (when given: Nest's server; `inject()` does
 * not go through it) is wrapped (the returned function wraps a listener): a request our `onRequest`
 * hook claims while Fastify routes it costs nothing more; any other gets a clock slot and a listener
 * on its response's `close`, until a hook of ours claims it (frees the slot) or that `close` records
 * it: its status (or 499 when it did not reach the client), the route template its method and path
 * match ({@link FastifyRouteTable}, fed by the public `onRoute` hook), or `<unmatched>`. Bound: one
 * slot per such response in flight, and per connection one Set entry per such response Node queues
 * behind another (swept at the connection's `close`, since a queued response emits none).
 */
export function hookFastify(
  instance: FastifyLike,
  urls: RouteUrlReader,
  record: RecordResponse,
  trace?: TraceReader,
  server?: unknown,
): (listener: RequestListener) => RequestListener {
  const IN_FLIGHT = Symbol('vezaMetricsInFlight');
  const MORE_IN_FLIGHT = Symbol('vezaMetricsMoreInFlight');
  const WATCHED = Symbol('vezaMetricsWatched');
  const RECORDED = Symbol('vezaMetricsRecorded');
  const SLOT = Symbol('vezaMetricsSlot');
  const QUEUED = Symbol('vezaMetricsQueued');
  type Reply = FastifyReplyLike & { [RECORDED]?: true };
  type WatchedSocket = Socket & {
    [IN_FLIGHT]?: Reply | null;
    [MORE_IN_FLIGHT]?: Set<Reply>;
    [WATCHED]?: true;
    [QUEUED]?: Set<ServerResponse>;
  };
  type ArrivedResponse = ServerResponse & { [SLOT]?: number; req?: IncomingMessage };
  const clock = new RequestClock();
  const routes = new FastifyRouteTable(routerOptionsOf(instance));
  instance.addHook('onRoute', (route: { method?: unknown; url?: unknown }) =>
    routes.add(route.method, route.url),
  );

  const recordReply = (reply: Reply, status: number): void => {
    const request = reply.request;
    const method = request.raw.method ?? '';
    let template = urls.read(request);
    // The route `@fastify/cors` adds for preflights, or the 404 handler's answer to one (F3).
    if (method === 'OPTIONS' && (template === undefined || template === CORS_PREFLIGHT_URL))
      template = preflight(request.raw) ?? template;
    record(method, template, status, reply.elapsedTime, request, reply);
  };

  /** The response Fastify is routing synchronously (inside the wrapped listener), and whether a hook of ours saw it. */
  let arriving: ServerResponse | null = null;
  /** A response's slot once a hook of ours claimed it, or once its `close` recorded it. */
  const CLAIMED = -1;
  const CLOSED = -2;
  let arrivingClaimed = false;

  /**
   * A hook of ours saw the request of `res`: its hooks record it, not its `close`. True when its
   * `close` already recorded it (the client left before this hook ran): the hooks record nothing.
   */
  const claim = (res: ArrivedResponse, raw: IncomingMessage): boolean => {
    if (res === arriving) {
      arrivingClaimed = true;
      return false;
    }
    const slot = res[SLOT];
    if (slot === undefined || slot === CLAIMED) return false;
    if (slot === CLOSED) return true;
    res[SLOT] = CLAIMED;
    clock.release(slot);
    (raw.socket as WatchedSocket | null)?.[QUEUED]?.delete(res);
    return false;
  };

  /** The `close` of a response no hook of ours saw (see above); `this` never claimed. */
  function unclaimedClose(this: ArrivedResponse): void {
    const slot = this[SLOT];
    if (slot === undefined || slot < 0) return;
    this[SLOT] = CLOSED;
    const durationMs = clock.stop(slot);
    const req = this.req;
    if (req === undefined) return;
    (req.socket as WatchedSocket | null)?.[QUEUED]?.delete(this);
    const method = req.method ?? '';
    let template: string | undefined;
    try {
      template = routes.match(method, req.url);
    } catch {
      template = undefined;
    }
    const sent = isHttp2(req) ? http2Delivered(this) : handedOver(this) && req.aborted !== true;
    record(
      method,
      template ?? preflight(req),
      sent ? this.statusCode : CLIENT_CLOSED_STATUS,
      durationMs,
      req,
      this,
    );
  }

  /** A connection closed: its responses Node still queued (they never got the socket, so emit no `close`). */
  function sweepQueued(this: WatchedSocket): void {
    const queued = this[QUEUED];
    this[QUEUED] = undefined;
    if (queued !== undefined) for (const res of queued) unclaimedClose.call(res);
  }

  /** A response no hook of ours saw while Fastify routed it: its `close` records it, unless a hook claims it first. */
  const track = (req: IncomingMessage, res: ServerResponse, arrivedAt: number): void => {
    (res as ArrivedResponse)[SLOT] = clock.startAt(arrivedAt);
    res.on('close', unclaimedClose);
    // Behind another response of its connection, Node queues it: no socket yet, no `close` if the
    // connection goes before its turn. Bound: one entry per response Node itself keeps queued.
    if (res.socket === null && !isHttp2(req)) {
      const socket = req.socket as WatchedSocket | null;
      if (socket === null) return;
      let queued = socket[QUEUED];
      if (queued === undefined) {
        queued = socket[QUEUED] = new Set();
        socket.once('close', sweepQueued);
      }
      queued.add(res);
    }
  };

  /**
   * Wraps Fastify's `request` listener: a request whose `onRequest` hook of ours runs while Fastify
   * routes it (the usual case: every hook before ours calls `done()` at once) costs two field writes
   * and a compare; any other is tracked until its response's `close`.
   */
  const wrap = (listener: RequestListener): RequestListener =>
    function vezaMetricsArrival(this: unknown, req: IncomingMessage, res: ServerResponse): void {
      arriving = res;
      arrivingClaimed = false;
      try {
        listener.call(this, req, res);
      } finally {
        arriving = null;
        // Timed from here: Fastify's own clock (`reply.elapsedTime`) starts once routing is done too; a
        // clock read before the call cost every request 30 ns of CPU (bench/http-cost.ts).
        if (!arrivingClaimed) track(req, res, performance.now());
      }
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
    const raw = request.raw;
    if (claim(reply.raw, raw)) {
      reply[RECORDED] = true;
      done();
      return;
    }
    const socket = raw.socket as WatchedSocket | null;
    if (socket !== null && !isHttp2(raw)) {
      if (socket[WATCHED] !== true) {
        socket[WATCHED] = true;
        socket.on('close', socketClosed);
      }
      const current = socket[IN_FLIGHT];
      if (current === undefined || current === null) socket[IN_FLIGHT] = reply;
      else (socket[MORE_IN_FLIGHT] ??= new Set()).add(reply);
    }
    noteTrace(trace, raw);
    done();
  });
  instance.addHook('onResponse', (request: FastifyRequestLike, reply: Reply, done: () => void) => {
    const raw = request.raw;
    if (claim(reply.raw, raw)) reply[RECORDED] = true;
    if (isHttp2(raw)) {
      if (reply[RECORDED] !== true)
        recordReply(reply, http2Delivered(reply.raw) ? reply.statusCode : CLIENT_CLOSED_STATUS);
      done();
      return;
    }
    const socket = raw.socket as WatchedSocket | null;
    if (socket !== null) {
      if (socket[IN_FLIGHT] === reply) socket[IN_FLIGHT] = null;
      else socket[MORE_IN_FLIGHT]?.delete(reply);
    }
    if (reply[RECORDED] !== true) recordReply(reply, reply.statusCode);
    done();
  });
  wrapRequestListener(server, wrap, (instance as { routing?: unknown }).routing);
  return wrap;
}

/** Fastify's router options that change which path a route matches (`initialConfig`, public). */
function routerOptionsOf(instance: FastifyLike): RouteMatchOptions {
  const config = (instance as { initialConfig?: RouteMatchOptions & { routerOptions?: RouteMatchOptions } })
    .initialConfig;
  const router = config?.routerOptions;
  return {
    caseSensitive: router?.caseSensitive ?? config?.caseSensitive,
    ignoreTrailingSlash: router?.ignoreTrailingSlash ?? config?.ignoreTrailingSlash,
    ignoreDuplicateSlashes: router?.ignoreDuplicateSlashes ?? config?.ignoreDuplicateSlashes,
  };
}

/**
 * Puts `wrap`'s listener in place of the server's `request` listener (Fastify's, the one it was
 * created with), or, where {@link reserveRequestListener} put a forwarder there, gives it to the
 * forwarder. A server with other `request` listeners (none in Nest's) is left alone: the answers
 * given before any hook are then not recorded.
 */
function wrapRequestListener(
  server: unknown,
  wrap: (listener: RequestListener) => RequestListener,
  routing: unknown,
): void {
  const slot = typeof server === 'object' && server !== null ? forwarders.get(server) : undefined;
  if (slot !== undefined) slot.current = wrap(slot.original);
  else replaceFastifysListener(server, routing, wrap);
}

/** Servers whose Fastify listener sits behind a forwarder of ours ({@link reserveRequestListener}). */
const forwarders = new WeakMap<object, { original: RequestListener; current: RequestListener }>();

/**
 * Puts a forwarder in place of the server's one `request` listener (Fastify's, the one it was
 * created with) while the module is built, before Nest connects gateways: Socket.IO's engine, which
 * replaces the server's listeners with one of its own that calls them for every other path, then
 * answers its own requests (`/socket.io/`) without reaching ours, and they are not the app's HTTP
 * requests. The forwarder calls Fastify's listener until {@link hookFastify} gives it the wrapped
 * one. A server with other `request` listeners is left alone, as in {@link wrapRequestListener}.
 */
export function reserveRequestListener(server: unknown, routing: unknown): void {
  if (typeof server !== 'object' || server === null || forwarders.has(server)) return;
  replaceFastifysListener(server, routing, (original) => {
    const slot = { original, current: original };
    forwarders.set(server, slot);
    return function vezaMetricsForwarder(this: unknown, req: IncomingMessage, res: ServerResponse): void {
      slot.current.call(this, req, res);
    };
  });
}

/**
 * Replaces the server's one `request` listener, when it is Fastify's own ({@link fastifysOwn}),
 * with what `replace` makes of it; any other server is left as it is.
 */
function replaceFastifysListener(
  server: unknown,
  routing: unknown,
  replace: (listener: RequestListener) => RequestListener,
): void {
  const s = server as
    | {
        listeners?(event: string): unknown[];
        removeListener(event: string, l: unknown): void;
        on(event: string, l: unknown): void;
      }
    | undefined;
  if (s === undefined || s === null || typeof s.listeners !== 'function') return;
  const listeners = s.listeners('request') as RequestListener[];
  if (listeners.length !== 1 || !fastifysOwn(listeners[0], routing)) return;
  s.removeListener('request', listeners[0]);
  s.on('request', replace(listeners[0]));
}

/**
 * Whether `listener` is Fastify's own request handler: Fastify's public `routing` is the very
 * function its server was created with. A listener another library put in its place (Socket.IO's
 * engine, attached before the recorder on Nest 10) is left alone: its requests are not the app's,
 * and the answers Fastify gives before any hook are then not recorded. A Fastify without `routing`
 * is taken as it comes.
 */
function fastifysOwn(listener: RequestListener, routing: unknown): boolean {
  return typeof routing !== 'function' || listener === routing;
}
