import { Injectable, Logger } from '@nestjs/common';
import type { AnyMetric, CounterMetric } from '../compat/client-types';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { ambiguousLabelSet, metricClash, recordingRefused, seriesOverflow } from '../veza-metrics.messages';
import { AppRegistry } from './app-registry';
import { definitionOf, describeDefinition, sameDefinition } from './metric-definition';
import { guardMetric, type OverflowReason, type SeriesGuardHooks } from './series-guard';
import { nativeConfigOf, setNativeConfig, type NativeHistogramConfig } from '../native/native-histogram';
import { nativeSettingOf } from '../native/native-options';

/**
 * The library's own metrics (`veza_metrics_*`) and the series guard: `counter` creates (or finds
 * again) a self-counter, `protect` puts a metric under the series cap and run-time safety, counting
 * what the guard folds or refuses in `veza_metrics_series_overflow_total` and
 * `veza_metrics_recording_errors_total` (created at the first `protect`, so that they follow the
 * catalog in the registry).
 */
@Injectable()
export class SelfMetrics {
  private readonly logger = new Logger('VezaMetrics');
  private hooks: SeriesGuardHooks | undefined;

  constructor(
    private readonly app: AppRegistry,
    @InjectVezaMetricsOptions()
    private readonly options: ResolvedOptions<{ nativeHistograms?: NativeHistogramConfig }>,
  ) {}

  /**
   * A counter of the library's own in the application's registry: created once, found again when
   * the registry is shared by several applications.
   */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): CounterMetric<L> {
    const { registry, client } = this.app;
    const existing = registry.getSingleMetric(name);
    if (existing) {
      const wanted = { catalogName: name, name, kind: 'counter' as const, help, labelNames, scale: 1 };
      if (!sameDefinition(existing, wanted)) {
        throw new Error(
          metricClash(name, describeDefinition(wanted), describeDefinition(definitionOf(existing))),
        );
      }
      return existing as CounterMetric<L>;
    }
    return new client.Counter({ name, help, labelNames: [...labelNames], registers: [registry] });
  }

  /**
   * Puts `metric` under the application's series cap and run-time safety (see `cardinality`); a
   * histogram gets a native part with `native` (its own setting: `false` none) or, when not given,
   * the module's `nativeHistograms` (a metric that already has one keeps it: a registry shared by
   * two applications).
   */
  protect(metric: AnyMetric, native?: NativeHistogramConfig | false): void {
    this.hooks ??= this.guardHooks();
    const config = nativeSettingOf(native, this.options.nativeHistograms);
    if (config && (metric as { type?: unknown }).type === 'histogram' && !nativeConfigOf(metric))
      setNativeConfig(metric, config);
    guardMetric(metric, this.seriesCap((metric as unknown as { name: string }).name), this.hooks);
  }

  private seriesCap(name: string): number {
    return this.options.cardinality.perMetric[name] ?? this.options.cardinality.maxSeries;
  }

  private guardHooks(): SeriesGuardHooks {
    const overflows = this.counter(
      'veza_metrics_series_overflow_total',
      'Recordings folded into the overflow series of a metric at its series cap',
      ['metric'],
    );
    const refused = this.counter(
      'veza_metrics_recording_errors_total',
      'Recordings refused: a value Prometheus forbids, an unknown label, an error',
      ['metric'],
    );
    const logged = new Set<string>();
    const logOnce = (key: string, message: () => string): void => {
      if (logged.has(key)) return;
      logged.add(key);
      this.logger.warn(message());
    };
    return {
      onOverflow: (metric, reason: OverflowReason, client) => {
        overflows.inc({ metric });
        logOnce(`overflow:${reason}:${metric}`, () =>
          reason === 'cap'
            ? seriesOverflow(metric, this.seriesCap(metric))
            : ambiguousLabelSet(metric, client),
        );
      },
      onError: (metric, error) => {
        refused.inc({ metric });
        logOnce(`error:${metric}`, () => recordingRefused(metric, error));
      },
    };
  }
}
