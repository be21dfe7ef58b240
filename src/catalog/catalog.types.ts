import type {
  CounterMetric as Counter,
  GaugeMetric as Gauge,
  HistogramMetric as Histogram,
} from '../compat/client-types';
import type { VezaMetric, VezaMetricName } from './catalog';

/**
 * The prom-client type of every catalog metric, with its label names typed.
 *
 * @example
 * ```ts
 * @InjectMetric(VezaMetric.HttpRequestsTotal) requests: VezaMetricTypes['veza_http_requests_total']
 * ```
 */
export interface VezaMetricTypes {
  /** Total number of HTTP requests. */
  veza_http_requests_total: Counter<'method' | 'endpoint' | 'status'>;
  /** HTTP request duration in seconds. */
  veza_http_request_duration_seconds: Histogram<'method' | 'endpoint'>;
  /** Total number of login attempts. */
  veza_auth_login_attempts_total: Counter<'success'>;
  /** Number of active sessions. */
  veza_auth_sessions_active: Gauge;
  /** Database query duration in seconds. */
  veza_database_query_duration_seconds: Histogram<'operation' | 'table'>;
  /** Number of active database connections. */
  veza_database_connections_active: Gauge;
  /** Total number of database query errors. */
  veza_database_query_errors_total: Counter<'operation' | 'error_type'>;
  /** Total number of file uploads. */
  veza_file_uploads_total: Counter<'type' | 'status'>;
  /** File upload size in bytes. */
  veza_file_upload_size_bytes: Histogram<'type'>;
  /** Total number of rate limit hits. */
  veza_rate_limit_hits_total: Counter<'endpoint' | 'limit_type'>;
  /** Number of active users. */
  veza_active_users: Gauge;
  /** Number of active WebSocket connections. */
  veza_websocket_connections_active: Gauge;
  /** Total number of WebSocket messages. */
  veza_websocket_messages_total: Counter<'type' | 'status'>;
  /** Total number of errors. */
  veza_errors_total: Counter<'type' | 'severity'>;
  /** Health check duration in milliseconds. */
  veza_health_check_duration_ms: Histogram<'service'>;
  /** Health check status (1=ok, 0.5=slow, 0=error). */
  veza_health_check_status: Gauge<'service'>;
  /** Total number of tracks uploaded. */
  veza_tracks_uploaded_total: Counter;
  /** Total number of commerce orders created. */
  veza_commerce_orders_total: Counter<'status'>;
  /** Checkout (cart to order) duration in seconds. */
  veza_commerce_checkout_duration_seconds: Histogram;
  /** Total number of users registered. */
  veza_users_registered_total: Counter;
  /** Total number of playlists created. */
  veza_playlists_created_total: Counter;
  /** Total number of failed uploads. */
  veza_uploads_failed_total: Counter<'reason'>;
  /** Total number of transfer retry attempts. */
  veza_transfer_retry_total: Counter;
  /** Total number of successful transfer retries. */
  veza_transfer_retry_success_total: Counter;
  /** Total number of failed transfer retries. */
  veza_transfer_retry_failures_total: Counter;
  /** Total number of permanently failed transfers (max retries exceeded). */
  veza_transfer_retry_permanent_failures_total: Counter;
  /** Number of currently active live streams. */
  veza_live_streams_active: Gauge;
  /** Total number of viewers across all active live streams. */
  veza_live_stream_viewers_total: Gauge;
  /** Total number of cache hits. */
  veza_cache_hits_total: Counter<'subsystem'>;
  /** Total number of cache misses. */
  veza_cache_misses_total: Counter<'subsystem'>;
}

/**
 * The prom-client type of the catalog metric `N`, label names included.
 *
 * @example
 * ```ts
 * constructor(
 *   @InjectMetric(VezaMetric.LoginAttempts)
 *   private readonly logins: VezaMetricOf<typeof VezaMetric.LoginAttempts>,
 * ) {}
 * // logins.inc({ success: 'success' }) compiles; logins.inc({ ok: 'yes' }) does not.
 * ```
 */
export type VezaMetricOf<N extends VezaMetricName> = VezaMetricTypes[N];

/** The names of the catalog's histograms: the keys the `buckets` option accepts. */
export type VezaHistogramName =
  | (typeof VezaMetric)['HttpRequestDuration']
  | (typeof VezaMetric)['DatabaseQueryDuration']
  | (typeof VezaMetric)['FileUploadSize']
  | (typeof VezaMetric)['HealthCheckDuration']
  | (typeof VezaMetric)['CommerceCheckoutDuration'];
