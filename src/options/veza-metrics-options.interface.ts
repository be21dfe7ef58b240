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
