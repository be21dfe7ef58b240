export { CountLogin, type CountLoginOptions } from './count-login.decorator';
export { TrackSession } from './track-session.decorator';
export { TrackDbQuery, type TrackDbQueryOptions } from './track-db-query.decorator';
export {
  TrackUpload,
  uploadFailureReason,
  type TrackUploadOptions,
  type UploadFailureReason,
} from './track-upload.decorator';
export { CountTrackUploaded, CountUserRegistered, CountPlaylistCreated } from './count-success.decorator';
export { CountOrder, TimeCheckout, type CountOrderOptions } from './count-order.decorator';
export { TrackTransferRetry, type TrackTransferRetryOptions } from './track-transfer-retry.decorator';
export { TrackHealthCheck, type TrackHealthCheckOptions } from './track-health-check.decorator';
export { TrackLiveStream, TrackLiveViewers } from './track-live-stream.decorator';
export { CountCacheLookup, type CountCacheLookupOptions } from './count-cache-lookup.decorator';
export { CountErrors, type CountErrorsOptions } from './count-errors.decorator';
export {
  CountWebSocketMessage,
  type CountWebSocketMessageOptions,
} from './count-websocket-message.decorator';
export { CountRateLimitHit, type CountRateLimitHitOptions } from './count-rate-limit-hit.decorator';
export { GaugeSource, type GaugeSourceOptions, type VezaGaugeName } from './gauge-source.decorator';
export { Counted, type CountedOptions } from './counted.decorator';
export { Timed, type TimedOptions } from './timed.decorator';
export { InProgress, type InProgressOptions } from './in-progress.decorator';
export type { AppMetricOptions, CallInfo } from '../instrumentation/app-metric-options';
