import { VezaMetric } from '../catalog/catalog';
import { FAILURE } from '../instrumentation/instrument';
import { errorType, CellCache } from '../instrumentation/labels';
import { OTHER_ERROR_TYPE } from '../http/error-labels';
import { counterCell } from '../instrumentation/cells';
import { decoratorOptions, stringOrFunction } from '../instrumentation/decorator-options';
import { optional } from '../options/option-schema';
import { instrumentMethod } from '../instrumentation/instrument-method';
import { shapeOf } from '../options/option-schema';

const DEFAULT_TYPE_VALUES: ReadonlySet<string> = new Set([OTHER_ERROR_TYPE]);

/** Options of {@link CountErrors}. */
export interface CountErrorsOptions {
  /**
   * The `type` label: a constant, or a function of the error. Keep it bounded.
   * @defaultValue the error's `code` when it is short, else its class name (`OtherError` for a
   * thrown value that is not an error)
   */
  type?: string | ((error: unknown) => string);
  /** The `severity` label: a constant, or a function of the error. @defaultValue `'error'` */
  severity?: string | ((error: unknown) => string);
}

/** The rules of {@link CountErrorsOptions}. */
export const COUNT_ERRORS_OPTIONS_SCHEMA = decoratorOptions(
  shapeOf<CountErrorsOptions>()({
    type: optional(stringOrFunction<(error: unknown) => unknown>()),
    severity: optional(stringOrFunction<(error: unknown) => unknown>()),
  }),
);

/**
 * Counts an error in `veza_errors_total{type, severity}` each time the method throws (its Promise
 * rejects, its Observable errors). The error itself goes on to the caller untouched.
 *
 * @example
 * ```ts
 * @CountErrors({ severity: 'critical' })
 * async chargeCard(order: Order): Promise<Receipt> { ... }
 * ```
 */
export function CountErrors(options?: CountErrorsOptions): MethodDecorator {
  return instrumentMethod('@CountErrors()', (at) => {
    const opts = COUNT_ERRORS_OPTIONS_SCHEMA.resolve(options, at, {});
    const type = opts.type ?? errorType;
    const severity = opts.severity ?? 'error';
    return {
      decorator: '@CountErrors()',
      name: 'CountErrors',
      identity: 'CountErrors',
      timed: false,
      needsArgs: false,
      writes: [VezaMetric.Errors],
      build: ({ metrics }) => {
        const errors = metrics.get(VezaMetric.Errors);
        // The default type's `OtherError` is the library's own value; a type function's is input.
        const own = opts.type === undefined ? DEFAULT_TYPE_VALUES : undefined;
        const cells = new CellCache(
          ['type', 'severity'],
          (labels) => counterCell(errors, labels),
          undefined,
          own,
        );
        return {
          end(outcome, value) {
            if (outcome !== FAILURE) return;
            cells
              .get({
                type: typeof type === 'string' ? type : type(value),
                severity: typeof severity === 'string' ? severity : severity(value),
              })
              .inc();
          },
        };
      },
    };
  });
}
