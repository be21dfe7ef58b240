/**
 * The messages the cluster's primary and its workers exchange over Node's IPC channel. Types of
 * their own (not prom-client's `prom-client:getMetricsReq`), so that prom-client's
 * `AggregatorRegistry` in the same processes is not disturbed.
 */

/** The primary asks a worker for its metrics. */
export const COLLECT_REQUEST = 'veza-metrics:collect';
/** A worker's answer: one `getMetricsAsJSON()` array per registry, or an error. */
export const COLLECT_RESPONSE = 'veza-metrics:collected';

/** One metric as prom-client's `getMetricsAsJSON()` gives it (what `AggregatorRegistry.aggregate` takes). */
export interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

export interface CollectRequest {
  type: typeof COLLECT_REQUEST;
  id: number;
  /** How long the primary waits for this answer: the worker leaves out sources slower than a share of it. */
  timeoutMs?: number;
}

export interface CollectResponse {
  type: typeof COLLECT_RESPONSE;
  id: number;
  metrics?: MetricJson[][];
  /** By registry, as `metrics`: the metrics left out because their scrape-time source failed or timed out. */
  omitted?: string[][];
  error?: string;
}

export function isCollectRequest(message: unknown): message is CollectRequest {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === COLLECT_REQUEST
  );
}

export function isCollectResponse(message: unknown): message is CollectResponse {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === COLLECT_RESPONSE &&
    typeof (message as { id?: unknown }).id === 'number'
  );
}
