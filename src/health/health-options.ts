import { boolean, integer, MAX_DELAY_MS, object, shapeOf, toggle, type Rule } from '../options/option-schema';

/** Option `health`: every indicator of every `HealthCheckService.check()` of `@nestjs/terminus`. */
export interface HealthMetricsOptions {
  /** Record health checks at all. @defaultValue `true` */
  enabled?: boolean;
  /**
   * An indicator that reports `up` but took longer than this many milliseconds is `slow`: 0.5 in
   * `veza_health_check_status`. Half of terminus' own 1,000 ms ping timeout (past which its
   * database indicators report `down`) and of Kubernetes' default 1 s probe timeout.
   * @defaultValue `500`
   */
  slowMs?: number;
  /**
   * How many distinct indicator keys `service` takes; later keys are recorded as `<other>`.
   * @defaultValue `100`
   */
  maxServices?: number;
}

/** Option `health` once resolved. */
export interface ResolvedHealthOptions {
  readonly enabled: boolean;
  readonly slowMs: number;
  readonly maxServices: number;
}

/** Option `health`: `true` (or not given), `false`, or `{ enabled?, slowMs?, maxServices? }`. */
export const healthRule: Rule<ResolvedHealthOptions> = toggle(
  object(
    shapeOf<HealthMetricsOptions>()({
      enabled: boolean(true),
      slowMs: integer(0, MAX_DELAY_MS, 500),
      maxServices: integer(1, 10_000, 100),
    }),
    '{ enabled?, slowMs?, maxServices? }',
  ),
  'true, false or { enabled?, slowMs?, maxServices? }',
);
