import type { MetricsRegistry } from '../compat/client-types';
import type { ClientClasses } from '../compat/metrics-client';
import type { MetricJson } from './cluster-protocol';
import { setNativeConfig, type NativeHistogramSnapshot } from '../native/native-histogram';
import { MAX_NATIVE_WIDTH, sumNativeParts } from './native-parts';
import { sampleKey } from './retired-series';

type Sample = MetricJson['values'][number];

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
 * The workers' metrics merged into one registry of `client`, as `Registry.aggregate` does in both
 * clients, but with series told apart by an injective key (`sampleKey`: names sorted, values as
 * JSON strings): prom-client's own grouping merges label values holding `,` and `:`, the
 * successor's those holding `|` and a missing label with an empty one. `omit` drops the metric;
 * an unknown aggregator is `sum` (the clients' default). Each merged metric is a read-only metric
 * whose `get()` gives the merged values, registered in a fresh registry.
 */
export function aggregate(client: ClientClasses, parts: readonly (readonly MetricJson[])[]): MetricsRegistry {
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
    const values = [...samples.values()].map(({ sample, values: v, natives }) => {
      const native = nativeOfSum(aggregator, natives, v.length);
      if (native) {
        schema = Math.min(schema ?? native.schema, native.schema);
        zeroThreshold = Math.max(zeroThreshold, native.zeroThreshold);
      }
      return {
        value: merge(v),
        labels: sample.labels,
        ...(sample.metricName === undefined ? {} : { metricName: sample.metricName }),
        ...(native === undefined ? {} : { native }),
      };
    });
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
