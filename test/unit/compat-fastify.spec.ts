/**
 * Contract tests of src/compat/fastify.ts: each assumption it makes of Fastify, by its name, against
 * the Fastify that the installed @nestjs/platform-fastify loads (Fastify 5 here; Nest 10's Fastify 4
 * under `npm run test:matrix`). A failure here names the assumption that broke and the version.
 */
import { Controller, Get, Module, Param, VersioningType, type INestApplication } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import {
  CORS_PREFLIGHT_URL,
  fastifyVersion,
  publicRouteUrl,
  routeContextSymbol,
  RouteUrlReader,
} from '../../src/compat/fastify';

/** The Fastify that Nest's adapter loads (a matrix fixture's included). */
const fastifyDir = dirname(
  createRequire(require.resolve('@nestjs/platform-fastify')).resolve('fastify/package.json'),
);
const version = (JSON.parse(readFileSync(join(fastifyDir, 'package.json'), 'utf8')) as { version: string })
  .version;
const against = `fastify ${version}`;

type Hook = (request: object, reply: object, done: () => void) => void;
interface FastifyInstance {
  addHook(name: string, hook: Hook): void;
  version: string;
}
interface RawRequest {
  raw: { socket: { once(event: string, listener: () => void): void } };
}

const ANSWERED = new Map<string, () => void>();

@Controller('tracks')
class TracksController {
  @Get('late')
  async late(): Promise<string> {
    // Answers only once the test says so (after the client went away).
    await new Promise<void>((resolve) => ANSWERED.set('late', resolve));
    return 'late';
  }

  @Get(':id')
  get(@Param('id') id: string): { id: string } {
    return { id };
  }
}

@Module({ controllers: [TracksController] })
class AppModule {}

/** A Nest application on Fastify, global prefix and URI versioning, CORS on, and what its hooks saw. */
async function start(): Promise<{
  app: INestApplication;
  url: string;
  port: number;
  instance: FastifyInstance;
  seen: Array<{ request: object; event: string }>;
}> {
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication(new FastifyAdapter({ forceCloseConnections: true }), {
    logger: false,
  });
  app.setGlobalPrefix('api');
  app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
  app.enableCors();
  const instance = app.getHttpAdapter().getInstance() as FastifyInstance;
  const seen: Array<{ request: object; event: string }> = [];
  instance.addHook('onRequest', (request, _reply, done) => {
    (request as RawRequest).raw.socket.once('close', () => seen.push({ request, event: 'socket close' }));
    done();
  });
  instance.addHook('onResponse', (request, _reply, done) => {
    seen.push({ request, event: 'onResponse' });
    done();
  });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${port}`, port, instance, seen };
}

/** The request object Fastify's onResponse hook saw for the last response. */
function lastResponse(seen: Array<{ request: object; event: string }>): object {
  const last = seen.filter((s) => s.event === 'onResponse').pop();
  if (last === undefined) throw new Error('no onResponse hook ran');
  return last.request;
}

describe(`Fastify assumptions (${against})`, () => {
  let started: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    started = await start();
  }, 60_000);
  afterAll(async () => {
    for (const answer of ANSWERED.values()) answer();
    await started?.app.close();
  }, 60_000);

  it(`F1: a routed request keeps its route context under the "fastify.context" symbol, whose config.url is routeOptions.url, global prefix and version included (${against})`, async () => {
    expect((await fetch(`${started.url}/api/v1/tracks/7`)).status).toBe(200);
    const request = lastResponse(started.seen);
    const key = routeContextSymbol(request);
    expect(key?.description).toBe('fastify.context');
    const context = (request as Record<symbol, { config?: { url?: unknown } }>)[key as symbol];
    expect(context.config?.url).toBe('/api/v1/tracks/:id');
    expect(publicRouteUrl(request)).toBe('/api/v1/tracks/:id');
    const fallbacks: string[] = [];
    const reader = new RouteUrlReader((why) => fallbacks.push(why));
    expect(reader.read(request)).toBe('/api/v1/tracks/:id');
    expect(reader.read(request)).toBe('/api/v1/tracks/:id');
    expect(fallbacks).toEqual([]);
  }, 60_000);

  it(`F1: the 404 handler's context has no config.url, and routeOptions.url none either (${against})`, async () => {
    expect((await fetch(`${started.url}/api/v1/nope/7`)).status).toBe(404);
    const request = lastResponse(started.seen);
    const key = routeContextSymbol(request);
    expect(key).toBeDefined();
    expect((request as Record<symbol, { config?: { url?: unknown } }>)[key as symbol].config?.url).toBe(
      undefined,
    );
    expect(publicRouteUrl(request)).toBe(undefined);
    expect(new RouteUrlReader(() => undefined).read(request)).toBe(undefined);
  }, 60_000);

  it(`F1 fallback: without the symbol, or when it disagrees, the reader says why once and reads routeOptions.url (${against})`, () => {
    const fallbacks: string[] = [];
    const reader = new RouteUrlReader((why) => fallbacks.push(why));
    const plain = { routeOptions: { url: '/tracks/:id' } };
    expect(reader.read(plain)).toBe('/tracks/:id');
    expect(reader.read({ routeOptions: { url: '/albums' } })).toBe('/albums');
    expect(fallbacks).toEqual(['requests have no "fastify.context" symbol']);

    const other = new RouteUrlReader((why) => fallbacks.push(why));
    const stale = {
      routeOptions: { url: '/tracks/:id' },
      [Symbol('fastify.context')]: { config: { url: '/x' } },
    };
    expect(other.read(stale)).toBe('/tracks/:id');
    expect(fallbacks[1]).toBe('its config.url read /x where routeOptions.url is /tracks/:id');
  });

  it(`F2: no onResponse hook runs before the socket's close for a request whose client went away first (${against})`, async () => {
    started.seen.length = 0;
    const socket = connect(started.port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write('GET /api/v1/tracks/late HTTP/1.1\r\nHost: x\r\n\r\n');
    for (let i = 0; i < 600 && !ANSWERED.has('late'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(ANSWERED.has('late')).toBe(true);
    socket.destroy();
    for (let i = 0; i < 600 && !started.seen.some((s) => s.event === 'socket close'); i++)
      await new Promise((r) => setTimeout(r, 50));
    (ANSWERED.get('late') as () => void)();
    ANSWERED.delete('late');
    await new Promise((r) => setTimeout(r, 200));
    const events = started.seen.map((s) => s.event);
    expect(events[0]).toBe('socket close');
    expect(events.filter((e) => e === 'onResponse').length).toBeLessThanOrEqual(1);
  }, 60_000);

  it(`F3: a preflight no route handles is answered by @fastify/cors' route "${CORS_PREFLIGHT_URL}" (${against})`, async () => {
    const res = await fetch(`${started.url}/api/v1/anything/at/all`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://a.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(res.status).toBe(204);
    expect(new RouteUrlReader(() => undefined).read(lastResponse(started.seen))).toBe(CORS_PREFLIGHT_URL);
  }, 60_000);

  it(`names the installed version in messages (${against})`, () => {
    expect(fastifyVersion(started.instance)).toBe(version);
  });
});
