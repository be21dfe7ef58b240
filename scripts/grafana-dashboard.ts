/**
 * Generates monitoring/grafana-dashboard.json, the Grafana dashboard of the Veza metric catalog:
 * `npm run monitoring:dashboard`. The JSON is committed; test/e2e/monitoring.e2e-spec.ts checks it
 * is what this generator writes, and runs every query against a real Prometheus.
 *
 * Every query filters on the `job` and `instance` template variables and reads the default
 * (`naming: 'seed'`) metric names, which the Go service's dashboards read too; the two metrics that
 * `naming: 'strict'` renames are read under both names, so one dashboard serves services of either.
 *
 * Native histograms (docs/native-histograms.md): beside each panel over a histogram's classic series
 * (`_bucket`, `_count`, `_sum`), a panel `… (native)` asks the same of its native series
 * (`histogram_quantile`, `histogram_count`, `histogram_sum` over the series with no suffix). The
 * `histograms` variable (`classic` or `native`) chooses: each native query ends in
 * {@link NATIVE_ONLY}, so that it answers nothing while `classic` is chosen. The classic panels'
 * queries are the seed's, unchanged, whatever is chosen.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo-root';

/** A query of a panel. `legend` is Grafana's legend format (`{{label}}`). */
export interface QuerySpec {
  expr: string;
  legend: string;
}

interface PanelSpec {
  title: string;
  description: string;
  type: 'timeseries' | 'stat';
  unit: string;
  queries: QuerySpec[];
  /** Width in grid columns (24 per row). Default 12. */
  w?: number;
  /** Extra `fieldConfig.defaults` (mappings, thresholds, min, max, decimals). */
  defaults?: Record<string, unknown>;
  /**
   * The same questions over the native series of the histograms the panel reads: a panel
   * `<title> (native)` right after this one, its queries shown only while `histograms` is `native`.
   */
  native?: QuerySpec[];
}

interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

/** The datasource every panel and query uses: the `datasource` template variable. */
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

/** The selector of every query: `{job=~"$job", instance=~"$instance", …extra}`. */
function sel(...extra: string[]): string {
  return `{${['job=~"$job"', 'instance=~"$instance"', ...extra].join(', ')}}`;
}

/** `rate(metric{…}[$__rate_interval])`. */
function rate(metric: string, ...extra: string[]): string {
  return `rate(${metric}${sel(...extra)}[$__rate_interval])`;
}

/** `histogram_quantile(q, sum by (…, le) (rate(histogram_bucket{…}[…])))`. */
function quantile(q: number, histogram: string, by: string[] = []): string {
  return `histogram_quantile(${q}, sum by (${[...by, 'le'].join(', ')}) (${rate(`${histogram}_bucket`)}))`;
}

function quantiles(histogram: string, qs: number[], by: string[] = [], legendPrefix = ''): QuerySpec[] {
  return qs.map((q) => ({
    expr: quantile(q, histogram, by),
    legend: `${legendPrefix}p${Math.round(q * 100)}`,
  }));
}

/** `sum by (…) (e)`, or `sum (e)` when `by` is empty. */
function sumBy(by: string[], e: string): string {
  return by.length > 0 ? `sum by (${by.join(', ')}) (${e})` : `sum(${e})`;
}

/**
 * `histogram_quantile(q, sum by (…) (rate(histogram{…}[…])))` over the native series: the series
 * named as the histogram, whose samples are whole histograms (no `le`).
 */
function nativeQuantile(q: number, histogram: string, by: string[] = []): string {
  return `histogram_quantile(${q}, ${sumBy(by, rate(histogram))})`;
}

function nativeQuantiles(histogram: string, qs: number[], by: string[] = [], legendPrefix = ''): QuerySpec[] {
  return qs.map((q) => ({
    expr: nativeQuantile(q, histogram, by),
    legend: `${legendPrefix}p${Math.round(q * 100)}`,
  }));
}

/** `sum by (…) (histogram_count(rate(histogram{…}[…])))`: observations per second, from the native series. */
function nativeCountRate(histogram: string, by: string[] = [], ...extra: string[]): string {
  return sumBy(by, `histogram_count(${rate(histogram, ...extra)})`);
}

/**
 * What each native query ends with: it answers only while the `histograms` variable is `native`
 * (its value 1; `classic` is 0). Grafana 10 and 11 (dashboard schema 39) cannot show or hide a panel by
 * a variable; a query that answers nothing shows "No data", and the classic panels stay as they are.
 */
export const NATIVE_ONLY = 'and on () (vector($histograms) == 1)';

/** `(expr) and on () (vector($histograms) == 1)`. */
function nativeOnly(expr: string): string {
  return `(${expr}) ${NATIVE_ONLY}`;
}

const thresholds = (...steps: [string, number | null][]): Record<string, unknown> => ({
  thresholds: { mode: 'absolute', steps: steps.map(([color, value]) => ({ color, value })) },
});

const HEALTH_MAPPINGS = [
  {
    type: 'value',
    options: {
      '0': { text: 'ERROR', color: 'red', index: 0 },
      '0.5': { text: 'SLOW', color: 'orange', index: 1 },
      '1': { text: 'OK', color: 'green', index: 2 },
    },
  },
];

/**
 * The outbound requests that failed on the dependency's side: a 5xx (class or code), `no_response`
 * (refused, timed out, aborted) and `other` (a code outside 100-599). A 4xx is the dependency's
 * answer to what was sent (a declined card is a 402, a lookup of nothing a 404): shown by status, not
 * counted as a failure.
 */
const OUTBOUND_ERROR = 'status!~"[1-4]..|[1-4]xx"';

const ROWS: RowSpec[] = [
  {
    title: 'Overview',
    panels: [
      {
        title: 'Requests per second',
        description: 'Every HTTP request the services answered (veza_http_requests_total).',
        type: 'stat',
        unit: 'reqps',
        w: 6,
        queries: [{ expr: `sum(${rate('veza_http_requests_total')})`, legend: 'requests/s' }],
      },
      {
        title: '5xx ratio',
        description: 'The share of requests answered with a 5xx status (alert: VezaHighErrorRate above 5%).',
        type: 'stat',
        unit: 'percentunit',
        w: 6,
        defaults: thresholds(['green', null], ['orange', 0.01], ['red', 0.05]),
        queries: [
          {
            expr: `(sum(${rate('veza_http_requests_total', 'status=~"5.."')}) or vector(0)) / sum(${rate('veza_http_requests_total')})`,
            legend: '5xx',
          },
        ],
      },
      {
        title: 'p95 latency',
        description:
          'The 95th percentile of veza_http_request_duration_seconds over all endpoints (SLO: 500 ms per endpoint).',
        type: 'stat',
        unit: 's',
        w: 6,
        defaults: thresholds(['green', null], ['orange', 0.25], ['red', 0.5]),
        queries: quantiles('veza_http_request_duration_seconds', [0.95]),
        native: nativeQuantiles('veza_http_request_duration_seconds', [0.95]),
      },
      {
        title: 'Active users',
        description: 'Users with at least one open session (veza_active_users).',
        type: 'stat',
        unit: 'short',
        w: 6,
        queries: [{ expr: `sum(veza_active_users${sel()})`, legend: 'users' }],
      },
    ],
  },
  {
    title: 'HTTP (RED per endpoint)',
    panels: [
      {
        title: 'Request rate by endpoint',
        description: 'Requests per second by method and route template (veza_http_requests_total).',
        type: 'timeseries',
        unit: 'reqps',
        queries: [
          {
            expr: `sum by (method, endpoint) (${rate('veza_http_requests_total')})`,
            legend: '{{method}} {{endpoint}}',
          },
        ],
      },
      {
        title: 'Errors by status class',
        description:
          '4xx and 5xx responses per second, by status class (status codes are folded into classes).',
        type: 'timeseries',
        unit: 'reqps',
        queries: [
          {
            expr: `sum by (class) (label_replace(${rate('veza_http_requests_total', 'status=~"[45].."')}, "class", "\${1}xx", "status", "([45]).."))`,
            legend: '{{class}}',
          },
        ],
      },
      {
        title: '5xx ratio by endpoint',
        description:
          'The share of each endpoint’s requests answered with a 5xx status (0 for endpoints without errors).',
        type: 'timeseries',
        unit: 'percentunit',
        defaults: { min: 0, max: 1 },
        queries: [
          {
            expr:
              `(sum by (method, endpoint) (${rate('veza_http_requests_total', 'status=~"5.."')})` +
              ` or sum by (method, endpoint) (${rate('veza_http_requests_total')}) * 0)` +
              ` / sum by (method, endpoint) (${rate('veza_http_requests_total')})`,
            legend: '{{method}} {{endpoint}}',
          },
        ],
      },
      {
        title: 'Latency p50 / p95 / p99',
        description:
          'Quantiles of veza_http_request_duration_seconds over all endpoints (buckets 1 ms to 5 s).',
        type: 'timeseries',
        unit: 's',
        queries: quantiles('veza_http_request_duration_seconds', [0.5, 0.95, 0.99]),
        native: nativeQuantiles('veza_http_request_duration_seconds', [0.5, 0.95, 0.99]),
      },
      {
        title: 'p95 latency by endpoint',
        description:
          'The 95th percentile per method and route template (alert: VezaLatencySLOBreached above 500 ms).',
        type: 'timeseries',
        unit: 's',
        w: 24,
        queries: [
          {
            expr: quantile(0.95, 'veza_http_request_duration_seconds', ['method', 'endpoint']),
            legend: '{{method}} {{endpoint}}',
          },
        ],
        native: [
          {
            expr: nativeQuantile(0.95, 'veza_http_request_duration_seconds', ['method', 'endpoint']),
            legend: '{{method}} {{endpoint}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Auth and rate limits',
    panels: [
      {
        title: 'Login attempts by result',
        description: 'veza_auth_login_attempts_total by success ("success" or "failure").',
        type: 'timeseries',
        unit: 'ops',
        w: 8,
        queries: [
          { expr: `sum by (success) (${rate('veza_auth_login_attempts_total')})`, legend: '{{success}}' },
        ],
      },
      {
        title: 'Login failure ratio',
        description:
          'The share of login attempts that fail (alert: VezaLoginFailureSpike above 50% with more than 20 failures in 5 minutes).',
        type: 'timeseries',
        unit: 'percentunit',
        w: 8,
        defaults: { min: 0, max: 1 },
        queries: [
          {
            expr: `(sum(${rate('veza_auth_login_attempts_total', 'success="failure"')}) or vector(0)) / sum(${rate('veza_auth_login_attempts_total')})`,
            legend: 'failure ratio',
          },
        ],
      },
      {
        title: 'Active sessions and users',
        description: 'veza_auth_sessions_active and veza_active_users.',
        type: 'timeseries',
        unit: 'short',
        w: 8,
        queries: [
          { expr: `sum(veza_auth_sessions_active${sel()})`, legend: 'sessions' },
          { expr: `sum(veza_active_users${sel()})`, legend: 'users' },
        ],
      },
      {
        title: 'Rate limit hits',
        description:
          'Requests refused by a rate limit, by endpoint and limit type (veza_rate_limit_hits_total).',
        type: 'timeseries',
        unit: 'ops',
        w: 24,
        queries: [
          {
            expr: `sum by (endpoint, limit_type) (${rate('veza_rate_limit_hits_total')})`,
            legend: '{{endpoint}} {{limit_type}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Database',
    panels: [
      {
        title: 'Queries per second by operation and table',
        description:
          'The observation count of veza_database_query_duration_seconds: every query that ended, succeeded or failed (TypeORM, Prisma and @TrackDbQuery alike), by operation (select, insert, update, delete, transaction, other) and main table.',
        type: 'timeseries',
        unit: 'ops',
        queries: [
          {
            expr: `sum by (operation, table) (${rate('veza_database_query_duration_seconds_count')})`,
            legend: '{{operation}} {{table}}',
          },
        ],
        native: [
          {
            expr: nativeCountRate('veza_database_query_duration_seconds', ['operation', 'table']),
            legend: '{{operation}} {{table}}',
          },
        ],
      },
      {
        title: 'Query latency p99 by operation and table',
        description:
          'The 99th percentile of veza_database_query_duration_seconds (buckets 1 ms to 1 s; alert: VezaDatabaseSlowQueries above 500 ms).',
        type: 'timeseries',
        unit: 's',
        queries: [
          {
            expr: quantile(0.99, 'veza_database_query_duration_seconds', ['operation', 'table']),
            legend: '{{operation}} {{table}}',
          },
        ],
        native: [
          {
            expr: nativeQuantile(0.99, 'veza_database_query_duration_seconds', ['operation', 'table']),
            legend: '{{operation}} {{table}}',
          },
        ],
      },
      {
        title: 'Query error ratio by operation',
        description:
          'veza_database_query_errors_total over the queries of each operation (0 for operations without errors; alert: VezaDatabaseErrors above 5%).',
        type: 'timeseries',
        unit: 'percentunit',
        w: 8,
        defaults: { min: 0, max: 1 },
        queries: [
          {
            expr:
              `(sum by (operation) (${rate('veza_database_query_errors_total')})` +
              ` or sum by (operation) (${rate('veza_database_query_duration_seconds_count')}) * 0)` +
              ` / sum by (operation) (${rate('veza_database_query_duration_seconds_count')})`,
            legend: '{{operation}}',
          },
        ],
        native: [
          {
            expr:
              `(sum by (operation) (${rate('veza_database_query_errors_total')})` +
              ` or ${nativeCountRate('veza_database_query_duration_seconds', ['operation'])} * 0)` +
              ` / ${nativeCountRate('veza_database_query_duration_seconds', ['operation'])}`,
            legend: '{{operation}}',
          },
        ],
      },
      {
        title: 'Query errors by type',
        description:
          "veza_database_query_errors_total by operation and error type (the driver's code: 23505, SQLITE_CONSTRAINT, ER_DUP_ENTRY; or the error's class).",
        type: 'timeseries',
        unit: 'ops',
        w: 8,
        queries: [
          {
            expr: `sum by (operation, error_type) (${rate('veza_database_query_errors_total')})`,
            legend: '{{operation}} {{error_type}}',
          },
        ],
      },
      {
        title: 'Active connections',
        description:
          'veza_database_connections_active: connections in use in the pools of the application’s data sources, summed, per instance (0 for a driver without a pool, such as sql.js).',
        type: 'timeseries',
        unit: 'short',
        w: 8,
        queries: [
          { expr: `sum by (instance) (veza_database_connections_active${sel()})`, legend: '{{instance}}' },
        ],
      },
    ],
  },
  {
    title: 'Uploads',
    panels: [
      {
        title: 'Uploads by type and status',
        description: 'veza_file_uploads_total by file type and status.',
        type: 'timeseries',
        unit: 'ops',
        queries: [
          {
            expr: `sum by (type, status) (${rate('veza_file_uploads_total')})`,
            legend: '{{type}} {{status}}',
          },
        ],
      },
      {
        title: 'Upload failures by reason',
        description:
          'veza_uploads_failed_total by reason (validation, quota, ClamAV, …). Alert: VezaUploadFailures above 20%.',
        type: 'timeseries',
        unit: 'ops',
        queries: [{ expr: `sum by (reason) (${rate('veza_uploads_failed_total')})`, legend: '{{reason}}' }],
      },
      {
        title: 'Upload size p50 / p95 and average',
        description:
          'Quantiles of veza_file_upload_size_bytes (buckets 1 KiB to 16 MiB), and the mean (sum / count).',
        type: 'timeseries',
        unit: 'bytes',
        queries: [
          ...quantiles('veza_file_upload_size_bytes', [0.5, 0.95]),
          {
            expr: `sum(${rate('veza_file_upload_size_bytes_sum')}) / sum(${rate('veza_file_upload_size_bytes_count')})`,
            legend: 'average',
          },
        ],
        native: [
          ...nativeQuantiles('veza_file_upload_size_bytes', [0.5, 0.95]),
          {
            expr: `histogram_sum(sum(${rate('veza_file_upload_size_bytes')})) / histogram_count(sum(${rate('veza_file_upload_size_bytes')}))`,
            legend: 'average',
          },
        ],
      },
      {
        title: 'Bytes uploaded per second by type',
        description: 'The sum of veza_file_upload_size_bytes, by file type.',
        type: 'timeseries',
        unit: 'binBps',
        queries: [{ expr: `sum by (type) (${rate('veza_file_upload_size_bytes_sum')})`, legend: '{{type}}' }],
        native: [
          {
            expr: `sum by (type) (histogram_sum(${rate('veza_file_upload_size_bytes')}))`,
            legend: '{{type}}',
          },
        ],
      },
    ],
  },
  {
    title: 'WebSocket',
    panels: [
      {
        title: 'Open WebSocket connections',
        description: 'veza_websocket_connections_active.',
        type: 'timeseries',
        unit: 'short',
        queries: [{ expr: `sum(veza_websocket_connections_active${sel()})`, legend: 'connections' }],
      },
      {
        title: 'WebSocket messages by type and status',
        description: 'veza_websocket_messages_total by message type and status.',
        type: 'timeseries',
        unit: 'ops',
        queries: [
          {
            expr: `sum by (type, status) (${rate('veza_websocket_messages_total')})`,
            legend: '{{type}} {{status}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Errors',
    panels: [
      {
        title: 'Errors by type and severity',
        description: 'veza_errors_total by error type and severity.',
        type: 'timeseries',
        unit: 'ops',
        w: 16,
        queries: [
          {
            expr: `sum by (type, severity) (${rate('veza_errors_total')})`,
            legend: '{{type}} ({{severity}})',
          },
        ],
      },
      {
        title: 'Errors in the time range by severity',
        description: 'How many errors of each severity were recorded in the selected time range.',
        type: 'stat',
        unit: 'short',
        w: 8,
        defaults: { decimals: 0 },
        queries: [
          {
            expr: `sum by (severity) (increase(veza_errors_total${sel()}[$__range]))`,
            legend: '{{severity}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Health',
    panels: [
      {
        title: 'Health check status',
        description:
          'veza_health_check_status by checked service (each @nestjs/terminus indicator under its key): 1 OK, 0.5 SLOW, 0 ERROR (alert: VezaHealthCheckDown). The worst instance is shown.',
        type: 'stat',
        unit: 'none',
        defaults: { mappings: HEALTH_MAPPINGS, ...thresholds(['red', null], ['orange', 0.5], ['green', 1]) },
        queries: [{ expr: `min by (service) (veza_health_check_status${sel()})`, legend: '{{service}}' }],
      },
      {
        title: 'Health check duration p95',
        description:
          'The 95th percentile of veza_health_check_duration_ms by checked service (milliseconds), or of veza_health_check_duration_seconds × 1000 for services with naming: strict.',
        type: 'timeseries',
        unit: 'ms',
        queries: [
          {
            expr: `${quantile(0.95, 'veza_health_check_duration_ms', ['service'])} or ${quantile(0.95, 'veza_health_check_duration_seconds', ['service'])} * 1000`,
            legend: '{{service}}',
          },
        ],
        native: [
          {
            expr: `${nativeQuantile(0.95, 'veza_health_check_duration_ms', ['service'])} or ${nativeQuantile(0.95, 'veza_health_check_duration_seconds', ['service'])} * 1000`,
            legend: '{{service}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Business',
    panels: [
      {
        title: 'In the time range',
        description: 'Tracks uploaded, users registered and playlists created in the selected time range.',
        type: 'stat',
        unit: 'short',
        defaults: { decimals: 0 },
        queries: [
          { expr: `sum(increase(veza_tracks_uploaded_total${sel()}[$__range]))`, legend: 'tracks uploaded' },
          {
            expr: `sum(increase(veza_users_registered_total${sel()}[$__range]))`,
            legend: 'users registered',
          },
          {
            expr: `sum(increase(veza_playlists_created_total${sel()}[$__range]))`,
            legend: 'playlists created',
          },
        ],
      },
      {
        title: 'Per minute',
        description:
          'veza_tracks_uploaded_total, veza_users_registered_total and veza_playlists_created_total, per minute.',
        type: 'timeseries',
        unit: 'opm',
        queries: [
          { expr: `sum(${rate('veza_tracks_uploaded_total')}) * 60`, legend: 'tracks uploaded' },
          { expr: `sum(${rate('veza_users_registered_total')}) * 60`, legend: 'users registered' },
          { expr: `sum(${rate('veza_playlists_created_total')}) * 60`, legend: 'playlists created' },
        ],
      },
    ],
  },
  {
    title: 'Commerce',
    panels: [
      {
        title: 'Orders by status',
        description: 'veza_commerce_orders_total by status, per minute.',
        type: 'timeseries',
        unit: 'opm',
        queries: [
          { expr: `sum by (status) (${rate('veza_commerce_orders_total')}) * 60`, legend: '{{status}}' },
        ],
      },
      {
        title: 'Checkout duration p50 / p95 / p99',
        description:
          'Quantiles of veza_commerce_checkout_duration_seconds (cart to order; buckets 0.1 s to 5 s).',
        type: 'timeseries',
        unit: 's',
        queries: quantiles('veza_commerce_checkout_duration_seconds', [0.5, 0.95, 0.99]),
        native: nativeQuantiles('veza_commerce_checkout_duration_seconds', [0.5, 0.95, 0.99]),
      },
    ],
  },
  {
    title: 'Transfers',
    panels: [
      {
        title: 'Transfer retries',
        description: 'Retry attempts of seller payouts and their outcomes, per minute.',
        type: 'timeseries',
        unit: 'opm',
        w: 12,
        queries: [
          { expr: `sum(${rate('veza_transfer_retry_total')}) * 60`, legend: 'retries' },
          { expr: `sum(${rate('veza_transfer_retry_success_total')}) * 60`, legend: 'succeeded' },
          { expr: `sum(${rate('veza_transfer_retry_failures_total')}) * 60`, legend: 'failed' },
          {
            expr: `sum(${rate('veza_transfer_retry_permanent_failures_total')}) * 60`,
            legend: 'failed permanently',
          },
        ],
      },
      {
        title: 'Retry success ratio',
        description: 'The share of transfer retries that succeed.',
        type: 'timeseries',
        unit: 'percentunit',
        w: 6,
        defaults: { min: 0, max: 1 },
        queries: [
          {
            expr: `sum(${rate('veza_transfer_retry_success_total')}) / sum(${rate('veza_transfer_retry_total')})`,
            legend: 'success ratio',
          },
        ],
      },
      {
        title: 'Permanent failures in the time range',
        description:
          'Transfers that exhausted their retries in the selected time range (alert: VezaTransferPermanentlyFailed).',
        type: 'stat',
        unit: 'short',
        w: 6,
        defaults: { decimals: 0, ...thresholds(['green', null], ['red', 1]) },
        queries: [
          {
            expr: `sum(increase(veza_transfer_retry_permanent_failures_total${sel()}[$__range]))`,
            legend: 'permanent failures',
          },
        ],
      },
    ],
  },
  {
    title: 'Live',
    panels: [
      {
        title: 'Live streams and viewers',
        description:
          'veza_live_streams_active and veza_live_stream_viewers_total (veza_live_stream_viewers under naming: strict): viewers across all active streams.',
        type: 'timeseries',
        unit: 'short',
        w: 24,
        queries: [
          { expr: `sum(veza_live_streams_active${sel()})`, legend: 'streams' },
          {
            expr: `sum(veza_live_stream_viewers_total${sel()} or veza_live_stream_viewers${sel()})`,
            legend: 'viewers',
          },
        ],
      },
    ],
  },
  {
    title: 'Cache',
    panels: [
      {
        title: 'Cache hit ratio by subsystem',
        description:
          'hits / (hits + misses) per subsystem (each @nestjs/cache-manager store, or the subsystem set for it; 0 for a subsystem with misses only).',
        type: 'timeseries',
        unit: 'percentunit',
        defaults: { min: 0, max: 1 },
        queries: [
          {
            expr:
              `(sum by (subsystem) (${rate('veza_cache_hits_total')}) or sum by (subsystem) (${rate('veza_cache_misses_total')}) * 0)` +
              ` / (sum by (subsystem) (${rate('veza_cache_hits_total')}) + sum by (subsystem) (${rate('veza_cache_misses_total')})` +
              ` or sum by (subsystem) (${rate('veza_cache_hits_total')}) or sum by (subsystem) (${rate('veza_cache_misses_total')}))`,
            legend: '{{subsystem}}',
          },
        ],
      },
      {
        title: 'Cache hits and misses',
        description: 'veza_cache_hits_total and veza_cache_misses_total by subsystem.',
        type: 'timeseries',
        unit: 'ops',
        queries: [
          { expr: `sum by (subsystem) (${rate('veza_cache_hits_total')})`, legend: '{{subsystem}} hits' },
          { expr: `sum by (subsystem) (${rate('veza_cache_misses_total')})`, legend: '{{subsystem}} misses' },
        ],
      },
    ],
  },
  {
    title: 'GraphQL',
    panels: [
      {
        title: 'GraphQL operations by outcome',
        description:
          'veza_graphql_operations_total by operation type, name and outcome (success, request_error: parse or validation failed, resolver_error: data came back with errors, internal_error: the execution threw). Every GraphQL answer is an HTTP 200 on POST /graphql: this is where its errors show.',
        type: 'timeseries',
        unit: 'ops',
        queries: [
          {
            expr: `sum by (operation_type, operation_name, outcome) (${rate('veza_graphql_operations_total')})`,
            legend: '{{operation_type}} {{operation_name}} {{outcome}}',
          },
        ],
      },
      {
        title: 'GraphQL error ratio',
        description:
          'The share of GraphQL operations that failed on the server side (resolver_error or internal_error; alert: VezaGraphqlErrors above 5%).',
        type: 'stat',
        unit: 'percentunit',
        w: 6,
        defaults: thresholds(['green', null], ['orange', 0.01], ['red', 0.05]),
        queries: [
          {
            expr: `(sum(${rate('veza_graphql_operations_total', 'outcome=~"resolver_error|internal_error"')}) or vector(0)) / sum(${rate('veza_graphql_operations_total')})`,
            legend: 'errors',
          },
        ],
      },
      {
        title: 'GraphQL operation p95',
        description: 'The 95th percentile of veza_graphql_operation_duration_seconds per operation.',
        type: 'stat',
        unit: 's',
        w: 6,
        defaults: thresholds(['green', null], ['orange', 0.25], ['red', 0.5]),
        queries: quantiles('veza_graphql_operation_duration_seconds', [0.95]),
        native: nativeQuantiles('veza_graphql_operation_duration_seconds', [0.95]),
      },
      {
        title: 'GraphQL operation latency by operation',
        description: 'p50 and p95 of veza_graphql_operation_duration_seconds by operation type and name.',
        type: 'timeseries',
        unit: 's',
        queries: quantiles(
          'veza_graphql_operation_duration_seconds',
          [0.5, 0.95],
          ['operation_type', 'operation_name'],
          '{{operation_type}} {{operation_name}} ',
        ),
        native: nativeQuantiles(
          'veza_graphql_operation_duration_seconds',
          [0.5, 0.95],
          ['operation_type', 'operation_name'],
          '{{operation_type}} {{operation_name}} ',
        ),
      },
      {
        title: 'Resolver latency p95 by field',
        description:
          'The 95th percentile of veza_graphql_resolver_duration_seconds for the root fields and the fields with a resolver of their own, by parent type and field.',
        type: 'timeseries',
        unit: 's',
        queries: quantiles(
          'veza_graphql_resolver_duration_seconds',
          [0.95],
          ['parent_type', 'field'],
          '{{parent_type}}.{{field}} ',
        ),
        native: nativeQuantiles(
          'veza_graphql_resolver_duration_seconds',
          [0.95],
          ['parent_type', 'field'],
          '{{parent_type}}.{{field}} ',
        ),
      },
      {
        title: 'Resolver errors by field',
        description: 'veza_graphql_resolver_errors_total by parent type, field and error type.',
        type: 'timeseries',
        unit: 'ops',
        w: 24,
        queries: [
          {
            expr: `sum by (parent_type, field, error_type) (${rate('veza_graphql_resolver_errors_total')})`,
            legend: '{{parent_type}}.{{field}} {{error_type}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Microservices (RPC)',
    panels: [
      {
        title: 'Messages handled by pattern and outcome',
        description:
          'veza_rpc_server_requests_total: the messages the microservice handlers (@MessagePattern: request, @EventPattern: event) handled, by transport, pattern and outcome.',
        type: 'timeseries',
        unit: 'ops',
        queries: [
          {
            expr: `sum by (transport, pattern, kind, outcome) (${rate('veza_rpc_server_requests_total')})`,
            legend: '{{transport}} {{pattern}} {{kind}} {{outcome}}',
          },
        ],
      },
      {
        title: 'Handler error ratio by pattern',
        description:
          'The share of messages whose handler failed, per transport and pattern (alert: VezaRpcHandlerErrors above 5%).',
        type: 'timeseries',
        unit: 'percentunit',
        defaults: { min: 0, max: 1 },
        queries: [
          {
            expr:
              `(sum by (transport, pattern) (${rate('veza_rpc_server_requests_total', 'outcome="error"')})` +
              ` or sum by (transport, pattern) (${rate('veza_rpc_server_requests_total')}) * 0)` +
              ` / sum by (transport, pattern) (${rate('veza_rpc_server_requests_total')})`,
            legend: '{{transport}} {{pattern}}',
          },
        ],
      },
      {
        title: 'Handler latency by pattern',
        description:
          'p50 and p95 of veza_rpc_server_duration_seconds by transport and pattern (a request is timed to its reply, an Observable to its completion).',
        type: 'timeseries',
        unit: 's',
        w: 24,
        queries: quantiles(
          'veza_rpc_server_duration_seconds',
          [0.5, 0.95],
          ['transport', 'pattern'],
          '{{transport}} {{pattern}} ',
        ),
        native: nativeQuantiles(
          'veza_rpc_server_duration_seconds',
          [0.5, 0.95],
          ['transport', 'pattern'],
          '{{transport}} {{pattern}} ',
        ),
      },
    ],
  },
  {
    title: 'Queues',
    panels: [
      {
        title: 'Jobs by queue, job name and outcome',
        description:
          'veza_queue_jobs_total: each attempt of a @nestjs/bullmq processor, completed, retried or failed. Its `job` label (the BullMQ job name) reaches Prometheus as `exported_job`, since Prometheus keeps `job` for the scrape job.',
        type: 'timeseries',
        unit: 'ops',
        queries: [
          {
            expr: `sum by (queue, exported_job, outcome) (${rate('veza_queue_jobs_total')})`,
            legend: '{{queue}} {{exported_job}} {{outcome}}',
          },
        ],
      },
      {
        title: 'Job failure ratio by queue',
        description:
          'The share of job attempts that failed for good (alert: VezaQueueJobFailures above 10%); retried attempts are not failures.',
        type: 'timeseries',
        unit: 'percentunit',
        defaults: { min: 0, max: 1 },
        queries: [
          {
            expr:
              `(sum by (queue) (${rate('veza_queue_jobs_total', 'outcome="failed"')})` +
              ` or sum by (queue) (${rate('veza_queue_jobs_total')}) * 0)` +
              ` / sum by (queue) (${rate('veza_queue_jobs_total', 'outcome=~"completed|failed"')})`,
            legend: '{{queue}}',
          },
        ],
      },
      {
        title: 'Job duration by queue and job name',
        description: 'p50 and p95 of veza_queue_job_duration_seconds, each attempt timed once.',
        type: 'timeseries',
        unit: 's',
        queries: quantiles(
          'veza_queue_job_duration_seconds',
          [0.5, 0.95],
          ['queue', 'exported_job'],
          '{{queue}} {{exported_job}} ',
        ),
        native: nativeQuantiles(
          'veza_queue_job_duration_seconds',
          [0.5, 0.95],
          ['queue', 'exported_job'],
          '{{queue}} {{exported_job}} ',
        ),
      },
      {
        title: 'Queue depth by state',
        description:
          'veza_queue_jobs: jobs waiting, active, delayed and failed in each queue, read from Redis at scrape time (left out of a scrape when Redis does not answer in time).',
        type: 'timeseries',
        unit: 'short',
        queries: [{ expr: `sum by (queue, state) (veza_queue_jobs${sel()})`, legend: '{{queue}} {{state}}' }],
      },
    ],
  },
  {
    title: 'Outbound HTTP',
    panels: [
      {
        title: 'Outbound requests by host and status',
        description:
          'veza_http_client_requests_total: the requests the service made (global fetch / undici, node:http and node:https clients such as axios), by method, host (host[:port], or the name the hosts option gives it) and status class; no_response for a request that got none (refused, timed out, aborted).',
        type: 'timeseries',
        unit: 'reqps',
        queries: [
          {
            expr: `sum by (host, status) (${rate('veza_http_client_requests_total')})`,
            legend: '{{host}} {{status}}',
          },
        ],
      },
      {
        title: 'Outbound error ratio by host',
        description: `The share of each host's requests that failed on its side: answered 5xx, or never answered (no_response: connection refused, timeout, abort). A 4xx is the host's answer to what was sent (a declined card, a lookup of nothing), not counted. Alert: VezaOutboundErrors above 5%.`,
        type: 'timeseries',
        unit: 'percentunit',
        defaults: { min: 0, max: 1 },
        queries: [
          {
            expr:
              `(sum by (host) (${rate('veza_http_client_requests_total', OUTBOUND_ERROR)})` +
              ` or sum by (host) (${rate('veza_http_client_requests_total')}) * 0)` +
              ` / sum by (host) (${rate('veza_http_client_requests_total')})`,
            legend: '{{host}}',
          },
        ],
      },
      {
        title: 'Outbound latency p50 / p99 by host',
        description:
          'Quantiles of veza_http_client_request_duration_seconds by host: from the request to the response head, or to the failure (buckets as the server side).',
        type: 'timeseries',
        unit: 's',
        w: 24,
        queries: quantiles('veza_http_client_request_duration_seconds', [0.5, 0.99], ['host'], '{{host}} '),
        native: nativeQuantiles(
          'veza_http_client_request_duration_seconds',
          [0.5, 0.99],
          ['host'],
          '{{host}} ',
        ),
      },
    ],
  },
];

const PANEL_HEIGHT = 8;
const STAT_HEIGHT = 5;

function panelJson(
  spec: PanelSpec,
  id: number,
  gridPos: { h: number; w: number; x: number; y: number },
): Record<string, unknown> {
  const targets = spec.queries.map((q, i) => ({
    refId: String.fromCharCode(65 + i),
    datasource: DATASOURCE,
    editorMode: 'code',
    expr: q.expr,
    legendFormat: q.legend,
    range: true,
    instant: false,
  }));
  const common = {
    id,
    type: spec.type,
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos,
    targets,
  };
  if (spec.type === 'stat') {
    return {
      ...common,
      fieldConfig: {
        defaults: {
          unit: spec.unit,
          color: { mode: 'thresholds' },
          mappings: [],
          ...thresholds(['green', null]),
          ...spec.defaults,
        },
        overrides: [],
      },
      options: {
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        colorMode: 'value',
        graphMode: 'area',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: 'auto',
        showPercentChange: false,
        wideLayout: true,
      },
    };
  }
  return {
    ...common,
    fieldConfig: {
      defaults: {
        unit: spec.unit,
        color: { mode: 'palette-classic' },
        custom: {
          drawStyle: 'line',
          lineInterpolation: 'linear',
          lineWidth: 1,
          fillOpacity: 10,
          gradientMode: 'none',
          showPoints: 'never',
          spanNulls: false,
          axisPlacement: 'auto',
          stacking: { mode: 'none', group: 'A' },
        },
        ...spec.defaults,
      },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  };
}

function variable(name: string, label: string, query: string): Record<string, unknown> {
  return {
    type: 'query',
    name,
    label,
    datasource: DATASOURCE,
    definition: query,
    query: { query, refId: `PrometheusVariableQueryEditor-${name}` },
    refresh: 2,
    includeAll: true,
    multi: true,
    allValue: '.+',
    current: { selected: true, text: ['All'], value: ['$__all'] },
    options: [],
    regex: '',
    sort: 1,
    hide: 0,
  };
}

/** The native sibling of `spec`: same title with ` (native)`, same layout and unit, `queries` shown only while `histograms` is `native`. */
function nativePanel(spec: PanelSpec, queries: QuerySpec[]): PanelSpec {
  return {
    ...spec,
    title: `${spec.title} (native)`,
    description: `${spec.description} Here from the native histogram series (no _bucket, _count or _sum): shown while the Histograms variable is "native" (docs/native-histograms.md).`,
    queries: queries.map((q) => ({ expr: nativeOnly(q.expr), legend: q.legend })),
    native: undefined,
  };
}

/**
 * The `histograms` variable: which histogram panels answer. `classic` (0, the default) or `native`
 * (1); the native panels' queries compare it to 1 ({@link NATIVE_ONLY}).
 */
function histogramsVariable(): Record<string, unknown> {
  const options = [
    { text: 'classic', value: '0' },
    { text: 'native', value: '1' },
  ];
  return {
    type: 'custom',
    name: 'histograms',
    label: 'Histograms',
    description:
      'Which latency panels answer: classic (the _bucket series, Prometheus without native histograms or keeping the classic series) or native (the "(native)" panels, over the native histogram series). docs/native-histograms.md',
    query: options.map((o) => `${o.text} : ${o.value}`).join(', '),
    current: { selected: true, ...options[0] },
    options: options.map((o, i) => ({ selected: i === 0, ...o })),
    includeAll: false,
    multi: false,
    hide: 0,
    skipUrlSync: false,
  };
}

/** The dashboard, as Grafana imports it. */
export function buildDashboard(): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const spec of row.panels.flatMap((p) => (p.native ? [p, nativePanel(p, p.native)] : [p]))) {
      const w = spec.w ?? 12;
      const h =
        spec.type === 'stat' && row.panels.every((p) => p.type === 'stat') ? STAT_HEIGHT : PANEL_HEIGHT;
      if (x + w > 24) {
        y += rowHeight;
        x = 0;
        rowHeight = 0;
      }
      panels.push(panelJson(spec, id++, { h, w, x, y }));
      x += w;
      rowHeight = Math.max(rowHeight, h);
    }
    y += rowHeight;
  }

  return {
    __inputs: [
      {
        name: 'DS_PROMETHEUS',
        label: 'Prometheus',
        description: 'The Prometheus that scrapes the Veza services',
        type: 'datasource',
        pluginId: 'prometheus',
        pluginName: 'Prometheus',
      },
    ],
    __requires: [
      { type: 'grafana', id: 'grafana', name: 'Grafana', version: '10.0.0' },
      { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
      { type: 'panel', id: 'timeseries', name: 'Time series', version: '' },
      { type: 'panel', id: 'stat', name: 'Stat', version: '' },
    ],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    description:
      'The Veza metric catalog (@veza/nestjs-metrics and the Go backend): RED per endpoint, auth, database, uploads, rate limits, WebSocket, errors, health, business, commerce, transfers, live, cache, GraphQL, microservices, queues and outbound HTTP.',
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    id: null,
    links: [],
    liveNow: false,
    panels,
    refresh: '30s',
    schemaVersion: 39,
    tags: ['veza', 'prometheus', 'nestjs'],
    templating: {
      list: [
        {
          type: 'datasource',
          name: 'datasource',
          label: 'Data source',
          query: 'prometheus',
          current: { selected: false, text: '${DS_PROMETHEUS}', value: '${DS_PROMETHEUS}' },
          hide: 0,
          includeAll: false,
          multi: false,
          options: [],
          refresh: 1,
          regex: '',
          skipUrlSync: false,
        },
        // veza_active_users has no labels: every service with the module exports it from the start.
        variable('job', 'Job', 'label_values(veza_active_users, job)'),
        variable('instance', 'Instance', 'label_values(veza_active_users{job=~"$job"}, instance)'),
        histogramsVariable(),
      ],
    },
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    timezone: '',
    title: 'Veza services',
    uid: 'veza-services',
    version: 1,
    weekStart: '',
  };
}

/** Where the dashboard is committed. */
export const DASHBOARD_FILE = join(repoRoot(), 'monitoring', 'grafana-dashboard.json');

async function main(): Promise<void> {
  // Loaded here, not at the top: prettier's CommonJS entry imports ESM, which jest (loading this file) cannot.
  const { format, resolveConfig } = await import('prettier');
  const config = (await resolveConfig(DASHBOARD_FILE)) ?? {};
  writeFileSync(
    DASHBOARD_FILE,
    await format(JSON.stringify(buildDashboard(), null, 2), { ...config, filepath: DASHBOARD_FILE }),
  );
  process.stdout.write(`wrote ${DASHBOARD_FILE}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
