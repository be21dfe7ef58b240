import type { HistogramMetric as Histogram } from '../compat/client-types';
import { CANCELLED } from '../instrumentation/instrument';
import { CellCache } from '../instrumentation/labels';
import { histogramCell } from '../instrumentation/cells';
import {
  appMetricDefinition,
  appMetricLabels,
  appMetricShape,
  callInfo,
  optionalBuckets,
  type AppMetricOptions,
  type CallInfo,
} from '../instrumentation/app-metric-options';
import { decoratorOptions } from '../instrumentation/decorator-options';
import { instrumentMethod } from '../instrumentation/instrument-method';
import { shapeOf } from '../options/option-schema';
import type { NativeHistogramOptions } from '../native/native-histogram';
import { nativeHistogramRule } from '../native/native-options';
import type { AnyArgs, AnyResult } from '../instrumentation/loose-types';

/** Options of {@link Timed}. */
export interface TimedOptions<A extends unknown[] = AnyArgs, R = AnyResult> extends AppMetricOptions {
  /** Fixed label values, or a function of the call (arguments, result or error, outcome). */
  labels?: Readonly<Record<string, string>> | ((call: CallInfo<A, R>) => Record<string, string>);
  /** Bucket upper bounds, in seconds. @defaultValue prom-client's (0.005 to 10) */
  buckets?: readonly number[];
  /**
   * This histogram's native part (Prometheus' native histograms, served in the protobuf
   * exposition beside the classic buckets): `true` (client_golang's defaults), `false` (none,
   * whatever the module's `nativeHistograms` says), or `{ bucketFactor?, maxBuckets?,
   * zeroThreshold?, minResetInterval? }`. Checked as the module's option is.
   * @defaultValue the module's `nativeHistograms`
   */
  nativeHistogram?: boolean | NativeHistogramOptions;
}

/** The rules of {@link TimedOptions}; `buckets` is checked before `labels`. */
export const TIMED_OPTIONS_SCHEMA = decoratorOptions(
  shapeOf<TimedOptions>()({
    ...appMetricShape(['le']),
    labels: appMetricLabels<(call: CallInfo) => Record<string, string>>(),
    buckets: optionalBuckets,
    nativeHistogram: nativeHistogramRule,
  }),
  { order: ['name', 'help', 'labelNames', 'buckets', 'nativeHistogram', 'labels'] },
);

/**
 * Observes the duration of every call that ends (returns or throws; for an Observable, from
 * subscription to completion or error), in seconds, in a histogram of the application's own,
 * created in the application's registry at start-up.
 *
 * @example
 * ```ts
 * @Timed({ name: 'veza_transcode_duration_seconds', help: 'Transcoding time', buckets: [1, 5, 30, 120] })
 * async transcode(trackId: string): Promise<void> { ... }
 * ```
 */
export function Timed<A extends unknown[] = AnyArgs, R = AnyResult>(
  options: TimedOptions<A, R>,
): MethodDecorator {
  const decorator = `@Timed(${JSON.stringify(options?.name)})`;
  return instrumentMethod(decorator, (at) => {
    const opts = TIMED_OPTIONS_SCHEMA.resolve(options, at, {});
    const { buckets, labels, nativeHistogram } = opts;
    const definition = {
      ...appMetricDefinition(opts),
      kind: 'histogram' as const,
      ...(buckets ? { buckets } : {}),
      ...(nativeHistogram !== undefined ? { native: nativeHistogram } : {}),
    };
    return {
      decorator,
      name: 'Timed',
      identity: `Timed:${definition.name}`,
      timed: true,
      needsArgs: typeof labels === 'function',
      writes: [],
      build: ({ appMetric, report }) => {
        const histogram = appMetric(definition, decorator) as Histogram<string>;
        const fixed = typeof labels === 'function' ? undefined : histogramCell(histogram, labels);
        const cache = new CellCache(definition.labelNames, (l) => histogramCell(histogram, l), report);
        return {
          end(outcome, value, seconds, args) {
            if (outcome === CANCELLED) return;
            (
              fixed ??
              cache.get(
                (labels as (call: CallInfo) => Record<string, unknown>)(callInfo(args, outcome, value)),
              )
            ).observe(seconds);
          },
        };
      },
    };
  });
}
