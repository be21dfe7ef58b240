import {
  Inject,
  Logger,
  Module,
  type DynamicModule,
  type FactoryProvider,
  type NestModule,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { VEZA_CATALOG } from './catalog/catalog';
import { MetricsEndpoint } from './endpoint/metrics-endpoint';
import { MetricsScraper } from './endpoint/metrics-scraper';
import { MetricsServer } from './endpoint/metrics-server';
import { VezaMetricsExplorer } from './instrumentation/metrics-explorer';
import { HttpMetricsRecorder } from './http/http-metrics.recorder';
import { WebSocketMetricsRecorder } from './websocket/websocket-metrics.recorder';
import { RpcMetricsRecorder } from './rpc/rpc-metrics.recorder';
import { QueueMetricsRecorder } from './queues/queue-metrics.recorder';
import { GraphqlMetricsRecorder } from './graphql/graphql-metrics.recorder';
import { CacheMetricsRecorder } from './cache/cache-metrics.recorder';
import { HealthCheckRecorder } from './health/health-check.recorder';
import { OutboundMetricsRecorder } from './outbound/outbound-metrics.recorder';
import { DatabaseMetricsRecorder } from './database/database-metrics.recorder';
import { PrismaMetricsRecorder } from './database/prisma-metrics.recorder';
import { TypeormMetrics } from './database/typeorm-metrics';
import { getMetricToken } from './inject-metric.decorator';
import {
  resolveOptions,
  type ResolvedVezaMetricsOptions,
  type VezaMetricsModuleOptions,
} from './veza-metrics.options';
import { exposureWarnings } from './options/exposure-warnings';
import { InjectVezaMetricsOptions, VEZA_METRICS_RESOLVED_OPTIONS } from './options/inject-options';
import { AppRegistry } from './registry/app-registry';
import { CatalogDefinitions } from './registry/catalog-definitions';
import { DefaultMetrics } from './registry/default-metrics';
import { SelfMetrics } from './registry/self-metrics';
import { VezaMetricsRegistry } from './registry/veza-metrics.registry';
import { MetricsExposition } from './exposition/metrics-exposition';
import { ExemplarTraces } from './tracing/exemplar-traces';
import { VEZA_METRICS_OPTIONS, VezaMetricsConfigurableModule } from './veza-metrics.module-definition';
import { VezaMetricsService } from './veza-metrics.service';
import { MetricsPusher } from './push/metrics-pusher';
import { RemoteWriter } from './push/remote-writer';
import { ClusterWorkerMetrics } from './cluster/cluster-worker';
import { Pm2Metrics } from './pm2/pm2-metrics';

/** One provider per catalog metric, under its seed name and (where it differs) its strict name. */
const metricProviders: FactoryProvider[] = VEZA_CATALOG.flatMap((row) =>
  [row.name, ...(row.strict ? [row.strict.name] : [])].map((token) => ({
    provide: getMetricToken(token),
    useFactory: (metrics: VezaMetricsRegistry) => metrics.get(row.name as never),
    inject: [VezaMetricsRegistry],
  })),
);

/**
 * The whole Veza metric catalog in one import: every metric registered in the application's own
 * registry and injectable with `@InjectMetric(name)`, HTTP requests recorded, `VezaMetricsService`
 * with the seed's helpers, and the exposition served at `/metrics`.
 *
 * @example
 * ```ts
 * @Module({ imports: [VezaMetricsModule.forRoot({ defaultLabels: { service: 'veza-api' } })] })
 * export class AppModule {}
 *
 * // or, from configuration:
 * VezaMetricsModule.forRootAsync({
 *   imports: [ConfigModule],
 *   inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({ path: config.get('METRICS_PATH', '/metrics') }),
 * })
 * ```
 */
@Module({
  providers: [
    {
      provide: VEZA_METRICS_RESOLVED_OPTIONS,
      useFactory: (options: VezaMetricsModuleOptions) => resolveOptions(options),
      inject: [VEZA_METRICS_OPTIONS],
    },
    // One provider per role: the client and its registry, the catalog's definitions, the
    // library's self-metrics and series guard, the default metrics, the exposition, exemplars'
    // trace reader; the catalog itself (VezaMetricsRegistry) is built from them.
    AppRegistry,
    CatalogDefinitions,
    SelfMetrics,
    DefaultMetrics,
    MetricsExposition,
    ExemplarTraces,
    VezaMetricsRegistry,
    ...metricProviders,
    VezaMetricsService,
    HttpMetricsRecorder,
    // Counts gateway connections and @SubscribeMessage() messages (when @nestjs/websockets is installed).
    WebSocketMetricsRecorder,
    // Counts @MessagePattern() / @EventPattern() messages of every microservice server of the app (option `rpc`).
    RpcMetricsRecorder,
    // Counts the job attempts of @nestjs/bullmq processors and reads queue depths at scrape time (option `queues`).
    QueueMetricsRecorder,
    // Records GraphQL operations and resolvers (when @nestjs/graphql serves a schema; option `graphql`).
    GraphqlMetricsRecorder,
    // Counts the reads of @nestjs/cache-manager caches as hits and misses (option `cache`).
    CacheMetricsRecorder,
    // Times every indicator of every @nestjs/terminus HealthCheckService.check() (option `health`).
    HealthCheckRecorder,
    // Counts outbound HTTP requests (fetch/undici, node:http/https) through diagnostics channels (option `outbound`).
    OutboundMetricsRecorder,
    // Records the queries of the application's ORMs (TypeORM, Prisma) in the database families (option `database`).
    DatabaseMetricsRecorder,
    // Hooks the application's Prisma clients into it (option `database.prisma`).
    PrismaMetricsRecorder,
    // Hears every statement of the app's TypeORM DataSources (a subscriber in each; option `database.typeorm`).
    TypeormMetrics,
    // Pushes to a Pushgateway (option `pushgateway`); answers the cluster primary (option `cluster`).
    MetricsPusher,
    // Sends the samples to a remote-write receiver (option `remoteWrite`).
    RemoteWriter,
    ClusterWorkerMetrics,
    Pm2Metrics,
    MetricsScraper,
    MetricsEndpoint,
    MetricsServer,
    // Binds the decorated methods (@CountLogin, @Timed, ...) of this application's instances to its metrics.
    VezaMetricsExplorer,
  ],
  exports: [VezaMetricsRegistry, VezaMetricsService, MetricsServer, ...metricProviders.map((p) => p.provide)],
})
export class VezaMetricsModule
  extends VezaMetricsConfigurableModule
  implements NestModule, OnApplicationBootstrap
{
  /** @internal Nest's injector builds the module. */
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @InjectVezaMetricsOptions() private readonly options: ResolvedVezaMetricsOptions,
    private readonly recorder: HttpMetricsRecorder,
    private readonly endpoint: MetricsEndpoint,
    @Inject(VEZA_METRICS_OPTIONS) private readonly givenOptions: unknown,
    private readonly server: MetricsServer,
  ) {
    super();
    if (options.http.enabled) this.reserveServer();
  }

  /**
   * Lets the recorder take its place in the HTTP server before Nest connects gateways (Socket.IO
   * wraps the server's listener then): now when the adapter is known (`NestFactory.create`), else as
   * soon as it is set (`HttpAdapterHost.init$`, public since Nest 10.2: a testing module builds the
   * module before the application). Without `init$`, the recorder hooks the server at `configure()`.
   */
  private reserveServer(): void {
    const host = this.adapterHost as (HttpAdapterHost & { init$?: Observable<void> }) | undefined;
    if (host === undefined || host === null) return;
    if (host.httpAdapter !== undefined) {
      this.recorder.reserve(host.httpAdapter);
      return;
    }
    host.init$?.subscribe(() => {
      if (host.httpAdapter !== undefined) this.recorder.reserve(host.httpAdapter);
    });
  }

  /** Says, once per application, when `/metrics` is served nowhere or on both ports (see `appEndpoint`). */
  onApplicationBootstrap(): void {
    const logger = new Logger('VezaMetrics');
    const http = this.adapterHost?.httpAdapter !== undefined;
    for (const warning of exposureWarnings(
      this.givenOptions,
      this.options,
      http,
      this.server.address()?.port,
    )) {
      logger.warn(warning);
    }
  }

  /**
   * Registers the catalog with `options` (all optional). The module is global unless
   * `isGlobal: false` is given.
   */
  static override forRoot(options: VezaMetricsModuleOptions & { isGlobal?: boolean } = {}): DynamicModule {
    return super.forRoot(options);
  }

  /**
   * Nest calls this while it sets up an HTTP application, before it registers any route: the moment
   * to hook the adapter, so that the recorder sees every request and `/metrics` is routed.
   */
  configure(): void {
    const adapter = this.adapterHost?.httpAdapter;
    if (!adapter) return;
    if (this.options.http.enabled) this.recorder.attach(adapter);
    this.endpoint.register(adapter);
  }
}
