import { VezaMetric, type VezaMetricsModuleOptions } from '../../src';
import { VEZA_CATALOG } from '../../src/catalog/catalog';
import { layoutOf } from '../../src/compat/metrics-client';
import { resolveOptions } from '../../src/veza-metrics.options';
import {
  NativeHistogram,
  nativeConfigOf,
  nativeSnapshotOf,
  resolveNativeConfig,
} from '../../src/native/native-histogram';
import { metricsContext, startupError } from '../utils/module';

const HISTOGRAMS = VEZA_CATALOG.filter((d) => d.kind === 'histogram').map((d) => d.name);

describe('nativeHistograms option', () => {
  it.each([
    [
      { nativeHistograms: 'yes' },
      'option "nativeHistograms" must be true, false or { bucketFactor?, maxBuckets?, zeroThreshold?, minResetInterval? }, got the string "yes".',
    ],
    [
      { nativeHistograms: { bucketFactor: 1 } },
      'option "nativeHistograms.bucketFactor" must be a finite number above 1 (1.1: buckets 10 % apart), got number 1.',
    ],
    [
      { nativeHistograms: { bucketFactor: Infinity } },
      'option "nativeHistograms.bucketFactor" must be a finite number above 1 (1.1: buckets 10 % apart), got number Infinity.',
    ],
    [
      { nativeHistograms: { maxBuckets: 0 } },
      'option "nativeHistograms.maxBuckets" must be an integer from 1 to 65536 (buckets per sign a series keeps), got number 0.',
    ],
    [
      { nativeHistograms: { maxBuckets: 1.5 } },
      'option "nativeHistograms.maxBuckets" must be an integer from 1 to 65536 (buckets per sign a series keeps), got number 1.5.',
    ],
    [
      { nativeHistograms: { maxBuckets: 65537 } },
      'option "nativeHistograms.maxBuckets" must be an integer from 1 to 65536 (buckets per sign a series keeps), got number 65537.',
    ],
    [
      { nativeHistograms: { zeroThreshold: -1 } },
      'option "nativeHistograms.zeroThreshold" must be a finite number >= 0, got number -1.',
    ],
    [
      { nativeHistograms: { zeroThreshold: NaN } },
      'option "nativeHistograms.zeroThreshold" must be a finite number >= 0, got number NaN.',
    ],
    [
      { nativeHistograms: { minResetInterval: -5 } },
      'option "nativeHistograms.minResetInterval" must be a finite number of milliseconds >= 0 (0: never reset), got number -5.',
    ],
    [
      { nativeHistograms: { maxBucket: 10 } },
      'unknown option "nativeHistograms.maxBucket"; expected one of bucketFactor, maxBuckets, zeroThreshold, minResetInterval.',
    ],
  ])('refuses %j at start-up, naming the option and the fix', async (options, message) => {
    const full = `VezaMetricsModule: ${message}`;
    expect(() => resolveOptions(options as VezaMetricsModuleOptions)).toThrow(full);
    await expect(startupError(options)).resolves.toBe(full);
  });

  it('resolves true, false, nothing and settings with client_golang defaults', () => {
    expect(resolveOptions({}).nativeHistograms).toBeUndefined();
    expect(resolveOptions({ nativeHistograms: false }).nativeHistograms).toBeUndefined();
    expect(resolveOptions({ nativeHistograms: true }).nativeHistograms).toEqual({
      schema: 3,
      maxBuckets: 160,
      zeroThreshold: 2 ** -128,
      minResetIntervalMs: 0,
    });
    expect(
      resolveOptions({
        nativeHistograms: { bucketFactor: 2, maxBuckets: 20, zeroThreshold: 0, minResetInterval: 60_000 },
      }).nativeHistograms,
    ).toEqual({ schema: 0, maxBuckets: 20, zeroThreshold: 0, minResetIntervalMs: 60_000 });
  });

  it('gives every catalog histogram a native part, filed by the service helpers; none without the option', async () => {
    const off = await metricsContext({ defaultMetrics: false });
    try {
      for (const name of HISTOGRAMS) expect(nativeConfigOf(off.registry.get(name as never))).toBeUndefined();
    } finally {
      await off.close();
    }
    const ctx = await metricsContext({ defaultMetrics: false, nativeHistograms: { maxBuckets: 40 } });
    try {
      const config = resolveNativeConfig({ maxBuckets: 40 });
      for (const name of HISTOGRAMS) expect(nativeConfigOf(ctx.registry.get(name as never))).toEqual(config);
      ctx.service.recordHttpRequest('GET', '/a', 200, 0.25);
      ctx.service.recordDatabaseQuery('select', 'tracks', 0.003);
      ctx.service.recordFileUpload('audio', 'success', 5_000_000);
      ctx.service.recordHealthCheck('db', 12, 'up');
      ctx.service.recordCheckoutDuration(1.5);
      const filed: Record<string, number> = {
        [VezaMetric.HttpRequestDuration]: 0.25,
        [VezaMetric.DatabaseQueryDuration]: 0.003,
        [VezaMetric.FileUploadSize]: 5_000_000,
        [VezaMetric.CommerceCheckoutDuration]: 1.5,
      };
      for (const name of HISTOGRAMS) {
        const metric = ctx.registry.get(name as never) as object;
        const [entry] = layoutOf(metric)!.entries(metric);
        expect(entry.count).toBe(1);
        const fresh = new NativeHistogram(config, undefined);
        fresh.observe(filed[name] ?? entry.sum!);
        expect(nativeSnapshotOf(metric, entry)).toEqual(fresh.snapshot());
      }
    } finally {
      await ctx.close();
    }
  });
});
