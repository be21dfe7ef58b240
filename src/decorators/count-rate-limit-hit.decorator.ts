import { VezaMetric } from '../catalog/catalog';
import { FAILURE, SUCCESS } from '../instrumentation/instrument';
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

/** Options of {@link CountRateLimitHit}. */
export interface CountRateLimitHitOptions<R = AnyResult> {
  /** For a check that refuses by its result (`false`) rather than by throwing: whether the result is a refusal. */
  isHit?: (result: R) => unknown;
  /**
   * Whether a thrown error is a refusal by the limiter.
   * @defaultValue an error with HTTP status 429 (`getStatus()`, `status` or `statusCode`)
   */
  isHitError?: (error: unknown) => unknown;
}

/** An error with HTTP status 429; one whose getters (or `getStatus()`) throw is not one. */
function tooManyRequests(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  try {
    const e = error as { getStatus?: () => unknown; status?: unknown; statusCode?: unknown };
    const status = typeof e.getStatus === 'function' ? e.getStatus() : (e.status ?? e.statusCode);
    return status === 429;
  } catch {
    return false;
  }
}

/** The rules of {@link CountRateLimitHitOptions}. */
export const COUNT_RATE_LIMIT_HIT_OPTIONS_SCHEMA = decoratorOptions(
  shapeOf<CountRateLimitHitOptions>()({
    isHit: optionalFunction<(result: unknown) => unknown>(),
    isHitError: optionalFunction<(error: unknown) => unknown>(),
  }),
);

/**
 * Counts a request refused by a rate limiter in `veza_rate_limit_hits_total{endpoint, limit_type}`:
 * when the decorated check throws a 429 error, or returns a refusal (`isHit`). `endpoint` is a route
 * template (`/auth/login`), never a raw URL.
 *
 * @example
 * ```ts
 * @CountRateLimitHit('/auth/login', 'failed_logins', { isHit: (allowed) => !allowed })
 * allow(ip: string): boolean { ... }
 * ```
 */
export function CountRateLimitHit<R = AnyResult>(
  endpoint: string,
  limitType: string,
  options?: CountRateLimitHitOptions<R>,
): MethodDecorator {
  const decorator = `@CountRateLimitHit(${JSON.stringify(endpoint)}, ${JSON.stringify(limitType)})`;
  return instrumentMethod(decorator, (at) => {
    argument(at, 'endpoint', nonEmptyString, endpoint);
    argument(at, 'limitType', nonEmptyString, limitType);
    const opts = COUNT_RATE_LIMIT_HIT_OPTIONS_SCHEMA.resolve(options, at, {});
    const isHit = opts.isHit as ((result: R) => unknown) | undefined;
    const isHitError = opts.isHitError ?? tooManyRequests;
    return {
      decorator,
      name: 'CountRateLimitHit',
      identity: 'CountRateLimitHit',
      timed: false,
      needsArgs: false,
      writes: [VezaMetric.RateLimitHits],
      build: ({ metrics }) => {
        const hits = counterCell(metrics.get(VezaMetric.RateLimitHits), {
          endpoint,
          limit_type: limitType,
        });
        return {
          end(outcome, value) {
            if (
              (outcome === SUCCESS && isHit !== undefined && isHit(value as R)) ||
              (outcome === FAILURE && isHitError(value))
            )
              hits.inc();
          },
        };
      },
    };
  });
}
