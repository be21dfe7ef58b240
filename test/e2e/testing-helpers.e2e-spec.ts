import { Body, Controller, Get, HttpCode, Param, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Counter, register as globalRegistry } from 'prom-client';
import { VezaMetric, VezaMetricsModule, VezaMetricsService } from '../../src';
import { getMetricValue, resetMetrics, setupMetricsMatchers } from '@veza/nestjs-metrics/testing';
import { ADAPTERS, scrape, startApp } from '../utils/app';
import { metricsContext } from '../utils/module';
import { sampleValue } from '../utils/exposition';

setupMetricsMatchers();

@Controller()
class VezaController {
  constructor(private readonly metrics: VezaMetricsService) {}

  @Post('auth/login')
  @HttpCode(200)
  login(@Body() body: { password?: string }): { ok: boolean } {
    const ok = body.password === 'secret';
    this.metrics.recordLoginAttempt(ok);
    if (ok) this.metrics.updateActiveSessions(1);
    return { ok };
  }

  @Post('uploads')
  @HttpCode(201)
  upload(@Body() body: { type: string; bytes: number }): { stored: boolean } {
    this.metrics.recordFileUpload(body.type, 'success', body.bytes);
    this.metrics.recordTrackUploaded();
    return { stored: true };
  }

  @Get('tracks/:id')
  track(@Param('id') id: string): { id: string } {
    return { id };
  }
}

async function post(url: string, path: string, body: unknown): Promise<number> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.text();
  return res.status;
}

describe.each(ADAPTERS)('testing helpers on %s, over real HTTP', (kind) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(kind, {
      imports: [VezaMetricsModule.forRoot({ defaultLabels: { service: 'veza-api' } })],
      controllers: [VezaController],
    }));
  });

  afterAll(async () => {
    await app?.close();
  });

  beforeEach(() => resetMetrics(app));

  async function drive(): Promise<void> {
    expect(await post(url, '/auth/login', { password: 'wrong' })).toBe(200);
    expect(await post(url, '/auth/login', { password: 'wrong' })).toBe(200);
    expect(await post(url, '/auth/login', { password: 'secret' })).toBe(200);
    expect(await post(url, '/uploads', { type: 'audio', bytes: 3_000 })).toBe(201);
    expect(await post(url, '/uploads', { type: 'audio', bytes: 100_000 })).toBe(201);
    expect(await post(url, '/uploads', { type: 'image', bytes: 500 })).toBe(201);
    expect((await fetch(`${url}/tracks/1`)).status).toBe(200);
    expect((await fetch(`${url}/tracks/2`)).status).toBe(200);
  }

  it('getMetricValue reads the exact values /metrics serves, without parsing it', async () => {
    await drive();
    const text = await scrape(url);

    const failures = await getMetricValue(app, VezaMetric.LoginAttempts, { success: 'failure' });
    expect(failures).toBe(2);
    expect(failures).toBe(sampleValue(text, 'veza_auth_login_attempts_total', { success: 'failure' }));
    expect(await getMetricValue(app, VezaMetric.LoginAttempts, { success: 'success' })).toBe(1);
    // No labels: the sum of every series.
    expect(await getMetricValue(app, VezaMetric.LoginAttempts)).toBe(3);
    expect(await getMetricValue(app, VezaMetric.SessionsActive)).toBe(1);
    expect(await getMetricValue(app, VezaMetric.TracksUploaded)).toBe(3);
    expect(await getMetricValue(app, VezaMetric.FileUploads, { type: 'audio', status: 'success' })).toBe(2);

    // Some labels: the sum of the series that have them (the status is left open here).
    expect(
      await getMetricValue(app, VezaMetric.HttpRequestsTotal, { method: 'POST', endpoint: '/auth/login' }),
    ).toBe(3);
    expect(
      await getMetricValue(app, VezaMetric.HttpRequestsTotal, { endpoint: '/tracks/:id', status: '2xx' }),
    ).toBe(
      sampleValue(text, 'veza_http_requests_total', {
        method: 'GET',
        endpoint: '/tracks/:id',
        status: '2xx',
      }),
    );
    // The registry's default labels count as labels (by a name typed as a plain string: a catalog
    // name only takes the catalog's labels, checked at compile time).
    const logins: string = VezaMetric.LoginAttempts;
    expect(await getMetricValue(app, logins, { success: 'failure', service: 'veza-api' })).toBe(2);
    expect(await getMetricValue(app, logins, { success: 'failure', service: 'other' })).toBeUndefined();

    // Histograms: the observation count by default, the sum, or one bucket.
    expect(await getMetricValue(app, VezaMetric.FileUploadSize, { type: 'audio' })).toBe(2);
    expect(await getMetricValue(app, VezaMetric.FileUploadSize, { type: 'audio' }, { stat: 'sum' })).toBe(
      103_000,
    );
    expect(await getMetricValue(app, VezaMetric.FileUploadSize, { type: 'audio' }, { le: 4096 })).toBe(1);
    expect(await getMetricValue(app, VezaMetric.FileUploadSize, { type: 'audio' }, { le: 131072 })).toBe(2);
    expect(await getMetricValue(app, VezaMetric.FileUploadSize, {}, { le: '+Inf' })).toBe(3);
    expect(await getMetricValue(app, VezaMetric.FileUploadSize, { type: 'audio' }, { le: 4096 })).toBe(
      sampleValue(text, 'veza_file_upload_size_bytes_bucket', { type: 'audio', le: '4096' }),
    );
    expect(
      await getMetricValue(
        app,
        VezaMetric.HttpRequestDuration,
        { endpoint: '/tracks/:id' },
        { stat: 'count' },
      ),
    ).toBe(2);
    const seconds = await getMetricValue(
      app,
      VezaMetric.HttpRequestDuration,
      { endpoint: '/tracks/:id' },
      { stat: 'sum' },
    );
    expect(seconds).toBe(
      sampleValue(text, 'veza_http_request_duration_seconds_sum', { endpoint: '/tracks/:id' }),
    );

    // Nothing recorded under those labels: undefined, not 0.
    expect(await getMetricValue(app, VezaMetric.LoginAttempts, { success: 'maybe' })).toBeUndefined();
    expect(await getMetricValue(app, VezaMetric.Errors)).toBeUndefined();
    expect(await getMetricValue(app, VezaMetric.UsersRegistered)).toBe(0);
  });

  it('resetMetrics zeroes the application between tests: counters, histograms and gauges, and they keep recording', async () => {
    await drive();
    expect(await getMetricValue(app, VezaMetric.LoginAttempts)).toBe(3);

    resetMetrics(app);

    expect(await getMetricValue(app, VezaMetric.LoginAttempts, { success: 'failure' })).toBeUndefined();
    expect(await getMetricValue(app, VezaMetric.TracksUploaded)).toBe(0);
    expect(await getMetricValue(app, VezaMetric.SessionsActive)).toBe(0);
    expect(await getMetricValue(app, VezaMetric.FileUploadSize, { type: 'audio' })).toBeUndefined();
    expect(await getMetricValue(app, VezaMetric.HttpRequestsTotal)).toBeUndefined();
    const text = await scrape(url);
    expect(sampleValue(text, 'veza_auth_login_attempts_total', { success: 'failure' })).toBeUndefined();
    expect(sampleValue(text, 'veza_tracks_uploaded_total')).toBe(0);
    expect(sampleValue(text, 'veza_auth_sessions_active')).toBe(0);
    // Default process metrics are measured again on every read.
    expect(sampleValue(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    expect(await post(url, '/auth/login', { password: 'wrong' })).toBe(200);
    expect(await getMetricValue(app, VezaMetric.LoginAttempts, { success: 'failure' })).toBe(1);
    expect(await getMetricValue(app, VezaMetric.HttpRequestsTotal, { endpoint: '/auth/login' })).toBe(1);
  });

  it('the jest matcher toHaveMetricValue reads the same values', async () => {
    await drive();
    await expect(app).toHaveMetricValue(VezaMetric.LoginAttempts, { success: 'failure' }, 2);
    await expect(app).toHaveMetricValue(VezaMetric.TracksUploaded, 3);
    await expect(app).toHaveMetricValue(VezaMetric.FileUploadSize, { type: 'audio' }, 103_000, {
      stat: 'sum',
    });
    await expect(app).not.toHaveMetricValue(VezaMetric.LoginAttempts, { success: 'failure' }, 3);
    // A counter that never counted under those labels has counted 0.
    await expect(app).toHaveMetricValue(VezaMetric.Errors, { type: 'db' }, 0);

    await expect(
      expect(app).toHaveMetricValue(VezaMetric.LoginAttempts, { success: 'failure' }, 5),
    ).rejects.toThrow('expected veza_auth_login_attempts_total{success="failure"} to be 5, got 2');
    await expect(expect(app).toHaveMetricValue(VezaMetric.Errors, { type: 'db' }, 1)).rejects.toThrow(
      'expected veza_errors_total{type="db"} to be 1, got 0 (no series yet)',
    );
    await expect(expect(app).not.toHaveMetricValue(VezaMetric.TracksUploaded, 3)).rejects.toThrow(
      'expected veza_tracks_uploaded_total not to be 3, but it is',
    );
  });

  it('a typo fails the test instead of reading undefined', async () => {
    await expect(getMetricValue(app, 'veza_logins_total')).rejects.toThrow(
      'getMetricValue: no metric named "veza_logins_total" is registered in the application\'s registry (nor in prom-client\'s global registry).',
    );
    await expect(getMetricValue(app, VezaMetric.LoginAttempts, { ok: 'no' } as never)).rejects.toThrow(
      'getMetricValue: metric "veza_auth_login_attempts_total" has no label "ok"; its labels are success, service.',
    );
    await expect(getMetricValue(app, VezaMetric.FileUploadSize, {}, { le: 1000 })).rejects.toThrow(
      'getMetricValue: "veza_file_upload_size_bytes" is a histogram; it has no bucket le=1000 (buckets: 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4194304, 8388608, 16777216, +Inf).',
    );
    await expect(getMetricValue(app, VezaMetric.LoginAttempts, {}, { stat: 'sum' })).rejects.toThrow(
      'getMetricValue: "veza_auth_login_attempts_total" is a counter; options { stat } apply to histograms and summaries only.',
    );
  });
});

describe('testing helpers on other hosts and registries', () => {
  it('take a TestingModule (no HTTP server) as well', async () => {
    const ctx = await metricsContext({ defaultMetrics: false });
    try {
      ctx.service.recordCacheHit('tracks');
      ctx.service.recordCacheHit('tracks');
      expect(await getMetricValue(ctx.moduleRef, VezaMetric.CacheHits, { subsystem: 'tracks' })).toBe(2);
      resetMetrics(ctx.moduleRef);
      expect(
        await getMetricValue(ctx.moduleRef, VezaMetric.CacheHits, { subsystem: 'tracks' }),
      ).toBeUndefined();
    } finally {
      await ctx.close();
    }
  });

  it('read strict names, and the health check histogram in seconds under naming: "strict"', async () => {
    const ctx = await metricsContext({ naming: 'strict', defaultMetrics: false });
    try {
      ctx.service.recordHealthCheck('db', 250, 'slow');
      expect(
        await getMetricValue(
          ctx.moduleRef,
          VezaMetric.HealthCheckDuration,
          { service: 'db' },
          { stat: 'sum' },
        ),
      ).toBe(0.25);
      expect(
        await getMetricValue(
          ctx.moduleRef,
          'veza_health_check_duration_seconds',
          { service: 'db' },
          { le: 0.25 },
        ),
      ).toBe(1);
      expect(await getMetricValue(ctx.moduleRef, VezaMetric.HealthCheckStatus, { service: 'db' })).toBe(0.5);
    } finally {
      await ctx.close();
    }
  });

  it("read the app's own metrics and those of prom-client's global registry (@willsoto/nestjs-prometheus's)", async () => {
    const ctx = await metricsContext({ defaultMetrics: false });
    const legacy = new Counter({ name: 'legacy_jobs_total', help: 'Legacy jobs', labelNames: ['kind'] });
    try {
      legacy.inc({ kind: 'import' }, 4);
      expect(await getMetricValue(ctx.moduleRef, 'legacy_jobs_total', { kind: 'import' })).toBe(4);
      // resetMetrics leaves the shared global registry alone.
      resetMetrics(ctx.moduleRef);
      expect(await getMetricValue(ctx.moduleRef, 'legacy_jobs_total', { kind: 'import' })).toBe(4);
    } finally {
      globalRegistry.removeSingleMetric('legacy_jobs_total');
      await ctx.close();
    }
  });

  it('fail clearly on an application without VezaMetricsModule', async () => {
    const moduleRef = await Test.createTestingModule({}).compile();
    await expect(getMetricValue(moduleRef, VezaMetric.LoginAttempts)).rejects.toThrow(
      'getMetricValue: the application has no VezaMetricsRegistry; import VezaMetricsModule.forRoot() in the module under test.',
    );
    expect(() => resetMetrics(moduleRef)).toThrow(
      'resetMetrics: the application has no VezaMetricsRegistry; import VezaMetricsModule.forRoot() in the module under test.',
    );
    await moduleRef.close();
  });
});
