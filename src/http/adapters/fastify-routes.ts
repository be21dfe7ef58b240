/**
 * The route template a request's method and path match, for the few Fastify responses that no
 * route's hooks see: the router's own answers to a malformed URL (400) or a route parameter over
 * `maxParamLength` (414), an async constraint's failure (500), Fastify's 503 while it closes, and a
 * request whose client went away before any hook of ours ran. Fastify's router refused those (or
 * never got to them), so it cannot name their route; this table matches the path against every
 * route Fastify registered (its public `onRoute` hook), by segments, never by the raw path.
 *
 * A template's segment is static (compared with the path's segment, percent-decoded when it can
 * be), a parameter (`:id`, with or without a regular expression, or several in one segment such as
 * `:from-:to`: any one segment, whatever its length or encoding), or a wildcard `*` (the rest of the
 * path). Where several routes match, the one Fastify's router prefers wins (static before parameter
 * before wildcard, segment by segment); two different templates left tied give none
 * (`<unmatched>`). The work per request is linear in the path's length and the number of routes, so
 * a flood of hostile paths costs no more than reading them; what is kept is the application's own
 * route list, fixed once it listens.
 */
const enum Kind {
  Static = 0,
  Param = 1,
  Wildcard = 2,
}

interface Segment {
  kind: Kind;
  /** A static segment's text (lower-cased when the router is case-insensitive). */
  text: string;
}

interface CompiledRoute {
  template: string;
  segments: Segment[];
  /** The last segment is a wildcard: the route matches paths of at least `segments.length - 1` segments. */
  open: boolean;
}

/** Fastify's router options that change which path a route matches. */
export interface RouteMatchOptions {
  caseSensitive?: boolean;
  ignoreTrailingSlash?: boolean;
  ignoreDuplicateSlashes?: boolean;
}

export class FastifyRouteTable {
  private readonly routes = new Map<string, CompiledRoute[]>();

  constructor(private readonly options: RouteMatchOptions = {}) {}

  /** Adds a route Fastify registered (`onRoute`): its method(s) and URL as registered. */
  add(method: unknown, url: unknown): void {
    if (typeof url !== 'string') return;
    const methods = Array.isArray(method) ? method : [method];
    const route = this.compile(url);
    for (const m of methods) {
      if (typeof m !== 'string') continue;
      const key = m.toUpperCase();
      let list = this.routes.get(key);
      if (list === undefined) this.routes.set(key, (list = []));
      if (!list.some((r) => r.template === url)) list.push(route);
    }
  }

  /** The template of the route `method` and the raw `url` (path and query) match; `undefined` if none or several. */
  match(method: string, url: string | undefined): string | undefined {
    const list = this.routes.get(method);
    if (list === undefined || url === undefined) return undefined;
    const segments = this.segmentsOf(url);
    if (segments === undefined) return undefined;
    let best: CompiledRoute | undefined;
    let tied = false;
    for (const route of list) {
      if (!matches(route, segments)) continue;
      if (best === undefined) {
        best = route;
        continue;
      }
      const order = compare(route, best);
      if (order < 0) {
        best = route;
        tied = false;
      } else if (order === 0 && route.template !== best.template) tied = true;
    }
    return best === undefined || tied ? undefined : best.template;
  }

  private compile(url: string): CompiledRoute {
    const parts = this.split(url.startsWith('/') ? url.slice(1) : url);
    const segments = parts.map((part): Segment => {
      // A trailing `*` takes the rest of the path (counted from its segment: over-approximated).
      if (part.endsWith('*')) return { kind: Kind.Wildcard, text: '' };
      // `::` is a literal colon; any other colon starts a parameter.
      if (part.replace(/::/g, '').includes(':')) return { kind: Kind.Param, text: '' };
      const text = part.replace(/::/g, ':');
      return { kind: Kind.Static, text: this.options.caseSensitive === false ? text.toLowerCase() : text };
    });
    const open = segments.length > 0 && segments[segments.length - 1].kind === Kind.Wildcard;
    return { template: url, segments, open };
  }

  /** The path's segments, percent-decoded where they can be; `undefined` for a URL that is not a path. */
  private segmentsOf(url: string): string[] | undefined {
    let path = url;
    if (path.charCodeAt(0) !== 47) {
      // The absolute form (`http://host/path`), as Fastify's router accepts it.
      const scheme = path.indexOf('://');
      if (scheme === -1) return undefined;
      const slash = path.indexOf('/', scheme + 3);
      path = slash === -1 ? '/' : path.slice(slash);
    }
    const end = path.search(/[?#;]/);
    if (end !== -1) path = path.slice(0, end);
    if (this.options.ignoreDuplicateSlashes === true) path = path.replace(/\/{2,}/g, '/');
    if (this.options.ignoreTrailingSlash === true && path.length > 1 && path.endsWith('/'))
      path = path.slice(0, -1);
    const lower = this.options.caseSensitive === false;
    return this.split(path.slice(1)).map((s) => {
      const decoded = decode(s);
      return lower ? decoded.toLowerCase() : decoded;
    });
  }

  private split(path: string): string[] {
    return path.split('/');
  }
}

function decode(segment: string): string {
  if (segment.indexOf('%') === -1) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function matches(route: CompiledRoute, path: string[]): boolean {
  const { segments, open } = route;
  const fixed = open ? segments.length - 1 : segments.length;
  if (open ? path.length < fixed : path.length !== fixed) return false;
  for (let i = 0; i < fixed; i++) {
    const s = segments[i];
    if (s.kind === Kind.Static ? s.text !== path[i] : path[i] === '') return false;
  }
  return true;
}

/** Negative when `a` is the route Fastify's router prefers over `b` (static, then parameter, then wildcard). */
function compare(a: CompiledRoute, b: CompiledRoute): number {
  const n = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const d = a.segments[i].kind - b.segments[i].kind;
    if (d !== 0) return d;
  }
  return 0;
}
