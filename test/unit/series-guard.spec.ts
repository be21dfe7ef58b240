import { Logger } from '@nestjs/common';
import { VezaMetric } from '../../src';
import { metricsContext, type MetricsContext } from '../utils/module';
import { parseExposition, sampleValue } from '../utils/exposition';

describe('series guard: caps, overflow, and recordings that never throw', () => {
  let ctx: MetricsContext;
  let warn: jest.SpyInstance;
  beforeEach(async () => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    ctx = await metricsContext({ defaultMetrics: false, cardinality: { maxSeries: 5, perMetric: { veza_uploads_failed_total: 2 } } });
  });
  afterEach(async () => {
    await ctx.close();
    warn.mockRestore();
  });

  const seriesOf = (text: string, name: string) => parseExposition(text).get(name)?.samples ?? [];

  it('folds label sets past the cap into one overflow series, keeping the total exact', async () => {
    for (let i = 0; i < 100; i++) ctx.service.recordCacheHit(`subsystem-${i}`);
    const text = await ctx.render();
    const series = seriesOf(text, 'veza_cache_hits_total');
    expect(series).toHaveLength(6);
    expect(series.reduce((sum, s) => sum + s.value, 0)).toBe(100);
    expect(sampleValue(text, 'veza_cache_hits_total', { subsystem: '__overflow__' })).toBe(95);
    expect(sampleValue(text, 'veza_cache_hits_total', { subsystem: 'subsystem-4' })).toBe(1);
    expect(sampleValue(text, 'veza_metrics_series_overflow_total', { metric: 'veza_cache_hits_total' })).toBe(95);
    // Admitted label sets keep counting after the cap is reached.
    ctx.service.recordCacheHit('subsystem-0');
    expect(sampleValue(await ctx.render(), 'veza_cache_hits_total', { subsystem: 'subsystem-0' })).toBe(2);
    const overflowLogs = warn.mock.calls.filter(([m]) => String(m).includes('reached its cap'));
    expect(overflowLogs).toEqual([
      [
        'Metric "veza_cache_hits_total" reached its cap of 5 label sets; new ones are folded into its __overflow__ series (raise cardinality.perMetric["veza_cache_hits_total"] if this is expected).',
      ],
    ]);
  });

  it('applies per-metric caps, and folds every label of a multi-label metric', async () => {
    for (let i = 0; i < 10; i++) ctx.service.recordUploadFailed(`reason-${i}`);
    for (let i = 0; i < 10; i++) ctx.service.recordDatabaseError(`op-${i}`, `type-${i}`);
    const text = await ctx.render();
    expect(seriesOf(text, 'veza_uploads_failed_total')).toHaveLength(3);
    expect(sampleValue(text, 'veza_uploads_failed_total', { reason: '__overflow__' })).toBe(8);
    expect(sampleValue(text, 'veza_database_query_errors_total', { operation: '__overflow__', error_type: '__overflow__' })).toBe(5);
  });

  it('caps the series a histogram holds, bucket counts included', async () => {
    for (let i = 0; i < 20; i++) ctx.service.recordDatabaseQuery('select', `table-${i}`, 0.002);
    const text = await ctx.render();
    expect(seriesOf(text, 'veza_database_query_duration_seconds').filter((s) => s.name.endsWith('_count'))).toHaveLength(6);
    expect(sampleValue(text, 'veza_database_query_duration_seconds_count', { operation: '__overflow__', table: '__overflow__' })).toBe(15);
    expect(
      sampleValue(text, 'veza_database_query_duration_seconds_bucket', { operation: '__overflow__', table: '__overflow__', le: '0.005' }),
    ).toBe(15);
  });

  it('guards the injected prom-client metric itself, whatever path records into it', async () => {
    const counter = ctx.registry.get(VezaMetric.Errors);
    for (let i = 0; i < 8; i++) counter.labels({ type: `E${i}`, severity: 'high' }).inc();
    const histogram = ctx.registry.get(VezaMetric.FileUploadSize);
    for (let i = 0; i < 8; i++) histogram.startTimer({ type: `t${i}` })();
    const text = await ctx.render();
    expect(seriesOf(text, 'veza_errors_total')).toHaveLength(6);
    expect(sampleValue(text, 'veza_errors_total', { type: '__overflow__' })).toBe(3);
    expect(sampleValue(text, 'veza_file_upload_size_bytes_count', { type: '__overflow__' })).toBe(3);
  });

  it('never throws, refuses what Prometheus forbids, and counts each refusal', async () => {
    const counter = ctx.registry.get(VezaMetric.TracksUploaded);
    const gauge = ctx.registry.get(VezaMetric.ActiveUsers);
    const histogram = ctx.registry.get(VezaMetric.CommerceCheckoutDuration);
    const labelled = ctx.registry.get(VezaMetric.LoginAttempts);
    expect(() => counter.inc(-1)).not.toThrow();
    expect(() => counter.inc(Number.NaN)).not.toThrow();
    expect(() => gauge.set(Number.POSITIVE_INFINITY)).not.toThrow();
    expect(() => histogram.observe(Number.NaN)).not.toThrow();
    expect(() => histogram.observe(-Infinity)).not.toThrow();
    expect(() => labelled.inc({ success: 'success', extra: 'x' } as never)).not.toThrow();
    counter.inc();
    gauge.set(3);
    histogram.observe(0.2);
    const text = await ctx.render();
    expect(sampleValue(text, 'veza_tracks_uploaded_total')).toBe(1);
    expect(sampleValue(text, 'veza_active_users')).toBe(3);
    expect(sampleValue(text, 'veza_commerce_checkout_duration_seconds_sum')).toBe(0.2);
    expect(sampleValue(text, 'veza_commerce_checkout_duration_seconds_count')).toBe(1);
    // The unknown label is dropped; the known one is recorded.
    expect(sampleValue(text, 'veza_auth_login_attempts_total', { success: 'success' })).toBe(1);
    expect(sampleValue(text, 'veza_metrics_recording_errors_total', { metric: 'veza_tracks_uploaded_total' })).toBe(2);
    expect(sampleValue(text, 'veza_metrics_recording_errors_total', { metric: 'veza_active_users' })).toBe(1);
    expect(sampleValue(text, 'veza_metrics_recording_errors_total', { metric: 'veza_commerce_checkout_duration_seconds' })).toBe(2);
    expect(sampleValue(text, 'veza_metrics_recording_errors_total', { metric: 'veza_auth_login_attempts_total' })).toBe(1);
  });

  it('turns any label value into a bounded, valid string', async () => {
    const values: unknown[] = ['a"b\\c\nd\re\u0000f', '\ud800lone', 'x'.repeat(65_536), 42, true, { a: 1 }, [1, 2], null, undefined];
    const counter = ctx.registry.get(VezaMetric.CacheMisses);
    const guarded = await metricsContext({ defaultMetrics: false });
    const wide = guarded.registry.get(VezaMetric.CacheMisses);
    for (const value of values) wide.inc({ subsystem: value as string });
    const series = seriesOf(await guarded.render(), 'veza_cache_misses_total').map((s) => [s.labels.subsystem, s.value]);
    // Objects and arrays share __invalid__; null and undefined share the empty value.
    expect(series).toEqual([
      ['a"b\\c\nd\re\u0000f', 1],
      ['\ufffdlone', 1],
      ['x'.repeat(256), 1],
      ['42', 1],
      ['true', 1],
      ['__invalid__', 2],
      ['', 2],
    ]);
    expect(counter).not.toBe(wide);
    await guarded.close();
  });

  it('hands back a working child from labels(), whatever its arguments', async () => {
    const counter = ctx.registry.get(VezaMetric.CacheHits);
    expect(() => counter.labels(undefined as unknown as string).inc()).not.toThrow();
    expect(() => counter.labels().inc()).not.toThrow();
    expect(() => counter.labels({ subsystem: { nested: true } } as never).inc()).not.toThrow();
    expect(() => counter.labels('a', 'b', 'c').inc()).not.toThrow();
    const text = await ctx.render();
    expect(sampleValue(text, 'veza_cache_hits_total', { subsystem: '' })).toBe(2);
    expect(sampleValue(text, 'veza_cache_hits_total', { subsystem: '__invalid__' })).toBe(1);
    expect(sampleValue(text, 'veza_cache_hits_total', { subsystem: 'a' })).toBe(1);
  });

  it('counts a missing label and an empty one as two label sets, as prom-client does', async () => {
    const counter = ctx.registry.get(VezaMetric.CacheHits);
    for (let i = 0; i < 3; i++) counter.inc({ subsystem: `s${i}` });
    counter.inc({});
    counter.inc({ subsystem: '' });
    counter.inc({ subsystem: 'one-too-many' });
    const series = seriesOf(await ctx.render(), 'veza_cache_hits_total');
    expect(series.map((s) => s.labels.subsystem)).toEqual(['s0', 's1', 's2', undefined, '', '__overflow__']);
  });

  it('starts counting again from zero after reset()', async () => {
    const counter = ctx.registry.get(VezaMetric.CacheHits);
    for (let i = 0; i < 5; i++) counter.inc({ subsystem: `a${i}` });
    counter.reset();
    for (let i = 0; i < 5; i++) counter.inc({ subsystem: `b${i}` });
    const text = await ctx.render();
    expect(seriesOf(text, 'veza_cache_hits_total')).toHaveLength(5);
    expect(sampleValue(text, 'veza_cache_hits_total', { subsystem: '__overflow__' })).toBeUndefined();
  });
});
