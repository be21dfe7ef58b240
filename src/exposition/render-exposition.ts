import type { AnyMetric } from '../compat/client-types';
import { layoutOf, metricFields } from '../compat/metrics-client';
import type { SeriesEntry, SeriesLayout, StoredExemplar as Exemplar } from '../compat/series-storage';
import type { MetricData } from './protobuf-exposition';
import { setImmediate as immediate } from 'node:timers/promises';
import { CHUNK_BYTES, newChunk, renderedChunks, unusedChunk } from './chunk-pool';
import { encodeDataFamily, encodeSeriesFamily, type ProtobufFamilyOptions } from './protobuf-exposition';
import { ProtoWriter } from './protobuf-writer';

export { recycleChunks } from './chunk-pool';

/**
 * The formats a scraper can ask for: Prometheus' text format 0.0.4, OpenMetrics 1.0.0, and
 * Prometheus' protobuf format (length-delimited `io.prometheus.client.MetricFamily` messages, the
 * only one that carries native histograms).
 */
export type ExpositionFormat = 'text' | 'openmetrics' | 'protobuf';

/** The Content-Type of each format: prom-client's exactly for the text ones, client_golang's for protobuf. */
export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
  protobuf: 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited',
};

/**
 * Why a metric was left out of one scrape: its scrape-time source failed (`'error'`) or did not
 * answer within `scrape.collectTimeoutMs` (`'timeout'`).
 */
export type CollectFailure = 'error' | 'timeout';

export interface RenderOptions {
  readonly format: ExpositionFormat;
  readonly defaultLabels: Readonly<Record<string, string>>;
  /** How long one metric's `collect` (a scrape-time source) may take before it is left out. */
  readonly collectTimeoutMs: number;
  /** Past this instant (`performance.now()` ms), metrics not yet collected are left out as timed out. */
  readonly deadline: number;
  /** Rendering yields to the event loop once it has worked this long without a break. */
  readonly sliceMs: number;
  readonly onCollectFailure: (metric: string, reason: CollectFailure, error?: unknown) => void;
}

type Labels = Record<string, unknown>;
type Collectable = AnyMetric & {
  name: string;
  collect?: (this: unknown) => unknown;
  getForPromString?: () => Promise<MetricData>;
};

/**
 * The exposition is written into a list of 64 KiB Buffers, outside V8's heap: each line string dies
 * as soon as it is written. The chunks are never joined on the way to the socket (why both:
 * docs/design-notes.md, "Rendering"). They come from the spare chunks of finished sends when there
 * are any (see {@link recycleChunks}).
 */
class ByteSink {
  private readonly chunks: Buffer[] = [];
  private buffer = newChunk();
  private length = 0;

  line(text: string): void {
    const worst = text.length * 3 + 1;
    if (this.length + worst > this.buffer.length) {
      if (this.length > 0) this.chunks.push(this.buffer.subarray(0, this.length));
      this.buffer = worst > CHUNK_BYTES ? Buffer.allocUnsafe(worst) : newChunk();
      this.length = 0;
    }
    this.length += this.buffer.write(text, this.length, 'utf8');
    this.buffer[this.length++] = 0x0a;
  }

  finish(): Buffer[] {
    if (this.length > 0) this.chunks.push(this.buffer.subarray(0, this.length));
    else unusedChunk(this.buffer);
    this.length = 0;
    this.buffer = Buffer.alloc(0);
    renderedChunks(this.chunks.length);
    return this.chunks;
  }
}

/**
 * Lets timers and I/O run before going on. One `setImmediate` is not enough when called from an I/O
 * callback (the request's, a socket's): it runs in the check phase of the same loop iteration, right
 * after the poll phase, with no timer and no I/O in between, so the render went on holding the loop
 * (the turn of the request, the start of the sources and a first slice measured as one stall of
 * 20 ms and more). The second one runs in the next iteration, after its timers and poll.
 */
export async function nextTurn(): Promise<void> {
  await immediate();
  await immediate();
}

const TIMED_OUT = Symbol('timed out');
const DONE = Symbol('collected');
/** Series rendered between two looks at the clock. */
const SERIES_PER_CHECK = 32;
/** Samples of a metric read through `get()` rendered between two looks at the clock. */
const SAMPLES_PER_CHECK = 256;

/**
 * Renders metrics in the Prometheus text format (byte for byte what prom-client's
 * `registry.metrics()` renders, and its successor's) or in OpenMetrics, without holding the event
 * loop: series are read straight from the client's own entries (src/compat/) and rendered a few at a time, yielding whenever a slice of
 * work is spent; scrape-time sources run concurrently, each under a timeout, and one that fails or
 * hangs is left out (and reported) while every other metric is rendered. The result is the
 * exposition's bytes in order (UTF-8 text, or protobuf: see protobuf-exposition.ts), as a list of chunks.
 */
export async function renderExposition(
  metrics: readonly unknown[],
  options: RenderOptions,
): Promise<Buffer[]> {
  const all = metrics as readonly Collectable[];
  // The slice starts with the scrape: starting the scrape-time sources (the default metrics'
  // synchronous `collect`s: 1 to 5 ms) counts in it.
  const slice = { start: performance.now() };
  const pause = async (): Promise<void> => {
    if (performance.now() - slice.start < options.sliceMs) return;
    await nextTurn();
    slice.start = performance.now();
  };
  const pending = new Map<Collectable, Promise<MetricData | typeof DONE | typeof TIMED_OUT>>();
  // The series storage of each metric the seam knows (prom-client's or the successor's).
  const layouts = new Map<Collectable, SeriesLayout>();
  for (const metric of all) {
    const layout = knownLayout(metric);
    if (layout) layouts.set(metric, layout);
    if (typeof metric.collect === 'function' || !layout) {
      pending.set(metric, prepare(metric, layout, options));
      await pause();
    }
  }
  // The turn that received the request (parsing, routing, hooks) and started the sources ends here.
  await nextTurn();
  slice.start = performance.now();
  const protobuf = options.format === 'protobuf';
  const sink = protobuf ? undefined : new ByteSink();
  const writer = protobuf ? new ProtoWriter() : undefined;
  const family: ProtobufFamilyOptions = {
    defaultLabels: options.defaultLabels,
    pause,
    seriesPerCheck: SERIES_PER_CHECK,
  };
  let first = true;
  for (const metric of all) {
    let prepared: MetricData | typeof DONE | typeof TIMED_OUT;
    try {
      prepared = (await pending.get(metric)) ?? DONE;
    } catch (error) {
      options.onCollectFailure(metric.name, 'error', error);
      continue;
    }
    if (prepared === TIMED_OUT) {
      options.onCollectFailure(metric.name, 'timeout');
      continue;
    }
    if (writer) {
      if (prepared === DONE) {
        // A copy of the list (the entries themselves are live), as in renderSeries.
        const entries = (layouts.get(metric) as SeriesLayout).entries(metric);
        await encodeSeriesFamily(writer, metric, entries, family);
      } else await encodeDataFamily(writer, prepared, family);
      await pause();
      continue;
    }
    const text = sink as ByteSink;
    // The text format separates families with an empty line; OpenMetrics does not.
    if (!first && options.format === 'text') text.line('');
    first = false;
    if (prepared === DONE)
      await renderSeries(metric, layouts.get(metric) as SeriesLayout, options, text, pause);
    else await renderData(prepared, options, text, pause);
    await pause();
  }
  if (writer) return writer.finish();
  if (options.format === 'openmetrics') (sink as ByteSink).line('# EOF');
  return (sink as ByteSink).finish();
}

/** The layout of a counter, gauge or histogram whose series the seam can read, else `undefined`. */
function knownLayout(metric: Collectable): SeriesLayout | undefined {
  const { type, buckets } = metricFields(metric);
  const renderable =
    type === 'counter' || type === 'gauge' || (type === 'histogram' && buckets !== undefined);
  return renderable ? layoutOf(metric) : undefined;
}

/** Runs a metric's scrape-time source (or, for unknown layouts, the client's `get()`) under the timeout. */
function prepare(
  metric: Collectable,
  layout: SeriesLayout | undefined,
  options: RenderOptions,
): Promise<MetricData | typeof DONE | typeof TIMED_OUT> {
  const budget = Math.max(0, Math.min(options.collectTimeoutMs, options.deadline - performance.now()));
  let work: Promise<MetricData | typeof DONE>;
  try {
    if (layout) {
      const collected = metric.collect?.call(metric);
      work = collected instanceof Promise ? collected.then(() => DONE) : Promise.resolve(DONE);
    } else {
      work =
        typeof metric.getForPromString === 'function'
          ? metric.getForPromString()
          : (metric.get() as unknown as Promise<MetricData>);
    }
  } catch (error) {
    return settledLater(Promise.reject(error instanceof Error ? error : new Error(String(error))));
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, budget, TIMED_OUT);
  });
  return settledLater(Promise.race([work, timeout]).finally(() => clearTimeout(timer)));
}

/**
 * Marks `promise` as handled: it is awaited only when the render reaches its metric, and a rejection
 * left without a handler until then is an unhandled rejection, which ends a Node process by default.
 * Awaiting it later still throws the error.
 */
function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

function header(sink: ByteSink, name: string, help: string, type: string): void {
  sink.line(`# HELP ${name} ${escapeText(help)}`);
  sink.line(`# TYPE ${name} ${type}`);
}

/** Renders a counter, gauge or histogram from the client's own series entries, pausing between slices. */
async function renderSeries(
  metric: Collectable,
  layout: SeriesLayout,
  options: RenderOptions,
  sink: ByteSink,
  pause: () => Promise<void>,
): Promise<void> {
  const openMetrics = options.format === 'openmetrics';
  const { name, help, type, buckets } = metricFields(metric);
  const counter = type === 'counter';
  const familyName = escapeText(openMetrics && counter ? name.replace(/_total$/, '') : name);
  header(sink, familyName, help, type);
  const defaults = options.defaultLabels;
  const hasDefaults = Object.keys(defaults).length > 0;
  // A copy of the list (the entries themselves are live): series added while rendering wait for the next scrape.
  const entries: SeriesEntry[] = layout.entries(metric);
  const bounds = buckets ?? [];
  for (let i = 0; i < entries.length; i++) {
    if (i % SERIES_PER_CHECK === SERIES_PER_CHECK - 1) await pause();
    const entry = entries[i];
    const own = entry.labels ?? {};
    if (type !== 'histogram') {
      const sampleName = openMetrics && counter ? `${familyName}_total` : familyName;
      const labels = hasDefaults ? { ...own, ...defaults, ...own } : own;
      sink.line(
        `${sampleName}${braces(formatLabels(labels).join(','))} ${formatValue(entry.value ?? 0)}${exemplarOf(entry.exemplar, openMetrics)}`,
      );
      continue;
    }
    // prom-client's order: le, then default labels the series does not set, then the series' labels.
    const shared = formatLabels(own).join(',');
    const extra = hasDefaults ? formatLabels(defaults, own).join(',') : '';
    const rest = [extra, shared].filter(Boolean).join(',');
    const tail = rest ? `,${rest}` : '';
    let cumulative = 0;
    for (const bound of bounds) {
      cumulative += entry.bucketValues?.[bound] ?? 0;
      const exemplar = exemplarOf(entry.bucketExemplars?.[bound], openMetrics);
      sink.line(`${familyName}_bucket{le="${bound}"${tail}} ${formatValue(cumulative)}${exemplar}`);
    }
    sink.line(
      `${familyName}_bucket{le="+Inf"${tail}} ${formatValue(entry.count ?? 0)}${exemplarOf(entry.bucketExemplars?.['-1'], openMetrics)}`,
    );
    sink.line(`${familyName}_sum${braces(rest)} ${formatValue(entry.sum ?? 0)}`);
    sink.line(`${familyName}_count${braces(rest)} ${formatValue(entry.count ?? 0)}`);
  }
}

/** Renders what prom-client's `get()` returned (summaries, metrics of unknown layout). */
/**
 * Renders a metric from its `get()` (a metric of unknown storage, a summary, a cluster's merged
 * metric), pausing between slices: a merged family at the caps holds some 34,000 samples.
 */
async function renderData(
  data: MetricData,
  options: RenderOptions,
  sink: ByteSink,
  pause: () => Promise<void>,
): Promise<void> {
  const openMetrics = options.format === 'openmetrics';
  const counter = data.type === 'counter';
  const familyName = escapeText(openMetrics && counter ? data.name.replace(/_total$/, '') : data.name);
  header(sink, familyName, data.help, data.type);
  const defaults = Object.keys(options.defaultLabels).length > 0 ? options.defaultLabels : undefined;
  let sinceCheck = 0;
  for (const sample of data.values ?? []) {
    if (++sinceCheck === SAMPLES_PER_CHECK) {
      sinceCheck = 0;
      await pause();
    }
    let metricName = sample.metricName ?? familyName;
    if (openMetrics && counter) metricName = `${familyName}_total`;
    let labels: Labels = sample.labels ?? {};
    if (defaults) labels = { ...labels, ...defaults, ...labels };
    const shared = sample.sharedLabels ?? {};
    const parts = formatLabels(labels, shared);
    const flatShared = formatLabels(shared).join(',');
    if (flatShared) parts.push(flatShared);
    sink.line(
      `${metricName}${braces(parts.join(','))} ${formatValue(sample.value)}${exemplarOf(sample.exemplar, openMetrics)}`,
    );
  }
}

const braces = (labels: string): string => (labels ? `{${labels}}` : '');

function exemplarOf(exemplar: Exemplar | null | undefined, openMetrics: boolean): string {
  if (!openMetrics || !exemplar || typeof exemplar.value !== 'number' || !exemplar.labelSet) return '';
  return ` # {${formatLabels(exemplar.labelSet).join(',')}} ${formatValue(exemplar.value)} ${exemplar.timestamp}`;
}

function formatLabels(labels: Labels, exclude?: Labels): string[] {
  const out: string[] = [];
  for (const name of Object.keys(labels)) {
    if (exclude && Object.prototype.hasOwnProperty.call(exclude, name)) continue;
    out.push(`${name}="${escapeLabelValue(labels[name])}"`);
  }
  return out;
}

function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return escapeText(text).replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}
