/**
 * The Veza metric catalog, as data. Names, types, help strings, label names and buckets are a
 * contract with existing dashboards: they are copied from the seed (`internal/monitoring/metrics.go`)
 * and must not change.
 */

/** The kinds of metric the catalog uses. */
export type VezaMetricKind = 'counter' | 'gauge' | 'histogram';

/** One row of the catalog. */
export interface VezaMetricDefinition {
  /** The name under `naming: 'seed'` (the default), and the injection token in every mode. */
  readonly name: string;
  /** Counter, gauge or histogram. */
  readonly kind: VezaMetricKind;
  /** The `# HELP` text, the seed's. */
  readonly help: string;
  /** The label names, in the seed's order. */
  readonly labelNames: readonly string[];
  /** A histogram's bucket bounds (the `buckets` option overrides them); absent for other kinds. */
  readonly buckets?: readonly number[];
  /** Present where the seed's name breaks Prometheus' naming rules: what `naming: 'strict'` uses. */
  readonly strict?: {
    readonly name: string;
    readonly help?: string;
    /** Multiplies observed values and bucket bounds (milliseconds to seconds: 0.001). */
    readonly scale?: number;
  };
}

/** `ExponentialBuckets(1024, 2, 15)`: 1 KiB to 16 MiB. */
const UPLOAD_SIZE_BUCKETS = Array.from({ length: 15 }, (_, k) => 1024 * 2 ** k);

/**
 * The names of every catalog metric, so that no one types a name by hand.
 *
 * @example
 * ```ts
 * constructor(@InjectMetric(VezaMetric.LoginAttempts) private readonly logins: VezaMetricOf<typeof VezaMetric.LoginAttempts>) {}
 * ```
 */
export const VezaMetric = {
  HttpRequestsTotal: 'veza_http_requests_total',
  HttpRequestDuration: 'veza_http_request_duration_seconds',
  LoginAttempts: 'veza_auth_login_attempts_total',
  SessionsActive: 'veza_auth_sessions_active',
  DatabaseQueryDuration: 'veza_database_query_duration_seconds',
  DatabaseConnectionsActive: 'veza_database_connections_active',
  DatabaseQueryErrors: 'veza_database_query_errors_total',
  FileUploads: 'veza_file_uploads_total',
  FileUploadSize: 'veza_file_upload_size_bytes',
  RateLimitHits: 'veza_rate_limit_hits_total',
  ActiveUsers: 'veza_active_users',
  WebSocketConnectionsActive: 'veza_websocket_connections_active',
  WebSocketMessages: 'veza_websocket_messages_total',
  Errors: 'veza_errors_total',
  HealthCheckDuration: 'veza_health_check_duration_ms',
  HealthCheckStatus: 'veza_health_check_status',
  TracksUploaded: 'veza_tracks_uploaded_total',
  CommerceOrders: 'veza_commerce_orders_total',
  CommerceCheckoutDuration: 'veza_commerce_checkout_duration_seconds',
  UsersRegistered: 'veza_users_registered_total',
  PlaylistsCreated: 'veza_playlists_created_total',
  UploadsFailed: 'veza_uploads_failed_total',
  TransferRetries: 'veza_transfer_retry_total',
  TransferRetrySuccesses: 'veza_transfer_retry_success_total',
  TransferRetryFailures: 'veza_transfer_retry_failures_total',
  TransferRetryPermanentFailures: 'veza_transfer_retry_permanent_failures_total',
  LiveStreamsActive: 'veza_live_streams_active',
  LiveStreamViewers: 'veza_live_stream_viewers_total',
  CacheHits: 'veza_cache_hits_total',
  CacheMisses: 'veza_cache_misses_total',
} as const;

/** The name of a catalog metric. */
export type VezaMetricName = (typeof VezaMetric)[keyof typeof VezaMetric];

const M = VezaMetric;

/**
 * Every catalog metric, in the catalog's order (rows 1 to 30): name, kind, help, label names,
 * buckets, and the strict name where the seed's breaks Prometheus' rules. For code that lists the
 * catalog: dashboards, alert rules, documentation.
 *
 * @example
 * ```ts
 * const histograms = VEZA_CATALOG.filter((m) => m.kind === 'histogram').map((m) => m.name);
 * ```
 */
export const VEZA_CATALOG: readonly VezaMetricDefinition[] = [
  {
    name: M.HttpRequestsTotal,
    kind: 'counter',
    help: 'Total number of HTTP requests',
    labelNames: ['method', 'endpoint', 'status'],
  },
  {
    name: M.HttpRequestDuration,
    kind: 'histogram',
    help: 'HTTP request duration in seconds',
    labelNames: ['method', 'endpoint'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  },
  { name: M.LoginAttempts, kind: 'counter', help: 'Total number of login attempts', labelNames: ['success'] },
  { name: M.SessionsActive, kind: 'gauge', help: 'Number of active sessions', labelNames: [] },
  {
    name: M.DatabaseQueryDuration,
    kind: 'histogram',
    help: 'Database query duration in seconds',
    labelNames: ['operation', 'table'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
  },
  {
    name: M.DatabaseConnectionsActive,
    kind: 'gauge',
    help: 'Number of active database connections',
    labelNames: [],
  },
  {
    name: M.DatabaseQueryErrors,
    kind: 'counter',
    help: 'Total number of database query errors',
    labelNames: ['operation', 'error_type'],
  },
  {
    name: M.FileUploads,
    kind: 'counter',
    help: 'Total number of file uploads',
    labelNames: ['type', 'status'],
  },
  {
    name: M.FileUploadSize,
    kind: 'histogram',
    help: 'File upload size in bytes',
    labelNames: ['type'],
    buckets: UPLOAD_SIZE_BUCKETS,
  },
  {
    name: M.RateLimitHits,
    kind: 'counter',
    help: 'Total number of rate limit hits',
    labelNames: ['endpoint', 'limit_type'],
  },
  { name: M.ActiveUsers, kind: 'gauge', help: 'Number of active users', labelNames: [] },
  {
    name: M.WebSocketConnectionsActive,
    kind: 'gauge',
    help: 'Number of active WebSocket connections',
    labelNames: [],
  },
  {
    name: M.WebSocketMessages,
    kind: 'counter',
    help: 'Total number of WebSocket messages',
    labelNames: ['type', 'status'],
  },
  { name: M.Errors, kind: 'counter', help: 'Total number of errors', labelNames: ['type', 'severity'] },
  {
    name: M.HealthCheckDuration,
    kind: 'histogram',
    help: 'Health check duration in milliseconds',
    labelNames: ['service'],
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000],
    strict: {
      name: 'veza_health_check_duration_seconds',
      help: 'Health check duration in seconds',
      scale: 0.001,
    },
  },
  {
    name: M.HealthCheckStatus,
    kind: 'gauge',
    help: 'Health check status (1=ok, 0.5=slow, 0=error)',
    labelNames: ['service'],
  },
  { name: M.TracksUploaded, kind: 'counter', help: 'Total number of tracks uploaded', labelNames: [] },
  {
    name: M.CommerceOrders,
    kind: 'counter',
    help: 'Total number of commerce orders created',
    labelNames: ['status'],
  },
  {
    name: M.CommerceCheckoutDuration,
    kind: 'histogram',
    help: 'Checkout (cart to order) duration in seconds',
    labelNames: [],
    buckets: [0.1, 0.25, 0.5, 1, 2, 5],
  },
  { name: M.UsersRegistered, kind: 'counter', help: 'Total number of users registered', labelNames: [] },
  { name: M.PlaylistsCreated, kind: 'counter', help: 'Total number of playlists created', labelNames: [] },
  { name: M.UploadsFailed, kind: 'counter', help: 'Total number of failed uploads', labelNames: ['reason'] },
  {
    name: M.TransferRetries,
    kind: 'counter',
    help: 'Total number of transfer retry attempts',
    labelNames: [],
  },
  {
    name: M.TransferRetrySuccesses,
    kind: 'counter',
    help: 'Total number of successful transfer retries',
    labelNames: [],
  },
  {
    name: M.TransferRetryFailures,
    kind: 'counter',
    help: 'Total number of failed transfer retries',
    labelNames: [],
  },
  {
    name: M.TransferRetryPermanentFailures,
    kind: 'counter',
    help: 'Total number of permanently failed transfers (max retries exceeded)',
    labelNames: [],
  },
  {
    name: M.LiveStreamsActive,
    kind: 'gauge',
    help: 'Number of currently active live streams',
    labelNames: [],
  },
  {
    name: M.LiveStreamViewers,
    kind: 'gauge',
    help: 'Total number of viewers across all active live streams',
    labelNames: [],
    strict: { name: 'veza_live_stream_viewers' },
  },
  // The seed does not show these two (moved to a cache_hit_rate file); help written here.
  { name: M.CacheHits, kind: 'counter', help: 'Total number of cache hits', labelNames: ['subsystem'] },
  { name: M.CacheMisses, kind: 'counter', help: 'Total number of cache misses', labelNames: ['subsystem'] },
];

/** The catalog row of a metric name (seed or strict), or `undefined`. */
export function findCatalogEntry(name: string): VezaMetricDefinition | undefined {
  return VEZA_CATALOG.find((d) => d.name === name || d.strict?.name === name);
}
