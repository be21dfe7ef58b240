import { Logger } from '@nestjs/common';
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Registry, type Aggregator } from 'prom-client';
import {
  clusterNotPrimary,
  clusterWorkerFailed,
  clusterWorkerTimedOut,
  invalidClusterOption,
  unknownClusterOption,
} from '../veza-metrics.messages';
import { checkKeys, isPlainObject } from '../options/option-checks';
import { COLLECT_REQUEST, isCollectResponse, type CollectRequest, type CollectResponse, type MetricJson } from './cluster-protocol';

/** How a metric's series of several workers are merged into one (prom-client's aggregators). */
export type ClusterAggregator = Aggregator;

/** Options of {@link ClusterMetricsAggregator}. */
export interface ClusterMetricsOptions {
  /**
   * How long one scrape waits for each worker's metrics. A worker that does not answer in time
   * (a blocked event loop) is counted in `veza_metrics_cluster_worker_timeouts_total`, and its last
   * answer is used instead: the scrape neither hangs nor sees its counters go back.
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

/** Self-metrics of the primary. */
export const CLUSTER_WORKERS_METRIC = 'veza_metrics_cluster_workers';
export const CLUSTER_TIMEOUTS_METRIC = 'veza_metrics_cluster_worker_timeouts_total';
export const CLUSTER_ERRORS_METRIC = 'veza_metrics_cluster_worker_errors_total';

const KNOWN_KEYS = ['timeoutMs', 'aggregators'];
const AGGREGATORS: readonly ClusterAggregator[] = ['sum', 'min', 'max', 'average', 'first', 'omit'];
const DEFAULT_AGGREGATORS: Readonly<Record<string, ClusterAggregator>> = { veza_health_check_status: 'min' };
/** Types whose values only grow: what an exited worker leaves behind (see `retire`). */
const MONOTONIC_TYPES = new Set(['counter', 'histogram']);

/** Request ids, shared by every aggregator of the process so that their requests never mix. */
let lastRequestId = 0;

/** Validates the aggregation options (shared with `serveClusterMetrics`). */
export function resolveClusterMetricsOptions(
  value: unknown,
  extraKeys: readonly string[] = [],
): { timeoutMs: number; aggregators: Record<string, ClusterAggregator> } {
  const options = value ?? {};
  if (!isPlainObject(options)) throw new Error(invalidClusterOption('options', 'a plain object', options));
  checkKeys('', options, [...KNOWN_KEYS, ...extraKeys], unknownClusterOption);
  const timeoutMs = options.timeoutMs ?? 2_000;
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > 2_147_483_647) {
    throw new Error(invalidClusterOption('timeoutMs', 'a positive whole number of milliseconds', timeoutMs));
  }
  const given = options.aggregators ?? {};
  if (!isPlainObject(given)) throw new Error(invalidClusterOption('aggregators', 'an object of metric names to aggregators', given));
  for (const [name, aggregator] of Object.entries(given)) {
    if (!AGGREGATORS.includes(aggregator as ClusterAggregator)) {
      throw new Error(invalidClusterOption(`aggregators.${name}`, `one of ${AGGREGATORS.map((a) => `"${a}"`).join(', ')}`, aggregator));
    }
  }
  return { timeoutMs, aggregators: { ...DEFAULT_AGGREGATORS, ...(given as Record<string, ClusterAggregator>) } };
}

interface Answer {
  id: number;
  metrics: MetricJson[][];
}

/**
 * Runs in the primary of a Node `cluster`: asks every worker for its metrics over the cluster's
 * IPC channel (the workers' `VezaMetricsModule` answers by itself) and merges them with
 * prom-client's `AggregatorRegistry.aggregate`, so that Prometheus scrapes one endpoint with the sum.
 *
 * Unlike `AggregatorRegistry.clusterMetrics()`, a worker that does not answer within `timeoutMs`
 * does not fail the scrape: its last answer is used and the timeout is counted in
 * `veza_metrics_cluster_worker_timeouts_total`. The counters and histograms of a worker that exited
 * are kept (as of its last answer), so the sums never go back when a worker dies or is replaced.
 *
 * @example
 * ```ts
 * if (cluster.isPrimary) {
 *   for (let i = 0; i < 4; i++) cluster.fork();
 *   const aggregator = new ClusterMetricsAggregator({ timeoutMs: 1000 });
 *   http.createServer(async (_req, res) => {
 *     res.setHeader('Content-Type', aggregator.contentType);
 *     res.end(await aggregator.metrics());
 *   }).listen(9464);
 * }
 * ```
 */
export class ClusterMetricsAggregator {
  /** The primary's own metrics (`veza_metrics_cluster_*`), rendered after the workers' sum. */
  readonly registry = new Registry();
  /** The Content-Type of {@link ClusterMetricsAggregator.metrics}: Prometheus' text format. */
  readonly contentType: string = Registry.PROMETHEUS_CONTENT_TYPE;
  private readonly timeoutMs: number;
  private readonly aggregators: Record<string, ClusterAggregator>;
  private readonly logger = new Logger('VezaMetrics');
  private readonly workers: Gauge;
  private readonly timeouts: Counter;
  private readonly errors: Counter;
  private readonly last = new Map<number, Answer>();
  private readonly pending = new Map<string, (answer: MetricJson[][] | undefined) => void>();
  private readonly warned = new Set<string>();
  private retired: MetricJson[] = [];
  private retiring: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(options: ClusterMetricsOptions = {}) {
    if (!cluster.isPrimary) throw new Error(clusterNotPrimary());
    const resolved = resolveClusterMetricsOptions(options);
    this.timeoutMs = resolved.timeoutMs;
    this.aggregators = resolved.aggregators;
    const registers = [this.registry];
    this.workers = new Gauge({
      name: CLUSTER_WORKERS_METRIC,
      help: 'Cluster workers asked for their metrics by the latest scrape',
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
    cluster.on('message', this.onMessage);
    cluster.on('exit', this.onExit);
  }

  /** The workers' metrics merged, followed by the primary's own: the body of one scrape. */
  async metrics(): Promise<string> {
    const merged = await this.collect();
    return (await merged.metrics()) + (await this.registry.metrics());
  }

  /** The workers' metrics merged into one registry (without the primary's own). */
  async collect(): Promise<Registry> {
    const id = ++lastRequestId;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    this.workers.set(workers.length);
    const answers = await Promise.all(workers.map((worker) => this.ask(worker, id)));
    await this.retiring;
    const parts: MetricJson[][] = [];
    workers.forEach((worker, i) => parts.push(...(answers[i] ?? this.last.get(worker.id)?.metrics ?? [])));
    if (this.retired.length > 0) parts.push(this.retired);
    return AggregatorRegistry.aggregate(parts.map((metrics) => metrics.map((m) => this.withAggregator(m))));
  }

  /** Stops listening to the cluster (the primary's own metrics stay readable). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    cluster.off('message', this.onMessage);
    cluster.off('exit', this.onExit);
    for (const resolve of this.pending.values()) resolve(undefined);
    this.pending.clear();
  }

  private ask(worker: Worker, id: number): Promise<MetricJson[][] | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const key = `${id}:${worker.id}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(key)) return;
        this.timeouts.inc();
        this.warnOnce('timeout', clusterWorkerTimedOut(worker.id, worker.process.pid, this.timeoutMs));
        resolve(undefined);
      }, this.timeoutMs);
      this.pending.set(key, (answer) => {
        clearTimeout(timer);
        this.pending.delete(key);
        resolve(answer);
      });
      const request: CollectRequest = { type: COLLECT_REQUEST, id };
      const failed = (error: Error): void => this.fail(worker, id, error.message);
      try {
        worker.send(request, undefined, (error: Error | null) => {
          if (error) failed(error);
        });
      } catch (error) {
        failed(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  private readonly onMessage = (worker: Worker, message: unknown): void => {
    if (!isCollectResponse(message)) return;
    const response: CollectResponse = message;
    if (response.error !== undefined || !Array.isArray(response.metrics)) {
      this.fail(worker, response.id, response.error ?? 'an answer without metrics');
      return;
    }
    // Late answers count too: they are newer than the one kept.
    const kept = this.last.get(worker.id);
    if (!kept || kept.id < response.id) this.last.set(worker.id, { id: response.id, metrics: response.metrics });
    this.pending.get(`${response.id}:${worker.id}`)?.(response.metrics);
  };

  private fail(worker: Worker, id: number, error: string): void {
    const resolve = this.pending.get(`${id}:${worker.id}`);
    if (!resolve) return;
    this.errors.inc();
    this.warnOnce('error', clusterWorkerFailed(worker.id, error));
    resolve(undefined);
  }

  /**
   * An exited worker's counters and histograms stay in the sum, as of its last answer: without
   * them the sum would go back, which Prometheus' `rate()` takes for a reset (a huge false spike).
   * Its gauges go (a dead worker holds no sessions). Merged into one set, so memory stays bounded
   * however many workers come and go.
   */
  private readonly onExit = (worker: Worker): void => {
    // A scrape waiting for it goes on without it (its counters are kept below).
    for (const [key, resolve] of this.pending) if (key.endsWith(`:${worker.id}`)) resolve(undefined);
    const kept = this.last.get(worker.id);
    this.last.delete(worker.id);
    if (!kept) return;
    const monotonic = kept.metrics.flat().filter((m) => MONOTONIC_TYPES.has(String(m.type)));
    if (monotonic.length === 0) return;
    this.retiring = this.retiring
      .then(async () => {
        const merged = AggregatorRegistry.aggregate([this.retired, monotonic].map((ms) => ms.map((m) => ({ ...m, aggregator: 'sum' }))));
        this.retired = (await merged.getMetricsAsJSON()) as unknown as MetricJson[];
      })
      .catch((error: unknown) => this.warnOnce('retire', clusterWorkerFailed(worker.id, String(error))));
  };

  private withAggregator(metric: MetricJson): MetricJson {
    const wanted = this.aggregators[metric.name];
    return wanted && wanted !== metric.aggregator ? { ...metric, aggregator: wanted } : metric;
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn(message);
  }
}
