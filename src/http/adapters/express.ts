import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { answeredRoute, beforeEveryRequest } from '../../compat/express';
import { handedOver, responseEnded } from '../../compat/node-http';
import { noteTrace, type TraceReader } from '../../tracing/trace-context';
import { RequestClock } from '../request-clock';
import { ExpressEndpoints } from './express-endpoints';
import {
  CLIENT_CLOSED_STATUS,
  type HttpAdapterRecorder,
  type NestHttpAdapterLike,
  type RecordResponse,
} from './http-adapter-recorder';

type RequestListener = (this: Server, req: IncomingMessage, res: ServerResponse) => void;

/**
 * Where a response's endpoint comes from when no route of the application answered it: Nest's
 * not-found handler, once the adapter has it (under a global prefix Nest serves 404s from an Express
 * route: `*path` in the prefix's router, and each path excluded from the prefix), and the endpoint
 * of a response answered outside the routes (see `ExpressEndpoints`; `undefined` for `<unmatched>`).
 */
export interface UnmatchedRoutes {
  handler: unknown;
  outside?: (req: IncomingMessage, res: ServerResponse) => string | undefined;
  /** The endpoint of a response a route answered, given the route's own path (mounts' paths before it). */
  routed?: (req: IncomingMessage, template: string) => string | undefined;
}

/**
 * The Express adapter: the app's `handle` is wrapped to take a start time and listen for the
 * response's `close`; the template is the matched route's path (src/compat/express.ts, E6), or,
 * for a response no route answered, what `ExpressEndpoints` finds. Nest's not-found and error
 * handlers are wrapped on their way to the adapter (Nest's public adapter API) so that Nest's own
 * routes are never taken for the application's.
 */
export const expressRecorder: HttpAdapterRecorder = {
  type: 'express',
  attach(adapter: NestHttpAdapterLike, record: RecordResponse, trace: TraceReader | undefined): void {
    const app = adapter.getInstance();
    const endpoints = new ExpressEndpoints(app);
    const unmatched: UnmatchedRoutes = {
      handler: undefined,
      outside: (req, res) => endpoints.resolve(req, res),
      routed: (req, template) => endpoints.route(req, template),
    };
    const setNotFoundHandler = adapter.setNotFoundHandler?.bind(adapter);
    if (setNotFoundHandler) {
      adapter.setNotFoundHandler = (handler: unknown, ...rest: unknown[]) => {
        const marked = typeof handler === 'function' ? endpoints.notFound(handler as () => unknown) : handler;
        unmatched.handler = marked;
        return (setNotFoundHandler as (...args: unknown[]) => unknown)(marked, ...rest);
      };
    }
    const setErrorHandler = adapter.setErrorHandler?.bind(adapter);
    if (setErrorHandler) {
      adapter.setErrorHandler = (handler: unknown, ...rest: unknown[]) => {
        endpoints.errorHandler(handler);
        return (setErrorHandler as (...args: unknown[]) => unknown)(handler, ...rest);
      };
    }
    hookNodeServer(adapter.getHttpServer() as Server | undefined, app, unmatched, record, trace);
  },
  headerNames: (response) => (response as ServerResponse).getHeaderNames(),
};

/**
 * Times every request of an Express application, from its arrival to its response's `close`, which
 * comes once per response whether it finished or was aborted (then recorded as
 * {@link CLIENT_CLOSED_STATUS}). The template is the path of the Express route that matched
 * (`req.route.path`), global prefix and version included, after its mounts' paths for a route of a
 * mounted router (`/queues` + `/api/queues/:queueName/:jobId`); none when the route is Nest's 404
 * route.
 *
 * Every request that reaches the app is started through E9 of src/compat/express.ts, whatever
 * serves it (Nest's server, servers of the application's own, serverless wrappers), and only those
 * (not Socket.IO's polling transport, answered before it). An app without `handle`: the server's
 * `request` listener is wrapped.
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
  record: RecordResponse,
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
  type TimedResponse = ServerResponse & { req: IncomingMessage };
  const clock = new RequestClock();
  /** Responses of requests with no socket (an app called by hand): nothing to sweep, so held weakly. */
  const orphans = new WeakMap<ServerResponse, number>();

  function closed(this: TimedResponse): void {
    const req = this.req;
    const socket = req.socket as TimedSocket | null;
    let durationMs: number;
    if (socket !== null && socket[RESPONSE] === this) {
      socket[RESPONSE] = null;
      durationMs = clock.stop(socket[SLOT]);
    } else {
      const queued = socket === null ? orphans : socket[QUEUED];
      const started = queued === undefined ? undefined : queued.get(this);
      if (started === undefined) return;
      (queued as Map<ServerResponse, number>).delete(this);
      durationMs = performance.now() - started;
    }
    let path = answeredRoute(req, unmatched.handler);
    if (path !== undefined && unmatched.routed !== undefined) {
      try {
        path = unmatched.routed(req, path);
      } catch {
        path = undefined;
      }
    } else if (path === undefined && unmatched.outside !== undefined) {
      // Nothing of the router's internals may throw into the response's 'close' (an Express 4 app
      // answered its next request with a 400 when `app.router`'s getter threw here): `<unmatched>`.
      try {
        path = unmatched.outside(req, this);
      } catch {
        path = undefined;
      }
    }
    const status = handedOver(this) && req.aborted !== true ? this.statusCode : CLIENT_CLOSED_STATUS;
    record(req.method ?? '', path, status, durationMs, req, this);
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
    const waiting = res.socket === null && !responseEnded(res);
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

  if (beforeEveryRequest(app, start)) return;
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
