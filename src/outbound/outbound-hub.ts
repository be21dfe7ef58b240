import { httpClientHost, httpClientMethod, watchHttpClient } from '../compat/node-http-client';
import { undiciOrigin, undiciMethod, watchUndici, type OutboundHandlers } from '../compat/undici';

/**
 * `status` given to {@link OutboundSink.record} for a request that got no response (the sink labels
 * it `no_response`); NaN stands for a response whose status could not be read.
 */
export const NO_RESPONSE = -1;

/** One application's recorder, as the hub calls it. */
export interface OutboundSink {
  /**
   * One outbound request, once: `host` is its origin (`http://host:port`, undici) or its `Host`
   * header (`host:port`, `node:http`) as read, not yet bounded; `status` its response's status or
   * {@link NO_RESPONSE}. Must not throw.
   */
  record(method: string | undefined, host: string | undefined, status: number, seconds: number): void;
  /**
   * The `host:port` forms this application's own servers answer on (none before they listen), or
   * undefined while one of them is about to listen (asked again at the next request).
   */
  ownHosts(): readonly string[] | undefined;
}

/**
 * The process-wide side of outbound recording. Node's and undici's channels are the process's, so
 * they are subscribed once (three listeners each) while at least one application records, and
 * unsubscribed when the last one closes; each request's start time is kept once, in a WeakMap keyed
 * by the request (freed with it), and the finished request is handed to every recording
 * application. Bound: six channel listeners whatever the number of applications, one WeakMap entry
 * per request in flight, and one `Set` of the live applications.
 */
const sinks = new Set<OutboundSink>();
const starts = new WeakMap<object, number>();
/** `host[:port]` (and `http(s)://` origins) of the servers of the recording applications. */
let ownHosts: ReadonlySet<string> = new Set();
let ownHostsStale = true;
/** The library's own requests (WeakSet: freed with them). */
const own = new WeakSet<object>();
let stop: (() => void) | undefined;

/**
 * Marks `request` (a `ClientRequest` the library made, before its `end()`) as one of the library's
 * own: it is never counted (the Pushgateway pushes). Node publishes a request's start when it is
 * ended (HC1 of src/compat/node-http-client.ts), so a mark set right after `http.request()` is seen.
 */
export function ownRequest<T extends object>(request: T): T {
  own.add(request);
  return request;
}

function handlers(
  hostOf: (request: object) => string | undefined,
  methodOf: (request: object) => string | undefined,
): OutboundHandlers {
  // A subscriber that throws is reported by Node as an uncaught exception: nothing here may throw.
  const settle = (request: object, status: number): void => {
    try {
      const start = starts.get(request);
      if (start === undefined) return;
      starts.delete(request);
      const host = hostOf(request);
      if (ownHostsStale) refreshOwnHosts();
      if (host !== undefined && ownHosts.has(host)) return;
      const seconds = (performance.now() - start) / 1000;
      const method = methodOf(request);
      for (const sink of sinks) sink.record(method, host, status, seconds);
    } catch {
      // the sinks log their own failures; the hub's own reads are plain property reads
    }
  };
  return {
    start(request, now) {
      if (!own.has(request)) starts.set(request, now);
    },
    response: settle,
    failure: (request) => settle(request, NO_RESPONSE),
  };
}

const LOCAL_NAMES = ['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '[::]'];

function refreshOwnHosts(): void {
  const hosts = new Set<string>();
  let known = true;
  for (const sink of sinks) {
    const own = sink.ownHosts();
    if (own === undefined) known = false;
    for (const host of own ?? []) {
      hosts.add(host);
      hosts.add(`http://${host}`);
      hosts.add(`https://${host}`);
    }
  }
  ownHosts = hosts;
  ownHostsStale = !known;
}

/** The `host:port` forms a server listening on `address` answers under from this machine. */
export function localForms(address: { address: string; port: number } | string | null | undefined): string[] {
  if (typeof address !== 'object' || address === null) return [];
  const { port } = address;
  const bound = address.address.includes(':') ? `[${address.address}]` : address.address;
  return [...new Set([...LOCAL_NAMES, bound])].map((host) => `${host}:${port}`);
}

/** An application starts recording: the channels are subscribed with the first one. */
export function joinOutbound(sink: OutboundSink): void {
  sinks.add(sink);
  ownHostsStale = true;
  if (stop !== undefined) return;
  const stopUndici = watchUndici(handlers(undiciOrigin, undiciMethod));
  const stopHttp = watchHttpClient(handlers(httpClientHost, httpClientMethod));
  stop = () => {
    stopUndici();
    stopHttp();
  };
}

/** An application's servers started or stopped listening: its own hosts are read again. */
export function ownHostsChanged(): void {
  ownHostsStale = true;
}

/** An application stops recording: the channels are unsubscribed with the last one. */
export function leaveOutbound(sink: OutboundSink): void {
  if (!sinks.delete(sink)) return;
  ownHostsStale = true;
  if (sinks.size > 0 || stop === undefined) return;
  stop();
  stop = undefined;
}

/** @internal For tests: how many applications record, and whether the channels are subscribed. */
export function outboundHubState(): { sinks: number; subscribed: boolean } {
  return { sinks: sinks.size, subscribed: stop !== undefined };
}
