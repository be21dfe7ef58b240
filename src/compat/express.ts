/**
 * What this library assumes of Express' router (router 2.x as Express 5 ships it; checked against
 * router 2.3.0, each assumption has a contract test in test/unit/compat-express.spec.ts that names
 * it and the installed version):
 *
 * E1. `app.router` is the application's router, and its `stack` holds its layers in the order they
 *     were registered.
 * E2. A layer of `app.use(path, handler)` has no `route` and keeps `path` as given in `rawPath`; its
 *     `handle` is the handler, and a mounted router's handler has a `stack` of its own (E1).
 * E3. `layer.match(path)` returns `{ path, pattern }` or `false` and stores nothing on the layer
 *     (router 2.3: "keep layer match results local to each request"). Earlier routers store `path`,
 *     `params` and `keys` on the layer: matching there would race with requests in flight, so it is
 *     never done.
 * E4. A route's layer has `route`, with `path` (the template as registered), `stack` (its handlers)
 *     and `_handlesMethod(method)` (true for HEAD where GET is handled).
 * E5. While a mounted handler runs, `req.baseUrl` is the part of the path its mounts matched, and
 *     it is restored when the handler calls `next()`: at a response's end it is still set only if a
 *     mounted handler answered.
 *
 * Fallback: where one of these does not hold, no template is found and the response keeps the
 * label it had without this file, `<unmatched>`.
 */

interface RouteLike {
  path?: unknown;
  stack?: Array<{ handle?: unknown }>;
  _handlesMethod?(method: string): boolean;
}

interface LayerLike {
  route?: RouteLike;
  handle?: unknown;
  rawPath?: unknown;
  params?: unknown;
  keys?: unknown;
  match?(path: string): unknown;
}

/** The layers of an Express application's router (E1). */
export interface ExpressStack {
  readonly layers: readonly LayerLike[];
}

/** Tells which of the router's own layers are Nest's (its 404 route, its prefix routers): never an endpoint. */
export type NestLayer = (layer: LayerLike) => boolean;

/** The router of an Express application, when it has the shape of E1; `undefined` otherwise. */
export function expressStack(app: unknown): ExpressStack | undefined {
  return stackOf((app as { router?: unknown } | undefined)?.router);
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

/** `layer.match(path)` where it is safe (E3): the matched part and pattern, or `undefined`. */
function matchOf(layer: LayerLike, path: string): { path: string; pattern: unknown } | undefined {
  if (typeof layer.match !== 'function' || 'params' in layer || 'keys' in layer) return undefined;
  const m = layer.match(path) as { path?: unknown; pattern?: unknown } | false | undefined;
  return m && typeof m.path === 'string' ? { path: m.path, pattern: m.pattern ?? layer.rawPath } : undefined;
}

/**
 * The template of the route `method path` goes to (E4), when exactly one template of the router's
 * routes (not Nest's) matches; `undefined` otherwise. `path` is the URL's path, without its query.
 */
export function routeTemplate(stack: ExpressStack, method: string, path: string, nest: NestLayer): string | undefined {
  let found: string | undefined;
  for (const layer of stack.layers) {
    const route = layer.route;
    if (route === undefined || typeof route.path !== 'string') continue;
    if (typeof route._handlesMethod !== 'function' || !route._handlesMethod(method)) continue;
    if (matchOf(layer, path) === undefined || nest(layer)) continue;
    if (found !== undefined && found !== route.path) return undefined;
    found = route.path;
  }
  return found;
}

/**
 * The template of the mounts a handler answered under (E2, E5): `baseUrl` matched against the
 * router's `app.use(path, …)` layers, through mounted routers, each mount's path as registered
 * (`/graphql`, `/assets` + `/v2`); `undefined` unless every part matched a path given as a string.
 */
export function mountTemplate(stack: ExpressStack, baseUrl: string, nest: NestLayer): string | undefined {
  for (const layer of stack.layers) {
    if (layer.route !== undefined) continue;
    const m = matchOf(layer, baseUrl);
    if (m === undefined || typeof m.pattern !== 'string' || m.pattern === '/' || m.path === '' || nest(layer)) continue;
    const mount = m.pattern.endsWith('/') ? m.pattern.slice(0, -1) : m.pattern;
    const rest = baseUrl.slice(m.path.length);
    if (rest === '' || rest === '/') return mount;
    const inner = stackOf(layer.handle);
    const below = inner === undefined ? undefined : mountTemplate(inner, rest, nest);
    if (below !== undefined) return mount + below;
  }
  return undefined;
}
