import type { Counter, Histogram, LabelValues } from 'prom-client';

/*
 * prom-client's `inc(labels)` and `observe(labels, v)` build a hash string, a closure and a label
 * object on every call. The recorder runs on every request, so it resolves each series once, through
 * that public API, and then writes into the very entry prom-client keeps for it: the value of a
 * counter series, the bucket, sum and count of a histogram series. prom-client renders that entry,
 * so /metrics stays exact. Each write first checks that the entry is still the one prom-client
 * holds (`reset()` replaces the map, `remove()` deletes the entry); if not, the series is resolved
 * again through the public API. When a metric does not have the layout this relies on (another
 * prom-client major), cells use the public API on every call: slower, equally exact. Metrics with
 * exemplars enabled take their arguments as one object; the entry is the same.
 */

interface CounterEntry {
  value: number;
}
interface HistogramEntry {
  sum: number;
  count: number;
  bucketValues: Record<string, number>;
}
interface Internals<E> {
  hashMap?: Record<string, E | undefined>;
  enableExemplars?: boolean;
}

/** True when `metric` keeps its series in a `hashMap` the way prom-client 15 does. */
function hasKnownLayout(metric: object): boolean {
  const m = metric as Internals<unknown>;
  return typeof m.hashMap === 'object' && m.hashMap !== null;
}

/** The key and entry of the series with exactly `labels` in `map`. */
function findEntry<E>(map: Record<string, E | undefined>, labels: Record<string, unknown>): [string, E] | undefined {
  for (const hash of Object.keys(map)) {
    const entry = map[hash] as (E & { labels?: Record<string, unknown> }) | undefined;
    if (entry && sameLabels(entry.labels, labels)) return [hash, entry];
  }
  return undefined;
}

/** One series of a counter: `inc()` adds 1 without allocating. */
export class CounterCell<L extends string> {
  private map: Record<string, CounterEntry | undefined> | undefined;
  private hash = '';
  private entry: CounterEntry | undefined;
  private readonly direct: boolean;

  constructor(
    private readonly counter: Counter<L>,
    private readonly labels: LabelValues<L>,
  ) {
    this.direct = hasKnownLayout(counter);
  }

  inc(): void {
    const map = (this.counter as unknown as Internals<CounterEntry>).hashMap;
    const entry = this.entry;
    if (entry !== undefined && map !== undefined && map === this.map && map[this.hash] === entry) {
      entry.value += 1;
      return;
    }
    this.resolve();
  }

  private resolve(): void {
    const counter = this.counter as unknown as Internals<CounterEntry> & { inc(...args: unknown[]): unknown };
    if (counter.enableExemplars === true) counter.inc({ labels: this.labels, value: 1 });
    else counter.inc(this.labels, 1);
    const map = counter.hashMap;
    if (!this.direct || !map) return;
    const found = findEntry(map, this.labels);
    if (found && typeof found[1].value === 'number') [this.hash, this.entry, this.map] = [found[0], found[1], map];
  }
}

/** One series of a histogram: `observe(v)` files `v` without allocating. */
export class HistogramCell<L extends string> {
  private map: Record<string, HistogramEntry | undefined> | undefined;
  private hash = '';
  private entry: HistogramEntry | undefined;
  private readonly direct: boolean;
  private readonly bounds: Float64Array;
  /** The keys of `bucketValues` for each bound, as prom-client stores them. */
  private keys: string[] = [];

  constructor(
    private readonly histogram: Histogram<L>,
    private readonly labels: LabelValues<L>,
  ) {
    const upper = (histogram as unknown as { upperBounds?: number[] }).upperBounds;
    this.bounds = Float64Array.from(Array.isArray(upper) ? upper : []);
    this.direct = hasKnownLayout(histogram) && this.bounds.length > 0;
  }

  /** Observes `source[0] * scale`: read here, so that no double is boxed on the way in. */
  observeFrom(source: Float64Array, scale: number): void {
    this.observe(source[0] * scale);
  }

  observe(value: number): void {
    const map = (this.histogram as unknown as Internals<HistogramEntry>).hashMap;
    const entry = this.entry;
    if (entry !== undefined && map !== undefined && map === this.map && map[this.hash] === entry) {
      const bounds = this.bounds;
      let i = 0;
      while (i < bounds.length && value > bounds[i]) i++;
      if (i < bounds.length) entry.bucketValues[this.keys[i]] += 1;
      entry.sum += value;
      entry.count += 1;
      return;
    }
    this.resolve(value);
  }

  private resolve(value: number): void {
    const histogram = this.histogram as unknown as Internals<HistogramEntry> & { observe(...args: unknown[]): unknown };
    if (histogram.enableExemplars === true) histogram.observe({ labels: this.labels, value });
    else histogram.observe(this.labels, value);
    const map = histogram.hashMap;
    if (!this.direct || !map) return;
    const found = findEntry(map, this.labels);
    const keys = found && this.keysOf(found[1]);
    if (!found || !keys || typeof found[1].sum !== 'number' || typeof found[1].count !== 'number') return;
    [this.hash, this.entry, this.map, this.keys] = [found[0], found[1], map, keys];
  }

  /** Matches each bound to its key in `bucketValues` (integer keys are ordered first by V8). */
  private keysOf(entry: HistogramEntry): string[] | undefined {
    const stored = Object.keys(entry.bucketValues ?? {});
    const keys: string[] = [];
    for (const bound of this.bounds) {
      const key = stored.find((k) => Number(k) === bound);
      if (key === undefined) return undefined;
      keys.push(key);
    }
    return keys;
  }
}

function sameLabels(a: Record<string, unknown> | undefined, b: Record<string, unknown>): boolean {
  if (!a) return false;
  const keys = Object.keys(b);
  return Object.keys(a).length === keys.length && keys.every((k) => a[k] === b[k]);
}
