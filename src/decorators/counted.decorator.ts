import type { CounterMetric as Counter } from '../compat/client-types';
import { CANCELLED, FAILURE, SUCCESS } from '../instrumentation/instrument';
import { CellCache } from '../instrumentation/labels';
import { counterCell } from '../instrumentation/cells';
import {
  appMetricDefinition,
  appMetricLabels,
  appMetricShape,
  callInfo,
  type AppMetricOptions,
  type CallInfo,
} from '../instrumentation/app-metric-options';
import { decoratorOptions, quotedOneOf } from '../instrumentation/decorator-options';
import { instrumentMethod } from '../instrumentation/instrument-method';
import { shapeOf } from '../options/option-schema';
import type { AnyArgs, AnyResult } from '../instrumentation/loose-types';

/** Options of {@link Counted}. */
export interface CountedOptions<A extends unknown[] = AnyArgs, R = AnyResult> extends AppMetricOptions {
  /** Fixed label values, or a function of the call (arguments, result or error, outcome). */
  labels?: Readonly<Record<string, string>> | ((call: CallInfo<A, R>) => Record<string, string>);
  /** Which calls count. @defaultValue `'settled'`: every call that returns or throws */
  on?: 'success' | 'failure' | 'settled';
}

/** The rules of {@link CountedOptions}, in the order they are checked. */
export const COUNTED_OPTIONS_SCHEMA = decoratorOptions(
  shapeOf<CountedOptions>()({
    ...appMetricShape(),
    labels: appMetricLabels<(call: CallInfo) => Record<string, string>>(),
    on: quotedOneOf(['success', 'failure', 'settled'] as const, 'settled'),
  }),
);

/**
 * Counts calls of the method in a counter of the application's own, created in the application's
 * registry at start-up (a metric of that name registered by anything else fails the start-up).
 *
 * @example
 * ```ts
 * @Counted({
 *   name: 'veza_emails_sent_total',
 *   help: 'Emails sent, by template and outcome',
 *   labelNames: ['template', 'outcome'],
 *   labels: ({ args: [template], outcome }) => ({ template, outcome }),
 * })
 * async send(template: string, to: string): Promise<void> { ... }
 * ```
 */
export function Counted<A extends unknown[] = AnyArgs, R = AnyResult>(
  options: CountedOptions<A, R>,
): MethodDecorator {
  const decorator = `@Counted(${JSON.stringify(options?.name)})`;
  return instrumentMethod(decorator, (at) => {
    const opts = COUNTED_OPTIONS_SCHEMA.resolve(options, at, {});
    const definition = appMetricDefinition(opts);
    const { labels, on } = opts;
    return {
      decorator,
      name: 'Counted',
      identity: `Counted:${definition.name}`,
      timed: false,
      needsArgs: typeof labels === 'function',
      writes: [],
      build: ({ appMetric, report }) => {
        const counter = appMetric(definition, decorator) as Counter<string>;
        const fixed = typeof labels === 'function' ? undefined : counterCell(counter, labels);
        const cache = new CellCache(definition.labelNames, (l) => counterCell(counter, l), report);
        return {
          end(outcome, value, _seconds, args) {
            if (
              outcome === CANCELLED ||
              (on === 'success' && outcome !== SUCCESS) ||
              (on === 'failure' && outcome !== FAILURE)
            )
              return;
            (
              fixed ??
              cache.get(
                (labels as (call: CallInfo) => Record<string, unknown>)(callInfo(args, outcome, value)),
              )
            ).inc();
          },
        };
      },
    };
  });
}
