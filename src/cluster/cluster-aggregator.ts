import cluster from 'node:cluster';
import type {
  CounterMetric as Counter,
  GaugeMetric as Gauge,
  MetricsRegistry as Registry,
} from '../compat/client-types';
import { defaultClient, metricsOf, type MetricsClient } from '../compat/metrics-client';
import { CONTENT_TYPES, renderExposition, type ExpositionFormat } from '../exposition/render-exposition';
import { aggregate, withAggregators } from './aggregate';
import type { RenderLimits } from '../exposition/metrics-exposition';
import { clusterNotPrimary } from '../veza-metrics.messages';
import {
  resolveClusterMetricsOptions,
  type ClusterAggregator,
  type ClusterMetricsOptions,
} from './cluster-options';
import { MAX_RETIRED_SAMPLES } from './retired-series';
import { WorkerCollector } from './worker-collector';

export type { ClusterAggregator, ClusterMetricsOptions } from './cluster-options';
export { resolveClusterMetricsOptions } from './cluster-options';

/** Self-metrics of the primary. */
export const CLUSTER_WORKERS_METRIC = 'veza_metrics_cluster_workers';
export const CLUSTER_WORKER_UP_METRIC = 'veza_metrics_cluster_worker_up';
export const CLUSTER_TIMEOUTS_METRIC = 'veza_metrics_cluster_worker_timeouts_total';
export const CLUSTER_ERRORS_METRIC = 'veza_metrics_cluster_worker_errors_total';
export const CLUSTER_RETIRED_METRIC = 'veza_metrics_cluster_retired_samples';

/** Rendering yields to the event loop after this many milliseconds of work (as the module's render). */
const RENDER_SLICE_MS = 5;

/**
 * Runs in the primary of a Node `cluster`: asks every worker for its metrics over the cluster's
 * IPC channel (the workers' `VezaMetricsModule` answers by itself) and merges them as the clients'
 * `Registry.aggregate` does, series kept apart whatever their label values hold, so that Prometheus
 * scrapes one endpoint with the sum. Works with either client (prom-client when installed, else
 * `@prometheus-io/client`), whichever the workers use: the messages are this library's own.
 *
 * Each worker's part of the sum is counted exactly once: its newest answer while it lives, then
 * (from its exit on) its last counters and histograms folded into a retained base, so sums never go
 * back when a worker is slow, dies (before or after answering a scrape in progress) or is replaced.
 * A worker that does not answer within `timeoutMs` does not fail the scrape: its last answer is used,
 * the timeout counted, and `veza_metrics_cluster_worker_up{worker}` says which slot is missing.
 *
 * A worker answers in parts (a slice of its metrics per message, each sent once the previous one is
 * written: see src/cluster/cluster-protocol.ts), appended here as they come and taken whole at the end.
 *
 * Memory: per live worker, its last answer and the one arriving, each at most `maxWorkerSamples`
 * samples (an answer past it is dropped as it arrives), released at its exit; at most `MAX_RETIRED_SAMPLES` samples for all exited workers together; one `worker_up`
 * series per slot, i.e. per worker alive at once at the peak (slots are reused, ids are not).
 *
 * @example
 * ```ts
 * if (cluster.isPrimary) {
 *   for (let i = 0; i < 4; i++) cluster.fork();
 *   const aggregator = new ClusterMetricsAggregator({ timeoutMs: 1000 });
 *   http.createServer(async (_req, res) => {
 *     res.setHeader('Content-Type', aggregator.contentType);
 *     res.end(await aggregator.metrics());
 *   }).listen(9464, '127.0.0.1');
 * }
 * ```
 */
export class ClusterMetricsAggregator {
  /** @internal The Prometheus client of the primary (src/compat/metrics-client.ts). */
  readonly client: MetricsClient = defaultClient();
  /** The primary's own metrics (`veza_metrics_cluster_*`), rendered after the workers' sum. */
  readonly registry: Registry = new this.client.Registry();
  /** The Content-Type of {@link ClusterMetricsAggregator.metrics}: Prometheus' text format. */
  readonly contentType: string = CONTENT_TYPES.text;
  private readonly timeoutMs: number;
  private readonly aggregators: Readonly<Record<string, ClusterAggregator>>;
  private readonly workers: Gauge;
  private readonly up: Gauge<'worker'>;
  private readonly timeouts: Counter;
  private readonly errors: Counter;
  private readonly collector: WorkerCollector;

  constructor(options: ClusterMetricsOptions = {}) {
    if (!cluster.isPrimary) throw new Error(clusterNotPrimary());
    const resolved = resolveClusterMetricsOptions(options);
    this.timeoutMs = resolved.timeoutMs;
    this.aggregators = resolved.aggregators;
    const registers = [this.registry];
    const { Counter, Gauge } = this.client;
    this.workers = new Gauge({
      name: CLUSTER_WORKERS_METRIC,
      help: 'Cluster workers asked for their metrics by the latest scrape',
      registers,
    });
    this.up = new Gauge({
      name: CLUSTER_WORKER_UP_METRIC,
      help: 'Whether the worker in this slot (1, 2, ...: reused by the worker that replaces it) answered the latest scrape',
      labelNames: ['worker'],
      registers,
    });
    this.timeouts = new Counter({
      name: CLUSTER_TIMEOUTS_METRIC,
      help: 'Cluster workers that did not send their metrics within the timeout (their last answer was used)',
      registers,
    });
    this.errors = new Counter({
      name: CLUSTER_ERRORS_METRIC,
      help: 'Cluster workers that answered with an error or could not be asked (their last answer was used)',
      registers,
    });
    const collector = new WorkerCollector(resolved, {
      asked: (count) => this.workers.set(count),
      timedOut: () => this.timeouts.inc(),
      failed: () => this.errors.inc(),
    });
    this.collector = collector;
    new Gauge({
      name: CLUSTER_RETIRED_METRIC,
      help: `Samples of exited workers' counters and histograms kept in the sum (at most ${MAX_RETIRED_SAMPLES})`,
      registers,
      collect(this: Gauge) {
        this.set(collector.retiredSamples);
      },
    });
  }

  /** The workers' metrics merged, followed by the primary's own: the body of one scrape. */
  async metrics(): Promise<string> {
    const limits = {
      deadline: performance.now() + this.timeoutMs + 60_000,
      collectTimeoutMs: this.timeoutMs,
      onCollectFailure: () => undefined,
    };
    return Buffer.concat(await this.renderChunks('text', limits)).toString('utf8');
  }

  /** {@link ClusterMetricsAggregator.metrics} in either format, within a scrape's limits: what `serveClusterMetrics` answers. */
  async renderChunks(format: ExpositionFormat, limits: RenderLimits): Promise<Buffer[]> {
    const merged = await this.collect(limits.deadline);
    return renderExposition([...metricsOf(merged), ...metricsOf(this.registry)], {
      format,
      defaultLabels: {},
      collectTimeoutMs: limits.collectTimeoutMs,
      deadline: limits.deadline,
      sliceMs: RENDER_SLICE_MS,
      onCollectFailure: limits.onCollectFailure,
    });
  }

  /**
   * The workers' metrics merged into one registry (without the primary's own). Waits for each
   * worker at most `timeoutMs`, and never past `deadline` (`performance.now()` milliseconds).
   */
  async collect(deadline?: number): Promise<Registry> {
    const { parts, answered } = await this.collector.collect(deadline);
    answered.forEach((up, slot) => this.up.set({ worker: String(slot + 1) }, up ? 1 : 0));
    return await aggregate(this.client, withAggregators(parts, this.aggregators));
  }

  /** Stops listening to the cluster and forgets the workers (the primary's own metrics stay readable). */
  close(): void {
    this.collector.close();
  }
}
