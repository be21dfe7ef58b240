/**
 * The names of the outbound HTTP families, for `getMetricValue()` in tests and for dashboards.
 *
 * @example
 * ```ts
 * import { OutboundMetric } from '@veza/nestjs-metrics';
 * import { getMetricValue } from '@veza/nestjs-metrics/testing';
 *
 * expect(
 *   await getMetricValue(app, OutboundMetric.Requests, { method: 'GET', host: 'stripe', status: '2xx' }),
 * ).toBe(3);
 * ```
 */
export const OutboundMetric = {
  /** `veza_http_client_requests_total{method, host, status}`: one count per outbound request. */
  Requests: 'veza_http_client_requests_total',
  /** `veza_http_client_request_duration_seconds{method, host}`: one observation per outbound request. */
  Duration: 'veza_http_client_request_duration_seconds',
} as const;

/**
 * The `status` of an outbound request that got no response: the connection was refused or reset,
 * the host name did not resolve, TLS failed, or the request timed out or was aborted before the
 * response's head arrived.
 */
export const NO_RESPONSE_STATUS = 'no_response';

/**
 * The `host` of requests to hosts past `outbound.maxHosts` (and of a request whose host cannot be
 * read). The same value as GraphQL's `<other>`, reserved: a host or a name spelled so is recorded
 * as `\<other>`.
 */
export const OTHER_HOST = '<other>';
