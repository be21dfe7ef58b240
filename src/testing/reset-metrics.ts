import { metricsOf, type MetricsHost } from './metric-value';

/**
 * Zeroes every metric of the application's own registry, e.g. in a `beforeEach`: counters,
 * histograms and summaries lose their series (a counter without labels reads 0), gauges go back
 * to 0 (a labelled gauge loses its series). The catalog, your own metrics and the library's
 * `veza_metrics_*` self-metrics alike; the metrics stay registered and keep recording.
 *
 * Node's default process metrics are reset too, but they are measured again on every read: the
 * gauges show the current value at once, and the CPU counters count again from zero.
 *
 * The clients' global registries (metrics of `@willsoto/nestjs-prometheus`'s `make*Provider`) are
 * shared by every application of the process and are left alone: call `register.resetMetrics()`
 * of the client for them. A registry you gave with the `registry` option is reset in full, since it is the app's.
 *
 * @example
 * ```ts
 * beforeEach(() => resetMetrics(app));
 * ```
 */
export function resetMetrics(app: MetricsHost): void {
  metricsOf(app, 'resetMetrics').registry.resetMetrics();
}
