import { VezaMetric } from '../catalog/catalog';
import { definitionOf, describeDefinition } from '../registry/metric-definition';
import type { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { metricClash } from '../veza-metrics.messages';

/** The names of the GraphQL families (library metrics, not rows of the seed's catalog). */
export const GraphqlMetric = {
  Operations: 'veza_graphql_operations_total',
  OperationDuration: 'veza_graphql_operation_duration_seconds',
  ResolverDuration: 'veza_graphql_resolver_duration_seconds',
  ResolverErrors: 'veza_graphql_resolver_errors_total',
  SubscriptionsActive: 'veza_graphql_subscriptions_active',
  SubscriptionEvents: 'veza_graphql_subscription_events_total',
} as const;

/** A metric of the application's client, as the recorder uses it (both clients have this shape). */
export type FamilyMetric = object;

export interface Family {
  readonly name: string;
  readonly kind: 'counter' | 'gauge' | 'histogram';
  readonly help: string;
  readonly labelNames: readonly string[];
}

/** One row per family: its kind, help and labels (histograms take the HTTP buckets, see {@link graphqlFamily}). */
const family = (name: string, kind: Family['kind'], help: string, ...labelNames: string[]): Family => ({
  name,
  kind,
  help,
  labelNames,
});

export const OPERATIONS = family(
  GraphqlMetric.Operations,
  'counter',
  'Total number of GraphQL operations',
  'operation_type',
  'operation_name',
  'outcome',
);
export const OPERATION_DURATION = family(
  GraphqlMetric.OperationDuration,
  'histogram',
  'GraphQL operation duration in seconds',
  'operation_type',
  'operation_name',
);
export const RESOLVER_DURATION = family(
  GraphqlMetric.ResolverDuration,
  'histogram',
  'GraphQL resolver duration in seconds',
  'parent_type',
  'field',
);
export const RESOLVER_ERRORS = family(
  GraphqlMetric.ResolverErrors,
  'counter',
  'Total number of GraphQL resolver errors',
  'parent_type',
  'field',
  'error_type',
);
export const SUBSCRIPTIONS_ACTIVE = family(
  GraphqlMetric.SubscriptionsActive,
  'gauge',
  'Number of active GraphQL subscriptions',
  'field',
);
export const SUBSCRIPTION_EVENTS = family(
  GraphqlMetric.SubscriptionEvents,
  'counter',
  'Total number of GraphQL subscription events',
  'field',
);

type MetricClass = new (config: Record<string, unknown>) => FamilyMetric;

/**
 * The family `family` in the application's registry, under the series guard (cap, sanitised values,
 * nothing thrown): created with the classes of the registry's own client (read off the catalog's
 * HTTP metrics, so either client works), histograms with the HTTP buckets; found again when a
 * registry shared by several applications already holds it with the same definition.
 */
export function graphqlFamily(
  metrics: VezaMetricsRegistry,
  httpBuckets: readonly number[] | undefined,
  family: Family,
): FamilyMetric {
  const buckets = family.kind === 'histogram' ? [...(httpBuckets ?? [])] : undefined;
  const wanted = {
    kind: family.kind,
    labelNames: family.labelNames,
    help: family.help,
    ...(buckets ? { buckets } : {}),
  };
  const existing = metrics.registry.getSingleMetric(family.name) as FamilyMetric | undefined;
  let metric: FamilyMetric;
  if (existing) {
    const found = definitionOf(existing as never);
    const same =
      found.kind === wanted.kind &&
      found.help === wanted.help &&
      found.labelNames.join(',') === wanted.labelNames.join(',') &&
      (found.buckets ?? []).join(',') === (wanted.buckets ?? []).join(',');
    if (!same)
      throw new Error(metricClash(family.name, describeDefinition(wanted), describeDefinition(found)));
    metric = existing;
  } else {
    const sample = metrics.get(
      family.kind === 'counter'
        ? VezaMetric.HttpRequestsTotal
        : family.kind === 'gauge'
          ? VezaMetric.WebSocketConnectionsActive
          : VezaMetric.HttpRequestDuration,
    );
    const Class = (Object.getPrototypeOf(sample) as { constructor: MetricClass }).constructor;
    metric = new Class({
      name: family.name,
      help: family.help,
      labelNames: [...family.labelNames],
      registers: [metrics.registry],
      ...(buckets ? { buckets } : {}),
    });
  }
  metrics.protect(metric as never);
  return metric;
}
