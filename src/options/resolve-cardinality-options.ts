import { invalidOption } from '../veza-metrics.messages';
import { checkKeys, isPlainObject } from './option-checks';

/** Series caps after validation. */
export interface ResolvedCardinalityOptions {
  /** The cap of every metric without an override. */
  readonly maxSeries: number;
  /** Per-metric caps, by exposed metric name. */
  readonly perMetric: Readonly<Record<string, number>>;
}

const MAX = 1_000_000;

function cap(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX) {
    throw new Error(invalidOption(option, `an integer from 1 to ${MAX}`, value));
  }
  return value;
}

/** Validates `cardinality: { maxSeries?, perMetric? }`. */
export function resolveCardinalityOptions(value: unknown): ResolvedCardinalityOptions {
  if (value === undefined) return { maxSeries: 2000, perMetric: {} };
  if (!isPlainObject(value))
    throw new Error(invalidOption('cardinality', '{ maxSeries?, perMetric? }', value));
  checkKeys('cardinality', value, ['maxSeries', 'perMetric']);
  const maxSeries = value.maxSeries === undefined ? 2000 : cap('cardinality.maxSeries', value.maxSeries);
  const perMetric: Record<string, number> = {};
  if (value.perMetric !== undefined) {
    if (!isPlainObject(value.perMetric))
      throw new Error(
        invalidOption('cardinality.perMetric', 'an object of metric names to caps', value.perMetric),
      );
    for (const [name, limit] of Object.entries(value.perMetric))
      perMetric[name] = cap(`cardinality.perMetric.${name}`, limit);
  }
  return { maxSeries, perMetric };
}
