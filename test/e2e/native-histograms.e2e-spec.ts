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
import { decodeFamilies, type DecodedFamily } from '../utils/protobuf';

/** What Prometheus 2.42 sends: the protobuf exposition first. */
const PROTOBUF_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1';

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

    it('serves the native parts in the protobuf exposition: schema, spans, deltas and the shared count', async () => {
      const res = await fetch(`${started.url}/metrics`, { headers: { accept: PROTOBUF_ACCEPT } });
      expect(res.status).toBe(200);
      const families = new Map<string, DecodedFamily>(
        decodeFamilies(new Uint8Array(await res.arrayBuffer())).map((f) => [f.name as string, f]),
      );
      const metricOf = (name: string, labels: Record<string, string> = {}) =>
        (families.get(name)?.metric as DecodedFamily[]).find((m) =>
          Object.entries(labels).every(([k, v]) =>
            (m.label as Array<{ name: string; value: string }>).some((l) => l.name === k && l.value === v),
          ),
        )?.histogram as DecodedFamily;
      const http = metricOf('veza_http_request_duration_seconds', { endpoint: '/tracks/:id' });
      expect(http.schema).toBe(3);
      expect(http.sampleCount).toBe(REQUESTS);
      const native = {
        schema: http.schema as number,
        zeroThreshold: http.zeroThreshold as number,
        zeroCount: (http.zeroCount as number | undefined) ?? 0,
        positiveSpans: (http.positiveSpan ?? []) as Array<{ offset: number; length: number }>,
        positiveDeltas: ((http.positiveDelta ?? []) as number[]).map(Number),
        negativeSpans: [],
        negativeDeltas: [],
      };
      expect(totalOf(native)).toBe(REQUESTS);
      // A series of the @Timed histogram: exactly the native part of its one observation.
      const duration = metrics.registry.getSingleMetric('e2e_transcode_seconds') as object;
      const entry = entriesOf(duration).find((e) => e.labels?.track === 't3')!;
      const fresh = new NativeHistogram(resolveNativeConfig(), undefined);
      fresh.observe(entry.sum!);
      const expected = fresh.snapshot();
      const t3 = metricOf('e2e_transcode_seconds', { track: 't3' });
      expect(t3.schema).toBe(expected.schema);
      expect(t3.positiveSpan).toEqual(
        expected.positiveSpans.map((s) => ({ offset: s.offset, length: s.length })),
      );
      expect((t3.positiveDelta as number[]).map(Number)).toEqual(expected.positiveDeltas);
      // The one with nativeHistogram: false: classic buckets only.
      const classic = metricOf('e2e_classic_seconds');
      expect(classic.sampleCount).toBe(REQUESTS);
      expect(classic.positiveSpan ?? []).toEqual([]);
      expect(classic.schema).toBeUndefined();
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
