import cluster, { type Worker } from 'node:cluster';
import { ClusterMetricsAggregator } from '../../src/cluster/cluster-aggregator';
import {
  COLLECT_PART,
  COLLECT_RESPONSE,
  type CollectPart,
  type CollectRequest,
  type CollectResponse,
  type MetricJson,
  type PartMetric,
} from '../../src/cluster/cluster-protocol';
import { aggregate } from '../../src/cluster/aggregate';
import { MAX_NATIVE_WIDTH, checkNativePart, sumNativeParts } from '../../src/cluster/native-parts';
import { defaultClient } from '../../src/compat/metrics-client';
import { RetiredSeries } from '../../src/cluster/retired-series';
import {
  NativeHistogram,
  nativeConfigOf,
  resolveNativeConfig,
  type NativeHistogramConfig,
  type NativeHistogramSnapshot,
} from '../../src/native/native-histogram';
import { sampleValue } from '../utils/exposition';
import { fakeWorker as fakeChannelWorker, type Answerer } from '../utils/fake-workers';
import { countsOf } from '../utils/native';

const config = (over: Partial<NativeHistogramConfig> = {}): NativeHistogramConfig => ({
  ...resolveNativeConfig(),
  ...over,
});

/** A native part fed `values`. */
function nativeOf(
  values: readonly number[],
  over: Partial<NativeHistogramConfig> = {},
): NativeHistogramSnapshot {
  const native = new NativeHistogram(config(over), undefined);
  for (const v of values) native.observe(v);
  return native.snapshot();
}

const VALUES_A = [0.003, 0.02, 0.02, 0.5, 1, 1.7, 12, 0, -3];
const VALUES_B = [0.004, 0.25, 0.9, 2, 2, 40, 300, -0.5];

describe('native parts from cluster workers, checked as untrusted input', () => {
  const valid = nativeOf(VALUES_A);

  it('accepts a worker part as it is made, and gives a copy of its fields only', () => {
    const hostile = { ...valid, extra: 'x'.repeat(1_000) };
    const checked = checkNativePart(hostile);
    expect(checked?.total).toBe(VALUES_A.length);
    expect(checked?.snapshot).toEqual(valid);
    expect(checked?.snapshot).not.toHaveProperty('extra');
    expect(checked?.snapshot.positiveSpans).not.toBe(valid.positiveSpans);
  });

  it.each<[string, (s: NativeHistogramSnapshot) => unknown]>([
    ['schema 99', (s) => ({ ...s, schema: 99 })],
    ['schema -5', (s) => ({ ...s, schema: -5 })],
    ['a fractional schema', (s) => ({ ...s, schema: 2.5 })],
    ['a NaN delta', (s) => ({ ...s, positiveDeltas: s.positiveDeltas.map((d, i) => (i === 1 ? NaN : d)) })],
    ['a fractional delta', (s) => ({ ...s, positiveDeltas: s.positiveDeltas.map((d, i) => (i ? d : 0.5)) })],
    ['a negative bucket count', (s) => ({ ...s, positiveDeltas: [-1, ...s.positiveDeltas.slice(1)] })],
    ['a negative span length', (s) => ({ ...s, positiveSpans: [{ offset: 0, length: -3 }] })],
    [
      'a negative gap after the first span',
      (s) => ({
        ...s,
        positiveSpans: [
          { offset: 0, length: 1 },
          { offset: -2, length: 1 },
        ],
        positiveDeltas: [1, 0],
      }),
    ],
    ['more deltas than buckets', (s) => ({ ...s, positiveDeltas: [...s.positiveDeltas, 0] })],
    ['fewer deltas than buckets', (s) => ({ ...s, positiveDeltas: s.positiveDeltas.slice(1) })],
    [
      'a key past the finite values',
      (s) => ({ ...s, positiveSpans: [{ offset: 1e9, length: 1 }], positiveDeltas: [1] }),
    ],
    [
      'buckets wider than accepted',
      (s) => ({
        ...s,
        positiveSpans: [
          { offset: 0, length: 1 },
          { offset: MAX_NATIVE_WIDTH, length: 1 },
        ],
        positiveDeltas: [1, 0],
      }),
    ],
    ['a NaN zero threshold', (s) => ({ ...s, zeroThreshold: NaN })],
    ['a negative zero threshold', (s) => ({ ...s, zeroThreshold: -1 })],
    ['an infinite zero threshold', (s) => ({ ...s, zeroThreshold: Infinity })],
    ['a zero count of 1.5', (s) => ({ ...s, zeroCount: 1.5 })],
    [
      'counts past 2^53',
      (s) => ({ ...s, zeroCount: 2 ** 53 - 2, positiveDeltas: [5, ...s.positiveDeltas.slice(1)] }),
    ],
    ['a bucket count past 2^53', (s) => ({ ...s, positiveDeltas: [2 ** 53, ...s.positiveDeltas.slice(1)] })],
    ['spans that are not an array', (s) => ({ ...s, negativeSpans: { length: 2 } })],
    ['a span that is not an object', (s) => ({ ...s, positiveSpans: [3] })],
    ['a string offset', (s) => ({ ...s, positiveSpans: [{ offset: '0', length: 1 }], positiveDeltas: [1] })],
    ['not an object', () => 'native'],
    ['an array', () => []],
    ['null', () => null],
  ])('drops a part with %s', (_, make) => {
    expect(checkNativePart(make(valid))).toBeUndefined();
  });

  it('refuses a million spans at once', () => {
    const spans = new Array(1_000_000).fill({ offset: 0, length: 1 });
    const deltas = new Array<number>(1_000_000).fill(0);
    // The lengths are checked before any item is read.
    expect(checkNativePart({ ...valid, positiveSpans: spans, positiveDeltas: deltas })).toBeUndefined();
  });
});

describe('the sum of the native parts of one series', () => {
  it('is exactly one histogram fed every value, at the lower schema', () => {
    const fine = nativeOf(VALUES_A, { schema: 3 });
    const coarse = nativeOf(VALUES_B, { schema: 1 });
    const sum = sumNativeParts([fine, coarse]);
    expect(sum.schema).toBe(1);
    expect(countsOf(sum)).toEqual(countsOf(nativeOf([...VALUES_A, ...VALUES_B], { schema: 1 })));
  });

  it(`lowers the schema until the buckets of every part fit in ${MAX_NATIVE_WIDTH} a sign`, () => {
    // Two parts far apart at schema 8 (256 keys per power of two): 301 powers of two, 77,056 keys.
    const low = nativeOf([1.001, 1.01], { schema: 8 });
    const high = nativeOf([2 ** 300, 2 ** 301], { schema: 8 });
    const sum = sumNativeParts([low, high]);
    // At schema 7, 38,528 keys: within 65,536.
    expect(sum.schema).toBe(7);
    expect(countsOf(sum)).toEqual(
      countsOf(nativeOf([1.001, 1.01, 2 ** 300, 2 ** 301], { schema: 7, maxBuckets: 65_536 })),
    );
  });
});

type Message = CollectPart | CollectResponse;
const workers = cluster.workers as Record<number, Worker | undefined>;

/** A worker answering as over the IPC channel: each message parsed JSON of its own. */
const fakeWorker = (id: number, answerer: { current: Answerer<Message> }): Worker =>
  fakeChannelWorker(id, answerer, { serialized: true });

function* answer(request: CollectRequest, metrics: PartMetric[]): Iterable<Message> {
  yield { type: COLLECT_PART, id: request.id, metrics };
  yield { type: COLLECT_RESPONSE, id: request.id, parts: 1, registries: 1 };
}

/** A histogram of one series read in place (`labels`/`numbers`), fed `values`, its native part as given. */
function histogramPart(values: readonly number[], native: unknown): PartMetric {
  const bounds = [0.1, 1, 10];
  const numbers = bounds.map((b) => values.filter((v) => v <= b).length);
  numbers.push(
    values.length,
    values.reduce((a, b) => a + b, 0),
  );
  return {
    registry: 0,
    name: 'latency_seconds',
    help: 'Latency',
    type: 'histogram',
    values: [],
    bounds,
    labels: [{ route: '/a' }],
    numbers,
    natives: [native as NativeHistogramSnapshot],
  };
}

/** The merged `_count` sample of the series. */
async function mergedCount(aggregator: ClusterMetricsAggregator): Promise<{
  value: number;
  native?: NativeHistogramSnapshot;
  metric: object;
}> {
  const registry = await aggregator.collect();
  const metric = registry.getSingleMetric('latency_seconds') as unknown as { get(): Promise<MetricJson> };
  const data = await metric.get();
  const count = data.values.find((v) => v.metricName === 'latency_seconds_count');
  if (!count) throw new Error('no _count sample');
  return { ...count, metric };
}

describe('ClusterMetricsAggregator: workers with native histogram parts', () => {
  let aggregator: ClusterMetricsAggregator | undefined;
  afterEach(() => {
    aggregator?.close();
    aggregator = undefined;
    for (const id of Object.keys(workers)) delete workers[Number(id)];
  });

  it("sums the workers' native parts exactly (at the lower schema) beside the classic buckets", async () => {
    aggregator = new ClusterMetricsAggregator({ timeoutMs: 60_000 });
    fakeWorker(1, { current: (r) => answer(r, [histogramPart(VALUES_A, nativeOf(VALUES_A))]) });
    fakeWorker(2, {
      current: (r) => answer(r, [histogramPart(VALUES_B, nativeOf(VALUES_B, { schema: 2 }))]),
    });
    const { value, native, metric } = await mergedCount(aggregator);
    expect(value).toBe(VALUES_A.length + VALUES_B.length);
    expect(native?.schema).toBe(2);
    expect(countsOf(native as NativeHistogramSnapshot)).toEqual(
      countsOf(nativeOf([...VALUES_A, ...VALUES_B], { schema: 2 })),
    );
    expect(nativeConfigOf(metric)?.schema).toBe(2);
    const text = await aggregator.metrics();
    expect(sampleValue(text, 'latency_seconds_bucket', { le: '1', route: '/a' })).toBe(
      [...VALUES_A, ...VALUES_B].filter((v) => v <= 1).length,
    );
    expect(sampleValue(text, 'veza_metrics_cluster_worker_errors_total')).toBe(0);
  });

  it('drops a malformed native part (counted as an error), serving that series classic only, and the rest', async () => {
    aggregator = new ClusterMetricsAggregator({ timeoutMs: 60_000 });
    const good = nativeOf(VALUES_A);
    const hostile: { current: unknown } = { current: { ...nativeOf(VALUES_B), schema: 99 } };
    fakeWorker(1, { current: (r) => answer(r, [histogramPart(VALUES_A, good)]) });
    fakeWorker(2, { current: (r) => answer(r, [histogramPart(VALUES_B, hostile.current)]) });
    const merged = await mergedCount(aggregator);
    expect(merged.value).toBe(VALUES_A.length + VALUES_B.length);
    expect(merged.native).toBeUndefined();
    const text = await aggregator.metrics();
    expect(sampleValue(text, 'latency_seconds_count', { route: '/a' })).toBe(
      VALUES_A.length + VALUES_B.length,
    );
    expect(sampleValue(text, 'veza_metrics_cluster_worker_up', { worker: '2' })).toBe(1);
    expect(sampleValue(text, 'veza_metrics_cluster_worker_errors_total')).toBeGreaterThanOrEqual(1);

    // A part that does not hold the series' count (one observation short) is dropped too.
    hostile.current = nativeOf(VALUES_B.slice(1));
    expect((await mergedCount(aggregator)).native).toBeUndefined();
    // An honest one is taken again.
    hostile.current = nativeOf(VALUES_B);
    expect(countsOf((await mergedCount(aggregator)).native as NativeHistogramSnapshot)).toEqual(
      countsOf(nativeOf([...VALUES_A, ...VALUES_B])),
    );
  });

  it('counts a native part toward maxWorkerSamples by its weight (one sample, plus one per 8 spans and deltas)', async () => {
    aggregator = new ClusterMetricsAggregator({ timeoutMs: 60_000, maxWorkerSamples: 1_000 });
    // 50 series of 6 samples each (3 bounds, +Inf, sum, count), each native part some 25 spans and deltas.
    const values = Array.from({ length: 24 }, (_, i) => 0.001 * 1.5 ** i);
    const native = nativeOf(values);
    const size =
      native.positiveSpans.length +
      native.positiveDeltas.length +
      native.negativeSpans.length +
      native.negativeDeltas.length;
    expect(50 * (6 + size)).toBeGreaterThan(1_000);
    const one = histogramPart(values, native);
    const part: PartMetric = {
      ...one,
      labels: Array.from({ length: 50 }, (_, i) => ({ route: `/r${i}` })),
      numbers: Array.from({ length: 50 }, () => one.numbers as number[]).flat(),
      natives: Array.from({ length: 50 }, () => native),
    };
    fakeWorker(1, { current: (r) => answer(r, [part]) });
    const text = await aggregator.metrics();
    expect(sampleValue(text, 'veza_metrics_cluster_worker_errors_total')).toBe(0);
    const registry = await aggregator.collect();
    const data = await (
      registry.getSingleMetric('latency_seconds') as unknown as { get(): Promise<MetricJson> }
    ).get();
    expect(data.values.filter((v) => v.native !== undefined)).toHaveLength(50);
  });

  it('keeps an exited worker’s native part in the retained base: the sum stays monotonic', async () => {
    aggregator = new ClusterMetricsAggregator({ timeoutMs: 60_000 });
    fakeWorker(1, { current: (r) => answer(r, [histogramPart(VALUES_A, nativeOf(VALUES_A))]) });
    const doomed = fakeWorker(2, {
      current: (r) => answer(r, [histogramPart(VALUES_B, nativeOf(VALUES_B))]),
    });
    const before = await mergedCount(aggregator);
    delete workers[2];
    cluster.emit('exit', doomed, null, 'SIGKILL');
    const after = await mergedCount(aggregator);
    expect(after.value).toBe(before.value);
    expect(countsOf(after.native as NativeHistogramSnapshot)).toEqual(
      countsOf(before.native as NativeHistogramSnapshot),
    );
    // Its replacement starts from zero: the sum goes on from where it was.
    fakeWorker(3, { current: (r) => answer(r, [histogramPart([5], nativeOf([5]))]) });
    const replaced = await mergedCount(aggregator);
    expect(replaced.value).toBe(before.value + 1);
    expect(countsOf(replaced.native as NativeHistogramSnapshot)).toEqual(
      countsOf(nativeOf([...VALUES_A, ...VALUES_B, 5])),
    );
  });
});

describe('RetiredSeries with native parts', () => {
  const count = (value: number, native?: NativeHistogramSnapshot): MetricJson => ({
    name: 'latency_seconds',
    help: 'L',
    type: 'histogram',
    values: [
      { value, labels: { route: '/a' }, metricName: 'latency_seconds_count', ...(native ? { native } : {}) },
    ],
  });

  it('sums the native parts of the exited workers, counting their weight in its bound', () => {
    const retired = new RetiredSeries(1_000);
    retired.add([count(VALUES_A.length, nativeOf(VALUES_A))]);
    retired.add([count(VALUES_B.length, nativeOf(VALUES_B))]);
    const [sample] = retired.toJson()[0].values;
    expect(sample.value).toBe(VALUES_A.length + VALUES_B.length);
    expect(countsOf(sample.native as NativeHistogramSnapshot)).toEqual(
      countsOf(nativeOf([...VALUES_A, ...VALUES_B])),
    );
    const n = sample.native as NativeHistogramSnapshot;
    const spansAndDeltas =
      n.positiveSpans.length + n.positiveDeltas.length + n.negativeSpans.length + n.negativeDeltas.length;
    // The series' sample, and its native part: one sample plus one per 8 spans and deltas.
    expect(retired.size).toBe(1 + 1 + Math.ceil(spansAndDeltas / 8));
  });

  it('keeps a series without its native part once a worker had none for it, and within its bound', () => {
    const retired = new RetiredSeries(1_000);
    retired.add([count(VALUES_A.length, nativeOf(VALUES_A))]);
    retired.add([count(3)]);
    retired.add([count(VALUES_B.length, nativeOf(VALUES_B))]);
    const [sample] = retired.toJson()[0].values;
    expect(sample.value).toBe(VALUES_A.length + 3 + VALUES_B.length);
    expect(sample.native).toBeUndefined();
    expect(retired.size).toBe(1);

    // A bound of 3 samples: the series is kept, its native part (weighing 3) is not.
    const small = new RetiredSeries(3);
    expect(small.add([count(VALUES_A.length, nativeOf(VALUES_A))])).toBeGreaterThan(0);
    expect(small.toJson()[0].values[0]).toEqual({
      value: VALUES_A.length,
      labels: { route: '/a' },
      metricName: 'latency_seconds_count',
    });
    expect(small.size).toBe(1);
  });
});

describe('the merge on the primary, sliced', () => {
  it('yields to the event loop while it merges, and reads a retained base that a worker exit meanwhile does not change', async () => {
    const retired = new RetiredSeries(100_000);
    const series = (n: number, value: number): MetricJson => ({
      name: 'jobs_total',
      help: 'Jobs',
      type: 'counter',
      values: Array.from({ length: n }, (_, i) => ({ value, labels: { queue: `q${i}` } })),
    });
    retired.add([series(5_000, 1)]);
    const base = retired.toJson();
    let turns = 0;
    const tick = (): void => {
      turns++;
      if (turns < 1_000) setImmediate(tick);
    };
    setImmediate(tick);
    // A slice of 0 ms: it yields at every look at the clock. A worker exits during the merge.
    const merging = aggregate(defaultClient(), [[series(5_000, 2)], base], 0);
    retired.add([series(5_000, 10)]);
    const registry = await merging;
    const seen = turns;
    turns = 1_000;
    const data = (
      await (registry.getSingleMetric('jobs_total') as unknown as { get(): Promise<MetricJson> }).get()
    ).values;
    expect(seen).toBeGreaterThan(1);
    // Every series is the live worker's 2 plus the base as it was (1), not the exit after it (10).
    expect(new Set(data.map((v) => v.value))).toEqual(new Set([3]));
    expect(base[0].values[0].value).toBe(1);
    expect(retired.toJson()[0].values[0].value).toBe(11);
  });
});
