import type { Counter, Gauge, Histogram } from 'prom-client';
import type { VezaMetric, VezaMetricName } from './catalog';

type M = typeof VezaMetric;

/**
 * The prom-client type of every catalog metric, with its label names typed.
 *
 * @example
 * ```ts
 * @InjectMetric(VezaMetric.HttpRequestsTotal) requests: VezaMetricTypes['veza_http_requests_total']
 * ```
 */
export interface VezaMetricTypes {
  veza_http_requests_total: Counter<'method' | 'endpoint' | 'status'>;
  veza_http_request_duration_seconds: Histogram<'method' | 'endpoint'>;
  veza_auth_login_attempts_total: Counter<'success'>;
  veza_auth_sessions_active: Gauge;
  veza_database_query_duration_seconds: Histogram<'operation' | 'table'>;
  veza_database_connections_active: Gauge;
  veza_database_query_errors_total: Counter<'operation' | 'error_type'>;
  veza_file_uploads_total: Counter<'type' | 'status'>;
  veza_file_upload_size_bytes: Histogram<'type'>;
  veza_rate_limit_hits_total: Counter<'endpoint' | 'limit_type'>;
  veza_active_users: Gauge;
  veza_websocket_connections_active: Gauge;
  veza_websocket_messages_total: Counter<'type' | 'status'>;
  veza_errors_total: Counter<'type' | 'severity'>;
  veza_health_check_duration_ms: Histogram<'service'>;
  veza_health_check_status: Gauge<'service'>;
  veza_tracks_uploaded_total: Counter;
  veza_commerce_orders_total: Counter<'status'>;
  veza_commerce_checkout_duration_seconds: Histogram;
  veza_users_registered_total: Counter;
  veza_playlists_created_total: Counter;
  veza_uploads_failed_total: Counter<'reason'>;
  veza_transfer_retry_total: Counter;
  veza_transfer_retry_success_total: Counter;
  veza_transfer_retry_failures_total: Counter;
  veza_transfer_retry_permanent_failures_total: Counter;
  veza_live_streams_active: Gauge;
  veza_live_stream_viewers_total: Gauge;
  veza_cache_hits_total: Counter<'subsystem'>;
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
  M['HttpRequestDuration'] | M['DatabaseQueryDuration'] | M['FileUploadSize'] | M['HealthCheckDuration'] | M['CommerceCheckoutDuration'];
