/**
 * The module's options as the application gives them, and their schema: the core rules of
 * `options/` followed by each feature's own rule, handed down from the feature's folder (`options/`
 * imports no feature).
 */
import type { MetricsRegistry as Registry } from './compat/client-types';
import type { VezaHistogramName } from './catalog/catalog.types';
import type {
  CardinalityOptions,
  DefaultMetricsOptions,
  HttpMetricsOptions,
  MetricsAuthOptions,
  MetricsServerOptions,
  ScrapeOptions,
} from './options/veza-metrics-options.interface';
import { object, shapeOf, type Resolved } from './options/option-schema';
import { CORE_OPTION_RULES, resolveModuleOptions, type ResolvedOptions } from './options/resolve-options';
import { pushgatewayRule, type PushgatewayOptions } from './push/pushgateway-options';
import { remoteWriteRule, type RemoteWriteOptions } from './push/remote-write-options';
import { clusterRule } from './cluster/cluster-options';
import { pm2Rule, type Pm2MetricsOptions } from './pm2/pm2-options';
import { graphqlRule, type GraphqlMetricsOptions } from './graphql/graphql-options';
import { rpcRule, type RpcMetricsOptions } from './rpc/rpc-options';
import { queuesRule, type QueueMetricsOptions } from './queues/queue-options';
import { cacheRule, type CacheMetricsOptions } from './cache/cache-options';
import { healthRule, type HealthMetricsOptions } from './health/health-options';
import { outboundRule, type OutboundMetricsOptions } from './outbound/outbound-options';
import { databaseRule, type DatabaseMetricsOptions } from './database/database-options';
import { nativeHistogramsRule } from './native/native-options';
import type { NativeHistogramOptions } from './native/native-histogram';

/**
 * Options of {@link VezaMetricsModule}. Every key is optional; an unknown key, or a value of the
 * wrong shape, fails the application's start-up with a message that names it.
 */
export interface VezaMetricsModuleOptions {
  /**
   * Where the exposition is served, on the application's own HTTP server. It is an absolute path:
   * the global prefix does not apply (Prometheus scrapes `/metrics` by default).
   * @defaultValue `'/metrics'`
   */
  path?: string;
  /**
   * Node's default process metrics (`process_*`, `nodejs_*`): `true`, `false`, or `{ prefix }`.
   * @defaultValue `true`
   */
  defaultMetrics?: boolean | DefaultMetricsOptions;
  /**
   * Labels added to every series of the registry, e.g. `{ service: 'veza-api' }`.
   * @defaultValue `{}`
   */
  defaultLabels?: Record<string, string>;
  /**
   * Bring your own `Registry`, of prom-client (^15) or of `@prometheus-io/client` (^0.16): the
   * library then works with that registry's client, and your own metrics in it appear on the same
   * `/metrics`. By default every application gets a registry of its own (of prom-client when it is
   * installed, else of `@prometheus-io/client`), so two applications in one process (or fifty test
   * runs) never share counts nor clash.
   */
  registry?: Registry;
  /**
   * Bucket overrides per catalog histogram, e.g. `{ veza_http_request_duration_seconds: [0.01, 0.1, 1] }`.
   * Boundaries are strictly increasing finite numbers. Under `naming: 'strict'` the health check
   * histogram is in seconds, and its buckets too.
   */
  buckets?: Partial<Record<VezaHistogramName, number[]>>;
  /**
   * The `status` label of `veza_http_requests_total`: the class (`'2xx'`) or the code (`'404'`).
   * @defaultValue `'class'`
   */
  statusLabel?: 'class' | 'code';
  /**
   * `'seed'` keeps the catalog's names exactly (what existing dashboards query); `'strict'` renames
   * the two that break Prometheus' naming rules (`veza_health_check_duration_seconds`, observed in
   * seconds, and `veza_live_stream_viewers`), so that `promtool check metrics` finds nothing.
   * (prom-client's default gauges named `*_total` are left out in both modes.)
   * @defaultValue `'seed'`
   */
  naming?: 'seed' | 'strict';
  /** HTTP request recording. `false` turns it off. @defaultValue `true` */
  http?: boolean | HttpMetricsOptions;
  /**
   * Serve `/metrics` on the application's own HTTP server. It stays `true` when `metricsServer` is
   * set: `/metrics` is then served on both ports (logged once at start-up while `appEndpoint` is left
   * unset); set it to `false` to keep metrics off the application's port. `false` with neither
   * `metricsServer` nor `pushgateway` (nor a cluster primary to answer) serves the metrics nowhere,
   * which is logged as a warning at start-up.
   * @defaultValue `true`
   */
  appEndpoint?: boolean;
  /**
   * Serve `/metrics` on a listener of its own (e.g. `{ port: 9464 }`), with the same path and auth.
   * The application's port serves it too unless `appEndpoint: false`.
   */
  metricsServer?: MetricsServerOptions;
  /** Require a bearer token or basic credentials on `/metrics` (compared in constant time). */
  auth?: MetricsAuthOptions;
  /** Scrape limits: concurrency, whole-scrape and per-source timeouts. */
  scrape?: ScrapeOptions;
  /**
   * Push the metrics to a Prometheus Pushgateway, for batch jobs and cron workers that live shorter
   * than a scrape interval: periodically (`intervalMs`) and once more on shutdown.
   * @defaultValue no push
   */
  pushgateway?: PushgatewayOptions;
  /**
   * Send the samples to a Prometheus remote-write receiver (Prometheus with
   * `--web.enable-remote-write-receiver`, Mimir, Cortex, Thanos, VictoriaMetrics) every `intervalMs`
   * and once more on shutdown: remote write 1.0, for jobs and short-lived services without a
   * Pushgateway (docs/operations.md, "Remote write").
   * @defaultValue no remote write
   */
  remoteWrite?: RemoteWriteOptions;
  /**
   * In a Node `cluster` worker, answer the primary's `ClusterMetricsAggregator` (or
   * `serveClusterMetrics`) with this application's metrics, so the primary serves their sum.
   * Nothing happens in a process that is not a cluster worker.
   * @defaultValue `true`
   */
  cluster?: boolean;
  /**
   * Under pm2's cluster mode (`pm2 start dist/main.js -i 4`), every instance's `/metrics` (and
   * `metricsServer`) serves the sum over every live instance of the app, merged as
   * `serveClusterMetrics` merges a Node cluster's workers; the counters of instances that exit,
   * are killed or reloaded stay in the sum. The instances meet in a directory of local sockets and
   * state files (`directory`). Nothing happens outside pm2's cluster mode; `false` turns it off.
   * docs/operations.md, "pm2".
   * @defaultValue `true`
   */
  pm2?: boolean | Pm2MetricsOptions;
  /**
   * Microservice handlers (`@MessagePattern`, `@EventPattern`) of every transport, standalone and
   * hybrid: `veza_rpc_server_requests_total` and `veza_rpc_server_duration_seconds` (docs/rpc.md).
   * `false` records nothing and hooks nothing.
   * @defaultValue `true`
   */
  rpc?: boolean | RpcMetricsOptions;
  /**
   * `@nestjs/bullmq` processors and queues: `veza_queue_jobs_total`, `veza_queue_job_duration_seconds`
   * and `veza_queue_jobs` (docs/rpc.md#queues-nestjsbullmq). `false` records nothing and hooks nothing.
   * @defaultValue `true`
   */
  queues?: boolean | QueueMetricsOptions;
  /**
   * Caches of `@nestjs/cache-manager` (cache-manager 6/7 with Keyv stores): every read through
   * `CacheInterceptor` or `@Inject(CACHE_MANAGER)` (`get`, `mget`, `wrap`) counts in
   * `veza_cache_hits_total{subsystem}` or `veza_cache_misses_total{subsystem}`, `subsystem` being the
   * cache's Keyv namespace or its store kind (docs/caches.md). `false` records nothing and hooks nothing.
   * @defaultValue `true`
   */
  cache?: boolean | CacheMetricsOptions;
  /**
   * `@nestjs/terminus`: every indicator of every `HealthCheckService.check()`, under its key, in
   * `veza_health_check_duration_ms` (`_seconds` under `naming: 'strict'`) and
   * `veza_health_check_status` (docs/health.md). `false` records nothing and hooks nothing.
   * @defaultValue `true`
   */
  health?: boolean | HealthMetricsOptions;
  /**
   * GraphQL (`@nestjs/graphql`, Apollo and Mercurius drivers): `veza_graphql_operations_total`,
   * `veza_graphql_operation_duration_seconds`, `veza_graphql_resolver_duration_seconds` and
   * `veza_graphql_resolver_errors_total` (docs/graphql.md). `false` turns it off.
   * @defaultValue `true`
   */
  graphql?: boolean | GraphqlMetricsOptions;
  /**
   * Outbound HTTP requests (global `fetch`/undici, `node:http`/`node:https`: axios, `@nestjs/axios`):
   * `veza_http_client_requests_total{method, host, status}` and
   * `veza_http_client_request_duration_seconds{method, host}` (docs/outbound.md); `hosts` names hosts
   * (`{ 'api.stripe.com': 'stripe' }`), `maxHosts` caps the others. `false` records nothing and
   * subscribes to nothing.
   * @defaultValue `true`
   */
  outbound?: boolean | OutboundMetricsOptions;
  /**
   * Database queries of the ORMs the application uses (TypeORM, Prisma), with no code in it:
   * `veza_database_query_duration_seconds`, `veza_database_query_errors_total` and
   * `veza_database_connections_active` (docs/databases.md). `false` records nothing, loads nothing
   * and hooks nothing; `{ typeorm: false }` or `{ prisma: false }` leaves one ORM alone; `maxTables`
   * bounds the `table` label (`<other>` past it).
   * @defaultValue `true`
   */
  database?: boolean | DatabaseMetricsOptions;
  /** Caps on label sets per metric: bounded memory and scrape size whatever the labels. */
  cardinality?: CardinalityOptions;
  /**
   * Exemplars on `veza_http_request_duration_seconds`: when `@opentelemetry/api` is installed and a
   * span is active for the request, its `trace_id` and `span_id` are attached to the observation,
   * and shown to scrapers that ask for OpenMetrics (Prometheus with `--enable-feature=exemplar-storage`).
   * @defaultValue `true` (inert without `@opentelemetry/api`)
   */
  exemplars?: boolean;
  /**
   * Native histograms (Prometheus' sparse, exponential buckets), served in the protobuf exposition
   * beside the classic buckets (which stay as they are, in both formats): `true` for client_golang's
   * defaults (a bucket factor of 1.1, schema 3, a quantile within 9.05 % (the bucket's width); at most 160 buckets
   * per sign a series), or `{ bucketFactor?, maxBuckets?, zeroThreshold?, minResetInterval? }`. Every
   * histogram the library creates gets a native part (the catalog's, GraphQL, RPC, queues, outbound,
   * `@Timed`'s unless it says `nativeHistogram: false`, metrics passed to `protect()`); metrics
   * registered by other code (`@willsoto/nestjs-prometheus`, a client's global registry) and the
   * default metrics stay classic. docs/native-histograms.md.
   * @defaultValue `false` (classic only)
   */
  nativeHistograms?: boolean | NativeHistogramOptions;
}

/** Each feature's option rule, from its own folder, in the order they follow the core options. */
const FEATURE_OPTION_RULES = {
  pushgateway: pushgatewayRule,
  remoteWrite: remoteWriteRule,
  cluster: clusterRule,
  pm2: pm2Rule,
  graphql: graphqlRule,
  rpc: rpcRule,
  queues: queuesRule,
  cache: cacheRule,
  health: healthRule,
  outbound: outboundRule,
  database: databaseRule,
  nativeHistograms: nativeHistogramsRule,
};

/**
 * The module's options, one rule per key of {@link VezaMetricsModuleOptions}, in the order they are
 * listed in the "unknown option" message and checked.
 */
export const MODULE_OPTIONS_SCHEMA = object(
  shapeOf<VezaMetricsModuleOptions>()({ ...CORE_OPTION_RULES, ...FEATURE_OPTION_RULES }),
  'an object',
);

/** Options after validation, with every default filled in: the core ones and every feature's. */
export type ResolvedVezaMetricsOptions = ResolvedOptions<Resolved<typeof FEATURE_OPTION_RULES>>;

/**
 * Validates the module's options and fills in the defaults. Throws one clear error, naming the
 * option and what it expects, on the first mistake: this runs while the application starts.
 */
export function resolveOptions(
  input: VezaMetricsModuleOptions | undefined | null,
): ResolvedVezaMetricsOptions {
  return resolveModuleOptions(MODULE_OPTIONS_SCHEMA, input);
}
