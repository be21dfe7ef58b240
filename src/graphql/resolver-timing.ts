import { CounterCell, HistogramCell } from '../http/metric-cells';
import { ErrorTypes } from '../http/error-labels';
import type { FamilyMetric } from './graphql-families';

type Resolver = (this: unknown, source: unknown, args: unknown, context: unknown, info: unknown) => unknown;
interface FieldLike {
  name: string;
  resolve?: Resolver;
}
interface ObjectTypeLike {
  name: string;
  getFields(): Record<string, FieldLike>;
}
interface SchemaLike {
  getTypeMap(): Record<string, unknown>;
  getQueryType(): { name: string } | null | undefined;
  getMutationType(): { name: string } | null | undefined;
  getSubscriptionType(): { name: string } | null | undefined;
}

/** Marks a field resolver this library installed, with the resolver it wraps. */
const WRAPPED = Symbol.for('veza.metrics.graphqlResolver');

/*
 * `@nestjs/graphql` (14), as this file relies on it (the e2e spec checks it on every driver):
 * N1. Code-first, every field of an `@ObjectType()` gets a resolver from Nest that reads the
 *     property off the parent (named `rootFieldResolver`, or a middleware chain when field
 *     middleware is set); `@ResolveField()` and root fields get Nest's resolver of the method.
 *     A field whose resolver is Nest's `rootFieldResolver` counts as a field read off the parent.
 */
const NEST_PARENT_FIELD_RESOLVER = 'rootFieldResolver';

/** Which fields get timed: see `GraphqlMetricsOptions.resolvers`. */
export type ResolverScope = 'root-and-resolved' | 'all';

/** True for a `GraphQLObjectType` of any copy of graphql-js (16 and 17 tag their classes). */
function isObjectType(type: unknown): type is ObjectTypeLike {
  return Object.prototype.toString.call(type) === '[object GraphQLObjectType]';
}

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
  const roots = new Set([
    schema.getQueryType()?.name,
    schema.getMutationType()?.name,
    schema.getSubscriptionType()?.name,
  ]);
  const types = new ErrorTypes();
  let wrapped = 0;
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const root = roots.has(type.name);
    for (const field of Object.values(type.getFields())) {
      const own = field.resolve;
      if (own && (own as { [WRAPPED]?: unknown })[WRAPPED]) continue;
      const fromParent = !own || own.name === NEST_PARENT_FIELD_RESOLVER;
      if (fromParent && !root && scope !== 'all') continue;
      const series = new FieldSeries(type.name, field.name, durations, errorCounter, types);
      field.resolve = wrapResolver(own ?? defaultResolver, series);
      wrapped++;
    }
  }
  return wrapped;
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
