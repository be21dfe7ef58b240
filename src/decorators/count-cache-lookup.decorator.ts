import { VezaMetric } from '../catalog/catalog';
import { SUCCESS } from '../instrumentation/instrument';
import { counterCell } from '../instrumentation/cells';
import {
  argument,
  decoratorOptions,
  nonEmptyString,
  optionalFunction,
} from '../instrumentation/decorator-options';
import { instrumentMethod } from '../instrumentation/instrument-method';
import { shapeOf } from '../options/option-schema';
import type { AnyResult } from '../instrumentation/loose-types';

/** Options of {@link CountCacheLookup}. */
export interface CountCacheLookupOptions<R = AnyResult> {
  /**
   * Whether the lookup's result is a hit.
   * @defaultValue a result other than `undefined` and `null` is a hit
   */
  isHit?: (result: R) => unknown;
}

const found = (result: unknown): boolean => result !== undefined && result !== null;

/** The rules of {@link CountCacheLookupOptions}. */
export const COUNT_CACHE_LOOKUP_OPTIONS_SCHEMA = decoratorOptions(
  shapeOf<CountCacheLookupOptions>()({ isHit: optionalFunction<(result: unknown) => unknown>() }),
);

/**
 * Counts a cache lookup of the cache `subsystem`: `veza_cache_hits_total{subsystem}` or
 * `veza_cache_misses_total{subsystem}`, from the method's result. A lookup that throws is neither.
 *
 * @example
 * ```ts
 * @CountCacheLookup('tracks', { isHit: (track) => track !== undefined })
 * get(id: string): Track | undefined { return this.cache.get(id); }
 * ```
 */
export function CountCacheLookup<R = AnyResult>(
  subsystem: string,
  options?: CountCacheLookupOptions<R>,
): MethodDecorator {
  const decorator = `@CountCacheLookup(${JSON.stringify(subsystem)})`;
  return instrumentMethod(decorator, (at) => {
    argument(at, 'subsystem', nonEmptyString, subsystem);
    const isHit =
      (COUNT_CACHE_LOOKUP_OPTIONS_SCHEMA.resolve(options, at, {}).isHit as
        ((result: R) => unknown) | undefined) ?? found;
    return {
      decorator,
      name: 'CountCacheLookup',
      identity: 'CountCacheLookup',
      timed: false,
      needsArgs: false,
      writes: [VezaMetric.CacheHits, VezaMetric.CacheMisses],
      build: ({ metrics }) => {
        const hits = counterCell(metrics.get(VezaMetric.CacheHits), { subsystem });
        const misses = counterCell(metrics.get(VezaMetric.CacheMisses), { subsystem });
        return {
          end(outcome, value) {
            if (outcome === SUCCESS) (isHit(value as R) ? hits : misses).inc();
          },
        };
      },
    };
  });
}
