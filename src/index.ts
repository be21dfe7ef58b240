/**
 * `@veza/nestjs-metrics`: the Veza Prometheus metric catalog for NestJS. Every export below is part
 * of the public API, documented in docs/ and in the API reference (docs/api/); etc/nestjs-metrics.api.md
 * records its shape, so that a change shows in review (`npm run api:update`).
 *
 * @packageDocumentation
 */
export { VezaMetric, VEZA_CATALOG } from './catalog/catalog';
export type { VezaMetricDefinition, VezaMetricKind, VezaMetricName } from './catalog/catalog';
export type { VezaMetricOf, VezaMetricTypes, VezaHistogramName } from './catalog/catalog.types';
export { InjectMetric, getMetricToken } from './inject-metric.decorator';
export { VezaMetricsModule } from './veza-metrics.module';
export { VezaMetricsConfigurableModule } from './veza-metrics.module-definition';
export type { VezaMetricsModuleOptions } from './veza-metrics.options';
export type {
  DefaultMetricsOptions,
  HttpMetricsOptions,
  CardinalityOptions,
} from './options/veza-metrics-options.interface';
export { VezaMetricsRegistry } from './registry/veza-metrics.registry';
export type { RenderLimits } from './exposition/metrics-exposition';
export type {
  AnyMetric,
  CounterMetric,
  GaugeMetric,
  HistogramMetric,
  SummaryMetric,
  MetricsRegistry,
  LabelValues,
  MetricAggregator,
  MetricSnapshot,
  MetricSample,
  MetricChild,
  ExemplarRecording,
} from './compat/client-types';
export type { ExpositionFormat, CollectFailure } from './exposition/render-exposition';
export { VezaMetricsService } from './veza-metrics.service';
export type { HealthCheckStatus } from './veza-metrics.service';
export {
  UNMATCHED_ENDPOINT,
  OTHER_METHOD,
  CLIENT_CLOSED_STATUS,
  PREFLIGHT_ENDPOINT,
} from './http/http-metrics.recorder';
export { NoMetrics } from './http/no-metrics.decorator';
export { OTHER_ERROR_TYPE, NO_EXCEPTION_ERROR_TYPE } from './http/error-labels';
export { DEFAULT_LIMIT_TYPE } from './http/rate-limit';
export { GraphqlMetric } from './graphql/graphql-families';
export {
  ANONYMOUS_OPERATION,
  OTHER_OPERATION_NAME,
  UNKNOWN_OPERATION_TYPE,
} from './graphql/operation-series';
export type { GraphqlOutcome } from './graphql/operation-series';
export type { GraphqlMetricsOptions } from './graphql/graphql-options';
export type { RpcMetricsOptions } from './rpc/rpc-options';
export type { QueueMetricsOptions } from './queues/queue-options';
export type { CacheMetricsOptions } from './cache/cache-options';
export type { HealthMetricsOptions } from './health/health-options';
export type { NativeHistogramOptions } from './native/native-histogram';
export type { OutboundMetricsOptions } from './outbound/outbound-options';
export { OutboundMetric, NO_RESPONSE_STATUS, OTHER_HOST } from './outbound/outbound-labels';
export type { DatabaseMetricsOptions } from './database/database-options';
export { RpcMetric } from './rpc/rpc-labels';
export type { RpcKind, RpcOutcome } from './rpc/rpc-labels';
export { QueueMetric, QUEUE_STATES } from './queues/queue-labels';
export type { QueueJobOutcome, QueueState } from './queues/queue-labels';
export { MetricsServer } from './endpoint/metrics-server';
export type {
  MetricsAuthOptions,
  MetricsServerOptions,
  ScrapeOptions,
} from './options/veza-metrics-options.interface';
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
export type { AnyArgs, AnyResult } from './instrumentation/loose-types';
export { MetricsPusher } from './push/metrics-pusher';
export type { PushFormat, PushgatewayOptions } from './push/pushgateway-options';
export { RemoteWriter } from './push/remote-writer';
export type { RemoteWriteOptions, RemoteWriteAuth } from './push/remote-write-options';
export { ClusterMetricsAggregator } from './cluster/cluster-aggregator';
export type { ClusterAggregator, ClusterMetricsOptions } from './cluster/cluster-aggregator';
export type { Pm2MetricsOptions } from './pm2/pm2-options';
export { serveClusterMetrics } from './cluster/serve-cluster-metrics';
export type { ClusterMetricsServer, ClusterMetricsServerOptions } from './cluster/serve-cluster-metrics';
