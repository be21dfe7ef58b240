import * as PI from '@prometheus-io/client';
import * as PC from 'prom-client';
import type { AnyMetric, HistogramMetric } from '../../src/compat/client-types';
import { layoutOf } from '../../src/compat/metrics-client';
import {
  nativeOf,
  nativeSnapshotOf,
  resolveNativeConfig,
  setNativeConfig,
} from '../../src/native/native-histogram';
import { guardMetric } from '../../src/registry/series-guard';
import { collector } from '../utils/memory';

/*
 * The memory of native parts is bounded by maxBuckets per series whatever is observed: the worst
 * case spreads values over the whole double range, both signs, in every series.
 */
type Classes = Pick<typeof PC, 'Histogram'>;
const CLIENTS: ReadonlyArray<[string, Classes]> = [
  ['prom-client', PC],
  ['@prometheus-io/client', PI as unknown as Classes],
];
const SERIES = 2_500;
const MAX_BUCKETS = 160;
/**
 * Per series, besides its buckets: the NativeHistogram object, its two bucket windows, their two
 * Float64Arrays (objects and ArrayBuffers: ~200 B each) and the property on the entry.
 */
const OVERHEAD = 1_024;
const hooks = { onOverflow: () => undefined, onError: () => undefined };

/** Heap in use plus ArrayBuffers (bucket counts of more than 64 bytes live outside the heap). */
function used(gc: () => void): number {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** 40 values per sign from 2^-1070 to 2^1020: the widest spread a series can get. */
const SPREAD = Array.from({ length: 40 }, (_, k) => 2 ** (-1070 + k * 52.3)).flatMap((v) => [v, -v]);

describe.each(CLIENTS)('native part memory on %s', (_client, C) => {
  const gc = collector();

  function histogram(native: boolean): HistogramMetric<string> & AnyMetric {
    const h = new C.Histogram({
      name: 'h',
      help: 'h',
      labelNames: ['series'],
      buckets: [0.1, 1, 10],
      registers: [],
    }) as unknown as HistogramMetric<string> & AnyMetric;
    if (native) setNativeConfig(h, resolveNativeConfig({ maxBuckets: MAX_BUCKETS }));
    guardMetric(h, SERIES + 1, hooks);
    return h;
  }

  /** Heap (and ArrayBuffer) growth of SERIES series fed the worst-case spread. */
  function growth(native: boolean): { bytes: number; metric: HistogramMetric<string> & AnyMetric } {
    const before = used(gc);
    const h = histogram(native);
    for (let s = 0; s < SERIES; s++) {
      const labels = { series: `s${s}` };
      h.observe(labels, SPREAD[0]);
      const slot = layoutOf(h)!.histogramSlot(h, labels)!;
      for (let i = 1; i < SPREAD.length; i++) slot.observe(SPREAD[i]);
    }
    return { bytes: used(gc) - before, metric: h };
  }

  it(`${SERIES} series of values over the whole double range stay within 2 × maxBuckets × 8 B + ${OVERHEAD} B each`, () => {
    const classic = growth(false);
    const native = growth(true);
    const perSeries = (native.bytes - classic.bytes) / SERIES;
    const bound = 2 * MAX_BUCKETS * 8 + OVERHEAD;
    // Visible in the test's output: the figure docs/native-histograms.md quotes.
    process.stdout.write(
      `native part: ${perSeries.toFixed(0)} B a series over the classic one (${(classic.bytes / SERIES).toFixed(0)} B), bound ${bound} B\n`,
    );
    expect(perSeries).toBeLessThanOrEqual(bound);
    // Every series kept every observation, at a lowered resolution.
    for (const entry of layoutOf(native.metric)!.entries(native.metric)) {
      const snapshot = nativeSnapshotOf(native.metric, entry)!;
      expect(snapshot.schema).toBeLessThan(3);
      expect(entry.count).toBe(SPREAD.length);
      expect(nativeOf(entry, resolveNativeConfig()).bucketBytes).toBeLessThanOrEqual(2 * MAX_BUCKETS * 8);
    }
    void classic.metric.reset();
    void native.metric.reset();
  });

  it('one series fed 200,000 distinct values keeps at most 2 × maxBuckets buckets', () => {
    const h = histogram(true);
    const labels = { series: 'one' };
    h.observe(labels, 1);
    const slot = layoutOf(h)!.histogramSlot(h, labels)!;
    for (let i = 1; i < 200_000; i++) {
      // Alternating ±, exponents from -1074 to 1023 in a scattered order, mantissas 1 to 2.
      const x = 2 ** (((i * 7919) % 2098) - 1074) * (1 + (i % 1000) / 1000);
      slot.observe(i % 2 ? x : -x);
    }
    const entry = layoutOf(h)!.entryOf(h, labels)!;
    expect(entry.count).toBe(200_000);
    expect(nativeSnapshotOf(h, entry)).toBeDefined();
    expect(nativeOf(entry, resolveNativeConfig()).bucketBytes).toBeLessThanOrEqual(2 * MAX_BUCKETS * 8);
  });
});
