import type { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { performance } from 'node:perf_hooks';

/** A check slower than this is `degraded` in /health, and `slow` (0.5) in `veza_health_check_status`. */
export const SLOW_CHECK_MS = 250;

/**
 * Runs `ping` as the check of `key`: `up`, `degraded` when it took more than {@link SLOW_CHECK_MS},
 * `down` (with the reason) when it threw. Terminus answers 503 when a check is down.
 */
export function pingCheck(
  health: HealthIndicatorService,
  key: string,
  ping: () => unknown,
): HealthIndicatorResult {
  const indicator = health.check(key);
  const started = performance.now();
  try {
    ping();
  } catch (error) {
    return indicator.down({ message: error instanceof Error ? error.message : String(error) });
  }
  const responseTimeMs = Math.round(performance.now() - started);
  return responseTimeMs > SLOW_CHECK_MS
    ? indicator.degraded({ responseTimeMs })
    : indicator.up({ responseTimeMs });
}
