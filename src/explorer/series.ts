import { Counter, Gauge, Histogram, type Metric } from 'prom-client';
import { detached, sanitizeLabelValue } from '../registry/series-guard';

/**
 * One series of a metric (a fixed set of label values), resolved once at bootstrap so that a
 * decorated call does not hash its labels again.
 *
 * prom-client keeps every series in `metric.hashMap` under a string built from the sorted label
 * names and values, and spends most of an `inc` or `observe` building that string. A series here
 * keeps the string and, on each call, looks the entry up in the metric's *current* map: after
 * `reset()`, `remove()` or `set()` (which replace or drop entries) it still writes exactly where
 * prom-client would, so `/metrics` and the injected metric objects stay consistent. When the entry is
 * missing (first call, after a reset), or when this prom-client's internals are not the ones checked
 * at start-up, the series goes through prom-client's public API instead. An entry is written in
 * place only once it is known to hold exactly these labels: after a call through the API (and the
 * series guard on it) finds it so. A label set the guard folded into its overflow series, or one
 * whose prom-client key another label set already holds, never passes that check, so every one of
 * its calls goes through the guard.
 */
export type Labels = Readonly<Record<string, string>>;

export interface CounterSeries {
  inc(): void;
}
export interface GaugeSeries {
  inc(): void;
  dec(): void;
}
export interface HistogramSeries {
  observe(value: number): void;
}

interface Entry {
  labels?: Readonly<Record<string, unknown>>;
  value: number;
  sum: number;
  count: number;
  bucketValues: Record<string, number>;
}
interface Internals {
  hashMap: Record<string, Entry | undefined>;
  sortedLabelNames: readonly string[];
  upperBounds: readonly number[];
  enableExemplars?: boolean;
}

const internals = (metric: Metric): Internals => metric as unknown as Internals;

/** The entry under `hash` when it is the series of exactly `labels` (as prom-client stored them), else `undefined`. */
function entryOf(metric: Metric, hash: string, labels: Labels): Entry | undefined {
  const entry = internals(metric).hashMap[hash];
  const stored = entry?.labels;
  if (stored === undefined || stored === null) return undefined;
  const names = Object.keys(labels);
  if (Object.keys(stored).length !== names.length) return undefined;
  for (const name of names) if (stored[name] !== labels[name]) return undefined;
  return entry;
}

/** prom-client's series key: `name:value,` for each label, names sorted. */
function hashOf(sortedLabelNames: readonly string[], labels: Labels): string {
  let hash = '';
  for (const name of sortedLabelNames) if (labels[name] !== undefined) hash += `${name}:${labels[name]},`;
  return hash;
}

class FastCounter implements CounterSeries, GaugeSeries {
  /** The entry last found to hold exactly these labels: written in place while it is still the one in the map. */
  private entry: Entry | undefined;

  constructor(
    private readonly metric: Counter | Gauge,
    private readonly hash: string,
    private readonly labels: Labels,
  ) {}

  inc(): void {
    const entry = internals(this.metric).hashMap[this.hash];
    if (entry !== undefined && entry === this.entry) entry.value += 1;
    else {
      this.metric.inc({ ...this.labels }, 1);
      this.entry = entryOf(this.metric, this.hash, this.labels);
    }
  }

  dec(): void {
    const entry = internals(this.metric).hashMap[this.hash];
    if (entry !== undefined && entry === this.entry) entry.value -= 1;
    else {
      (this.metric as Gauge).dec({ ...this.labels }, 1);
      this.entry = entryOf(this.metric, this.hash, this.labels);
    }
  }
}

class SlowCounter implements CounterSeries, GaugeSeries {
  constructor(
    private readonly metric: Counter | Gauge,
    private readonly labels: Labels,
  ) {}

  inc(): void {
    if (internals(this.metric).enableExemplars) (this.metric as Counter).inc({ labels: { ...this.labels }, value: 1 } as never);
    else this.metric.inc({ ...this.labels }, 1);
  }

  dec(): void {
    (this.metric as Gauge).dec({ ...this.labels }, 1);
  }
}

class FastHistogram implements HistogramSeries {
  private readonly bounds: readonly number[];
  private readonly keys: readonly string[];
  /** prom-client counts a value above every bound in a bucket `-1` when one exists: kept, to match. */
  private readonly overflow: string | undefined;
  /** As {@link FastCounter}'s. */
  private entry: Entry | undefined;

  constructor(
    private readonly metric: Histogram,
    private readonly hash: string,
    private readonly labels: Labels,
  ) {
    this.bounds = internals(metric).upperBounds;
    this.keys = this.bounds.map(String);
    this.overflow = this.keys.includes('-1') ? '-1' : undefined;
  }

  observe(value: number): void {
    const entry = internals(this.metric).hashMap[this.hash];
    if (entry === undefined || entry !== this.entry || !Number.isFinite(value)) {
      this.metric.observe({ ...this.labels }, value);
      this.entry = entryOf(this.metric, this.hash, this.labels);
      return;
    }
    // prom-client's findBound: the first bound >= value; above them all, only +Inf counts it.
    const { bounds } = this;
    let key = this.overflow;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        key = this.keys[i];
        break;
      }
    }
    if (key !== undefined) entry.bucketValues[key] += 1;
    entry.sum += value;
    entry.count += 1;
  }
}

class SlowHistogram implements HistogramSeries {
  constructor(
    private readonly metric: Histogram,
    private readonly labels: Labels,
  ) {}

  observe(value: number): void {
    if (internals(this.metric).enableExemplars) this.metric.observe({ labels: { ...this.labels }, value } as never);
    else this.metric.observe({ ...this.labels }, value);
  }
}

let fastPathWorks: boolean | undefined;

/**
 * Checks once per process that this prom-client keeps series the way the fast path writes them:
 * the same operations through both paths, on throw-away metrics, must leave identical maps.
 */
export function fastPathAvailable(): boolean {
  if (fastPathWorks === undefined) {
    try {
      fastPathWorks = selfCheck();
    } catch {
      fastPathWorks = false;
    }
  }
  return fastPathWorks;
}

function selfCheck(): boolean {
  const labelNames = ['b', 'a'];
  const labels = { a: 'x', b: 'y' };
  const pair = <M extends Metric>(make: () => M): [M, M] => [make(), make()];
  const [c1, c2] = pair(() => new Counter({ name: 'c', help: 'c', labelNames, registers: [] }));
  const [g1, g2] = pair(() => new Gauge({ name: 'g', help: 'g', labelNames, registers: [] }));
  const [h1, h2] = pair(() => new Histogram({ name: 'h', help: 'h', labelNames, buckets: [0.5, 1, 1024], registers: [] }));
  const [u1, u2] = pair(() => new Histogram({ name: 'u', help: 'u', buckets: [1], registers: [] }));
  const fc = new FastCounter(c2, hashOf(internals(c2).sortedLabelNames, labels), labels);
  const fg = new FastCounter(g2, hashOf(internals(g2).sortedLabelNames, labels), labels);
  const fh = new FastHistogram(h2, hashOf(internals(h2).sortedLabelNames, labels), labels);
  const fu = new FastHistogram(u2, '', {});
  for (let i = 0; i < 3; i++) {
    c1.inc(labels, 1);
    fc.inc();
    g1.inc(labels, 1);
    fg.inc();
  }
  g1.dec(labels, 1);
  fg.dec();
  for (const v of [0.1, 0.5, 0.7, 1, 5, 2048, 0]) {
    h1.observe(labels, v);
    fh.observe(v);
    u1.observe(v);
    fu.observe(v);
  }
  const same = (a: Metric, b: Metric): boolean => JSON.stringify(internals(a).hashMap) === JSON.stringify(internals(b).hashMap);
  return same(c1, c2) && same(g1, g2) && same(h1, h2) && same(u1, u2) && internals(c2).hashMap[fcHash(c2, labels)]?.value === 3;
}

const fcHash = (m: Metric, labels: Labels): string => hashOf(internals(m).sortedLabelNames, labels);

const fastFor = (metric: Metric): boolean =>
  fastPathAvailable() && !internals(metric).enableExemplars && typeof internals(metric).hashMap === 'object';

/**
 * Fixed labels must name every label of the metric, and nothing else, with string values. The copy
 * kept holds each value as the series guard records it (cut to 256 units, well-formed), in memory of
 * its own: a series never keeps a caller's long string alive, and its key is the guard's.
 */
function checked(metric: Metric, labels: Labels): Labels {
  const names = (metric as unknown as { labelNames: readonly string[] }).labelNames;
  const keys = Object.keys(labels);
  const ok = keys.length === names.length && names.every((n) => typeof labels[n] === 'string');
  if (!ok) throw new Error(`labels {${keys.join(', ')}} do not match the label names {${names.join(', ')}}`);
  const copy: Record<string, string> = {};
  // In the order given: prom-client shows a series' labels in the order of the first recording.
  for (const name of keys) copy[name] = detached(sanitizeLabelValue(labels[name]));
  return Object.freeze(copy);
}

/** The series of `counter` with exactly `labels`. */
export function counterSeries(counter: Counter<string>, labels: Labels = {}): CounterSeries {
  const copy = checked(counter, labels);
  return fastFor(counter)
    ? new FastCounter(counter, hashOf(internals(counter).sortedLabelNames, copy), copy)
    : new SlowCounter(counter, copy);
}

/** The series of `gauge` with exactly `labels`, for `inc`/`dec`. */
export function gaugeSeries(gauge: Gauge<string>, labels: Labels = {}): GaugeSeries {
  const copy = checked(gauge, labels);
  return fastFor(gauge) ? new FastCounter(gauge, hashOf(internals(gauge).sortedLabelNames, copy), copy) : new SlowCounter(gauge, copy);
}

/** The series of `histogram` with exactly `labels`. */
export function histogramSeries(histogram: Histogram<string>, labels: Labels = {}): HistogramSeries {
  const copy = checked(histogram, labels);
  return fastFor(histogram)
    ? new FastHistogram(histogram, hashOf(internals(histogram).sortedLabelNames, copy), copy)
    : new SlowHistogram(histogram, copy);
}
