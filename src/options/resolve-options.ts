import type { MetricsRegistry as Registry } from '../compat/client-types';
import { seamOfRegistry } from '../compat/metrics-client';
import { VEZA_CATALOG } from '../catalog/catalog';
import type { DefaultMetricsOptions, HttpMetricsOptions } from './veza-metrics-options.interface';
import { cardinalityRule, type ResolvedCardinalityOptions } from './resolve-cardinality-options';
import { endpointRules, type ResolvedEndpointOptions } from './resolve-endpoint-options';
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
  type Resolved,
  type Rule,
} from './option-schema';

/**
 * The options every part of the module reads, after validation, with every default filled in. A
 * feature's own options (`pushgateway`, `cluster`, `graphql`, `rpc`, `queues`) are its folder's: the
 * feature hands its rule down to the top (src/veza-metrics.options.ts) and reads its part through
 * {@link ResolvedOptions}.
 */
export interface ResolvedCoreOptions {
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
}

/**
 * The resolved options as a feature reads them: the core ones and its own part `F`, e.g.
 * `ResolvedOptions<{ rpc: ResolvedRpcOptions }>` (the module's schema, composed at the top from every
 * feature's rule, fills every feature's part).
 */
export type ResolvedOptions<F extends object = object> = ResolvedCoreOptions & Readonly<F>;

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
 * The rules of the options every part reads, in the order they are listed in the "unknown option"
 * message and checked (the features' rules follow them).
 */
export const CORE_OPTION_RULES = {
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
      if (!HISTOGRAMS.includes(name)) throw new Error(at.messages.unknown(`${at.path}.${name}`, HISTOGRAMS));
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
} as const;

type CoreRules = typeof CORE_OPTION_RULES;

/**
 * Validates the module's options against `schema` (the top composes it: {@link CORE_OPTION_RULES}
 * followed by each feature's rule, from the feature's own folder, so that this folder knows no
 * feature) and fills in the defaults. Throws one clear error, naming the option and what it
 * expects, on the first mistake: this runs while the application starts.
 */
export function resolveModuleOptions<F extends object>(
  schema: Rule<Resolved<CoreRules> & F>,
  input: unknown,
): ResolvedOptions<F> {
  const { appEndpoint, metricsServer, auth, scrape, ...rest } = schema.resolve(
    input ?? {},
    { path: '', messages: MODULE_MESSAGES },
    {},
  );
  const endpoint: ResolvedEndpointOptions = { app: appEndpoint, server: metricsServer, auth, scrape };
  return { ...rest, endpoint } as unknown as ResolvedOptions<F>;
}
