/**
 * What this library assumes of Express' router. Two generations are verified: Express 5 (router
 * 2.x, checked against router 2.3.0 with Express 5.2.1 and 5.3.0) and
 * Express 4 (its built-in router, checked against Express 4.22.1 with path-to-regexp 0.1.13). Each
 * assumption has a contract test in test/unit/compat-express.spec.ts that names it and the
 * installed version; `npm run test:matrix` runs it on both.
 *
 * E1. The application's router is `app.router` (Express 5) or `app._router` (Express 4, where
 *     reading `app.router` throws "'app.router' is deprecated!", so `_router` is read first and the
 *     getter only inside a try), and its `stack` holds its layers in the order they were registered.
 * E2. A layer of `app.use(path, handler)` has no `route`; its `handle` is the handler, and a mounted
 *     router's handler has a `stack` of its own (E1). Its path as given is kept in `rawPath`
 *     (Express 5); Express 4 keeps only `regexp`, which for a path without parameters is the path
 *     escaped by path-to-regexp 0.1 (`^\/graphql\/?(?=\/|$)`, `keys` empty): the path is read back
 *     from it only when it is made of plain characters, and checked to match itself.
 * E3. Matching stores nothing on the layer. Express 5: `layer.match(path)` returns
 *     `{ path, pattern }` or `false` (router 2.3: "keep layer match results local to each
 *     request"; earlier routers store `params` and `keys`: never called there). Express 4:
 *     `layer.match` stores `path` and `params` on the layer, so it is never called; its `regexp`
 *     (not global, not sticky: `exec` keeps no state) is run instead, as `match` runs it.
 * E4. A route's layer has `route`, with `path` (the template as registered), `stack` (its handlers)
 *     and `_handlesMethod(method)` (Express 5) or `_handles_method(method)` (Express 4), true for
 *     HEAD where GET is handled.
 * E5. While a mounted handler runs, `req.baseUrl` is the part of the path its mounts matched, and
 *     it is restored when the handler calls `next()`: at a response's end it is still set only if a
 *     mounted handler answered (both generations).
 * E6. Once a route's handler ran, `req.route` (documented) is that route (E4) and stays set after
 *     the response ended; its `stack[0].handle` (internal) is the first handler the route was
 *     registered with, which tells Nest's 404 route (under a global prefix) from the application's.
 *     Fallback: with no `stack`, Nest's 404 route is not told apart and under a global prefix its
 *     404s are labelled with its template (`/api/*path`): a template, never a raw path.
 * E7. `req.route` is the very `route` object of the layer that matched (E4), so a route is found
 *     in the stack of the router that holds it by identity. A route of a router mounted on a path
 *     (`app.use('/queues', router)`, Nest's `MiddlewareConsumer.apply(router).forRoutes('/queues')`)
 *     has its path relative to the mount: the mount's path (E2, E5) goes before it. When the route
 *     passed an error out of its router, `req.baseUrl` is restored (E5) and `req.route` stays set
 *     (E6): the route is then looked for under the mounts its request's path matches.
 *     Fallback: a route whose mounts are not found (a mount on a path with parameters on Express 4,
 *     a router inside a router that Nest wraps) has no template: `<unmatched>`, never its own path
 *     alone, which is a path the application does not serve.
 * E8. Express 5: when a route's pattern matches a path but one of its parameters cannot be
 *     percent-decoded (`/tracks/%zz` for `/tracks/:id`), `layer.match` throws the router's
 *     `URIError` with `status` 400, which the router answers 400: that response is labelled with the
 *     route's template, as Express 4's regexp (E3, no decoding) and Fastify's router (a 400 for the
 *     same path) give. Fallback: another error, or none, leaves the route unmatched (`<unmatched>`).
 *
 * E9. The application function calls its own `handle(req, res, next)` (an undocumented method) for
 *     every request that reaches it, whichever server calls the application (Nest's, a server of the
 *     application's own, a serverless wrapper), looked up on the application at each call, so an
 *     own `handle` set on it replaces it (both generations). Why: start a request's clock and hook
 *     its response once per request, before any middleware, whoever serves it. Fallback: an
 *     application without `handle` is timed from the server's `request` listener (only requests of
 *     the server Nest created are recorded then).
 *
 * Fallback (E1-E8): where one of these does not hold, no template is found and the response keeps
 * the label it had without this file, `<unmatched>`. Nothing here throws into a response.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';

interface RouteLike {
  path?: unknown;
  stack?: Array<{ handle?: unknown }>;
  _handlesMethod?(method: string): boolean;
  _handles_method?(method: string): boolean;
}

interface LayerLike {
  route?: RouteLike;
  handle?: unknown;
  rawPath?: unknown;
  params?: unknown;
  keys?: unknown;
  regexp?: unknown;
  match?(path: string): unknown;
}

/** The layers of an Express application's router (E1). */
export interface ExpressStack {
  readonly layers: readonly LayerLike[];
}

/** Tells which of the router's own layers are Nest's (its 404 route, its prefix routers): never an endpoint. */
export type NestLayer = (layer: LayerLike) => boolean;

type Handle = (this: unknown, req: IncomingMessage, res: ServerResponse, next?: unknown) => unknown;

/**
 * Runs `before(req, res)` ahead of every request the Express application handles (E9), whoever
 * calls the application. `before` must not throw. Returns false (nothing done) when the application
 * has no `handle`: the caller then listens to its server instead.
 */
export function beforeEveryRequest(
  app: unknown,
  before: (req: IncomingMessage, res: ServerResponse) => void,
): boolean {
  const express = app as { handle?: Handle } | undefined;
  const handle = express?.handle;
  if (express === undefined || express === null || typeof handle !== 'function') return false;
  express.handle = function vezaMetricsHandle(
    this: unknown,
    req: IncomingMessage,
    res: ServerResponse,
    next?: unknown,
  ): unknown {
    before(req, res);
    return handle.call(this, req, res, next);
  };
  return true;
}

/** The router of an Express application, when it has the shape of E1; `undefined` otherwise. */
export function expressStack(app: unknown): ExpressStack | undefined {
  if (typeof app !== 'function' && (typeof app !== 'object' || app === null)) return undefined;
  const express4 = stackOf((app as { _router?: unknown })._router);
  if (express4 !== undefined) return express4;
  try {
    return stackOf((app as { router?: unknown }).router);
  } catch {
    return undefined; // Express 4 before its router exists: the getter throws.
  }
}

/** The layers of a router (E1, E2): the app's, or a mounted one's handler. */
function stackOf(router: unknown): ExpressStack | undefined {
  const stack = (router as { stack?: unknown } | undefined)?.stack;
  return Array.isArray(stack) ? { layers: stack as LayerLike[] } : undefined;
}

/** The handlers of a layer: its route's, or those of the router it mounts. */
export function handlersOf(layer: LayerLike): unknown[] {
  if (layer.route !== undefined) return (layer.route.stack ?? []).map((l) => l.handle);
  const inner = stackOf(layer.handle);
  return inner === undefined ? [layer.handle] : inner.layers.flatMap(handlersOf);
}

/** A path-to-regexp 0.1 source of a non-ending path without parameters (E2, Express 4). */
const LITERAL_SOURCE = /^\^((?:\\[/.]|[A-Za-z0-9_~-])*?)(?:\\\/\?)?\(\?=\\\/\|\$\)$/;

/** The path an Express 4 mount was registered with, read back from its `regexp` (E2); `undefined` unless plain. */
function literalPath(layer: LayerLike, regexp: RegExp): string | undefined {
  if (!Array.isArray(layer.keys) || layer.keys.length !== 0) return undefined;
  const m = LITERAL_SOURCE.exec(regexp.source);
  if (m === null) return undefined;
  const path = m[1].replace(/\\(.)/g, '$1') || '/';
  return regexp.test(path) ? path : undefined;
}

/** The matched part and pattern of `path` by `layer`, computed without storing anything on it (E3); `undefined` if none. */
function matchOf(layer: LayerLike, path: string): { path: string; pattern: unknown } | undefined {
  const regexp = layer.regexp;
  if (regexp instanceof RegExp && 'keys' in layer) {
    // Express 4: run the layer's regexp as its `match` would, without `match`'s writes.
    if (regexp.global || regexp.sticky) return undefined;
    const m = regexp.exec(path);
    return m === null
      ? undefined
      : { path: m[0], pattern: layer.route === undefined ? literalPath(layer, regexp) : undefined };
  }
  if (typeof layer.match !== 'function' || 'params' in layer || 'keys' in layer) return undefined;
  let m: { path?: unknown; pattern?: unknown } | false | undefined;
  try {
    m = layer.match(path) as typeof m;
  } catch (error) {
    // E8: the route's pattern matched, a parameter could not be percent-decoded (the router's 400).
    if (
      layer.route !== undefined &&
      error instanceof URIError &&
      (error as { status?: unknown }).status === 400
    )
      return { path, pattern: layer.rawPath };
    throw error;
  }
  return m && typeof m.path === 'string' ? { path: m.path, pattern: m.pattern ?? layer.rawPath } : undefined;
}

/** Whether `route` handles `method` (E4), HEAD where GET is handled. */
function handlesMethod(route: RouteLike, method: string): boolean {
  if (typeof route._handlesMethod === 'function') return route._handlesMethod(method);
  if (typeof route._handles_method === 'function') return route._handles_method(method);
  return false;
}
/**
 * The template of the route `method path` goes to (E4), when exactly one template of the router's
 * routes (not Nest's) matches; `undefined` otherwise. `path` is the URL's path, without its query.
 */
export function routeTemplate(
  stack: ExpressStack,
  method: string,
  path: string,
  nest: NestLayer,
): string | undefined {
  let found: string | undefined;
  for (const layer of stack.layers) {
    const route = layer.route;
    if (route === undefined || typeof route.path !== 'string') continue;
    if (!handlesMethod(route, method)) continue;
    if (matchOf(layer, path) === undefined || nest(layer)) continue;
    if (found !== undefined && found !== route.path) return undefined;
    found = route.path;
  }
  return found;
}

/** Whether `stack` holds a layer of `route` (E7). */
function holds(stack: ExpressStack, route: unknown): boolean {
  return stack.layers.some((layer) => layer.route === route);
}

/**
 * The template of the mounts a handler answered under (E2, E5): `baseUrl` matched against the
 * router's `app.use(path, …)` layers, through mounted routers, each mount's path as registered
 * (`/graphql`, `/assets` + `/v2`); `undefined` unless every part matched a path given as a string.
 * With `route` (E7), the last mount must be a router that holds it. A handler that is not a router
 * (Nest's wrapper around the router it was given) cannot be looked into: when nothing else matches
 * all of `baseUrl`, the first of them whose path matches the start of it gives its path, `/queues`
 * for a router inside the router Nest wraps, with `whole` false: the route's path cannot follow it.
 */
export function mountTemplate(
  stack: ExpressStack,
  baseUrl: string,
  nest: NestLayer,
  route?: object,
): { template: string; whole: boolean } | undefined {
  let opaque: string | undefined;
  for (const layer of stack.layers) {
    if (layer.route !== undefined) continue;
    const m = matchOf(layer, baseUrl);
    if (m === undefined || typeof m.pattern !== 'string' || m.pattern === '/' || m.path === '' || nest(layer))
      continue;
    const mount = m.pattern.endsWith('/') ? m.pattern.slice(0, -1) : m.pattern;
    const rest = baseUrl.slice(m.path.length);
    const inner = stackOf(layer.handle);
    if (rest === '' || rest === '/') {
      if (route === undefined || inner === undefined || holds(inner, route))
        return { template: mount, whole: true };
      continue;
    }
    if (inner === undefined) {
      opaque ??= mount;
      continue;
    }
    const below = mountTemplate(inner, rest, nest, route);
    if (below !== undefined) return { template: mount + below.template, whole: below.whole };
  }
  return opaque === undefined ? undefined : { template: opaque, whole: false };
}

/** A mount's path joined with a template below it: `/queues` + `/api/queues`, `/queues` + `/`. */
export function joinTemplate(mount: string, below: string): string {
  if (below === '' || below === '/') return mount === '' ? '/' : mount;
  return below.startsWith('/') ? mount + below : `${mount}/${below}`;
}

/**
 * The template `method path` goes to through the router's mounts (E2, E4, E7), the mounts' paths
 * before it: under each `app.use(path, …)` whose path matches `path` (in the order registered),
 *
 * - a router: the template of what it matches of the rest, a route of its own (`route` itself
 *   when given, otherwise the one route template that matches) or, recursively, a mount;
 * - any other handler (a GraphQL server, static assets, Nest's wrapper around a router it was
 *   given), which cannot be looked into: the mount's path of the first of them, when no router
 *   gave a template (a request refused before it got there, by a body parser mounted before it).
 *
 * Routers mounted with no path count with an empty path; Nest's own are skipped. `undefined` when
 * nothing matches: `<unmatched>`. Only for responses no route of the application's router answered.
 */
export function mountedTemplate(
  stack: ExpressStack,
  method: string,
  path: string,
  nest: NestLayer,
  route?: object,
  depth = 0,
): string | undefined {
  if (depth > MAX_MOUNT_DEPTH) return undefined;
  let opaque: string | undefined;
  for (const layer of stack.layers) {
    if (layer.route !== undefined) continue;
    const m = matchOf(layer, path);
    if (m === undefined || nest(layer)) continue;
    const inner = stackOf(layer.handle);
    const pattern = m.path === '' || m.pattern === '/' ? '' : m.pattern;
    if (typeof pattern !== 'string') continue;
    const mount = pattern.endsWith('/') ? pattern.slice(0, -1) : pattern;
    if (inner === undefined) {
      if (mount !== '') opaque ??= mount;
      continue;
    }
    const rest = path.slice(m.path.length) || '/';
    const own =
      route === undefined
        ? routeTemplate(inner, method, rest, nest)
        : inner.layers.find((l) => l.route === route && matchOf(l, rest) !== undefined)?.route?.path;
    const below =
      typeof own === 'string' ? own : mountedTemplate(inner, method, rest, nest, route, depth + 1);
    if (below !== undefined) return joinTemplate(mount, below);
  }
  return opaque;
}

/** Routers within routers looked through; deeper ones are `<unmatched>` (a router mounted in itself must not loop). */
const MAX_MOUNT_DEPTH = 8;

/**
 * The template of the route that answered `req` (E6: `req.route.path`), `undefined` when no route
 * ran or when the route's first handler is `notFound` (Nest's 404 route). Relative to its mounts
 * when its router is mounted (E7): see {@link AppRoutes} and {@link mountTemplate}.
 */
export function answeredRoute(req: object, notFound: unknown): string | undefined {
  const route = (req as { route?: RouteLike }).route;
  if (route === undefined || route === null || route.stack?.[0]?.handle === notFound) return undefined;
  return typeof route.path === 'string' ? route.path : undefined;
}

/**
 * Tells the routes of the application's own router (E1, E7) from those of mounted routers; the set
 * is read again when the router's stack changed length (a route added after the first request).
 */
export class AppRoutes {
  private readonly routes = new Set<unknown>();
  private length = -1;

  /** Whether `req.route` (E6) is a layer of `stack` itself. */
  has(stack: ExpressStack, req: object): boolean {
    const layers = stack.layers;
    if (layers.length !== this.length) {
      this.routes.clear();
      for (const layer of layers) if (layer.route !== undefined) this.routes.add(layer.route);
      this.length = layers.length;
    }
    return this.routes.has((req as { route?: unknown }).route);
  }
}

/** The route object of `req` (E6, E7), if any. */
export function routeOfRequest(req: object): object | undefined {
  const route = (req as { route?: unknown }).route;
  return typeof route === 'object' && route !== null ? route : undefined;
}
