/**
 * Issue 12, item 10: responses given outside Nest's route handlers get one rule on both adapters.
 * - A handler mounted on a path (`app.use('/graphql', …)` on Express, a route on Fastify, the way
 *   GraphQL drivers and static assets mount): the mount path, `/graphql`.
 * - A request rejected before its route ran (body parser: malformed JSON, too large, unknown
 *   encoding): the route it was for, when exactly one route template matches its method and path.
 * - A CORS preflight that no route of the application handles: `<preflight>`.
 * - A client that aborts in the middle of its request body: 499, whatever answered the rest.
 * Labels stay bounded: never a raw path.
 */
import { Body, Controller, Module, Post, type INestApplication } from '@nestjs/common';
import { request, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { connect } from 'node:net';
import { VezaMetricsModule } from '../../src';
import { PREFLIGHT_ENDPOINT } from '../../src/http/http-metrics.recorder';
import { ADAPTERS, scrape } from '../utils/app';
import { rawRequest } from '../utils/raw-http';
import { startHttpApp } from './http-app.fixture';
import { samples } from './http-client.fixture';

@Controller('tracks')
class TracksController {
  @Post()
  create(@Body() body: unknown): unknown {
    return body;
  }
}

@Module({
  imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, statusLabel: 'code' })],
  controllers: [TracksController],
})
class OutsideModule {}

type Handler = (
  req: unknown,
  res: { statusCode: number; setHeader(n: string, v: string): void; end(b: string): void },
) => void;
const answer: Handler = (_req, res) => {
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json');
  res.end('{"data":{}}');
};

/** Mounts `answer` on `/graphql` (and `/assets/v2` under `/assets` on Express) the way each adapter's GraphQL driver does. */
function mount(app: INestApplication): void {
  app.enableCors();
  const instance = app.getHttpAdapter().getInstance() as {
    use?: (path: string, ...handlers: unknown[]) => void;
    route?: (options: object) => void;
  };
  if (app.getHttpAdapter().getType() === 'express') {
    const express = jest.requireActual<{ Router(): { use(path: string, h: Handler): void } }>('express');
    const use = instance.use as (path: string, ...handlers: unknown[]) => void;
    use.call(instance, '/graphql', (_req: unknown, _res: unknown, next: () => void) => next(), answer);
    const assets = express.Router();
    assets.use('/v2', answer);
    use.call(instance, '/assets', assets);
  } else {
    (instance.route as (o: object) => void).call(instance, {
      method: ['GET', 'POST'],
      url: '/graphql',
      handler: (_req: unknown, reply: { send(b: unknown): void }) => reply.send({ data: {} }),
    });
  }
}

/**
 * Sends `bytes` of a `length`-byte body to POST /tracks and, once `server` has taken the request in
 * (its 'request' event for this connection), resets the connection.
 */
async function abortMidBody(url: string, server: HttpServer, bytes: number, length: number): Promise<void> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const received = new Promise<void>((resolve) => {
    const onRequest = (req: IncomingMessage): void => {
      if (req.socket.remotePort !== socket.localPort) return;
      server.off('request', onRequest);
      resolve();
    };
    server.on('request', onRequest);
  });
  socket.write(
    `POST /tracks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{"title":"${'a'.repeat(bytes)}`,
  );
  await received;
  socket.resetAndDestroy();
}

/** Resolves once `server` holds no connection any more (within 30 s). */
async function noConnections(server: HttpServer): Promise<void> {
  const count = (): Promise<number> =>
    new Promise((resolve, reject) =>
      server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
    );
  await until(async () => (await count()) === 0, 'the server to close every connection');
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(ADAPTERS)('responses outside route handlers on %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  const counts = async (): Promise<Record<string, number>> =>
    samples(await scrape(url), 'veza_http_requests_total', ['method', 'endpoint', 'status']);

  beforeAll(async () => {
    ({ app, url } = await startHttpApp(adapter, { imports: [OutsideModule] }, mount));
  }, 60_000);

  afterAll(async () => {
    await app?.close();
  }, 60_000);

  it('records a handler mounted on a path under the mount path, never the raw path', async () => {
    const before = await counts();
    // Express matches mounts without case and by prefix; Fastify matches its route exactly.
    const paths =
      adapter === 'express'
        ? ['/graphql', '/graphql?query=%7Bme%7D', '/GRAPHQL', '/graphql/sub']
        : ['/graphql', '/graphql?query=%7Bme%7D'];
    for (const path of paths) expect((await rawRequest(url, path)).status).toBe(200);
    expect((await rawRequest(url, '/graphql', { method: 'POST' })).status).toBe(200);
    const after = await counts();
    expect(after['GET /graphql 200'] - (before['GET /graphql 200'] ?? 0)).toBe(paths.length);
    expect(after['POST /graphql 200'] - (before['POST /graphql 200'] ?? 0)).toBe(1);
    expect(Object.keys(after).filter((k) => /GRAPHQL|query|sub/.test(k))).toEqual([]);
  }, 60_000);

  if (adapter === 'express') {
    it('joins nested mounts (a router mounted on /assets, a handler on /v2 in it)', async () => {
      for (const path of ['/assets/v2', '/assets/v2/app.js', '/Assets/V2/x/y.css'])
        expect((await rawRequest(url, path)).status).toBe(200);
      expect((await counts())['GET /assets/v2 200']).toBe(3);
    });
  }

  it("records body-parser rejections under the route the request was for, and unknown paths' as <unmatched>", async () => {
    const json = { 'content-type': 'application/json' };
    const before = await counts();
    const send = (path: string, body: string, headers: Record<string, string>): Promise<number> =>
      new Promise((resolve, reject) => {
        const { hostname, port } = new URL(url);
        const req = request(
          // A connection per request (see rawRequest): after a 413 the server may close the one it used.
          {
            host: hostname,
            port: Number(port),
            path,
            method: 'POST',
            headers: { ...headers, 'content-length': Buffer.byteLength(body) },
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
    expect(await send('/tracks', '{"title":', json)).toBe(400);
    expect(await send('/tracks', JSON.stringify({ big: 'x'.repeat(2 * 1024 * 1024) }), json)).toBe(413);
    // Fastify ignores Content-Encoding; body-parser refuses one it does not know.
    if (adapter === 'express')
      expect(await send('/tracks', '{"title":"a"}', { ...json, 'content-encoding': 'bogus' })).toBe(415);
    expect(await send('/tracks', '{"title":"a"}', json)).toBe(201);
    expect(await send('/nope/7', '{"title":', json)).toBe(400);
    await until(
      async () => ((await counts())['POST /tracks 201'] ?? 0) > (before['POST /tracks 201'] ?? 0),
      'the 201',
    );
    const after = await counts();
    const delta = Object.fromEntries(
      Object.entries(after)
        .filter(([k]) => k.startsWith('POST ') && after[k] !== before[k])
        .map(([k, v]) => [k, v - (before[k] ?? 0)]),
    );
    expect(delta).toEqual({
      'POST /tracks 400': 1,
      'POST /tracks 413': 1,
      ...(adapter === 'express' ? { 'POST /tracks 415': 1 } : {}),
      'POST /tracks 201': 1,
      'POST <unmatched> 400': 1,
    });
  }, 60_000);

  it(`records a CORS preflight under ${PREFLIGHT_ENDPOINT}, whatever its path`, async () => {
    const preflight = { origin: 'https://app.example', 'access-control-request-method': 'POST' };
    for (const path of ['/tracks', '/graphql', '/x7f3/anything']) {
      expect((await rawRequest(url, path, { method: 'OPTIONS', headers: preflight })).status).toBe(204);
    }
    const options = Object.entries(await counts()).filter(([k]) => k.startsWith('OPTIONS '));
    expect(Object.fromEntries(options)).toEqual({ [`OPTIONS ${PREFLIGHT_ENDPOINT} 204`]: 3 });
  }, 60_000);

  it('records a client that aborts in the middle of its request body as 499, under its route', async () => {
    const tracks = (c: Record<string, number>): Record<string, number> =>
      Object.fromEntries(Object.entries(c).filter(([k]) => k.startsWith('POST ')));
    const total = (c: Record<string, number>): number => Object.values(tracks(c)).reduce((a, b) => a + b, 0);
    const before = await counts();
    const server = app.getHttpServer() as HttpServer;
    for (let i = 0; i < 3; i++) await abortMidBody(url, server, 100, 10_000);
    await until(async () => total(await counts()) >= total(before) + 3, 'three more POST /tracks');
    // Every connection closed on the server's side, each request's answer is settled: counted once.
    await noConnections(server);
    const after = tracks(await counts());
    const delta = Object.fromEntries(
      Object.entries(after).flatMap(([k, v]) => (v === before[k] ? [] : [[k, v - (before[k] ?? 0)]])),
    );
    expect(delta).toEqual({ 'POST /tracks 499': 3 });
  }, 60_000);
});

describe.each(ADAPTERS)('under a global prefix, without CORS, on %s', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startHttpApp(adapter, { imports: [OutsideModule] }, (a) =>
      a.setGlobalPrefix('api'),
    ));
  }, 60_000);

  afterAll(async () => {
    await app?.close();
  }, 60_000);

  it("records a parser rejection under its route, Nest's 404s as <unmatched>, and a preflight nobody answers as <preflight>", async () => {
    const json = { 'content-type': 'application/json' };
    expect(
      (
        await rawRequest(url, '/api/tracks', {
          method: 'POST',
          headers: { ...json, 'content-length': '9' },
          body: '{"title":',
        })
      ).status,
    ).toBe(400);
    expect((await rawRequest(url, '/api/nope/7')).status).toBe(404);
    expect((await rawRequest(url, '/elsewhere')).status).toBe(404);
    const preflight = { origin: 'https://app.example', 'access-control-request-method': 'POST' };
    expect((await rawRequest(url, '/api/tracks', { method: 'OPTIONS', headers: preflight })).status).toBe(
      404,
    );
    expect((await rawRequest(url, '/api/tracks', { method: 'OPTIONS' })).status).toBe(404);
    const counted = samples(await scrape(url), 'veza_http_requests_total', ['method', 'endpoint', 'status']);
    expect(counted).toEqual({
      'POST /api/tracks 400': 1,
      'GET <unmatched> 404': 2,
      [`OPTIONS ${PREFLIGHT_ENDPOINT} 404`]: 1,
      'OPTIONS <unmatched> 404': 1,
    });
  }, 60_000);
});
