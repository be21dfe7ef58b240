import type { INestApplicationContext } from '@nestjs/common';
import type { AnyMetric as Metric } from '../compat/client-types';
import { globalRegistries, metricFields, seamOfRegistry, selectClient } from '../compat/metrics-client';
import { findCatalogEntry } from '../catalog/catalog';
// The main entry point's types by the package's name: the testing entry point's declarations name
// them as the user imports them (API Extractor then sees them as the main entry's, not its own).
import type {
  CounterMetric,
  GaugeMetric,
  HistogramMetric,
  VezaMetricName,
  VezaMetricTypes,
} from '@veza/nestjs-metrics';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import {
  testingInvalidSelector,
  testingNoMetricsModule,
  testingUnknownLabel,
  testingUnknownMetric,
} from '../veza-metrics.messages';

/**
 * Anything Nest can resolve the application's providers from: an `INestApplication`, an
 * application context (`NestFactory.createApplicationContext`) or a `TestingModule`.
 */
export type MetricsHost = Pick<INestApplicationContext, 'get'>;

/** Label values to match; a series matches when it has every one of them (others are ignored). */
export type MetricLabels = Record<string, string | number>;

/** The label names of the catalog metric `N`, typed (`{ success: 'failure' }` for the login attempts). */
export type VezaMetricLabels<N extends VezaMetricName> =
  VezaMetricTypes[N] extends HistogramMetric<infer L>
    ? Partial<Record<L, string | number>>
    : VezaMetricTypes[N] extends CounterMetric<infer L>
      ? Partial<Record<L, string | number>>
      : VezaMetricTypes[N] extends GaugeMetric<infer L>
        ? Partial<Record<L, string | number>>
        : MetricLabels;

/**
 * Which number of a histogram or a summary to read. Without it, a histogram or a summary gives its
 * observation count.
 */
export interface MetricValueOptions {
  /** `'count'` (observations, the default) or `'sum'` (their total). */
  stat?: 'count' | 'sum';
  /** A histogram's bucket, by its upper bound (`0.1`, or `'+Inf'`): the observations `<= le`. */
  le?: number | '+Inf';
  /** A summary's quantile (`0.5`, `0.99`, ...), as configured on the summary. */
  quantile?: number;
}

/** One series of a metric, as the client holds it (without the registry's default labels). */
interface Sample {
  value: number;
  labels: Record<string, string | number | undefined>;
  metricName?: string;
}

/** The application's `VezaMetricsRegistry`, with a clear error when the module is missing. */
export function metricsOf(app: MetricsHost, helper: string): VezaMetricsRegistry {
  let metrics: VezaMetricsRegistry | undefined;
  try {
    metrics = app.get(VezaMetricsRegistry, { strict: false });
  } catch {
    metrics = undefined;
  }
  if (!metrics) throw new Error(testingNoMetricsModule(helper));
  return metrics;
}

/** The metric exposed as `name`: a catalog metric by its seed name, else any metric of the app's registry, else of an installed client's global one. */
export function findMetric(metrics: VezaMetricsRegistry, name: string, helper: string): Metric {
  const metric =
    (findCatalogEntry(name) ? (metrics.get(name as VezaMetricName) as Metric | undefined) : undefined) ??
    metrics.registry.getSingleMetric(name) ??
    globalRegistries(selectClient(metrics.registry))
      .map((registry) => registry.getSingleMetric(name))
      .find((m) => m !== undefined);
  if (!metric) throw new Error(testingUnknownMetric(helper, name));
  return metric;
}

/**
 * Reads one number of a metric straight from the application's own registry, without rendering
 * or parsing the exposition: the sum of the series whose labels include every pair of `labels`
 * (the registry's default labels count as labels), or `undefined` when no series matches (a
 * labelled counter that never counted, a gauge never set).
 *
 * A label the metric does not have, a bucket it does not have, or `options` on a counter or a
 * gauge throw: a typo fails the test instead of reading `undefined`.
 *
 * @example
 * ```ts
 * expect(await getMetricValue(app, VezaMetric.LoginAttempts, { success: 'failure' })).toBe(1);
 * expect(await getMetricValue(app, VezaMetric.HttpRequestDuration, { endpoint: '/tracks/:id' }, { stat: 'count' })).toBe(2);
 * expect(await getMetricValue(app, VezaMetric.FileUploadSize, { type: 'audio' }, { le: 4096 })).toBe(1);
 * ```
 */
export async function getMetricValue<N extends string>(
  app: MetricsHost,
  name: N,
  labels?: N extends VezaMetricName ? VezaMetricLabels<N> : Partial<MetricLabels>,
  options: MetricValueOptions = {},
): Promise<number | undefined> {
  const filter = Object.fromEntries(
    Object.entries(labels ?? {}).filter(([, v]) => v !== undefined),
  ) as MetricLabels;
  const helper = 'getMetricValue';
  const metrics = metricsOf(app, helper);
  const metric = findMetric(metrics, name, helper);
  const info = metricFields(metric);
  const data = (await metric.get()) as unknown as { type: string; values: Sample[] };
  const type = String(data.type);
  const exposed = info.name;

  const defaultLabels = seamOfRegistry(metrics.registry)?.defaultLabelsOf(metrics.registry) ?? {};
  const known = [
    ...info.labelNames,
    ...Object.keys(defaultLabels).filter((l) => !info.labelNames.includes(l)),
  ];
  for (const label of Object.keys(filter)) {
    if (!known.includes(label)) throw new Error(testingUnknownLabel(helper, exposed, label, known));
  }

  const selected = selectSeries(exposed, type, info, options, helper);
  let sum: number | undefined;
  for (const sample of data.values) {
    if (!selected(sample)) continue;
    const all = { ...defaultLabels, ...sample.labels };
    if (!Object.entries(filter).every(([k, v]) => all[k] !== undefined && String(all[k]) === String(v)))
      continue;
    sum = (sum ?? 0) + sample.value;
  }
  return sum;
}

/** Which of a metric's samples `options` designates. */
function selectSeries(
  name: string,
  type: string,
  info: { buckets?: readonly number[]; quantiles?: readonly number[] },
  options: MetricValueOptions,
  helper: string,
): (sample: Sample) => boolean {
  const given = Object.keys(options).filter((k) => options[k as keyof MetricValueOptions] !== undefined);
  const invalid = (problem: string): Error => new Error(testingInvalidSelector(helper, name, type, problem));
  if (type === 'counter' || type === 'gauge') {
    if (given.length > 0)
      throw invalid(`options { ${given.join(', ')} } apply to histograms and summaries only`);
    return () => true;
  }
  if (given.length > 1) throw invalid(`give one of stat, le or quantile, not ${given.join(' and ')}`);
  const { stat = 'count', le, quantile } = options;
  if (stat !== 'count' && stat !== 'sum')
    throw invalid(`stat must be "count" or "sum", not ${JSON.stringify(stat)}`);
  if (le !== undefined) {
    if (type !== 'histogram') throw invalid('"le" (a bucket) applies to histograms only');
    const bounds = [...(info.buckets ?? []), '+Inf'];
    if (!bounds.some((b) => String(b) === String(le)))
      throw invalid(`it has no bucket le=${String(le)} (buckets: ${bounds.join(', ')})`);
    return (s) => s.metricName === `${name}_bucket` && String(s.labels.le) === String(le);
  }
  if (quantile !== undefined) {
    if (type !== 'summary') throw invalid('"quantile" applies to summaries only');
    if (!(info.quantiles ?? []).includes(quantile)) {
      throw invalid(
        `it has no quantile ${String(quantile)} (quantiles: ${(info.quantiles ?? []).join(', ')})`,
      );
    }
    return (s) => s.metricName === undefined && Number(s.labels.quantile) === quantile;
  }
  return (s) => s.metricName === `${name}_${stat}`;
}

/** The exposed type of a metric, for the matchers. */
export function metricType(metric: Metric): string {
  return (metric as unknown as { type?: string }).type ?? 'untyped';
}
