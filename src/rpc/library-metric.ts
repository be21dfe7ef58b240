import { metricFields, type MetricFields } from '../compat/metrics-client';
import { type CounterCell, type HistogramCell } from '../http/metric-cells';
import type { AppRegistry } from '../registry/app-registry';
import type { SelfMetrics } from '../registry/self-metrics';
import { metricClash } from '../veza-metrics.messages';

/** A counter as `CounterCell` takes it (whichever client the registry is of). */
export type LibraryCounter = ConstructorParameters<typeof CounterCell<string>>[0];
/** A histogram as `HistogramCell` takes it. */
export type LibraryHistogram = ConstructorParameters<typeof HistogramCell<string>>[0];

interface Definition {
  readonly name: string;
  readonly kind: 'counter' | 'histogram' | 'gauge';
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly buckets?: readonly number[];
}

type Ctor = new (config: Record<string, unknown>) => unknown;
interface Classes {
  Counter: Ctor;
  Gauge: Ctor;
  Histogram: Ctor;
}

/** The metric classes of the registry's client (src/compat/metrics-client.ts). */
function classesOf(app: AppRegistry): Classes {
  return app.client as unknown as Classes;
}

type Readable = Pick<MetricFields, 'type' | 'help' | 'labelNames' | 'buckets'>;

function describe(d: Readable): string {
  return `${d.type}{${[...d.labelNames].join(',')}}${d.buckets ? ` [${d.buckets.join(',')}]` : ''} "${d.help}"`;
}

/**
 * A family of the library's own (not a Go-catalog row) in the application's registry, under the
 * series guard (`cardinality.maxSeries`, or `cardinality.perMetric[name]`): created once, found
 * again when the registry is shared by several applications, and a clash with a different
 * definition of the name fails the start-up, as for catalog metrics.
 */
export function libraryMetric<T>(app: AppRegistry, self: SelfMetrics, def: Definition): T {
  const registry = app.registry as unknown as { getSingleMetric(name: string): unknown };
  const existing = registry.getSingleMetric(def.name) as object | undefined;
  const wanted: Readable = {
    type: def.kind,
    help: def.help,
    labelNames: def.labelNames,
    ...(def.buckets ? { buckets: def.buckets } : {}),
  };
  if (existing) {
    const found = metricFields(existing);
    const same =
      found.type === def.kind &&
      found.help === def.help &&
      found.labelNames.length === def.labelNames.length &&
      def.labelNames.every((l) => found.labelNames.includes(l)) &&
      (def.buckets === undefined || (found.buckets ?? []).join(',') === def.buckets.join(','));
    if (!same) throw new Error(metricClash(def.name, describe(wanted), describe(found)));
    return existing as T;
  }
  const classes = classesOf(app);
  const Class =
    def.kind === 'counter' ? classes.Counter : def.kind === 'gauge' ? classes.Gauge : classes.Histogram;
  const metric = new Class({
    name: def.name,
    help: def.help,
    labelNames: [...def.labelNames],
    registers: [app.registry],
    ...(def.buckets ? { buckets: [...def.buckets] } : {}),
  });
  self.protect(metric as never);
  return metric as T;
}
