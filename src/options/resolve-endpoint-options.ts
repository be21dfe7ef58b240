import type {
  MetricsAuthOptions,
  MetricsServerOptions,
  ScrapeOptions,
} from './veza-metrics-options.interface';
import {
  boolean,
  check,
  defaulted,
  fail,
  integer,
  nullAsUnset,
  object,
  optional,
  rule,
  shapeOf,
  type Rule,
} from './option-schema';

/** How and where `/metrics` is served, after validation. */
export interface ResolvedEndpointOptions {
  /** Serve on the application's own HTTP server. */
  readonly app: boolean;
  /** Serve on a listener of its own. */
  readonly server: { readonly port: number; readonly host: string } | undefined;
  readonly auth:
    | {
        readonly bearerToken?: string;
        readonly basic?: { readonly username: string; readonly password: string };
      }
    | undefined;
  readonly scrape: {
    readonly maxConcurrent: number;
    readonly timeoutMs: number;
    readonly collectTimeoutMs: number;
    readonly maxBytesInFlight: number;
    readonly sendTimeoutMs: number;
  };
}

/** A credential: a non-empty string, never repeated in a message. */
const secret: Rule<string> = rule((value, at) => {
  if (typeof value !== 'string' || value.length === 0)
    fail(at, 'a non-empty string', value === undefined ? value : '(hidden)');
  return value;
});

/**
 * `metricsServer.port`: a whole number from 0 to 65535, or its decimal digits as a string (what
 * `ConfigService` reads from the environment, such as `"9464"`). Nothing else: no sign, spaces,
 * exponent, hex or fraction.
 */
export const tcpPort: Rule<number> = rule((value, at) => {
  const port = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    const expected =
      typeof value === 'string'
        ? 'a TCP port from 0 to 65535 (0: any free port), as a number or a string of decimal digits such as "9464"'
        : 'a TCP port from 0 to 65535 (0: any free port)';
    fail(at, expected, value);
  }
  return port;
});

/** A host name or address to listen on; `fallback` when not given. */
export const listenHost = (fallback: string): Rule<string> =>
  nullAsUnset(
    check<string>(
      (v) => typeof v === 'string' && v !== '',
      'a host name or address such as "127.0.0.1"',
      fallback,
    ),
  );

const metricsServer = object(
  shapeOf<MetricsServerOptions>()({ port: tcpPort, host: listenHost('0.0.0.0') }),
  '{ port, host? }',
);

const basic = object(
  shapeOf<NonNullable<MetricsAuthOptions['basic']>>()({
    username: rule((value, at, siblings) => {
      const username = secret.resolve(value, at, siblings);
      if (username.includes(':')) fail(at, 'a user name without ":" (RFC 7617)', username);
      return username;
    }),
    password: secret,
  }),
  '{ username, password }',
);

/** `auth`: `{ bearerToken }`, `{ basic: { username, password } }` or both. */
export const authRule: Rule<ResolvedEndpointOptions['auth']> = optional(
  object(
    shapeOf<MetricsAuthOptions>()({ bearerToken: optional(secret), basic: optional(basic) }),
    '{ bearerToken } or { basic: { username, password } }',
    {
      finish: ({ bearerToken, basic }, at, given) => {
        if (!bearerToken && !basic) fail(at, 'at least one of bearerToken or basic', given);
        return { ...(bearerToken ? { bearerToken } : {}), ...(basic ? { basic } : {}) };
      },
    },
  ),
);

/** `scrape`: each limit has its default; `collectTimeoutMs` is at most `timeoutMs`. */
export const scrapeRule: Rule<ResolvedEndpointOptions['scrape']> = nullAsUnset(
  defaulted(
    object(
      shapeOf<ScrapeOptions>()({
        maxConcurrent: integer(1, 64, 2),
        timeoutMs: integer(1, 600_000, 10_000),
        collectTimeoutMs: integer(
          1,
          (s) => s.timeoutMs as number,
          (s) => Math.min(3_000, s.timeoutMs as number),
        ),
        // 32 MiB: two scrapes of the catalog filled to its caps (11 MiB each) fit, with room to spare.
        maxBytesInFlight: integer(1, 2 ** 32, 32 * 2 ** 20),
        // Prometheus' own default scrape_timeout: past it, Prometheus has given up on the answer.
        sendTimeoutMs: integer(1, 600_000, 10_000),
      }),
      '{ maxConcurrent?, timeoutMs?, collectTimeoutMs?, maxBytesInFlight?, sendTimeoutMs? }',
      { order: ['timeoutMs', 'maxConcurrent', 'collectTimeoutMs', 'maxBytesInFlight', 'sendTimeoutMs'] },
    ),
    {},
  ),
);

/** The rules of `appEndpoint`, `metricsServer`, `auth` and `scrape`, by key of the module's options. */
export const endpointRules = {
  appEndpoint: nullAsUnset(boolean(true)),
  metricsServer: optional(metricsServer),
  auth: authRule,
  scrape: scrapeRule,
};
