import {
  check,
  delay,
  fail,
  nullAsUnset,
  object,
  optional,
  rule,
  shapeOf,
  type Rule,
} from '../options/option-schema';
import { headersRule, httpUrl, noLineBreak, withAuthorization } from './target-options';

/** Credentials of the remote-write receiver: a bearer token, or basic credentials. */
export type RemoteWriteAuth = { bearerToken: string } | { username: string; password: string };

/**
 * Option `remoteWrite` of `VezaMetricsModule`: send the application's samples to a Prometheus
 * remote-write receiver (Prometheus with `--web.enable-remote-write-receiver`, Mimir, Cortex, Thanos
 * Receive, VictoriaMetrics), every `intervalMs` and once more when the application closes, in
 * remote write 1.0 (protobuf `WriteRequest`, snappy). For jobs, cron workers and short-lived or
 * scale-to-zero services, without a Pushgateway. docs/operations.md, "Remote write".
 *
 * @example
 * ```ts
 * VezaMetricsModule.forRoot({
 *   remoteWrite: { url: 'https://mimir.example/api/v1/push', intervalMs: 15_000, auth: { bearerToken: process.env.MIMIR_TOKEN! } },
 * });
 * ```
 */
export interface RemoteWriteOptions {
  /**
   * The receiver's write URL, `http://` or `https://` (TLS from the URL, Node's CA store), e.g.
   * `'http://prometheus:9090/api/v1/write'`. Credentials in it (`https://user:pass@host/…`) become a
   * Basic Authorization header and are never logged; a query string is kept (and not logged).
   */
  url: string;
  /** Send every `intervalMs` milliseconds while the application runs (an unref'd timer). @defaultValue `15000` */
  intervalMs?: number;
  /**
   * Give up on one send after this many milliseconds (connecting, sending and the answer). A send
   * still on its way when the next interval comes makes that interval skipped (and counted).
   * @defaultValue `5000`
   */
  timeoutMs?: number;
  /**
   * Send once more when the application closes (`app.close()`, or a signal after
   * `app.enableShutdownHooks()`), after every `onModuleDestroy` hook, within `timeoutMs`.
   * @defaultValue `true`
   */
  sendOnShutdown?: boolean;
  /** A bearer token (`Authorization: Bearer …`) or basic credentials. @defaultValue none */
  auth?: RemoteWriteAuth;
  /** More request headers, e.g. `{ 'X-Scope-OrgID': 'tenant-1' }` for Mimir. @defaultValue `{}` */
  headers?: Record<string, string>;
}

/** `remoteWrite` after validation: every default filled in, credentials moved to a header. */
export interface ResolvedRemoteWriteOptions {
  /** The URL written to, without credentials. */
  readonly url: string;
  /** Origin and path only (no credentials, no query): what log lines name. */
  readonly target: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly sendOnShutdown: boolean;
  readonly headers: Readonly<Record<string, string>>;
}

const URL_EXPECTED =
  'an http:// or https:// URL without fragment, such as "http://prometheus:9090/api/v1/write"';

// The URL given may hold credentials: never in the message.
const writeUrl = httpUrl(URL_EXPECTED, { query: true, shown: () => '(the URL given)' });

const AUTH_EXPECTED = '{ bearerToken } or { username, password } (strings without line breaks)';

const authRule: Rule<string | undefined> = optional(
  rule((value, at) => {
    const given = value as Record<string, unknown> | null;
    if (typeof given !== 'object' || given === null) fail(at, AUTH_EXPECTED, '(hidden)');
    const keys = Object.keys(given).sort().join(',');
    if (keys === 'bearerToken' && noLineBreak(given.bearerToken) && given.bearerToken !== '')
      return `Bearer ${given.bearerToken as string}`;
    if (keys === 'password,username' && noLineBreak(given.username) && noLineBreak(given.password))
      return `Basic ${Buffer.from(`${given.username as string}:${given.password as string}`, 'utf8').toString('base64')}`;
    // The value itself is a secret: never in the message.
    return fail(at, AUTH_EXPECTED, `an object with keys ${keys || '(none)'}`);
  }),
);

/** The `remoteWrite` option: validated, credentials moved to the Authorization header. */
export const remoteWriteRule: Rule<ResolvedRemoteWriteOptions | undefined> = optional(
  object(
    shapeOf<RemoteWriteOptions>()({
      url: writeUrl,
      intervalMs: nullAsUnset(delay(15_000)),
      timeoutMs: nullAsUnset(delay(5_000)),
      sendOnShutdown: nullAsUnset(check<boolean>((v) => typeof v === 'boolean', 'a boolean', true)),
      auth: authRule,
      headers: headersRule,
    }),
    'an object { url, intervalMs?, timeoutMs?, auth?, headers?, ... }',
    { finish: (given) => resolved(given) },
  ),
);

function resolved(options: {
  url: URL;
  intervalMs: number;
  timeoutMs: number;
  sendOnShutdown: boolean;
  auth: string | undefined;
  headers: Record<string, string>;
}): ResolvedRemoteWriteOptions {
  const { url } = options;
  const headers = withAuthorization(url, options.headers, options.auth);
  const bare = new URL(url.href);
  bare.username = '';
  bare.password = '';
  return Object.freeze({
    url: bare.href,
    target: `${url.origin}${url.pathname}`,
    intervalMs: options.intervalMs,
    timeoutMs: options.timeoutMs,
    sendOnShutdown: options.sendOnShutdown,
    headers: Object.freeze(headers),
  });
}
