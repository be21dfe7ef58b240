/**
 * Issue 3, point 3: `endpoint` is the route template the router matched (global prefix, module path,
 * URI versions), bounded; `@NoMetrics()` and `http.exclude` leave routes out, resolved at bootstrap to
 * exactly the templates the router registered.
 */
import { All, Controller, Get, Module, Post, Version, VERSION_NEUTRAL, VersioningType, type INestApplication } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { NoMetrics, VezaMetricsModule } from '../../src';
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
    VezaMetricsModule.forRoot({ defaultMetrics: false, statusLabel: 'code', http: { exclude: ['/api/v1/catalog/albums/covers/:id'] } }),
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
  { method: 'GET', path: '/api/v1/catalog/albums/7/tracks/9', endpoint: '/api/v1/catalog/albums/:albumId/tracks/:trackId', times: 1 },
  { method: 'GET', path: '/api/v1/catalog/albums/covers/3', endpoint: null, times: 1 }, // http.exclude
  { method: 'GET', path: '/api/v1/catalog/albums/artwork/3', endpoint: '/api/v1/catalog/albums/artwork/:id', times: 1 },
  { method: 'GET', path: '/api/v1/catalog/albums/stats', endpoint: null, times: 1 }, // @NoMetrics(), v1
  { method: 'GET', path: '/api/v2/catalog/albums/stats', endpoint: null, times: 1 }, // @NoMetrics(), v2
  { method: 'HEAD', path: '/api/v2/catalog/albums/stats', endpoint: null, times: 1 }, // HEAD answered by the GET handler
  { method: 'POST', path: '/api/v1/catalog/albums/stats', endpoint: '/api/v1/catalog/albums/stats', times: 1 }, // same template, other method
  { method: 'POST', path: '/api/v2/catalog/albums/stats', endpoint: '/api/v2/catalog/albums/stats', times: 1 },
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
      ROUTES.filter((r) => r.endpoint !== null).map((r) => [`${r.method} ${r.endpoint} ${r.method === 'POST' ? 201 : 200}`, 1]),
    );
    expect(samples(text, 'veza_http_requests_total', ['method', 'endpoint', 'status'])).toEqual(expected);
  });

  it('keeps `endpoint` bounded: 10,000 random unmatched requests add one series value, <unmatched>', async () => {
    const next = random(2024);
    const token = (): string => Math.floor(next() * 36 ** 8).toString(36);
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
    const scan: RequestCase = {
      method: 'GET',
      path: () => `/x${token()}/${token()}/${token()}?${token()}=${token()}`,
      endpoint: '<unmatched>',
      times: 1,
    };
    const requests = Array.from({ length: 10_000 }, (_, i) => ({
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
    expect(unmatched).toBe(10_000);
  }, 180_000);
});
