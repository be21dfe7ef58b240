import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AppRoutes,
  expressStack,
  handlersOf,
  joinTemplate,
  mountedTemplate,
  mountTemplate,
  routeOfRequest,
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
 * 4. Answered before it reached a mount its path matches (Nest's JSON parser refusing a
 *    `POST /graphql` before Apollo's mount ran): the mount's path, or the route of a mounted router
 *    its method and path match, mounts' paths first (`/admin` + `/users/:id`).
 * 5. Otherwise (Nest's 404, a handler mounted with no path): none, so `<unmatched>`.
 *
 * A route of a mounted router (`MiddlewareConsumer.apply(router).forRoutes('/queues')`,
 * `app.use('/admin', router)`) answers with its path relative to its mount: {@link route} puts the
 * mounts' paths before it. Every label is a template from the application's code, never the
 * request's path. Nothing of this runs for a response of a route of the application's own router
 * (the normal path, one Set lookup); Nest's 404s are marked by its not-found handler and skip it too.
 */
export class ExpressEndpoints {
  private stack: ExpressStack | undefined | null = null;
  private readonly nestHandlers = new Set<unknown>();
  private readonly nest: NestLayer = (layer) => handlersOf(layer).some((h) => this.nestHandlers.has(h));
  private readonly appRoutes = new AppRoutes();

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

  /**
   * The endpoint of `req`, answered by a route whose path is `template` (E6): `template` for a route
   * of the application's router, the mounts' paths before it for a route of a mounted router (E7),
   * `undefined` (`<unmatched>`) when its mounts are not found.
   */
  route(req: ExpressRequest, template: string): string | undefined {
    const stack = this.stackOf();
    if (stack === undefined || this.appRoutes.has(stack, req)) return template;
    const route = routeOfRequest(req);
    const baseUrl = req.baseUrl;
    if (typeof baseUrl === 'string' && baseUrl !== '') {
      const mount = mountTemplate(stack, baseUrl, this.nest, route);
      if (mount === undefined) return undefined;
      return mount.whole ? joinTemplate(mount.template, template) : mount.template;
    }
    // The route passed an error out of its router, which restored `baseUrl` (E5): found by the path.
    return mountedTemplate(stack, req.method ?? '', pathOf(req), this.nest, route);
  }

  /** The endpoint of `req`, answered outside the routes by `res`; `undefined` for `<unmatched>`. */
  resolve(req: ExpressRequest, res: ServerResponse): string | undefined {
    if ((res as Marked)[NOT_FOUND] === true) return preflight(req);
    const stack = this.stackOf();
    if (stack !== undefined) {
      const path = pathOf(req);
      const method = req.method ?? '';
      const route = routeTemplate(stack, method, path, this.nest);
      if (route !== undefined) return route;
      const baseUrl = req.baseUrl;
      if (typeof baseUrl === 'string' && baseUrl !== '') {
        const mount = mountTemplate(stack, baseUrl, this.nest);
        if (mount !== undefined) return mount.template;
      }
      // A preflight the CORS layer answered before any mount: one series, as on Fastify.
      const cors = preflight(req);
      if (cors !== undefined) return cors;
      return mountedTemplate(stack, method, path, this.nest);
    }
    return preflight(req);
  }

  private stackOf(): ExpressStack | undefined {
    if (this.stack === null) this.stack = expressStack(this.app);
    return this.stack;
  }
}

/** The path of `req`'s URL as it arrived (mounts change `req.url`), without its query. */
function pathOf(req: ExpressRequest): string {
  const url = req.originalUrl ?? req.url ?? '';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
