/**
 * The exposition in Prometheus' protobuf format: length-delimited `io.prometheus.client.MetricFamily`
 * messages (metrics.proto of prometheus/client_model, proto2), one per family the text render gives,
 * in the same order, with the same samples, labels (default labels merged the same way, in the same
 * order) and exemplars. Written with {@link ProtoWriter} into the exposition's reusable chunks.
 */
import { metricFields } from '../compat/metrics-client';
import type { SeriesEntry, StoredExemplar } from '../compat/series-storage';
import { nativeSnapshotOf, type BucketSpan, type NativeHistogramSnapshot } from '../native/native-histogram';
import type { ProtoWriter } from './protobuf-writer';

/** `MetricType` of metrics.proto. */
const COUNTER = 0;
const GAUGE = 1;
const SUMMARY = 2;
const UNTYPED = 3;
const HISTOGRAM = 4;

// Field numbers of metrics.proto.
const FAMILY_NAME = 1;
const FAMILY_HELP = 2;
const FAMILY_TYPE = 3;
const FAMILY_METRIC = 4;
const METRIC_LABEL = 1;
const METRIC_GAUGE = 2;
const METRIC_COUNTER = 3;
const METRIC_SUMMARY = 4;
const METRIC_UNTYPED = 5;
const METRIC_HISTOGRAM = 7;

type Labels = Record<string, unknown>;

/** A sample of a client's `get()` (and of the cluster's JSON), as the render reads it. */
export interface DataSample {
  metricName?: string;
  labels?: Labels;
  sharedLabels?: Labels;
  value: number;
  exemplar?: StoredExemplar | null;
  /** On a histogram's `_count` sample: the series' native part. */
  native?: NativeHistogramSnapshot;
}

/** A client's `get()` result. */
export interface MetricData {
  name: string;
  help: string;
  type: string;
  values?: DataSample[];
}

export interface ProtobufFamilyOptions {
  readonly defaultLabels: Readonly<Record<string, string>>;
  /** Called before every `seriesPerCheck`-th series: yields when the slice is spent. */
  readonly pause: () => Promise<void>;
  readonly seriesPerCheck: number;
}

function typeOf(type: string): number {
  switch (type) {
    case 'counter':
      return COUNTER;
    case 'gauge':
      return GAUGE;
    case 'summary':
      return SUMMARY;
    case 'histogram':
      return HISTOGRAM;
    default:
      return UNTYPED;
  }
}

const labelText = (value: unknown): string => (typeof value === 'string' ? value : String(value));

function header(w: ProtoWriter, name: string, help: string, type: number): void {
  w.beginDelimited();
  w.string(FAMILY_NAME, name);
  w.string(FAMILY_HELP, help);
  w.uint(FAMILY_TYPE, type);
}

function labelPair(w: ProtoWriter, field: number, name: string, value: unknown): void {
  w.fork(field);
  w.string(1, name);
  w.string(2, labelText(value));
  w.join();
}

/** `sample_count`-like fields: the uint64 one for a safe non-negative integer, else the double one. */
function count(w: ProtoWriter, intField: number, floatField: number, value: number): void {
  if (Number.isSafeInteger(value) && value >= 0) w.uint(intField, value);
  else w.double(floatField, value);
}

/** An `Exemplar` (field `field`), when the entry holds a complete one (as OpenMetrics renders it). */
function exemplar(w: ProtoWriter, field: number, stored: StoredExemplar | null | undefined): void {
  if (!stored || typeof stored.value !== 'number' || !stored.labelSet) return;
  w.fork(field);
  const labels = stored.labelSet;
  for (const name of Object.keys(labels)) labelPair(w, 1, name, labels[name]);
  w.double(2, stored.value);
  // Both clients keep seconds (Date.now() / 1000): milliseconds are exact.
  const seconds = stored.timestamp;
  if (typeof seconds === 'number' && Number.isFinite(seconds)) {
    const ms = Math.round(seconds * 1000);
    const whole = Math.floor(ms / 1000);
    w.fork(3);
    w.int64(1, whole);
    const nanos = (ms - whole * 1000) * 1e6;
    if (nanos !== 0) w.uint(2, nanos);
    w.join();
  }
  w.join();
}

function spans(w: ProtoWriter, field: number, list: readonly BucketSpan[]): void {
  for (const span of list) {
    w.fork(field);
    w.sint(1, span.offset);
    w.uint(2, span.length);
    w.join();
  }
}

function deltas(w: ProtoWriter, field: number, list: readonly number[]): void {
  // Unpacked, as proto2 (and client_golang) writes repeated scalars.
  for (const delta of list) w.sint(field, delta);
}

/** The native fields of a `Histogram` message (schema, zero bucket, spans and deltas). */
export function encodeNative(w: ProtoWriter, native: NativeHistogramSnapshot): void {
  w.sint(5, native.schema);
  w.double(6, native.zeroThreshold);
  count(w, 7, 8, native.zeroCount);
  spans(w, 9, native.negativeSpans);
  deltas(w, 10, native.negativeDeltas);
  if (
    native.zeroThreshold === 0 &&
    native.zeroCount === 0 &&
    native.positiveSpans.length === 0 &&
    native.negativeSpans.length === 0
  ) {
    // As client_golang: an empty native histogram with no zero bucket would look classic to Prometheus.
    spans(w, 12, [{ offset: 0, length: 0 }]);
  } else spans(w, 12, native.positiveSpans);
  deltas(w, 13, native.positiveDeltas);
}

/**
 * A counter, gauge or histogram family from the client's own series entries (the text render's
 * `renderSeries`), pausing every `seriesPerCheck` series.
 */
export async function encodeSeriesFamily(
  w: ProtoWriter,
  metric: object,
  entries: readonly SeriesEntry[],
  options: ProtobufFamilyOptions,
): Promise<void> {
  const { name, help, type, buckets } = metricFields(metric);
  const kind = typeOf(type);
  header(w, name, help, kind);
  const defaults = options.defaultLabels;
  const defaultNames = Object.keys(defaults);
  const bounds = buckets ?? [];
  // A snapshot can also be attached to an entry of a metric without settings (the cluster's sums).
  const native = kind === HISTOGRAM;
  const every = options.seriesPerCheck;
  for (let i = 0; i < entries.length; i++) {
    if (i % every === every - 1) await options.pause();
    const entry = entries[i];
    const own = entry.labels ?? {};
    w.unit();
    w.fork(FAMILY_METRIC, kind === HISTOGRAM ? 2 : 1);
    if (kind === HISTOGRAM) {
      // The text render's order: default labels the series does not set, then the series' own.
      for (const label of defaultNames)
        if (!hasOwn(own, label)) labelPair(w, METRIC_LABEL, label, defaults[label]);
      for (const label of Object.keys(own)) labelPair(w, METRIC_LABEL, label, own[label]);
      w.fork(METRIC_HISTOGRAM, 2);
      const total = entry.count ?? 0;
      count(w, 1, 4, total);
      w.double(2, entry.sum ?? 0);
      let cumulative = 0;
      for (const bound of bounds) {
        cumulative += entry.bucketValues?.[bound] ?? 0;
        bucket(w, cumulative, bound, entry.bucketExemplars?.[bound]);
      }
      bucket(w, total, Infinity, entry.bucketExemplars?.['-1']);
      if (native) {
        const snapshot = nativeSnapshotOf(metric, entry);
        if (snapshot) encodeNative(w, snapshot);
      }
      w.join();
    } else {
      // {...own, ...defaults, ...own}: the series' labels, then the defaults it does not set.
      for (const label of Object.keys(own)) labelPair(w, METRIC_LABEL, label, own[label]);
      for (const label of defaultNames)
        if (!hasOwn(own, label)) labelPair(w, METRIC_LABEL, label, defaults[label]);
      const value = entry.value ?? 0;
      if (kind === COUNTER) {
        w.fork(METRIC_COUNTER);
        w.double(1, value);
        exemplar(w, 2, entry.exemplar);
        w.join();
      } else {
        w.fork(kind === GAUGE ? METRIC_GAUGE : METRIC_UNTYPED);
        w.double(1, value);
        w.join();
      }
    }
    w.join();
  }
  w.endDelimited();
}

function bucket(
  w: ProtoWriter,
  cumulative: number,
  bound: number,
  stored: StoredExemplar | null | undefined,
): void {
  w.fork(3);
  count(w, 1, 4, cumulative);
  w.double(2, bound);
  exemplar(w, 3, stored);
  w.join();
}

const wholeCount = (value: number): number =>
  Number.isFinite(value) && value > 0 ? Math.min(Math.round(value), Number.MAX_SAFE_INTEGER) : 0;

const hasOwn = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key);

/** One series of a family that comes as data: its labels and the samples that belong to it. */
interface Group {
  readonly labels: Array<readonly [string, unknown]>;
  value?: number;
  exemplar?: StoredExemplar | null;
  sum?: number;
  count?: number;
  native?: NativeHistogramSnapshot;
  readonly buckets: Array<{ bound: number; count: number; exemplar?: StoredExemplar | null }>;
  readonly quantiles: Array<{ quantile: number; value: number }>;
}

/** The labels of a sample as the text render orders them (`renderData`), without `drop`. */
function dataLabels(
  sample: DataSample,
  defaults: Readonly<Record<string, string>> | undefined,
  drop: string,
) {
  let labels: Labels = sample.labels ?? {};
  if (defaults) labels = { ...labels, ...defaults, ...labels };
  const shared = sample.sharedLabels ?? {};
  const out: Array<readonly [string, unknown]> = [];
  let dropped: unknown;
  for (const name of Object.keys(labels)) {
    if (hasOwn(shared, name)) continue;
    if (name === drop) dropped = labels[name];
    else out.push([name, labels[name]]);
  }
  for (const name of Object.keys(shared)) {
    if (name === drop) dropped = shared[name];
    else out.push([name, shared[name]]);
  }
  return { labels: out, dropped };
}

function boundOf(le: unknown): number {
  if (typeof le === 'number') return le;
  const text = String(le);
  if (text === '+Inf' || text === 'Inf' || text === '+inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** Samples of a metric read through `get()` encoded between two looks at the clock. */
const DATA_PER_CHECK = 256;

/**
 * A family from what a client's `get()` returned (summaries, metrics of unknown layout, the
 * cluster's merged metrics): histograms and summaries grouped into one `Metric` per label set
 * (without `le` / `quantile`), in the order the label sets first come, pausing between slices.
 */
export async function encodeDataFamily(
  w: ProtoWriter,
  data: MetricData,
  options: ProtobufFamilyOptions,
): Promise<void> {
  // A cluster's merged family at the caps holds some 34,000 samples: a pause every 256.
  let sinceCheck = 0;
  const kind = typeOf(data.type);
  header(w, data.name, data.help, kind);
  const defaults = Object.keys(options.defaultLabels).length > 0 ? options.defaultLabels : undefined;
  const values = data.values ?? [];
  if (kind !== HISTOGRAM && kind !== SUMMARY) {
    for (const sample of values) {
      if (++sinceCheck === DATA_PER_CHECK) {
        sinceCheck = 0;
        await options.pause();
      }
      const { labels } = dataLabels(sample, defaults, '');
      writeMetric(w, kind, {
        labels,
        value: sample.value,
        exemplar: sample.exemplar,
        buckets: [],
        quantiles: [],
      });
    }
    w.endDelimited();
    return;
  }
  // Bound: one group per series of the family.
  const groups = new Map<string, Group>();
  const drop = kind === HISTOGRAM ? 'le' : 'quantile';
  for (const sample of values) {
    if (++sinceCheck === DATA_PER_CHECK) {
      sinceCheck = 0;
      await options.pause();
    }
    const { labels, dropped } = dataLabels(sample, defaults, drop);
    let key = '';
    for (const [name, value] of labels) key += `${name}\u0000${labelText(value)}\u0000`;
    let group = groups.get(key);
    if (!group) {
      group = { labels, buckets: [], quantiles: [] };
      groups.set(key, group);
    }
    const metricName = sample.metricName ?? data.name;
    if (metricName === `${data.name}_sum`) group.sum = sample.value;
    else if (metricName === `${data.name}_count`) {
      group.count = sample.value;
      if (sample.native) group.native = sample.native;
    } else if (kind === HISTOGRAM)
      group.buckets.push({ bound: boundOf(dropped), count: sample.value, exemplar: sample.exemplar });
    else group.quantiles.push({ quantile: boundOf(dropped), value: sample.value });
  }
  for (const group of groups.values()) {
    if (++sinceCheck === DATA_PER_CHECK) {
      sinceCheck = 0;
      await options.pause();
    }
    writeMetric(w, kind, group);
  }
  w.endDelimited();
}

function writeMetric(w: ProtoWriter, kind: number, group: Group): void {
  w.unit();
  w.fork(FAMILY_METRIC, kind === HISTOGRAM || kind === SUMMARY ? 2 : 1);
  for (const [name, value] of group.labels) labelPair(w, METRIC_LABEL, name, value);
  switch (kind) {
    case COUNTER:
      w.fork(METRIC_COUNTER);
      w.double(1, group.value ?? 0);
      exemplar(w, 2, group.exemplar);
      w.join();
      break;
    case GAUGE:
    case UNTYPED:
      w.fork(kind === GAUGE ? METRIC_GAUGE : METRIC_UNTYPED);
      w.double(1, group.value ?? 0);
      w.join();
      break;
    case SUMMARY:
      w.fork(METRIC_SUMMARY, 2);
      // Summary has no float count: a count that is not a whole number is rounded (never seen from a client).
      w.uint(1, wholeCount(group.count ?? 0));
      w.double(2, group.sum ?? 0);
      for (const { quantile, value } of group.quantiles) {
        w.fork(3);
        w.double(1, quantile);
        w.double(2, value);
        w.join();
      }
      w.join();
      break;
    default:
      w.fork(METRIC_HISTOGRAM, 2);
      count(w, 1, 4, group.count ?? 0);
      w.double(2, group.sum ?? 0);
      for (const b of group.buckets) bucket(w, b.count, b.bound, b.exemplar);
      if (group.native) encodeNative(w, group.native);
      w.join();
  }
  w.join();
}
