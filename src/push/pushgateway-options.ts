import { invalidLabelName, invalidOption } from '../veza-metrics.messages';
import { checkKeys, isLabelName, isPlainObject } from '../options/option-checks';

/**
 * Option `pushgateway` of `VezaMetricsModule`: push the application's metrics to a Prometheus
 * Pushgateway, for batch jobs and cron workers that live shorter than a scrape interval.
 *
 * @example
 * ```ts
 * VezaMetricsModule.forRoot({
 *   pushgateway: { url: 'http://pushgateway:9091', jobName: 'nightly-import', groupings: { tenant: 'acme' } },
 * });
 * ```
 */
export interface PushgatewayOptions {
  /** The Pushgateway's base URL, e.g. `'http://pushgateway:9091'` (a path prefix such as `/pgw` is kept). */
  url: string;
  /** The `job` label of the pushed group. */
  jobName: string;
  /**
   * More labels of the grouping key, e.g. `{ tenant: 'acme' }`. Each push replaces the metrics of
   * its group (`job` plus these labels). Leave `instance` out for a job whose runs should overwrite
   * each other.
   * @defaultValue `{}`
   */
  groupings?: Record<string, string>;
  /**
   * Also push every `intervalMs` milliseconds while the application runs (a long-running worker).
   * The timer never keeps the process alive.
   * @defaultValue no periodic push
   */
  intervalMs?: number;
  /**
   * Push once more when the application closes (`app.close()`, or a signal after
   * `app.enableShutdownHooks()`), after every `onModuleDestroy` hook has run.
   * @defaultValue `true`
   */
  pushOnShutdown?: boolean;
  /** Give up on one push after this many milliseconds. @defaultValue `5000` */
  timeoutMs?: number;
  /** Request headers sent with every push, e.g. `{ Authorization: 'Basic …' }`. @defaultValue `{}` */
  headers?: Record<string, string>;
}

/** `pushgateway` after validation: the group's URL built, every default filled in. */
export interface ResolvedPushgatewayOptions {
  /** The URL pushes go to: `<url>/metrics/job/<jobName>/<label>/<value>…`. */
  readonly groupUrl: string;
  /** The base URL without credentials, query or fragment: what log lines name. */
  readonly target: string;
  readonly jobName: string;
  readonly groupings: Readonly<Record<string, string>>;
  readonly intervalMs: number | undefined;
  readonly pushOnShutdown: boolean;
  readonly timeoutMs: number;
  readonly headers: Readonly<Record<string, string>>;
}

const KNOWN_KEYS = [
  'url',
  'jobName',
  'groupings',
  'intervalMs',
  'pushOnShutdown',
  'timeoutMs',
  'headers',
] as const;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** setTimeout's limit: longer delays fire at once. */
const MAX_DELAY_MS = 2_147_483_647;

const isDelay = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= MAX_DELAY_MS;

/**
 * One path segment of the grouping key: `name/value`, or `name@base64/…` where the value holds a
 * `/` or is empty (the Pushgateway's own encoding for those).
 */
function groupingSegment(name: string, value: string): string {
  if (value === '') return `/${name}@base64/=`;
  if (value.includes('/')) return `/${name}@base64/${Buffer.from(value, 'utf8').toString('base64url')}`;
  return `/${name}/${encodeURIComponent(value)}`;
}

/** The URL of the group `job` + `groupings` on the Pushgateway at `base`. */
export function pushgatewayGroupUrl(
  base: URL,
  jobName: string,
  groupings: Readonly<Record<string, string>>,
): string {
  const prefix = base.pathname.replace(/\/+$/, '');
  const path = [
    groupingSegment('job', jobName),
    ...Object.entries(groupings).map(([k, v]) => groupingSegment(k, v)),
  ].join('');
  return `${base.origin}${prefix}/metrics${path}`;
}

/** Validates the `pushgateway` option; `undefined` when there is none. */
export function resolvePushgatewayOptions(value: unknown): ResolvedPushgatewayOptions | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value))
    throw new Error(
      invalidOption('pushgateway', 'an object { url, jobName, groupings?, intervalMs?, ... }', value),
    );
  checkKeys('pushgateway', value, KNOWN_KEYS);

  const url = parseUrl(value.url);

  const jobName = value.jobName;
  if (typeof jobName !== 'string' || jobName === '') {
    throw new Error(
      invalidOption(
        'pushgateway.jobName',
        'a non-empty string (the "job" label of the pushed group)',
        jobName,
      ),
    );
  }

  const groupings = value.groupings ?? {};
  if (!isPlainObject(groupings))
    throw new Error(
      invalidOption('pushgateway.groupings', 'an object of label names to string values', groupings),
    );
  for (const [name, labelValue] of Object.entries(groupings)) {
    if (!isLabelName(name)) throw new Error(invalidLabelName('pushgateway.groupings', name));
    if (name === 'job') {
      throw new Error(
        invalidOption(
          'pushgateway.groupings.job',
          'left out (the job label is "pushgateway.jobName")',
          labelValue,
        ),
      );
    }
    if (typeof labelValue !== 'string')
      throw new Error(invalidOption(`pushgateway.groupings.${name}`, 'a string', labelValue));
  }

  const intervalMs = value.intervalMs;
  if (intervalMs !== undefined && !isDelay(intervalMs)) {
    throw new Error(
      invalidOption('pushgateway.intervalMs', 'a positive whole number of milliseconds', intervalMs),
    );
  }
  const pushOnShutdown = value.pushOnShutdown ?? true;
  if (typeof pushOnShutdown !== 'boolean')
    throw new Error(invalidOption('pushgateway.pushOnShutdown', 'a boolean', pushOnShutdown));
  const timeoutMs = value.timeoutMs ?? 5_000;
  if (!isDelay(timeoutMs))
    throw new Error(
      invalidOption('pushgateway.timeoutMs', 'a positive whole number of milliseconds', timeoutMs),
    );

  const headers = value.headers ?? {};
  if (!isPlainObject(headers))
    throw new Error(
      invalidOption('pushgateway.headers', 'an object of header names to string values', headers),
    );
  for (const [name, headerValue] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name))
      throw new Error(invalidOption('pushgateway.headers', 'HTTP header names as keys', name));
    if (typeof headerValue !== 'string' || /[\r\n]/.test(headerValue)) {
      throw new Error(
        invalidOption(`pushgateway.headers.${name}`, 'a string without line breaks', headerValue),
      );
    }
  }

  // Credentials in the URL (http://user:pass@host) become a Basic Authorization header: log lines
  // and the group URL name the Pushgateway without them.
  const allHeaders: Record<string, string> = { ...(headers as Record<string, string>) };
  if (
    (url.username || url.password) &&
    !Object.keys(allHeaders).some((h) => h.toLowerCase() === 'authorization')
  ) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    allHeaders.Authorization = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
  }
  const frozenGroupings = Object.freeze({ ...(groupings as Record<string, string>) });
  return Object.freeze({
    groupUrl: pushgatewayGroupUrl(url, jobName, frozenGroupings),
    target: `${url.origin}${url.pathname.replace(/\/+$/, '')}`,
    jobName,
    groupings: frozenGroupings,
    intervalMs,
    pushOnShutdown,
    timeoutMs,
    headers: Object.freeze(allHeaders),
  });
}

function parseUrl(value: unknown): URL {
  const expected = 'an http:// or https:// URL without query or fragment, such as "http://pushgateway:9091"';
  if (typeof value !== 'string') throw new Error(invalidOption('pushgateway.url', expected, value));
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(invalidOption('pushgateway.url', expected, value));
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw new Error(invalidOption('pushgateway.url', expected, value));
  }
  return url;
}
