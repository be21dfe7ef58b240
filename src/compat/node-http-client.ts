/*
 * What this library assumes of Node's `http`/`https` clients (`http.request`, `https.request`, and
 * what uses them: axios, `@nestjs/axios`, got, node-fetch ...) to count the application's outbound
 * requests, beyond the payloads Node documents for its `diagnostics_channel` built-in channels.
 * Verified on Node 20.20.2, 22.23.5 and 24.22.3; the contract test
 * test/unit/undici-contract.spec.ts names the running `process.version` when one no longer holds.
 *
 * HC1 `http.client.request.start` is published with `{ request }` when the request is ended (its
 *     `end()`, not inside `http.request()`: the library marks its own requests on the object
 *     `http.request()` returned, before ending them); then on the same `request` either
 *     `http.client.response.finish` with `{ request, response }` when the response's head arrived
 *     (not at the end of its body), or `http.client.request.error` with `{ request, error }` when the
 *     request failed first (refused, DNS, timeout destroyed, aborted). The error channel came with Node
 *     22.6 (nodejs/node#54054) and its backport to 20.x; present on the three versions verified, not
 *     checked on 20.19. Why: count each request once. Fallback: a request with neither message is
 *     not counted (its start sits in a WeakMap, freed with the request): on a Node without the error
 *     channel, requests that got no response would be missing from the counts, nothing else.
 * HC2 A request's `Host` header, as Node writes it when the application set none, is
 *     `host[:port]`, the port left out when it is the agent's default (80, 443), an IPv6 host in
 *     brackets; `request.host` is the host name alone. Why: the `host` label has the same form for
 *     `fetch` and for `node:http` (`new URL(url).host`). Fallback: no string `Host` header (the
 *     application passed `setHost: false`): `request.host`, without a port.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import type { OutboundHandlers } from './undici';

/** The channels of HC1. */
export const HTTP_CLIENT_CHANNELS = {
  start: 'http.client.request.start',
  response: 'http.client.response.finish',
  error: 'http.client.request.error',
} as const;

/** HC2: the authority `request` goes to (`host[:port]`), or undefined. */
export function httpClientHost(request: object): string | undefined {
  const r = request as Partial<ClientRequest>;
  let header: unknown;
  try {
    header = typeof r.getHeader === 'function' ? r.getHeader('host') : undefined;
  } catch {
    header = undefined;
  }
  if (typeof header === 'string') return header;
  return typeof r.host === 'string' ? r.host : undefined;
}

/** The method of `request` (documented `request.method`), or undefined. */
export function httpClientMethod(request: object): string | undefined {
  const method = (request as Partial<ClientRequest>).method;
  return typeof method === 'string' ? method : undefined;
}

/** Subscribes `handlers` to Node's HTTP client channels (HC1); the returned function unsubscribes them. */
export function watchHttpClient(handlers: OutboundHandlers): () => void {
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
  subscribe(HTTP_CLIENT_CHANNELS.start, onStart);
  subscribe(HTTP_CLIENT_CHANNELS.response, onResponse);
  subscribe(HTTP_CLIENT_CHANNELS.error, onError);
  return () => {
    unsubscribe(HTTP_CLIENT_CHANNELS.start, onStart);
    unsubscribe(HTTP_CLIENT_CHANNELS.response, onResponse);
    unsubscribe(HTTP_CLIENT_CHANNELS.error, onError);
  };
}
