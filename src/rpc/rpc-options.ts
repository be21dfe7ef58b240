import { boolean, nullAsUnset, object, shapeOf, toggle, type Rule } from '../options/option-schema';

/** Option `rpc`: microservice handlers (`@MessagePattern`, `@EventPattern`). */
export interface RpcMetricsOptions {
  /** Record the messages microservice handlers handle. @defaultValue `true` */
  enabled?: boolean;
}

/** Option `rpc` once resolved. */
export interface ResolvedRpcOptions {
  readonly enabled: boolean;
}

/** Option `rpc`: `true` (or not given), `false`, or `{ enabled? }`. */
export const rpcRule: Rule<ResolvedRpcOptions> = toggle(
  object(shapeOf<RpcMetricsOptions>()({ enabled: nullAsUnset(boolean(true)) }), '{ enabled? }'),
  'true, false or { enabled? }',
);
