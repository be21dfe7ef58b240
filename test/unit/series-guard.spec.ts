import { Logger } from '@nestjs/common';
import { VezaMetric } from '../../src';
import { metricsContext, type MetricsContext } from '../utils/module';
import { parseExposition, sampleValue } from '../utils/exposition';
import { collector, heapAfterGc } from '../utils/memory';
import { AppRegistry } from '../../src/registry/app-registry';

describe('series guard: caps, overflow, and recordings that never throw', () => {
  let ctx: MetricsContext;
  let warn: jest.SpyInstance;
  beforeEach(async () => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    ctx = await metricsContext({
      defaultMetrics: false,
      cardinality: { maxSeries: 5, perMetric: { veza_uploads_failed_total: 2 } },
    });
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
    expect(sampleValue(text, 'veza_metrics_series_overflow_total', { metric: 'veza_cache_hits_total' })).toBe(
      95,
    );
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
    expect(
      sampleValue(text, 'veza_database_query_errors_total', {
        operation: '__overflow__',
        error_type: '__overflow__',
      }),
    ).toBe(5);
  });

  it('caps the series a histogram holds, bucket counts included', async () => {
    for (let i = 0; i < 20; i++) ctx.service.recordDatabaseQuery('select', `table-${i}`, 0.002);
    const text = await ctx.render();
    expect(
      seriesOf(text, 'veza_database_query_duration_seconds').filter((s) => s.name.endsWith('_count')),
    ).toHaveLength(6);
    expect(
      sampleValue(text, 'veza_database_query_duration_seconds_count', {
        operation: '__overflow__',
        table: '__overflow__',
      }),
    ).toBe(15);
    expect(
      sampleValue(text, 'veza_database_query_duration_seconds_bucket', {
        operation: '__overflow__',
        table: '__overflow__',
        le: '0.005',
      }),
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
    expect(
      sampleValue(text, 'veza_metrics_recording_errors_total', { metric: 'veza_tracks_uploaded_total' }),
    ).toBe(2);
    expect(sampleValue(text, 'veza_metrics_recording_errors_total', { metric: 'veza_active_users' })).toBe(1);
    expect(
      sampleValue(text, 'veza_metrics_recording_errors_total', {
        metric: 'veza_commerce_checkout_duration_seconds',
      }),
    ).toBe(2);
    expect(
      sampleValue(text, 'veza_metrics_recording_errors_total', { metric: 'veza_auth_login_attempts_total' }),
    ).toBe(1);
  });

  it("refuses a value Prometheus forbids through a histogram's child too (labels(x).observe(NaN)), never thrown", async () => {
    const histogram = ctx.registry.get(VezaMetric.HealthCheckDuration);
    const child = histogram.labels({ service: 'db' });
    expect(() => child.observe(Number.NaN)).not.toThrow();
    expect(() => child.observe(Number.POSITIVE_INFINITY)).not.toThrow();
    child.observe(0.25);
    const text = await ctx.render();
    expect(sampleValue(text, 'veza_health_check_duration_ms_count', { service: 'db' })).toBe(1);
    expect(sampleValue(text, 'veza_health_check_duration_ms_sum', { service: 'db' })).toBe(0.25);
    expect(
      sampleValue(text, 'veza_metrics_recording_errors_total', { metric: 'veza_health_check_duration_ms' }),
    ).toBe(2);
  });

  it('turns any label value into a bounded, valid string', async () => {
    const values: unknown[] = [
      'a"b\\c\nd\re\u0000f',
      '\ud800lone',
      'x'.repeat(65_536),
      42,
      true,
      { a: 1 },
      [1, 2],
      null,
      undefined,
    ];
    const counter = ctx.registry.get(VezaMetric.CacheMisses);
    const guarded = await metricsContext({ defaultMetrics: false });
    const wide = guarded.registry.get(VezaMetric.CacheMisses);
    for (const value of values) wide.inc({ subsystem: value as string });
    const series = seriesOf(await guarded.render(), 'veza_cache_misses_total').map((s) => [
      s.labels.subsystem,
      s.value,
    ]);
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

  it('refuses a recording that leaves out a declared label: no series, one error counted per call, logged once, never thrown', async () => {
    const logins = ctx.registry.get(VezaMetric.LoginAttempts);
    const health = ctx.registry.get(VezaMetric.HealthCheckStatus);
    const sizes = ctx.registry.get(VezaMetric.FileUploadSize);
    expect(() => logins.inc()).not.toThrow();
    expect(() => logins.inc(2)).not.toThrow();
    expect(() => logins.inc({})).not.toThrow();
    expect(() => logins.labels({} as never).inc()).not.toThrow();
    expect(() => health.set(1)).not.toThrow();
    expect(() => health.setToCurrentTime()).not.toThrow();
    expect(() => sizes.observe(10)).not.toThrow();
    expect(() => sizes.startTimer()()).not.toThrow();
    expect(() => sizes.zero({})).not.toThrow();
    // Given, even empty or undefined, a label is there: these record.
    logins.inc({ success: '' });
    logins.inc({ success: undefined });
    const text = await ctx.render();
    expect(seriesOf(text, 'veza_auth_login_attempts_total').map((s) => [s.labels, s.value])).toEqual([
      [{ success: '' }, 2],
    ]);
    expect(seriesOf(text, 'veza_health_check_status')).toEqual([]);
    expect(seriesOf(text, 'veza_file_upload_size_bytes')).toEqual([]);
    expect(
      sampleValue(text, 'veza_metrics_recording_errors_total', { metric: 'veza_auth_login_attempts_total' }),
    ).toBe(4);
    expect(
      sampleValue(text, 'veza_metrics_recording_errors_total', { metric: 'veza_health_check_status' }),
    ).toBe(2);
    expect(
      sampleValue(text, 'veza_metrics_recording_errors_total', { metric: 'veza_file_upload_size_bytes' }),
    ).toBe(3);
    expect(warn.mock.calls.filter(([m]) => String(m).includes('"veza_auth_login_attempts_total"'))).toEqual([
      [
        'A recording into "veza_auth_login_attempts_total" was refused and skipped: label "success" missing (every recording gives all of success).',
      ],
    ]);
  });

  it('keeps the cap exact whatever the values hold: values full of \\u0000= make distinct label sets, each counted', async () => {
    // With the old key (`=value\u0000` per label) every split of one string of "\u0000=" between the two
    // labels was one label set for the guard and a series of its own for prom-client.
    const errors = ctx.registry.get(VezaMetric.DatabaseQueryErrors);
    let recorded = 0;
    for (let n = 0; n < 10; n++) {
      for (let i = 0; i <= n; i++) {
        errors.inc({ operation: '\u0000='.repeat(i), error_type: '\u0000='.repeat(n - i) });
        recorded++;
      }
    }
    const text = await ctx.render();
    const series = seriesOf(text, 'veza_database_query_errors_total');
    expect(recorded).toBe(55);
    expect(series).toHaveLength(6);
    expect(series.reduce((sum, s) => sum + s.value, 0)).toBe(55);
    expect(
      sampleValue(text, 'veza_database_query_errors_total', {
        operation: '__overflow__',
        error_type: '__overflow__',
      }),
    ).toBe(50);
    expect(
      sampleValue(text, 'veza_metrics_series_overflow_total', { metric: 'veza_database_query_errors_total' }),
    ).toBe(50);
  });

  it('records an input value equal to a guard value escaped (\\__overflow__), never in the overflow series nor counted as overflow', async () => {
    const errors = ctx.registry.get(VezaMetric.Errors);
    errors.inc({ type: '__overflow__', severity: 'high' });
    errors.labels({ type: '__invalid__', severity: 'high' }).inc();
    ctx.service.recordCacheHit('__overflow__');
    ctx.service.recordCacheHit('__overflow__');
    ctx.service.recordCacheHit('real');
    // An object is still the guard's own __invalid__, through labels() and its child too.
    ctx.registry
      .get(VezaMetric.CacheHits)
      .labels({ subsystem: {} } as never)
      .inc();
    const text = await ctx.render();
    expect(seriesOf(text, 'veza_errors_total').map((s) => [s.labels, s.value])).toEqual([
      [{ type: '\\__overflow__', severity: 'high' }, 1],
      [{ type: '\\__invalid__', severity: 'high' }, 1],
    ]);
    expect(text).toContain('veza_errors_total{type="\\\\__overflow__",severity="high"} 1');
    expect(seriesOf(text, 'veza_cache_hits_total').map((s) => [s.labels, s.value])).toEqual([
      [{ subsystem: '\\__overflow__' }, 2],
      [{ subsystem: 'real' }, 1],
      [{ subsystem: '__invalid__' }, 1],
    ]);
    expect(text).not.toContain('veza_metrics_series_overflow_total{');
    expect(warn).not.toHaveBeenCalled();
  });

  it('keeps apart two label sets that the client would key alike (prom-client: the second goes to the overflow series)', async () => {
    const errors = ctx.registry.get(VezaMetric.Errors);
    if (ctx.moduleRef.get(AppRegistry).client.seam.name === 'prom-client') {
      // prom-client keys a series `severity:<v>,type:<v>,`: these two label sets share that key.
      errors.inc({ severity: 'p,type:q', type: '' });
      errors.inc({ severity: 'p', type: 'q,type:' }, 5);
      const text = await ctx.render();
      expect(seriesOf(text, 'veza_errors_total').map((s) => [s.labels, s.value])).toEqual([
        [{ type: '', severity: 'p,type:q' }, 1],
        [{ type: '__overflow__', severity: '__overflow__' }, 5],
      ]);
      expect(sampleValue(text, 'veza_metrics_series_overflow_total', { metric: 'veza_errors_total' })).toBe(
        1,
      );
      return;
    }
    // The successor keys `<severity>|<type>|`: its key is made injective, so both are series of their own.
    errors.inc({ severity: 'p|', type: 'q' });
    errors.inc({ severity: 'p', type: '|q' }, 5);
    const text = await ctx.render();
    expect(seriesOf(text, 'veza_errors_total').map((s) => [s.labels, s.value])).toEqual([
      [{ severity: 'p|', type: 'q' }, 1],
      [{ severity: 'p', type: '|q' }, 5],
    ]);
    expect(
      sampleValue(text, 'veza_metrics_series_overflow_total', { metric: 'veza_errors_total' }),
    ).toBeUndefined();
  });

  it("frees a label set's place under the cap when remove() takes its series out", async () => {
    const hits = ctx.registry.get(VezaMetric.CacheHits);
    for (let i = 0; i < 5; i++) hits.inc({ subsystem: `s${i}` });
    hits.remove({ subsystem: 's0' });
    hits.remove('s1');
    hits.inc({ subsystem: 'n0' });
    hits.inc({ subsystem: 'n1' });
    hits.inc({ subsystem: 'n2' });
    const series = seriesOf(await ctx.render(), 'veza_cache_hits_total');
    expect(series.map((s) => [s.labels.subsystem, s.value])).toEqual([
      ['s2', 1],
      ['s3', 1],
      ['s4', 1],
      ['n0', 1],
      ['n1', 1],
      ['__overflow__', 1],
    ]);
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

  it('keeps the cut of a long value in memory of its own: 200 distinct 1 MB values hold under 2 MiB once recorded', async () => {
    const gc = collector();
    const wide = await metricsContext({ defaultMetrics: false, cardinality: { maxSeries: 2000 } });
    try {
      const before = heapAfterGc(gc);
      for (let i = 0; i < 200; i++)
        wide.service.recordCacheHit(`${String(i).padStart(3, '0')}${'x'.repeat(1024 * 1024)}`);
      const grown = heapAfterGc(gc) - before;
      // 200 cuts of 256 units each, keyed twice (prom-client's labels, the guard's key): well under 1 MiB.
      expect(grown).toBeLessThan(2 * 1024 * 1024);
      const series = seriesOf(await wide.render(), 'veza_cache_hits_total');
      expect(series).toHaveLength(200);
      expect(series.every((s) => s.labels.subsystem.length === 256)).toBe(true);
    } finally {
      await wide.close();
    }
  }, 60_000);
});
