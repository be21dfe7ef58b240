import type { MetricsRegistry as Registry } from '../compat/client-types';
import { seamOfRegistry } from '../compat/metrics-client';
import { VEZA_CATALOG } from '../catalog/catalog';
import type {
  DefaultMetricsOptions,
  HttpMetricsOptions,
  VezaMetricsModuleOptions,
} from './veza-metrics-options.interface';
import { cardinalityRule, type ResolvedCardinalityOptions } from './resolve-cardinality-options';
import { endpointRules, type ResolvedEndpointOptions } from './resolve-endpoint-options';
import { pushgatewayRule, type ResolvedPushgatewayOptions } from '../push/pushgateway-options';
import { rpcRule, type ResolvedRpcOptions } from '../rpc/rpc-options';
import { queuesRule, type ResolvedQueueOptions } from '../queues/queue-options';
import { graphqlRule, type ResolvedGraphqlOptions } from '../graphql/graphql-options';
import {
  boolean,
  bucketList,
  check,
  defaulted,
  labelRecord,
  MODULE_MESSAGES,
  nullAsUnset,
  object,
  oneOf,
  optional,
  record,
  shapeOf,
  toggle,
  type Rule,
} from './option-schema';

/** Options after validation, with every default filled in. */
export interface ResolvedVezaMetricsOptions {
  readonly path: string;
  readonly defaultMetrics: { readonly enabled: boolean; readonly prefix: string };
  readonly defaultLabels: Readonly<Record<string, string>>;
  readonly registry: Registry | undefined;
  readonly buckets: Readonly<Record<string, readonly number[]>>;
  readonly statusLabel: 'class' | 'code';
  readonly naming: 'seed' | 'strict';
  readonly http: { readonly enabled: boolean; readonly exclude: readonly string[] };
  /** Where and how `/metrics` is served: `appEndpoint`, `metricsServer`, `auth`, `scrape`. */
  readonly endpoint: ResolvedEndpointOptions;
  /** Caps on label sets per metric. */
  readonly cardinality: ResolvedCardinalityOptions;
  /** Exemplars (trace ids) on the HTTP duration histogram, when OpenTelemetry's API is installed. */
  readonly exemplars: boolean;
  /** The Pushgateway to push to, if any. */
  readonly pushgateway: ResolvedPushgatewayOptions | undefined;
  /** Answer the cluster primary's aggregation requests (in a cluster worker). */
  readonly cluster: boolean;
  /** GraphQL operations and resolvers (`@nestjs/graphql`). */
  readonly graphql: ResolvedGraphqlOptions;
  /** Microservice handlers (`@MessagePattern`, `@EventPattern`). */
  readonly rpc: ResolvedRpcOptions;
  /** `@nestjs/bullmq` processors and queues. */
  readonly queues: ResolvedQueueOptions;
}

const HISTOGRAMS = VEZA_CATALOG.filter((d) => d.kind === 'histogram').map((d) => d.name);
const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

const defaultMetrics = toggle(
  object(
    shapeOf<DefaultMetricsOptions>()({
      enabled: nullAsUnset(boolean(true)),
      prefix: nullAsUnset(
        check<string>(
          (v) => typeof v === 'string' && (v === '' || METRIC_PREFIX.test(v)),
          'a metric name prefix such as "veza_" (letters, digits, _ and :)',
          '',
        ),
      ),
    }),
    '{ enabled?, prefix? }',
  ),
  'true, false or { enabled?, prefix? }',
);

const http = toggle(
  object(
    shapeOf<HttpMetricsOptions>()({
      enabled: nullAsUnset(boolean(true)),
      exclude: nullAsUnset(
        check<string[]>(
          (v) => Array.isArray(v) && v.every((p) => typeof p === 'string' && p.startsWith('/')),
          'an array of route templates starting with "/"',
          [],
        ),
      ),
    }),
    '{ enabled?, exclude? }',
    { finish: ({ enabled, exclude }) => ({ enabled, exclude: [...exclude] }) },
  ),
  'true, false or { enabled?, exclude? }',
);

const registry: Rule<Registry | undefined> = optional(
  check<Registry>(
    (v) => seamOfRegistry(v) !== undefined,
    'a Registry of prom-client or of @prometheus-io/client (new Registry())',
  ),
);

/**
 * The module's options, one rule per key of {@link VezaMetricsModuleOptions}, in the order they are
 * listed in the "unknown option" message and checked.
 */
export const MODULE_OPTIONS_SCHEMA = object(
  shapeOf<VezaMetricsModuleOptions>()({
    path: nullAsUnset(
      check<string>(
        (v) => typeof v === 'string' && /^\/[^\s?#]*$/.test(v) && v.length >= 2,
        'a non-empty absolute path such as "/metrics" (no spaces, query or fragment)',
        '/metrics',
      ),
    ),
    defaultMetrics,
    defaultLabels: defaulted(labelRecord(), {}),
    registry,
    buckets: defaulted(
      record(bucketList, 'an object of histogram names to bucket arrays', (name, at) => {
        if (!HISTOGRAMS.includes(name))
          throw new Error(at.messages.unknown(`${at.path}.${name}`, HISTOGRAMS));
      }),
      {},
    ),
    statusLabel: nullAsUnset(
      oneOf(['class', 'code'] as const, '"class" (2xx, 4xx, ...) or "code" (200, 404, ...)', 'class'),
    ),
    naming: nullAsUnset(
      oneOf(
        ['seed', 'strict'] as const,
        '"seed" (the catalog\'s names) or "strict" (Prometheus\' naming rules)',
        'seed',
      ),
    ),
    http,
    ...endpointRules,
    cardinality: cardinalityRule,
    exemplars: boolean(true),
    pushgateway: pushgatewayRule,
    cluster: boolean(true),
    graphql: graphqlRule,
    rpc: rpcRule,
    queues: queuesRule,
  }),
  'an object',
);

/**
 * Validates the module's options and fills in the defaults. Throws one clear error, naming the
 * option and what it expects, on the first mistake: this runs while the application starts.
 */
export function resolveOptions(
  input: VezaMetricsModuleOptions | undefined | null,
): ResolvedVezaMetricsOptions {
  const { appEndpoint, metricsServer, auth, scrape, ...rest } = MODULE_OPTIONS_SCHEMA.resolve(
    input ?? {},
    { path: '', messages: MODULE_MESSAGES },
    {},
  );
  return { ...rest, endpoint: { app: appEndpoint, server: metricsServer, auth, scrape } };
}
