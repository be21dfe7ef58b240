import { invalidOption } from '../veza-metrics.messages';
import { checkKeys, isPlainObject } from '../options/option-checks';

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

const DEFAULTS: ResolvedGraphqlOptions = {
  enabled: true,
  operations: true,
  resolvers: 'root-and-resolved',
  maxOperationNames: 100,
};

/** Validates `graphql: boolean | { enabled?, operations?, resolvers?, maxOperationNames? }`. */
export function resolveGraphqlOptions(value: unknown): ResolvedGraphqlOptions {
  if (value === undefined || value === true) return DEFAULTS;
  if (value === false) return { ...DEFAULTS, enabled: false };
  if (!isPlainObject(value))
    throw new Error(
      invalidOption(
        'graphql',
        'true, false or { enabled?, operations?, resolvers?, maxOperationNames? }',
        value,
      ),
    );
  checkKeys('graphql', value, ['enabled', 'operations', 'resolvers', 'maxOperationNames']);
  const {
    enabled = true,
    operations = true,
    resolvers = true,
    maxOperationNames = DEFAULTS.maxOperationNames,
  } = value;
  if (typeof enabled !== 'boolean') throw new Error(invalidOption('graphql.enabled', 'a boolean', enabled));
  if (typeof operations !== 'boolean')
    throw new Error(invalidOption('graphql.operations', 'a boolean', operations));
  if (resolvers !== true && resolvers !== false && resolvers !== 'all')
    throw new Error(invalidOption('graphql.resolvers', "true, false or 'all'", resolvers));
  if (
    typeof maxOperationNames !== 'number' ||
    !Number.isInteger(maxOperationNames) ||
    maxOperationNames < 1 ||
    maxOperationNames > 10_000
  )
    throw new Error(
      invalidOption('graphql.maxOperationNames', 'an integer from 1 to 10000', maxOperationNames),
    );
  return {
    enabled,
    operations,
    resolvers: resolvers === 'all' ? 'all' : resolvers ? 'root-and-resolved' : 'none',
    maxOperationNames,
  };
}
