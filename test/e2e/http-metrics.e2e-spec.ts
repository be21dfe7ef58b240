/**
 * Issue 3, point 1 to 5 and 8, on Express and Fastify: a known mix of more than 1,000 requests
 * covering every kind of response, and /metrics must hold exactly what the client observed.
 */
import { APP_INTERCEPTOR } from '@nestjs/core';
import { ADAPTERS, scrape, type StartedApp } from '../utils/app';
import { httpAppMetadata, PassThroughInterceptor, startHttpApp } from './http-app.fixture';
import {
  heldRequests,
  expand,
  random,
  samples,
  sendAll,
  tally,
  type Observation,
  type RequestCase,
} from './http-client.fixture';

const pick = random(3);
const id = (): number => 1 + Math.floor(pick() * 10_000);
const word = (): string => Math.floor(pick() * 36 ** 6).toString(36);

/** The mix: 1,095 requests, every case of point 1 (each comment gives the status). */
const MIX: RequestCase[] = [
  { method: 'GET', path: () => `/api/v1/tracks/${id()}`, endpoint: '/api/v1/tracks/:id', times: 300 }, // 200
  {
    method: 'GET',
    path: (i) => `/api/v1/tracks/7?page=${i}&q=${word()}`,
    endpoint: '/api/v1/tracks/:id',
    times: 50,
  }, // 200, query ignored
  { method: 'GET', path: () => `/api/v1/tracks/${word()}x`, endpoint: '/api/v1/tracks/:id', times: 30 }, // 400 ParseIntPipe
  { method: 'HEAD', path: () => `/api/v1/tracks/${id()}`, endpoint: '/api/v1/tracks/:id', times: 20 }, // 200
  {
    method: 'POST',
    path: '/api/v1/tracks',
    endpoint: '/api/v1/tracks',
    times: 60,
    body: { title: 'Song', seconds: 180 },
  }, // 201
  {
    method: 'POST',
    path: '/api/v1/tracks',
    endpoint: '/api/v1/tracks',
    times: 40,
    body: { title: 3, seconds: -1 },
  }, // 400 ValidationPipe
  { method: 'DELETE', path: () => `/api/v1/tracks/${id()}`, endpoint: '/api/v1/tracks/:id', times: 40 }, // 204
  {
    method: 'GET',
    path: () => `/api/v1/tracks/${id()}/listen`,
    endpoint: '/api/v1/tracks/:id/listen',
    times: 30,
  }, // 302
  { method: 'GET', path: () => `/api/v2/tracks/${id()}`, endpoint: '/api/v2/tracks/:id', times: 30 }, // 200, version 2
  { method: 'GET', path: () => `/api/v1/tracks/${id()}/internal`, endpoint: null, times: 20 }, // 200, @NoMetrics() handler
  { method: 'GET', path: '/api/v1/errors/conflict', endpoint: '/api/v1/errors/conflict', times: 20 }, // 409 HttpException
  {
    method: 'GET',
    path: '/api/v1/errors/unavailable',
    endpoint: '/api/v1/errors/unavailable',
    times: 20,
    error: { type: 'ServiceUnavailableException', severity: 'error' },
  }, // 503
  {
    method: 'GET',
    path: '/api/v1/errors/plain',
    endpoint: '/api/v1/errors/plain',
    times: 20,
    error: { type: 'Error', severity: 'critical' },
  }, // 500
  {
    method: 'GET',
    path: '/api/v1/errors/store',
    endpoint: '/api/v1/errors/store',
    times: 20,
    error: { type: 'TrackStoreError', severity: 'critical' },
  }, // 500
  { method: 'GET', path: '/api/v1/errors/teapot', endpoint: '/api/v1/errors/teapot', times: 20 }, // 418 by a filter
  {
    method: 'GET',
    path: '/api/v1/errors/maintenance',
    endpoint: '/api/v1/errors/maintenance',
    times: 20,
    error: { type: 'MaintenanceError', severity: 'critical' },
  }, // 503 by a filter
  {
    method: 'GET',
    path: '/api/v1/errors/manual',
    endpoint: '/api/v1/errors/manual',
    times: 20,
    error: { type: '<none>', severity: 'error' },
  }, // 500 set by the handler
  { method: 'GET', path: '/api/v1/secure/private', endpoint: '/api/v1/secure/private', times: 30 }, // 401 guard
  {
    method: 'GET',
    path: '/api/v1/secure/private',
    endpoint: '/api/v1/secure/private',
    times: 20,
    headers: { 'x-token': 'ok' },
  }, // 200
  { method: 'GET', path: '/api/v1/secure/admin', endpoint: '/api/v1/secure/admin', times: 20 }, // 403 guard
  {
    method: 'GET',
    path: '/api/v1/limited/short',
    endpoint: '/api/v1/limited/short',
    times: 20,
    limitType: 'short',
  }, // 3 × 200, 17 × 429
  {
    method: 'GET',
    path: '/api/v1/limited/long',
    endpoint: '/api/v1/limited/long',
    times: 20,
    limitType: 'longTerm',
  }, // 5 × 200, 15 × 429
  {
    method: 'GET',
    path: '/api/v1/limited/default',
    endpoint: '/api/v1/limited/default',
    times: 10,
    limitType: 'default',
  }, // 2 × 200, 8 × 429
  { method: 'GET', path: '/api/v1/files/slow', endpoint: '/api/v1/files/slow', times: 10 }, // 200, StreamableFile over 125 ms
  {
    method: 'GET',
    path: '/api/v1/files/endless',
    endpoint: '/api/v1/files/endless',
    times: 5,
    abortAfterFirstChunk: true,
  }, // aborted mid-stream
  {
    method: 'GET',
    path: '/api/v1/files/wait/2000',
    endpoint: '/api/v1/files/wait/:ms',
    times: 5,
    abortWhenHeld: true,
  }, // aborted once the server holds it, before the answer
  {
    method: 'GET',
    path: () => `/api/v1/${word()}/${word()}?q=${word()}`,
    endpoint: '<unmatched>',
    times: 100,
  }, // 404
  { method: 'POST', path: () => `/${word()}`, endpoint: '<unmatched>', times: 20, body: {} }, // 404
  { method: 'GET', path: () => `/api/v3/tracks/${id()}`, endpoint: '<unmatched>', times: 10 }, // 404, unknown version
  { method: 'GET', path: '/api/ping', endpoint: '/api/ping', times: 20 }, // 200, version-neutral
  { method: 'GET', path: '/api/v1/health', endpoint: null, times: 20 }, // 200, @NoMetrics() controller
  { method: 'GET', path: '/api/v1/ignored', endpoint: null, times: 20 }, // 200, http.exclude
  { method: 'GET', path: '/metrics', endpoint: null, times: 5 }, // the metrics route itself
];

const TOTAL = MIX.reduce((n, c) => n + c.times, 0);
const statusClass = (status: number): string => `${Math.floor(status / 100)}xx`;

interface Variant {
  name: string;
  statusLabel: 'code' | 'class';
  interceptor: boolean;
}
const VARIANTS: Variant[] = [
  { name: 'status codes', statusLabel: 'code', interceptor: false },
  {
    name: "status classes, an application's interceptor attached globally",
    statusLabel: 'class',
    interceptor: true,
  },
];

describe.each(ADAPTERS)('HTTP metrics on %s', (adapter) => {
  describe.each(VARIANTS)('$name', (variant) => {
    let started: StartedApp;
    let observed: Observation[];
    let text: string;
    let afterAnswers: string;

    beforeAll(async () => {
      const providers = variant.interceptor
        ? [{ provide: APP_INTERCEPTOR, useClass: PassThroughInterceptor }]
        : [];
      started = await startHttpApp(adapter, httpAppMetadata({ statusLabel: variant.statusLabel }, providers));
      observed = await sendAll(started.url, expand(MIX, 11), 16);
      // The aborted requests' handlers are still held: what /metrics shows now, the abort recorded.
      text = await scrape(started.url);
      // Their handlers answer now, to nobody: that answer must not be counted a second time.
      await heldRequests.release();
      await new Promise((resolve) => setImmediate(resolve));
      afterAnswers = await scrape(started.url);
    }, 120_000);

    afterAll(async () => {
      await started?.app.close();
    }, 60_000);

    const label = (status: number): string =>
      variant.statusLabel === 'code' ? String(status) : statusClass(status);

    it(`sent ${TOTAL} requests, observed as the fixture expects`, () => {
      expect(TOTAL).toBeGreaterThanOrEqual(1000);
      expect(observed).toHaveLength(TOTAL);
      const statuses = tally(observed, (o) => `${o.method} ${o.endpoint} ${o.status}`);
      expect(statuses['GET /api/v1/limited/short 200']).toBe(3);
      expect(statuses['GET /api/v1/limited/short 429']).toBe(17);
      expect(statuses['GET /api/v1/limited/long 429']).toBe(15);
      expect(statuses['GET /api/v1/limited/default 429']).toBe(8);
      expect(statuses['GET /api/v1/errors/teapot 418']).toBe(20);
      expect(statuses['GET /api/v1/errors/maintenance 503']).toBe(20);
      expect(statuses['GET /api/v1/files/endless 499']).toBe(5);
      expect(statuses['GET /api/v1/files/wait/:ms 499']).toBe(5);
      expect(statuses['POST /api/v1/tracks 400']).toBe(40);
      expect(statuses['GET /api/v1/secure/private 401']).toBe(30);
      expect(statuses['GET /api/v1/secure/admin 403']).toBe(20);
      expect(statuses['GET /api/v1/tracks/:id/listen 302']).toBe(30);
      expect(statuses['DELETE /api/v1/tracks/:id 204']).toBe(40);
      expect(statuses['GET <unmatched> 404']).toBe(110);
    });

    it('counts every response once per (method, endpoint, status), exactly as the client observed it', () => {
      const expected = tally(observed, (o) =>
        o.endpoint === null ? undefined : `${o.method} ${o.endpoint} ${label(o.status)}`,
      );
      expect(samples(text, 'veza_http_requests_total', ['method', 'endpoint', 'status'])).toEqual(expected);
    });

    it('observes each response once: the histogram count of every (method, endpoint) equals its counter', () => {
      const expected = tally(observed, (o) =>
        o.endpoint === null ? undefined : `${o.method} ${o.endpoint}`,
      );
      expect(samples(text, 'veza_http_request_duration_seconds_count', ['method', 'endpoint'])).toEqual(
        expected,
      );
      const inf = samples(text, 'veza_http_request_duration_seconds_bucket', ['method', 'endpoint', 'le']);
      for (const [key, count] of Object.entries(expected)) expect(inf[`${key} +Inf`]).toBe(count);
    });

    it('times responses until their last byte, and aborted requests until the abort', () => {
      const sums = samples(text, 'veza_http_request_duration_seconds_sum', ['method', 'endpoint']);
      const buckets = samples(text, 'veza_http_request_duration_seconds_bucket', [
        'method',
        'endpoint',
        'le',
      ]);
      // 5 chunks 25 ms apart: no response of the slow stream can end before 0.1 s.
      expect(buckets['GET /api/v1/files/slow 0.1']).toBe(0);
      expect(sums['GET /api/v1/files/slow']).toBeGreaterThanOrEqual(10 * 0.125);
      // Ended by the abort, while their handlers were held (the scrape came before any answered),
      // and recorded once: not again when the handlers answered, to nobody.
      const durations = (exposition: string): number | undefined =>
        samples(exposition, 'veza_http_request_duration_seconds_count', ['method', 'endpoint'])[
          'GET /api/v1/files/wait/:ms'
        ];
      expect(durations(text)).toBe(5);
      expect(durations(afterAnswers)).toBe(5);
      const waits = (exposition: string): string[] =>
        exposition
          .split('\n')
          .filter((line) => line.includes('endpoint="/api/v1/files/wait/:ms"') && !line.startsWith('#'));
      expect(waits(afterAnswers)).toEqual(waits(text));
      for (const [key, sum] of Object.entries(sums)) expect([key, sum > 0]).toEqual([key, true]);
    });

    it('counts each response of 500 or more in veza_errors_total, by exception class and severity', () => {
      const expected = tally(observed, (o) => (o.error ? `${o.error.type} ${o.error.severity}` : undefined));
      expect(expected).toEqual({
        'ServiceUnavailableException error': 20,
        'Error critical': 20,
        'TrackStoreError critical': 20,
        'MaintenanceError critical': 20,
        '<none> error': 20,
      });
      expect(samples(text, 'veza_errors_total', ['type', 'severity'])).toEqual(expected);
    });

    it("counts each throttler 429 in veza_rate_limit_hits_total, by endpoint and the throttler's name", () => {
      const expected = tally(observed, (o) => (o.limitType ? `${o.endpoint} ${o.limitType}` : undefined));
      expect(expected).toEqual({
        '/api/v1/limited/short short': 17,
        '/api/v1/limited/long longTerm': 15,
        '/api/v1/limited/default default': 8,
      });
      expect(samples(text, 'veza_rate_limit_hits_total', ['endpoint', 'limit_type'])).toEqual(expected);
    });
  });
});
