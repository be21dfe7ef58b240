import type { GaugeMetric as Gauge } from '../compat/client-types';
import { applyArgs, CellCache } from '../instrumentation/labels';
import { gaugeCell, type GaugeCell } from '../instrumentation/cells';
import {
  appMetricDefinition,
  appMetricLabels,
  appMetricShape,
  type AppMetricOptions,
} from '../instrumentation/app-metric-options';
import { decoratorOptions } from '../instrumentation/decorator-options';
import { instrumentMethod } from '../instrumentation/instrument-method';
import { shapeOf } from '../options/option-schema';
import type { AnyArgs } from '../instrumentation/loose-types';

/** Options of {@link InProgress}. */
export interface InProgressOptions<A extends unknown[] = AnyArgs> extends AppMetricOptions {
  /** Fixed label values, or a function of the call's arguments (the outcome is not known yet). */
  labels?: Readonly<Record<string, string>> | ((...args: A) => Record<string, string>);
}

/** The rules of {@link InProgressOptions}, in the order they are checked. */
export const IN_PROGRESS_OPTIONS_SCHEMA = decoratorOptions(
  shapeOf<InProgressOptions>()({
    ...appMetricShape(),
    labels: appMetricLabels<(...args: unknown[]) => Record<string, string>>(),
  }),
);

/**
 * Counts the calls in flight in a gauge of the application's own, created in the application's
 * registry at start-up: up when the work starts (a Promise returned, an Observable subscribed), down
 * when it ends, whatever the outcome (an unsubscription too). A sync call is over before anyone can
 * scrape, so it leaves the gauge as it was.
 *
 * @example
 * ```ts
 * @InProgress({ name: 'veza_transcodes_in_progress', help: 'Transcodes running' })
 * async transcode(trackId: string): Promise<void> { ... }
 * ```
 */
export function InProgress<A extends unknown[] = AnyArgs>(options: InProgressOptions<A>): MethodDecorator {
  const decorator = `@InProgress(${JSON.stringify(options?.name)})`;
  return instrumentMethod(decorator, (at) => {
    const opts = IN_PROGRESS_OPTIONS_SCHEMA.resolve(options, at, {});
    const definition = { ...appMetricDefinition(opts), kind: 'gauge' as const };
    const { labels } = opts;
    return {
      decorator,
      name: 'InProgress',
      identity: `InProgress:${definition.name}`,
      timed: false,
      needsArgs: typeof labels === 'function',
      writes: [],
      build: ({ appMetric, report }) => {
        const gauge = appMetric(definition, decorator) as Gauge<string>;
        const fixed = typeof labels === 'function' ? undefined : gaugeCell(gauge, labels);
        const cache = new CellCache(definition.labelNames, (l) => gaugeCell(gauge, l), report);
        return {
          start(args) {
            const cell =
              fixed ??
              cache.get(applyArgs(labels as unknown as (...a: never[]) => Record<string, unknown>, args));
            cell.inc();
            return cell;
          },
          end(_outcome, _value, _seconds, _args, started) {
            (started as GaugeCell | undefined)?.dec();
          },
        };
      },
    };
  });
}
