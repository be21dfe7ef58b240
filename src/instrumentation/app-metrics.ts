import type { AnyMetric as Metric, MetricsRegistry as Registry } from '../compat/client-types';
import { globalRegistries, selectClient, type ClientClasses } from '../compat/metrics-client';
import { definitionOf, describeDefinition } from '../registry/metric-definition';
import { appMetricClash, appMetricConflict } from '../veza-metrics.messages';
import type { AppMetricDefinition } from './instrument';
import type { NativeHistogramConfig } from '../native/native-histogram';

/** Metrics created by generic decorators in any application, with how many applications use each. */
const createdByDecorators = new WeakMap<Metric, { definition: AppMetricDefinition; users: number }>();

const sameDefinition = (a: AppMetricDefinition, b: AppMetricDefinition): boolean =>
  a.kind === b.kind &&
  a.help === b.help &&
  a.labelNames.length === b.labelNames.length &&
  a.labelNames.every((l) => b.labelNames.includes(l)) &&
  JSON.stringify(a.buckets ?? null) === JSON.stringify(b.buckets ?? null) &&
  JSON.stringify(a.native ?? null) === JSON.stringify(b.native ?? null);

/** As clash messages show it; a histogram's own native setting after its buckets. */
const describe = (d: AppMetricDefinition): string => {
  const { native } = d;
  if (native === undefined) return describeDefinition(d);
  const setting =
    native === false
      ? 'nativeHistogram false'
      : `nativeHistogram { schema ${native.schema}, maxBuckets ${native.maxBuckets}, zeroThreshold ${native.zeroThreshold}, minResetInterval ${native.minResetIntervalMs} }`;
  return `${describeDefinition(d)} ${setting}`;
};

/**
 * The metrics `@Counted`, `@Timed` and `@InProgress` create in one application's registry. Methods
 * that declare the same metric identically share it; two different definitions of one name, or a
 * name something else already registered, fail the start-up with both sides named. Removed from the
 * registry when the application closes (a registry the application brought outlives it).
 */
export class AppMetrics {
  private readonly created = new Map<
    string,
    { metric: Metric; definition: AppMetricDefinition; where: string }
  >();

  constructor(
    private readonly registry: Registry,
    /**
     * Puts a new metric under the application's series cap and run-time safety (a histogram with
     * its own native setting, or the module's).
     */
    private readonly protect: (metric: Metric, native?: NativeHistogramConfig | false) => void = () =>
      undefined,
    /** The classes of the registry's client. */
    private readonly client: ClientClasses = selectClient(registry),
  ) {}

  get(definition: AppMetricDefinition, decorator: string, place: string): Metric {
    const where = `${decorator} on "${place}"`;
    const mine = this.created.get(definition.name);
    if (mine) {
      if (!sameDefinition(mine.definition, definition)) {
        throw new Error(
          appMetricConflict(
            definition.name,
            mine.where,
            describe(mine.definition),
            where,
            describe(definition),
          ),
        );
      }
      return mine.metric;
    }
    const existing =
      this.registry.getSingleMetric(definition.name) ??
      globalRegistries()
        .filter((r) => r !== this.registry)
        .map((r) => r.getSingleMetric(definition.name))
        .find((m) => m !== undefined);
    let metric: Metric;
    if (existing) {
      const shared = createdByDecorators.get(existing);
      if (
        !shared ||
        !sameDefinition(shared.definition, definition) ||
        this.registry.getSingleMetric(definition.name) !== existing
      ) {
        throw new Error(
          appMetricClash(
            where,
            definition.name,
            describe(definition),
            describeDefinition(definitionOf(existing)),
          ),
        );
      }
      shared.users += 1;
      metric = existing;
    } else {
      metric = create(this.client, definition, this.registry);
      this.protect(metric, definition.native);
      createdByDecorators.set(metric, { definition, users: 1 });
    }
    this.created.set(definition.name, { metric, definition, where });
    return metric;
  }

  /** The application closes: its metrics leave the registry once no other application uses them. */
  release(): void {
    for (const { metric, definition } of this.created.values()) {
      const shared = createdByDecorators.get(metric);
      if (shared && --shared.users > 0) continue;
      if (this.registry.getSingleMetric(definition.name) === metric)
        this.registry.removeSingleMetric(definition.name);
    }
    this.created.clear();
  }
}

function create(
  { Counter, Gauge, Histogram }: ClientClasses,
  d: AppMetricDefinition,
  registry: Registry,
): Metric {
  const common = { name: d.name, help: d.help, labelNames: [...d.labelNames], registers: [registry] };
  if (d.kind === 'counter') return new Counter(common);
  if (d.kind === 'gauge') return new Gauge(common);
  return new Histogram({ ...common, ...(d.buckets ? { buckets: [...d.buckets] } : {}) });
}
