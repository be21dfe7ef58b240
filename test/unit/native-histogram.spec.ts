import {
  DEFAULT_ZERO_THRESHOLD,
  NativeHistogram,
  attachNativeSnapshot,
  bucketKeyOf,
  mergeNativeSnapshots,
  nativeOf,
  nativeSnapshotOf,
  relativeErrorOf,
  resolveNativeConfig,
  schemaForFactor,
  setNativeConfig,
  upperBoundOf,
  type NativeHistogramConfig,
  type NativeHistogramSnapshot,
} from '../../src/native/native-histogram';
import type { SeriesEntry } from '../../src/compat/series-storage';
import { countsOf } from '../utils/native';

const config = (over: Partial<NativeHistogramConfig> = {}): NativeHistogramConfig => ({
  ...resolveNativeConfig(),
  ...over,
});

describe('native histogram buckets', () => {
  it('picks the schema of a bucket factor as client_golang does', () => {
    expect(schemaForFactor(1.1)).toBe(3);
    expect(schemaForFactor(2)).toBe(0);
    expect(schemaForFactor(1.0001)).toBe(8);
    expect(schemaForFactor(1.5)).toBe(1);
    expect(schemaForFactor(4)).toBe(-1);
    expect(schemaForFactor(1e9)).toBe(-4);
    expect(relativeErrorOf(3)).toBeCloseTo(0.0905, 4);
  });

  it('files values on the bucket whose upper bound holds them (bounds inclusive)', () => {
    // Schema 3: bounds 2^(k/8).
    expect(bucketKeyOf(1, 3)).toBe(0);
    expect(bucketKeyOf(1.05, 3)).toBe(1);
    expect(bucketKeyOf(2, 3)).toBe(8);
    expect(bucketKeyOf(2.0000001, 3)).toBe(9);
    expect(bucketKeyOf(0.5, 3)).toBe(-8);
    expect(bucketKeyOf(0.001, 3)).toBe(Math.ceil(Math.log2(0.001) * 8));
    // Schema 0: bounds 2^k.
    expect([1, 2, 3, 4, 5, 0.5, 0.3].map((v) => bucketKeyOf(v, 0))).toEqual([0, 1, 2, 2, 3, -1, -1]);
    // Schema -1: bounds 4^k.
    expect([1, 4, 5, 16, 17, 0.25, 0.2].map((v) => bucketKeyOf(v, -1))).toEqual([0, 1, 2, 2, 3, -1, -1]);
    // Schema -4: bounds 65536^k.
    expect([1, 65536, 65537].map((v) => bucketKeyOf(v, -4))).toEqual([0, 1, 2]);
    // Subnormals.
    expect(bucketKeyOf(2 ** -1074, 0)).toBe(-1074);
    expect(bucketKeyOf(3 * 2 ** -1074, 0)).toBe(-1072);
  });

  it('agrees with the bounds for every schema over a sweep of values', () => {
    for (let schema = -4; schema <= 8; schema++) {
      for (let e = -40; e <= 40; e += 0.37) {
        const value = 2 ** e * 1.000001;
        const key = bucketKeyOf(value, schema);
        expect(upperBoundOf(key, schema)).toBeGreaterThanOrEqual(value * (1 - 1e-12));
        expect(upperBoundOf(key - 1, schema)).toBeLessThan(value * (1 + 1e-12));
      }
    }
  });

  it('finds the same keys as a binary search over the bounds, for random doubles, bounds and their neighbours', () => {
    // The reference: the first of the schema's 2^schema mantissa bounds at or above the mantissa.
    const reference = (value: number, schema: number): number => {
      const n = 2 ** schema;
      const exponent = Math.floor(Math.log2(value)) + 1;
      let mantissa = value / 2 ** exponent;
      let e = exponent;
      if (mantissa >= 1) {
        mantissa /= 2;
        e++;
      }
      if (mantissa < 0.5) {
        mantissa *= 2;
        e--;
      }
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (2 ** (mid / n) / 2 < mantissa) lo = mid + 1;
        else hi = mid;
      }
      return lo + (e - 1) * n;
    };
    let seed = 42;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let schema = 1; schema <= 8; schema++) {
      const values: number[] = [];
      for (let i = 0; i < 5_000; i++) values.push(2 ** Math.floor(random() * 2000 - 1000) * (1 + random()));
      for (let i = 0; i < 2 ** schema; i++) {
        const bound = 2 ** (i / 2 ** schema) / 2;
        values.push(bound, bound * (1 + 2 ** -52), bound * (1 - 2 ** -53), bound * 2 ** 37);
      }
      for (const value of values) expect(bucketKeyOf(value, schema)).toBe(reference(value, schema));
    }
  });

  it('keeps counts exactly, with zero and negative buckets', () => {
    const native = new NativeHistogram(config(), undefined);
    for (const v of [0, 1e-40, -1e-40, 1, 1, 1.05, -2, -2, 3]) native.observe(v);
    expect(native.total()).toBe(9);
    expect(countsOf(native.snapshot())).toEqual({
      zero: 3,
      '+0': 2,
      '+1': 1,
      '-8': 2,
      [`+${bucketKeyOf(3, 3)}`]: 1,
    });
    expect(native.snapshot().zeroThreshold).toBe(DEFAULT_ZERO_THRESHOLD);
  });

  it('encodes spans with gaps of up to two buckets inside one span, and wider gaps as new spans', () => {
    const native = new NativeHistogram(config(), undefined);
    for (const key of [-3, -1, 2, 3, 10, 14]) native.observe(upperBoundOf(key, 3));
    const snapshot = native.snapshot();
    // -3..3 (gaps of 1 and 2 inside), then 6 empty, 10, then 3 empty, 14.
    expect(snapshot.positiveSpans).toEqual([
      { offset: -3, length: 7 },
      { offset: 6, length: 1 },
      { offset: 3, length: 1 },
    ]);
    expect(snapshot.positiveDeltas).toEqual([1, -1, 1, -1, 0, 1, 0, 0, 0]);
  });

  it('lowers the resolution when the budget is spent, keeping every observation and the memory bound', () => {
    const native = new NativeHistogram(config({ maxBuckets: 20 }), undefined);
    const values: number[] = [];
    for (let i = 0; i < 2_000; i++) values.push(10 ** ((i % 200) / 10 - 10));
    for (const v of values) native.observe(v);
    expect(native.total()).toBe(2_000);
    expect(native.schema).toBeLessThan(3);
    expect(native.bucketBytes).toBeLessThanOrEqual(20 * 8);
    // Exactly the buckets of the same values observed at the final schema.
    const direct = new NativeHistogram(config({ schema: native.schema, maxBuckets: 1_000 }), undefined);
    for (const v of values) direct.observe(v);
    expect(countsOf(native.snapshot())).toEqual(countsOf(direct.snapshot()));
  });

  it('holds its memory bound at the default budget whatever is observed', () => {
    const native = new NativeHistogram(config(), undefined);
    for (let e = -1000; e <= 1000; e += 0.5) {
      native.observe(2 ** e);
      native.observe(-(2 ** e));
    }
    expect(native.bucketBytes).toBeLessThanOrEqual(2 * 160 * 8);
    expect(native.total()).toBe(2 * 4001);
  });

  it('resets instead of lowering the resolution once minResetInterval has passed', () => {
    const now = jest.spyOn(Date, 'now').mockReturnValue(1_000);
    try {
      const native = new NativeHistogram(config({ maxBuckets: 4, minResetIntervalMs: 60_000 }), undefined);
      for (const v of [1, 1.1, 1.2]) expect(native.observe(v)).toBe(false);
      // Budget spent before the interval: resolution lowered.
      expect(native.observe(100)).toBe(false);
      expect(native.schema).toBeLessThan(3);
      now.mockReturnValue(61_000);
      expect(native.observe(1e9)).toBe(true);
      expect(native.schema).toBe(3);
      expect(native.total()).toBe(1);
    } finally {
      now.mockRestore();
    }
  });

  it('merges snapshots of different schemas exactly at the lower one', () => {
    const values = [0.001, 0.01, 0.2, 0.5, 1, 3, 7, 100, -4, 0];
    const fine = new NativeHistogram(config({ schema: 5 }), undefined);
    const coarse = new NativeHistogram(config({ schema: 1 }), undefined);
    const both = new NativeHistogram(config({ schema: 1 }), undefined);
    values.forEach((v, i) => (i % 2 ? fine : coarse).observe(v));
    values.forEach((v) => both.observe(v));
    const merged = mergeNativeSnapshots(fine.snapshot(), coarse.snapshot());
    expect(merged.schema).toBe(1);
    expect(countsOf(merged)).toEqual(countsOf(both.snapshot()));
  });

  it('moves buckets inside the wider zero bucket into it when merging', () => {
    const a = new NativeHistogram(config({ zeroThreshold: 0.01 }), undefined);
    const b = new NativeHistogram(config(), undefined);
    a.observe(0.005);
    b.observe(0.005);
    b.observe(5);
    const merged = mergeNativeSnapshots(a.snapshot(), b.snapshot());
    expect(merged.zeroThreshold).toBe(0.01);
    expect(countsOf(merged)).toEqual({ zero: 2, [`+${bucketKeyOf(5, 3)}`]: 1 });
  });

  it('serves a series natively only while its native part holds the classic count', () => {
    const metric = {};
    setNativeConfig(metric, config());
    const entry: SeriesEntry = { labels: {}, bucketValues: { 1: 0 }, sum: 0, count: 0 };
    expect(nativeSnapshotOf(metric, entry)).toEqual(expect.objectContaining({ schema: 3, zeroCount: 0 }));
    entry.count = 1;
    nativeOf(entry, config()).observe(0.5);
    expect(countsOf(nativeSnapshotOf(metric, entry) as NativeHistogramSnapshot)).toEqual({ '+-8': 1 });
    // A count the native part did not see: classic only.
    entry.count = 2;
    expect(nativeSnapshotOf(metric, entry)).toBeUndefined();
    // The successor's zero(): new bucket values, count 0: the native part starts again.
    entry.bucketValues = { 1: 0 };
    entry.count = 0;
    expect(nativeSnapshotOf(metric, entry)?.positiveSpans).toEqual([]);
    expect(nativeOf(entry, config()).total()).toBe(0);
    // The native part is not an enumerable field of the client's entry.
    expect(Object.keys(entry)).toEqual(['labels', 'bucketValues', 'sum', 'count']);
    // A merged snapshot attached by the cluster is served as it is.
    const merged = new NativeHistogram(config(), undefined).snapshot();
    attachNativeSnapshot(entry, merged);
    expect(nativeSnapshotOf({}, entry)).toBe(merged);
    expect(nativeSnapshotOf({}, { labels: {}, count: 0 })).toBeUndefined();
  });
});
