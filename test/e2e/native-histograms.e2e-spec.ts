/**
 * Native histograms in a real application, over real HTTP on both adapters and both clients: the
 * HTTP duration histogram (the recorder's cells), `@Timed` histograms (the decorators' cells) with
 * the module's setting, their own, or none, each series' native part holding exactly what its
 * classic part holds.
 */
import { Controller, Get, Injectable, Module, Param } from '@nestjs/common';
import * as PI from '@prometheus-io/client';
import * as PC from 'prom-client';
import { Timed, VezaMetric, VezaMetricsModule, VezaMetricsRegistry } from '../../src';
import { layoutOf } from '../../src/compat/metrics-client';
import type { SeriesEntry } from '../../src/compat/series-storage';
import {
  NativeHistogram,
  nativeConfigOf,
  nativeSnapshotOf,
  resolveNativeConfig,
  type NativeHistogramSnapshot,
} from '../../src/native/native-histogram';
import { ADAPTERS, scrape, startApp, type StartedApp } from '../utils/app';
import { rawRequest } from '../utils/raw-http';
import { sampleValue } from '../utils/exposition';

jest.setTimeout(60_000);

@Injectable()
class Transcoder {
  /** One series per track: each holds one observation, whose value is its sum. */
  @Timed({
    name: 'e2e_transcode_seconds',
    help: 'Transcoding',
    labelNames: ['track'],
    labels: ({ args }) => ({ track: String(args[0]) }),
  })
  transcode(track: string): string {
    return track;
  }

  @Timed({ name: 'e2e_coarse_seconds', help: 'Coarse', nativeHistogram: { bucketFactor: 2, maxBuckets: 8 } })
  coarse(): void {}

  @Timed({ name: 'e2e_classic_seconds', help: 'Classic only', nativeHistogram: false })
  classic(): void {}
}

@Controller('tracks')
class TracksController {
  constructor(private readonly transcoder: Transcoder) {}

  @Get(':id')
  get(@Param('id') id: string): string {
    this.transcoder.coarse();
    this.transcoder.classic();
    return this.transcoder.transcode(id);
  }
}

const REQUESTS = 12;

/** Observations a snapshot holds (zero bucket and both signs). */
function totalOf(s: NativeHistogramSnapshot): number {
  let total = s.zeroCount;
  for (const deltas of [s.positiveDeltas, s.negativeDeltas]) {
    let count = 0;
    for (const d of deltas) total += count += d;
  }
  return total;
}

/** The successor runs on Node 22+ only (on Node 20 its start-up fails, saying why): test/unit/native-filing.spec.ts covers its paths there. */
const NODE_22 = Number(process.versions.node.split('.')[0]) >= 22;
const CLIENTS = [
  ['prom-client', () => new PC.Registry()],
  ...(NODE_22 ? [['@prometheus-io/client', () => new PI.Registry()] as const] : []),
] as const;

describe.each(CLIENTS)('native histograms on %s', (_client, makeRegistry) => {
  describe.each(ADAPTERS)('%s', (kind) => {
    let started: StartedApp;
    let metrics: VezaMetricsRegistry;
    beforeAll(async () => {
      @Module({
        imports: [
          VezaMetricsModule.forRoot({
            registry: makeRegistry(),
            defaultMetrics: false,
            nativeHistograms: true,
          }),
        ],
        controllers: [TracksController],
        providers: [Transcoder],
      })
      class AppModule {}
      started = await startApp(kind, { imports: [AppModule] });
      metrics = started.app.get(VezaMetricsRegistry);
      for (let i = 0; i < REQUESTS; i++) {
        const res = await rawRequest(started.url, `/tracks/t${i}`);
        expect(res.status).toBe(200);
      }
    });
    afterAll(() => started?.app.close());

    const entriesOf = (metric: object): SeriesEntry[] => layoutOf(metric)!.entries(metric);

    it('files every HTTP request natively, with the classic count', async () => {
      const duration = metrics.get(VezaMetric.HttpRequestDuration);
      expect(nativeConfigOf(duration)).toEqual(resolveNativeConfig());
      const [entry] = entriesOf(duration).filter((e) => e.labels?.endpoint === '/tracks/:id');
      expect(entry.count).toBe(REQUESTS);
      const snapshot = nativeSnapshotOf(duration, entry)!;
      expect(snapshot.schema).toBe(3);
      expect(totalOf(snapshot)).toBe(REQUESTS);
      // The text exposition is unchanged: the classic count.
      expect(
        sampleValue(await scrape(started.url), 'veza_http_request_duration_seconds_count', {
          method: 'GET',
          endpoint: '/tracks/:id',
        }),
      ).toBe(REQUESTS);
    });

    it("files @Timed histograms natively with the module's setting, their own, or not at all", () => {
      const transcode = metrics.registry.getSingleMetric('e2e_transcode_seconds') as object;
      const series = entriesOf(transcode);
      expect(series).toHaveLength(REQUESTS);
      for (const entry of series) {
        const fresh = new NativeHistogram(resolveNativeConfig(), undefined);
        fresh.observe(entry.sum!);
        expect(entry.count).toBe(1);
        expect(nativeSnapshotOf(transcode, entry)).toEqual(fresh.snapshot());
      }
      const coarse = metrics.registry.getSingleMetric('e2e_coarse_seconds') as object;
      const [entry] = entriesOf(coarse);
      const snapshot = nativeSnapshotOf(coarse, entry)!;
      expect(snapshot.schema).toBeLessThanOrEqual(0);
      expect(totalOf(snapshot)).toBe(REQUESTS);
      expect(entry.count).toBe(REQUESTS);
      const classic = metrics.registry.getSingleMetric('e2e_classic_seconds') as object;
      expect(nativeConfigOf(classic)).toBeUndefined();
      expect(nativeSnapshotOf(classic, entriesOf(classic)[0])).toBeUndefined();
    });
  });
});
