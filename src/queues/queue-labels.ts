/**
 * The names of the `@nestjs/bullmq` families, for `getMetricValue()` in tests and for dashboards.
 *
 * @example
 * ```ts
 * import { QueueMetric } from '@veza/nestjs-metrics';
 * import { getMetricValue } from '@veza/nestjs-metrics/testing';
 *
 * expect(
 *   await getMetricValue(app, QueueMetric.Jobs, { queue: 'transcode', job: 'mp3', outcome: 'completed' }),
 * ).toBe(2);
 * ```
 */
export const QueueMetric = {
  /** `veza_queue_jobs_total{queue, job, outcome}`: one count per job attempt. */
  Jobs: 'veza_queue_jobs_total',
  /** `veza_queue_job_duration_seconds{queue, job}`: one observation per job attempt. */
  JobDuration: 'veza_queue_job_duration_seconds',
  /** `veza_queue_jobs{queue, state}`: the jobs of each registered queue by state, read when Prometheus scrapes. */
  Depth: 'veza_queue_jobs',
} as const;

/**
 * The `outcome` of a job attempt: `completed`; `retried` for a failed attempt that will run again;
 * `failed` for the last one (no attempt left, or an `UnrecoverableError`).
 */
export type QueueJobOutcome = 'completed' | 'retried' | 'failed';

/** The `state` values of `veza_queue_jobs`, in the order the series are written. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/** One `state` of `veza_queue_jobs`. */
export type QueueState = (typeof QUEUE_STATES)[number];
