/**
 * Issue 21, item 13: Fastify over HTTP/2, in clear (h2c, `new FastifyAdapter({ http2: true })`) and
 * over TLS (`https: { key, cert }`, a self-signed certificate made with openssl). A stream the
 * client cancels while its handler is pending, and the streams of a session destroyed with them in
 * flight, reached no client: 499, as an aborted HTTP/1 request, counted once (never the handler's
 * 200, whether it answers later or not). Delivered streams keep their status, and the router's own
 * answers (a malformed URL) are recorded under their route, as on HTTP/1.
 */
import { Controller, Get, Module, Param, type INestApplication } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import {
  connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type Http2Server,
  type ServerHttp2Stream,
} from 'node:http2';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VezaMetricsModule } from '../../src';
import { samples } from './http-client.fixture';

/** Server side: handlers entered and left, and the handlers waiting to be released. */
const seen = { entered: 0, done: 0 };
const release: Array<() => void> = [];

@Controller('tracks')
class TracksController {
  @Get('slow')
  async slow(): Promise<string> {
    seen.entered++;
    await new Promise<void>((resolve) => release.push(resolve));
    seen.done++;
    return 'slow';
  }

  @Get(':id')
  get(@Param('id') id: string): { id: string } {
    return { id };
  }
}

@Module({
  imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, statusLabel: 'code' })],
  controllers: [TracksController],
})
class Http2Module {}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** One request on `session`: its status and body. */
function get(session: ClientHttp2Session, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path });
    let status = 0;
    let body = '';
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => resolve({ status, body }));
    stream.on('error', reject);
  });
}

/** A request left pending: its stream, whose errors (the cancel, the session's end) are expected. */
function pending(session: ClientHttp2Session, path: string): ClientHttp2Stream {
  const stream = session.request({ ':path': path });
  stream.on('error', () => undefined);
  return stream;
}

/** A self-signed certificate for 127.0.0.1, made with openssl; `undefined` without it. */
function selfSigned(): { key: string; cert: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'veza-h2-'));
  try {
    const made = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    if (made.status !== 0) return undefined;
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const tls = selfSigned();
if (tls === undefined) {
  if (process.env.CI === 'true') throw new Error('openssl is needed for the HTTP/2 over TLS tests');
  console.warn('openssl not found: the HTTP/2 over TLS tests are skipped');
}
const MODES = tls === undefined ? (['h2c'] as const) : (['h2c', 'h2 over TLS'] as const);

describe.each(MODES)('Fastify over HTTP/2 (%s)', (mode) => {
  let app: INestApplication;
  let url: string;
  let client: ClientHttp2Session;
  /** Streams the server saw close: Fastify's onResponse for a stream runs as it closes. */
  let serverClosed = 0;

  /** A session to the application (trusting the self-signed certificate over TLS). */
  const open = (): ClientHttp2Session => connect(url, mode === 'h2c' ? {} : { ca: tls?.cert });

  const counts = async (): Promise<Record<string, number>> =>
    samples((await get(client, '/metrics')).body, 'veza_http_requests_total', [
      'method',
      'endpoint',
      'status',
    ]);

  /** Releases every pending handler and waits for each to end. */
  const answerAll = async (): Promise<void> => {
    const expected = seen.done + release.length;
    while (release.length > 0) release.shift()?.();
    await until(() => seen.done === expected, 'the handlers to answer');
  };

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [Http2Module] }).compile();
    const options = mode === 'h2c' ? { http2: true } : { http2: true, https: tls };
    app = moduleRef.createNestApplication(new FastifyAdapter(options as never), { logger: false });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
    if (mode !== 'h2c') url = url.replace('http:', 'https:');
    (app.getHttpServer() as Http2Server).on('stream', (stream: ServerHttp2Stream) =>
      stream.once('close', () => serverClosed++),
    );
    client = open();
    client.on('error', () => undefined);
  }, 60_000);

  afterAll(async () => {
    while (release.length > 0) release.shift()?.();
    client?.close();
    await app?.close();
  }, 60_000);

  it('records cancelled streams and the streams of a destroyed session as 499, once, and delivered ones with their status', async () => {
    const TIMES = 5;
    for (let i = 0; i < TIMES; i++) expect((await get(client, `/tracks/${i}`)).status).toBe(200);

    // Cancelled streams: the client resets each while its handler is pending.
    const entered = seen.entered;
    const cancelled = Array.from({ length: TIMES }, () => pending(client, '/tracks/slow'));
    await until(() => seen.entered === entered + TIMES, 'every handler to be entered');
    const before = serverClosed;
    for (const stream of cancelled) stream.close(constants.NGHTTP2_CANCEL);
    await until(() => serverClosed === before + TIMES, 'the server to see every stream close');
    await answerAll();

    // A session destroyed with requests in flight.
    const doomed = open();
    doomed.on('error', () => undefined);
    for (let i = 0; i < TIMES; i++) pending(doomed, '/tracks/slow');
    await until(() => seen.entered === entered + 2 * TIMES, 'every handler of the doomed session');
    const closedBefore = serverClosed;
    doomed.destroy();
    await until(() => serverClosed === closedBefore + TIMES, 'the server to close its streams');
    await answerAll();

    // The router's own answer to a malformed URL, under its route.
    for (let i = 0; i < TIMES; i++) expect((await get(client, `/tracks/%zz${i}`)).status).toBe(400);

    expect(await counts()).toEqual({
      'GET /tracks/:id 200': TIMES,
      'GET /tracks/slow 499': 2 * TIMES,
      'GET /tracks/:id 400': TIMES,
    });
  }, 60_000);

  it('records many concurrent cancelled streams once each, adding no series', async () => {
    const STREAMS = 50;
    const startCounts = await counts();
    const entered = seen.entered;
    const streams = Array.from({ length: STREAMS }, () => pending(client, '/tracks/slow'));
    await until(() => seen.entered === entered + STREAMS, 'every handler to be entered');
    const before = serverClosed;
    for (const stream of streams) stream.close(constants.NGHTTP2_CANCEL);
    await until(() => serverClosed === before + STREAMS, 'the server to see every stream close');
    await answerAll();
    const after = await counts();
    expect(after['GET /tracks/slow 499'] - (startCounts['GET /tracks/slow 499'] ?? 0)).toBe(STREAMS);
    expect(Object.keys(after).sort()).toEqual(Object.keys(startCounts).sort());
  }, 60_000);
});
