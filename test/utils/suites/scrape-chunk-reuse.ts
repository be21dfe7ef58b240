/**
 * The exposition's chunks are reused from one scrape to the next, on Express, Fastify and the
 * metrics listener: once a send has finished, the next render writes into the same off-heap memory
 * instead of allocating a fresh 64 KiB Buffer per chunk (whose external-memory pressure made V8 run
 * full collections with 5 to 10 ms marking steps during scrapes), and no scrape, one at a time or
 * several at once, ever sends bytes of another. test/e2e/scrape-chunk-reuse.e2e-spec.ts runs it with
 * 2,000 series (7 chunks), test/stress with 8,000 (25 chunks).
 */
import type { INestApplication } from '@nestjs/common';
import { MetricsScraper } from '../../../src/endpoint/metrics-scraper';
import {
  MetricsServer,
  VezaMetricsModule,
  VezaMetricsRegistry,
  type VezaMetricsModuleOptions,
} from '../../../src';
import { scrape, startApp, type AdapterKind } from '../app';
import { collector } from '../memory';
import { until } from '../until';
import { bigExposition, offHeapAfterGc } from '../slow-scraper';

const KiB = 2 ** 10;

type Target = { kind: AdapterKind; listener: boolean };
const TARGETS: Array<[string, Target]> = [
  ['express', { kind: 'express', listener: false }],
  ['fastify', { kind: 'fastify', listener: false }],
  ['the metrics listener', { kind: 'express', listener: true }],
];

/** Resolves once every send of `app`'s scrapes has finished, and with it the chunks' recycling. */
function sendsFinished(app: INestApplication): Promise<void> {
  const scraper = app.get(MetricsScraper);
  return until(() => scraper.bytesInFlight === 0, 'the scrapes’ sends to finish');
}

export interface ChunkReuseSizes {
  /** Series of `app_big` (each about 210 bytes of exposition): 8,000 make 1.6 MB, 25 chunks. */
  series: number;
}

/** Exposition chunks reused across scrapes, with an exposition of `series` long series. */
export function describeChunkReuse({ series }: ChunkReuseSizes): void {
  const BigExposition = bigExposition(series);
  const chunks = Math.ceil((series * 210) / (64 * KiB));

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
    it(`after a finished scrape, the next render of ${series.toLocaleString('en-US')} series takes no new off-heap memory`, async () => {
      const gc = collector();
      const { app, url } = await start(target);
      try {
        const metrics = app.get(VezaMetricsRegistry);
        const size = (await scrape(url)).length;
        expect(size).toBeGreaterThan(chunks * 64 * KiB * 0.9);
        // The server's 'finish' (every write done) may come a turn after the client read the last byte.
        await sendsFinished(app);
        const before = await offHeapAfterGc(gc);
        const rendered = await metrics.renderChunks();
        const grown = process.memoryUsage().arrayBuffers - before;
        // A fresh Buffer per chunk: `chunks` of 64 KiB (at least 6); reused: at most one chunk beyond.
        expect(chunks).toBeGreaterThanOrEqual(6);
        expect(grown).toBeLessThan(128 * KiB);
        expect(Buffer.concat(rendered).toString('utf8')).toBe(await metrics.registry.metrics());
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
          await sendsFinished(app);
          expect(await scrape(url)).toBe(expected);
        }
      } finally {
        await app.close();
      }
    });
  });
}
