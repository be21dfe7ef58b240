/**
 * What this library assumes of Fastify's internals. Verified against Fastify 5.12.8 (the one
 * @nestjs/platform-fastify 12 installs here); Nest 10 and 11 bring their own Fastify, checked by
 * `npm run test:matrix`'s jest runs. Each assumption has a contract test in
 * test/unit/compat-fastify.spec.ts that names it and the installed version.
 *
 * F1. A request keeps the context of the route it was routed to under an own symbol property
 *     described `fastify.context` (`kRouteContext` in lib/symbols.js), and that context's
 *     `config.url` is the route's URL as registered (global prefix and URI version included);
 *     the 404 handler's context has no `config.url`. `request.routeOptions.url` (Fastify's public
 *     API) reads the same field, but builds an object of a dozen fields on every read.
 *     Read internally because the public getter costs a third of the recording's CPU per request
 *     (figures in docs/design-notes.md, "Fastify's route URL"); the public read is the check and
 *     the fallback.
 *     Fallback: the first read of each process is checked against `request.routeOptions.url`
 *     (`RouteUrlReader`); when the symbol is missing or the two differ, every later read is
 *     `routeOptions.url`: exact, slower, logged once.
 * F2. Fastify runs no `onResponse` hook for a request whose client went away before its response
 *     was handed over, and may run it later if the handler still answers (on the response's
 *     `error`). Why: an abort is otherwise not seen at all; the socket's `close` records it and the
 *     reply is marked so that a late `onResponse` does not count it twice. Fallback: none; a
 *     release that ran `onResponse` for an abort before the socket's `close` would have it counted
 *     once, under the status Fastify set instead of 499 (the contract test fails first).
 * F3. `@fastify/cors` answers a preflight that no route handles with a route it registers as
 *     `OPTIONS *` (its `config.url` is `*`), and the 404 handler answers one when there is no CORS
 *     plugin. Why: such a preflight is labelled `<preflight>` whatever path it names. Fallback: a
 *     preflight on another URL keeps that URL's template (still a template, never a raw path).
 *
 * Nothing here throws into a response: an unexpected shape reads as "no route" (`<unmatched>`).
 */

/** The part of a Fastify request this file reads. */
export interface FastifyRequestLike {
  routeOptions?: { url?: unknown };
}

/** F3: the URL `@fastify/cors` registers its preflight route under. */
export const CORS_PREFLIGHT_URL = '*';

/** F1: the symbol a request keeps its route context under, found by its description; `undefined` if none. */
export function routeContextSymbol(request: object): symbol | undefined {
  return Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context');
}

/** F1, the public way: `request.routeOptions.url` (`undefined` for the 404 handler). */
export function publicRouteUrl(request: object): string | undefined {
  try {
    const url = (request as FastifyRequestLike).routeOptions?.url;
    return typeof url === 'string' ? url : undefined;
  } catch {
    return undefined;
  }
}

type Contexts = Record<symbol, { config?: { url?: unknown } } | undefined>;

/**
 * Reads the route URL of Fastify requests (F1). The first read checks the symbol against
 * `routeOptions.url`; `onFallback` is called (once) when the internal read is not used.
 */
export class RouteUrlReader {
  /** `null` until the first request; then the symbol, or `undefined` to read `routeOptions.url`. */
  private key: symbol | undefined | null;

  /** `internal: false` reads `routeOptions.url` only (bench/http-cost.ts compares the two). */
  constructor(
    private readonly onFallback: (why: string) => void,
    internal = true,
  ) {
    this.key = internal ? null : undefined;
  }

  /** The URL of the route `request` was routed to; `undefined` for the 404 handler (no route). */
  read(request: object): string | undefined {
    const key = this.key;
    if (key === null) return this.check(request);
    if (key === undefined) return publicRouteUrl(request);
    const url = (request as unknown as Contexts)[key]?.config?.url;
    return typeof url === 'string' ? url : undefined;
  }

  private check(request: object): string | undefined {
    const expected = publicRouteUrl(request);
    const key = routeContextSymbol(request);
    if (key === undefined) {
      this.fallBack('requests have no "fastify.context" symbol');
      return expected;
    }
    const url = (request as unknown as Contexts)[key]?.config?.url;
    const read = typeof url === 'string' ? url : undefined;
    if (read !== expected) {
      this.fallBack(`its config.url read ${String(read)} where routeOptions.url is ${String(expected)}`);
      return expected;
    }
    // A 404 (no URL either way) proves nothing: checked again on the next request.
    if (read !== undefined) this.key = key;
    return read;
  }

  private fallBack(why: string): void {
    this.key = undefined;
    this.onFallback(why);
  }
}

/** The installed Fastify's version, for messages; `'unknown'` when it cannot be read. */
export function fastifyVersion(instance: unknown): string {
  const version = (instance as { version?: unknown } | undefined)?.version;
  return typeof version === 'string' ? version : 'unknown';
}
