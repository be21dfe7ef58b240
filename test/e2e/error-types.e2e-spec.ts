/**
 * Issue 21 item 4, over real HTTP on Express and Fastify: a handler that rethrows an upstream
 * service's parsed JSON error body (`{"constructor": {"name": "<1 MB>"}}`) is counted as
 * `OtherError`; no such name is kept (heap growth bounded), and none takes one of the 50 places the
 * application's own error classes are named in.
 */
import { Controller, Get, Param } from '@nestjs/common';
import { OTHER_ERROR_TYPE, VezaMetricsModule } from '../../src';
import { MAX_EXTRA_ERROR_TYPES } from '../../src/http/error-labels';
import { ADAPTERS, scrape, startApp } from '../utils/app';
import { sampleValue } from '../utils/exposition';
import { collector, heapAfterGc } from '../utils/memory';
import { rawRequest } from '../utils/raw-http';

const MB = 1024 * 1024;
const UPSTREAM_ERRORS = 60;

/** What an upstream service answered, as the handler parses it: a JSON error body naming a 1 MB constructor. */
function upstreamAnswer(i: number): string {
  return JSON.stringify({ constructor: { name: `Upstream${i}${'x'.repeat(MB)}` }, message: 'declined' });
}

/** The application's own error classes, `AppError0` to `AppError49`. */
const APP_ERRORS = Array.from(
  { length: MAX_EXTRA_ERROR_TYPES },
  (_, i) => ({ [`AppError${i}`]: class extends Error {} })[`AppError${i}`] as new (m: string) => Error,
);

@Controller()
class UpstreamController {
  @Get('upstream/:i')
  upstream(@Param('i') i: string): never {
    // The upstream's error, rethrown as it was parsed.
    throw JSON.parse(upstreamAnswer(Number(i)));
  }

  @Get('own/:i')
  own(@Param('i') i: string): never {
    throw new APP_ERRORS[Number(i)]('own');
  }
}

describe.each(ADAPTERS)('error types of thrown values that are not errors (%s)', (kind) => {
  it(`${UPSTREAM_ERRORS} rethrown upstream bodies naming 1 MB constructors: OtherError, under 8 MiB of heap, and the app's ${MAX_EXTRA_ERROR_TYPES} classes keep their names`, async () => {
    const gc = collector();
    const { app, url } = await startApp(kind, {
      imports: [VezaMetricsModule.forRoot({ defaultMetrics: false })],
      controllers: [UpstreamController],
    });
    try {
      // Warm the routes, the error path and the exposition up before measuring.
      expect((await rawRequest(url, '/upstream/1000')).status).toBe(500);
      await scrape(url);
      const before = heapAfterGc(gc);
      for (let i = 0; i < UPSTREAM_ERRORS; i++)
        expect((await rawRequest(url, `/upstream/${i}`)).status).toBe(500);
      const grown = heapAfterGc(gc) - before;
      // Before the fix: 50 names of 1 MB kept uncut (97 MB for 60 on this path).
      expect(grown).toBeLessThan(8 * MB);
      for (let i = 0; i < MAX_EXTRA_ERROR_TYPES; i++)
        expect((await rawRequest(url, `/own/${i}`)).status).toBe(500);
      const text = await scrape(url);
      expect(sampleValue(text, 'veza_errors_total', { type: OTHER_ERROR_TYPE, severity: 'critical' })).toBe(
        UPSTREAM_ERRORS + 1,
      );
      for (let i = 0; i < MAX_EXTRA_ERROR_TYPES; i++)
        expect([
          i,
          sampleValue(text, 'veza_errors_total', { type: `AppError${i}`, severity: 'critical' }),
        ]).toEqual([i, 1]);
      expect(text).not.toContain('Upstream');
    } finally {
      await app.close();
    }
  }, 120_000);
});
