import type { MetricsRegistry as Registry } from '../compat/client-types';
import type { VezaHistogramName } from '../catalog/catalog.types';
import type { PushgatewayOptions } from '../push/pushgateway-options';
import type { RpcMetricsOptions } from '../rpc/rpc-options';
import type { QueueMetricsOptions } from '../queues/queue-options';
import type { GraphqlMetricsOptions } from '../graphql/graphql-options';

/** How Node's default process metrics are collected. */
export interface DefaultMetricsOptions {
  /** Collect them at all. @defaultValue `true` */
  enabled?: boolean;
  /** A prefix for their names, e.g. `'veza_'`. @defaultValue `''` */
  prefix?: string;
}

/**
 * How HTTP requests are recorded into `veza_http_requests_total` and
 * `veza_http_request_duration_seconds` (with `veza_errors_total` for responses of 500 or more and
 * `veza_rate_limit_hits_total` for `@nestjs/throttler`'s 429s). Every response is recorded once, at
 * the adapter (Express or Fastify), with the status the client received; `endpoint` is the route
 * template (`/api/v1/tracks/:id`), `<unmatched>` for every request that matched no route.
 */
export interface HttpMetricsOptions {
  /** Record HTTP requests at all. @defaultValue `true` */
  enabled?: boolean;
  /**
   * Route templates not to record, whatever the method, as the router knows them (global prefix and
   * URI version included), e.g. `['/api/v1/health']`. The metrics path itself is never recorded. To
   * leave out a controller or one handler (for its method only), mark it `@NoMetrics()`.
   * @defaultValue `[]`
   */
  exclude?: string[];
}

/** Authentication that `/metrics` requires. Either scheme is accepted when both are set. */
export interface MetricsAuthOptions {
  /** `Authorization: Bearer <token>` (Prometheus' `authorization` / `bearer_token` scrape settings). */
  bearerToken?: string;
  /** `Authorization: Basic …` (Prometheus' `basic_auth` scrape setting). The user name has no `:`. */
  basic?: { username: string; password: string };
}

/** A listener of its own for `/metrics`, apart from the application's port. */
export interface MetricsServerOptions {
  /**
   * TCP port; `0` picks a free one. A string of decimal digits (`"9464"`, as `ConfigService` reads it
   * from the environment) is taken as that number; any other string is refused at start-up.
   */
  port: number | string;
  /** Address to bind. @defaultValue `'0.0.0.0'` */
  host?: string;
}

/** Limits that keep a scrape from stalling the application. */
export interface ScrapeOptions {
  /** Scrapes rendered at once; more are answered 503 at once. @defaultValue `2` */
  maxConcurrent?: number;
  /** A scrape's whole budget; metrics not collected by then are left out (and counted). @defaultValue `10000` */
  timeoutMs?: number;
  /** One scrape-time source's budget (a gauge's `collect`, a `@GaugeSource`). @defaultValue `3000` */
  collectTimeoutMs?: number;
  /**
   * Bytes of exposition held by scrapes being rendered or sent, all scrapes together (a single
   * exposition bigger than this is still served, alone). A scrape that would not fit is answered
   * 503 at once, without rendering, and counted in `veza_metrics_scrapes_rejected_total{reason="bytes_in_flight"}`.
   * @defaultValue `33554432` (32 MiB)
   */
  maxBytesInFlight?: number;
  /**
   * How long sending one exposition may take; past it the connection is destroyed, its buffers
   * released, and it is counted in `veza_metrics_scrapes_aborted_total{reason="send_timeout"}`.
   * @defaultValue `10000` (Prometheus' default `scrape_timeout`)
   */
  sendTimeoutMs?: number;
}

/** Caps on the number of label sets (series) a metric may hold. */
export interface CardinalityOptions {
  /**
   * The cap of every metric. Past it, new label sets are folded into one overflow series whose
   * labels are all `__overflow__`, so totals stay exact; the first overflow is logged and every
   * folded recording counted in `veza_metrics_series_overflow_total{metric}`.
   * @defaultValue `2000`
   */
  maxSeries?: number;
  /** Caps per metric name (as exposed), e.g. `{ veza_errors_total: 200 }`. */
  perMetric?: Record<string, number>;
}

/**
 * Options of {@link VezaMetricsModule}. Every key is optional; an unknown key, or a value of the
 * wrong shape, fails the application's start-up with a message that names it.
 */
export interface VezaMetricsModuleOptions {
  /**
   * Where the exposition is served, on the application's own HTTP server. It is an absolute path:
   * the global prefix does not apply (Prometheus scrapes `/metrics` by default).
   * @defaultValue `'/metrics'`
   */
  path?: string;
  /**
   * Node's default process metrics (`process_*`, `nodejs_*`): `true`, `false`, or `{ prefix }`.
   * @defaultValue `true`
   */
  defaultMetrics?: boolean | DefaultMetricsOptions;
  /**
   * Labels added to every series of the registry, e.g. `{ service: 'veza-api' }`.
   * @defaultValue `{}`
   */
  defaultLabels?: Record<string, string>;
  /**
   * Bring your own `Registry`, of prom-client (^15) or of `@prometheus-io/client` (^0.16): the
   * library then works with that registry's client, and your own metrics in it appear on the same
   * `/metrics`. By default every application gets a registry of its own (of prom-client when it is
   * installed, else of `@prometheus-io/client`), so two applications in one process (or fifty test
   * runs) never share counts nor clash.
   */
  registry?: Registry;
  /**
   * Bucket overrides per catalog histogram, e.g. `{ veza_http_request_duration_seconds: [0.01, 0.1, 1] }`.
   * Boundaries are strictly increasing finite numbers. Under `naming: 'strict'` the health check
   * histogram is in seconds, and its buckets too.
   */
  buckets?: Partial<Record<VezaHistogramName, number[]>>;
  /**
   * The `status` label of `veza_http_requests_total`: the class (`'2xx'`) or the code (`'404'`).
   * @defaultValue `'class'`
   */
  statusLabel?: 'class' | 'code';
  /**
   * `'seed'` keeps the catalog's names exactly (what existing dashboards query); `'strict'` renames
   * the two that break Prometheus' naming rules (`veza_health_check_duration_seconds`, observed in
   * seconds, and `veza_live_stream_viewers`), so that `promtool check metrics` finds nothing.
   * (prom-client's default gauges named `*_total` are left out in both modes.)
   * @defaultValue `'seed'`
   */
  naming?: 'seed' | 'strict';
  /** HTTP request recording. `false` turns it off. @defaultValue `true` */
  http?: boolean | HttpMetricsOptions;
  /**
   * Serve `/metrics` on the application's own HTTP server. It stays `true` when `metricsServer` is
   * set: `/metrics` is then served on both ports (logged once at start-up while `appEndpoint` is left
   * unset); set it to `false` to keep metrics off the application's port. `false` with neither
   * `metricsServer` nor `pushgateway` (nor a cluster primary to answer) serves the metrics nowhere,
   * which is logged as a warning at start-up.
   * @defaultValue `true`
   */
  appEndpoint?: boolean;
  /**
   * Serve `/metrics` on a listener of its own (e.g. `{ port: 9464 }`), with the same path and auth.
   * The application's port serves it too unless `appEndpoint: false`.
   */
  metricsServer?: MetricsServerOptions;
  /** Require a bearer token or basic credentials on `/metrics` (compared in constant time). */
  auth?: MetricsAuthOptions;
  /** Scrape limits: concurrency, whole-scrape and per-source timeouts. */
  scrape?: ScrapeOptions;
  /**
   * Push the metrics to a Prometheus Pushgateway, for batch jobs and cron workers that live shorter
   * than a scrape interval: periodically (`intervalMs`) and once more on shutdown.
   * @defaultValue no push
   */
  pushgateway?: PushgatewayOptions;
  /**
   * In a Node `cluster` worker, answer the primary's `ClusterMetricsAggregator` (or
   * `serveClusterMetrics`) with this application's metrics, so the primary serves their sum.
   * Nothing happens in a process that is not a cluster worker.
   * @defaultValue `true`
   */
  cluster?: boolean;
  /**
   * Microservice handlers (`@MessagePattern`, `@EventPattern`) of every transport, standalone and
   * hybrid: `veza_rpc_server_requests_total` and `veza_rpc_server_duration_seconds` (docs/rpc.md).
   * `false` records nothing and hooks nothing.
   * @defaultValue `true`
   */
  rpc?: boolean | RpcMetricsOptions;
  /**
   * `@nestjs/bullmq` processors and queues: `veza_queue_jobs_total`, `veza_queue_job_duration_seconds`
   * and `veza_queue_jobs` (docs/rpc.md#queues-nestjsbullmq). `false` records nothing and hooks nothing.
   * @defaultValue `true`
   */
  queues?: boolean | QueueMetricsOptions;
  /**
   * GraphQL (`@nestjs/graphql`, Apollo and Mercurius drivers): `veza_graphql_operations_total`,
   * `veza_graphql_operation_duration_seconds`, `veza_graphql_resolver_duration_seconds` and
   * `veza_graphql_resolver_errors_total` (docs/graphql.md). `false` turns it off.
   * @defaultValue `true`
   */
  graphql?: boolean | GraphqlMetricsOptions;
  /** Caps on label sets per metric: bounded memory and scrape size whatever the labels. */
  cardinality?: CardinalityOptions;
  /**
   * Exemplars on `veza_http_request_duration_seconds`: when `@opentelemetry/api` is installed and a
   * span is active for the request, its `trace_id` and `span_id` are attached to the observation,
   * and shown to scrapers that ask for OpenMetrics (Prometheus with `--enable-feature=exemplar-storage`).
   * @defaultValue `true` (inert without `@opentelemetry/api`)
   */
  exemplars?: boolean;
}
