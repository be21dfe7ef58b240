/*
 * A worker's answer as the primary receives it (the wire format is src/cluster/cluster-protocol.ts):
 * each part's metrics checked, counted against the answer's size bound before anything is kept, and
 * their compact series expanded into samples as the client's `get()` gives them.
 */
import type { NativeHistogramSnapshot } from '../native/native-histogram';
import type { MetricJson, PartMetric } from './cluster-protocol';
import { checkNativePart, nativeWeight } from './native-parts';

/** Types whose values only grow: what an exited worker leaves behind, and what a late source keeps. */
export const MONOTONIC_TYPES = new Set(['counter', 'histogram']);

/**
 * What an exited worker leaves in the sum: its counters and histograms merged by `sum` (`aggregators`
 * first, then the metric's own): the rest (gauges, other merges) goes with it.
 */
export function retirable(
  metrics: readonly (readonly MetricJson[])[],
  aggregators: Readonly<Record<string, string>>,
): MetricJson[] {
  return metrics
    .flat()
    .filter(
      (m) => MONOTONIC_TYPES.has(String(m.type)) && (aggregators[m.name] ?? m.aggregator ?? 'sum') === 'sum',
    );
}

/** A worker's newest answer: one metrics array per registry it answers for. */
export interface Answer {
  readonly id: number;
  readonly metrics: MetricJson[][];
}

/** The most registries one worker answers for (an application's, the clients' global ones). */
export const MAX_REGISTRIES = 64;
/** The characters of label names, values and sample names (and help) allowed per sample, on average. */
export const CHARS_PER_SAMPLE = 128;

/** An answer being received, part by part. */
export interface Assembly {
  readonly id: number;
  /** By registry index: its metrics by name, in the order they came. */
  readonly registries: Map<string, MetricJson>[];
  parts: number;
  samples: number;
  chars: number;
  /** Native parts of histogram series dropped as malformed (the series kept, classic only). */
  droppedNatives?: number;
}

/**
 * Adds one metric of a part to `assembly`, within `maxWorkerSamples` samples (and
 * {@link CHARS_PER_SAMPLE} characters each); what is wrong with it, if anything.
 */
export function appendMetric(
  assembly: Assembly,
  metric: unknown,
  maxWorkerSamples: number,
): string | undefined {
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
  const natives = series ? nativesOf(m as PartMetric, assembly) : undefined;
  if (m.values.length > 0) checkSampleNatives(m as MetricJson, assembly);
  assembly.samples += 1 + m.values.length + (series?.samples ?? 0);
  assembly.chars += m.name.length + (typeof m.help === 'string' ? m.help.length : 0) + (series?.chars ?? 0);
  for (const sample of m.values as unknown[]) assembly.chars += charsOf(sample);
  if (assembly.samples > maxWorkerSamples || assembly.chars > maxWorkerSamples * CHARS_PER_SAMPLE)
    return `an answer of more than ${maxWorkerSamples} samples or ${maxWorkerSamples * CHARS_PER_SAMPLE} characters (option maxWorkerSamples)`;
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
  if (series) expand(m as PartMetric, kept.values, natives);
  return undefined;
}

/**
 * The native parts of a part's series (`natives`, see `PartMetric`), each checked as untrusted
 * input (src/cluster/native-parts.ts) and against its series' count: one that is malformed, or
 * does not hold exactly the series' observations, is dropped (the series is served with its
 * classic part only) and counted in `droppedNatives`. Those kept count their weight in samples
 * (`nativeWeight`: one, plus one per 8 spans and deltas) toward the answer's bound.
 */
function nativesOf(m: PartMetric, assembly: Assembly): (NativeHistogramSnapshot | undefined)[] | undefined {
  const raw: unknown = (m as { natives?: unknown }).natives;
  if (raw === undefined) return undefined;
  const labels = m.labels as unknown[];
  if (m.type !== 'histogram' || !Array.isArray(raw) || raw.length > labels.length) {
    assembly.droppedNatives = (assembly.droppedNatives ?? 0) + (Array.isArray(raw) ? raw.length : 1);
    return undefined;
  }
  const stride = (m.bounds as unknown[]).length + 2;
  const numbers = m.numbers as unknown[];
  const out: (NativeHistogramSnapshot | undefined)[] = [];
  for (let i = 0; i < raw.length; i++) {
    const value: unknown = raw[i];
    if (value === null || value === undefined) {
      out.push(undefined);
      continue;
    }
    const checked = checkNativePart(value);
    if (!checked || checked.total !== numbers[i * stride + stride - 2]) {
      assembly.droppedNatives = (assembly.droppedNatives ?? 0) + 1;
      out.push(undefined);
      continue;
    }
    assembly.samples += nativeWeight(checked.snapshot);
    out.push(checked.snapshot);
  }
  return out;
}

/**
 * The native parts carried by the samples of a metric a worker read through `get()` (on a
 * histogram series' `_count` sample): checked as in {@link nativesOf}, replaced by the checked copy,
 * or removed (and counted) when malformed or on any other sample.
 */
function checkSampleNatives(m: MetricJson, assembly: Assembly): void {
  const countName = `${m.name}_count`;
  for (const sample of m.values as unknown[]) {
    if (typeof sample !== 'object' || sample === null || !('native' in sample)) continue;
    const s = sample as MetricJson['values'][number];
    const checked =
      m.type === 'histogram' && s.metricName === countName ? checkNativePart(s.native) : undefined;
    if (!checked || checked.total !== s.value) {
      delete s.native;
      assembly.droppedNatives = (assembly.droppedNatives ?? 0) + 1;
      continue;
    }
    s.native = checked.snapshot;
    assembly.samples += nativeWeight(checked.snapshot);
  }
}

/**
 * A counter or histogram a worker left out of its answer (its source failed or was too slow)
 * keeps its previous values, registry by registry: left out, it would take the sum back.
 */
export function withOmitted(
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

/**
 * Appends to `values` the samples of the series of `m` (checked by `seriesOf`), as the client's
 * `get()` gives them, each series' native part (checked by `nativesOf`) on its `_count` sample.
 */
function expand(
  m: PartMetric,
  values: MetricJson['values'],
  natives: readonly (NativeHistogramSnapshot | undefined)[] | undefined,
): void {
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
    const native = natives?.[i];
    values.push(
      native === undefined
        ? { value: total, labels: withDefaults({ ...own }, defaults), metricName: count }
        : { value: total, labels: withDefaults({ ...own }, defaults), metricName: count, native },
    );
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
