/**
 * The names of the microservice families, for `getMetricValue()` in tests and for dashboards.
 *
 * @example
 * ```ts
 * import { RpcMetric } from '@veza/nestjs-metrics';
 * import { getMetricValue } from '@veza/nestjs-metrics/testing';
 *
 * expect(
 *   await getMetricValue(app, RpcMetric.Requests, {
 *     transport: 'tcp',
 *     pattern: 'tracks.sum',
 *     kind: 'request',
 *     outcome: 'success',
 *   }),
 * ).toBe(1);
 * ```
 */
export const RpcMetric = {
  /** `veza_rpc_server_requests_total{transport, pattern, kind, outcome}`: one count per handled message. */
  Requests: 'veza_rpc_server_requests_total',
  /** `veza_rpc_server_duration_seconds{transport, pattern, kind}`: one observation per handled message. */
  Duration: 'veza_rpc_server_duration_seconds',
} as const;

/**
 * The `outcome` of a handled message: `success`, or `error` when the handler threw, rejected or
 * the Observable it returned errored.
 */
export type RpcOutcome = 'success' | 'error';

/** The `kind` of a handler: `request` (`@MessagePattern`, `@GrpcMethod`) or `event` (`@EventPattern`). */
export type RpcKind = 'request' | 'event';
