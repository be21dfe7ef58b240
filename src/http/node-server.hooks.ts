import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { noteTrace, type TraceReader } from '../tracing/trace-context';
import { RequestClock } from './request-clock';

/**
 * Receives each response, once: the request's method, the route template (`undefined` when no
 * route matched), the status the client received, and the adapter's request and response objects;
 * the milliseconds since the request arrived are in `RESPONSE_MS`.
 */
export type ResponseSink = (method: string, template: string | undefined, status: number, request: object, response: object) => void;

/** The status recorded for a request the client aborted before its response ended (nginx's convention). */
export const CLIENT_CLOSED_STATUS = 499;

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
 * request's property store every time. A request pipelined behind another on one connection keeps
 * its slot in a Map instead.
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
  type TimedSocket = Socket & { [RESPONSE]?: ServerResponse | null; [SLOT]: number };
  const clock = new RequestClock();
  const pipelined = new Map<ServerResponse, number>();

  function closed(this: ServerResponse & { req: IncomingMessage & { route?: ExpressRoute } }): void {
    const req = this.req;
    const socket = req.socket as TimedSocket | null;
    let slot: number | undefined;
    if (socket !== null && socket[RESPONSE] === this) {
      slot = socket[SLOT];
      socket[RESPONSE] = null;
    } else {
      slot = pipelined.get(this);
      if (slot === undefined) return;
      pipelined.delete(this);
    }
    clock.stop(slot);
    const route = req.route;
    const path = route === undefined || route.stack?.[0]?.handle === unmatched.handler ? undefined : route.path;
    const status = responseFinished(this) ? this.statusCode : CLIENT_CLOSED_STATUS;
    sink(req.method ?? '', typeof path === 'string' ? path : undefined, status, req, this);
  }

  function start(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket as TimedSocket | null;
    if (socket !== null && (socket[RESPONSE] === undefined || socket[RESPONSE] === null)) {
      socket[RESPONSE] = res;
      socket[SLOT] = clock.start();
    } else {
      pipelined.set(res, clock.start());
    }
    res.on('close', closed);
    // The request's span is active here (OpenTelemetry's HTTP instrumentation wraps this event).
    noteTrace(trace, req);
  }

  const express = app as { handle?: (this: unknown, req: IncomingMessage, res: ServerResponse, next?: unknown) => unknown } | undefined;
  const handle = express?.handle;
  if (express !== undefined && typeof handle === 'function') {
    express.handle = function vezaMetricsHandle(this: unknown, req: IncomingMessage, res: ServerResponse, next?: unknown): unknown {
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
    server.on('request', function vezaMetricsRequest(this: Server, req: IncomingMessage, res: ServerResponse) {
      start(req, res);
      listener.call(this, req, res);
    });
  } else {
    server.prependListener('request', start);
  }
}

/**
 * `res.writableFinished`, spelled out: the response ended and every byte left for the socket.
 * Reading that accessor from the close listener allocates (32 B per call, measured on Node 20).
 */
function responseFinished(res: ServerResponse): boolean {
  const r = res as unknown as { finished: boolean; outputSize?: unknown; socket: { writableLength: number } | null };
  if (typeof r.outputSize !== 'number') return res.writableFinished;
  return r.finished && r.outputSize === 0 && (r.socket === null || r.socket.writableLength === 0);
}
