import { Inject } from '@nestjs/common';
import type { VezaMetricName } from './catalog/catalog';

/**
 * The injection token of a metric: `@willsoto/nestjs-prometheus`'s convention
 * (`PROM_METRIC_<NAME>`), so its `InjectMetric` and this one resolve the same providers.
 */
export function getMetricToken(name: string): string {
  return `PROM_METRIC_${name.toUpperCase()}`;
}

/**
 * Injects a catalog metric (or any metric provided under the same convention).
 *
 * @example
 * ```ts
 * constructor(
 *   @InjectMetric(VezaMetric.HttpRequestsTotal)
 *   private readonly requests: VezaMetricOf<typeof VezaMetric.HttpRequestsTotal>,
 * ) {}
 * ```
 */
export function InjectMetric(name: VezaMetricName | (string & {})): PropertyDecorator & ParameterDecorator {
  return Inject(getMetricToken(name));
}
