/**
 * A real Prometheus (the Debian `prometheus` binary) scrapes the sample app every second; traffic goes
 * through the sample app's endpoints over HTTP; every assertion is PromQL through Prometheus' HTTP
 * query API. Counters are compared exactly, once a scrape that began after the traffic is stored.
 */
import type { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppModule } from '../../sample-app/src/app.module';
import { MAX_FAILED_LOGINS } from '../../sample-app/src/auth/login-throttle.service';
import { PaymentsSandbox } from '../../sample-app/src/payments/payments-sandbox';
import { SampleClient, uniqueEmail, uploadBody } from '../../scripts/sample-traffic';
import { ADAPTERS, scrape, startApp, type StartedApp } from '../utils/app';
import { parseExposition } from '../utils/exposition';
import { startPrometheus, type PrometheusServer, type VectorSample } from '../utils/prometheus';
import { findTool } from '../utils/tools';

jest.setTimeout(60_000);

const prometheusBinary = findTool('prometheus');
const describeWithPrometheus = prometheusBinary ? describe : describe.skip;

const JOB = 'veza-api';
/** veza_database_connections_active of the sample's one sql.js DataSource: sql.js has no pool. */
const SQLJS_CONNECTIONS = 0;
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/** `{labelValue: value}` of a vector grouped by one label. */
function byLabel(samples: VectorSample[], label: string): Record<string, number> {
  return Object.fromEntries(samples.map((s) => [s.metric[label] ?? '', s.value]));
}

/**
 * Prometheus' histogram_quantile over cumulative buckets (upper bound → count), computed here from
 * the app's own exposition: the rank's bucket, interpolated linearly (from 0 for the first bucket).
 */
function histogramQuantile(q: number, buckets: [number, number][]): number {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const rank = q * sorted[sorted.length - 1][1];
  const i = sorted.findIndex(([, count]) => count >= rank);
  if (sorted[i][0] === Infinity) return sorted[sorted.length - 2][0];
  const [start, below] = i === 0 ? [0, 0] : sorted[i - 1];
  const [end, count] = sorted[i];
  return start + (end - start) * ((rank - below) / (count - below));
}

describeWithPrometheus.each(ADAPTERS)('a real Prometheus scraping the sample app on %s', (kind) => {
  let started: StartedApp;
  let app: INestApplication;
  let prometheus: PrometheusServer;
  let client: SampleClient;
  let instance: string;

  beforeAll(async () => {
    started = await startApp(kind, { imports: [AppModule] });
    app = started.app;
    client = new SampleClient(started.url);
    instance = new URL(started.url).host;
    prometheus = await startPrometheus({ binary: prometheusBinary, targets: [instance], job: JOB });
    await prometheus.waitFor(`up{job="${JOB}"}`, (s) => s.length === 1 && s[0].value === 1, 20_000);
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await app?.close();
  });

  /** The value of a query that answers one sample, or 0 when it answers none (a series not created yet). */
  async function valueOr0(promql: string): Promise<number> {
    const samples = await prometheus.vector(promql);
    if (samples.length > 1) throw new Error(`${promql} answered ${samples.length} samples`);
    return samples[0]?.value ?? 0;
  }

  it('scrapes the app: the target is up, with the job, instance and default labels', async () => {
    expect(await prometheus.targetsUp()).toBe(true);
    const [target] = await prometheus.targets();
    expect(target.scrapeUrl).toBe(`${started.url}/metrics`);
    const up = await prometheus.vector('veza_database_connections_active');
    expect(up).toEqual([
      expect.objectContaining({
        metric: { __name__: 'veza_database_connections_active', job: JOB, instance, service: 'veza-api' },
        value: SQLJS_CONNECTIONS,
      }),
    ]);
  });

  it('counts requests by endpoint and status exactly as they were sent', async () => {
    const user = await client.signUp();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const track = await client.expect(
        201,
        'POST',
        '/tracks',
        { title: `Track ${i}`, artist: 'Veza', durationSeconds: 180 },
        user.token,
      );
      ids.push((track.body as { id: string }).id);
    }
    const query = `sum by (endpoint, status) (veza_http_requests_total{job="${JOB}", endpoint="/tracks/:id"})`;
    await prometheus.scrapedAfterNow();
    const before = byLabel(await prometheus.vector(query), 'status');

    for (const id of ids) for (let i = 0; i < 2; i++) await client.expect(200, 'GET', `/tracks/${id}`);
    for (let i = 0; i < 4; i++) await client.expect(404, 'GET', `/tracks/${randomUUID()}`);
    await client.expect(404, 'GET', `/no/such/route/${randomUUID()}`);
    await prometheus.scrapedAfterNow();

    const after = byLabel(await prometheus.vector(query), 'status');
    expect({
      '2xx': after['2xx'] - (before['2xx'] ?? 0),
      '4xx': after['4xx'] - (before['4xx'] ?? 0),
    }).toEqual({ '2xx': 6, '4xx': 4 });
    // The route template, never the raw URL: no series per track id; unknown URLs share one endpoint.
    const endpoints = await prometheus.vector(`count by (endpoint) (veza_http_requests_total{job="${JOB}"})`);
    expect(endpoints.map((s) => s.metric.endpoint)).not.toContain(`/tracks/${ids[0]}`);
    expect(endpoints.map((s) => s.metric.endpoint)).toContain('<unmatched>');
    expect(
      await prometheus.value(
        `sum(veza_http_requests_total{job="${JOB}", method="POST", endpoint="/tracks", status="2xx"})`,
      ),
    ).toBe(3);
    // Prometheus holds what the app exposes: the same count, read from /metrics directly.
    const direct = parseExposition(await scrape(started.url))
      .get('veza_http_requests_total')!
      .samples.filter((s) => s.labels.endpoint === '/tracks/:id')
      .reduce((sum, s) => sum + s.value, 0);
    expect(
      await prometheus.value(`sum(veza_http_requests_total{job="${JOB}", endpoint="/tracks/:id"})`),
    ).toBe(direct);
  });

  it('computes latency quantiles from the histogram: exact over the stored buckets, finite and in range over a rate', async () => {
    const user = await client.signUp();
    const track = await client.expect(
      201,
      'POST',
      '/tracks',
      { title: 'Timed', artist: 'Veza', durationSeconds: 60 },
      user.token,
    );
    const path = `/tracks/${(track.body as { id: string }).id}`;
    // Two bursts a scrape apart, so that rate() over the buckets sees an increase.
    for (let burst = 0; burst < 2; burst++) {
      for (let i = 0; i < 20; i++) await client.expect(200, 'GET', path);
      await prometheus.scrapedAfterNow();
    }

    const selector = `{job="${JOB}", method="GET", endpoint="/tracks/:id"}`;
    const stored = await prometheus.vector(`veza_http_request_duration_seconds_bucket${selector}`);
    const buckets = stored.map((s): [number, number] => [
      s.metric.le === '+Inf' ? Infinity : Number(s.metric.le),
      s.value,
    ]);
    expect(buckets.map(([le]) => le).sort((a, b) => a - b)).toEqual([...HTTP_BUCKETS, Infinity]);
    // The stored buckets are the app's own.
    const exposed = parseExposition(await scrape(started.url))
      .get('veza_http_request_duration_seconds')!
      .samples.filter(
        (s) => s.name.endsWith('_bucket') && s.labels.endpoint === '/tracks/:id' && s.labels.method === 'GET',
      );
    expect(Object.fromEntries(buckets)).toEqual(
      Object.fromEntries(
        exposed.map((s) => [Number(s.labels.le === '+Inf' ? Infinity : s.labels.le), s.value]),
      ),
    );

    for (const q of [0.5, 0.95, 0.99]) {
      const median = await prometheus.value(
        `histogram_quantile(${q}, sum by (le) (veza_http_request_duration_seconds_bucket${selector}))`,
      );
      expect(median).toBeCloseTo(histogramQuantile(q, buckets), 12);
    }
    const p50 = await prometheus.value(
      `histogram_quantile(0.5, sum by (le) (rate(veza_http_request_duration_seconds_bucket${selector}[1m])))`,
    );
    expect(Number.isFinite(p50)).toBe(true);
    // In-process requests over loopback: well under the largest finite bucket, above zero.
    expect(p50).toBeGreaterThan(0);
    expect(p50).toBeLessThanOrEqual(HTTP_BUCKETS[HTTP_BUCKETS.length - 1]);
    const count = await prometheus.value(`sum(veza_http_request_duration_seconds_count${selector})`);
    expect(count).toBe(await prometheus.value(`sum(veza_http_requests_total${selector})`));
  });

  it('counts failed logins, and the rate limit refusing a brute force', async () => {
    const failures = `sum(veza_auth_login_attempts_total{job="${JOB}", success="failure"})`;
    const successes = `sum(veza_auth_login_attempts_total{job="${JOB}", success="success"})`;
    const limited = `sum(veza_rate_limit_hits_total{job="${JOB}", endpoint="/auth/login", limit_type="failed_logins"})`;
    await prometheus.scrapedAfterNow();
    const before = {
      failures: await valueOr0(failures),
      successes: await valueOr0(successes),
      limited: await valueOr0(limited),
    };

    const victim = await client.signUp(); // +1 success
    for (let i = 0; i < 3; i++)
      await client.expect(401, 'POST', '/auth/login', { email: uniqueEmail('nobody'), password: 'guess' });
    for (let i = 0; i < MAX_FAILED_LOGINS; i++)
      await client.expect(401, 'POST', '/auth/login', { email: victim.email, password: 'wrong' });
    // Refused by the throttle before any password check: a rate limit hit, not a login attempt.
    await client.expect(429, 'POST', '/auth/login', { email: victim.email, password: victim.password });
    await client.expect(429, 'POST', '/auth/login', { email: victim.email, password: 'wrong' });
    await prometheus.scrapedAfterNow();

    expect(await valueOr0(failures)).toBe(before.failures + 3 + MAX_FAILED_LOGINS);
    expect(await valueOr0(successes)).toBe(before.successes + 1);
    expect(await valueOr0(limited)).toBe(before.limited + 2);
    expect(
      await valueOr0(`sum(veza_http_requests_total{job="${JOB}", endpoint="/auth/login", status="4xx"})`),
    ).toBeGreaterThanOrEqual(3 + MAX_FAILED_LOGINS + 2);
  });

  it('sums upload bytes and counts refused uploads by reason', async () => {
    const bytesOf = (type: string): string =>
      `sum(veza_file_upload_size_bytes_sum{job="${JOB}", type="${type}"})`;
    const countOf = (type: string, status: string): string =>
      `sum(veza_file_uploads_total{job="${JOB}", type="${type}", status="${status}"})`;
    await prometheus.scrapedAfterNow();
    const before = {
      audio: await valueOr0(bytesOf('audio')),
      image: await valueOr0(bytesOf('image')),
      audioOk: await valueOr0(countOf('audio', 'success')),
      failedOther: await valueOr0(countOf('other', 'failure')),
      validation: await valueOr0(`sum(veza_uploads_failed_total{job="${JOB}", reason="validation"})`),
    };

    const user = await client.signUp();
    for (const bytes of [1000, 2500, 7000])
      await client.expect(201, 'POST', '/uploads', uploadBody(bytes), user.token);
    await client.expect(201, 'POST', '/uploads', uploadBody(4096, 'image/png'), user.token);
    await client.expect(400, 'POST', '/uploads', uploadBody(10, 'application/pdf'), user.token);
    await prometheus.scrapedAfterNow();

    expect(await valueOr0(bytesOf('audio'))).toBe(before.audio + 1000 + 2500 + 7000);
    expect(await valueOr0(bytesOf('image'))).toBe(before.image + 4096);
    expect(await valueOr0(countOf('audio', 'success'))).toBe(before.audioOk + 3);
    expect(await valueOr0(countOf('other', 'failure'))).toBe(before.failedOther + 1);
    expect(await valueOr0(`sum(veza_uploads_failed_total{job="${JOB}", reason="validation"})`)).toBe(
      before.validation + 1,
    );
    // 7000 bytes: counted in the 8 KiB bucket and above, not in the 4 KiB one.
    const le = (bound: string): string =>
      `sum(veza_file_upload_size_bytes_bucket{job="${JOB}", type="audio", le="${bound}"})`;
    expect((await valueOr0(le('8192'))) - (await valueOr0(le('4096')))).toBeGreaterThanOrEqual(1);
  });

  it('reports the health status of each dependency: 1 while it answers, 0 while it is down', async () => {
    const status = `veza_health_check_status{job="${JOB}"}`;
    const health5xx = `sum(veza_http_requests_total{job="${JOB}", endpoint="/health", status="5xx"})`;
    await client.expect(200, 'GET', '/health');
    await prometheus.scrapedAfterNow();
    expect(byLabel(await prometheus.vector(status), 'service')).toEqual({ database: 1, payments: 1 });
    const errorsBefore = await valueOr0(health5xx);

    // The payment provider's status page reports it down: its terminus check fails, /health answers 503.
    const payments = app.get(PaymentsSandbox, { strict: false });
    payments.healthy = false;
    try {
      await client.expect(503, 'GET', '/health');
      await client.expect(503, 'GET', '/health');
      await prometheus.scrapedAfterNow();
      expect(byLabel(await prometheus.vector(status), 'service')).toEqual({ database: 1, payments: 0 });
      expect(await valueOr0(health5xx)).toBe(errorsBefore + 2);
      expect(await prometheus.vector(`veza_health_check_status{job="${JOB}"} == 0`)).toEqual([
        expect.objectContaining({ metric: expect.objectContaining({ service: 'payments', instance }) }),
      ]);
    } finally {
      payments.healthy = true;
    }

    await client.expect(200, 'GET', '/health');
    await prometheus.scrapedAfterNow();
    expect(byLabel(await prometheus.vector(status), 'service')).toEqual({ database: 1, payments: 1 });
    // The health check durations are observed in milliseconds (seed naming), one per check.
    const checks = await prometheus.vector(
      `sum by (service) (veza_health_check_duration_ms_count{job="${JOB}"})`,
    );
    expect(byLabel(checks, 'service')).toEqual({ database: 4, payments: 4 });
  });
});
