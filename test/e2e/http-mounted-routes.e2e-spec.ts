/**
 * Issue 21, items 10 and 11 (Express route templates), over real HTTP.
 *
 * 10. A body the parser refuses (400 for bad JSON, 413 for 2 MB) takes the route its method and
 *     path match: `POST /graphql` on a real Apollo server (Express: a mount, Fastify: a route) and a
 *     REST `POST /tracks`; both adapters record the same lines. A path no route matches stays
 *     `<unmatched>`.
 * 11. A route of an Express Router mounted through `MiddlewareConsumer.apply(router).forRoutes(path)`
 *     (how `@bull-board/nestjs` mounts its UI), through `app.use(path, router)`, nested routers, a
 *     mount path with parameters and a global prefix: the template is the mount's path and the
 *     route's, `/queues/api/queues/:queueName/:jobId`, never the route's own path alone
 *     (`/api/queues/:queueName/:jobId`, a path the application does not serve, and here a real route
 *     of another controller). Unknown paths under a mount stay `<unmatched>`; labels stay bounded.
 */
import {
  Body,
  Controller,
  Get,
  Module,
  Post,
  type DynamicModule,
  type INestApplication,
  type MiddlewareConsumer,
  type NestModule,
} from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { VezaMetricsModule } from '../../src';
import { scrape, startApp } from '../utils/app';
import { rawRequest } from '../utils/raw-http';
import { gql, startGraphqlApp } from './graphql-app.fixture';
import { samples } from './http-client.fixture';

jest.setTimeout(120_000);

const express4 =
  Number(
    (
      JSON.parse(readFileSync(join(dirname(require.resolve('express')), 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version.split('.')[0],
  ) < 5;

@Controller('tracks')
class TracksController {
  @Post()
  create(@Body() body: unknown): unknown {
    return body;
  }

  @Get(':id')
  one(): { id: number } {
    return { id: 1 };
  }
}

/** A real route of the application at the path bull-board's API answers at under its mount. */
@Controller('api/queues')
class ApiQueuesController {
  @Get()
  list(): string[] {
    return ['real'];
  }
}

const metrics = (): DynamicModule =>
  VezaMetricsModule.forRoot({ defaultMetrics: false, statusLabel: 'code' });

/** POSTs `body` over a connection of its own (after a 413 the server may close it); the status. */
function post(url: string, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = request(
      {
        host: hostname,
        port: Number(port),
        path,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'apollo-require-preflight': 'true',
          'content-length': Buffer.byteLength(body),
        },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `veza_http_requests_total` as `METHOD endpoint status` → count. */
async function counts(url: string): Promise<Record<string, number>> {
  return samples(await scrape(url), 'veza_http_requests_total', ['method', 'endpoint', 'status']);
}

/** The lines that changed between two `counts`, as increments. */
function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after).flatMap(([k, v]) => (v === before[k] ? [] : [[k, v - (before[k] ?? 0)]])),
  );
}

const BAD_JSON = '{"query":';
const BIG = JSON.stringify({ query: '{ tracks { id } }', pad: 'x'.repeat(2 * 1024 * 1024) });

describe.each(['apollo-express', 'apollo-fastify'] as const)(
  'item 10: bodies the parser refuses, on %s',
  (driver) => {
    let app: INestApplication;
    let url: string;

    beforeAll(async () => {
      @Module({ controllers: [TracksController] })
      class RestModule {}
      ({ app, url } = await startGraphqlApp(driver, 'code-first', [metrics(), { module: RestModule }]));
    });
    afterAll(async () => {
      await app?.close();
    });

    it('records POST /graphql and POST /tracks refused by the parser (400, 413) under their routes, an unknown path as <unmatched>', async () => {
      const before = await counts(url);
      expect((await gql(url, '{ tracks { id } }')).status).toBe(200);
      expect(await post(url, '/graphql', BAD_JSON)).toBe(400);
      expect(await post(url, '/graphql', BIG)).toBe(413);
      expect(await post(url, '/graphql?op=x', BAD_JSON)).toBe(400);
      expect(await post(url, '/tracks', BAD_JSON)).toBe(400);
      expect(await post(url, '/tracks', BIG)).toBe(413);
      expect(await post(url, '/nope/7', BAD_JSON)).toBe(400);
      expect(delta(before, await counts(url))).toEqual({
        'POST /graphql 200': 1,
        'POST /graphql 400': 2,
        'POST /graphql 413': 1,
        'POST /tracks 400': 1,
        'POST /tracks 413': 1,
        'POST <unmatched> 400': 1,
      });
    });
  },
);

type Req = { params: Record<string, string>; baseUrl: string };
type Res = { json(body: unknown): void; status(code: number): Res };
type Next = (err?: unknown) => void;
type RouterLike = ((req: unknown, res: unknown, next: Next) => void) & {
  get(path: string, h: (req: Req, res: Res, next: Next) => void): RouterLike;
  put(path: string, h: (req: Req, res: Res, next: Next) => void): RouterLike;
  post(path: string, h: (req: Req, res: Res, next: Next) => void): RouterLike;
  use(path: string, r: RouterLike): RouterLike;
};
const express = jest.requireActual<{
  Router(options?: { mergeParams?: boolean }): RouterLike;
  json(): RouterLike;
}>('express');
const answer = (req: Req, res: Res): void => res.json({ params: req.params });

/** bull-board's router, emulated: its UI, its API with parameters, static files in a nested router, a failing route. */
function queuesRouter(): RouterLike {
  const statics = express.Router().get('/:file', answer);
  return express
    .Router()
    .get('/', answer)
    .get('/api/queues', answer)
    .get('/api/queues/:queueName/:jobId', answer)
    .put('/api/queues/:queueName/pause', answer)
    .get('/api/broken', (_req, _res, next) => next(new Error('broken')))
    .use('/static', statics);
}

/** An admin router with a nested router, mounted by the application with `app.use('/admin', …)`. */
function adminRouter(): RouterLike {
  const users = express
    .Router()
    .get('/:id', answer)
    .post('/:id/avatar', answer)
    .get('/:id/broken', (_req, _res, next) => next(new Error('broken')));
  return express.Router().get('/health', answer).use('/users', users);
}

/** A router for a mount path with a parameter. */
function scopedRouter(): RouterLike {
  return express.Router({ mergeParams: true }).get('/items/:id', answer);
}

@Module({ imports: [metrics()], controllers: [TracksController, ApiQueuesController] })
class QueuesModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(queuesRouter()).forRoutes('/queues');
    consumer.apply(scopedRouter()).forRoutes('/orgs/:org');
  }
}

async function startQueues(prefix?: string): Promise<{ app: INestApplication; url: string }> {
  return startApp('express', { imports: [QueuesModule] }, (a) => {
    if (prefix !== undefined) a.setGlobalPrefix(prefix);
    const instance = a.getHttpAdapter().getInstance() as {
      use(path: string, r: RouterLike): void;
      use(r: RouterLike): void;
    };
    // Mounted here, before Nest's own parsers: the application parses JSON itself, `app.use(json())`.
    instance.use(express.json());
    instance.use('/admin', adminRouter());
    // A handler mounted on a path that fails: Nest's exception layer answers, the mount path reset.
    instance.use('/hooks', ((_req: Req, _res: Res, next: Next) =>
      next(new Error('hook'))) as unknown as RouterLike);
    instance.use('/tenants/:tenant', scopedRouter());
  });
}

describe('item 11: routes of routers mounted on a path, on express', () => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startQueues());
  });
  afterAll(async () => {
    await app?.close();
  });

  it('records a route of a router applied with MiddlewareConsumer.forRoutes(path) under the mount path and its own', async () => {
    const before = await counts(url);
    const get = async (path: string, status = 200): Promise<void> =>
      expect({ path, status: (await rawRequest(url, path)).status }).toEqual({ path, status });
    await get('/queues');
    await get('/queues/');
    await get('/queues/api/queues');
    await get('/QUEUES/api/queues?page=2');
    await get('/queues/api/queues/mail/42');
    await get('/queues/api/queues/report%2Fdaily/7');
    expect((await rawRequest(url, '/queues/api/queues/mail/pause', { method: 'PUT' })).status).toBe(200);
    // The application's own route at the path the router's route has relative to its mount.
    await get('/api/queues');
    // A router inside the router Nest wraps cannot be read: its mount's path.
    await get('/queues/static/app.js');
    await get('/queues/api/broken', 500);
    expect(delta(before, await counts(url))).toEqual({
      'GET /queues 200': 3,
      'GET /queues/api/queues 200': 2,
      'GET /queues/api/queues/:queueName/:jobId 200': 2,
      'PUT /queues/api/queues/:queueName/pause 200': 1,
      'GET /api/queues 200': 1,
      'GET /queues 500': 1,
    });
  });

  it('records routes of routers mounted with app.use(path, router), nested routers and mount paths with parameters', async () => {
    const before = await counts(url);
    for (const path of [
      '/admin/health',
      '/admin/users/7',
      '/Admin/Users/8',
      '/tenants/acme/items/3',
      '/orgs/o1/items/4',
    ])
      expect({ path, status: (await rawRequest(url, path)).status }).toEqual({ path, status: 200 });
    expect((await rawRequest(url, '/admin/users/7/broken')).status).toBe(500);
    expect((await rawRequest(url, '/hooks/github', { method: 'POST' })).status).toBe(500);
    // Express 4 keeps no path for a mount with parameters (E2): no template, `<unmatched>`.
    const scoped = (template: string): string => (express4 ? '<unmatched>' : template);
    const expected: Record<string, number> = {
      'GET /admin/health 200': 1,
      'GET /admin/users/:id 200': 2,
      'GET /admin/users/:id/broken 500': 1,
      'POST /hooks 500': 1,
    };
    for (const key of [
      `GET ${scoped('/tenants/:tenant/items/:id')} 200`,
      `GET ${scoped('/orgs/:org/items/:id')} 200`,
    ])
      expected[key] = (expected[key] ?? 0) + 1;
    expect(delta(before, await counts(url))).toEqual(expected);
  });

  it('records a body the parser refuses before a mounted router under the route or mount its path matches', async () => {
    const before = await counts(url);
    expect(await post(url, '/admin/users/7/avatar', BAD_JSON)).toBe(400);
    expect(await post(url, '/queues/api/queues/mail/42', BAD_JSON)).toBe(400);
    expect(await post(url, '/tracks', BAD_JSON)).toBe(400);
    expect(delta(before, await counts(url))).toEqual({
      'POST /admin/users/:id/avatar 400': 1,
      // The router behind Nest's wrapper cannot be read: its mount's path.
      'POST /queues 400': 1,
      'POST /tracks 400': 1,
    });
  });

  it('keeps paths under a mount that no route matches <unmatched>, and long paths bounded', async () => {
    const before = await counts(url);
    const long = 'q'.repeat(8_000);
    for (let i = 0; i < 50; i++) {
      expect((await rawRequest(url, `/queues/nope-${i}/${i}`)).status).toBe(404);
      expect((await rawRequest(url, `/admin/users/${i}/x/${i}`)).status).toBe(404);
    }
    expect((await rawRequest(url, `/queues/api/queues/${long}/1`)).status).toBe(200);
    expect((await rawRequest(url, `/queues/${long}`)).status).toBe(404);
    expect((await rawRequest(url, `/admin/${long}/users/1`)).status).toBe(404);
    // Bodies refused on their way to random paths: under a router that can be read, nothing matches;
    // behind Nest's wrapper, the mount's path. One series each, whatever the path.
    for (let i = 0; i < 20; i++) {
      expect(await post(url, `/admin/x${i}/${long.slice(0, 100 * i)}`, BAD_JSON)).toBe(400);
      expect(await post(url, `/queues/x${i}/${long.slice(0, 100 * i)}`, BAD_JSON)).toBe(400);
    }
    expect(delta(before, await counts(url))).toEqual({
      'GET <unmatched> 404': 102,
      'GET /queues/api/queues/:queueName/:jobId 200': 1,
      'POST <unmatched> 400': 20,
      'POST /queues 400': 20,
    });
  });
});

describe('item 11 under a global prefix, on express', () => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startQueues('api'));
  });
  afterAll(async () => {
    await app?.close();
  });

  it("puts the prefix Nest gives the middleware's path before the router's routes; app.use mounts keep theirs", async () => {
    const before = await counts(url);
    for (const path of [
      '/api/queues/api/queues',
      '/api/queues/api/queues/mail/42',
      '/api/api/queues',
      '/admin/users/7',
    ])
      expect({ path, status: (await rawRequest(url, path)).status }).toEqual({ path, status: 200 });
    expect((await rawRequest(url, '/api/queues/nope/1/2')).status).toBe(404);
    expect(delta(before, await counts(url))).toEqual({
      'GET /api/queues/api/queues 200': 1,
      'GET /api/queues/api/queues/:queueName/:jobId 200': 1,
      'GET /api/api/queues 200': 1,
      'GET /admin/users/:id 200': 1,
      'GET <unmatched> 404': 1,
    });
  });
});
