/**
 * Hostile label values (issue 12): values code might hand over, through every path that produces a
 * label value, keep the exposition valid for promtool in both formats; values from requests keep the
 * series cap exact. test/e2e/hostile-labels.e2e-spec.ts runs it small, test/stress at the size it had.
 */
import { Body, Controller, Get, HttpCode, Injectable, Module, Param, Post } from '@nestjs/common';
import fc from 'fast-check';
import {
  Counted,
  CountErrors,
  InjectMetric,
  VezaMetric,
  VezaMetricsModule,
  VezaMetricsRegistry,
  VezaMetricsService,
  type VezaMetricOf,
} from '../../../src';
import { ADAPTERS, startApp } from '../app';
import { parseExposition, sampleValue } from '../exposition';
import { rawRequest } from '../raw-http';
import { findTool, promtoolCheckMetrics } from '../tools';
import { AppRegistry } from '../../../src/registry/app-registry';
import { VEZA_METRICS_RESOLVED_OPTIONS } from '../../../src/options/inject-options';
import type { ResolvedOptions } from '../../../src/options/resolve-options';

const promtool = findTool('promtool');
const describeWithPromtool = promtool ? describe : describe.skip;

/** Values code might hand over as a label value, hostile ones first. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    '"',
    '\\',
    '\n',
    '\r',
    '\r\n',
    '\u0000',
    '\ud800',
    '\udfff',
    '\u2028',
    '{',
    '}',
    '=',
    ',',
    '# EOF',
    '"} 1\nfake 2',
    '\\"\\n',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .string({ unit: 'binary', minLength: 1, maxLength: 4 })
    .map((s) => s.repeat(Math.ceil(65_536 / s.length))),
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.object(),
  fc.array(fc.anything(), { maxLength: 3 }),
);

/** Where hostile values enter through the app: decorators with label functions, an injected metric. */
@Injectable()
class Feeder {
  constructor(
    @InjectMetric(VezaMetric.CacheHits) private readonly hits: VezaMetricOf<typeof VezaMetric.CacheHits>,
  ) {}

  @Counted({
    name: 'app_hostile_total',
    help: 'Calls labelled by their argument',
    labelNames: ['value'],
    labels: ({ args }) => ({ value: args[0] as string }),
  })
  counted(_value: unknown): void {}

  @CountErrors({
    type: (error) => (error as { label: string }).label,
    severity: (error) => (error as { label: string }).label,
  })
  failing(value: unknown): void {
    throw Object.assign(new Error('boom'), { label: value });
  }

  injected(value: unknown): void {
    this.hits.inc({ subsystem: value as string });
    this.hits.labels(value as string).inc();
  }
}

/** Route templates and error classes are label values too: an exception class with a hostile name. */
@Controller('hostile')
class HostileController {
  @Get(':id')
  fail(@Param('id') id: string): never {
    const Named = class extends Error {};
    Object.defineProperty(Named, 'name', { value: id });
    throw new Named('hostile');
  }
}

@Module({ providers: [Feeder], controllers: [HostileController] })
class HostileModule {}

function feed(service: VezaMetricsService, feeder: Feeder, v: unknown): void {
  const s = v as string;
  service.recordHttpRequest(s, s, 200, 0.01);
  service.recordDatabaseQuery(s, s, 0.002);
  service.recordDatabaseError(s, s);
  service.recordFileUpload(s, s, 2048);
  service.recordRateLimitHit(s, s);
  service.recordWebSocketMessage(s, s);
  service.recordError(s, s);
  service.recordHealthCheck(s, 12, s);
  service.recordCommerceOrder(s);
  service.recordUploadFailed(s);
  service.recordCacheMiss(s);
  feeder.counted(v);
  try {
    feeder.failing(v);
  } catch {
    // the business error, rethrown as it was
  }
  feeder.injected(v);
}

export interface HostileLabelsSizes {
  /** Hostile values fed through every path, in `batches` batches, the exposition checked after each. */
  values: number;
  batches: number;
  /** Hostile exception class names sent through real requests per batch. */
  requestsPerBatch: number;
  /** `cardinality.maxSeries` of the promtool test; `undefined` leaves the default (2,000). */
  maxSeries?: number;
  /** The promtool test's timeout: a guard against a hang (promtool runs twice per batch). */
  promtoolTimeoutMs: number;
  /** The cap test: every split of runs of "\u0000=" up to `runs - 1` pairs, against `labelCap` series. */
  runs: number;
  labelCap: number;
}

/** Hostile label values through every path that produces one (issue 12), at the sizes given. */
export function describeHostileLabels(sizes: HostileLabelsSizes): void {
  const { values: VALUES, batches, requestsPerBatch } = sizes;
  const perBatch = VALUES / batches;
  const cardinality = sizes.maxSeries === undefined ? {} : { cardinality: { maxSeries: sizes.maxSeries } };
  describeWithPromtool(
    `${VALUES.toLocaleString('en-US')} hostile label values through every path that produces one`,
    () => {
      it(
        'keeps the exposition valid for promtool, in the text format and in OpenMetrics',
        async () => {
          const values = fc.sample(hostile, { numRuns: VALUES, seed: 20261124 });
          expect(values).toHaveLength(VALUES);
          const { app, url } = await startApp('express', {
            imports: [VezaMetricsModule.forRoot({ naming: 'strict', ...cardinality }), HostileModule],
          });
          try {
            const service = app.get(VezaMetricsService);
            const feeder = app.get(Feeder);
            for (let batch = 0; batch < batches; batch++) {
              for (const v of values.slice(batch * perBatch, (batch + 1) * perBatch))
                feed(service, feeder, v);
              // Hostile exception class names reach veza_errors_total through real requests in each batch.
              for (const v of values.slice(batch * requestsPerBatch, (batch + 1) * requestsPerBatch)) {
                const text =
                  (String(v).slice(0, 200) as unknown as { toWellFormed(): string }).toWellFormed() ||
                  'empty';
                const res = await rawRequest(url, `/hostile/${encodeURIComponent(text)}`);
                expect([text, res.status]).toEqual([text, 500]);
              }
              const text = (await rawRequest(url, '/metrics')).body;
              expect(promtoolCheckMetrics(promtool as string, text)).toEqual({ status: 0, findings: [] });
              const om = await rawRequest(url, '/metrics', {
                headers: { Accept: 'application/openmetrics-text; version=1.0.0' },
              });
              const omText = om.body;
              expect(om.headers['content-type']).toBe(
                'application/openmetrics-text; version=1.0.0; charset=utf-8',
              );
              expect(omText.endsWith('\n# EOF\n')).toBe(true);
              expect(omText.split('\n# EOF\n')).toHaveLength(2);
              // promtool reads the text format only: it must parse OpenMetrics' lines too (no parse error),
              // its only remarks being that OpenMetrics names counter families without _total.
              const checked = promtoolCheckMetrics(promtool as string, omText);
              expect(
                checked.findings.filter((f) => !/^[a-zA-Z_:][a-zA-Z0-9_:]*_total no help text$/.test(f)),
              ).toEqual([]);
            }
            const registry = app.get(VezaMetricsRegistry);
            const { maxSeries } = app.get<ResolvedOptions>(VEZA_METRICS_RESOLVED_OPTIONS).cardinality;
            const text = await registry.render();
            // Every value is valid UTF-8 and no series count exceeds its cap plus the overflow series.
            expect(Buffer.from(text, 'utf8').toString('utf8')).toBe(text);
            const perMetric = new Map<string, number>();
            for (const line of text.split('\n')) {
              if (line.startsWith('#') || line === '') continue;
              const name = line.slice(0, line.search(/[{ ]/));
              perMetric.set(name, (perMetric.get(name) ?? 0) + 1);
            }
            for (const [name, count] of perMetric) {
              if (name.endsWith('_bucket')) continue;
              expect([name, count <= maxSeries + 1]).toEqual([name, true]);
            }
            // No sample's value is NaN (a label value may well read "NaN": fast-check's doubles give it).
            const nanSamples = [...parseExposition(text).values()].flatMap((family) =>
              family.samples.filter((sample) => Number.isNaN(sample.value)).map((sample) => sample.name),
            );
            expect(nanSamples).toEqual([]);
          } finally {
            await app.close();
          }
        },
        sizes.promtoolTimeoutMs,
      );
    },
  );

  /** Two labels straight from a request body: through an injected metric and through a service helper. */
  @Controller('label')
  class LabelController {
    constructor(
      @InjectMetric(VezaMetric.Errors) private readonly errors: VezaMetricOf<typeof VezaMetric.Errors>,
      private readonly metrics: VezaMetricsService,
    ) {}

    @Post()
    @HttpCode(204)
    record(@Body() body: { a: unknown; b: unknown }): void {
      this.errors.inc({ type: body.a as string, severity: body.b as string });
      this.metrics.recordDatabaseError(body.a as string, body.b as string);
    }
  }

  describe.each(ADAPTERS)('label values from requests against the series cap (%s)', (kind) => {
    const post = (url: string, a: string, b: string): Promise<Response> =>
      fetch(`${url}/label`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ a, b }),
      });
    const seriesOf = (text: string, name: string) => parseExposition(text).get(name)?.samples ?? [];

    it(`keeps the cap exact against values made of "\\u0000=": ${sizes.labelCap} series and the overflow series, every request counted`, async () => {
      const cap = sizes.labelCap;
      const { app, url } = await startApp(kind, {
        imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, cardinality: { maxSeries: cap } })],
        controllers: [LabelController],
      });
      try {
        // Every split of one run of "\u0000=" between the two labels is a label set of its own:
        // runs * (runs + 1) / 2 of them (496 for 31 runs).
        let sent = 0;
        for (let n = 0; n < sizes.runs; n++) {
          for (let i = 0; i <= n; i++) {
            const res = await post(url, '\u0000='.repeat(i), '\u0000='.repeat(n - i));
            expect(res.status).toBe(204);
            sent++;
          }
        }
        const text = await (await fetch(`${url}/metrics`)).text();
        for (const name of ['veza_errors_total', 'veza_database_query_errors_total']) {
          const series = seriesOf(text, name);
          expect([name, series.length, series.reduce((sum, s) => sum + s.value, 0)]).toEqual([
            name,
            cap + 1,
            sent,
          ]);
          expect([name, sampleValue(text, 'veza_metrics_series_overflow_total', { metric: name })]).toEqual([
            name,
            sent - cap,
          ]);
        }
        expect(sent).toBe((sizes.runs * (sizes.runs + 1)) / 2);
        expect(
          sampleValue(text, 'veza_errors_total', { type: '__overflow__', severity: '__overflow__' }),
        ).toBe(sent - cap);
      } finally {
        await app.close();
      }
    }, 120_000);

    it('records a request that sends "__overflow__" as "\\__overflow__" (not in the overflow series, not counted as overflow), and keeps apart label sets the client would merge (prom-client: into the overflow series)', async () => {
      const { app, url } = await startApp(kind, {
        imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, cardinality: { maxSeries: 100 } })],
        controllers: [LabelController],
      });
      try {
        await post(url, '__overflow__', 'x');
        // prom-client keys veza_errors_total by "severity:<b>,type:<a>,": these two share a key.
        await post(url, '', 'p,type:q');
        await post(url, 'q,type:', 'p');
        await post(url, 'q,type:', 'p');
        // The successor keys "<severity>|<type>|": these two would share its own key, which the
        // library replaces with an injective one.
        await post(url, 'b', 'a|');
        await post(url, '|b', 'a');
        const text = await (await fetch(`${url}/metrics`)).text();
        const successor = app.get(AppRegistry).client.seam.name === '@prometheus-io/client';
        expect(seriesOf(text, 'veza_errors_total').map((s) => [s.labels, s.value])).toEqual(
          successor
            ? [
                [{ type: '\\__overflow__', severity: 'x' }, 1],
                [{ type: '', severity: 'p,type:q' }, 1],
                [{ type: 'q,type:', severity: 'p' }, 2],
                [{ type: 'b', severity: 'a|' }, 1],
                [{ type: '|b', severity: 'a' }, 1],
              ]
            : [
                [{ type: '\\__overflow__', severity: 'x' }, 1],
                [{ type: '', severity: 'p,type:q' }, 1],
                [{ type: '__overflow__', severity: '__overflow__' }, 2],
                [{ type: 'b', severity: 'a|' }, 1],
                [{ type: '|b', severity: 'a' }, 1],
              ],
        );
        expect(text).toContain('veza_errors_total{type="\\\\__overflow__",severity="x"} 1');
        expect(sampleValue(text, 'veza_metrics_series_overflow_total', { metric: 'veza_errors_total' })).toBe(
          successor ? undefined : 2,
        );
        // The helper's path (recordDatabaseError) likewise.
        expect(
          sampleValue(text, 'veza_database_query_errors_total', {
            operation: '\\__overflow__',
            error_type: 'x',
          }),
        ).toBe(1);
      } finally {
        await app.close();
      }
    }, 60_000);
  });
}
