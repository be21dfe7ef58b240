import type { CounterMetric as Counter } from '../compat/client-types';
import type { SelfMetrics } from '../registry/self-metrics';

/**
 * `veza_metrics_collect_failures_total{metric,reason}`: series left out of a scrape because their
 * scrape-time source failed (`error`: threw, rejected, answered something else than a finite
 * number) or did not answer in time (`timeout`). One counter per registry, shared by the scrape
 * and the `@GaugeSource`s.
 */
export function collectFailuresCounter(self: SelfMetrics): Counter<'metric' | 'reason'> {
  return self.counter(
    'veza_metrics_collect_failures_total',
    'Metrics left out of a scrape because their scrape-time source failed or timed out',
    ['metric', 'reason'],
  );
}
