export { VezaMetric, VEZA_CATALOG, findCatalogEntry } from './catalog/catalog';
export type { VezaMetricDefinition, VezaMetricKind, VezaMetricName } from './catalog/catalog';
export type { VezaMetricOf, VezaMetricTypes, VezaHistogramName } from './catalog/catalog.types';
export { InjectMetric, getMetricToken } from './inject-metric.decorator';
export { VezaMetricsModule } from './veza-metrics.module';
export { VEZA_METRICS_OPTIONS } from './veza-metrics.module-definition';
export type { VezaMetricsModuleOptions, DefaultMetricsOptions, HttpMetricsOptions } from './options/veza-metrics-options.interface';
export { VezaMetricsRegistry } from './registry/veza-metrics.registry';
export { VezaMetricsService } from './veza-metrics.service';
export type { HealthCheckStatus } from './veza-metrics.service';
export { UNMATCHED_ENDPOINT, OTHER_METHOD, CLIENT_CLOSED_STATUS } from './http/http-metrics.recorder';
export { NoMetrics } from './http/no-metrics.decorator';
export { VezaMetricsInterceptor } from './http/veza-metrics.interceptor';
export { OTHER_ERROR_TYPE, NO_EXCEPTION_ERROR_TYPE, MAX_EXTRA_ERROR_TYPES } from './http/error-labels';
export { DEFAULT_LIMIT_TYPE } from './http/rate-limit';
export { statusLabelOf } from './http/status-label';
export { MetricsServer } from './endpoint/metrics-server';
export type { MetricsAuthOptions, MetricsServerOptions, ScrapeOptions } from './options/veza-metrics-options.interface';
export {
  CountLogin,
  TrackSession,
  TrackDbQuery,
  TrackUpload,
  uploadFailureReason,
  CountTrackUploaded,
  CountUserRegistered,
  CountPlaylistCreated,
  CountOrder,
  TimeCheckout,
  TrackTransferRetry,
  TrackHealthCheck,
  TrackLiveStream,
  TrackLiveViewers,
  CountCacheLookup,
  CountErrors,
  CountWebSocketMessage,
  CountRateLimitHit,
  GaugeSource,
  Counted,
  Timed,
  InProgress,
} from './decorators';
export type {
  CountLoginOptions,
  TrackDbQueryOptions,
  TrackUploadOptions,
  UploadFailureReason,
  CountOrderOptions,
  TrackTransferRetryOptions,
  TrackHealthCheckOptions,
  CountCacheLookupOptions,
  CountErrorsOptions,
  CountWebSocketMessageOptions,
  CountRateLimitHitOptions,
  GaugeSourceOptions,
  VezaGaugeName,
  CountedOptions,
  TimedOptions,
  InProgressOptions,
  AppMetricOptions,
  CallInfo,
} from './decorators';
export { INSTRUMENTATION_ERRORS } from './explorer/metrics-explorer';
export { MetricsPusher } from './push/metrics-pusher';
export type { PushgatewayOptions } from './push/pushgateway-options';
export { ClusterMetricsAggregator } from './cluster/cluster-aggregator';
export type { ClusterAggregator, ClusterMetricsOptions } from './cluster/cluster-aggregator';
export { serveClusterMetrics } from './cluster/serve-cluster-metrics';
export type { ClusterMetricsServer, ClusterMetricsServerOptions } from './cluster/serve-cluster-metrics';
