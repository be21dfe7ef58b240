import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { noteTrace, type TraceReader } from '../tracing/trace-context';
import { performance } from 'node:perf_hooks';
import { RequestClock, RESPONSE_MS } from './request-clock';

/**
 * Receives each response, once: the request's method, the route template (`undefined` when no
 * route matched), the status the client received, and the adapter's request and response objects;
 * the milliseconds since the request arrived are in `RESPONSE_MS`.
 */
export type ResponseSink = (
  method: string,
  template: string | undefined,
  status: number,
  request: object,
  response: object,
) => void;

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

/** A response of the Node server, with its request as Express leaves it. */
type TimedResponse = ServerResponse & { req: IncomingMessage & { route?: ExpressRoute } };

type RequestListener = (this: Server, req: IncomingMessage, res: ServerResponse) => void;

/** An Express route (`req.route`): its path, and its handlers. */
interface ExpressRoute {
  path?: unknown;
  stack?: Array<{ handle?: unknown }>;
}

/**
 * Nest's not-found handler, once the adapter has it. Under a global prefix Nest serves 404s from an
 * Express route (`*path` in the prefix's router, and each path excluded from the prefix): a request
 * answered by that handler matched no route of the application.
 */
export interface UnmatchedRoutes {
  handler: unknown;
  /**
   * The endpoint of a response no route answered (Express: see `ExpressEndpoints`), called only
   * then; `undefined` for `<unmatched>`.
   */
  outside?: (req: IncomingMessage, res: ServerResponse) => string | undefined;
}

/**
 * Times every request of an Express application (or of any adapter's Node HTTP server), from its
 * arrival to its response's `close`, which comes once per response whether it finished or was
 * aborted (then recorded as {@link CLIENT_CLOSED_STATUS}). The template is the path of the Express
 * route that matched (`req.route.path`), global prefix and version included; none when the route is
 * Nest's 404 route.
 *
 * Express: the app's `handle` is wrapped, which the app function calls for every request whatever
 * serves it (Nest's server, servers of the application's own, serverless wrappers), and only for
 * requests that reach the app (not Socket.IO's polling transport, answered before it). Other
 * adapters: the server's `request` listener is wrapped.
 *
 * The request's clock slot is kept on the socket, which lives as long as the connection: a field
 * written on every request, where a property added to each request would make V8 grow (copy) the
 * request's property store every time.
 *
 * Pipelining: Node hands every request it parses to the application at once, even behind a
 * response in flight, and queues their responses on the connection. A queued response that never
 * got the socket emits no `close` when the socket goes, so those are kept, with their start time,
 * in a Map on the socket (created for the first one only), and the socket's `close` records every
 * one left (as {@link CLIENT_CLOSED_STATUS}: the client received none of it). Bound: one Map entry
 * (about 60 B) per response Node itself keeps queued on that connection, with its own request and
 * response objects of several KiB; nothing once the socket closed.
 */
export function hookNodeServer(
  server: Server | undefined,
  app: unknown,
  unmatched: UnmatchedRoutes,
  sink: ResponseSink,
  trace?: TraceReader,
): void {
  const RESPONSE = Symbol('vezaMetricsResponse');
  const SLOT = Symbol('vezaMetricsSlot');
  const QUEUED = Symbol('vezaMetricsQueued');
  type TimedSocket = Socket & {
    [RESPONSE]?: ServerResponse | null;
    [SLOT]: number;
    [QUEUED]?: Map<ServerResponse, number>;
  };
  const clock = new RequestClock();
  /** Responses of requests with no socket (an app called by hand): nothing to sweep, so held weakly. */
  const orphans = new WeakMap<ServerResponse, number>();

  function closed(this: TimedResponse): void {
    const req = this.req;
    const socket = req.socket as TimedSocket | null;
    if (socket !== null && socket[RESPONSE] === this) {
      socket[RESPONSE] = null;
      clock.stop(socket[SLOT]);
    } else {
      const queued = socket === null ? orphans : socket[QUEUED];
      const started = queued === undefined ? undefined : queued.get(this);
      if (started === undefined) return;
      (queued as Map<ServerResponse, number>).delete(this);
      RESPONSE_MS[0] = performance.now() - started;
    }
    const route = req.route;
    let path = route === undefined || route.stack?.[0]?.handle === unmatched.handler ? undefined : route.path;
    if (path === undefined && unmatched.outside !== undefined) {
      // Nothing of the router's internals may throw into the response's 'close' (an Express 4 app
      // answered its next request with a 400 when `app.router`'s getter threw here): `<unmatched>`.
      try {
        path = unmatched.outside(req, this);
      } catch {
        path = undefined;
      }
    }
    const status = handedOver(this) && req.aborted !== true ? this.statusCode : CLIENT_CLOSED_STATUS;
    sink(req.method ?? '', typeof path === 'string' ? path : undefined, status, req, this);
  }

  /** The socket's `close` (listened to once a response was queued on it): records what never closed. */
  function socketClosed(this: TimedSocket): void {
    const queued = this[QUEUED];
    if (queued !== undefined) for (const res of queued.keys()) closed.call(res);
    const head = this[RESPONSE];
    if (head !== undefined && head !== null) closed.call(head);
  }

  function queue(socket: TimedSocket | null, res: ServerResponse): void {
    if (socket === null) {
      orphans.set(res, performance.now());
      return;
    }
    let queued = socket[QUEUED];
    if (queued === undefined) {
      queued = socket[QUEUED] = new Map();
      socket.on('close', socketClosed);
    }
    queued.set(res, performance.now());
  }

  function start(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket as TimedSocket | null;
    // A response Node queued behind another of the connection has no socket yet (and has not ended).
    const waiting = res.socket === null && !(res as unknown as { finished: boolean }).finished;
    if (socket !== null && !waiting && (socket[RESPONSE] === undefined || socket[RESPONSE] === null)) {
      socket[RESPONSE] = res;
      socket[SLOT] = clock.start();
    } else {
      queue(socket, res);
    }
    res.on('close', closed);
    // The request's span is active here (OpenTelemetry's HTTP instrumentation wraps this event).
    noteTrace(trace, req);
  }

  const express = app as
    | { handle?: (this: unknown, req: IncomingMessage, res: ServerResponse, next?: unknown) => unknown }
    | undefined;
  const handle = express?.handle;
  if (express !== undefined && typeof handle === 'function') {
    express.handle = function vezaMetricsHandle(
      this: unknown,
      req: IncomingMessage,
      res: ServerResponse,
      next?: unknown,
    ): unknown {
      start(req, res);
      return handle.call(this, req, res, next);
    };
    return;
  }
  if (server === undefined || typeof server.on !== 'function') return;
  // Wrapping the one listener spares `emit` a copy of its listener array per request.
  const listeners = server.listeners('request') as RequestListener[];
  if (listeners.length === 1) {
    const listener = listeners[0];
    server.removeListener('request', listener);
    server.on(
      'request',
      function vezaMetricsRequest(this: Server, req: IncomingMessage, res: ServerResponse) {
        start(req, res);
        listener.call(this, req, res);
      },
    );
  } else {
    server.prependListener('request', start);
  }
}

/**
 * The application ended the response and Node handed all of it to the connection: to the socket
 * (whose own buffer may still hold bytes when the client goes: the response was sent, as far as the
 * server can tell, like nginx counts it), or to the mock socket of light-my-request, which keeps its
 * bytes until after the response's `close`. `res.writableFinished` also waits for the socket's
 * buffer, and reading that accessor from the close listener allocates (32 B per call, on Node 20).
 */
function handedOver(res: ServerResponse): boolean {
  const r = res as unknown as { finished: unknown; outputSize?: unknown };
  if (typeof r.outputSize !== 'number' || typeof r.finished !== 'boolean') return res.writableEnded;
  return r.finished && r.outputSize === 0;
}
