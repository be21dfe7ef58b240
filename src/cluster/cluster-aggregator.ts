import { Logger } from '@nestjs/common';
import cluster, { type Worker } from 'node:cluster';
import type {
  CounterMetric as Counter,
  GaugeMetric as Gauge,
  MetricsRegistry as Registry,
} from '../compat/client-types';
import { defaultClient, metricsOf, type MetricsClient } from '../compat/metrics-client';
import { CONTENT_TYPES, renderExposition, type ExpositionFormat } from '../exposition/render-exposition';
import { aggregate } from './aggregate';
import type { RenderLimits } from '../registry/veza-metrics.registry';
import {
  clusterNotPrimary,
  clusterRetiredDropped,
  clusterWorkerFailed,
  clusterWorkerTimedOut,
} from '../veza-metrics.messages';
import { COLLECT_REQUEST, isCollectResponse, type CollectRequest, type MetricJson } from './cluster-protocol';
import {
  resolveClusterMetricsOptions,
  type ClusterAggregator,
  type ClusterMetricsOptions,
} from './cluster-options';
import { MAX_RETIRED_SAMPLES, RetiredSeries } from './retired-series';

export type { ClusterAggregator, ClusterMetricsOptions } from './cluster-options';
export { resolveClusterMetricsOptions } from './cluster-options';

/** Self-metrics of the primary. */
export const CLUSTER_WORKERS_METRIC = 'veza_metrics_cluster_workers';
export const CLUSTER_WORKER_UP_METRIC = 'veza_metrics_cluster_worker_up';
export const CLUSTER_TIMEOUTS_METRIC = 'veza_metrics_cluster_worker_timeouts_total';
export const CLUSTER_ERRORS_METRIC = 'veza_metrics_cluster_worker_errors_total';
export const CLUSTER_RETIRED_METRIC = 'veza_metrics_cluster_retired_samples';

/** Types whose values only grow: what an exited worker leaves behind, and what a late source keeps. */
const MONOTONIC_TYPES = new Set(['counter', 'histogram']);
/** Rendering yields to the event loop after this many milliseconds of work (as the module's render). */
const RENDER_SLICE_MS = 5;

/** Request ids, shared by every aggregator of the process so that their requests never mix. */
let lastRequestId = 0;

/** A worker's newest answer: one metrics array per registry it answers for. */
interface Answer {
  readonly id: number;
  readonly metrics: MetricJson[][];
}

/** What the primary keeps about a live worker: released when it exits. */
interface WorkerState {
  /** Its place among the live workers (the `worker` label): reused by the next worker. */
  readonly slot: number;
  last: Answer | undefined;
}

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
 * Memory: one answer per live worker (bounded by the workers' own series caps), released at its
 * exit; at most `MAX_RETIRED_SAMPLES` samples for all exited workers together; one `worker_up`
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
  private readonly logger = new Logger('VezaMetrics');
  private readonly workers: Gauge;
  private readonly up: Gauge<'worker'>;
  private readonly timeouts: Counter;
  private readonly errors: Counter;
  /** By worker id; an entry per live worker, deleted at its exit. */
  private readonly live = new Map<number, WorkerState>();
  /** Slot → the id of the worker in it; as long as the most workers ever alive at once. */
  private readonly slots: (number | undefined)[] = [];
  /** By `request id:worker id`: at most one per worker per scrape in flight, settled by answer, timeout or exit. */
  private readonly pending = new Map<string, (answered: boolean) => void>();
  private readonly retired = new RetiredSeries(MAX_RETIRED_SAMPLES);
  /** Warnings already logged: three keys at most. */
  private readonly warned = new Set<string>();
  private closed = false;

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
    const retired = this.retired;
    new Gauge({
      name: CLUSTER_RETIRED_METRIC,
      help: `Samples of exited workers' counters and histograms kept in the sum (at most ${MAX_RETIRED_SAMPLES})`,
      registers,
      collect(this: Gauge) {
        this.set(retired.size);
      },
    });
    cluster.on('message', this.onMessage);
    cluster.on('exit', this.onExit);
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
    const id = ++lastRequestId;
    const workers = Object.values(cluster.workers ?? {}).filter(
      (w): w is Worker => w !== undefined && w.isConnected(),
    );
    const waitMs = Math.max(
      1,
      Math.min(this.timeoutMs, deadline === undefined ? Infinity : Math.floor(deadline - performance.now())),
    );
    this.workers.set(workers.length);
    const answered = new Set<number>();
    await Promise.all(
      workers.map(async (worker) => {
        if (await this.ask(worker, id, waitMs)) answered.add(worker.id);
      }),
    );
    // From here on, nothing awaits: a worker is either live (its newest answer counts) or exited
    // (its last answer is in the retained base), never both.
    const parts: MetricJson[][] = [];
    for (const state of this.live.values()) if (state.last) parts.push(...state.last.metrics);
    const retired = this.retired.toJson();
    if (retired.length > 0) parts.push(retired);
    this.slots.forEach((workerId, slot) => {
      this.up.set({ worker: String(slot + 1) }, workerId !== undefined && answered.has(workerId) ? 1 : 0);
    });
    return aggregate(
      this.client,
      parts.map((metrics) => metrics.map((m) => this.withAggregator(m))),
    );
  }

  /** Stops listening to the cluster and forgets the workers (the primary's own metrics stay readable). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    cluster.off('message', this.onMessage);
    cluster.off('exit', this.onExit);
    for (const resolve of this.pending.values()) resolve(false);
    this.pending.clear();
    this.live.clear();
  }

  /** Whether `worker` answered request `id` within `waitMs`. */
  private ask(worker: Worker, id: number, waitMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    const state = this.stateOf(worker);
    const key = `${id}:${worker.id}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(key)) return;
        this.timeouts.inc();
        this.warnOnce(
          'timeout',
          clusterWorkerTimedOut(worker.id, state.slot + 1, worker.process.pid, waitMs),
        );
        resolve(false);
      }, waitMs);
      this.pending.set(key, (answered) => {
        clearTimeout(timer);
        this.pending.delete(key);
        resolve(answered);
      });
      const request: CollectRequest = { type: COLLECT_REQUEST, id, timeoutMs: waitMs };
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

  /** The state of a live worker, made (in the lowest free slot) the first time it is asked. */
  private stateOf(worker: Worker): WorkerState {
    let state = this.live.get(worker.id);
    if (state) return state;
    let slot = this.slots.indexOf(undefined);
    if (slot === -1) slot = this.slots.length;
    this.slots[slot] = worker.id;
    state = { slot, last: undefined };
    this.live.set(worker.id, state);
    return state;
  }

  private readonly onMessage = (worker: Worker, message: unknown): void => {
    if (!isCollectResponse(message)) return;
    if (message.error !== undefined || !Array.isArray(message.metrics)) {
      this.fail(worker, message.id, message.error ?? 'an answer without metrics');
      return;
    }
    // A worker not asked yet, or already exited (its last answer is retired): not kept.
    const state = this.live.get(worker.id);
    if (state && (!state.last || state.last.id < message.id)) {
      state.last = {
        id: message.id,
        metrics: this.withOmitted(message.metrics, message.omitted, state.last),
      };
    }
    this.pending.get(`${message.id}:${worker.id}`)?.(state !== undefined);
  };

  /**
   * A counter or histogram a worker left out of its answer (its source failed or was too slow)
   * keeps its previous values, registry by registry: left out, it would take the sum back.
   */
  private withOmitted(
    metrics: MetricJson[][],
    omitted: unknown,
    previous: Answer | undefined,
  ): MetricJson[][] {
    if (!previous || !Array.isArray(omitted) || omitted.length === 0) return metrics;
    return metrics.map((part, i) => {
      const names: unknown = omitted[i];
      const before = previous.metrics[i];
      if (!Array.isArray(names) || names.length === 0 || !before) return part;
      const kept = before.filter((m) => names.includes(m.name) && MONOTONIC_TYPES.has(String(m.type)));
      return kept.length > 0 ? [...part, ...kept] : part;
    });
  }

  private fail(worker: Worker, id: number, error: string): void {
    const resolve = this.pending.get(`${id}:${worker.id}`);
    if (!resolve) return;
    this.errors.inc();
    this.warnOnce('error', clusterWorkerFailed(worker.id, error));
    resolve(false);
  }

  /**
   * An exited worker's counters and histograms (those summed across workers) move, as of its last
   * answer, into the retained base: without them the sum would go back, which Prometheus' `rate()`
   * takes for a reset. Its gauges go (a dead worker holds no sessions), and so does its state.
   */
  private readonly onExit = (worker: Worker): void => {
    // A scrape waiting for it goes on without it (its last answer is retired below).
    for (const [key, resolve] of this.pending) if (key.endsWith(`:${worker.id}`)) resolve(false);
    const state = this.live.get(worker.id);
    if (!state) return;
    this.live.delete(worker.id);
    this.slots[state.slot] = undefined;
    if (!state.last) return;
    const monotonic = state.last.metrics
      .flat()
      .filter(
        (m) =>
          MONOTONIC_TYPES.has(String(m.type)) &&
          (this.aggregators[m.name] ?? m.aggregator ?? 'sum') === 'sum',
      );
    const dropped = this.retired.add(monotonic);
    if (dropped > 0) this.warnOnce('retired', clusterRetiredDropped(worker.id, dropped, MAX_RETIRED_SAMPLES));
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
