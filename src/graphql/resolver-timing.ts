import { CounterCell, HistogramCell } from '../http/metric-cells';
import { ErrorTypes } from '../http/error-labels';
import { replaceResolvers, type FieldResolver, type SchemaLike } from '../compat/nest-graphql';
import type { FamilyMetric } from './graphql-families';

type Resolver = FieldResolver;

/** Marks a field resolver this library installed, with the resolver it wraps. */
const WRAPPED = Symbol.for('veza.metrics.graphqlResolver');

/** Which fields get timed: see `GraphqlMetricsOptions.resolvers`. */
export type ResolverScope = 'root-and-resolved' | 'all';

/** The series of one field: its duration and, by error type, its errors (bounded by `ErrorTypes`). */
class FieldSeries {
  private readonly duration: HistogramCell<string>;
  private readonly errors = new Map<string, CounterCell<string>>();

  constructor(
    private readonly parentType: string,
    private readonly field: string,
    durations: FamilyMetric | undefined,
    private readonly errorCounter: FamilyMetric | undefined,
    private readonly types: ErrorTypes,
  ) {
    this.duration = new HistogramCell(durations as never, { parent_type: parentType, field });
  }

  ok(start: number): void {
    try {
      this.duration.observe((performance.now() - start) / 1000);
    } catch {
      // the guard throws nothing; a resolver never gets an error of ours
    }
  }

  failed(start: number, error: unknown): void {
    try {
      this.duration.observe((performance.now() - start) / 1000);
      const type = this.types.typeOf(error);
      let cell = this.errors.get(type);
      if (!cell) {
        cell = new CounterCell(this.errorCounter as never, {
          parent_type: this.parentType,
          field: this.field,
          error_type: type,
        });
        this.errors.set(type, cell);
      }
      cell.inc();
    } catch {
      // as above
    }
  }
}

/**
 * Times the resolvers of `schema` in place, once per field: the fields of the root types and the
 * fields with a resolver of their own, or every field of every object type with `scope: 'all'`
 * (introspection types excepted). Fields read off the parent object keep graphql-js' default
 * resolver and cost nothing in the default scope. A wrapped resolver returns or throws exactly what
 * the original does (the very promise it returned); a native promise is timed to its settlement, any
 * other value (another thenable included, left untouched) when the resolver returns.
 *
 * @returns how many fields were wrapped.
 */
export function timeResolvers(
  schema: SchemaLike,
  scope: ResolverScope,
  durations: FamilyMetric | undefined,
  errorCounter: FamilyMetric | undefined,
  defaultResolver: Resolver,
): number {
  const types = new ErrorTypes();
  return replaceResolvers(schema, ({ parentType, field, root, resolver, fromParent }) => {
    if (resolver && (resolver as { [WRAPPED]?: unknown })[WRAPPED]) return undefined;
    if (fromParent && !root && scope !== 'all') return undefined;
    const series = new FieldSeries(parentType, field, durations, errorCounter, types);
    return wrapResolver(resolver ?? defaultResolver, series);
  });
}

function wrapResolver(original: Resolver, series: FieldSeries): Resolver {
  const resolver: Resolver = function (this: unknown, source, args, context, info) {
    const start = performance.now();
    let result: unknown;
    try {
      result = original.call(this, source, args, context, info);
    } catch (error) {
      series.failed(start, error);
      throw error;
    }
    if (result instanceof Promise) {
      // A side branch: the caller gets `result` itself; this branch never rejects.
      result.then(
        () => series.ok(start),
        (error: unknown) => series.failed(start, error),
      );
    } else {
      series.ok(start);
    }
    return result;
  };
  Object.defineProperty(resolver, WRAPPED, { value: original });
  return resolver;
}
