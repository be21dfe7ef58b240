/**
 * The typed interface of a client's series storage (`SeriesLayout`), implemented by
 * `src/compat/prom-client.ts` (`hashMap`) and `src/compat/prometheus-io-client.ts` (`store`), and
 * reached only through `layoutOf(metric)` in `src/compat/metrics-client.ts`, which checks each layout
 * once per process before it is used. The fast paths (`src/http/metric-cells.ts`,
 * `src/instrumentation/cells.ts`, `src/exposition/render-exposition.ts`) and the series guard see nothing
 * else of a client's internals. Both clients keep the same entry objects (below); they differ in
 * where the entries are, how a series is keyed and how an entry stops being the series' own.
 */
import type { ClientName } from './client-seam';

export type Labels = Readonly<Record<string, unknown>>;

/** An exemplar as both clients keep it on an entry. */
export interface StoredExemplar {
  labelSet: Record<string, unknown>;
  value: number;
  timestamp: number;
}

/** A series as both clients keep it: counters and gauges `value`; histograms buckets (per bound, not cumulative), sum and count. */
export interface SeriesEntry {
  labels?: Labels;
  value?: number;
  exemplar?: StoredExemplar | null;
  bucketValues?: Record<string, number>;
  bucketExemplars?: Record<string, StoredExemplar | null> | null;
  sum?: number;
  count?: number;
}

/** A counter or gauge series written in place. */
export interface CounterSlot {
  /** Adds `delta`; `false` (nothing written) once the entry is no longer the series' own: resolve it again. */
  add(delta: number): boolean;
}

/** A histogram series written in place. */
export interface HistogramSlot {
  /** Files a finite `value`; `false` (nothing written) once the entry is no longer the series' own. */
  observe(value: number): boolean;
}

/** How one client keeps a metric's series. */
export interface SeriesLayout {
  readonly client: ClientName;
  /** Whether `metric` keeps its series this way. */
  holds(metric: object): boolean;
  /**
   * The slot of the series of exactly `labels`, found after one write through the public API
   * (which creates the entry); `undefined` when no entry holds exactly these labels (a label set
   * the guard folded into its overflow series, or one keyed alike with another).
   */
  counterSlot(metric: object, labels: Labels): CounterSlot | undefined;
  histogramSlot(metric: object, labels: Labels): HistogramSlot | undefined;
  /**
   * The entry the client filed the last write of `labels` into (the one under their key, whatever
   * labels it shows), or `undefined` when there is none: the series guard files a histogram's native
   * part there, right after the client's `observe` returned.
   */
  entryOf(metric: object, labels: Labels): SeriesEntry | undefined;
  /** Every series of `metric`, in the client's order (what its `get()` renders). */
  entries(metric: object): SeriesEntry[];
  /**
   * The client's key of a full label set, for the series guard, after making the metric's keys
   * injective where the client allows it (`injective: true`: two label sets never share a series).
   */
  seriesKey(metric: object): {
    key: (labels: Readonly<Record<string, string>>) => string;
    injective: boolean;
  };
}

/** True when `entry` holds exactly `labels` (as the client stored them). */
export function holdsExactly(entry: SeriesEntry | undefined, labels: Labels): entry is SeriesEntry {
  const stored = entry?.labels;
  if (stored === undefined || stored === null) return false;
  const names = Object.keys(labels);
  if (Object.keys(stored).length !== names.length) return false;
  for (const name of names) if (stored[name] !== labels[name]) return false;
  return true;
}

/**
 * Where a histogram files an observation: the keys of `bucketValues` for each bound (integer keys
 * are ordered first by V8, so they are matched by value), and the key of a value above every bound
 * (`-1`, when a bound is -1: both clients' `findBound` returns -1 there and counts it only if that
 * key exists). `undefined` when the entry does not have one key per bound.
 */
export interface BucketKeys {
  readonly bounds: Float64Array;
  readonly keys: readonly string[];
  readonly overflow: string | undefined;
}

export function bucketKeysOf(upperBounds: unknown, entry: SeriesEntry): BucketKeys | undefined {
  if (
    !Array.isArray(upperBounds) ||
    upperBounds.length === 0 ||
    typeof entry.bucketValues !== 'object' ||
    entry.bucketValues === null
  )
    return undefined;
  if (typeof entry.sum !== 'number' || typeof entry.count !== 'number') return undefined;
  const stored = Object.keys(entry.bucketValues);
  const keys: string[] = [];
  for (const bound of upperBounds as number[]) {
    const key = stored.find((k) => Number(k) === bound);
    if (key === undefined) return undefined;
    keys.push(key);
  }
  return {
    bounds: Float64Array.from(upperBounds as number[]),
    keys,
    overflow: keys.includes('-1') ? '-1' : undefined,
  };
}

/**
 * Makes `entry`'s classic part hold only `value`, as a series just created and observed once would
 * (its native part was reset: `minResetInterval`).
 */
export function refileOnly(entry: SeriesEntry, buckets: BucketKeys, value: number): void {
  const values = entry.bucketValues as Record<string, number>;
  for (const key of Object.keys(values)) values[key] = 0;
  (entry as { sum: number }).sum = 0;
  (entry as { count: number }).count = 0;
  fileObservation(entry, buckets, value);
}

/** Files `value` into `entry` as both clients' `observe` does: the first bound >= value, then sum and count. */
export function fileObservation(entry: SeriesEntry, buckets: BucketKeys, value: number): void {
  const { bounds, keys } = buckets;
  let key = buckets.overflow;
  for (let i = 0; i < bounds.length; i++) {
    if (value <= bounds[i]) {
      key = keys[i];
      break;
    }
  }
  // Read on every call: the successor's `zero()` gives an entry a new `bucketValues` object.
  if (key !== undefined) (entry.bucketValues as Record<string, number>)[key] += 1;
  (entry as { sum: number }).sum += value;
  (entry as { count: number }).count += 1;
}
