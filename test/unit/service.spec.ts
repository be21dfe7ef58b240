import { metricsContext, type MetricsContext } from '../utils/module';
import { parseExposition, sampleValue } from '../utils/exposition';

/** The samples a helper call adds, as `name{labels} value` lines (zero-valued series omitted). */
async function effectOf(ctx: MetricsContext, call: () => void): Promise<Record<string, number>> {
  const before = valuesOf(await ctx.render());
  call();
  const after = valuesOf(await ctx.render());
  const diff: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const delta = value - (before[key] ?? 0);
    if (Math.abs(delta) > 1e-12) diff[key] = Number(delta.toPrecision(12));
  }
  return diff;
}

function valuesOf(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const family of parseExposition(text).values()) {
    if (!family.name.startsWith('veza_')) continue;
    for (const s of family.samples) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
      out[`${s.name}{${labels}}`] = s.value;
    }
  }
  return out;
}

describe('VezaMetricsService: the seed helpers, one exact effect each', () => {
  let ctx: MetricsContext;
  beforeEach(async () => {
    ctx = await metricsContext({ defaultMetrics: false });
  });
  afterEach(() => ctx.close());

  it('recordHttpRequest counts with the status class (the seed wrote U+0002) and observes seconds', async () => {
    expect(await effectOf(ctx, () => ctx.service.recordHttpRequest('GET', '/tracks/:id', 200, 0.02))).toEqual(
      {
        'veza_http_requests_total{method="GET",endpoint="/tracks/:id",status="2xx"}': 1,
        'veza_http_request_duration_seconds_bucket{le="0.05",method="GET",endpoint="/tracks/:id"}': 1,
        'veza_http_request_duration_seconds_bucket{le="0.1",method="GET",endpoint="/tracks/:id"}': 1,
        'veza_http_request_duration_seconds_bucket{le="0.5",method="GET",endpoint="/tracks/:id"}': 1,
        'veza_http_request_duration_seconds_bucket{le="1",method="GET",endpoint="/tracks/:id"}': 1,
        'veza_http_request_duration_seconds_bucket{le="5",method="GET",endpoint="/tracks/:id"}': 1,
        'veza_http_request_duration_seconds_bucket{le="+Inf",method="GET",endpoint="/tracks/:id"}': 1,
        'veza_http_request_duration_seconds_sum{method="GET",endpoint="/tracks/:id"}': 0.02,
        'veza_http_request_duration_seconds_count{method="GET",endpoint="/tracks/:id"}': 1,
      },
    );
    const text = await ctx.render();
    expect(text).not.toContain('\u0002');
    ctx.service.recordHttpRequest('POST', '/tracks', 503, 0.2);
    expect(
      sampleValue(await ctx.render(), 'veza_http_requests_total', { method: 'POST', status: '5xx' }),
    ).toBe(1);
  });

  it('recordHttpRequest uses the code itself with statusLabel "code"', async () => {
    const codes = await metricsContext({ defaultMetrics: false, statusLabel: 'code' });
    codes.service.recordHttpRequest('GET', '/tracks/:id', 404, 0.001);
    expect(sampleValue(await codes.render(), 'veza_http_requests_total', { status: '404' })).toBe(1);
    await codes.close();
  });

  it('recordLoginAttempt writes success="success" or success="failure"', async () => {
    expect(await effectOf(ctx, () => ctx.service.recordLoginAttempt(true))).toEqual({
      'veza_auth_login_attempts_total{success="success"}': 1,
    });
    expect(await effectOf(ctx, () => ctx.service.recordLoginAttempt(false))).toEqual({
      'veza_auth_login_attempts_total{success="failure"}': 1,
    });
  });

  it.each<[string, (c: MetricsContext) => void, string]>([
    ['updateActiveSessions', (c) => c.service.updateActiveSessions(7), 'veza_auth_sessions_active{}'],
    ['updateActiveUsers', (c) => c.service.updateActiveUsers(7), 'veza_active_users{}'],
    [
      'updateWebSocketConnections',
      (c) => c.service.updateWebSocketConnections(7),
      'veza_websocket_connections_active{}',
    ],
    [
      'updateDatabaseConnections',
      (c) => c.service.updateDatabaseConnections(7),
      'veza_database_connections_active{}',
    ],
    ['updateLiveStreams', (c) => c.service.updateLiveStreams(7), 'veza_live_streams_active{}'],
    [
      'updateLiveStreamViewers',
      (c) => c.service.updateLiveStreamViewers(7),
      'veza_live_stream_viewers_total{}',
    ],
  ])('%s sets its gauge', async (_name, call, key) => {
    expect(await effectOf(ctx, () => call(ctx))).toEqual({ [key]: 7 });
    // A gauge is set, not added to: the same call again changes nothing.
    expect(await effectOf(ctx, () => call(ctx))).toEqual({});
  });

  it.each<[string, (c: MetricsContext) => void, string]>([
    [
      'recordDatabaseError',
      (c) => c.service.recordDatabaseError('select', 'timeout'),
      'veza_database_query_errors_total{operation="select",error_type="timeout"}',
    ],
    [
      'recordRateLimitHit',
      (c) => c.service.recordRateLimitHit('/api/login', 'ip'),
      'veza_rate_limit_hits_total{endpoint="/api/login",limit_type="ip"}',
    ],
    [
      'recordWebSocketMessage',
      (c) => c.service.recordWebSocketMessage('chat', 'success'),
      'veza_websocket_messages_total{type="chat",status="success"}',
    ],
    [
      'recordError',
      (c) => c.service.recordError('DatabaseError', 'critical'),
      'veza_errors_total{type="DatabaseError",severity="critical"}',
    ],
    ['recordTrackUploaded', (c) => c.service.recordTrackUploaded(), 'veza_tracks_uploaded_total{}'],
    ['recordUserRegistered', (c) => c.service.recordUserRegistered(), 'veza_users_registered_total{}'],
    ['recordPlaylistCreated', (c) => c.service.recordPlaylistCreated(), 'veza_playlists_created_total{}'],
    [
      'recordUploadFailed',
      (c) => c.service.recordUploadFailed('ClamAV'),
      'veza_uploads_failed_total{reason="ClamAV"}',
    ],
    ['recordTransferRetry', (c) => c.service.recordTransferRetry(), 'veza_transfer_retry_total{}'],
    [
      'recordTransferRetrySuccess',
      (c) => c.service.recordTransferRetrySuccess(),
      'veza_transfer_retry_success_total{}',
    ],
    [
      'recordTransferRetryFailure',
      (c) => c.service.recordTransferRetryFailure(),
      'veza_transfer_retry_failures_total{}',
    ],
    [
      'recordTransferRetryPermanent',
      (c) => c.service.recordTransferRetryPermanent(),
      'veza_transfer_retry_permanent_failures_total{}',
    ],
    [
      'recordCommerceOrder',
      (c) => c.service.recordCommerceOrder('completed'),
      'veza_commerce_orders_total{status="completed"}',
    ],
    [
      'recordCacheHit',
      (c) => c.service.recordCacheHit('tracks'),
      'veza_cache_hits_total{subsystem="tracks"}',
    ],
    [
      'recordCacheMiss',
      (c) => c.service.recordCacheMiss('tracks'),
      'veza_cache_misses_total{subsystem="tracks"}',
    ],
  ])('%s adds exactly 1 to its counter', async (_name, call, key) => {
    expect(await effectOf(ctx, () => call(ctx))).toEqual({ [key]: 1 });
  });

  it('recordDatabaseQuery observes seconds in the query histogram', async () => {
    const effect = await effectOf(ctx, () => ctx.service.recordDatabaseQuery('select', 'tracks', 0.003));
    expect(effect['veza_database_query_duration_seconds_count{operation="select",table="tracks"}']).toBe(1);
    expect(effect['veza_database_query_duration_seconds_sum{operation="select",table="tracks"}']).toBe(0.003);
    expect(
      effect['veza_database_query_duration_seconds_bucket{le="0.001",operation="select",table="tracks"}'],
    ).toBeUndefined();
    expect(
      effect['veza_database_query_duration_seconds_bucket{le="0.005",operation="select",table="tracks"}'],
    ).toBe(1);
  });

  it('recordFileUpload counts the upload and observes its size in bytes', async () => {
    const effect = await effectOf(ctx, () => ctx.service.recordFileUpload('audio', 'success', 3000));
    expect(effect['veza_file_uploads_total{type="audio",status="success"}']).toBe(1);
    expect(effect['veza_file_upload_size_bytes_sum{type="audio"}']).toBe(3000);
    expect(effect['veza_file_upload_size_bytes_bucket{le="2048",type="audio"}']).toBeUndefined();
    expect(effect['veza_file_upload_size_bytes_bucket{le="4096",type="audio"}']).toBe(1);
  });

  it('recordCheckoutDuration observes seconds in the checkout histogram', async () => {
    const effect = await effectOf(ctx, () => ctx.service.recordCheckoutDuration(0.3));
    expect(effect['veza_commerce_checkout_duration_seconds_count{}']).toBe(1);
    expect(effect['veza_commerce_checkout_duration_seconds_bucket{le="0.25"}']).toBeUndefined();
    expect(effect['veza_commerce_checkout_duration_seconds_bucket{le="0.5"}']).toBe(1);
  });

  it.each([
    ['ok', 1],
    ['slow', 0.5],
    ['error', 0],
    ['anything else', 0],
    ['toString', 0],
    ['constructor', 0],
  ])(
    'recordHealthCheck with status %s observes milliseconds and sets the status to %d',
    async (status, value) => {
      ctx.service.recordHealthCheck('database', 12, status);
      const text = await ctx.render();
      expect(sampleValue(text, 'veza_health_check_duration_ms_sum', { service: 'database' })).toBe(12);
      expect(
        sampleValue(text, 'veza_health_check_duration_ms_bucket', { service: 'database', le: '10' }),
      ).toBe(0);
      expect(
        sampleValue(text, 'veza_health_check_duration_ms_bucket', { service: 'database', le: '25' }),
      ).toBe(1);
      expect(sampleValue(text, 'veza_health_check_status', { service: 'database' })).toBe(value);
    },
  );

  it('recordHealthCheck observes seconds under naming "strict", with the same boundaries ÷ 1000', async () => {
    const strict = await metricsContext({ defaultMetrics: false, naming: 'strict' });
    strict.service.recordHealthCheck('redis', 12, 'slow');
    strict.service.updateLiveStreamViewers(3);
    const text = await strict.render();
    expect(text).not.toContain('veza_health_check_duration_ms');
    expect(text).not.toContain('veza_live_stream_viewers_total');
    expect(sampleValue(text, 'veza_health_check_duration_seconds_sum', { service: 'redis' })).toBe(0.012);
    expect(
      sampleValue(text, 'veza_health_check_duration_seconds_bucket', { service: 'redis', le: '0.01' }),
    ).toBe(0);
    expect(
      sampleValue(text, 'veza_health_check_duration_seconds_bucket', { service: 'redis', le: '0.025' }),
    ).toBe(1);
    expect(sampleValue(text, 'veza_health_check_status', { service: 'redis' })).toBe(0.5);
    expect(sampleValue(text, 'veza_live_stream_viewers')).toBe(3);
    await strict.close();
  });

  it('never throws into the caller: a bad value is skipped and the next call still records', async () => {
    expect(() => ctx.service.recordFileUpload('audio', 'success', Number.NaN)).not.toThrow();
    expect(() => ctx.service.updateActiveUsers('many' as unknown as number)).not.toThrow();
    ctx.service.updateActiveUsers(4);
    expect(sampleValue(await ctx.render(), 'veza_active_users')).toBe(4);
  });
});
