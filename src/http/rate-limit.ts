import { throttlerNamesOf, throttlerOfHeaders } from '../compat/nest-throttler';

/**
 * The `limit_type` of a 429 whose limiter cannot be named (no `Retry-After` header): `@nestjs/throttler`'s default name.
 *
 * @example
 * ```ts
 * expect(await getMetricValue(app, VezaMetric.RateLimitHits, { endpoint: '/login', limit_type: DEFAULT_LIMIT_TYPE })).toBe(1);
 * ```
 */
export const DEFAULT_LIMIT_TYPE = 'default';

// What the throttler's 429s look like is src/compat/nest-throttler.ts's to know (T1 to T3).
export { isThrottlerException, THROTTLER_OPTIONS_TOKEN } from '../compat/nest-throttler';

/**
 * The `limit_type` of a 429: the name of the throttler that refused it, from the headers
 * `@nestjs/throttler` sets (`Retry-After`, `Retry-After-<name>`), with its case from `names`.
 * `undefined` when no such header was set.
 */
export function limitTypeOf(
  headerNames: readonly string[],
  names: ReadonlyMap<string, string>,
): string | undefined {
  return throttlerOfHeaders(headerNames, names);
}

/** The throttler names of `@nestjs/throttler`'s module options, keyed by their lower-case form. */
export function throttlerNames(options: unknown): Map<string, string> {
  return throttlerNamesOf(options);
}
