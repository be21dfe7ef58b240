import { boolean, integer, object, oneOf, shapeOf, toggle, type Rule } from '../options/option-schema';

/** GraphQL recording (`@nestjs/graphql` with the Apollo or the Mercurius driver). */
export interface GraphqlMetricsOptions {
  /** Record GraphQL at all. @defaultValue `true` */
  enabled?: boolean;
  /**
   * `veza_graphql_operations_total` and `veza_graphql_operation_duration_seconds`.
   * @defaultValue `true`
   */
  operations?: boolean;
  /**
   * `veza_graphql_resolver_duration_seconds` and `veza_graphql_resolver_errors_total`: `true` for
   * the fields of the root types (`Query`, `Mutation`, `Subscription`) and the fields that have a
   * resolver of their own (`@ResolveField()`, a resolver map entry); `'all'` for every field of every
   * object type too (fields read off the parent object then cost a wrapper call each); `false` for none.
   * @defaultValue `true`
   */
  resolvers?: boolean | 'all';
  /**
   * How many distinct operation names `operation_name` takes; later names are recorded as `<other>`.
   * @defaultValue `100`
   */
  maxOperationNames?: number;
}

/** GraphQL options after validation. */
export interface ResolvedGraphqlOptions {
  readonly enabled: boolean;
  readonly operations: boolean;
  readonly resolvers: 'root-and-resolved' | 'all' | 'none';
  readonly maxOperationNames: number;
}

/** Validates `graphql: boolean | { enabled?, operations?, resolvers?, maxOperationNames? }`. */
export const graphqlRule: Rule<ResolvedGraphqlOptions> = toggle(
  object(
    shapeOf<GraphqlMetricsOptions>()({
      enabled: boolean(true),
      operations: boolean(true),
      resolvers: oneOf<boolean | 'all'>([true, false, 'all'], "true, false or 'all'", true),
      maxOperationNames: integer(1, 10_000, 100),
    }),
    '{ enabled?, operations?, resolvers?, maxOperationNames? }',
    {
      finish: ({ resolvers, ...rest }) => ({
        ...rest,
        resolvers: resolvers === 'all' ? 'all' : resolvers ? 'root-and-resolved' : 'none',
      }),
    },
  ),
  'true, false or { enabled?, operations?, resolvers?, maxOperationNames? }',
);
