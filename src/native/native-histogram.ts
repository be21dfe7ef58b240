/**
 * The native part of a histogram series (Prometheus' sparse, exponential buckets): what it keeps,
 * how an observation is filed, how resolution is lowered when the bucket budget is spent, and its
 * snapshot as the protobuf `Histogram` message carries it. The classic part of the series (count,
 * sum, the seed's buckets) stays in the client's own entry; the native part is kept beside it, on
 * the entry, so that whatever replaces or deletes the entry (`reset()`, `remove()`, prom-client's
 * `zero()`) drops it too. Count and sum are shared: the protobuf message has one of each.
 *
 * Bucket keys follow Prometheus' definition (the same as client_golang's and client_java's): at
 * schema `s`, the buckets' bounds are powers of `base = 2^(2^-s)`, bucket `k` holds the values in
 * `(base^(k-1), base^k]`, and 1 is always a bound. Schema -4 to 8.
 */
import type { SeriesEntry } from '../compat/series-storage';

/** The lowest and highest schemas Prometheus accepts. */
export const MIN_SCHEMA = -4;
export const MAX_SCHEMA = 8;

/** client_golang's defaults: a bucket factor of 1.1 (schema 3), 160 buckets, a zero bucket of 2^-128. */
export const DEFAULT_BUCKET_FACTOR = 1.1;
export const DEFAULT_MAX_BUCKETS = 160;
export const DEFAULT_ZERO_THRESHOLD = 2 ** -128;

/** Resolved settings of one histogram's native part. */
export interface NativeHistogramConfig {
  /** The schema observations start at: -4..8 (from the bucket factor: 1.1 gives 3). */
  readonly schema: number;
  /**
   * Per sign, the most buckets between the lowest and the highest one kept (so memory is bounded
   * by it: 8 bytes a bucket); past it, the resolution is lowered (or the series reset, see
   * `minResetIntervalMs`).
   */
  readonly maxBuckets: number;
  /** Observations with an absolute value at most this go to the zero bucket. */
  readonly zeroThreshold: number;
  /**
   * When the budget is spent and at least this long has passed since the series was last reset
   * (or created), the series is reset (classic part too) instead of losing resolution. 0: never.
   */
  readonly minResetIntervalMs: number;
}

/** A run of consecutive buckets: `offset` from the end of the previous run (from key 0 for the first). */
export interface BucketSpan {
  readonly offset: number;
  readonly length: number;
}

/** A series' native part as the protobuf `Histogram` message carries it (counts as deltas, as in metrics.proto). */
export interface NativeHistogramSnapshot {
  readonly schema: number;
  readonly zeroThreshold: number;
  readonly zeroCount: number;
  readonly positiveSpans: readonly BucketSpan[];
  /** Each bucket's count minus the previous bucket's (the first: minus 0). */
  readonly positiveDeltas: readonly number[];
  readonly negativeSpans: readonly BucketSpan[];
  readonly negativeDeltas: readonly number[];
}

/** The schema of a bucket factor, as client_golang picks it: the largest whose buckets grow by at most the factor. */
export function schemaForFactor(bucketFactor: number): number {
  const floor = Math.floor(Math.log2(Math.log2(bucketFactor)));
  if (floor <= -MAX_SCHEMA) return MAX_SCHEMA;
  if (floor >= -MIN_SCHEMA) return MIN_SCHEMA;
  return 0 - floor;
}

/**
 * The largest relative error of a quantile estimated from a schema's buckets by an estimate that
 * stays inside the bucket (Prometheus interpolates linearly in 2.x, exponentially from 3.0):
 * `base - 1`, with `base = 2^(2^-schema)`. Schema 3: 9.05 %. (Taken at the bucket's geometric
 * middle, the error would be at most `(base - 1) / (base + 1)`: 4.3 %.)
 */
export function relativeErrorOf(schema: number): number {
  return 2 ** (2 ** -schema) - 1;
}

/** The upper bound of bucket `key` at `schema`. */
export function upperBoundOf(key: number, schema: number): number {
  return 2 ** (key * 2 ** -schema);
}

// Keys are computed from the float's own exponent and mantissa, as Go's math.Frexp gives them.
const FLOAT = new Float64Array(1);
const WORDS = new Uint32Array(FLOAT.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HIGH = LITTLE_ENDIAN ? 1 : 0;
const LOW = LITTLE_ENDIAN ? 0 : 1;

/** For each schema above 0, the 2^schema bounds of a mantissa in [0.5, 1): 2^(i / 2^schema) / 2. */
const MANTISSA_BOUNDS: readonly Float64Array[] = Array.from({ length: MAX_SCHEMA + 1 }, (_, schema) => {
  const n = 2 ** schema;
  return Float64Array.from({ length: schema > 0 ? n : 0 }, (_, i) => 2 ** (i / n) / 2);
});

/**
 * For each schema above 0, per bin of the mantissa's top 12 fraction bits, the first bound at or
 * above the bin's lowest mantissa: bounds are at least 2^(1/256) apart (0.0013 of a mantissa above
 * 0.5) and a bin is 0.5 / 4096 = 0.00012 wide, so at most one bound falls inside a bin and the key
 * is found with one or two comparisons instead of a binary search (schema 8: eight).
 */
const INDEX_BITS = 12;
const MANTISSA_INDEX: readonly Uint16Array[] = MANTISSA_BOUNDS.map((bounds) => {
  const table = new Uint16Array(bounds.length > 0 ? 1 << INDEX_BITS : 0);
  let i = 0;
  for (let bin = 0; bin < table.length; bin++) {
    const lowest = 0.5 * (1 + bin / (1 << INDEX_BITS));
    while (i < bounds.length && bounds[i] < lowest) i++;
    table[bin] = i;
  }
  return table;
});

/** The key of the bucket holding `value` (finite, above 0) at `schema`. */
export function bucketKeyOf(value: number, schema: number): number {
  FLOAT[0] = value;
  const high = WORDS[HIGH];
  const biased = (high >>> 20) & 0x7ff;
  if (biased === 0) return subnormalKey(value, schema);
  // value = mantissa * 2^exponent, mantissa in [0.5, 1)
  const exponent = biased - 1022;
  if (schema > 0) {
    WORDS[HIGH] = (high & 0x800fffff) | 0x3fe00000;
    const mantissa = FLOAT[0];
    const bounds = MANTISSA_BOUNDS[schema];
    // The first bound at or above the mantissa: from the first at or above its bin's lowest value.
    let lo = MANTISSA_INDEX[schema][(high >>> (20 - INDEX_BITS)) & ((1 << INDEX_BITS) - 1)];
    while (lo < bounds.length && bounds[lo] < mantissa) lo++;
    return lo + (exponent - 1) * bounds.length;
  }
  // A power of two (mantissa exactly 0.5) is the upper bound of the bucket below.
  const powerOfTwo = (high & 0xfffff) === 0 && WORDS[LOW] === 0;
  const key = powerOfTwo ? exponent - 1 : exponent;
  return (key + (1 << -schema) - 1) >> -schema;
}

/** Subnormal values (below 2^-1022, only seen with a zero threshold below them): from the logarithm. */
function subnormalKey(value: number, schema: number): number {
  let key = Math.ceil(Math.log2(value) * 2 ** schema);
  // Correct the logarithm's rounding at a bound.
  if (upperBoundOf(key, schema) < value) key++;
  else if (upperBoundOf(key - 1, schema) >= value) key--;
  return key;
}

/** The key of bucket `key` once the schema is lowered by `steps` (each step merges pairs of buckets). */
export function lowerKey(key: number, steps: number): number {
  let k = key;
  for (let i = 0; i < steps; i++) k = (k + 1) >> 1;
  return k;
}

/** Room added on each side of a bucket array when it is created or grown. */
const HEADROOM = 8;

/**
 * The buckets of one sign: a dense array of counts over a window of keys, never wider than the
 * budget, so its memory is bounded by it whatever the observations.
 */
class BucketWindow {
  /** Counts of keys `first` .. `first + counts.length - 1`. */
  counts = new Float64Array(0);
  first = 0;

  /** Adds 1 to `key`'s bucket if the window holds it; false otherwise (nothing written). */
  add(key: number): boolean {
    const i = key - this.first;
    if (i < 0 || i >= this.counts.length) return false;
    this.counts[i]++;
    return true;
  }

  /** The lowest and highest keys with a count, or `undefined` when empty. */
  range(): [number, number] | undefined {
    const { counts } = this;
    let lo = 0;
    while (lo < counts.length && counts[lo] === 0) lo++;
    if (lo === counts.length) return undefined;
    let hi = counts.length - 1;
    while (counts[hi] === 0) hi--;
    return [this.first + lo, this.first + hi];
  }

  /** Makes the window hold `key` within `budget` buckets; false when the populated buckets and `key` span more. */
  widen(key: number, budget: number): boolean {
    const range = this.range();
    const lo = range ? Math.min(range[0], key) : key;
    const hi = range ? Math.max(range[1], key) : key;
    if (hi - lo + 1 > budget) return false;
    const size = Math.min(budget, hi - lo + 1 + 2 * HEADROOM);
    // Centre the populated keys in the new window, kept within the budget.
    const first = lo - Math.floor((size - (hi - lo + 1)) / 2);
    const counts = new Float64Array(size);
    if (range)
      counts.set(this.counts.subarray(range[0] - this.first, range[1] - this.first + 1), range[0] - first);
    this.counts = counts;
    this.first = first;
    return this.add(key);
  }

  /** Merges pairs of buckets: the keys of one schema lower. */
  lower(): void {
    const range = this.range();
    if (!range) {
      this.counts = new Float64Array(0);
      return;
    }
    const lo = lowerKey(range[0], 1);
    const hi = lowerKey(range[1], 1);
    const counts = new Float64Array(hi - lo + 1);
    for (let key = range[0]; key <= range[1]; key++) {
      const count = this.counts[key - this.first];
      if (count !== 0) counts[lowerKey(key, 1) - lo] += count;
    }
    this.counts = counts;
    this.first = lo;
  }

  clear(): void {
    this.counts = new Float64Array(0);
    this.first = 0;
  }

  total(): number {
    let sum = 0;
    for (const count of this.counts) sum += count;
    return sum;
  }

  /** Spans and deltas as metrics.proto has them; runs of up to two empty buckets are kept inside a span (cheaper than a new span). */
  encode(): { spans: BucketSpan[]; deltas: number[] } {
    const spans: BucketSpan[] = [];
    const deltas: number[] = [];
    const range = this.range();
    if (!range) return { spans, deltas };
    let previousCount = 0;
    let spanStart = range[0];
    let spanLength = 0;
    let lastEnd = 0; // key after the previous span
    let firstSpan = true;
    for (let key = range[0]; key <= range[1]; key++) {
      const count = this.counts[key - this.first];
      if (count === 0) {
        // Look ahead: a gap of at most two empty buckets stays in the span.
        let gap = 1;
        while (key + gap <= range[1] && this.counts[key + gap - this.first] === 0) gap++;
        if (gap <= 2) {
          for (let g = 0; g < gap; g++) {
            deltas.push(0 - previousCount);
            previousCount = 0;
          }
          spanLength += gap;
          key += gap - 1;
          continue;
        }
        spans.push({ offset: firstSpan ? spanStart : spanStart - lastEnd, length: spanLength });
        firstSpan = false;
        lastEnd = spanStart + spanLength;
        key += gap - 1;
        spanStart = key + 1;
        spanLength = 0;
        continue;
      }
      deltas.push(count - previousCount);
      previousCount = count;
      spanLength++;
    }
    spans.push({ offset: firstSpan ? spanStart : spanStart - lastEnd, length: spanLength });
    return { spans, deltas };
  }
}

/**
 * The native part of one histogram series. `observe` is the hot path: a few arithmetic operations
 * and one array write when the bucket is in the window.
 */
export class NativeHistogram {
  schema: number;
  zeroCount = 0;
  /** The config's, kept at hand: read on every observation. */
  private readonly zeroThreshold: number;
  private readonly positive = new BucketWindow();
  private negative: BucketWindow | undefined;
  private lastReset: number;

  constructor(
    readonly config: NativeHistogramConfig,
    /** The classic part this one was kept in step with (the successor's `zero()` replaces it). */
    public classic: unknown,
  ) {
    this.schema = config.schema;
    this.zeroThreshold = config.zeroThreshold;
    this.lastReset = config.minResetIntervalMs > 0 ? Date.now() : 0;
  }

  /**
   * Files a finite value. Returns `true` when the native part was reset first (`minResetIntervalMs`)
   * and holds only this value: the caller resets the classic part to hold only it too.
   */
  observe(value: number): boolean {
    const zeroThreshold = this.zeroThreshold;
    if (value > zeroThreshold) {
      const key = bucketKeyOf(value, this.schema);
      if (this.positive.add(key)) return false;
      return this.grow(this.positive, key, value);
    }
    if (value < -zeroThreshold) {
      const key = bucketKeyOf(-value, this.schema);
      const negative = (this.negative ??= new BucketWindow());
      if (negative.add(key)) return false;
      return this.grow(negative, key, value);
    }
    this.zeroCount++;
    return false;
  }

  /** The slow path: widen the window, or reset, or lower the resolution until the key fits. */
  private grow(window: BucketWindow, key: number, value: number): boolean {
    const { maxBuckets, minResetIntervalMs } = this.config;
    if (window.widen(key, maxBuckets)) return false;
    if (minResetIntervalMs > 0 && Date.now() - this.lastReset >= minResetIntervalMs) {
      this.reset();
      this.observe(value);
      return true;
    }
    let k = key;
    while (this.schema > MIN_SCHEMA) {
      this.schema--;
      this.positive.lower();
      this.negative?.lower();
      k = lowerKey(k, 1);
      if (window.add(k) || window.widen(k, maxBuckets)) return false;
    }
    // At schema -4 every finite double fits in 132 buckets: only a budget below that gets here.
    // Keep the value in the nearest bucket kept rather than lose it.
    const range = window.range();
    if (range) window.add(Math.min(Math.max(k, range[0]), range[1]));
    else window.widen(k, Math.max(1, maxBuckets));
    return false;
  }

  /** Empties the native part and goes back to the configured schema. */
  reset(): void {
    this.schema = this.config.schema;
    this.zeroCount = 0;
    this.positive.clear();
    this.negative?.clear();
    this.lastReset = this.config.minResetIntervalMs > 0 ? Date.now() : 0;
  }

  /** How many observations it holds (zero bucket and both signs). */
  total(): number {
    return this.zeroCount + this.positive.total() + (this.negative?.total() ?? 0);
  }

  /** Bytes of bucket counts held (8 a bucket). */
  get bucketBytes(): number {
    return this.positive.counts.byteLength + (this.negative?.counts.byteLength ?? 0);
  }

  snapshot(): NativeHistogramSnapshot {
    const positive = this.positive.encode();
    const negative = this.negative?.encode() ?? { spans: [], deltas: [] };
    return {
      schema: this.schema,
      zeroThreshold: this.config.zeroThreshold,
      zeroCount: this.zeroCount,
      positiveSpans: positive.spans,
      positiveDeltas: positive.deltas,
      negativeSpans: negative.spans,
      negativeDeltas: negative.deltas,
    };
  }
}

/** Where an entry keeps its native part (a property of ours on the client's entry object). */
const NATIVE = Symbol.for('@veza/nestjs-metrics:native-histogram');
type Carrier = SeriesEntry & { [NATIVE]?: NativeHistogram | NativeHistogramSnapshot };

/** The native settings of each histogram that has a native part. */
const configs = new WeakMap<object, NativeHistogramConfig>();

/** Gives a histogram metric a native part (every series it has or will have). */
export function setNativeConfig(metric: object, config: NativeHistogramConfig): void {
  configs.set(metric, config);
}

/** The native settings of a histogram metric object, or `undefined` (classic only). */
export function nativeConfigOf(metric: object): NativeHistogramConfig | undefined {
  return configs.get(metric);
}

/**
 * The native part of `entry`, created when missing or when the classic part it kept step with was
 * replaced (`zero()` of the successor gives the entry new bucket values). Call it right after the
 * classic part recorded an observation into `entry`, then `observe` into the result.
 */
export function nativeOf(entry: SeriesEntry, config: NativeHistogramConfig): NativeHistogram {
  const carrier = entry as Carrier;
  const kept = carrier[NATIVE];
  if (kept instanceof NativeHistogram && kept.classic === entry.bucketValues) return kept;
  const created = new NativeHistogram(config, entry.bucketValues);
  Object.defineProperty(carrier, NATIVE, { value: created, writable: true, configurable: true });
  return created;
}

/** Fixes a series' native part to a snapshot (the cluster's sum of its workers' parts). */
export function attachNativeSnapshot(entry: SeriesEntry, snapshot: NativeHistogramSnapshot): void {
  Object.defineProperty(entry, NATIVE, { value: snapshot, writable: true, configurable: true });
}

const emptySnapshot = (config: NativeHistogramConfig): NativeHistogramSnapshot => ({
  schema: config.schema,
  zeroThreshold: config.zeroThreshold,
  zeroCount: 0,
  positiveSpans: [],
  positiveDeltas: [],
  negativeSpans: [],
  negativeDeltas: [],
});

/**
 * The native part of one series entry of `metric`: an empty one at the configured schema when
 * nothing was observed into it yet; `undefined` when the metric has no native part, or when the
 * native part does not hold exactly the classic count (an observation that reached the client by
 * a path that does not file natively): the series is then served with its classic part only, never
 * with two counts that disagree.
 */
export function nativeSnapshotOf(metric: object, entry: SeriesEntry): NativeHistogramSnapshot | undefined {
  const config = configs.get(metric);
  const kept = (entry as Carrier)[NATIVE];
  if (kept !== undefined && !(kept instanceof NativeHistogram)) return kept;
  if (config === undefined) return undefined;
  if (kept === undefined || kept.classic !== entry.bucketValues)
    return (entry.count ?? 0) === 0 ? emptySnapshot(config) : undefined;
  if (kept.total() !== entry.count) return undefined;
  return kept.snapshot();
}

/** `key` once the schema is lowered by `steps` (`lowerKey` in one step: ceil(key / 2^steps)). */
const lowered = (key: number, steps: number): number => (steps === 0 ? key : 0 - (-key >> steps));

/** The lowest and highest keys of one sign's spans (or `undefined`: no bucket). */
function keyRange(spans: readonly BucketSpan[]): [number, number] | undefined {
  let key = 0;
  let lo: number | undefined;
  for (const span of spans) {
    key += span.offset;
    if (span.length > 0) lo ??= key;
    key += span.length;
  }
  return lo === undefined ? undefined : [lo, key - 1];
}

/**
 * Adds one sign of a snapshot into `counts` (keys from `first`), its keys lowered by `steps`; the
 * buckets whose upper bound is within `zeroThreshold` (when it is wider than the part's own) go to
 * the zero bucket instead. Returns what went there.
 */
function addSide(
  spans: readonly BucketSpan[],
  deltas: readonly number[],
  schema: number,
  steps: number,
  zeroThreshold: number | undefined,
  counts: Float64Array,
  first: number,
): number {
  let zero = 0;
  let key = 0;
  let count = 0;
  let d = 0;
  for (const span of spans) {
    key += span.offset;
    for (let i = 0; i < span.length; i++, key++) {
      count += deltas[d++] ?? 0;
      if (count === 0) continue;
      if (zeroThreshold !== undefined && upperBoundOf(key, schema) <= zeroThreshold) zero += count;
      else counts[lowered(key, steps) - first] += count;
    }
  }
  return zero;
}

/**
 * The sum of two snapshots (the cluster's primary adds its workers'): both brought to the lower
 * schema (pairs of buckets merged, which is exact) and the wider zero bucket (buckets wholly inside
 * it join it), then added bucket by bucket, in one dense array a sign.
 */
export function mergeNativeSnapshots(
  a: NativeHistogramSnapshot,
  b: NativeHistogramSnapshot,
): NativeHistogramSnapshot {
  const schema = Math.min(a.schema, b.schema);
  const zeroThreshold = Math.max(a.zeroThreshold, b.zeroThreshold);
  let zeroCount = a.zeroCount + b.zeroCount;
  const sides = (['positive', 'negative'] as const).map((sign) => {
    const window = new BucketWindow();
    let lo = Infinity;
    let hi = -Infinity;
    for (const part of [a, b]) {
      const range = keyRange(part[`${sign}Spans`]);
      if (!range) continue;
      const steps = part.schema - schema;
      lo = Math.min(lo, lowered(range[0], steps));
      hi = Math.max(hi, lowered(range[1], steps));
    }
    if (lo > hi) return window.encode();
    window.first = lo;
    window.counts = new Float64Array(hi - lo + 1);
    for (const part of [a, b]) {
      const wider = part.zeroThreshold < zeroThreshold ? zeroThreshold : undefined;
      zeroCount += addSide(
        part[`${sign}Spans`],
        part[`${sign}Deltas`],
        part.schema,
        part.schema - schema,
        wider,
        window.counts,
        lo,
      );
    }
    return window.encode();
  });
  const [p, n] = sides;
  return {
    schema,
    zeroThreshold,
    zeroCount,
    positiveSpans: p.spans,
    positiveDeltas: p.deltas,
    negativeSpans: n.spans,
    negativeDeltas: n.deltas,
  };
}

/** The settings a `nativeHistograms` option (module, `@Timed`'s `nativeHistogram`) may give; unset keys take client_golang's defaults. */
export interface NativeHistogramOptions {
  /**
   * How much wider each bucket may be than the one below it: the schema is the largest whose
   * factor `2^(2^-schema)` is at most this. @defaultValue 1.1 (schema 3: a quantile within 9.05 %)
   */
  readonly bucketFactor?: number;
  /** Per sign, the most buckets a series keeps before its resolution is lowered. @defaultValue 160 */
  readonly maxBuckets?: number;
  /** Observations with an absolute value at most this go to the zero bucket. @defaultValue 2^-128 */
  readonly zeroThreshold?: number;
  /**
   * Milliseconds: when the bucket budget is spent and at least this long has passed since the series
   * was last reset, the series is reset (classic part too, as a counter reset) instead of losing
   * resolution. @defaultValue 0 (never: the resolution is lowered)
   */
  readonly minResetInterval?: number;
}

/** Settings from options, with client_golang's defaults; the caller checks the values first. */
export function resolveNativeConfig(options: NativeHistogramOptions = {}): NativeHistogramConfig {
  return {
    schema: schemaForFactor(options.bucketFactor ?? DEFAULT_BUCKET_FACTOR),
    maxBuckets: options.maxBuckets ?? DEFAULT_MAX_BUCKETS,
    zeroThreshold: options.zeroThreshold ?? DEFAULT_ZERO_THRESHOLD,
    minResetIntervalMs: options.minResetInterval ?? 0,
  };
}
