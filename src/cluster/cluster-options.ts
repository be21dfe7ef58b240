import type { MetricAggregator as Aggregator } from '../compat/client-types';
import { invalidClusterOption, unknownClusterOption } from '../veza-metrics.messages';
import {
  boolean,
  defaulted,
  delay,
  integer,
  MODULE_MESSAGES,
  nullAsUnset,
  object,
  oneOf,
  record,
  shapeOf,
  type At,
  type OptionMessages,
  type Rule,
} from '../options/option-schema';

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
  /**
   * The most samples (one value of one series; a metric's header counts as one) the primary takes
   * from one worker's answer, and about 128 characters of label names, values and metric names per
   * sample: an answer past either is dropped as it arrives (its parts so far freed), counted in
   * `veza_metrics_cluster_worker_errors_total`, and the worker's last answer used. The primary holds
   * at most two answers per worker (its last, and the one arriving). The Veza catalog at its default
   * series caps is about 126,000 samples; raise it for workers with many metrics of their own.
   * @defaultValue `250000`
   */
  maxWorkerSamples?: number;
}

/** {@link ClusterMetricsOptions} after validation, with the defaults filled in. */
export interface ResolvedClusterMetricsOptions {
  readonly timeoutMs: number;
  readonly aggregators: Readonly<Record<string, ClusterAggregator>>;
  readonly maxWorkerSamples: number;
}

/** `VezaMetrics cluster: option "x" must be ...`. */
export const CLUSTER_MESSAGES: OptionMessages = {
  invalid: invalidClusterOption,
  unknown: unknownClusterOption,
  labelName: MODULE_MESSAGES.labelName,
};

/** The top of `ClusterMetricsAggregator`'s and `serveClusterMetrics`' options. */
export const CLUSTER_AT: At = { path: '', messages: CLUSTER_MESSAGES };

const AGGREGATORS: readonly ClusterAggregator[] = ['sum', 'min', 'max', 'average', 'first', 'omit'];
/** `maxWorkerSamples`' default: twice the Veza catalog at its default series caps. */
export const DEFAULT_MAX_WORKER_SAMPLES = 250_000;
const MAX_WORKER_SAMPLES = 100_000_000;
const DEFAULT_AGGREGATORS: Readonly<Record<string, ClusterAggregator>> = { veza_health_check_status: 'min' };

/** The rules of {@link ClusterMetricsOptions}' keys (`serveClusterMetrics` adds its own). */
export const clusterMetricsShape = shapeOf<ClusterMetricsOptions>()({
  timeoutMs: nullAsUnset(delay(2_000)),
  aggregators: nullAsUnset(
    defaulted(
      record(
        oneOf(AGGREGATORS, `one of ${AGGREGATORS.map((a) => `"${a}"`).join(', ')}`),
        'an object of metric names to aggregators',
      ),
      {},
    ),
  ),
  maxWorkerSamples: nullAsUnset(integer(1, MAX_WORKER_SAMPLES, DEFAULT_MAX_WORKER_SAMPLES)),
});

/** Turns the checked aggregation options into {@link ResolvedClusterMetricsOptions}. */
export const clusterMetricsOf = (given: {
  timeoutMs: number;
  aggregators: Record<string, ClusterAggregator>;
  maxWorkerSamples: number;
}): ResolvedClusterMetricsOptions => ({
  timeoutMs: given.timeoutMs,
  aggregators: { ...DEFAULT_AGGREGATORS, ...given.aggregators },
  maxWorkerSamples: given.maxWorkerSamples,
});

const clusterMetricsRule: Rule<ResolvedClusterMetricsOptions> = nullAsUnset(
  defaulted(object(clusterMetricsShape, 'a plain object', { finish: clusterMetricsOf }), {}),
);

/** Validates `ClusterMetricsAggregator`'s options. */
export function resolveClusterMetricsOptions(value: unknown): ResolvedClusterMetricsOptions {
  return clusterMetricsRule.resolve(value, CLUSTER_AT, {});
}

/** The module's option `cluster`: answer the cluster primary's aggregation requests (in a worker). */
export const clusterRule: Rule<boolean> = boolean(true);
