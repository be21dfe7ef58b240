import type { AnyMetric, MetricsRegistry } from '../compat/client-types';
import { metricFields, type ClientClasses } from '../compat/metrics-client';
import type { VezaMetricDefinition } from '../catalog/catalog';

/** A catalog row as it is exposed under the chosen naming and bucket overrides. */
export interface ExposedDefinition {
  readonly catalogName: string;
  readonly name: string;
  readonly kind: VezaMetricDefinition['kind'];
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly buckets?: readonly number[];
  /** Multiplies what the helpers observe (milliseconds to seconds under strict naming). */
  readonly scale: number;
}

const roundBound = (b: number): number => Number(b.toPrecision(12));

/** Applies the naming mode and the bucket overrides to a catalog row. */
export function exposedDefinition(
  def: VezaMetricDefinition,
  naming: 'seed' | 'strict',
  bucketOverrides: Readonly<Record<string, readonly number[]>>,
): ExposedDefinition {
  const strict = naming === 'strict' ? def.strict : undefined;
  const scale = strict?.scale ?? 1;
  const override = bucketOverrides[def.name];
  const buckets = def.buckets && (override ?? def.buckets.map((b) => roundBound(b * scale)));
  return {
    catalogName: def.name,
    name: strict?.name ?? def.name,
    kind: def.kind,
    help: strict?.help ?? def.help,
    labelNames: def.labelNames,
    ...(buckets ? { buckets } : {}),
    scale,
  };
}

/** `counter{method,endpoint,status} "help"`: how clash messages show a definition. */
export function describeDefinition(d: {
  kind: string;
  labelNames: readonly string[];
  buckets?: readonly number[];
  help: string;
}): string {
  const buckets = d.buckets ? ` buckets [${d.buckets.join(', ')}]` : '';
  return `${d.kind}{${d.labelNames.join(',')}}${buckets} "${d.help}"`;
}

/** The definition of a metric some other code registered, read off the client's object (C1 of its seam). */
export function definitionOf(metric: AnyMetric): {
  kind: string;
  labelNames: string[];
  buckets?: number[];
  help: string;
} {
  const m = metricFields(metric);
  return {
    kind: m.type,
    labelNames: [...m.labelNames],
    ...(m.buckets ? { buckets: [...m.buckets] } : {}),
    help: m.help,
  };
}

/** True when an existing metric has exactly the catalog's type, labels, buckets and help. */
export function sameDefinition(existing: AnyMetric, wanted: ExposedDefinition): boolean {
  const d = definitionOf(existing);
  const sameLabels =
    d.labelNames.length === wanted.labelNames.length &&
    wanted.labelNames.every((l) => d.labelNames.includes(l));
  const sameBuckets =
    (d.buckets === undefined && wanted.buckets === undefined) ||
    (d.buckets !== undefined &&
      wanted.buckets !== undefined &&
      d.buckets.length === wanted.buckets.length &&
      d.buckets.every((b, i) => b === wanted.buckets?.[i]));
  return d.kind === wanted.kind && sameLabels && sameBuckets && d.help === wanted.help;
}

/** Creates the metric of a definition in `registry`, with the classes of the registry's client. */
export function createMetric(
  client: ClientClasses,
  def: ExposedDefinition,
  registry: MetricsRegistry,
  enableExemplars = false,
): AnyMetric {
  const { Counter, Gauge, Histogram } = client;
  const common = { name: def.name, help: def.help, labelNames: [...def.labelNames], registers: [registry] };
  switch (def.kind) {
    case 'counter':
      return new Counter(common);
    case 'gauge':
      return new Gauge(common);
    case 'histogram':
      if (!enableExemplars) return new Histogram({ ...common, buckets: [...(def.buckets ?? [])] });
      {
        // Both clients only allow exemplars on metrics created in OpenMetrics registries; this module
        // renders both formats itself, so the histogram is created apart and registered afterwards.
        const histogram = new Histogram({
          ...common,
          registers: [],
          buckets: [...(def.buckets ?? [])],
          enableExemplars: true,
        });
        registry.registerMetric(histogram);
        return histogram;
      }
  }
}
