import { VezaMetric } from '../catalog/catalog';
import { CANCELLED, SUCCESS } from '../instrumentation/instrument';
import { labelFrom, CellCache } from '../instrumentation/labels';
import { detached } from '../registry/series-guard';
import { histogramCell } from '../instrumentation/cells';
import {
  argument,
  decoratorOptions,
  optionalFunction,
  optionalNumberAtLeast,
  stringOrFunction,
} from '../instrumentation/decorator-options';
import { instrumentMethod } from '../instrumentation/instrument-method';
import { HEALTH_DOWN, HEALTH_SLOW, HEALTH_UP, noteDecoratorRecorded } from '../health/health-status';
import { shapeOf } from '../options/option-schema';
import type { AnyArgs, AnyResult } from '../instrumentation/loose-types';

/** Options of {@link TrackHealthCheck}. */
export interface TrackHealthCheckOptions<R = AnyResult> {
  /** A check that succeeds but takes longer than this many milliseconds is `slow` (0.5). @defaultValue never slow */
  slowMs?: number;
  /**
   * Whether the returned value is a healthy result, for checks that report `down` without throwing.
   * @defaultValue a `@nestjs/terminus` result (`{ key: { status } }`) is healthy when no status is
   * `down`, and `slow` (0.5) when one is `degraded`; any other value is healthy
   */
  isHealthy?: (result: R) => unknown;
}

const OK = HEALTH_UP;
const SLOW = HEALTH_SLOW;
const DOWN = HEALTH_DOWN;

/** The status of a `@nestjs/terminus` indicator result, or `undefined` when `result` is not one (or cannot be read). */
function terminusStatus(result: unknown): number | undefined {
  try {
    return readStatus(result);
  } catch {
    return undefined;
  }
}

function readStatus(result: unknown): number | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const entries = Object.values(result);
  if (entries.length === 0) return undefined;
  let status = OK;
  for (const entry of entries) {
    const s = (entry as { status?: unknown } | null)?.status;
    if (typeof s !== 'string') return undefined;
    if (s === 'down') return DOWN;
    if (s === 'degraded') status = SLOW;
  }
  return status;
}

/** The rules of {@link TrackHealthCheckOptions}. */
export const TRACK_HEALTH_CHECK_OPTIONS_SCHEMA = decoratorOptions(
  shapeOf<TrackHealthCheckOptions>()({
    slowMs: optionalNumberAtLeast(0),
    isHealthy: optionalFunction<(result: unknown) => unknown>(),
  }),
);

/**
 * Records a health check: its duration in `veza_health_check_duration_ms{service}` (observed in
 * milliseconds; in seconds in `veza_health_check_duration_seconds` under `naming: 'strict'`), and
 * `veza_health_check_status{service}`: 1 when it succeeds, 0.5 when it takes more than `slowMs` (or
 * terminus says `degraded`), 0 when it throws (or terminus says `down`). Works on a
 * `@nestjs/terminus` health indicator.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class DatabaseHealthIndicator {
 *   constructor(private readonly health: HealthIndicatorService) {}
 *
 *   @TrackHealthCheck('database', { slowMs: 250 })
 *   async isHealthy(key: string) {
 *     await this.db.ping();
 *     return this.health.check(key).up();
 *   }
 * }
 * ```
 */
export function TrackHealthCheck<A extends unknown[] = AnyArgs, R = AnyResult>(
  service: string | ((...args: A) => string),
  options?: TrackHealthCheckOptions<R>,
): MethodDecorator {
  const decorator = `@TrackHealthCheck(${typeof service === 'string' ? JSON.stringify(service) : 'fn'})`;
  return instrumentMethod(decorator, (at) => {
    const label = argument(at, 'service', stringOrFunction<(...args: A) => string>(), service);
    const opts = TRACK_HEALTH_CHECK_OPTIONS_SCHEMA.resolve(options, at, {});
    const slowMs = opts.slowMs ?? Infinity;
    const isHealthy = opts.isHealthy as ((result: R) => unknown) | undefined;
    return {
      decorator,
      name: 'TrackHealthCheck',
      identity: 'TrackHealthCheck',
      timed: true,
      needsArgs: typeof label === 'function',
      writes: [VezaMetric.HealthCheckDuration, VezaMetric.HealthCheckStatus],
      build: ({ metrics, definitions }) => {
        const scale = definitions.of(VezaMetric.HealthCheckDuration).scale;
        const durationMetric = metrics.get(VezaMetric.HealthCheckDuration);
        const statusGauge = metrics.get(VezaMetric.HealthCheckStatus);
        // The status gauge is set with the labels kept here (cut, copied): prom-client keeps what it is given.
        const services = new CellCache(['service'], (labels) => ({
          duration: histogramCell(durationMetric, labels),
          labels: { service: detached(labels.service) },
        }));
        return {
          end(outcome, value, seconds, args) {
            if (outcome === CANCELLED) return;
            const s = labelFrom('service', label, args);
            const ms = seconds * 1000;
            let status = DOWN;
            if (outcome === SUCCESS) {
              const reported = isHealthy
                ? isHealthy(value as R)
                  ? OK
                  : DOWN
                : (terminusStatus(value) ?? OK);
              status = reported === OK && ms > slowMs ? SLOW : reported;
            }
            const service = services.one(s);
            service.duration.observe(ms * scale);
            statusGauge.set({ ...service.labels }, status);
            // The automatic recording of the terminus check this outcome flows into leaves it to us.
            noteDecoratorRecorded(value);
          },
        };
      },
    };
  });
}
