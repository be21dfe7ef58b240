/**
 * Issue 21, item 12: responses Fastify's router gives before any hook runs (a malformed URL: 400; a
 * route parameter over `maxParamLength`: 414) are recorded once, with their status, under the route
 * template their method and path match (`<unmatched>` when none does), as Express records the same
 * requests; and Express labels a parameter it cannot decode (its router's 400) with its route, as
 * Fastify does. Node's own answers to a request it could not parse reach neither application, and
 * are recorded by neither. Labels stay bounded: never a raw path, however many or long.
 */
import { Body, Controller, Get, Module, Param, Post, type INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { VezaMetricsModule } from '../../src';
import { ADAPTERS, scrape } from '../utils/app';
import { rawRequest } from '../utils/raw-http';
import { startHttpApp } from './http-app.fixture';
import { samples } from './http-client.fixture';

/** Handlers entered and left (server side), for synchronisation. */
const seen = { entered: 0, done: 0, gets: 0 };
const release: Array<() => void> = [];

@Controller('tracks')
class TracksController {
  /** Pending until the test releases it. */
  @Get('slow/:n')
  async slow(): Promise<string> {
    seen.entered++;
    await new Promise<void>((resolve) => release.push(resolve));
    seen.done++;
    return 'slow';
  }

  @Get(':id')
  get(@Param('id') id: string): { id: number } {
    seen.gets++;
    return { id: id.length };
  }

  @Post()
  create(@Body() body: unknown): unknown {
    return body;
  }
}

@Module({
  imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, statusLabel: 'code' })],
  controllers: [TracksController],
})
class RouterAnswersModule {}

const TIMES = 5;
const total = (c: Record<string, number>): number => Object.values(c).reduce((a, b) => a + b, 0);

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Writes `wire` on a connection of its own and reads until the server closes it; the status line. */
async function onTheWire(url: string, wire: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('error', () => undefined);
  socket.write(wire);
  await new Promise((resolve) => socket.once('close', resolve));
  return text.split('\r\n')[0];
}

describe.each(ADAPTERS)('answers given before any route on %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  const counts = async (): Promise<Record<string, number>> =>
    samples(await scrape(url), 'veza_http_requests_total', ['method', 'endpoint', 'status']);
  /** The counts, once `ready` holds for them (scraped again until then). */
  const countsOnce = async (
    ready: (c: Record<string, number>) => boolean,
  ): Promise<Record<string, number>> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const c = await counts();
      if (ready(c) || Date.now() > deadline) return c;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  beforeEach(async () => {
    ({ app, url } = await startHttpApp(adapter, { imports: [RouterAnswersModule] }, () => undefined));
  }, 60_000);

  afterEach(async () => {
    while (release.length > 0) release.shift()?.();
    await app?.close();
  }, 60_000);

  it('records malformed URLs and over-long parameters once, with their status and route, as Express does', async () => {
    const statuses: Record<string, number[]> = { badParam: [], longParam: [], badUnmatched: [] };
    for (let i = 0; i < TIMES; i++) {
      // An incomplete UTF-8 sequence in the `:id` segment.
      statuses.badParam.push((await rawRequest(url, `/tracks/${i}%E0%A4`)).status);
      // Over Fastify's maxParamLength (100): its router answers 414; Express has no such limit.
      statuses.longParam.push((await rawRequest(url, `/tracks/${'a'.repeat(101 + i)}`)).status);
      // A malformed escape on a path no route matches: Fastify's router 400, Express' 404.
      statuses.badUnmatched.push((await rawRequest(url, `/nope/%zz${i}`)).status);
    }
    const fastify = adapter === 'fastify';
    expect(statuses).toEqual({
      badParam: Array(TIMES).fill(400),
      longParam: Array(TIMES).fill(fastify ? 414 : 200),
      badUnmatched: Array(TIMES).fill(fastify ? 400 : 404),
    });
    expect(await counts()).toEqual({
      'GET /tracks/:id 400': TIMES,
      [fastify ? 'GET /tracks/:id 414' : 'GET /tracks/:id 200']: TIMES,
      [fastify ? 'GET <unmatched> 400' : 'GET <unmatched> 404']: TIMES,
    });
  }, 60_000);

  it("records neither Node's answers to requests it could not parse, nor a body Fastify refuses twice", async () => {
    for (let i = 0; i < TIMES; i++) {
      expect(await onTheWire(url, 'GET /tracks/1 HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n')).toBe(
        'HTTP/1.1 400 Bad Request',
      );
      expect(
        (
          await rawRequest(url, '/tracks', {
            method: 'POST',
            headers: { 'content-type': 'text/x-unknown' },
            body: 'x',
          })
        ).status,
      ).toBe(adapter === 'fastify' ? 415 : 201);
    }
    expect(await counts()).toEqual({
      [adapter === 'fastify' ? 'POST /tracks 415' : 'POST /tracks 201']: TIMES,
    });
  }, 60_000);

  it('records malformed URLs pipelined behind a pending request, then reset, as 499 under their route', async () => {
    const server = app.getHttpServer() as Server;
    let arrived = 0;
    server.on('request', () => arrived++);
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let wire = 'GET /tracks/slow/1 HTTP/1.1\r\nHost: x\r\n\r\n';
    for (let i = 0; i < TIMES; i++) wire += `GET /tracks/%zz${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
    socket.write(wire);
    await until(() => seen.entered === 1 && arrived === 1 + TIMES, 'the handler and every pipelined request');
    socket.resetAndDestroy();
    await new Promise((resolve) => socket.once('close', resolve));
    await until(() => release.length === 1, 'the pending handler');
    release.shift()?.();
    await until(() => seen.done === 1, 'the handler to end');
    seen.entered = seen.done = 0;
    // The connection's close reaches the recorder in the event loop turns after the client's.
    const got = await countsOnce((c) => total(c) >= 1 + TIMES);
    const expected = { 'GET /tracks/slow/:n 499': 1, 'GET /tracks/:id 499': TIMES };
    expect(got).toEqual(expected);
  }, 60_000);

  it('keeps one series per route and status, whatever the number and length of malformed paths', async () => {
    const paths = [
      ...Array.from({ length: 40 }, (_, i) => `/x${i}/%zz/${i}`),
      ...Array.from({ length: 20 }, (_, i) => `/tracks/%zz${i}`),
      ...Array.from({ length: 5 }, (_, i) => `/${'%zz'.repeat(4_000)}${i}`),
      ...Array.from({ length: 5 }, (_, i) => `/tracks/%zz${'b'.repeat(12_000)}${i}`),
    ];
    for (const path of paths) await rawRequest(url, path);
    const fastify = adapter === 'fastify';
    expect(await counts()).toEqual({
      [fastify ? 'GET <unmatched> 400' : 'GET <unmatched> 404']: 45,
      'GET /tracks/:id 400': 25,
    });
  }, 120_000);
});

describe('an async route constraint on fastify', () => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [RouterAnswersModule] }).compile();
    app = moduleRef.createNestApplication(new FastifyAdapter(), { logger: false });
    // After init, as an application's own Fastify plugins register: the recorder is attached.
    await app.init();
    const a = app;
    const instance = a.getHttpAdapter().getInstance() as {
      addConstraintStrategy(strategy: object): void;
      register(plugin: (f: { route(options: object): void }, opts: unknown, next: () => void) => void): void;
    };
    // Async (three parameters): Fastify then routes every request after a callback, and answers
    // a failing one with a 500 before any hook.
    instance.addConstraintStrategy({
      name: 'tenant',
      storage: () => {
        const kept = new Map<string, unknown>();
        return {
          get: (k: string) => kept.get(k) ?? null,
          set: (k: string, v: unknown) => kept.set(k, v),
        };
      },
      deriveConstraint: (
        req: { headers: Record<string, string | undefined> },
        _ctx: unknown,
        done: (e: Error | null, v?: string) => void,
      ) =>
        setImmediate(() =>
          req.headers['x-tenant'] === 'bad'
            ? done(new Error('no tenant'))
            : done(null, req.headers['x-tenant']),
        ),
    });
    // In a plugin, as Fastify applications add routes: it runs as Fastify gets ready.
    instance.register((f: { route(options: object): void }, _opts: unknown, next: () => void) => {
      f.route({
        method: 'GET',
        url: '/tenants/:id',
        constraints: { tenant: 'a' },
        handler: (_req: unknown, reply: { send(b: unknown): void }) => reply.send({ ok: true }),
      });
      next();
    });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
  }, 60_000);

  afterAll(async () => {
    await app?.close();
  }, 60_000);

  it("records the constraint's 500 under its route, and every routed request once", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < TIMES; i++) {
      statuses.push((await rawRequest(url, `/tenants/${i}`, { headers: { 'x-tenant': 'a' } })).status);
      statuses.push((await rawRequest(url, `/tenants/${i}`, { headers: { 'x-tenant': 'bad' } })).status);
      statuses.push((await rawRequest(url, `/tracks/${i}`)).status);
    }
    expect(statuses).toEqual(Array.from({ length: TIMES }, () => [200, 500, 200]).flat());
    expect(samples(await scrape(url), 'veza_http_requests_total', ['method', 'endpoint', 'status'])).toEqual({
      'GET /tenants/:id 200': TIMES,
      'GET /tenants/:id 500': TIMES,
      'GET /tracks/:id 200': TIMES,
    });
  }, 60_000);
});

describe('a client gone before our onRequest hook ran, on fastify', () => {
  let app: INestApplication;
  let url: string;
  const gates: Array<() => void> = [];
  let gated = 0;

  beforeAll(async () => {
    ({ app, url } = await startHttpApp('fastify', { imports: [RouterAnswersModule] }, (a) => {
      // The application's own hook, added before the recorder's: pending until the test opens it.
      const instance = a.getHttpAdapter().getInstance() as {
        addHook(name: string, hook: (request: { url: string }) => Promise<void>): void;
      };
      instance.addHook('onRequest', async (request: { url: string }) => {
        if (!request.url.startsWith('/tracks/')) return;
        gated++;
        await new Promise<void>((resolve) => gates.push(resolve));
      });
    }));
  }, 60_000);

  afterAll(async () => {
    while (gates.length > 0) gates.shift()?.();
    await app?.close();
  }, 60_000);

  it('records it once, as 499 under its route, whatever runs after it left', async () => {
    const server = app.getHttpServer() as Server;
    let closed = 0;
    server.on('request', (_req, res: { once(e: string, l: () => void): void }) =>
      res.once('close', () => closed++),
    );
    const { hostname, port } = new URL(url);
    for (let i = 0; i < TIMES; i++) {
      const socket = connect(Number(port), hostname);
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.write(`GET /tracks/${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await until(() => gated === i + 1, 'the application hook');
      socket.resetAndDestroy();
      await until(() => closed === i + 1, 'the response to close');
    }
    // The hooks go on once the application's opens: the recorder's, the handler, a late onResponse.
    const gets = seen.gets;
    while (gates.length > 0) gates.shift()?.();
    await until(() => seen.gets === gets + TIMES, 'the handlers to run after their clients left');
    expect(samples(await scrape(url), 'veza_http_requests_total', ['method', 'endpoint', 'status'])).toEqual({
      'GET /tracks/:id 499': TIMES,
    });
  }, 60_000);
});
