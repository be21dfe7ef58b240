import type { Registry } from 'prom-client';
import type { VezaHistogramName } from '../catalog/catalog.types';

/** How Node's default process metrics are collected. */
export interface DefaultMetricsOptions {
  /** Collect them at all. @defaultValue `true` */
  enabled?: boolean;
  /** A prefix for their names, e.g. `'veza_'`. @defaultValue `''` */
  prefix?: string;
}

/** How HTTP requests are recorded into `veza_http_requests_total` and `veza_http_request_duration_seconds`. */
export interface HttpMetricsOptions {
  /** Record HTTP requests at all. @defaultValue `true` */
  enabled?: boolean;
  /**
   * Route templates not to record, as the router knows them (global prefix included), e.g.
   * `['/api/health']`. The metrics path itself is never recorded.
   * @defaultValue `[]`
   */
  exclude?: string[];
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
   * Bring your own prom-client `Registry`. By default every application gets a registry of its own,
   * so two applications in one process (or fifty test runs) never share counts nor clash.
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
   * seconds, and `veza_live_stream_viewers`) and drops prom-client's default gauges named `*_total`,
   * so that `promtool check metrics` finds nothing.
   * @defaultValue `'seed'`
   */
  naming?: 'seed' | 'strict';
  /** HTTP request recording. `false` turns it off. @defaultValue `true` */
  http?: boolean | HttpMetricsOptions;
}
