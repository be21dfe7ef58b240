import type { CardinalityOptions } from './veza-metrics-options.interface';
import { defaulted, integer, object, record, shapeOf, type Rule } from './option-schema';

/** Series caps after validation. */
export interface ResolvedCardinalityOptions {
  /** The cap of every metric without an override. */
  readonly maxSeries: number;
  /** Per-metric caps, by exposed metric name. */
  readonly perMetric: Readonly<Record<string, number>>;
}

const MAX = 1_000_000;

/** `cardinality: { maxSeries?, perMetric? }`. */
export const cardinalityRule: Rule<ResolvedCardinalityOptions> = defaulted(
  object(
    shapeOf<CardinalityOptions>()({
      maxSeries: integer(1, MAX, 2000),
      perMetric: defaulted(record(integer(1, MAX), 'an object of metric names to caps'), {}),
    }),
    '{ maxSeries?, perMetric? }',
  ),
  {},
);
