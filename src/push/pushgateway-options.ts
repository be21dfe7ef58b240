import { isLabelName } from '../options/option-checks';
import {
  check,
  defaulted,
  delay,
  fail,
  nullAsUnset,
  object,
  oneOf,
  optional,
  record,
  shapeOf,
  type Rule,
} from '../options/option-schema';
import { headersRule, httpUrl, withAuthorization } from './target-options';

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
  /**
   * The body of a push: Prometheus' text format, or its protobuf format (length-delimited
   * `MetricFamily` messages), the only one that carries native histograms. Every Pushgateway takes
   * protobuf; from version 1.5.0 on (client_model 0.3) it keeps their native part and serves it to
   * Prometheus' protobuf scrapes. Text stays the default because a Pushgateway-compatible receiver
   * other than Prometheus' own may take text only: with `'text'`, a histogram's native part is left
   * out of the push (its classic buckets are pushed as always).
   * @defaultValue `'text'`
   */
  format?: PushFormat;
}

/** The formats a push may be sent in: see {@link PushgatewayOptions.format}. */
export type PushFormat = 'text' | 'protobuf';

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
  readonly format: PushFormat;
}

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

const URL_EXPECTED =
  'an http:// or https:// URL without query or fragment, such as "http://pushgateway:9091"';

/** A refused URL as the message shows it: credentials in it (`scheme://user:pass@`) masked, never printed. */
const masked = (value: unknown): unknown =>
  typeof value === 'string' ? value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@') : value;

const baseUrl = httpUrl(URL_EXPECTED, { query: false, shown: masked });

const aString = check<string>((v) => typeof v === 'string', 'a string');

/** The `pushgateway` option: validated, then the group's URL built and the credentials moved to a header. */
export const pushgatewayRule: Rule<ResolvedPushgatewayOptions | undefined> = optional(
  object(
    shapeOf<PushgatewayOptions>()({
      url: baseUrl,
      jobName: check<string>(
        (v) => typeof v === 'string' && v !== '',
        'a non-empty string (the "job" label of the pushed group)',
      ),
      groupings: nullAsUnset(
        defaulted(
          record(aString, 'an object of label names to string values', (name, at, value) => {
            if (!isLabelName(name)) throw new Error(at.messages.labelName(at.path, name));
            if (name === 'job')
              fail(
                { ...at, path: `${at.path}.job` },
                'left out (the job label is "pushgateway.jobName")',
                value,
              );
          }),
          {},
        ),
      ),
      intervalMs: optional(delay()),
      pushOnShutdown: nullAsUnset(check<boolean>((v) => typeof v === 'boolean', 'a boolean', true)),
      timeoutMs: nullAsUnset(delay(5_000)),
      headers: headersRule,
      format: nullAsUnset(oneOf<PushFormat>(['text', 'protobuf'], '"text" or "protobuf"', 'text')),
    }),
    'an object { url, jobName, groupings?, intervalMs?, ... }',
    { finish: (given) => resolved(given) },
  ),
);

function resolved(options: {
  url: URL;
  jobName: string;
  groupings: Record<string, string>;
  intervalMs: number | undefined;
  pushOnShutdown: boolean;
  timeoutMs: number;
  headers: Record<string, string>;
  format: PushFormat;
}): ResolvedPushgatewayOptions {
  const { url, jobName, intervalMs, pushOnShutdown, timeoutMs, format } = options;
  // Credentials in the URL (http://user:pass@host) become a Basic Authorization header: log lines
  // and the group URL name the Pushgateway without them.
  const allHeaders = withAuthorization(url, options.headers);
  const frozenGroupings = Object.freeze({ ...options.groupings });
  return Object.freeze({
    groupUrl: pushgatewayGroupUrl(url, jobName, frozenGroupings),
    target: `${url.origin}${url.pathname.replace(/\/+$/, '')}`,
    jobName,
    groupings: frozenGroupings,
    intervalMs,
    pushOnShutdown,
    timeoutMs,
    headers: Object.freeze(allHeaders),
    format,
  });
}
