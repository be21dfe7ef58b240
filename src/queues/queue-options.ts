import { boolean, nullAsUnset, object, shapeOf, toggle, type Rule } from '../options/option-schema';

/** Option `queues`: `@nestjs/bullmq` processors and queues. */
export interface QueueMetricsOptions {
  /** Record jobs and queue depths at all. @defaultValue `true` */
  enabled?: boolean;
}

/** Option `queues` once resolved. */
export interface ResolvedQueueOptions {
  readonly enabled: boolean;
}

/** Option `queues`: `true` (or not given), `false`, or `{ enabled? }`. */
export const queuesRule: Rule<ResolvedQueueOptions> = toggle(
  object(shapeOf<QueueMetricsOptions>()({ enabled: nullAsUnset(boolean(true)) }), '{ enabled? }'),
  'true, false or { enabled? }',
);
