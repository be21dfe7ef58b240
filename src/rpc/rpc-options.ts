import { checkKeys, isPlainObject } from '../options/option-checks';
import { invalidOption } from '../veza-metrics.messages';

/** Option `rpc`: microservice handlers (`@MessagePattern`, `@EventPattern`). */
export interface RpcMetricsOptions {
  /** Record the messages microservice handlers handle. @defaultValue `true` */
  enabled?: boolean;
}

/** Option `rpc` once resolved. */
export interface ResolvedRpcOptions {
  readonly enabled: boolean;
}

export function resolveRpcOptions(value: unknown): ResolvedRpcOptions {
  if (value === undefined || value === true) return { enabled: true };
  if (value === false) return { enabled: false };
  if (!isPlainObject(value)) throw new Error(invalidOption('rpc', 'true, false or { enabled? }', value));
  checkKeys('rpc', value, ['enabled']);
  const enabled = value.enabled ?? true;
  if (typeof enabled !== 'boolean') throw new Error(invalidOption('rpc.enabled', 'a boolean', enabled));
  return { enabled };
}
