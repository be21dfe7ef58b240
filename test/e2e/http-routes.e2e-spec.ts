/**
 * Issue 3, point 3: `endpoint` is the route template the router matched (global prefix, module path,
 * URI versions), bounded; `@NoMetrics()` and `http.exclude` leave routes out, resolved at bootstrap to
 * exactly the templates the router registered.
 */
import {
  All,
  Controller,
  Get,
  Module,
  Post,
  Version,
  VERSION_NEUTRAL,
  VersioningType,
  type INestApplication,
} from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { METHODS } from 'node:http';
import { NoMetrics, OTHER_METHOD, UNMATCHED_ENDPOINT, VezaMetricsModule } from '../../src';
import { parseExposition } from '../utils/exposition';
import { rawRequest } from '../utils/raw-http';
import { ADAPTERS, scrape } from '../utils/app';
import { startHttpApp } from './http-app.fixture';
import { random, samples, sendAll, type RequestCase } from './http-client.fixture';

@Controller('albums')
class AlbumsController {
  @Get(':albumId/tracks/:trackId')
  track(): string {
    return 'track';
  }

  @Get(['covers/:id', 'artwork/:id'])
  cover(): string {
    return 'cover';
  }

  @Get('stats')
  @Version(['1', '2'])
  @NoMetrics()
  stats(): string {
    return 'stats';
  }

  @Post('stats')
  @Version(['1', '2'])
  postStats(): string {
    return 'posted';
  }

  @All('any')
  @NoMetrics()
  any(): string {
    return 'any';
  }

  @Get('neutral')
  @Version(VERSION_NEUTRAL)
  neutral(): string {
    return 'neutral';
  }
}

@Controller('admin')
@NoMetrics()
class AdminController {
  @Get('users')
  users(): string {
    return 'users';
  }

  @Post('users')
  create(): string {
    return 'created';
  }
}

@Controller({ path: 'health', version: VERSION_NEUTRAL })
class HealthController {
  @Get()
  @NoMetrics()
  check(): string {
    return 'ok';
  }

  @Get('details')
  details(): string {
    return 'details';
  }
}

@Module({ controllers: [AlbumsController, AdminController] })
class CatalogModule {}

@Module({
  imports: [
    VezaMetricsModule.forRoot({
      defaultMetrics: false,
      statusLabel: 'code',
      http: { exclude: ['/api/v1/catalog/albums/covers/:id'] },
    }),
    CatalogModule,
    RouterModule.register([{ path: 'catalog', module: CatalogModule }]),
  ],
  controllers: [HealthController],
})
class RoutesAppModule {}

function setUp(app: INestApplication): void {
  app.setGlobalPrefix('api', { exclude: ['health', 'health/details'] });
  app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
}

/** Every route once, with the template it must be recorded under (`null`: not recorded). */
const ROUTES: RequestCase[] = [
  {
    method: 'GET',
    path: '/api/v1/catalog/albums/7/tracks/9',
    endpoint: '/api/v1/catalog/albums/:albumId/tracks/:trackId',
    times: 1,
  },
  { method: 'GET', path: '/api/v1/catalog/albums/covers/3', endpoint: null, times: 1 }, // http.exclude
  {
    method: 'GET',
    path: '/api/v1/catalog/albums/artwork/3',
    endpoint: '/api/v1/catalog/albums/artwork/:id',
    times: 1,
  },
  { method: 'GET', path: '/api/v1/catalog/albums/stats', endpoint: null, times: 1 }, // @NoMetrics(), v1
  { method: 'GET', path: '/api/v2/catalog/albums/stats', endpoint: null, times: 1 }, // @NoMetrics(), v2
  { method: 'HEAD', path: '/api/v2/catalog/albums/stats', endpoint: null, times: 1 }, // HEAD answered by the GET handler
  {
    method: 'POST',
    path: '/api/v1/catalog/albums/stats',
    endpoint: '/api/v1/catalog/albums/stats',
    times: 1,
  }, // same template, other method
  {
    method: 'POST',
    path: '/api/v2/catalog/albums/stats',
    endpoint: '/api/v2/catalog/albums/stats',
    times: 1,
  },
  { method: 'PUT', path: '/api/v1/catalog/albums/any', endpoint: null, times: 1 }, // @All() + @NoMetrics()
  { method: 'GET', path: '/api/catalog/albums/neutral', endpoint: '/api/catalog/albums/neutral', times: 1 },
  { method: 'GET', path: '/api/v1/catalog/admin/users', endpoint: null, times: 1 }, // @NoMetrics() controller
  { method: 'POST', path: '/api/v1/catalog/admin/users', endpoint: null, times: 1 },
  { method: 'GET', path: '/health', endpoint: null, times: 1 }, // excluded from the prefix, @NoMetrics()
  { method: 'GET', path: '/health/details', endpoint: '/health/details', times: 1 },
];

describe.each(ADAPTERS)('route templates on %s', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startHttpApp(adapter, { imports: [RoutesAppModule] }, setUp));
  }, 60_000);

  afterAll(async () => {
    await app?.close();
  });

  it('records each route under the template the router matched, and leaves out exactly the excluded ones', async () => {
    const observed = await sendAll(
      url,
      ROUTES.map((spec) => ({ spec, i: 0 })),
      1,
    );
    expect(observed.map((o) => o.status)).toEqual(ROUTES.map((r) => (r.method === 'POST' ? 201 : 200)));
    const text = await scrape(url);
    const expected = Object.fromEntries(
      ROUTES.filter((r) => r.endpoint !== null).map((r) => [
        `${r.method} ${r.endpoint} ${r.method === 'POST' ? 201 : 200}`,
        1,
      ]),
    );
    expect(samples(text, 'veza_http_requests_total', ['method', 'endpoint', 'status'])).toEqual(expected);
  });

  // 1,000 distinct paths prove the bound as 10,000 did (`npm run bench:scrape` sends 100,000).
  it('keeps `endpoint` bounded: 1,000 random unmatched requests add one series value, <unmatched>', async () => {
    const next = random(2024);
    const token = (): string => Math.floor(next() * 36 ** 8).toString(36);
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
    const scan: RequestCase = {
      method: 'GET',
      path: () => `/x${token()}/${token()}/${token()}?${token()}=${token()}`,
      endpoint: '<unmatched>',
      times: 1,
    };
    const requests = Array.from({ length: 1_000 }, (_, i) => ({
      spec: { ...scan, method: methods[Math.floor(next() * methods.length)] },
      i,
    }));
    const observed = await sendAll(url, requests, 32);
    expect(observed.filter((o) => o.status !== 404)).toEqual([]);

    const text = await scrape(url);
    const endpoints = new Set(Object.keys(samples(text, 'veza_http_requests_total', ['endpoint'])));
    const routes = new Set(ROUTES.flatMap((r) => (r.endpoint === null ? [] : [r.endpoint])));
    expect(endpoints.size).toBe(routes.size + 1);
    expect([...endpoints].sort()).toEqual([...routes, '<unmatched>'].sort());
    const unmatched = samples(text, 'veza_http_requests_total', ['endpoint', 'status'])['<unmatched> 404'];
    expect(unmatched).toBe(1_000);
  }, 180_000);

  // Issue 5, point 1, at test scale (`npm run bench:scrape` runs it with 100,000 requests each and measures the heap).
  it('lets no raw path, query, id or header into the exposition, and keeps every HTTP metric bounded, under hostile traffic', async () => {
    const next = random(5);
    const secret = (): string => `leak${Math.floor(next() * 36 ** 8).toString(36)}`;
    const secrets: string[] = [];
    const requests: Array<{ method: string; path: string; headers: Record<string, string> }> = [];
    for (let i = 0; i < 1500; i++) {
      const [a, b, c] = [secret(), secret(), secret()];
      secrets.push(a, b, c);
      requests.push({
        method: 'GET',
        path: `/${a}/x?token=${b}`,
        headers: { 'X-Api-Key': c, 'User-Agent': c },
      });
      const id = secret();
      secrets.push(id);
      requests.push({
        method: 'GET',
        path: `/api/v1/catalog/albums/${id}/tracks/${id}?q=${id}`,
        headers: {},
      });
    }
    const methods = METHODS.filter((m) => m !== 'CONNECT');
    for (const method of methods)
      requests.push({ method, path: '/api/v1/catalog/albums/stats', headers: {} });
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (sent < requests.length) {
        const r = requests[sent++];
        await rawRequest(url, r.path, { method: r.method, headers: r.headers });
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));

    const text = await scrape(url);
    expect(secrets.filter((s) => text.includes(s))).toEqual([]);
    const counted = samples(text, 'veza_http_requests_total', ['method', 'endpoint']);
    const routes = new Set(ROUTES.flatMap((r) => (r.endpoint === null ? [] : [r.endpoint])));
    for (const key of Object.keys(counted)) {
      const [method, endpoint] = key.split(' ');
      expect([...METHODS, OTHER_METHOD]).toContain(method);
      expect([...routes, UNMATCHED_ENDPOINT]).toContain(endpoint);
    }
    expect(counted[`GET ${UNMATCHED_ENDPOINT}`]).toBeGreaterThanOrEqual(1500);
    expect(counted['GET /api/v1/catalog/albums/:albumId/tracks/:trackId']).toBeGreaterThanOrEqual(1500);
    // Every method Node accepts reached the stats route (or, for methods it has no handler for, <unmatched>).
    const statsMethods = Object.keys(counted).filter(
      (k) => k.endsWith(' /api/v1/catalog/albums/stats') || k.endsWith(` ${UNMATCHED_ENDPOINT}`),
    );
    expect(new Set(statsMethods.map((k) => k.split(' ')[0])).size).toBeGreaterThan(10);
    const families = parseExposition(text);
    for (const name of ['veza_http_requests_total', 'veza_http_request_duration_seconds']) {
      const series = new Set(
        families.get(name)?.samples.map((x) => JSON.stringify({ ...x.labels, le: undefined })),
      );
      expect(series.size).toBeLessThanOrEqual(2001);
    }
  }, 180_000);
});
