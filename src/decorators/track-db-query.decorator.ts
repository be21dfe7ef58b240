import { VezaMetric } from '../catalog/catalog';
import { CANCELLED, FAILURE } from '../instrumentation/instrument';
import { errorType, CellCache } from '../instrumentation/labels';
import { OTHER_ERROR_TYPE } from '../http/error-labels';
import { counterCell, histogramCell } from '../instrumentation/cells';
import {
  argument,
  decoratorOptions,
  nonEmptyString,
  optionalFunction,
} from '../instrumentation/decorator-options';
import { instrumentMethod } from '../instrumentation/instrument-method';
import { shapeOf } from '../options/option-schema';

const DEFAULT_TYPE_VALUES: ReadonlySet<string> = new Set([OTHER_ERROR_TYPE]);

/** Options of {@link TrackDbQuery}. */
export interface TrackDbQueryOptions {
  /**
   * The `error_type` of a failed query. Keep it bounded: a code or a class, never a message.
   * @defaultValue the error's `code` when it is short (`ER_DUP_ENTRY`, `23505`), else its class name
   * (`OtherError` for a thrown value that is not an error)
   */
  errorType?: (error: unknown) => string;
}

/** The rules of {@link TrackDbQueryOptions}. */
export const TRACK_DB_QUERY_OPTIONS_SCHEMA = decoratorOptions(
  shapeOf<TrackDbQueryOptions>()({ errorType: optionalFunction<(error: unknown) => unknown>() }),
);

/**
 * Times a database query in `veza_database_query_duration_seconds{operation, table}` (every call
 * that ends, success or failure), and counts a failure in
 * `veza_database_query_errors_total{operation, error_type}`.
 *
 * @example
 * ```ts
 * @TrackDbQuery('select', 'tracks')
 * findById(id: string): Promise<Track | null> { ... }
 * ```
 */
export function TrackDbQuery(
  operation: string,
  table: string,
  options?: TrackDbQueryOptions,
): MethodDecorator {
  const decorator = `@TrackDbQuery(${JSON.stringify(operation)}, ${JSON.stringify(table)})`;
  return instrumentMethod(decorator, (at) => {
    argument(at, 'operation', nonEmptyString, operation);
    argument(at, 'table', nonEmptyString, table);
    const classify = TRACK_DB_QUERY_OPTIONS_SCHEMA.resolve(options, at, {}).errorType;
    return {
      decorator,
      name: 'TrackDbQuery',
      identity: 'TrackDbQuery',
      timed: true,
      needsArgs: false,
      writes: [VezaMetric.DatabaseQueryDuration, VezaMetric.DatabaseQueryErrors],
      build: ({ metrics }) => {
        const duration = histogramCell(metrics.get(VezaMetric.DatabaseQueryDuration), { operation, table });
        const errorsMetric = metrics.get(VezaMetric.DatabaseQueryErrors);
        // The default classification's `OtherError` is the library's own value; a function's is input.
        const errors = new CellCache(
          ['error_type'],
          (labels) => counterCell(errorsMetric, { operation, ...labels }),
          undefined,
          classify ? undefined : DEFAULT_TYPE_VALUES,
        );
        return {
          end(outcome, value, seconds) {
            if (outcome === CANCELLED) return;
            if (outcome === FAILURE) {
              const failed = errors.one(classify ? classify(value) : errorType(value));
              duration.observe(seconds);
              failed.inc();
            } else duration.observe(seconds);
          },
        };
      },
    };
  });
}
