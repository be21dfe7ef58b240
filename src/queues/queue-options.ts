import { checkKeys, isPlainObject } from '../options/option-checks';
import { invalidOption } from '../veza-metrics.messages';

/** Option `queues`: `@nestjs/bullmq` processors and queues. */
export interface QueueMetricsOptions {
  /** Record jobs and queue depths at all. @defaultValue `true` */
  enabled?: boolean;
}

/** Option `queues` once resolved. */
export interface ResolvedQueueOptions {
  readonly enabled: boolean;
}

export function resolveQueueOptions(value: unknown): ResolvedQueueOptions {
  if (value === undefined || value === true) return { enabled: true };
  if (value === false) return { enabled: false };
  if (!isPlainObject(value)) throw new Error(invalidOption('queues', 'true, false or { enabled? }', value));
  checkKeys('queues', value, ['enabled']);
  const enabled = value.enabled ?? true;
  if (typeof enabled !== 'boolean') throw new Error(invalidOption('queues.enabled', 'a boolean', enabled));
  return { enabled };
}
