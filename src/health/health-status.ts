/**
 * What `veza_health_check_status` says, shared by `@TrackHealthCheck` and the automatic recording of
 * `@nestjs/terminus` checks: 1 up, 0.5 slow (slower than `slowMs`, or terminus says `degraded`), 0
 * down (terminus says `down`, or the check threw).
 */
export const HEALTH_UP = 1;
export const HEALTH_SLOW = 0.5;
export const HEALTH_DOWN = 0;

/** The status of one terminus indicator entry (`{ status: 'up' }`), `undefined` for a status terminus does not know. */
export function indicatorStatus(status: unknown): number | undefined {
  if (status === 'up') return HEALTH_UP;
  if (status === 'degraded') return HEALTH_SLOW;
  if (status === 'down') return HEALTH_DOWN;
  return undefined;
}

/** `status` of a check that took `ms`: an `up` slower than `slowMs` is slow. */
export function withSlowness(status: number, ms: number, slowMs: number): number {
  return status === HEALTH_UP && ms > slowMs ? HEALTH_SLOW : status;
}

/**
 * Outcomes (a result object, a thrown error) a `@TrackHealthCheck` method already recorded, so that
 * the automatic recording of the `HealthCheckService.check()` they flow into does not record them a
 * second time. Each is taken once: one decorated call stands for one indicator call. Held weakly:
 * an outcome that never reaches a check goes with its object.
 */
const recordedByDecorator = new WeakSet<object>();

/** `@TrackHealthCheck` recorded `outcome` (the value returned or thrown). */
export function noteDecoratorRecorded(outcome: unknown): void {
  if ((typeof outcome === 'object' && outcome !== null) || typeof outcome === 'function')
    recordedByDecorator.add(outcome);
}

/** Whether `@TrackHealthCheck` recorded `outcome`; true once, then forgotten. */
export function takeDecoratorRecorded(outcome: unknown): boolean {
  if ((typeof outcome !== 'object' || outcome === null) && typeof outcome !== 'function') return false;
  return recordedByDecorator.delete(outcome);
}
