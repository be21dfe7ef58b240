/**
 * The messages the cluster's primary and its workers exchange over Node's IPC channel. Types of
 * their own (not prom-client's `prom-client:getMetricsReq`), so that prom-client's
 * `AggregatorRegistry` in the same processes is not disturbed.
 *
 * One scrape: the primary sends a {@link CollectRequest}; the worker answers with
 * {@link CollectPart}s (its metrics, a slice of at most {@link MAX_PART_SAMPLES} samples and about
 * {@link MAX_PART_CHARS} characters each, sent one at a time, each once the previous one is written
 * to the channel, one slice of work per event-loop turn), then one {@link CollectResponse} that says
 * how many parts it sent (or the error). Messages of one channel arrive in the order sent, so the
 * primary appends the parts of a request as they come and takes the answer whole at the end.
 */

import type { NativeHistogramSnapshot } from '../native/native-histogram';

/** The primary asks a worker for its metrics. */
export const COLLECT_REQUEST = 'veza-metrics:collect';
/** A slice of a worker's answer. */
export const COLLECT_PART = 'veza-metrics:part';
/** The end of a worker's answer: how many parts it holds, or an error. */
export const COLLECT_RESPONSE = 'veza-metrics:collected';

/** The most samples a worker puts in one part (a metric's header counts as one, and so does each number of a series). */
export const MAX_PART_SAMPLES = 2_048;
/**
 * About the most characters of label names and values, sample and metric names, help and numbers a
 * worker puts in one part (a part closes once it is past it; one sample's own labels may overshoot it).
 */
export const MAX_PART_CHARS = 128 * 1024;

/**
 * One metric as prom-client's `getMetricsAsJSON()` gives it (what `AggregatorRegistry.aggregate`
 * takes). The `_count` sample of a histogram series with a native part carries it (`native`).
 */
export interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  values: {
    value: number;
    labels: Record<string, string | number>;
    metricName?: string;
    native?: NativeHistogramSnapshot;
  }[];
}

/**
 * Some of the samples of one metric of one registry (`registry`: its index among the registries the
 * worker answers for). A metric may span several parts: each repeats its name, help and type, and
 * its values (and series) follow those of the previous part.
 *
 * A counter, gauge or histogram read in place comes as series rather than samples (`values` empty):
 * `labels[i]`, the i-th series' own labels (default labels not filled in), and its numbers in
 * `numbers`: one per series (its value), or, for a histogram (`bounds`: its upper bounds but
 * `+Inf`), `bounds.length + 2` per series: its cumulative bucket counts, its count (the `+Inf`
 * bucket), its sum. The primary expands them into the samples `getMetricsAsJSON()` gives (`le`
 * first, then the series' labels, then the `defaults` a series lacks).
 */
export interface PartMetric extends MetricJson {
  registry: number;
  labels?: Record<string, string | number>[];
  numbers?: number[];
  bounds?: number[];
  /** The registry's default labels, filled in where a series' own value is missing (or empty). */
  defaults?: Record<string, string>;
  /**
   * Histograms with a native part: `natives[i]` is the i-th series' (`null` where it has none; the
   * array may be shorter than `labels`). Its spans and deltas count toward the part's samples.
   */
  natives?: (NativeHistogramSnapshot | null)[];
}

export interface CollectRequest {
  type: typeof COLLECT_REQUEST;
  id: number;
  /** How long the primary waits for this answer: the worker leaves out sources slower than a share of it. */
  timeoutMs?: number;
}

export interface CollectPart {
  type: typeof COLLECT_PART;
  id: number;
  metrics: PartMetric[];
}

export interface CollectResponse {
  type: typeof COLLECT_RESPONSE;
  id: number;
  /** How many parts the answer holds (all sent before this message). */
  parts?: number;
  /** How many registries the worker answered for (`registry` of a part is below it). */
  registries?: number;
  /** By registry: the metrics left out because their scrape-time source failed or timed out. */
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

export function isCollectPart(message: unknown): message is CollectPart {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === COLLECT_PART &&
    typeof (message as { id?: unknown }).id === 'number' &&
    Array.isArray((message as { metrics?: unknown }).metrics)
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
