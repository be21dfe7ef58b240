import type { MetricsRegistry as Registry } from '../compat/client-types';
import { seamOfRegistry } from '../compat/metrics-client';
import { VEZA_CATALOG } from '../catalog/catalog';
import { invalidLabelName, invalidOption, unknownOption } from '../veza-metrics.messages';
import type { VezaMetricsModuleOptions } from './veza-metrics-options.interface';
import { resolveCardinalityOptions, type ResolvedCardinalityOptions } from './resolve-cardinality-options';
import { resolveEndpointOptions, type ResolvedEndpointOptions } from './resolve-endpoint-options';
import { resolvePushgatewayOptions, type ResolvedPushgatewayOptions } from '../push/pushgateway-options';
import { checkKeys, isLabelName, isPlainObject } from './option-checks';
import { resolveRpcOptions, type ResolvedRpcOptions } from '../rpc/rpc-options';
import { resolveQueueOptions, type ResolvedQueueOptions } from '../queues/queue-options';
import { resolveGraphqlOptions, type ResolvedGraphqlOptions } from '../graphql/graphql-options';

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

const KNOWN_KEYS = [
  'path',
  'defaultMetrics',
  'defaultLabels',
  'registry',
  'buckets',
  'statusLabel',
  'naming',
  'http',
  'appEndpoint',
  'metricsServer',
  'auth',
  'scrape',
  'cardinality',
  'exemplars',
  'pushgateway',
  'cluster',
  'graphql',
  'rpc',
  'queues',
] as const;
const HISTOGRAMS = VEZA_CATALOG.filter((d) => d.kind === 'histogram').map((d) => d.name);
const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Validates the module's options and fills in the defaults. Throws one clear error, naming the
 * option and what it expects, on the first mistake: this runs while the application starts.
 */
export function resolveOptions(
  input: VezaMetricsModuleOptions | undefined | null,
): ResolvedVezaMetricsOptions {
  const options: unknown = input ?? {};
  if (!isPlainObject(options)) throw new Error(invalidOption('options', 'an object', options));
  checkKeys('', options, KNOWN_KEYS);

  const path = options.path ?? '/metrics';
  if (typeof path !== 'string' || !/^\/[^\s?#]*$/.test(path) || path.length < 2) {
    throw new Error(
      invalidOption(
        'path',
        'a non-empty absolute path such as "/metrics" (no spaces, query or fragment)',
        path,
      ),
    );
  }

  const defaultMetrics = resolveDefaultMetrics(options.defaultMetrics);
  const defaultLabels = resolveDefaultLabels(options.defaultLabels);

  const registry = options.registry;
  if (registry !== undefined && seamOfRegistry(registry) === undefined) {
    throw new Error(
      invalidOption(
        'registry',
        'a Registry of prom-client or of @prometheus-io/client (new Registry())',
        registry,
      ),
    );
  }

  const buckets = resolveBuckets(options.buckets);

  const statusLabel = options.statusLabel ?? 'class';
  if (statusLabel !== 'class' && statusLabel !== 'code') {
    throw new Error(
      invalidOption('statusLabel', '"class" (2xx, 4xx, ...) or "code" (200, 404, ...)', statusLabel),
    );
  }
  const naming = options.naming ?? 'seed';
  if (naming !== 'seed' && naming !== 'strict') {
    throw new Error(
      invalidOption(
        'naming',
        '"seed" (the catalog\'s names) or "strict" (Prometheus\' naming rules)',
        naming,
      ),
    );
  }

  return {
    path,
    defaultMetrics,
    defaultLabels,
    registry: registry as Registry | undefined,
    buckets,
    statusLabel,
    naming,
    http: resolveHttp(options.http),
    endpoint: resolveEndpointOptions(options),
    cardinality: resolveCardinalityOptions(options.cardinality),
    exemplars: resolveBoolean('exemplars', options.exemplars, true),
    pushgateway: resolvePushgatewayOptions(options.pushgateway),
    cluster: resolveCluster(options.cluster),
    graphql: resolveGraphqlOptions(options.graphql),
    rpc: resolveRpcOptions(options.rpc),
    queues: resolveQueueOptions(options.queues),
  };
}

function resolveDefaultMetrics(value: unknown): ResolvedVezaMetricsOptions['defaultMetrics'] {
  if (value === undefined || value === true) return { enabled: true, prefix: '' };
  if (value === false) return { enabled: false, prefix: '' };
  if (!isPlainObject(value))
    throw new Error(invalidOption('defaultMetrics', 'true, false or { enabled?, prefix? }', value));
  checkKeys('defaultMetrics', value, ['enabled', 'prefix']);
  const enabled = value.enabled ?? true;
  if (typeof enabled !== 'boolean')
    throw new Error(invalidOption('defaultMetrics.enabled', 'a boolean', enabled));
  const prefix = value.prefix ?? '';
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_PREFIX.test(prefix))) {
    throw new Error(
      invalidOption(
        'defaultMetrics.prefix',
        'a metric name prefix such as "veza_" (letters, digits, _ and :)',
        prefix,
      ),
    );
  }
  return { enabled, prefix };
}

function resolveDefaultLabels(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (!isPlainObject(value))
    throw new Error(invalidOption('defaultLabels', 'an object of label names to string values', value));
  for (const [name, labelValue] of Object.entries(value)) {
    if (!isLabelName(name)) {
      throw new Error(invalidLabelName('defaultLabels', name));
    }
    if (typeof labelValue !== 'string')
      throw new Error(invalidOption(`defaultLabels.${name}`, 'a string', labelValue));
  }
  return { ...(value as Record<string, string>) };
}

function resolveBuckets(value: unknown): Record<string, readonly number[]> {
  if (value === undefined) return {};
  if (!isPlainObject(value))
    throw new Error(invalidOption('buckets', 'an object of histogram names to bucket arrays', value));
  const out: Record<string, readonly number[]> = {};
  for (const [name, bounds] of Object.entries(value)) {
    if (!HISTOGRAMS.includes(name)) throw new Error(unknownOption(`buckets.${name}`, HISTOGRAMS));
    const valid =
      Array.isArray(bounds) &&
      bounds.length > 0 &&
      bounds.every(
        (b, i) => typeof b === 'number' && Number.isFinite(b) && (i === 0 || b > (bounds[i - 1] as number)),
      );
    if (!valid)
      throw new Error(
        invalidOption(
          `buckets.${name}`,
          'a non-empty array of finite numbers in strictly increasing order',
          bounds,
        ),
      );
    out[name] = Object.freeze([...(bounds as number[])]);
  }
  return out;
}

function resolveHttp(value: unknown): ResolvedVezaMetricsOptions['http'] {
  if (value === undefined || value === true) return { enabled: true, exclude: [] };
  if (value === false) return { enabled: false, exclude: [] };
  if (!isPlainObject(value))
    throw new Error(invalidOption('http', 'true, false or { enabled?, exclude? }', value));
  checkKeys('http', value, ['enabled', 'exclude']);
  const enabled = value.enabled ?? true;
  if (typeof enabled !== 'boolean') throw new Error(invalidOption('http.enabled', 'a boolean', enabled));
  const exclude = value.exclude ?? [];
  if (!Array.isArray(exclude) || !exclude.every((p) => typeof p === 'string' && p.startsWith('/'))) {
    throw new Error(invalidOption('http.exclude', 'an array of route templates starting with "/"', exclude));
  }
  return { enabled, exclude: [...(exclude as string[])] };
}

function resolveCluster(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') throw new Error(invalidOption('cluster', 'a boolean', value));
  return value;
}

function resolveBoolean(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new Error(invalidOption(option, 'a boolean', value));
  return value;
}
