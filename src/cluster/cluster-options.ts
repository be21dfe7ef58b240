import type { MetricAggregator as Aggregator } from '../compat/client-types';
import { invalidClusterOption, unknownClusterOption } from '../veza-metrics.messages';
import { checkKeys, isPlainObject } from '../options/option-checks';

/** How a metric's series of several workers are merged into one (prom-client's aggregators). */
export type ClusterAggregator = Aggregator;

/** Options of `ClusterMetricsAggregator`. */
export interface ClusterMetricsOptions {
  /**
   * How long one scrape waits for each worker's metrics. A worker that does not answer in time
   * (a blocked event loop) is counted in `veza_metrics_cluster_worker_timeouts_total`, shown as
   * `veza_metrics_cluster_worker_up{worker="<slot>"} 0`, and its last answer is used instead: the
   * scrape neither hangs nor sees its counters go back. A worker leaves out of its answer each
   * scrape-time source slower than three quarters of this (or than its `scrape.collectTimeoutMs`).
   * @defaultValue `2000`
   */
  timeoutMs?: number;
  /**
   * How to merge a metric across workers, by metric name: `'sum'` (prom-client's default for every
   * metric that does not say otherwise), `'min'`, `'max'`, `'average'`, `'first'` or `'omit'`.
   * @defaultValue `{ veza_health_check_status: 'min' }` (the worst status any worker sees)
   */
  aggregators?: Record<string, ClusterAggregator>;
}

/** {@link ClusterMetricsOptions} after validation, with the defaults filled in. */
export interface ResolvedClusterMetricsOptions {
  readonly timeoutMs: number;
  readonly aggregators: Readonly<Record<string, ClusterAggregator>>;
}

const KNOWN_KEYS = ['timeoutMs', 'aggregators'];
const AGGREGATORS: readonly ClusterAggregator[] = ['sum', 'min', 'max', 'average', 'first', 'omit'];
const DEFAULT_AGGREGATORS: Readonly<Record<string, ClusterAggregator>> = { veza_health_check_status: 'min' };

/** Validates the aggregation options (shared with `serveClusterMetrics`, whose own keys are `extraKeys`). */
export function resolveClusterMetricsOptions(
  value: unknown,
  extraKeys: readonly string[] = [],
): ResolvedClusterMetricsOptions {
  const options = value ?? {};
  if (!isPlainObject(options)) throw new Error(invalidClusterOption('options', 'a plain object', options));
  checkKeys('', options, [...KNOWN_KEYS, ...extraKeys], unknownClusterOption);
  const timeoutMs = options.timeoutMs ?? 2_000;
  if (
    typeof timeoutMs !== 'number' ||
    !Number.isInteger(timeoutMs) ||
    timeoutMs <= 0 ||
    timeoutMs > 2_147_483_647
  ) {
    throw new Error(invalidClusterOption('timeoutMs', 'a positive whole number of milliseconds', timeoutMs));
  }
  const given = options.aggregators ?? {};
  if (!isPlainObject(given))
    throw new Error(invalidClusterOption('aggregators', 'an object of metric names to aggregators', given));
  for (const [name, aggregator] of Object.entries(given)) {
    if (!AGGREGATORS.includes(aggregator as ClusterAggregator)) {
      throw new Error(
        invalidClusterOption(
          `aggregators.${name}`,
          `one of ${AGGREGATORS.map((a) => `"${a}"`).join(', ')}`,
          aggregator,
        ),
      );
    }
  }
  return {
    timeoutMs,
    aggregators: { ...DEFAULT_AGGREGATORS, ...(given as Record<string, ClusterAggregator>) },
  };
}
