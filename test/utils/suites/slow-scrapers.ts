/**
 * Scrapers that read slowly, or not at all, or loop on the endpoint, on Express, Fastify and the
 * metrics listener: a send timeout cuts them off and releases their buffers, the bytes held by all
 * scrapes stay within `scrape.maxBytesInFlight` (measured off-heap), `app.close()` is not held by
 * them, and a client looping on an open endpoint leaves room for another scraper.
 * test/e2e/slow-scrapers.e2e-spec.ts runs it with 5 paused scrapers against the byte bound,
 * test/stress with 12.
 */
import { Injectable, type INestApplication } from '@nestjs/common';
import { request } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { Gauge, type Registry } from 'prom-client';
import {
  MetricsServer,
  VezaMetricsModule,
  VezaMetricsRegistry,
  type VezaMetricsModuleOptions,
} from '../../../src';
import { MetricsScraper } from '../../../src/endpoint/metrics-scraper';
import { startApp, type AdapterKind } from '../app';
import { rawRequest } from '../raw-http';
import { bigExposition, offHeapAfterGc, settledWithin, slowScrape, type SlowScrape } from '../slow-scraper';
import { collector } from '../memory';
import { until as waitUntil } from '../until';

const MiB = 2 ** 20;
const TOKEN = 'scrape-token';
/** Series of `app_big`: about 8.4 MB of exposition, more than the kernel's socket buffers take in. */
const BIG_SERIES = 40_000;

const BigExposition = bigExposition(BIG_SERIES);

/** Makes each render take at least 150 ms, so that a looping client always holds a render. */
@Injectable()
class SlowSource {
  constructor(metrics: VezaMetricsRegistry) {
    new Gauge({
      name: 'app_slow',
      help: 'A source that takes 150 ms',
      registers: [metrics.registry as Registry],
      async collect() {
        await delay(150);
        this.set(1);
      },
    });
  }
}

type Target = { kind: AdapterKind; listener: boolean };
const TARGETS: Array<[string, Target]> = [
  ['express', { kind: 'express', listener: false }],
  ['fastify', { kind: 'fastify', listener: false }],
  ['the metrics listener', { kind: 'express', listener: true }],
];

interface Started {
  app: INestApplication;
  /** Where /metrics is served. */
  url: string;
  scraper: MetricsScraper;
}

async function start(
  target: Target,
  options: VezaMetricsModuleOptions,
  provider: new (...args: never[]) => unknown,
): Promise<Started> {
  const own: VezaMetricsModuleOptions = target.listener
    ? { appEndpoint: false, metricsServer: { port: 0, host: '127.0.0.1' } }
    : {};
  const { app, url } = await startApp(target.kind, {
    imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, ...options, ...own })],
    providers: [provider],
  });
  const port = app.get(MetricsServer).address()?.port;
  return { app, url: target.listener ? `http://127.0.0.1:${port}` : url, scraper: app.get(MetricsScraper) };
}

const until = (condition: () => boolean, what: string): Promise<void> => waitUntil(condition, what, 30_000);

const line = (text: string, prefix: string): string[] => text.split('\n').filter((l) => l.startsWith(prefix));

export interface SlowScrapersSizes {
  /**
   * Scrapers that stop reading, each from an address of its own, against a `maxBytesInFlight` of
   * 20 MiB: the first two are answered (8.4 MB each), the rest 503 (at least 3).
   */
  paused: number;
  /** Only the byte-bound test (the stress tier: the other tests do not depend on the size). */
  byteBoundOnly?: boolean;
}

/** Slow scrapers on Express, Fastify and the metrics listener, `paused` of them in the byte-bound test. */
export function describeSlowScrapers({ paused, byteBoundOnly = false }: SlowScrapersSizes): void {
  if (paused < 3) throw new Error('paused: at least 3, one more than the bound takes');
  /** A test that does not depend on the size: left out with `byteBoundOnly`. */
  const other = (name: string, fn: jest.ProvidesCallback): void => {
    if (!byteBoundOnly) it(name, fn);
  };
  describe.each(TARGETS)('slow scrapers (%s)', (_, target) => {
    other(
      'a scraper that stops reading, and one that reads a byte every 100 ms, are cut off at the send timeout and their bytes released',
      async () => {
        const { app, url, scraper } = await start(
          target,
          { scrape: { sendTimeoutMs: 1_000 } },
          BigExposition,
        );
        const readers: SlowScrape[] = [];
        try {
          readers.push(slowScrape(url, '/metrics', { reading: 'paused', localAddress: '127.0.0.2' }));
          readers.push(slowScrape(url, '/metrics', { reading: 'trickle', localAddress: '127.0.0.3' }));
          expect(await Promise.all(readers.map((r) => r.status))).toEqual([200, 200]);
          // Without a send timeout, neither would ever be let go (8.4 MB at 10 bytes a second).
          await until(() => scraper.bytesInFlight === 0, 'the bytes of the cut-off scrapes to be released');
          // Each connection was cut: reading what reached the client, it ends short of the exposition.
          expect(await Promise.all(readers.map((r) => settledWithin(r.drain(), 30_000)))).toEqual([
            'done',
            'done',
          ]);
          for (const reader of readers) expect(reader.received()).toBeLessThan(8 * MiB);
          const text = (await rawRequest(url, '/metrics')).body;
          expect(line(text, 'veza_metrics_scrapes_aborted_total{')).toEqual([
            'veza_metrics_scrapes_aborted_total{reason="send_timeout"} 2',
          ]);
        } finally {
          readers.forEach((r) => r.destroy());
          await app.close();
        }
      },
    );

    it('holds at most scrape.maxBytesInFlight for scrapers that stop reading, answers the others 503 without rendering, and frees it all when they go', async () => {
      const gc = collector();
      const { app, url, scraper } = await start(
        target,
        { scrape: { maxBytesInFlight: 20 * MiB, sendTimeoutMs: 600_000 } },
        BigExposition,
      );
      const readers: SlowScrape[] = [];
      try {
        expect((await rawRequest(url, '/metrics')).status).toBe(200);
        // The first scrape's send finished: its chunks are back for reuse, its bytes released.
        await until(() => scraper.bytesInFlight === 0, 'the first scrape to be sent');
        const before = await offHeapAfterGc(gc);
        const statuses: number[] = [];
        // Unauthenticated clients, each from an address of its own, none reading.
        for (let i = 0; i < paused; i++) {
          const reader = slowScrape(url, '/metrics', { reading: 'paused', localAddress: `127.0.0.${i + 2}` });
          readers.push(reader);
          statuses.push(await reader.status);
        }
        const held = (await offHeapAfterGc(gc)) - before;
        // Two expositions of 8.4 MB fit within 20 MiB, a third does not: 17 MB and what the sockets buffer.
        expect(held).toBeLessThan(20 * MiB + 4 * MiB);
        expect(statuses).toEqual([200, 200, ...Array<number>(paused - 2).fill(503)]);
        expect(scraper.bytesInFlight).toBeLessThanOrEqual(20 * MiB);

        readers.forEach((r) => r.destroy());
        await until(() => scraper.bytesInFlight === 0, 'the bytes of the gone scrapers to be released');
        expect((await offHeapAfterGc(gc)) - before).toBeLessThan(4 * MiB);
        const text = (await rawRequest(url, '/metrics')).body;
        expect(line(text, 'veza_metrics_scrapes_rejected_total{')).toEqual([
          `veza_metrics_scrapes_rejected_total{reason="bytes_in_flight"} ${paused - 2}`,
        ]);
      } finally {
        readers.forEach((r) => r.destroy());
        await app.close();
      }
    });

    other(
      'one client address holds at most half of scrape.maxBytesInFlight when no credentials are required',
      async () => {
        const { app, url, scraper } = await start(
          target,
          { scrape: { maxBytesInFlight: 20 * MiB, sendTimeoutMs: 600_000 } },
          BigExposition,
        );
        const readers: SlowScrape[] = [];
        try {
          const statuses: number[] = [];
          for (let i = 0; i < 3; i++) {
            const reader = slowScrape(url, '/metrics', { reading: 'paused', localAddress: '127.0.0.2' });
            readers.push(reader);
            statuses.push(await reader.status);
          }
          expect(statuses).toEqual([200, 503, 503]);
          expect(scraper.bytesInFlight).toBeLessThanOrEqual(10 * MiB);
          // Another client still gets its scrape.
          const other = slowScrape(url, '/metrics', { reading: 'paused', localAddress: '127.0.0.3' });
          readers.push(other);
          expect(await other.status).toBe(200);
        } finally {
          readers.forEach((r) => r.destroy());
          await app.close();
        }
      },
    );

    other(
      'app.close() is not held by a scraper that stops reading: its connection is destroyed',
      async () => {
        const { app, url } = await start(target, { scrape: { sendTimeoutMs: 600_000 } }, BigExposition);
        const reader = slowScrape(url, '/metrics', { reading: 'paused' });
        try {
          expect(await reader.status).toBe(200);
          const closing = app.close();
          // The send timeout is 10 minutes: only the close can let the scraper go.
          expect(await settledWithin(closing, 30_000)).toBe('done');
          expect(await settledWithin(reader.drain(), 30_000)).toBe('done');
          expect(reader.received()).toBeLessThan(8 * MiB);
        } finally {
          reader.destroy();
          await app.close();
        }
      },
    );

    if (!byteBoundOnly)
      it.each([
        ['open, a client looping on it gets its share and no more', undefined],
        ['locked, clients without credentials take no slot', { bearerToken: TOKEN }],
      ])('endpoint %s: another scraper gets every one of its scrapes', async (_, auth) => {
        const { app, url } = await start(target, { auth }, SlowSource);
        const { port } = new URL(url);
        let looping = true;
        let answered = 0;
        // Eight loops from another address, scraping without credentials as fast as they are answered.
        const loop = async (): Promise<void> => {
          while (looping) {
            await new Promise<void>((resolve) => {
              const req = request(
                {
                  host: '127.0.0.1',
                  port: Number(port),
                  path: '/metrics',
                  localAddress: '127.0.0.2',
                  agent: false,
                },
                (res) => {
                  res.resume().on('end', resolve).on('error', resolve);
                  answered++;
                },
              );
              req.on('error', () => resolve()).end();
            });
          }
        };
        const loops = Array.from({ length: 8 }, loop);
        try {
          await until(() => answered >= 8, 'the loops to be answered');
          const statuses: number[] = [];
          const headers = auth ? { Authorization: `Bearer ${TOKEN}` } : undefined;
          for (let i = 0; i < 10; i++) statuses.push((await rawRequest(url, '/metrics', { headers })).status);
          expect(statuses).toEqual(Array<number>(10).fill(200));
        } finally {
          looping = false;
          await Promise.all(loops);
          await app.close();
        }
      });
  });
}
