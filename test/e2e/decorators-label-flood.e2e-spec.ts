/**
 * Issue #12, item 2: label values from input, as large as the body limit lets a client send, through
 * every decorator path that keeps label values (label functions of the generic decorators, error
 * types, order statuses, upload types and reasons, health check services, message types, query
 * error types). Over real HTTP on both adapters: the heap after GC grows by no more than the stated
 * bound of the caches (500 entries and 65,536 units of keys each, under 512 KiB with their series),
 * and the values land in /metrics exactly as the series guard records them: cut to 256 UTF-16 units.
 */
import { Body, Controller, HttpCode, Injectable, Module, Post, type INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  CountErrors,
  CountOrder,
  Counted,
  CountWebSocketMessage,
  InProgress,
  Timed,
  TrackDbQuery,
  TrackHealthCheck,
  TrackUpload,
  VezaMetric,
  VezaMetricsModule,
} from '../../src';
import { sanitizeLabelValue } from '../../src/registry/series-guard';
import { ADAPTERS, scrape, startApp, type AdapterKind } from '../utils/app';
import { sampleValue } from '../utils/exposition';
import { collector } from '../utils/memory';

const failure = (value: string): Error => Object.assign(new Error('refused'), { value });

@Injectable()
class Flooded {
  @Counted({
    name: 'app_flood_total',
    help: 'x',
    labelNames: ['value'],
    labels: ({ args: [v] }) => ({ value: v as string }),
  })
  counted(_v: string): void {}

  @Timed({
    name: 'app_flood_seconds',
    help: 'x',
    labelNames: ['value'],
    labels: ({ args: [v] }) => ({ value: v as string }),
  })
  timed(_v: string): void {}

  @InProgress({
    name: 'app_flood_in_flight',
    help: 'x',
    labelNames: ['value'],
    labels: (v: string) => ({ value: v }),
  })
  async inFlight(_v: string): Promise<void> {}

  @CountErrors({
    type: (e) => (e as { value: string }).value,
    severity: (e) => (e as { value: string }).value,
  })
  errors(v: string): void {
    throw failure(v);
  }

  @CountOrder()
  order(v: string): { status: string } {
    return { status: v };
  }

  @TrackUpload({ type: (v: string) => v, size: () => 1 })
  upload(_v: string): void {}

  @TrackUpload({ type: 'audio', failureReason: (e) => (e as { value: string }).value })
  uploadFailing(v: string): void {
    throw failure(v);
  }

  @TrackHealthCheck((v: string) => v)
  health(_v: string): void {}

  @CountWebSocketMessage((v: string) => v, { status: (r: string) => r })
  message(v: string): string {
    return v;
  }

  @TrackDbQuery('select', 'flood', { errorType: (e) => (e as { value: string }).value })
  query(v: string): void {
    throw failure(v);
  }
}

/** Every decorator path above, with one value. */
const PATHS: ReadonlyArray<(f: Flooded, v: string) => unknown> = [
  (f, v) => f.counted(v),
  (f, v) => f.timed(v),
  (f, v) => f.inFlight(v),
  (f, v) => f.errors(v),
  (f, v) => f.order(v),
  (f, v) => f.upload(v),
  (f, v) => f.uploadFailing(v),
  (f, v) => f.health(v),
  (f, v) => f.message(v),
  (f, v) => f.query(v),
];
/** The SeriesCaches those decorators hold (TrackUpload holds three). */
const CACHES = 14;
const CACHE_BOUND_BYTES = 512 * 1024;

@Controller('flood')
class FloodController {
  constructor(private readonly flooded: Flooded) {}

  @Post()
  @HttpCode(204)
  async flood(@Body() body: { value: string }): Promise<void> {
    for (const path of PATHS) {
      try {
        await path(this.flooded, body.value);
      } catch {
        // The methods that throw do so on purpose.
      }
    }
  }
}

/** Where each path writes the value, as [metric, labels] (the value stands for itself). */
const SERIES: ReadonlyArray<[string, (v: string) => Record<string, string>]> = [
  ['app_flood_total', (v) => ({ value: v })],
  ['app_flood_seconds_count', (v) => ({ value: v })],
  ['app_flood_in_flight', (v) => ({ value: v })],
  [VezaMetric.Errors, (v) => ({ type: v, severity: v })],
  [VezaMetric.CommerceOrders, (v) => ({ status: v })],
  [VezaMetric.FileUploads, (v) => ({ type: v, status: 'success' })],
  [`${VezaMetric.FileUploadSize}_count`, (v) => ({ type: v })],
  [VezaMetric.UploadsFailed, (v) => ({ reason: v })],
  [VezaMetric.HealthCheckStatus, (v) => ({ service: v })],
  [`${VezaMetric.HealthCheckDuration}_count`, (v) => ({ service: v })],
  [VezaMetric.WebSocketMessages, (v) => ({ type: v, status: v })],
  [VezaMetric.DatabaseQueryErrors, (v) => ({ operation: 'select', error_type: v })],
];

const MAX_SERIES = 20;
const VALUES = 300;
/** Under Fastify's default body limit of 1 MiB with the JSON around it. */
const VALUE_LENGTH = 1_000_000;

/** A distinct value of 1 MB: its first 256 units differ from every other's; some end the cut inside a surrogate pair. */
function floodValue(i: number): string {
  const head = `v${i}-`;
  const pair = i % 3 === 0 ? '\u{1F600}' : 'ab';
  return head + 'x'.repeat(255 - head.length) + pair + 'y'.repeat(VALUE_LENGTH - 257);
}

@Module({
  imports: [
    VezaMetricsModule.forRoot({ defaultMetrics: false, http: false, cardinality: { maxSeries: MAX_SERIES } }),
  ],
  controllers: [FloodController],
  providers: [Flooded],
})
class FloodModule {}

async function post(url: string, value: string): Promise<void> {
  const res = await fetch(`${url}/flood`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ value }),
  });
  await res.arrayBuffer();
  if (res.status !== 204) throw new Error(`POST /flood answered ${res.status}`);
}

describe.each(ADAPTERS)(
  'label values from input, 1 MB each, on %s (issue #12, item 2)',
  (kind: AdapterKind) => {
    let app: INestApplication;
    let url: string;
    const gc = collector();

    beforeAll(async () => {
      ({ app, url } = await startApp(kind, { imports: [FloodModule] }, (a) => {
        if (kind === 'express') (a as NestExpressApplication).useBodyParser('json', { limit: '2mb' });
        else (a as NestFastifyApplication).useBodyParser('application/json', { bodyLimit: 2 * 1024 * 1024 });
      }));
    });
    afterAll(async () => {
      await app?.close();
    });

    it('keeps the heap after GC within the bound of the caches, and /metrics holds the values as the guard cuts them', async () => {
      // Warm-up: a short value through every path, so that what is built once is built before the baseline.
      await post(url, 'warm');
      await scrape(url);
      gc();
      gc();
      const baseline = process.memoryUsage().heapUsed;
      for (let i = 0; i < VALUES; i++) await post(url, floodValue(i));
      gc();
      gc();
      const grown = process.memoryUsage().heapUsed - baseline;
      // The caches' bound, plus the series the guard lets prom-client keep (MAX_SERIES per metric, each
      // under 4 KiB with 256-unit values), plus 4 MiB for the noise of one process running Nest and Jest.
      const bound = CACHES * CACHE_BOUND_BYTES + SERIES.length * (MAX_SERIES + 1) * 4096 + 4 * 2 ** 20;
      process.stdout.write(
        `${kind}: ${VALUES} distinct values of ${VALUE_LENGTH} units: heap +${(grown / 2 ** 20).toFixed(1)} MiB after GC (bound ${(bound / 2 ** 20).toFixed(1)} MiB)\n`,
      );
      expect(grown).toBeLessThan(bound);

      const text = await scrape(url);
      // The first values land as the guard cuts them (the warm-up took one series of each metric, and
      // the failing upload one of veza_file_uploads_total).
      for (let i = 0; i < MAX_SERIES - 2; i++) {
        const cut = sanitizeLabelValue(floodValue(i));
        expect(cut.length).toBe(256);
        for (const [name, labels] of SERIES) {
          const expected = name === 'app_flood_in_flight' ? 0 : 1;
          expect([name, i, sampleValue(text, name, labels(cut))]).toEqual([name, i, expected]);
        }
      }
      // The rest are folded into the overflow series, every call counted.
      expect(sampleValue(text, 'app_flood_total', { value: '__overflow__' })).toBe(VALUES - (MAX_SERIES - 1));
      expect(sampleValue(text, VezaMetric.CommerceOrders, { status: '__overflow__' })).toBe(
        VALUES - (MAX_SERIES - 1),
      );
      expect(text).not.toContain('x'.repeat(300));
    }, 240_000);
  },
);
