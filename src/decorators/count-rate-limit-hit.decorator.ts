import { VezaMetric } from '../catalog/catalog';
import { FAILURE, SUCCESS } from '../instrumentation/instrument';
import { counterCell } from '../instrumentation/cells';
import { instrumentMethod } from './instrument-method';
import type { AnyResult } from './loose-types';

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
  return instrumentMethod(decorator, (check) => {
    check.string('endpoint', endpoint);
    check.string('limitType', limitType);
    const opts = check.options(options, ['isHit', 'isHitError']);
    const isHit = check.optionalFunction<(result: R) => unknown>('isHit', opts.isHit);
    const isHitError =
      check.optionalFunction<(error: unknown) => unknown>('isHitError', opts.isHitError) ?? tooManyRequests;
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
