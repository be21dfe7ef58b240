import { invalidOption } from '../veza-metrics.messages';
import { checkKeys, isPlainObject } from './option-checks';

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

function positiveInteger(option: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(invalidOption(option, `an integer from 1 to ${max}`, value));
  }
  return value;
}

function secret(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new Error(invalidOption(option, 'a non-empty string', value === undefined ? value : '(hidden)'));
  return value;
}

/**
 * `metricsServer.port`: a whole number from 0 to 65535, or its decimal digits as a string (what
 * `ConfigService` reads from the environment, such as `"9464"`). Nothing else: no sign, spaces,
 * exponent, hex or fraction.
 */
function tcpPort(value: unknown): number {
  const port = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    const expected =
      typeof value === 'string'
        ? 'a TCP port from 0 to 65535 (0: any free port), as a number or a string of decimal digits such as "9464"'
        : 'a TCP port from 0 to 65535 (0: any free port)';
    throw new Error(invalidOption('metricsServer.port', expected, value));
  }
  return port;
}

/** Validates `appEndpoint`, `metricsServer`, `auth` and `scrape`. */
export function resolveEndpointOptions(options: Record<string, unknown>): ResolvedEndpointOptions {
  const app = options.appEndpoint ?? true;
  if (typeof app !== 'boolean') throw new Error(invalidOption('appEndpoint', 'a boolean', app));

  let server: ResolvedEndpointOptions['server'];
  if (options.metricsServer !== undefined) {
    const value = options.metricsServer;
    if (!isPlainObject(value)) throw new Error(invalidOption('metricsServer', '{ port, host? }', value));
    checkKeys('metricsServer', value, ['port', 'host']);
    const port = tcpPort(value.port);
    const host = value.host ?? '0.0.0.0';
    if (typeof host !== 'string' || host === '')
      throw new Error(
        invalidOption('metricsServer.host', 'a host name or address such as "127.0.0.1"', host),
      );
    server = { port, host };
  }

  let auth: ResolvedEndpointOptions['auth'];
  if (options.auth !== undefined) {
    const value = options.auth;
    if (!isPlainObject(value))
      throw new Error(invalidOption('auth', '{ bearerToken } or { basic: { username, password } }', value));
    checkKeys('auth', value, ['bearerToken', 'basic']);
    const bearerToken =
      value.bearerToken === undefined ? undefined : secret('auth.bearerToken', value.bearerToken);
    let basic: { username: string; password: string } | undefined;
    if (value.basic !== undefined) {
      if (!isPlainObject(value.basic))
        throw new Error(invalidOption('auth.basic', '{ username, password }', value.basic));
      checkKeys('auth.basic', value.basic, ['username', 'password']);
      const username = secret('auth.basic.username', value.basic.username);
      if (username.includes(':'))
        throw new Error(invalidOption('auth.basic.username', 'a user name without ":" (RFC 7617)', username));
      basic = { username, password: secret('auth.basic.password', value.basic.password) };
    }
    if (!bearerToken && !basic)
      throw new Error(invalidOption('auth', 'at least one of bearerToken or basic', value));
    auth = { ...(bearerToken ? { bearerToken } : {}), ...(basic ? { basic } : {}) };
  }

  const scrapeValue = options.scrape ?? {};
  if (!isPlainObject(scrapeValue))
    throw new Error(
      invalidOption(
        'scrape',
        '{ maxConcurrent?, timeoutMs?, collectTimeoutMs?, maxBytesInFlight?, sendTimeoutMs? }',
        scrapeValue,
      ),
    );
  checkKeys('scrape', scrapeValue, [
    'maxConcurrent',
    'timeoutMs',
    'collectTimeoutMs',
    'maxBytesInFlight',
    'sendTimeoutMs',
  ]);
  const timeoutMs = positiveInteger('scrape.timeoutMs', scrapeValue.timeoutMs, 10_000, 600_000);
  const scrape = {
    maxConcurrent: positiveInteger('scrape.maxConcurrent', scrapeValue.maxConcurrent, 2, 64),
    timeoutMs,
    collectTimeoutMs: positiveInteger(
      'scrape.collectTimeoutMs',
      scrapeValue.collectTimeoutMs,
      Math.min(3_000, timeoutMs),
      timeoutMs,
    ),
    // 32 MiB: two scrapes of the catalog filled to its caps (11 MiB each) fit, with room to spare.
    maxBytesInFlight: positiveInteger(
      'scrape.maxBytesInFlight',
      scrapeValue.maxBytesInFlight,
      32 * 2 ** 20,
      2 ** 32,
    ),
    // Prometheus' own default scrape_timeout: past it, Prometheus has given up on the answer.
    sendTimeoutMs: positiveInteger('scrape.sendTimeoutMs', scrapeValue.sendTimeoutMs, 10_000, 600_000),
  };
  return { app, server, auth, scrape };
}
