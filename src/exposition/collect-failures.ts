import type { CounterMetric as Counter } from '../compat/client-types';
import type { VezaMetricsRegistry } from '../registry/veza-metrics.registry';

/**
 * `veza_metrics_collect_failures_total{metric,reason}`: series left out of a scrape because their
 * scrape-time source failed (`error`: threw, rejected, answered something else than a finite
 * number) or did not answer in time (`timeout`). One counter per registry, shared by the scrape
 * and the `@GaugeSource`s.
 */
export function collectFailuresCounter(metrics: VezaMetricsRegistry): Counter<'metric' | 'reason'> {
  return metrics.selfCounter(
    'veza_metrics_collect_failures_total',
    'Metrics left out of a scrape because their scrape-time source failed or timed out',
    ['metric', 'reason'],
  );
}
