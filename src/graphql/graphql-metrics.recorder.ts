import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost, ModuleRef, ModulesContainer } from '@nestjs/core';
import { markApolloPlugin } from '../compat/nest-graphql';
import { appUsesPeer, loadOptionalPeer } from '../compat/optional-peers';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { CatalogDefinitions } from '../registry/catalog-definitions';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { VezaMetric } from '../catalog/catalog';
import { recordingFailed } from '../veza-metrics.messages';
import {
  graphqlFamily,
  OPERATION_DURATION,
  OPERATIONS,
  RESOLVER_DURATION,
  RESOLVER_ERRORS,
  SUBSCRIPTION_EVENTS,
  SUBSCRIPTIONS_ACTIVE,
  type Family,
  type FamilyMetric,
} from './graphql-families';
import { followSubscriptions } from './subscription-tracking';
import type { ResolvedGraphqlOptions } from './graphql-options';
import { apolloOutcome, type ApolloRequestContext } from './apollo-outcome';
import { observeMercurius } from './mercurius-operations';
import { OperationSeries, operationOf, UNKNOWN_OPERATION } from './operation-series';
import { timeResolvers } from './resolver-timing';

/**
 * Records the application's GraphQL API, with no code in its resolvers, on `@nestjs/graphql`'s
 * Apollo and Mercurius drivers (see docs/graphql.md):
 * - operations, at the driver: an Apollo Server plugin (this provider itself, found by the Apollo
 *   driver like any `@Plugin()` provider), and on Mercurius a wrapper of `app.graphql` with a
 *   `preExecution` hook;
 * - resolvers, driver-neutral: the resolvers of the schema `GraphQLSchemaHost` holds are wrapped in
 *   place at bootstrap, before the first request (G3 of src/compat/nest-graphql.ts).
 * Nothing happens, and `@nestjs/graphql` is not even loaded, without a GraphQL schema in the
 * application or with `graphql: false`.
 */
@Injectable()
export class GraphqlMetricsRecorder implements OnApplicationBootstrap {
  private readonly logger = new Logger('VezaMetrics');
  private readonly options: ResolvedGraphqlOptions;
  /** Set at bootstrap when the application has a GraphQL schema and operations are recorded. */
  private series: OperationSeries | undefined;
  private failed = false;

  constructor(
    private readonly metrics: VezaMetricsRegistry,
    private readonly moduleRef: ModuleRef,
    private readonly adapterHost: HttpAdapterHost,
    private readonly definitions: CatalogDefinitions,
    @InjectVezaMetricsOptions() options: ResolvedOptions<{ graphql: ResolvedGraphqlOptions }>,
  ) {
    this.options = options.graphql;
  }

  /** A GraphQL family in the application's registry, its histograms with the HTTP buckets. */
  private family(family: Family): FamilyMetric {
    const http = this.definitions.of(VezaMetric.HttpRequestDuration);
    return graphqlFamily(this.metrics, http.buckets, family);
  }

  onApplicationBootstrap(): void {
    const options = this.options;
    if (!options?.enabled) return;
    const schema = this.schema();
    if (!schema) return;
    try {
      if (options.operations) {
        this.series = new OperationSeries(
          this.family(OPERATIONS),
          this.family(OPERATION_DURATION),
          options.maxOperationNames,
        );
        observeMercurius(this.adapterHost?.httpAdapter?.getInstance?.(), this.series, (e) => this.fail(e));
        if ((schema as { getSubscriptionType?: () => unknown }).getSubscriptionType?.())
          followSubscriptions(
            schema as never,
            this.family(SUBSCRIPTIONS_ACTIVE),
            this.family(SUBSCRIPTION_EVENTS),
          );
      }
      if (options.resolvers !== 'none') {
        const { defaultFieldResolver } = loadOptionalPeer('graphql') as { defaultFieldResolver: never };
        timeResolvers(
          schema as never,
          options.resolvers,
          this.family(RESOLVER_DURATION),
          this.family(RESOLVER_ERRORS),
          defaultFieldResolver,
        );
      }
    } catch (error) {
      // A clash of definitions in a shared registry is a start-up error, like the catalog's.
      if (error instanceof Error && error.message.includes('already registered')) throw error;
      this.fail(error);
    }
  }

  /**
   * Apollo Server's plugin hook, once per request: its duration from here to the response, its
   * operation and outcome read off the request context as Apollo sends the response.
   * @internal
   */
  requestDidStart(): { willSendResponse(context: ApolloRequestContext): Promise<void> } | undefined {
    const series = this.series;
    if (!series) return undefined;
    const start = performance.now();
    let executionError = false;
    return {
      executionDidStart: () => ({
        executionDidEnd: (error?: unknown) => {
          if (error !== undefined) executionError = true;
        },
      }),
      willSendResponse: (context: ApolloRequestContext): Promise<void> => {
        try {
          const operation = context.document
            ? operationOf(context.document, context.request?.operationName)
            : UNKNOWN_OPERATION;
          series.record(
            operation,
            apolloOutcome(context, executionError),
            (performance.now() - start) / 1000,
          );
        } catch (error) {
          this.fail(error);
        }
        return Promise.resolve();
      },
    } as never;
  }

  /**
   * The application's GraphQL schema, or `undefined` without `@nestjs/graphql` or without a schema.
   * `@nestjs/graphql` is loaded only when the application imports its `GraphQLModule` (P1 of
   * src/compat/optional-peers.ts).
   */
  private schema(): unknown {
    let graphql: { GraphQLSchemaHost?: new () => { schema: unknown } } | undefined;
    try {
      if (!appUsesPeer(this.moduleRef.get(ModulesContainer, { strict: false }), 'graphql')) return undefined;
      graphql = loadOptionalPeer('@nestjs/graphql') as typeof graphql;
    } catch (error) {
      this.fail(error); // installed but broken: the application still starts
      return undefined;
    }
    if (!graphql?.GraphQLSchemaHost) return undefined;
    try {
      return this.moduleRef.get(graphql.GraphQLSchemaHost, { strict: false }).schema;
    } catch {
      return undefined; // no GraphQLModule in this application, or no schema built
    }
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.logger.warn(recordingFailed('the GraphQL recorder', error));
  }
}

// Nest's Apollo driver adds this provider to Apollo Server's plugins (G1 of src/compat/nest-graphql.ts).
markApolloPlugin(GraphqlMetricsRecorder);
