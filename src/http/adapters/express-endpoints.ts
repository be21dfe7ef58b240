import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  expressStack,
  handlersOf,
  mountTemplate,
  routeTemplate,
  type ExpressStack,
  type NestLayer,
} from '../../compat/express';
import { preflight } from './http-adapter-recorder';

const NOT_FOUND = Symbol('vezaMetricsNotFound');
type Marked = ServerResponse & { [NOT_FOUND]?: true };
type ExpressRequest = IncomingMessage & { originalUrl?: string; baseUrl?: string };
type Handler = (...args: never[]) => unknown;

/**
 * The endpoint of an Express response that no route of the application's controllers answered,
 * by one rule that Fastify follows by construction (its router runs before anything answers):
 *
 * 1. Answered before its route ran (a body parser's 400, 413 or 415, a middleware's 401): the route
 *    template of its method and path, when exactly one route template matches them.
 * 2. Answered by a handler mounted on a path (`app.use('/graphql', …)`, static assets with a
 *    prefix): the mount's path as registered, `/graphql`.
 * 3. A CORS preflight: `<preflight>` (`PREFLIGHT_ENDPOINT`).
 * 4. Otherwise (Nest's 404, a handler mounted with no path): none, so `<unmatched>`.
 *
 * Every label is a template from the application's code, never the request's path. Nothing of this
 * runs for a response of a route (the normal path); Nest's 404s are marked by its not-found handler
 * and skip it too.
 */
export class ExpressEndpoints {
  private stack: ExpressStack | undefined | null = null;
  private readonly nestHandlers = new Set<unknown>();
  private readonly nest: NestLayer = (layer) => handlersOf(layer).some((h) => this.nestHandlers.has(h));

  constructor(private readonly app: unknown) {}

  /** Nest's not-found handler, wrapped to mark the responses it answers. */
  notFound<T extends Handler>(handler: T): T {
    const marking = function vezaMetricsNotFound(this: unknown, ...args: Parameters<T>): unknown {
      const res = args[1] as unknown as Marked;
      if (typeof res === 'object' && res !== null) res[NOT_FOUND] = true;
      return handler.apply(this, args);
    } as unknown as T;
    this.nestHandlers.add(marking);
    return marking;
  }

  /** Nest's error handler: the routers Nest mounts it in are not mounts of the application. */
  errorHandler(handler: unknown): void {
    this.nestHandlers.add(handler);
  }

  /** The endpoint of `req`, answered outside the routes by `res`; `undefined` for `<unmatched>`. */
  resolve(req: ExpressRequest, res: ServerResponse): string | undefined {
    if ((res as Marked)[NOT_FOUND] === true) return preflight(req);
    if (this.stack === null) this.stack = expressStack(this.app);
    const stack = this.stack;
    if (stack !== undefined) {
      const url = req.originalUrl ?? req.url ?? '';
      const query = url.indexOf('?');
      const route = routeTemplate(
        stack,
        req.method ?? '',
        query === -1 ? url : url.slice(0, query),
        this.nest,
      );
      if (route !== undefined) return route;
      const baseUrl = req.baseUrl;
      if (typeof baseUrl === 'string' && baseUrl !== '') {
        const mount = mountTemplate(stack, baseUrl, this.nest);
        if (mount !== undefined) return mount;
      }
    }
    return preflight(req);
  }
}
