/*
 * Native histogram parts in the cluster: what a worker's answer may carry for a histogram series
 * (its native part, `NativeHistogramSnapshot`), checked on the primary as untrusted input, and the
 * merge of the workers' parts into the sum the primary serves.
 */
import {
  MAX_SCHEMA,
  MIN_SCHEMA,
  lowerKey,
  mergeNativeSnapshots,
  type BucketSpan,
  type NativeHistogramSnapshot,
} from '../native/native-histogram';
import { MAX_NATIVE_BUCKETS } from '../native/native-options';

/**
 * The most buckets, per sign, between the lowest and the highest key of one native part the primary
 * accepts from a worker (and keeps in a sum: a wider sum is brought to a lower schema, as a single
 * histogram past its budget is): the largest `maxBuckets` a worker may be given (its parts are never
 * wider; 160 by default). It bounds what a malformed or hostile part makes the primary allocate
 * while merging: 8 bytes a bucket, 512 KiB, for the time of one series' merge.
 */
export const MAX_NATIVE_WIDTH = MAX_NATIVE_BUCKETS;

/**
 * The farthest bucket key from 0 at schema 0: every finite double above 0 is in (2^-1075, 2^1024],
 * so its key at schema `s` is within ±1075·2^s.
 */
const KEY_LIMIT_AT_SCHEMA_0 = 1_075;

const lengthOf = (value: unknown): number => (Array.isArray(value) ? value.length : 0);

/**
 * What a native part counts toward a worker's answer bound and the retained base: one sample per
 * span and per delta (fields that are not arrays count nothing).
 */
export function nativeSamples(snapshot: NativeHistogramSnapshot): number {
  return (
    lengthOf(snapshot.positiveSpans) +
    lengthOf(snapshot.positiveDeltas) +
    lengthOf(snapshot.negativeSpans) +
    lengthOf(snapshot.negativeDeltas)
  );
}

/**
 * What a native part counts toward what the primary keeps (`maxWorkerSamples`, the retained base's
 * samples): one sample, plus one per 8 spans and deltas. A sample kept on the primary is an object
 * with its labels (some 400 to 600 bytes); a delta is a small integer in an array (8 bytes), a span
 * a two-field object: a part of 25 buckets weighs about one sample. Counting each delta as a sample
 * would refuse a worker's answer at the series caps (the catalog's histograms at 2,000 series, 25
 * buckets each: some 300,000 more samples than the 250,000 allowed) for memory it does not take.
 */
export function nativeWeight(snapshot: NativeHistogramSnapshot): number {
  return 1 + Math.ceil(nativeSamples(snapshot) / 8);
}

/** One sign's spans and deltas checked and copied; the sum of its counts, or `undefined` when malformed. */
function checkSign(
  spans: unknown,
  deltas: unknown,
  schema: number,
): { spans: BucketSpan[]; deltas: number[]; total: number } | undefined {
  if (!Array.isArray(spans) || !Array.isArray(deltas)) return undefined;
  // Bounded before anything is read: neither array may hold more than the widest part accepted.
  if (spans.length > MAX_NATIVE_WIDTH || deltas.length > MAX_NATIVE_WIDTH) return undefined;
  const limit = KEY_LIMIT_AT_SCHEMA_0 * 2 ** schema;
  const outSpans: BucketSpan[] = [];
  let key = 0;
  let first: number | undefined;
  let buckets = 0;
  for (let i = 0; i < spans.length; i++) {
    const span: unknown = spans[i];
    if (typeof span !== 'object' || span === null) return undefined;
    const { offset, length } = span as { offset?: unknown; length?: unknown };
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length)) return undefined;
    const o = offset as number;
    const n = length as number;
    // Only the first span may start below the previous one's end (it starts from key 0).
    if (n < 0 || (i > 0 && o < 0)) return undefined;
    key += o;
    if (n > 0) {
      first ??= key;
      buckets += n;
      key += n;
      // The last key of this span: within the keys of finite values, and the part within the width.
      if (Math.abs(first) > limit || Math.abs(key - 1) > limit || key - first > MAX_NATIVE_WIDTH)
        return undefined;
    }
    outSpans.push({ offset: o, length: n });
  }
  if (buckets !== deltas.length) return undefined;
  let count = 0;
  let total = 0;
  for (const delta of deltas as unknown[]) {
    if (!Number.isSafeInteger(delta)) return undefined;
    count += delta as number;
    if (count < 0 || !Number.isSafeInteger(count)) return undefined;
    total += count;
    if (!Number.isSafeInteger(total)) return undefined;
  }
  return { spans: outSpans, deltas: (deltas as number[]).slice(), total };
}

/**
 * A native part received from a worker, checked as untrusted input: schema -4..8, a finite zero
 * threshold ≥ 0, integer counts ≥ 0 that add up to at most 2^53 - 1, spans and deltas that agree
 * (non-negative lengths, gaps ≥ 0 after the first span, as many deltas as buckets), each sign at
 * most {@link MAX_NATIVE_WIDTH} buckets wide and within the keys of finite values. Gives a copy of
 * its fields (nothing else of the message is kept) and how many observations it holds, or
 * `undefined` when anything is wrong.
 */
export function checkNativePart(
  value: unknown,
): { snapshot: NativeHistogramSnapshot; total: number } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const { schema, zeroThreshold, zeroCount } = v;
  if (!Number.isInteger(schema) || (schema as number) < MIN_SCHEMA || (schema as number) > MAX_SCHEMA)
    return undefined;
  if (typeof zeroThreshold !== 'number' || !Number.isFinite(zeroThreshold) || zeroThreshold < 0)
    return undefined;
  if (!Number.isSafeInteger(zeroCount) || (zeroCount as number) < 0) return undefined;
  const positive = checkSign(v.positiveSpans, v.positiveDeltas, schema as number);
  if (!positive) return undefined;
  const negative = checkSign(v.negativeSpans, v.negativeDeltas, schema as number);
  if (!negative) return undefined;
  const total = (zeroCount as number) + positive.total + negative.total;
  if (!Number.isSafeInteger(total)) return undefined;
  return {
    snapshot: {
      schema: schema as number,
      zeroThreshold,
      zeroCount: zeroCount as number,
      positiveSpans: positive.spans,
      positiveDeltas: positive.deltas,
      negativeSpans: negative.spans,
      negativeDeltas: negative.deltas,
    },
    total,
  };
}

/** The lowest and highest keys of one sign's buckets (a checked part), or `undefined` when it has none. */
function keyRange(spans: readonly BucketSpan[]): [number, number] | undefined {
  let key = 0;
  let lo: number | undefined;
  let hi = 0;
  for (const span of spans) {
    key += span.offset;
    if (span.length === 0) continue;
    lo ??= key;
    key += span.length;
    hi = key - 1;
  }
  return lo === undefined ? undefined : [lo, hi];
}

/** The highest schema at or below `schema` at which every part's buckets of each sign fit in {@link MAX_NATIVE_WIDTH}. */
function schemaWithin(parts: readonly NativeHistogramSnapshot[], schema: number): number {
  let s = schema;
  const fits = (): boolean => {
    for (const sign of ['positiveSpans', 'negativeSpans'] as const) {
      let lo = Infinity;
      let hi = -Infinity;
      for (const part of parts) {
        const range = keyRange(part[sign]);
        if (!range) continue;
        const steps = part.schema - s;
        lo = Math.min(lo, lowerKey(range[0], steps));
        hi = Math.max(hi, lowerKey(range[1], steps));
      }
      if (hi - lo + 1 > MAX_NATIVE_WIDTH) return false;
    }
    return true;
  };
  while (s > MIN_SCHEMA && !fits()) s--;
  return s;
}

/**
 * The sum of the native parts of one series (the workers' and the retained base's): at the lowest
 * of their schemas and the widest zero bucket, buckets added (exact: `mergeNativeSnapshots`); when
 * their buckets together span more than {@link MAX_NATIVE_WIDTH} per sign, at the schema that fits,
 * as one histogram fed every observation would have lowered its resolution.
 */
export function sumNativeParts(parts: readonly NativeHistogramSnapshot[]): NativeHistogramSnapshot {
  let lowest = MAX_SCHEMA;
  for (const part of parts) lowest = Math.min(lowest, part.schema);
  const schema = schemaWithin(parts, lowest);
  if (parts.length === 1 && schema === parts[0].schema) return parts[0];
  // Below the lowest part's schema: an empty part at the schema to reach brings every part there.
  let sum: NativeHistogramSnapshot =
    schema === lowest && parts.length > 1
      ? parts[0]
      : {
          schema,
          zeroThreshold: 0,
          zeroCount: 0,
          positiveSpans: [],
          positiveDeltas: [],
          negativeSpans: [],
          negativeDeltas: [],
        };
  for (let i = sum === parts[0] ? 1 : 0; i < parts.length; i++) sum = mergeNativeSnapshots(sum, parts[i]);
  return sum;
}
