import {
  Controller,
  Get,
  Injectable,
  Module,
  type INestApplicationContext,
  type LoggerService,
  type OnModuleDestroy,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { Counter, Registry } from 'prom-client';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { MetricsPusher, VezaMetricsModule, VezaMetricsService, type PushgatewayOptions } from '../../src';
import { FINAL_PUSH_WAIT_MS } from '../../src/push/periodic-send';
import { getMetricValue } from '../../src/testing';
import { ADAPTERS, startApp } from '../utils/app';
import { sampleValue } from '../utils/exposition';
import { freePort } from '../utils/prometheus';
import { rawRequest } from '../utils/raw-http';
import { findTool } from '../utils/tools';

const binary = findTool('prometheus-pushgateway', 'prometheus-pushgateway');
const describeWithPushgateway = binary ? describe : describe.skip;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` every 50 ms (at most `timeoutMs`) until `predicate` holds; returns the last value read. */
async function waitFor<T>(
  read: () => Promise<T>,
  predicate: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (predicate(value) || Date.now() > deadline) return value;
    await sleep(50);
  }
}

/** A stand-in Pushgateway that takes every push (202) and counts them. */
async function countingPushgateway(): Promise<{
  url: string;
  /** Resolves once `n` pushes have arrived (within 30 s). */
  pushes(n: number): Promise<void>;
  close(): Promise<void>;
}> {
  let count = 0;
  const arrived = new EventEmitter();
  const server = createHttpServer((req, res) => {
    req.resume().once('end', () => {
      res.writeHead(202).end();
      count++;
      arrived.emit('push');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    pushes: (n) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${count} of ${n} pushes in 30 s`)), 30_000);
        const check = (): void => {
          if (count < n) return;
          clearTimeout(timer);
          arrived.off('push', check);
          resolve();
        };
        arrived.on('push', check);
        check();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Pushgateway {
  url: string;
  port: number;
  /** The Pushgateway's own /metrics: every pushed group, with its job and grouping labels. */
  metrics(): Promise<string>;
  /** The labels of every group (`/api/v1/metrics`). */
  groups(): Promise<Record<string, string>[]>;
  put(path: string, body: string): Promise<number>;
  wipe(): Promise<void>;
  stop(): Promise<void>;
  logs(): string;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** A real Pushgateway (the Debian package's binary) on loopback, in memory only (no persistence file). */
async function startPushgateway(port?: number): Promise<Pushgateway> {
  const chosen = port ?? (await freePort());
  const url = `http://127.0.0.1:${chosen}`;
  let log = '';
  const child = spawn(
    binary as string,
    [`--web.listen-address=127.0.0.1:${chosen}`, '--persistence.file=', '--web.enable-admin-api'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  const append = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-32_768);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      children.delete(child);
      resolve();
    }),
  );
  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exit;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`prometheus-pushgateway exited at start:\n${log}`);
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      await res.text();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus-pushgateway was not ready on ${url}:\n${log}`);
    }
    await sleep(50);
  }
  return {
    url,
    port: chosen,
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    groups: async () => {
      const body = (await (await fetch(`${url}/api/v1/metrics`)).json()) as {
        data: { labels: Record<string, string> }[];
      };
      return body.data.map((g) => g.labels);
    },
    put: async (path, body) => {
      const res = await fetch(url + path, { method: 'PUT', body });
      await res.text();
      return res.status;
    },
    wipe: async () => {
      const res = await fetch(`${url}/api/v1/admin/wipe`, { method: 'PUT' });
      await res.text();
    },
    stop,
    logs: () => log,
  };
}

/** A logger that keeps what the library says. */
class CapturingLogger implements LoggerService {
  readonly lines: { level: string; message: string }[] = [];
  log(message: unknown): void {
    this.lines.push({ level: 'log', message: String(message) });
  }
  warn(message: unknown): void {
    this.lines.push({ level: 'warn', message: String(message) });
  }
  error(message: unknown): void {
    this.lines.push({ level: 'error', message: String(message) });
  }
  warnings(): string[] {
    return this.lines.filter((l) => l.level === 'warn').map((l) => l.message);
  }
}

@Injectable()
class ImportJob implements OnModuleDestroy {
  constructor(private readonly metrics: VezaMetricsService) {}

  run(): void {
    for (let i = 0; i < 3; i++) this.metrics.recordTrackUploaded();
    this.metrics.recordLoginAttempt(false);
    this.metrics.recordLoginAttempt(false);
    this.metrics.recordLoginAttempt(true);
    this.metrics.recordFileUpload('audio', 'success', 3_000);
    this.metrics.updateActiveSessions(7);
    this.metrics.recordHealthCheck('db', 12, 'ok');
  }

  /** Recorded while the application shuts down: the final push comes after it. */
  onModuleDestroy(): void {
    this.metrics.recordTransferRetry();
  }
}

function jobModule(pushgateway: PushgatewayOptions, extra: Record<string, unknown> = {}): new () => unknown {
  @Module({ imports: [VezaMetricsModule.forRoot({ pushgateway, ...extra })], providers: [ImportJob] })
  class JobModule {}
  return JobModule;
}

async function createContext(
  module: new () => unknown,
  logger: LoggerService | false = false,
): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(module, { logger });
}

@Controller('ping')
class PingController {
  @Get()
  ping(): string {
    return 'pong';
  }
}

/** A route that answers when the test opens its gate, and says when a request has reached it. */
@Controller('slow')
class SlowController {
  static entered: () => void = () => undefined;
  static gate: Promise<void> = Promise.resolve();

  @Get()
  async slow(): Promise<string> {
    SlowController.entered();
    await SlowController.gate;
    return 'done';
  }
}

/** Arms SlowController: resolves `entered` at the next request, which waits for `open()`. */
function armSlowRoute(): { entered: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  SlowController.gate = new Promise<void>((resolve) => (open = resolve));
  const entered = new Promise<void>((resolve) => (SlowController.entered = resolve));
  return { entered, open };
}

describeWithPushgateway('Pushgateway: a real prometheus-pushgateway, pushed to and read back', () => {
  let pgw: Pushgateway;

  beforeAll(async () => {
    pgw = await startPushgateway();
  }, 30_000);

  afterAll(async () => {
    await pgw?.stop();
  });

  beforeEach(async () => {
    await pgw.wipe();
  });

  it('a short-lived application context pushes its metrics once more when it closes, with the job and grouping labels', async () => {
    const app = await createContext(
      jobModule(
        { url: pgw.url, jobName: 'nightly-import', groupings: { tenant: 'acme' } },
        { defaultLabels: { service: 'importer' } },
      ),
    );
    app.get(ImportJob).run();
    // No interval: nothing is pushed while the job runs.
    expect(
      sampleValue(await pgw.metrics(), 'veza_tracks_uploaded_total', { job: 'nightly-import' }),
    ).toBeUndefined();

    await app.close();

    expect(await pgw.groups()).toEqual([{ job: 'nightly-import', tenant: 'acme' }]);
    const text = await pgw.metrics();
    const group = { job: 'nightly-import', tenant: 'acme', instance: '' };
    expect(sampleValue(text, 'veza_tracks_uploaded_total', { ...group, service: 'importer' })).toBe(3);
    expect(sampleValue(text, 'veza_auth_login_attempts_total', { ...group, success: 'failure' })).toBe(2);
    expect(sampleValue(text, 'veza_auth_login_attempts_total', { ...group, success: 'success' })).toBe(1);
    expect(sampleValue(text, 'veza_file_uploads_total', { ...group, type: 'audio', status: 'success' })).toBe(
      1,
    );
    expect(sampleValue(text, 'veza_file_upload_size_bytes_sum', { ...group, type: 'audio' })).toBe(3_000);
    expect(sampleValue(text, 'veza_file_upload_size_bytes_count', { ...group, type: 'audio' })).toBe(1);
    expect(
      sampleValue(text, 'veza_file_upload_size_bytes_bucket', { ...group, type: 'audio', le: '2048' }),
    ).toBe(0);
    expect(
      sampleValue(text, 'veza_file_upload_size_bytes_bucket', { ...group, type: 'audio', le: '4096' }),
    ).toBe(1);
    expect(sampleValue(text, 'veza_auth_sessions_active', group)).toBe(7);
    // The metric's own `service` label wins over the default label.
    expect(sampleValue(text, 'veza_health_check_status', { ...group, service: 'db' })).toBe(1);
    // Recorded in an onModuleDestroy hook: the final push comes after every one of them.
    expect(sampleValue(text, 'veza_transfer_retry_total', group)).toBe(1);
    // Counters and gauges without labels are pushed from the start, at 0.
    expect(sampleValue(text, 'veza_users_registered_total', group)).toBe(0);
    expect(sampleValue(text, 'veza_metrics_push_failures_total', group)).toBeUndefined();
    const pushedAt = sampleValue(text, 'push_time_seconds', group) as number;
    expect(Math.abs(pushedAt - Date.now() / 1000)).toBeLessThan(30);
    expect(sampleValue(text, 'push_failure_time_seconds', group)).toBe(0);
  });

  it('with a registry the application brought (option registry), the final push renders it, its own metrics included', async () => {
    const registry = new Registry();
    const ownMetric = new Counter({
      name: 'import_rows_total',
      help: 'Rows imported',
      registers: [registry],
    });
    const app = await createContext(
      jobModule({ url: pgw.url, jobName: 'own-registry' }, { registry, defaultMetrics: false }),
    );
    ownMetric.inc(42);
    app.get(ImportJob).run();
    await app.close();
    const text = await pgw.metrics();
    expect(sampleValue(text, 'import_rows_total', { job: 'own-registry' })).toBe(42);
    expect(sampleValue(text, 'veza_tracks_uploaded_total', { job: 'own-registry' })).toBe(3);
    expect(sampleValue(text, 'process_cpu_user_seconds_total', { job: 'own-registry' })).toBeUndefined();
  });

  it.each(ADAPTERS)(
    'an HTTP application on %s pushes the requests it served when it closes',
    async (kind) => {
      const { app, url } = await startApp(kind, {
        imports: [VezaMetricsModule.forRoot({ pushgateway: { url: pgw.url, jobName: `api-${kind}` } })],
        controllers: [PingController],
      });
      for (let i = 0; i < 3; i++) expect((await fetch(`${url}/ping`)).status).toBe(200);
      expect((await fetch(`${url}/missing`)).status).toBe(404);
      await app.close();

      const text = await pgw.metrics();
      const group = { job: `api-${kind}`, instance: '' };
      expect(
        sampleValue(text, 'veza_http_requests_total', {
          ...group,
          method: 'GET',
          endpoint: '/ping',
          status: '2xx',
        }),
      ).toBe(3);
      expect(
        sampleValue(text, 'veza_http_request_duration_seconds_count', {
          ...group,
          method: 'GET',
          endpoint: '/ping',
        }),
      ).toBe(3);
      expect(
        sampleValue(text, 'veza_http_requests_total', {
          ...group,
          method: 'GET',
          endpoint: '<unmatched>',
          status: '4xx',
        }),
      ).toBe(1);
    },
  );

  it('pushes every intervalMs while the application runs, and stops when it closes', async () => {
    const app = await createContext(
      jobModule({ url: pgw.url, jobName: 'worker', intervalMs: 150, pushOnShutdown: false }),
    );
    const service = app.get(VezaMetricsService);
    const tracks = async (): Promise<number | undefined> =>
      sampleValue(await pgw.metrics(), 'veza_tracks_uploaded_total', { job: 'worker' });

    service.recordTrackUploaded();
    expect(await waitFor(tracks, (v) => v === 1)).toBe(1);
    const firstPush = sampleValue(await pgw.metrics(), 'push_time_seconds', { job: 'worker' }) as number;

    for (let i = 0; i < 4; i++) service.recordTrackUploaded();
    expect(await waitFor(tracks, (v) => v === 5)).toBe(5);
    const later = sampleValue(await pgw.metrics(), 'push_time_seconds', { job: 'worker' }) as number;
    expect(later).toBeGreaterThan(firstPush);

    await app.close();
    const atClose = await pgw.metrics();
    // A witness pushing at the same interval, started after the close, to a Pushgateway of its own
    // that counts pushes: once it has taken four, four intervals have passed since the close.
    const witness = await countingPushgateway();
    const clock = await createContext(
      jobModule({ url: witness.url, jobName: 'witness', intervalMs: 150, pushOnShutdown: false }),
    );
    try {
      await witness.pushes(4);
    } finally {
      await clock.close();
      await witness.close();
    }
    const after = await pgw.metrics();
    expect(sampleValue(after, 'push_time_seconds', { job: 'worker' })).toBe(
      sampleValue(atClose, 'push_time_seconds', { job: 'worker' }),
    );
  });

  it('MetricsPusher.push() pushes on demand and says whether the Pushgateway took the metrics', async () => {
    const app = await createContext(jobModule({ url: pgw.url, jobName: 'on-demand', pushOnShutdown: false }));
    app.get(VezaMetricsService).recordPlaylistCreated();
    expect(await app.get(MetricsPusher).push()).toBe(true);
    expect(sampleValue(await pgw.metrics(), 'veza_playlists_created_total', { job: 'on-demand' })).toBe(1);
    await app.close();
  });

  it('a Pushgateway that cannot be reached: logged once, counted, never thrown into the application, and "works again" once it answers', async () => {
    const port = await freePort();
    const logger = new CapturingLogger();
    const app = await createContext(
      jobModule({ url: `http://127.0.0.1:${port}`, jobName: 'flaky', intervalMs: 50 }),
      logger,
    );
    const failures = (): Promise<number | undefined> =>
      getMetricValue(app, 'veza_metrics_push_failures_total', { reason: 'unreachable' });
    expect(await waitFor(failures, (v) => (v ?? 0) >= 3)).toBeGreaterThanOrEqual(3);
    expect(logger.warnings()).toEqual([
      `Pushing metrics to http://127.0.0.1:${port} failed: the Pushgateway could not be reached (connect ECONNREFUSED 127.0.0.1:${port}). ` +
        'Failures of this kind are counted in veza_metrics_push_failures_total{reason="unreachable"} and not logged again until a push succeeds.',
    ]);

    const late = await startPushgateway(port);
    try {
      const pushed = async (): Promise<number | undefined> =>
        sampleValue(await late.metrics(), 'veza_metrics_push_failures_total', { job: 'flaky' });
      // The failures counted meanwhile reach the Pushgateway with the next push.
      expect(await waitFor(pushed, (v) => (v ?? 0) >= 3)).toBeGreaterThanOrEqual(3);
      expect(
        logger.lines.filter((l) => l.message === `Pushing metrics to http://127.0.0.1:${port} works again.`),
      ).toHaveLength(1);
      await app.close();
    } finally {
      await late.stop();
    }
  });

  it('a Pushgateway that does not answer in time: the push gives up after timeoutMs, and the close is not held up', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => sockets.add(socket)); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const logger = new CapturingLogger();
    try {
      const app = await createContext(
        jobModule({ url: `http://127.0.0.1:${port}`, jobName: 'slow', timeoutMs: 200 }),
        logger,
      );
      const pusher = app.get(MetricsPusher);
      const started = Date.now();
      expect(await pusher.push()).toBe(false);
      expect(await pusher.push()).toBe(false);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(await getMetricValue(app, 'veza_metrics_push_failures_total', { reason: 'timeout' })).toBe(2);
      expect(logger.warnings()).toEqual([
        `Pushing metrics to http://127.0.0.1:${port} failed: the Pushgateway did not answer in time (no answer within 200 ms). ` +
          'Failures of this kind are counted in veza_metrics_push_failures_total{reason="timeout"} and not logged again until a push succeeds.',
      ]);
      const closing = Date.now();
      await app.close(); // the final push times out too
      expect(Date.now() - closing).toBeLessThan(2_000);
      expect(logger.warnings()).toHaveLength(1);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('a push the Pushgateway rejects (another job pushed the metric with another type) is logged with its answer and counted', async () => {
    const body =
      '# HELP veza_tracks_uploaded_total other\n# TYPE veza_tracks_uploaded_total gauge\nveza_tracks_uploaded_total 1\n';
    expect(await pgw.put('/metrics/job/legacy', body)).toBe(200);
    const logger = new CapturingLogger();
    const app = await createContext(
      jobModule({ url: pgw.url, jobName: 'rejected', pushOnShutdown: false }),
      logger,
    );
    expect(await app.get(MetricsPusher).push()).toBe(false);
    expect(await getMetricValue(app, 'veza_metrics_push_failures_total', { reason: 'rejected' })).toBe(1);
    const [warning] = logger.warnings();
    expect(warning).toMatch(
      new RegExp(
        `^Pushing metrics to ${pgw.url.replace(/\./g, '\\.')} failed: the Pushgateway rejected the metrics \\(HTTP 400: pushed metrics are invalid or inconsistent with existing metrics: .*veza_tracks_uploaded_total`,
      ),
    );
    // The Pushgateway keeps the group, with the time of the failure and none of its metrics.
    const text = await pgw.metrics();
    expect(sampleValue(text, 'push_failure_time_seconds', { job: 'rejected' })).toBeGreaterThan(0);
    expect(sampleValue(text, 'push_time_seconds', { job: 'rejected' })).toBe(0);
    expect(sampleValue(text, 'veza_auth_login_attempts_total', { job: 'rejected' })).toBeUndefined();
    await app.close();
  });

  it.each(ADAPTERS)(
    'on %s, a request in flight when the application closes is in the final push',
    async (kind) => {
      const { app, url } = await startApp(kind, {
        imports: [
          VezaMetricsModule.forRoot({
            defaultMetrics: false,
            pushgateway: { url: pgw.url, jobName: `drain-${kind}` },
          }),
        ],
        controllers: [SlowController],
      });
      const slow = armSlowRoute();
      // One request on a connection of its own (a keep-alive connection left idle after its answer would
      // hold the server's close for its keep-alive timeout: 72 s on Fastify; the bounded wait covers that).
      const answer = rawRequest(url, '/slow', { headers: { Connection: 'close' } }).then((res) => [
        res.status,
        res.body,
      ]);
      await slow.entered;
      const closing = app.close();
      // The request is answered once a push has reached the Pushgateway (what a push made at the start
      // of the shutdown did), or after a second without one (the push waits for the server to close).
      await waitFor(
        () => pgw.groups(),
        (groups) => groups.length > 0,
        1_000,
      );
      slow.open();
      expect(await answer).toEqual([200, 'done']);
      await closing;
      const text = await pgw.metrics();
      const group = { job: `drain-${kind}`, instance: '' };
      expect(
        sampleValue(text, 'veza_http_requests_total', {
          ...group,
          method: 'GET',
          endpoint: '/slow',
          status: '2xx',
        }),
      ).toBe(1);
      expect(
        sampleValue(text, 'veza_http_request_duration_seconds_count', {
          ...group,
          method: 'GET',
          endpoint: '/slow',
        }),
      ).toBe(1);
    },
    60_000,
  );

  it.each(ADAPTERS)(
    'on %s, a response that never ends does not cost the final push: it is made after the bounded wait',
    async (kind) => {
      const { app, url } = await startApp(kind, {
        imports: [
          VezaMetricsModule.forRoot({
            defaultMetrics: false,
            pushgateway: { url: pgw.url, jobName: `hung-${kind}` },
          }),
        ],
        controllers: [SlowController, PingController],
      });
      expect((await fetch(`${url}/ping`)).status).toBe(200);
      const slow = armSlowRoute();
      // No client timeout: the response is answered only when the test opens the gate.
      const answer = new Promise<number>((resolve, reject) => {
        const { hostname, port } = new URL(url);
        httpRequest(
          {
            host: hostname,
            port: Number(port),
            path: '/slow',
            agent: false,
            headers: { Connection: 'close' },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        )
          .on('error', reject)
          .end();
      });
      await slow.entered;
      let closed = false;
      const closing = app.close().then(() => (closed = true));
      const groups = await waitFor(
        () => pgw.groups(),
        (g) => g.length > 0,
        FINAL_PUSH_WAIT_MS + 10_000,
      );
      // Pushed while the server still waits for the hung response.
      expect([groups, closed]).toEqual([[{ job: `hung-${kind}` }], false]);
      const group = { job: `hung-${kind}`, instance: '' };
      expect(
        sampleValue(await pgw.metrics(), 'veza_http_requests_total', {
          ...group,
          method: 'GET',
          endpoint: '/ping',
          status: '2xx',
        }),
      ).toBe(1);
      slow.open();
      await answer;
      await closing;
      // Pushed again once the server closed: the request that hung is in it.
      const text = await pgw.metrics();
      expect(
        sampleValue(text, 'veza_http_requests_total', {
          ...group,
          method: 'GET',
          endpoint: '/slow',
          status: '2xx',
        }),
      ).toBe(1);
    },
    60_000,
  );
});
