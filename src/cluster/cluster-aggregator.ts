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
import type { RenderLimits } from '../exposition/metrics-exposition';
import {
  clusterNotPrimary,
  clusterRetiredDropped,
  clusterWorkerFailed,
  clusterWorkerTimedOut,
} from '../veza-metrics.messages';
import {
  COLLECT_REQUEST,
  isCollectPart,
  isCollectResponse,
  type CollectPart,
  type CollectRequest,
  type CollectResponse,
  type MetricJson,
  type PartMetric,
} from './cluster-protocol';
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

/** The most registries one worker answers for (an application's, the clients' global ones). */
const MAX_REGISTRIES = 64;
/** The characters of label names, values and sample names (and help) allowed per sample, on average. */
export const CHARS_PER_SAMPLE = 128;

/** An answer being received, part by part. */
interface Assembly {
  readonly id: number;
  /** By registry index: its metrics by name, in the order they came. */
  readonly registries: Map<string, MetricJson>[];
  parts: number;
  samples: number;
  chars: number;
}

/** What the primary keeps about a live worker: released when it exits. */
interface WorkerState {
  /** Its place among the live workers (the `worker` label): reused by the next worker. */
  readonly slot: number;
  last: Answer | undefined;
  /** The newest request this aggregator sent it: parts of a request never sent are not kept. */
  asked: number;
  /** The newest answer being received (an older one is dropped when a newer one starts). */
  assembling: Assembly | undefined;
  /** The newest answer dropped for its size: its further parts are ignored. */
  refused: number;
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
  private readonly maxWorkerSamples: number;
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
    this.maxWorkerSamples = resolved.maxWorkerSamples;
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
    state.asked = Math.max(state.asked, id);
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
    state = { slot, last: undefined, asked: 0, assembling: undefined, refused: 0 };
    this.live.set(worker.id, state);
    return state;
  }

  private readonly onMessage = (worker: Worker, message: unknown): void => {
    if (isCollectPart(message)) this.onPart(worker, message);
    else if (isCollectResponse(message)) this.onEnd(worker, message);
  };

  /**
   * A part of a worker's answer, appended to the answer it belongs to. Kept only for a live worker,
   * for a request this aggregator sent it and newer than its last answer; at most one answer is
   * received per worker at a time (the newest), and at most `maxWorkerSamples` samples (and
   * `CHARS_PER_SAMPLE` characters each) of it: past that, it is dropped as a failure.
   */
  private onPart(worker: Worker, part: CollectPart): void {
    const state = this.live.get(worker.id);
    if (!state || part.id > state.asked || part.id <= (state.last?.id ?? 0) || part.id <= state.refused)
      return;
    let assembly = state.assembling;
    if (assembly && assembly.id > part.id) return;
    if (!assembly || assembly.id < part.id) {
      assembly = { id: part.id, registries: [], parts: 0, samples: 0, chars: 0 };
      state.assembling = assembly;
    }
    assembly.parts++;
    for (const metric of part.metrics as unknown[]) {
      const problem = this.append(assembly, metric);
      if (problem === undefined) continue;
      state.assembling = undefined;
      state.refused = part.id;
      this.fail(worker, part.id, problem);
      return;
    }
  }

  /** Adds one metric of a part to `assembly`; what is wrong with it, if anything. */
  private append(assembly: Assembly, metric: unknown): string | undefined {
    const m = metric as (Partial<MetricJson> & { registry?: unknown }) | null;
    const registry = m?.registry;
    if (
      typeof m?.name !== 'string' ||
      !Array.isArray(m.values) ||
      typeof registry !== 'number' ||
      !Number.isInteger(registry) ||
      registry < 0 ||
      registry >= MAX_REGISTRIES
    )
      return 'a part of an answer that is not metrics';
    const series = seriesOf(m as PartMetric);
    if (typeof series === 'string') return series;
    assembly.samples += 1 + m.values.length + (series?.samples ?? 0);
    assembly.chars += m.name.length + (typeof m.help === 'string' ? m.help.length : 0) + (series?.chars ?? 0);
    for (const sample of m.values as unknown[]) assembly.chars += charsOf(sample);
    if (assembly.samples > this.maxWorkerSamples || assembly.chars > this.maxWorkerSamples * CHARS_PER_SAMPLE)
      return `an answer of more than ${this.maxWorkerSamples} samples or ${this.maxWorkerSamples * CHARS_PER_SAMPLE} characters (option maxWorkerSamples)`;
    const byName = (assembly.registries[registry] ??= new Map());
    let kept = byName.get(m.name);
    if (kept) for (const sample of m.values) kept.values.push(sample);
    else {
      kept = {
        name: m.name,
        help: String(m.help ?? ''),
        type: String(m.type ?? ''),
        ...(m.aggregator === undefined ? {} : { aggregator: m.aggregator }),
        values: m.values,
      };
      byName.set(m.name, kept);
    }
    if (series) expand(m as PartMetric, kept.values);
    return undefined;
  }

  /** The end of a worker's answer: the parts received become its last answer, if all came. */
  private onEnd(worker: Worker, message: CollectResponse): void {
    const state = this.live.get(worker.id);
    const assembly = state?.assembling?.id === message.id ? state.assembling : undefined;
    if (state && assembly) state.assembling = undefined;
    if (state && message.id <= state.refused) return;
    if (message.error !== undefined) {
      this.fail(worker, message.id, String(message.error));
      return;
    }
    const registries = message.registries;
    if (
      typeof message.parts !== 'number' ||
      typeof registries !== 'number' ||
      !Number.isInteger(registries) ||
      registries < 0 ||
      registries > MAX_REGISTRIES
    ) {
      this.fail(worker, message.id, 'an answer without metrics');
      return;
    }
    // A worker not asked yet, or already exited (its last answer is retired): not kept.
    if (state && (!state.last || state.last.id < message.id)) {
      if ((assembly?.parts ?? 0) !== message.parts) {
        // Parts of it went to an older assembly, or were never received: not an answer to keep.
        this.fail(
          worker,
          message.id,
          `an answer of ${message.parts} parts, ${assembly?.parts ?? 0} received`,
        );
        return;
      }
      const metrics = Array.from({ length: registries }, (_, r) => [
        ...(assembly?.registries[r]?.values() ?? []),
      ]);
      state.last = {
        id: message.id,
        metrics: this.withOmitted(metrics, message.omitted, state.last),
      };
    }
    this.pending.get(`${message.id}:${worker.id}`)?.(state !== undefined);
  }

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

/** What a label set counts toward the characters a worker may send, per sample that carries it. */
function charsOfLabels(labels: object): number {
  let chars = 0;
  for (const [name, value] of Object.entries(labels))
    chars += name.length + (typeof value === 'string' ? value.length : 8);
  return chars;
}

/**
 * The samples and characters the series of a part's metric (`labels`, `numbers`: see `PartMetric`)
 * expand into, counted as those samples would be, before anything is expanded; `undefined` when it
 * has none; what is wrong with them, if anything.
 */
function seriesOf(m: PartMetric): { samples: number; chars: number } | string | undefined {
  if (m.labels === undefined && m.numbers === undefined) return undefined;
  const { labels, numbers, bounds, defaults } = m as unknown as Record<string, unknown>;
  const histogram = m.type === 'histogram';
  if (
    !Array.isArray(labels) ||
    !Array.isArray(numbers) ||
    (histogram && !Array.isArray(bounds)) ||
    (defaults !== undefined && (typeof defaults !== 'object' || defaults === null))
  )
    return 'a part of an answer that is not metrics';
  const stride = histogram ? (bounds as unknown[]).length + 2 : 1;
  if (numbers.length !== labels.length * stride) return 'a part of an answer that is not metrics';
  // The default labels count in full on every sample (even those a series has of its own): what
  // filling them in costs stays within the bound, and counting it stays linear in the part.
  const fill = charsOfLabels(defaults ?? {});
  // Each series' samples carry its labels, `le` on buckets, and their sample names (histograms).
  const perSeries = histogram ? stride + 1 : 1;
  const names = histogram ? (stride - 1) * (m.name.length + 7 + 10) + 2 * (m.name.length + 6) : 0;
  let chars = 0;
  for (const own of labels as unknown[]) {
    if (typeof own !== 'object' || own === null || Array.isArray(own))
      return 'a part of an answer that is not metrics';
    chars += perSeries * (8 + charsOfLabels(own) + fill) + names;
  }
  return { samples: labels.length * perSeries, chars };
}

/** As prom-client's getMetricsAsJSON: the registry's default labels a series lacks (or has empty) filled in. */
function withDefaults(labels: Record<string, string | number>, defaults: [string, string][]): typeof labels {
  for (const [name, value] of defaults) labels[name] = labels[name] || value;
  return labels;
}

/** Appends to `values` the samples of the series of `m` (checked by `seriesOf`), as the client's `get()` gives them. */
function expand(m: PartMetric, values: MetricJson['values']): void {
  const labels = m.labels as Record<string, string | number>[];
  const numbers = m.numbers as number[];
  const defaults = Object.entries(m.defaults ?? {}).map(([n, v]): [string, string] => [n, String(v)]);
  if (m.type !== 'histogram') {
    for (let i = 0; i < labels.length; i++)
      values.push({ value: numbers[i], labels: withDefaults({ ...labels[i] }, defaults) });
    return;
  }
  const bounds = m.bounds as (string | number)[];
  const bucket = `${m.name}_bucket`;
  const sum = `${m.name}_sum`;
  const count = `${m.name}_count`;
  const stride = bounds.length + 2;
  for (let i = 0; i < labels.length; i++) {
    const own = labels[i];
    const at = i * stride;
    // prom-client's get(): `le` first, then the series' labels, then the default labels it lacks.
    for (let b = 0; b < bounds.length; b++)
      values.push({
        value: numbers[at + b],
        labels: withDefaults({ le: bounds[b], ...own }, defaults),
        metricName: bucket,
      });
    const total = numbers[at + bounds.length];
    values.push({ value: total, labels: withDefaults({ le: '+Inf', ...own }, defaults), metricName: bucket });
    values.push({
      value: numbers[at + bounds.length + 1],
      labels: withDefaults({ ...own }, defaults),
      metricName: sum,
    });
    values.push({ value: total, labels: withDefaults({ ...own }, defaults), metricName: count });
  }
}

/** What one sample of a worker's answer counts toward the characters it may send. */
function charsOf(sample: unknown): number {
  if (typeof sample !== 'object' || sample === null) return 8;
  const { labels, metricName } = sample as { labels?: unknown; metricName?: unknown };
  let chars = 8 + (typeof metricName === 'string' ? metricName.length : 0);
  if (typeof labels === 'object' && labels !== null)
    for (const [name, value] of Object.entries(labels))
      chars += name.length + (typeof value === 'string' ? value.length : 8);
  return chars;
}
