import { VezaMetric } from '../catalog/catalog';
import { FAILURE } from '../instrumentation/instrument';
import { errorType, CellCache } from '../instrumentation/labels';
import { counterCell } from '../instrumentation/cells';
import { instrumentMethod } from './instrument-method';

/** Options of {@link CountErrors}. */
export interface CountErrorsOptions {
  /**
   * The `type` label: a constant, or a function of the error. Keep it bounded.
   * @defaultValue the error's `code` when it is short, else its class name
   */
  type?: string | ((error: unknown) => string);
  /** The `severity` label: a constant, or a function of the error. @defaultValue `'error'` */
  severity?: string | ((error: unknown) => string);
}

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
  return instrumentMethod('@CountErrors()', (check) => {
    const opts = check.options(options, ['type', 'severity']);
    const type =
      opts.type === undefined
        ? errorType
        : check.stringOrFunction<(error: unknown) => unknown>('type', opts.type);
    const severity =
      opts.severity === undefined
        ? 'error'
        : check.stringOrFunction<(error: unknown) => unknown>('severity', opts.severity);
    return {
      decorator: '@CountErrors()',
      name: 'CountErrors',
      identity: 'CountErrors',
      timed: false,
      needsArgs: false,
      writes: [VezaMetric.Errors],
      build: ({ metrics }) => {
        const errors = metrics.get(VezaMetric.Errors);
        const cells = new CellCache(['type', 'severity'], (labels) => counterCell(errors, labels));
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
