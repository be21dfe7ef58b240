import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import cluster from 'node:cluster';
import type { CounterMetric as Counter, MetricsRegistry as Registry } from '../compat/client-types';
import { globalRegistries, layoutOf, metricFields, seamOfRegistry } from '../compat/metrics-client';
import type { SeriesLayout } from '../compat/series-storage';
import { nextTurn } from '../exposition/render-exposition';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { AppRegistry } from '../registry/app-registry';
import {
  COLLECT_PART,
  COLLECT_RESPONSE,
  isCollectRequest,
  MAX_PART_CHARS,
  MAX_PART_SAMPLES,
  type CollectPart,
  type CollectResponse,
  type MetricJson,
  type PartMetric,
} from './cluster-protocol';
import { collectorFailed, errorText } from '../veza-metrics.messages';
import { nativeSnapshotOf, type NativeHistogramSnapshot } from '../native/native-histogram';
import { nativeSamples } from './native-parts';

/**
 * The registries of every application of this worker process that answers the primary (two apps
 * may share one), each with how many apps brought it and the smallest per-source budget they set.
 */
const members = new Map<Registry, { count: number; collectTimeoutMs: number }>();
let listener: ((message: unknown) => void) | undefined;

/**
 * The share of the primary's wait a scrape-time source may take: the rest is for the other
 * metrics, serialising the answer and the IPC channel, so that the answer without a slow source
 * still arrives before the primary gives up on the whole worker.
 */
const SOURCE_SHARE_OF_WAIT = 0.75;
/** The counter `MetricsScraper` keeps in each application's registry: the worker's failures go there too. */
const COLLECT_FAILURES_METRIC = 'veza_metrics_collect_failures_total';
/** Failures already logged, by metric and reason: bounded by the number of metrics times two. */
const logged = new Set<string>();
const logger = new Logger('VezaMetrics');

const TIMED_OUT = Symbol('timed out');
/** A metric whose series are read straight from the client's entries, slice by slice, once its source ran. */
const IN_PLACE = Symbol('read in place');
/** A metric of a registry, as far as it is read here. */
interface Metric {
  readonly name: string;
  readonly aggregator?: string;
  collect?: (this: unknown) => unknown;
  get(): unknown;
}
const metricsOf = (registry: Registry): Metric[] => registry.getMetricsAsArray() as unknown as Metric[];
type Outcome = { ok: MetricJson | typeof IN_PLACE } | { failed: 'error' | 'timeout'; error?: unknown };
type Sample = MetricJson['values'][number];

/** The work of one event-loop turn, at most (then the answer yields, as the module's render does). */
const SLICE_MS = 5;
/** Samples built between two looks at the clock. */
const SAMPLES_PER_CHECK = 64;

/** How a counter, gauge or histogram keeps its series, when the seam can read them; else `undefined`. */
function inPlaceLayout(metric: Metric): SeriesLayout | undefined {
  const { type, buckets } = metricFields(metric);
  const readable = type === 'counter' || type === 'gauge' || (type === 'histogram' && buckets !== undefined);
  return readable ? layoutOf(metric) : undefined;
}

/**
 * Runs one metric's scrape-time source (its `collect`, or its whole `get()` for a metric the seam
 * cannot read), settled within `budgetMs`.
 */
function bounded(metric: Metric, budgetMs: number, layout: SeriesLayout | undefined): Promise<Outcome> {
  let work: Promise<unknown>;
  try {
    if (layout) {
      const started = typeof metric.collect === 'function' ? metric.collect.call(metric) : undefined;
      work = Promise.resolve(started).then(() => IN_PLACE);
    } else work = Promise.resolve(metric.get());
  } catch (error) {
    return Promise.resolve({ failed: 'error', error });
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, budgetMs, TIMED_OUT);
  });
  return Promise.race([work, timeout])
    .then(
      (value): Outcome => {
        if (value === TIMED_OUT) return { failed: 'timeout' };
        if (value === IN_PLACE) return { ok: IN_PLACE };
        const data = value as MetricJson | undefined;
        if (typeof data?.name !== 'string' || !Array.isArray(data.values))
          return { failed: 'error', error: new Error('no values') };
        return { ok: data };
      },
      (error: unknown): Outcome => ({ failed: 'error', error }),
    )
    .finally(() => clearTimeout(timer));
}

function reportFailure(
  registry: Registry,
  metric: string,
  reason: 'error' | 'timeout',
  error: unknown,
): void {
  try {
    (registry.getSingleMetric(COLLECT_FAILURES_METRIC) as Counter<'metric' | 'reason'> | undefined)?.inc({
      metric,
      reason,
    });
  } catch {
    // A counter of another shape under that name: the failure is still left out and logged.
  }
  const key = `${metric}:${reason}`;
  if (logged.has(key)) return;
  logged.add(key);
  logger.warn(collectorFailed(metric, reason, error));
}

/** As prom-client's getMetricsAsJSON: a copy of each series' labels, the registry's default labels filled in. */
function withDefaults(
  labels: Record<string, string | number>,
  defaults: Readonly<Record<string, string>>,
  names: readonly string[],
): Record<string, string | number> {
  for (const name of names) labels[name] = labels[name] || defaults[name];
  return labels;
}

/** One registry's part of the answer: the metrics to read (in order), whose failures count where. */
interface Source {
  /** The registry whose default labels apply. */
  readonly registry: Registry;
  /** Where failures are counted: the registry itself, or (for another code's global registry) the first member. */
  readonly counted: Registry;
  readonly metrics: readonly Metric[];
  readonly budgetMs: number;
}

/**
 * Every member registry's metrics, then those other code registered in the global registry of each
 * installed client (`@willsoto/nestjs-prometheus`'s), once per process, as `/metrics` shows them.
 */
function sourcesOf(waitMs: number | undefined): Source[] {
  const share = waitMs === undefined ? Infinity : Math.max(1, Math.floor(waitMs * SOURCE_SHARE_OF_WAIT));
  const budget = (collectTimeoutMs: number): number => Math.min(collectTimeoutMs, share);
  const entries = [...members.entries()];
  const sources: Source[] = entries.map(([registry, member]) => ({
    registry,
    counted: registry,
    metrics: metricsOf(registry),
    budgetMs: budget(member.collectTimeoutMs),
  }));
  if (entries.length === 0) return sources;
  const taken = new Set(sources.flatMap((s) => s.metrics.map((m) => m.name)));
  const smallest = Math.min(...entries.map(([, member]) => member.collectTimeoutMs));
  for (const globalRegistry of globalRegistries()) {
    if (members.has(globalRegistry)) continue;
    const foreign = metricsOf(globalRegistry).filter((m) => !taken.has(m.name));
    for (const m of foreign) taken.add(m.name);
    if (foreign.length > 0)
      sources.push({
        registry: globalRegistry,
        counted: entries[0][0],
        metrics: foreign,
        budgetMs: budget(smallest),
      });
  }
  return sources;
}

type Labels = Record<string, string | number>;

/** What a label set counts toward {@link MAX_PART_CHARS}. */
function charsOfLabels(labels: Labels): number {
  let chars = 0;
  for (const name in labels) {
    const value = labels[name];
    chars += name.length + (typeof value === 'string' ? value.length : 8) + 6;
  }
  return chars;
}

/**
 * The answer to one request, sent as it is built: samples and series gather into a part, which is
 * sent once it holds {@link MAX_PART_SAMPLES} samples (or numbers of series) or
 * {@link MAX_PART_CHARS} characters; the next part is built only once the previous one is written to
 * the channel (`process.send`'s callback: the channel's back-pressure), in a later event-loop turn.
 * Building yields every {@link SLICE_MS} too.
 */
class AnswerStream {
  /** Parts sent. */
  parts = 0;
  private metrics: PartMetric[] = [];
  private current: PartMetric | undefined;
  private head: Omit<PartMetric, 'values'> | undefined;
  private samples = 0;
  private chars = 0;
  private sinceCheck = 0;
  private sliceStart = performance.now();

  constructor(
    private readonly id: number,
    private readonly send: (message: CollectPart) => Promise<void>,
  ) {}

  /**
   * Starts a metric of registry `registry` (its header, even with no samples). `inPlace`: its
   * series come through {@link AnswerStream.series}, with these default labels and bounds.
   */
  begin(
    registry: number,
    name: string,
    help: string,
    type: string,
    aggregator: string | undefined,
    inPlace?: { defaults: Readonly<Record<string, string>>; bounds: number[] | undefined },
  ): void {
    this.head = { registry, name, help, type, ...(aggregator === undefined ? {} : { aggregator }) };
    if (inPlace) {
      if (Object.keys(inPlace.defaults).length > 0) this.head.defaults = { ...inPlace.defaults };
      if (inPlace.bounds) this.head.bounds = inPlace.bounds;
    }
    this.current = undefined;
    this.open(inPlace !== undefined);
    this.samples++;
    this.chars += name.length + help.length + (inPlace?.bounds?.length ?? 0) * 8;
  }

  private open(inPlace: boolean): PartMetric {
    const head = this.head as Omit<PartMetric, 'values'>;
    this.current = inPlace ? { ...head, values: [], labels: [], numbers: [] } : { ...head, values: [] };
    this.metrics.push(this.current);
    return this.current;
  }

  /** Adds a sample of the metric begun last; then, when {@link AnswerStream.due}, await {@link AnswerStream.next}. */
  push(sample: Sample): void {
    const current = this.current ?? this.open(false);
    current.values.push(sample);
    this.samples++;
    this.chars += 24 + (sample.metricName?.length ?? 0) + charsOfLabels(sample.labels);
    if (sample.native !== undefined) this.countNative(sample.native);
  }

  /** Adds the native part of the series added last by {@link AnswerStream.series}. */
  native(snapshot: NativeHistogramSnapshot): void {
    const current = this.current as PartMetric;
    const series = (current.labels as Labels[]).length;
    const natives = (current.natives ??= []);
    while (natives.length < series - 1) natives.push(null);
    natives.push(snapshot);
    this.countNative(snapshot);
  }

  /** A native part counts a sample per span and per delta toward the part's bounds, about 8 characters each. */
  private countNative(snapshot: NativeHistogramSnapshot): void {
    const size = typeof snapshot === 'object' && snapshot !== null ? nativeSamples(snapshot) : 0;
    this.samples += size;
    this.chars += 64 + size * 8;
  }

  /**
   * Adds a series of the metric begun last (read in place): its own labels, the client's own object
   * (not copied: the clients never change a series' labels; it is read when the part is
   * serialised); returns the array to push its `count` numbers into.
   */
  series(labels: Labels, count: number): number[] {
    const current = this.current ?? this.open(true);
    (current.labels as Labels[]).push(labels);
    this.samples += count;
    this.chars += 8 + charsOfLabels(labels) + count * 8;
    return current.numbers as number[];
  }

  /** Whether the part is full, or this turn's slice spent: then call {@link AnswerStream.next}. */
  due(): boolean {
    if (this.samples >= MAX_PART_SAMPLES || this.chars >= MAX_PART_CHARS) return true;
    if (++this.sinceCheck < SAMPLES_PER_CHECK) return false;
    this.sinceCheck = 0;
    return performance.now() - this.sliceStart >= SLICE_MS;
  }

  /** Sends the part when full, else yields to the event loop. */
  async next(): Promise<void> {
    if (this.samples >= MAX_PART_SAMPLES || this.chars >= MAX_PART_CHARS) {
      await this.flush();
      return;
    }
    await nextTurn();
    this.sliceStart = performance.now();
  }

  /** Sends what is gathered (if anything), waits until it is written, then for the next turn. */
  async flush(): Promise<void> {
    if (this.metrics.length === 0) return;
    const message: CollectPart = { type: COLLECT_PART, id: this.id, metrics: this.metrics };
    this.metrics = [];
    this.current = undefined;
    this.samples = 0;
    this.chars = 0;
    this.parts++;
    await this.send(message);
    await nextTurn();
    this.sliceStart = performance.now();
  }
}

const NO_LABELS: Labels = Object.freeze({});

/**
 * Streams a metric read in place: its series, each its own labels and its numbers (what the
 * primary expands into the samples of the client's `get()`), a slice at a time.
 */
async function streamInPlace(stream: AnswerStream, metric: Metric, layout: SeriesLayout): Promise<void> {
  // A copy of the list (the entries themselves are live): series added meanwhile wait for the next scrape.
  const entries = layout.entries(metric);
  const { type, buckets } = metricFields(metric);
  if (type !== 'histogram') {
    for (const entry of entries) {
      stream.series((entry.labels as Labels | undefined) ?? NO_LABELS, 1).push(entry.value ?? 0);
      if (stream.due()) await stream.next();
    }
    return;
  }
  const bounds = buckets ?? [];
  for (const entry of entries) {
    const numbers = stream.series((entry.labels as Labels | undefined) ?? NO_LABELS, bounds.length + 2);
    const buckets = entry.bucketValues;
    let cumulative = 0;
    for (const bound of bounds) {
      cumulative += buckets?.[bound] ?? 0;
      numbers.push(cumulative);
    }
    numbers.push(entry.count ?? 0, entry.sum ?? 0);
    // Its native part, when the histogram has one (and it holds the classic count).
    const native = nativeSnapshotOf(metric, entry);
    if (native) stream.native(native);
    if (stream.due()) await stream.next();
  }
}

/**
 * Sends one request's answer: every source's scrape-time collection first (concurrently, each under
 * its budget; one that fails or hangs is left out, counted and logged), then every metric's samples,
 * as `registry.getMetricsAsJSON()` gives them (default labels included), in parts; resolves with how
 * many parts were sent, the number of registries and, by registry, the metrics left out.
 */
export async function streamAnswer(
  id: number,
  waitMs: number | undefined,
  send: (message: CollectPart) => Promise<void>,
): Promise<{ parts: number; registries: number; omitted: string[][] }> {
  const sources = sourcesOf(waitMs);
  let sliceStart = performance.now();
  const prepared: { source: Source; outcomes: Promise<Outcome>[]; layouts: (SeriesLayout | undefined)[] }[] =
    [];
  for (const source of sources) {
    const layouts = source.metrics.map(inPlaceLayout);
    const outcomes: Promise<Outcome>[] = [];
    for (let i = 0; i < source.metrics.length; i++) {
      outcomes.push(bounded(source.metrics[i], source.budgetMs, layouts[i]));
      if (performance.now() - sliceStart >= SLICE_MS) {
        await nextTurn();
        sliceStart = performance.now();
      }
    }
    prepared.push({ source, outcomes, layouts });
  }
  const settled = await Promise.all(prepared.map((p) => Promise.all(p.outcomes)));
  // Every failure is counted before anything is read: the answer that leaves a metric out says so.
  const omitted = settled.map((outcomes, r) => {
    const { source } = prepared[r];
    const names: string[] = [];
    outcomes.forEach((outcome, i) => {
      if ('ok' in outcome) return;
      names.push(source.metrics[i].name);
      reportFailure(source.counted, source.metrics[i].name, outcome.failed, outcome.error);
    });
    return names;
  });
  const stream = new AnswerStream(id, send);
  for (let r = 0; r < prepared.length; r++) {
    const { source, layouts } = prepared[r];
    const defaults = seamOfRegistry(source.registry)?.defaultLabelsOf(source.registry) ?? {};
    const names = Object.keys(defaults);
    for (let i = 0; i < source.metrics.length; i++) {
      const outcome = settled[r][i];
      if (!('ok' in outcome)) continue;
      const metric = source.metrics[i];
      const layout = layouts[i];
      if (outcome.ok === IN_PLACE && layout) {
        const { type, help, buckets } = metricFields(metric);
        const bounds = type === 'histogram' ? [...(buckets ?? [])] : undefined;
        stream.begin(r, metric.name, help, type, metric.aggregator, {
          defaults,
          bounds,
        });
        if (stream.due()) await stream.next();
        await streamInPlace(stream, metric, layout);
        continue;
      }
      let data = outcome.ok as MetricJson;
      // The failure counter through get() (no layout): read again, now that this answer's failures are counted.
      if (metric.name === COLLECT_FAILURES_METRIC && omitted.some((o) => o.length > 0)) {
        const again = await bounded(metric, 1_000, undefined);
        if ('ok' in again && again.ok !== IN_PLACE) data = again.ok;
      }
      stream.begin(r, data.name, data.help, data.type, data.aggregator);
      if (stream.due()) await stream.next();
      for (const value of data.values) {
        stream.push({ ...value, labels: withDefaults({ ...value.labels }, defaults, names) });
        if (stream.due()) await stream.next();
      }
    }
  }
  await stream.flush();
  return { parts: stream.parts, registries: prepared.length, omitted };
}

/** `process.send`, resolved once the message is written to the channel; rejected when it cannot be. */
function sendToPrimary(message: CollectPart | CollectResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    // The channel may be closing (the primary is going away): nothing to answer to then.
    if (!process.connected || !process.send) {
      reject(new Error('the IPC channel is closed'));
      return;
    }
    try {
      process.send(message, undefined, undefined, (error: Error | null) =>
        error ? reject(error) : resolve(),
      );
    } catch (error) {
      reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

/**
 * The answer being sent: requests are answered one at a time, in the order they came, so that the
 * parts of two answers never interleave (the primary receives one answer per worker at a time).
 */
let answering: Promise<void> = Promise.resolve();

function answer(message: unknown): void {
  if (!isCollectRequest(message)) return;
  const received = performance.now();
  const reply = (response: CollectResponse): Promise<void> => sendToPrimary(response).catch(() => undefined);
  const waitMs =
    typeof message.timeoutMs === 'number' && message.timeoutMs > 0 ? message.timeoutMs : undefined;
  answering = answering.then(async () => {
    // What is left of the primary's wait once the answers before this one are sent: none, and the
    // primary has given up on this request already (it uses this worker's last answer).
    const left = waitMs === undefined ? undefined : waitMs - (performance.now() - received);
    if (left !== undefined && left <= 0) return;
    try {
      const { parts, registries, omitted } = await streamAnswer(message.id, left, sendToPrimary);
      await reply({
        type: COLLECT_RESPONSE,
        id: message.id,
        parts,
        registries,
        ...(omitted.some((o) => o.length > 0) ? { omitted } : {}),
      });
    } catch (error) {
      await reply({ type: COLLECT_RESPONSE, id: message.id, error: errorText(error) });
    }
  });
}

/**
 * Adds `registry` to those this process answers for (the cluster's primary, pm2's siblings: see
 * src/pm2/), counted per application that brings it, with the smallest per-source budget they set.
 */
export function addAnswering(registry: Registry, collectTimeoutMs: number): void {
  const member = members.get(registry);
  if (member) {
    member.count++;
    member.collectTimeoutMs = Math.min(member.collectTimeoutMs, collectTimeoutMs);
  } else members.set(registry, { count: 1, collectTimeoutMs });
}

/** Undoes one {@link addAnswering}. */
export function removeAnswering(registry: Registry): void {
  const member = members.get(registry);
  if (member && member.count > 1) member.count--;
  else members.delete(registry);
}

/** Applications of this process that answer the cluster's primary. */
let clusterJoins = 0;

function join(registry: Registry, collectTimeoutMs: number): void {
  addAnswering(registry, collectTimeoutMs);
  clusterJoins++;
  if (listener) return;
  listener = answer;
  process.on('message', listener);
}

function leave(registry: Registry): void {
  removeAnswering(registry);
  clusterJoins = Math.max(0, clusterJoins - 1);
  if (clusterJoins > 0 || !listener) return;
  // A 'message' listener keeps the IPC channel (and so the worker) alive: gone with the last app.
  process.off('message', listener);
  listener = undefined;
}

/**
 * In a Node `cluster` worker (option `cluster`, on by default), answers the primary's
 * `ClusterMetricsAggregator` with this application's metrics, from the moment the application has
 * started until it closes. Each scrape-time source gets the application's `scrape.collectTimeoutMs`,
 * and at most three quarters of the primary's wait: one that fails or hangs is left out of that
 * answer (and counted in `veza_metrics_collect_failures_total`), the rest is answered. Does nothing
 * in a process that is not a cluster worker.
 */
@Injectable()
export class ClusterWorkerMetrics implements OnApplicationBootstrap, OnModuleDestroy {
  private joined = false;

  constructor(
    private readonly app: AppRegistry,
    @InjectVezaMetricsOptions() private readonly options: ResolvedOptions<{ cluster: boolean }>,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.options.cluster || !cluster.isWorker || this.joined) return;
    join(this.app.registry, this.options.endpoint.scrape.collectTimeoutMs);
    this.joined = true;
  }

  onModuleDestroy(): void {
    if (!this.joined) return;
    leave(this.app.registry);
    this.joined = false;
  }
}
