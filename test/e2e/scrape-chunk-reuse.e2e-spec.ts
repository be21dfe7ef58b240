/**
 * The exposition's chunks are reused from one scrape to the next, on Express, Fastify and the
 * metrics listener: once a send has finished, the next render writes into the same off-heap memory
 * instead of allocating a fresh 64 KiB Buffer per chunk (whose external-memory pressure made V8 run
 * full collections with 5 to 10 ms marking steps during scrapes), and no scrape, one at a time or
 * several at once, ever sends bytes of another.
 */
import type { INestApplication } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import {
  MetricsServer,
  VezaMetricsModule,
  VezaMetricsRegistry,
  type VezaMetricsModuleOptions,
} from '../../src';
import { scrape, startApp, type AdapterKind } from '../utils/app';
import { collector } from '../utils/memory';
import { bigExposition, offHeapAfterGc } from '../utils/slow-scraper';

jest.setTimeout(120_000);

const KiB = 2 ** 10;
/** Series of `app_big`: about 1.6 MB of exposition, 25 chunks. */
const BIG_SERIES = 8_000;

const BigExposition = bigExposition(BIG_SERIES);

type Target = { kind: AdapterKind; listener: boolean };
const TARGETS: Array<[string, Target]> = [
  ['express', { kind: 'express', listener: false }],
  ['fastify', { kind: 'fastify', listener: false }],
  ['the metrics listener', { kind: 'express', listener: true }],
];

async function start(target: Target): Promise<{ app: INestApplication; url: string }> {
  const own: VezaMetricsModuleOptions = target.listener
    ? { appEndpoint: false, metricsServer: { port: 0, host: '127.0.0.1' } }
    : {};
  const { app, url } = await startApp(target.kind, {
    // Three scrapes at once from one address: a fair share of 4 is 3.
    imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, scrape: { maxConcurrent: 4 }, ...own })],
    providers: [BigExposition],
  });
  const port = app.get(MetricsServer).address()?.port;
  return { app, url: target.listener ? `http://127.0.0.1:${port}` : url };
}

describe.each(TARGETS)('exposition chunks reused across scrapes (%s)', (_, target) => {
  it('after a finished scrape, the next render of 1.6 MB takes no new off-heap memory', async () => {
    const gc = collector();
    const { app, url } = await start(target);
    try {
      const metrics = app.get(VezaMetricsRegistry);
      const size = (await scrape(url)).length;
      expect(size).toBeGreaterThan(1_500_000);
      // The server's 'finish' (every write done) may come a turn after the client read the last byte.
      await delay(50);
      const before = await offHeapAfterGc(gc);
      const chunks = await metrics.renderChunks();
      const grown = process.memoryUsage().arrayBuffers - before;
      // A fresh Buffer per chunk: 25 chunks of 64 KiB, 1.6 MB; reused: at most one chunk beyond.
      expect(grown).toBeLessThan(128 * KiB);
      expect(Buffer.concat(chunks).toString('utf8')).toBe(await metrics.registry.metrics());
    } finally {
      await app.close();
    }
  });

  it('every scrape, three at once then three one after another, is byte for byte the client’s own exposition', async () => {
    const { app, url } = await start(target);
    try {
      const metrics = app.get(VezaMetricsRegistry);
      const expected = await metrics.registry.metrics();
      expect(await scrape(url)).toBe(expected);
      const together = await Promise.all([scrape(url), scrape(url), scrape(url)]);
      for (const text of together) expect(text).toBe(expected);
      for (let i = 0; i < 3; i++) {
        await delay(20);
        expect(await scrape(url)).toBe(expected);
      }
    } finally {
      await app.close();
    }
  });
});
