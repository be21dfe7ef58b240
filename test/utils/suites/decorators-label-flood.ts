/**
 * Issue #12, item 2: label values from input, as large as the body limit lets a client send, through
 * every decorator path that keeps label values (label functions of the generic decorators, error
 * types, order statuses, upload types and reasons, health check services, message types, query
 * error types). Over real HTTP on both adapters: the heap after GC grows by no more than the stated
 * bound of the caches (500 entries and 65,536 units of keys each, under 512 KiB with their series),
 * and the values land in /metrics exactly as the series guard records them: cut to 256 UTF-16 units.
 * test/e2e/decorators-label-flood.e2e-spec.ts runs it small, test/stress at the size it had before.
 */
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { VezaMetric } from '../../../src';
import { sanitizeLabelValue } from '../../../src/registry/series-guard';
import { ADAPTERS, scrape, startApp, type AdapterKind } from '../app';
import { sampleValue } from '../exposition';
import {
  CACHE_BOUND_BYTES,
  FLOOD_CACHES as CACHES,
  FLOOD_SERIES as SERIES,
  floodModule,
  postFlood as post,
} from '../flood-app';
import { collector } from '../memory';

/** Under Fastify's default body limit of 1 MiB with the JSON around it. */
const VALUE_LENGTH = 1_000_000;

/** A distinct value of 1 MB: its first 256 units differ from every other's; some end the cut inside a surrogate pair. */
function floodValue(i: number): string {
  const head = `v${i}-`;
  const pair = i % 3 === 0 ? '\u{1F600}' : 'ab';
  return head + 'x'.repeat(255 - head.length) + pair + 'y'.repeat(VALUE_LENGTH - 257);
}

export interface LabelFloodSizes {
  /** `cardinality.maxSeries`: series per metric before the overflow series. */
  maxSeries: number;
  /** Distinct values of 1 MB sent, each through every path: more than `maxSeries`. */
  values: number;
  /** The test's timeout: a guard against a hang, not a bound on speed. */
  timeoutMs: number;
}

export function describeLabelFlood({
  maxSeries: MAX_SERIES,
  values: VALUES,
  timeoutMs,
}: LabelFloodSizes): void {
  const FloodModule = floodModule(MAX_SERIES);

  describe.each(ADAPTERS)(
    `${VALUES} label values from input, 1 MB each, cap ${MAX_SERIES}, on %s (issue #12, item 2)`,
    (kind: AdapterKind) => {
      let app: INestApplication;
      let url: string;
      const gc = collector();

      beforeAll(async () => {
        ({ app, url } = await startApp(kind, { imports: [FloodModule] }, (a) => {
          if (kind === 'express') (a as NestExpressApplication).useBodyParser('json', { limit: '2mb' });
          else
            (a as NestFastifyApplication).useBodyParser('application/json', { bodyLimit: 2 * 1024 * 1024 });
        }));
      });
      afterAll(async () => {
        await app?.close();
      });

      it(
        'keeps the heap after GC within the bound of the caches, and /metrics holds the values as the guard cuts them',
        async () => {
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
          expect(sampleValue(text, 'app_flood_total', { value: '__overflow__' })).toBe(
            VALUES - (MAX_SERIES - 1),
          );
          expect(sampleValue(text, VezaMetric.CommerceOrders, { status: '__overflow__' })).toBe(
            VALUES - (MAX_SERIES - 1),
          );
          expect(text).not.toContain('x'.repeat(300));
        },
        timeoutMs,
      );
    },
  );
}
