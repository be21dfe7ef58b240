import type { MetricsRegistry } from '../compat/client-types';
import type { ClientClasses } from '../compat/metrics-client';
import type { MetricJson } from './cluster-protocol';
import { setNativeConfig, type NativeHistogramSnapshot } from '../native/native-histogram';
import { MAX_NATIVE_WIDTH, sumNativeParts } from './native-parts';
import { nextTurn } from '../exposition/render-exposition';
import { sampleKey } from './retired-series';

type Sample = MetricJson['values'][number];

/** The merge yields to the event loop once it has worked this long (as the render does). */
const SLICE_MS = 5;
/** Samples merged between two looks at the clock. */
const SAMPLES_PER_CHECK = 256;
/** What summing one series' native parts counts for, in samples, between two looks at the clock. */
const NATIVE_WEIGHT = 32;

/** The merge of one series across workers, by aggregator name (prom-client's and its successor's set). */
type Merge = (values: readonly number[]) => number;
const sum: Merge = (v) => v.reduce((a, b) => a + b, 0);
const MERGE: Readonly<Record<string, Merge | undefined>> = {
  sum,
  first: (v) => v[0],
  min: (v) => v.reduce((a, b) => Math.min(a, b), Infinity),
  max: (v) => v.reduce((a, b) => Math.max(a, b), -Infinity),
  average: (v) => v.reduce((a, b) => a + b, 0) / v.length,
};

/**
 * `parts` with each metric merged as `aggregators` names it (the options' overrides, by metric
 * name), a metric copied only where its aggregator changes: what the cluster's primary and a pm2
 * instance hand to {@link aggregate}.
 */
export function withAggregators(
  parts: readonly (readonly MetricJson[])[],
  aggregators: Readonly<Record<string, string>>,
): MetricJson[][] {
  return parts.map((metrics) =>
    metrics.map((metric) => {
      const wanted = aggregators[metric.name];
      return wanted && wanted !== metric.aggregator ? { ...metric, aggregator: wanted } : metric;
    }),
  );
}

/**
 * The workers' metrics merged into one registry of `client`, as `Registry.aggregate` does in both
 * clients, but with series told apart by an injective key (`sampleKey`: names sorted, values as
 * JSON strings): prom-client's own grouping merges label values holding `,` and `:`, the
 * successor's those holding `|` and a missing label with an empty one. `omit` drops the metric;
 * an unknown aggregator is `sum` (the clients' default). Each merged metric is a read-only metric
 * whose `get()` gives the merged values, registered in a fresh registry. A histogram series' native
 * parts (on its `_count` samples) are summed too. Yields to the event loop every `sliceMs` of work:
 * the parts must not change meanwhile (answers are replaced, never changed; see `RetiredSeries.toJson`).
 */
export async function aggregate(
  client: ClientClasses,
  parts: readonly (readonly MetricJson[])[],
  sliceMs = SLICE_MS,
): Promise<MetricsRegistry> {
  let sliceStart = performance.now();
  let sinceCheck = 0;
  /** Yields to the event loop once `sliceMs` of work is spent (the clock read every 256 samples). */
  const pause = async (): Promise<void> => {
    if (++sinceCheck < SAMPLES_PER_CHECK) return;
    sinceCheck = 0;
    if (performance.now() - sliceStart < sliceMs) return;
    await nextTurn();
    sliceStart = performance.now();
  };
  const byName = new Map<
    string,
    {
      first: MetricJson;
      samples: Map<
        string,
        { sample: Sample; values: number[]; natives: (NativeHistogramSnapshot | undefined)[] | undefined }
      >;
    }
  >();
  for (const part of parts) {
    for (const metric of part) {
      let family = byName.get(metric.name);
      if (!family) byName.set(metric.name, (family = { first: metric, samples: new Map() }));
      for (const sample of metric.values) {
        const key = sampleKey(sample);
        const kept = family.samples.get(key);
        if (kept) {
          kept.values.push(sample.value);
          kept.natives?.push(sample.native);
        } else
          family.samples.set(key, {
            sample,
            values: [sample.value],
            // A histogram series' `_count` sample: the native parts of the workers, one per value.
            natives: sample.native === undefined ? undefined : [sample.native],
          });
        await pause();
      }
    }
  }
  const registry = new client.Registry();
  for (const { first, samples } of byName.values()) {
    if (first.aggregator === 'omit') continue;
    const aggregator = MERGE[first.aggregator ?? 'sum'] === undefined ? 'sum' : (first.aggregator ?? 'sum');
    const merge = MERGE[aggregator] ?? sum;
    let schema: number | undefined;
    let zeroThreshold = 0;
    const values: Sample[] = [];
    for (const { sample, values: v, natives } of samples.values()) {
      // The workers' native parts of a series summed: the costly part of a merge (some 5 µs a series).
      const native = nativeOfSum(aggregator, natives, v.length);
      if (native) {
        schema = Math.min(schema ?? native.schema, native.schema);
        zeroThreshold = Math.max(zeroThreshold, native.zeroThreshold);
      }
      values.push({
        value: merge(v),
        labels: sample.labels,
        ...(sample.metricName === undefined ? {} : { metricName: sample.metricName }),
        ...(native === undefined ? {} : { native }),
      });
      if (native) sinceCheck += NATIVE_WEIGHT;
      await pause();
    }
    const merged = {
      name: first.name,
      help: first.help,
      type: first.type,
      aggregator: first.aggregator,
      values,
    };
    const metric = { ...merged, get: () => Promise.resolve(merged), reset: () => undefined };
    // A histogram whose series carry a native part (on their `_count` samples) is native too.
    if (schema !== undefined)
      setNativeConfig(metric, { schema, maxBuckets: MAX_NATIVE_WIDTH, zeroThreshold, minResetIntervalMs: 0 });
    registry.registerMetric(metric);
  }
  return registry;
}

/**
 * The native part of a merged histogram series: the sum of its workers' parts (`sum`), or the
 * first's (`first`), when every worker's series has one (otherwise its count would not be theirs:
 * the series is served with its classic part only); none for the other aggregators.
 */
function nativeOfSum(
  aggregator: string,
  natives: readonly (NativeHistogramSnapshot | undefined)[] | undefined,
  count: number,
): NativeHistogramSnapshot | undefined {
  if (natives === undefined || natives.length !== count) return undefined;
  if (aggregator === 'first') return natives[0];
  if (aggregator !== 'sum') return undefined;
  const parts: NativeHistogramSnapshot[] = [];
  for (const native of natives) {
    if (native === undefined) return undefined;
    parts.push(native);
  }
  return sumNativeParts(parts);
}
