import { boolean, nullAsUnset, object, shapeOf, toggle, type Rule } from '../options/option-schema';

/** Option `cache`: the caches of `@nestjs/cache-manager` (cache-manager 6/7 with Keyv stores). */
export interface CacheMetricsOptions {
  /** Count cache reads as hits and misses at all. @defaultValue `true` */
  enabled?: boolean;
}

/** Option `cache` once resolved. */
export interface ResolvedCacheOptions {
  readonly enabled: boolean;
}

/** Option `cache`: `true` (or not given), `false`, or `{ enabled? }`. */
export const cacheRule: Rule<ResolvedCacheOptions> = toggle(
  object(shapeOf<CacheMetricsOptions>()({ enabled: nullAsUnset(boolean(true)) }), '{ enabled? }'),
  'true, false or { enabled? }',
);
