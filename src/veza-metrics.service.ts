import { Injectable, Logger } from '@nestjs/common';
import { VezaMetric } from './catalog/catalog';
import { InjectVezaMetricsOptions } from './options/inject-options';
import type { ResolvedOptions } from './options/resolve-options';
import { CatalogDefinitions } from './registry/catalog-definitions';
import { VezaMetricsRegistry } from './registry/veza-metrics.registry';
import { statusLabelOf } from './http/status-label';
import { recordingFailed } from './veza-metrics.messages';

/** Health check status as the seed's `RecordHealthCheck` takes it: `ok` → 1, `slow` → 0.5, anything else → 0. */
export type HealthCheckStatus = 'ok' | 'slow' | 'error' | (string & {});

const HEALTH_STATUS_VALUE: Readonly<Record<string, number>> = { ok: 1, slow: 0.5, error: 0 };

/**
 * The seed's helper functions (`RecordLoginAttempt`, `RecordFileUpload`, …), camel-cased, plus
 * helpers for the catalog metrics the seed writes without one. Each has the same effect on the
 * exposition as its Go function, with the seed's defects fixed (the HTTP status is `2xx`, not
 * U+0002). A helper never throws into the caller: a failure is logged once per helper and skipped.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class AuthService {
 *   constructor(private readonly metrics: VezaMetricsService) {}
 *   async login(email: string, password: string) {
 *     const ok = await this.check(email, password);
 *     this.metrics.recordLoginAttempt(ok);
 *     return ok;
 *   }
 * }
 * ```
 */
@Injectable()
export class VezaMetricsService {
  private readonly logger = new Logger('VezaMetrics');
  private readonly failedOnce = new Set<string>();

  /** @internal Nest's injector builds it; the module provides it. */
  constructor(
    private readonly metrics: VezaMetricsRegistry,
    private readonly definitions: CatalogDefinitions,
    @InjectVezaMetricsOptions() private readonly options: ResolvedOptions,
  ) {}

  /** `HTTPMetricsMiddleware`: one request of `method` on the route template `endpoint`, answered `statusCode` after `seconds`. */
  recordHttpRequest(method: string, endpoint: string, statusCode: number, seconds: number): void {
    this.safely('recordHttpRequest', () => {
      const m = this.metrics;
      m.get(VezaMetric.HttpRequestsTotal).inc({
        method,
        endpoint,
        status: statusLabelOf(statusCode, this.options.statusLabel),
      });
      m.get(VezaMetric.HttpRequestDuration).observe({ method, endpoint }, seconds);
    });
  }

  /** `RecordLoginAttempt`: `success="success"` or `success="failure"`. */
  recordLoginAttempt(success: boolean): void {
    this.safely('recordLoginAttempt', () =>
      this.metrics.get(VezaMetric.LoginAttempts).inc({ success: success ? 'success' : 'failure' }),
    );
  }

  /** `UpdateActiveSessions`: sets `veza_auth_sessions_active`. */
  updateActiveSessions(count: number): void {
    this.safely('updateActiveSessions', () => this.metrics.get(VezaMetric.SessionsActive).set(count));
  }

  /** `RecordDatabaseQuery`: observes one query of `seconds` in `veza_database_query_duration_seconds`. */
  recordDatabaseQuery(operation: string, table: string, seconds: number): void {
    this.safely('recordDatabaseQuery', () =>
      this.metrics.get(VezaMetric.DatabaseQueryDuration).observe({ operation, table }, seconds),
    );
  }

  /** `RecordDatabaseError`: counts one failed query. */
  recordDatabaseError(operation: string, errorType: string): void {
    this.safely('recordDatabaseError', () =>
      this.metrics.get(VezaMetric.DatabaseQueryErrors).inc({ operation, error_type: errorType }),
    );
  }

  /** Sets `veza_database_connections_active` (the seed leaves it to the pool owner). */
  updateDatabaseConnections(count: number): void {
    this.safely('updateDatabaseConnections', () =>
      this.metrics.get(VezaMetric.DatabaseConnectionsActive).set(count),
    );
  }

  /** `RecordFileUpload`: counts the upload by type and status, and observes its size in bytes. */
  recordFileUpload(type: string, status: string, sizeBytes: number): void {
    this.safely('recordFileUpload', () => {
      this.metrics.get(VezaMetric.FileUploads).inc({ type, status });
      this.metrics.get(VezaMetric.FileUploadSize).observe({ type }, sizeBytes);
    });
  }

  /** `RecordRateLimitHit`: one request refused by the limiter `limitType` on `endpoint`. */
  recordRateLimitHit(endpoint: string, limitType: string): void {
    this.safely('recordRateLimitHit', () =>
      this.metrics.get(VezaMetric.RateLimitHits).inc({ endpoint, limit_type: limitType }),
    );
  }

  /** `UpdateActiveUsers`: sets `veza_active_users`. */
  updateActiveUsers(count: number): void {
    this.safely('updateActiveUsers', () => this.metrics.get(VezaMetric.ActiveUsers).set(count));
  }

  /** `UpdateWebSocketConnections`: sets `veza_websocket_connections_active`. */
  updateWebSocketConnections(count: number): void {
    this.safely('updateWebSocketConnections', () =>
      this.metrics.get(VezaMetric.WebSocketConnectionsActive).set(count),
    );
  }

  /** `RecordWebSocketMessage`: one message of `messageType` handled with `status`. */
  recordWebSocketMessage(messageType: string, status: string): void {
    this.safely('recordWebSocketMessage', () =>
      this.metrics.get(VezaMetric.WebSocketMessages).inc({ type: messageType, status }),
    );
  }

  /** `RecordError`: one error of `errorType` with `severity`. */
  recordError(errorType: string, severity: string): void {
    this.safely('recordError', () => this.metrics.get(VezaMetric.Errors).inc({ type: errorType, severity }));
  }

  /**
   * `RecordHealthCheck`: observes the check's duration (given in milliseconds, as in the seed; exposed
   * in seconds under `naming: 'strict'`) and sets its status gauge: `ok` 1, `slow` 0.5, anything else 0.
   */
  recordHealthCheck(service: string, durationMs: number, status: HealthCheckStatus): void {
    this.safely('recordHealthCheck', () => {
      const scale = this.definitions.of(VezaMetric.HealthCheckDuration).scale;
      this.metrics.get(VezaMetric.HealthCheckDuration).observe({ service }, durationMs * scale);
      this.metrics
        .get(VezaMetric.HealthCheckStatus)
        .set({ service }, Object.hasOwn(HEALTH_STATUS_VALUE, status) ? HEALTH_STATUS_VALUE[status] : 0);
    });
  }

  /** `RecordTrackUploaded`. */
  recordTrackUploaded(): void {
    this.safely('recordTrackUploaded', () => this.metrics.get(VezaMetric.TracksUploaded).inc());
  }

  /** Counts one commerce order created with `status` (e.g. `completed`, `pending`, `failed`). */
  recordCommerceOrder(status: string): void {
    this.safely('recordCommerceOrder', () => this.metrics.get(VezaMetric.CommerceOrders).inc({ status }));
  }

  /** Observes one checkout (cart to order) of `seconds`. */
  recordCheckoutDuration(seconds: number): void {
    this.safely('recordCheckoutDuration', () =>
      this.metrics.get(VezaMetric.CommerceCheckoutDuration).observe(seconds),
    );
  }

  /** `RecordUserRegistered`. */
  recordUserRegistered(): void {
    this.safely('recordUserRegistered', () => this.metrics.get(VezaMetric.UsersRegistered).inc());
  }

  /** `RecordPlaylistCreated`. */
  recordPlaylistCreated(): void {
    this.safely('recordPlaylistCreated', () => this.metrics.get(VezaMetric.PlaylistsCreated).inc());
  }

  /** `RecordUploadFailed`: one failed upload, with a bounded `reason` such as `ClamAV`, `validation` or `quota`. */
  recordUploadFailed(reason: string): void {
    this.safely('recordUploadFailed', () => this.metrics.get(VezaMetric.UploadsFailed).inc({ reason }));
  }

  /** `RecordTransferRetry`: one retry attempt. */
  recordTransferRetry(): void {
    this.safely('recordTransferRetry', () => this.metrics.get(VezaMetric.TransferRetries).inc());
  }

  /** `RecordTransferRetrySuccess`. */
  recordTransferRetrySuccess(): void {
    this.safely('recordTransferRetrySuccess', () =>
      this.metrics.get(VezaMetric.TransferRetrySuccesses).inc(),
    );
  }

  /** `RecordTransferRetryFailure`. */
  recordTransferRetryFailure(): void {
    this.safely('recordTransferRetryFailure', () => this.metrics.get(VezaMetric.TransferRetryFailures).inc());
  }

  /** `RecordTransferRetryPermanent`: a transfer that exceeded its retries. */
  recordTransferRetryPermanent(): void {
    this.safely('recordTransferRetryPermanent', () =>
      this.metrics.get(VezaMetric.TransferRetryPermanentFailures).inc(),
    );
  }

  /** Sets `veza_live_streams_active`. */
  updateLiveStreams(count: number): void {
    this.safely('updateLiveStreams', () => this.metrics.get(VezaMetric.LiveStreamsActive).set(count));
  }

  /** Sets the viewers across all active live streams (`veza_live_stream_viewers_total`, or `veza_live_stream_viewers` under strict naming). */
  updateLiveStreamViewers(count: number): void {
    this.safely('updateLiveStreamViewers', () => this.metrics.get(VezaMetric.LiveStreamViewers).set(count));
  }

  /** `RecordCacheHit`: one hit in the cache `subsystem`. */
  recordCacheHit(subsystem: string): void {
    this.safely('recordCacheHit', () => this.metrics.get(VezaMetric.CacheHits).inc({ subsystem }));
  }

  /** `RecordCacheMiss`: one miss in the cache `subsystem`. */
  recordCacheMiss(subsystem: string): void {
    this.safely('recordCacheMiss', () => this.metrics.get(VezaMetric.CacheMisses).inc({ subsystem }));
  }

  private safely(helper: string, record: () => void): void {
    try {
      record();
    } catch (error) {
      if (this.failedOnce.has(helper)) return;
      this.failedOnce.add(helper);
      this.logger.warn(recordingFailed(`VezaMetricsService#${helper}`, error));
    }
  }
}
