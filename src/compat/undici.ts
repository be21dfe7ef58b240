/*
 * What this library assumes of undici (Node's bundled copy behind global `fetch`, and the npm
 * package `undici`) to count the application's outbound requests: only its documented
 * `diagnostics_channel` messages (undici's docs/api/DiagnosticsChannel.md), read through Node's public
 * `diagnostics_channel.subscribe`. Verified on Node 20.20.2 (undici 6.24.1), 22.23.5 (6.29.1) and
 * 24.22.3 (7.30.2), the contract test run on each; the contract test test/unit/undici-contract.spec.ts names the running
 * `process.version` and `process.versions.undici` when one no longer holds.
 *
 * U1 `undici:request:create` is published with `{ request }` once per request undici sends (each
 *    redirect hop, each retry is a request of its own), before anything is written; then, on the
 *    same `request` object, either `undici:request:headers` with `{ request, response }` once the
 *    response's head arrived, or `undici:request:error` with `{ request, error }` when it failed
 *    first (connection refused, DNS failure, TLS failure, timeout, abort; on Node 22 and 24 an
 *    aborted fetch's error comes just after fetch's promise rejected). Why: count each request
 *    once, at its response's head or at its failure. Fallback: none needed: a request whose
 *    messages do not come is not counted (its start is kept in a WeakMap, freed with the request).
 * U2 `undici:request:error` may also come after `undici:request:headers` (the body aborted or cut):
 *    the request was already counted under its status, and that later error is not counted again.
 *    Fallback: none needed.
 * U3 `request.origin` is the URL origin as a string (`http://host[:port]`, the port left out when it
 *    is the scheme's default; an IPv6 host in brackets), `request.method` the method as sent, and
 *    `response.statusCode` a number. Why: the `host`, `method` and `status` labels. Fallback: a
 *    value of another type is read as missing: `host` `<unknown>`, `method` `OTHER`, `status`
 *    `other`.
 * U4 Node's `http`/`https` clients do not go through undici and undici does not go through them:
 *    a request publishes on one family of channels only. Why: never count a request twice (the
 *    contract test sends one of each and counts the messages). Fallback: none needed.
 * U5 Node keeps its channels by name in a map of weak references, whose entry is deleted when the
 *    channel object it held is collected. On Node 20.20, a channel object dropped after its last
 *    unsubscribe (an application closed) can be collected after undici made a new one under the same
 *    name, and its clean-up then deletes the new one's entry: the next `subscribe(name)` makes a third
 *    object, and undici publishes on one nobody listens to. Suspected from one CI run in which one
 *    test file heard none of `fetch`'s requests and all of `node:http`'s, not reproduced alone. Why:
 *    the channels this library listens to are kept referenced for the process's life (six objects,
 *    under a `Symbol.for` key, so that every copy of the library shares them), so no entry of theirs
 *    is ever deleted. Fallback: none needed (plain references).
 *
 * The npm `undici` package and Node's bundled copy publish on the same process-wide channels by
 * name, so both are seen with one subscription; nothing of undici is loaded by this library.
 */
import { channel, subscribe, unsubscribe, type Channel } from 'node:diagnostics_channel';

const KEPT = Symbol.for('@veza/nestjs-metrics:diagnostics-channels');

/** U5: the channel `name`, kept referenced for the process's life (shared by every copy of the library). */
function keep(name: string): void {
  const global = globalThis as { [KEPT]?: Map<string, Channel> };
  const kept = (global[KEPT] ??= new Map<string, Channel>());
  if (!kept.has(name)) kept.set(name, channel(name));
}

/** The channels of U1. */
export const UNDICI_CHANNELS = {
  create: 'undici:request:create',
  headers: 'undici:request:headers',
  error: 'undici:request:error',
} as const;

/** What the outbound recorder needs of a request's messages. */
export interface OutboundHandlers {
  /** A request started: `request` is the key the later calls get again. */
  start(request: object, now: number): void;
  /** The response's head arrived (`status`: its code, or NaN when unreadable). */
  response(request: object, status: number): void;
  /** It failed before any response. */
  failure(request: object): void;
}

interface UndiciRequest {
  origin?: unknown;
  method?: unknown;
}

/**
 * U3: the origin of `request` (`http://host[:port]`), or undefined. The recorder takes the host from
 * it once per distinct origin (it caches labels by origin), so no string is built per request.
 */
export function undiciOrigin(request: object): string | undefined {
  const origin = (request as UndiciRequest).origin;
  return typeof origin === 'string' ? origin : undefined;
}

/** U3: the method of `request`, or undefined. */
export function undiciMethod(request: object): string | undefined {
  const method = (request as UndiciRequest).method;
  return typeof method === 'string' ? method : undefined;
}

/** The three channels a client publishes a request on: its start, its response's headers, its failure. */
export interface RequestChannels {
  readonly start: string;
  readonly response: string;
  readonly error: string;
}

/**
 * Subscribes `handlers` to a client's three channels, whose messages carry the `request` object
 * (and, on `response`, `response.statusCode`): undici's (U1, U2) and Node's HTTP client's (HC1).
 * The returned function unsubscribes them. Handlers must not throw (the recorder catches its own
 * failures).
 */
export function watchRequestChannels(channels: RequestChannels, handlers: OutboundHandlers): () => void {
  keep(channels.start);
  keep(channels.response);
  keep(channels.error);
  const onStart = (message: unknown): void => {
    const request = (message as { request?: unknown } | null)?.request;
    if (typeof request === 'object' && request !== null) handlers.start(request, performance.now());
  };
  const onResponse = (message: unknown): void => {
    const m = message as { request?: unknown; response?: { statusCode?: unknown } } | null;
    const request = m?.request;
    if (typeof request !== 'object' || request === null) return;
    const status = m?.response?.statusCode;
    handlers.response(request, typeof status === 'number' ? status : Number.NaN);
  };
  const onError = (message: unknown): void => {
    const request = (message as { request?: unknown } | null)?.request;
    if (typeof request === 'object' && request !== null) handlers.failure(request);
  };
  subscribe(channels.start, onStart);
  subscribe(channels.response, onResponse);
  subscribe(channels.error, onError);
  return () => {
    unsubscribe(channels.start, onStart);
    unsubscribe(channels.response, onResponse);
    unsubscribe(channels.error, onError);
  };
}

/** Subscribes `handlers` to undici's channels (U1, U2); the returned function unsubscribes them. */
export function watchUndici(handlers: OutboundHandlers): () => void {
  return watchRequestChannels(
    { start: UNDICI_CHANNELS.create, response: UNDICI_CHANNELS.headers, error: UNDICI_CHANNELS.error },
    handlers,
  );
}
