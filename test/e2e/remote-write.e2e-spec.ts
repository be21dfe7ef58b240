/**
 * Issue #25, remote write (option `remoteWrite`, src/push/remote-writer.ts):
 *
 * - into a real Prometheus 2.42 from Debian (`--web.enable-remote-write-receiver`, native histograms
 *   on), from a Nest app on Express and on Fastify: after `app.close()` the exact counts (N requests,
 *   a counter incremented K times, one more in `onModuleDestroy`) are queryable, and the native part
 *   of the HTTP duration histogram arrives as a native histogram;
 * - a receiver down (a closed port) and hanging (accepts, never answers) for "a minute", compressed
 *   into seconds: 50 ms intervals, 60 intervals or more each. Requests are served while a send hangs,
 *   every failure and skipped interval is counted, there is never more than one connection to the
 *   receiver, the heap stays bounded; no timing is asserted;
 * - the attacker's pass: a 1 GiB answer body is not read, a redirect is not followed (counted
 *   `rejected`), credentials in the URL go in the Authorization header and never in a log line.
 */
import {
  Controller,
  Get,
  Injectable,
  Module,
  type LoggerService,
  type OnModuleDestroy,
} from '@nestjs/common';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  RemoteWriter,
  VEZA_CATALOG,
  VezaMetricsModule,
  VezaMetricsRegistry,
  VezaMetricsService,
  type RemoteWriteOptions,
} from '../../src';
import { getMetricValue } from '../../src/testing';
import { ADAPTERS, startApp, type AdapterKind, type StartedApp } from '../utils/app';
import { freePort, startPrometheus, type PrometheusServer } from '../utils/prometheus';
import { rawRequest } from '../utils/raw-http';
import { decodeCompressedWriteRequest } from '../utils/remote-write';
import { findTool } from '../utils/tools';

const prometheusBinary = findTool('prometheus');
const describeWithPrometheus = prometheusBinary ? describe : describe.skip;

/** Polls `read` every 25 ms (at most `timeoutMs`) until `predicate` holds; returns the last value read. */
async function until<T>(
  read: () => Promise<T> | T,
  predicate: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (predicate(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

@Controller('ping')
class PingController {
  @Get()
  ping(): string {
    return 'pong';
  }
}

@Injectable()
class Job implements OnModuleDestroy {
  constructor(private readonly metrics: VezaMetricsService) {}
  /** Recorded while the application shuts down: the final send comes after it. */
  onModuleDestroy(): void {
    this.metrics.recordTransferRetry();
  }
}

class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown): void {
    this.lines.push(String(message));
  }
  warn(message: unknown): void {
    this.lines.push(String(message));
  }
  error(message: unknown): void {
    this.lines.push(String(message));
  }
}

function appModule(remoteWrite: RemoteWriteOptions, extra: Record<string, unknown> = {}): new () => unknown {
  @Module({
    imports: [VezaMetricsModule.forRoot({ remoteWrite, ...extra })],
    controllers: [PingController],
    providers: [Job],
  })
  class RemoteWriteApp {}
  return RemoteWriteApp;
}

async function get(url: string, path = '/ping'): Promise<number> {
  return (await rawRequest(url, path)).status;
}

describeWithPrometheus.each(ADAPTERS)('remote write into a real Prometheus, on %s', (kind: AdapterKind) => {
  let prometheus: PrometheusServer;

  beforeAll(async () => {
    prometheus = await startPrometheus({
      binary: prometheusBinary,
      targets: [],
      flags: ['--web.enable-remote-write-receiver'],
      features: ['native-histograms'],
    });
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
  });

  it('after app.close(), the exact counts are in Prometheus (N requests, K increments, one at shutdown), the native histogram too', async () => {
    const run = `${kind}-${Date.now()}`;
    const N = 7;
    const K = 5;
    const started: StartedApp = await startApp(kind, {
      imports: [
        appModule(
          { url: `${prometheus.url}/api/v1/write`, intervalMs: 200 },
          { defaultLabels: { run }, nativeHistograms: true },
        ),
      ],
    });
    const { app, url } = started;
    for (let i = 0; i < N; i++) expect(await get(url)).toBe(200);
    const service = app.get(VezaMetricsService);
    for (let i = 0; i < K; i++) service.recordTrackUploaded();
    // A periodic send arrives while the app runs.
    await prometheus.waitFor(
      `veza_tracks_uploaded_total{run="${run}"}`,
      (s) => s.length === 1 && s[0].value === K,
    );
    await app.close();
    const requests = await prometheus.waitFor(
      `sum(veza_http_requests_total{run="${run}", endpoint="/ping"})`,
      (s) => s.length === 1 && s[0].value === N,
    );
    expect(requests[0].value).toBe(N);
    expect(await prometheus.value(`veza_tracks_uploaded_total{run="${run}"}`)).toBe(K);
    // Recorded in onModuleDestroy: only the final send has it.
    expect(await prometheus.value(`veza_transfer_retry_total{run="${run}"}`)).toBe(1);
    // The classic histogram's series, and its native part as a native histogram (count = N).
    expect(
      await prometheus.value(
        `sum(veza_http_request_duration_seconds_bucket{run="${run}", endpoint="/ping", le="+Inf"})`,
      ),
    ).toBe(N);
    expect(
      await prometheus.value(
        `histogram_count(sum(veza_http_request_duration_seconds{run="${run}", endpoint="/ping"}))`,
      ),
    ).toBe(N);
    expect(await prometheus.vector(`veza_metrics_remote_write_failures_total{run="${run}"}`)).toEqual([]);
  }, 60_000);

  it('two sends in the same millisecond (or a clock set back) both land: timestamps strictly increase', async () => {
    const run = `${kind}-clock-${Date.now()}`;
    const started = await startApp(kind, {
      imports: [
        appModule(
          { url: `${prometheus.url}/api/v1/write`, intervalMs: 60_000, sendOnShutdown: false },
          { defaultLabels: { run } },
        ),
      ],
    });
    const now = jest.spyOn(Date, 'now').mockReturnValue(Date.now());
    try {
      const writer = started.app.get(RemoteWriter);
      const service = started.app.get(VezaMetricsService);
      service.recordTrackUploaded();
      expect(await writer.send()).toBe(true);
      service.recordTrackUploaded();
      expect(await writer.send()).toBe(true);
      now.mockReturnValue(Date.now() - 1000); // the clock set back
      service.recordTrackUploaded();
      expect(await writer.send()).toBe(true);
    } finally {
      now.mockRestore();
      await started.app.close();
    }
    await prometheus.waitFor(
      `veza_tracks_uploaded_total{run="${run}"}`,
      (s) => s.length === 1 && s[0].value === 3,
    );
  }, 60_000);
});

describe.each(ADAPTERS)(
  'remote write: a receiver down or hanging costs the app nothing but counted failures, on %s',
  (kind) => {
    it('a closed port for 60+ intervals (50 ms): requests served, every send counted unreachable, heap bounded', async () => {
      const port = await freePort(); // nothing listens there
      const logger = new CapturingLogger();
      const started = await startApp(kind, {
        imports: [
          appModule({ url: `http://127.0.0.1:${port}/api/v1/write`, intervalMs: 50, timeoutMs: 200 }),
        ],
      });
      const { app, url } = started;
      app.useLogger(logger);
      try {
        global.gc?.();
        const heapBefore = process.memoryUsage().heapUsed;
        let served = 0;
        const failures = async (): Promise<number> =>
          (await getMetricValue(app, 'veza_metrics_remote_write_failures_total', {
            reason: 'unreachable',
          })) ?? 0;
        await until(
          async () => {
            if ((await get(url)) === 200) served++;
            return failures();
          },
          (n) => n >= 60,
          60_000,
        );
        expect(served).toBeGreaterThan(0);
        expect(await failures()).toBeGreaterThanOrEqual(60);
        global.gc?.();
        expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 1024 * 1024);
      } finally {
        await app.close();
      }
    }, 90_000);

    it('a receiver that accepts and never answers: requests served while a send hangs, one connection at most, timeouts and skipped intervals counted', async () => {
      const open = new Set<Socket>();
      let most = 0;
      let connections = 0;
      const silent: Server = createServer((socket) => {
        connections++;
        open.add(socket);
        most = Math.max(most, open.size);
        socket.on('close', () => open.delete(socket));
        socket.resume(); // reads the body, never answers
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as AddressInfo).port;
      const started = await startApp(kind, {
        imports: [
          appModule({ url: `http://127.0.0.1:${port}/api/v1/write`, intervalMs: 50, timeoutMs: 400 }),
        ],
      });
      const { app, url } = started;
      app.useLogger(new CapturingLogger());
      try {
        let servedWhileHanging = 0;
        const counted = async (reason: string): Promise<number> =>
          (await getMetricValue(app, 'veza_metrics_remote_write_failures_total', { reason })) ?? 0;
        await until(
          async () => {
            const hanging = open.size > 0;
            if ((await get(url)) === 200 && hanging && open.size > 0) servedWhileHanging++;
            return [await counted('timeout'), await counted('skipped')];
          },
          ([timeouts, skipped]) => timeouts >= 8 && skipped >= 60,
          60_000,
        );
        expect(servedWhileHanging).toBeGreaterThan(0);
        expect(await counted('timeout')).toBeGreaterThanOrEqual(8);
        expect(await counted('skipped')).toBeGreaterThanOrEqual(60);
        // One send at a time: never two connections to the receiver, one per timed-out send.
        expect(most).toBe(1);
        expect(connections).toBeLessThanOrEqual((await counted('timeout')) + 1);
      } finally {
        await app.close(); // the final send times out too (within timeoutMs)
        for (const socket of open) socket.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
      expect(most).toBe(1);
    }, 90_000);
  },
);

describe('remote write: the attacker’s pass', () => {
  /** A receiver answering with `answer`; records each request's headers and body. */
  async function receiver(answer: (req: IncomingMessage, res: import('node:http').ServerResponse) => void) {
    const requests: Array<{ headers: IncomingMessage['headers']; body: Buffer }> = [];
    let open = 0;
    let most = 0;
    const server = createHttpServer((req, res) => {
      open++;
      most = Math.max(most, open);
      res.on('close', () => open--);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        requests.push({ headers: req.headers, body: Buffer.concat(chunks) });
        answer(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    return {
      port,
      requests,
      get most() {
        return most;
      },
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }

  it('sends the protocol headers and a decodable body; credentials in the URL go in Authorization and never in a log', async () => {
    // Answers 100 ms late: sends that overlapped would be seen open at once.
    const rx = await receiver((_req, res) => setTimeout(() => res.writeHead(204).end(), 100));
    const logger = new CapturingLogger();
    const started = await startApp('express', {
      imports: [
        appModule({
          url: `http://user:s3cr3t@127.0.0.1:${rx.port}/api/v1/write?tenant=t1`,
          intervalMs: 60_000,
        }),
      ],
    });
    started.app.useLogger(logger);
    try {
      // Three callers at once: three sends, one after the other (one connection at a time).
      const writer = started.app.get(RemoteWriter);
      expect(await Promise.all([writer.send(), writer.send(), writer.send()])).toEqual([true, true, true]);
      expect(rx.requests).toHaveLength(3);
      expect(rx.most).toBe(1);
      const [first] = rx.requests;
      expect(first.headers).toMatchObject({
        'content-encoding': 'snappy',
        'content-type': 'application/x-protobuf',
        'x-prometheus-remote-write-version': '0.1.0',
        authorization: `Basic ${Buffer.from('user:s3cr3t').toString('base64')}`,
      });
      expect(first.headers['user-agent']).toMatch(/veza-nestjs-metrics/);
      const names = decodeCompressedWriteRequest(first.body).map(
        (s) => s.labels.find((l) => l.name === '__name__')?.value,
      );
      expect(names).toContain('veza_tracks_uploaded_total');
      await rx.close();
      expect(await started.app.get(RemoteWriter).send()).toBe(false);
      expect(logger.lines.join('\n')).not.toMatch(/s3cr3t|tenant=t1/);
      expect(logger.lines.join('\n')).toContain(
        `Remote write to http://127.0.0.1:${rx.port}/api/v1/write failed`,
      );
    } finally {
      await started.app.close();
      await rx.close();
    }
  }, 30_000);

  it('a 1 GiB answer is not read (the connection is closed at once); a 500 with one is read for 300 bytes', async () => {
    let written = 0;
    const huge = Buffer.alloc(1 << 16, 0x61);
    let status = 200;
    const rx = await receiver((_req, res) => {
      res.writeHead(status, { 'Content-Length': String(2 ** 30) });
      const pump = (): void => {
        while (!res.destroyed && written < 2 ** 30) {
          written += huge.length;
          if (!res.write(huge)) return void res.once('drain', pump);
        }
      };
      res.on('error', () => undefined);
      pump();
    });
    const started = await startApp('express', {
      imports: [appModule({ url: `http://127.0.0.1:${rx.port}/`, intervalMs: 60_000, timeoutMs: 30_000 })],
    });
    started.app.useLogger(new CapturingLogger());
    try {
      const writer = started.app.get(RemoteWriter);
      expect(await writer.send()).toBe(true);
      status = 500;
      expect(await writer.send()).toBe(false);
      expect(
        await getMetricValue(started.app, 'veza_metrics_remote_write_failures_total', {
          reason: 'unavailable',
        }),
      ).toBe(1);
      // What the receiver could put into socket buffers before the close, far from 1 GiB.
      expect(written).toBeLessThan(64 * 1024 * 1024);
    } finally {
      await started.app.close();
      await rx.close();
    }
  }, 60_000);

  it('a redirect is not followed (to another host or not): counted rejected, as a 400; a 429 counts unavailable', async () => {
    const other = await receiver((_req, res) => res.writeHead(204).end());
    let answer = 307;
    const rx = await receiver((_req, res) =>
      res.writeHead(answer, { Location: `http://127.0.0.2:${other.port}/api/v1/write` }).end('moved'),
    );
    const started = await startApp('express', {
      imports: [appModule({ url: `http://127.0.0.1:${rx.port}/api/v1/write`, intervalMs: 60_000 })],
    });
    started.app.useLogger(new CapturingLogger());
    try {
      const writer = started.app.get(RemoteWriter);
      const counted = async (reason: string): Promise<number> =>
        (await getMetricValue(started.app, 'veza_metrics_remote_write_failures_total', { reason })) ?? 0;
      expect(await writer.send()).toBe(false);
      answer = 400;
      expect(await writer.send()).toBe(false);
      expect(await counted('rejected')).toBe(2);
      answer = 429;
      expect(await writer.send()).toBe(false);
      expect(await counted('unavailable')).toBe(1);
      expect(other.requests).toHaveLength(0);
      expect(rx.requests).toHaveLength(3);
    } finally {
      await started.app.close();
      await rx.close();
      await other.close();
    }
  }, 30_000);
});

describeWithPrometheus('remote write at the caps, into a real Prometheus', () => {
  it('every labelled catalog metric at its series cap: one send, accepted, every series stored', async () => {
    const prometheus = await startPrometheus({
      binary: prometheusBinary,
      targets: [],
      flags: ['--web.enable-remote-write-receiver'],
    });
    const run = `caps-${Date.now()}`;
    const started = await startApp('express', {
      imports: [
        appModule(
          {
            url: `${prometheus.url}/api/v1/write`,
            intervalMs: 600_000,
            sendOnShutdown: false,
            timeoutMs: 60_000,
          },
          { defaultLabels: { run }, cardinality: { maxSeries: 2000 } },
        ),
      ],
    });
    try {
      const metrics = started.app.get(VezaMetricsRegistry);
      let labelled = 0;
      for (const row of VEZA_CATALOG) {
        if (row.labelNames.length === 0) continue;
        labelled++;
        const metric = metrics.get(row.name as never) as unknown as {
          inc?: (l: object) => void;
          set?: (l: object, v: number) => void;
          observe?: (l: object, v: number) => void;
        };
        for (let i = 0; i < 2100; i++) {
          const labels = Object.fromEntries(row.labelNames.map((l) => [l, `${l}-${i}`]));
          if (row.kind === 'histogram') metric.observe?.(labels, i / 1000);
          else if (row.kind === 'gauge') metric.set?.(labels, i);
          else metric.inc?.(labels);
        }
      }
      expect(await started.app.get(RemoteWriter).send()).toBe(true);
      // 2,000 series and the overflow one, for one labelled counter of the catalog.
      const counter = VEZA_CATALOG.find((row) => row.kind === 'counter' && row.labelNames.length > 0);
      expect(await prometheus.value(`count(${counter?.name}{run="${run}"})`)).toBe(2001);
      expect(labelled).toBeGreaterThan(10);
    } finally {
      await started.app.close();
      await prometheus.stop();
    }
  }, 120_000);
});
