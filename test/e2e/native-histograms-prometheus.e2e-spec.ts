/**
 * Native histograms against a real Prometheus (issue 24, item 3): the Debian `prometheus` (2.42)
 * with `--enable-feature=native-histograms` scrapes a Nest app with `nativeHistograms: true` over the
 * protobuf exposition, after a known set of 1,000 observations (1 ms to 10 s) into a catalog
 * histogram (`veza_http_request_duration_seconds`, injected) and into an app histogram of its own
 * (`@Timed` with its own native settings). Through Prometheus' HTTP API: `histogram_count` and
 * `histogram_sum` exact, the schema the settings ask for, and `histogram_quantile(0.5 | 0.9 | 0.99)`
 * within that schema's bound of the exact quantile of the observations.
 *
 * Beside it a second Prometheus without the flag scrapes the same app (text exposition): the classic
 * `_bucket` series are there, bucket for bucket the seed's, while Prometheus 2.42 with the flag keeps
 * only the native series (it has no `scrape_classic_histograms`, which came in 2.45: see
 * docs/native-histograms.md). `promtool check metrics` finds nothing in the text exposition with
 * native histograms on but the two findings of the seed names catalog.md documents.
 *
 * `@Timed` times with `performance.now()`: test/utils/scripted-clock.ts scripts its two readings per
 * call (0, then the duration in ms), so the values it observes are known to the bit.
 *
 * Express and Fastify; prom-client and @prometheus-io/client (the latter on Node 22+; on Node 20 its
 * cases are skipped with a notice: the library refuses it there, as both-clients.e2e-spec.ts checks;
 * scripts/matrix.sh runs this spec on Node 24). With CI=true a missing `prometheus` or `promtool`
 * fails the spec (test/utils/tools.ts).
 */
// First: @Timed reads the clock bound when the library loads; the scripted one must be in place then.
import { scriptClock, scriptedLeft } from '../utils/scripted-clock';
import { Injectable } from '@nestjs/common';
import * as PI from '@prometheus-io/client';
import * as PC from 'prom-client';
import { InjectMetric, Timed, VezaMetric, VezaMetricsModule, type VezaMetricOf } from '../../src';
import { ADAPTERS, scrape, startApp, type AdapterKind, type StartedApp } from '../utils/app';
import { parseExposition } from '../utils/exposition';
import {
  dropsClassicOfNative,
  prometheusVersion,
  startPrometheus,
  type PrometheusServer,
} from '../utils/prometheus';
import { findTool, promtoolCheckMetrics } from '../utils/tools';

jest.setTimeout(120_000);

const prometheusBinary = findTool('prometheus');
const promtool = findTool('promtool');
const describeWithPrometheus = prometheusBinary && promtool ? describe : describe.skip;

const JOB = 'veza-native';
/** The `endpoint` of the injected observations: no route of the app has it. */
const ENDPOINT = '/native-fixture';
const HTTP_SELECTOR = `{job="${JOB}", method="GET", endpoint="${ENDPOINT}"}`;
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];
const TIMED = 'veza_native_fixture_seconds';
const TIMED_SELECTOR = `{job="${JOB}"}`;
/** What promtool says of the seed names, with or without native histograms (catalog.md). */
const SEED_FINDINGS = [
  'veza_health_check_duration_ms metric names should not contain abbreviated units',
  'veza_live_stream_viewers_total non-counter metrics should not have "_total" suffix',
];

/**
 * The observations: 1,000 durations from 1 ms to 10 s, log-uniform, in a scrambled order (the
 * golden-ratio sequence), in milliseconds with 3 decimals; observed in seconds as `ms / 1000` (what
 * `@Timed` computes from two clock readings 0 and `ms`).
 */
const MILLISECONDS = Array.from({ length: 1000 }, (_, i) =>
  Number((10 ** (4 * ((i * 0.6180339887498949) % 1))).toFixed(3)),
);
const SECONDS = MILLISECONDS.map((ms) => (ms - 0) / 1000);
/** The sum as the client adds it up: in the order observed. */
const SUM = SECONDS.reduce((a, b) => a + b, 0);

/**
 * The exact q-quantile of the observations as Prometheus ranks them: rank = q × count, and the
 * quantile is the smallest observation with at least `rank` observations at or below it (the
 * ⌈q × n⌉-th in increasing order; q × n computed in float64 as Prometheus does).
 */
function exactQuantile(q: number, values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

/**
 * The bound on the relative error of `histogram_quantile` over a native histogram of schema `s`:
 *
 *     |estimate − exact| / exact  ≤  2^(2^−s) − 1
 *
 * Prometheus finds the bucket (l, u] holding the rank's observation, and interpolates inside it:
 * linearly in 2.x (promql/quantile.go in v2.42.0), exponentially since 3.0 (commit 6fcd225a); either
 * way the estimate is in [l, u]. The exact quantile is that same observation, so it is in (l, u] too,
 * and a standard schema's buckets have u = l × 2^(2^−s): the two differ by at most u − l, which is
 * (2^(2^−s) − 1) × l ≤ (2^(2^−s) − 1) × exact. Schema 3 (factor 1.1, the default): 9.05 %; schema
 * 4: 4.43 %. (The zero bucket, interpolated linearly from 0, is out of it: no observation here is
 * anywhere near its 2^−128.)
 */
function schemaBound(schema: number): number {
  return 2 ** (2 ** -schema) - 1;
}

/** A native histogram sample of the query API: `[boundary rule, lower, upper, count]` per bucket. */
interface NativeSample {
  metric: Record<string, string>;
  histogram: [number, { count: string; sum: string; buckets?: [number, string, string, string][] }];
}

/** The schema of a native histogram, from its buckets' boundaries: upper / lower = 2^(2^−schema). */
function schemaOf(sample: NativeSample): number {
  const buckets = sample.histogram[1].buckets ?? [];
  const schemas = new Set(
    buckets
      .map(([, lower, upper]) => [Number(lower), Number(upper)])
      .filter(([lower]) => lower > 0)
      .map(([lower, upper]) => Math.round(-Math.log2(Math.log2(upper / lower)))),
  );
  if (schemas.size !== 1) throw new Error(`not one schema: ${JSON.stringify(buckets)}`);
  return [...schemas][0];
}

@Injectable()
class Fixture {
  constructor(
    @InjectMetric(VezaMetric.HttpRequestDuration)
    private readonly http: VezaMetricOf<typeof VezaMetric.HttpRequestDuration>,
  ) {}

  /** Each observation into the catalog histogram, under an endpoint of its own. */
  observeCatalog(): void {
    for (const seconds of SECONDS) this.http.observe({ method: 'GET', endpoint: ENDPOINT }, seconds);
  }

  /** An app histogram with native settings of its own: factor 1.05 (schema 4), room for 300 buckets. */
  @Timed({
    name: TIMED,
    help: 'A timed method of the app',
    nativeHistogram: { bucketFactor: 1.05, maxBuckets: 300 },
  })
  work(): void {
    // timed by the scripted clock
  }
}

/** The successor runs on Node 22+ only. */
const NODE_22 = Number(process.versions.node.split('.')[0]) >= 22;
const CLIENTS = [
  ['prom-client', (): object => new PC.Registry()],
  ['@prometheus-io/client', (): object => new PI.Registry()],
] as const;
const CASES: [string, AdapterKind, () => object][] = CLIENTS.flatMap(([client, registry]) =>
  ADAPTERS.map((kind): [string, AdapterKind, () => object] => [client, kind, registry]),
).filter(([client]) => NODE_22 || client !== '@prometheus-io/client');
if (!NODE_22)
  process.stdout.write(
    `NOTICE: Node ${process.versions.node}: the @prometheus-io/client cases of native-histograms-prometheus need Node 22+; skipped.\n`,
  );

describeWithPrometheus.each(CASES)(
  'native histograms scraped by Prometheus: %s on %s',
  (_client, kind, registry) => {
    let started: StartedApp;
    /** With `--enable-feature=native-histograms`: asks for protobuf, stores the native part. */
    let native: PrometheusServer;
    /** Without: scrapes the text exposition, stores the classic series. */
    let classic: PrometheusServer;

    beforeAll(async () => {
      started = await startApp(kind, {
        imports: [
          VezaMetricsModule.forRoot({
            registry: registry() as never,
            defaultMetrics: false,
            nativeHistograms: true,
            // Two Prometheus servers on loopback scrape at the same offset (same target, same
            // seed): the default (2 at once, 1 per client address) would refuse one of them.
            scrape: { maxConcurrent: 4 },
          }),
        ],
        providers: [Fixture],
      });
      const fixture = started.app.get(Fixture);
      fixture.observeCatalog();
      for (const ms of MILLISECONDS) {
        scriptClock(0, ms);
        fixture.work();
      }
      // Each timed call read its two readings, nothing else read any.
      expect(scriptedLeft()).toBe(0);

      const targets = [new URL(started.url).host];
      [native, classic] = await Promise.all([
        startPrometheus({ binary: prometheusBinary, targets, job: JOB, features: ['native-histograms'] }),
        startPrometheus({ binary: prometheusBinary, targets, job: JOB }),
      ]);
      await native.waitFor(`up{job="${JOB}"}`, (s) => s.length === 1 && s[0].value === 1, 30_000);
      await classic.waitFor(`up{job="${JOB}"}`, (s) => s.length === 1 && s[0].value === 1, 30_000);
      await native.scrapedAfterNow(30_000);
      await classic.scrapedAfterNow(30_000);
    }, 120_000);

    afterAll(async () => {
      await native?.stop();
      await classic?.stop();
      await started?.app.close();
    });

    /** The one native histogram sample `promql` answers. */
    async function nativeSample(server: PrometheusServer, promql: string): Promise<NativeSample> {
      const answer = await server.query(promql);
      const result = (answer.data?.result ?? []) as NativeSample[];
      if (answer.status !== 'success' || result.length !== 1 || !result[0].histogram)
        throw new Error(`${promql} answered ${JSON.stringify(answer).slice(0, 2000)}\n${server.logs()}`);
      return result[0];
    }

    it.each([
      [
        'the catalog histogram (module option, factor 1.1)',
        `veza_http_request_duration_seconds${HTTP_SELECTOR}`,
        3,
      ],
      ['the @Timed histogram (its own option, factor 1.05)', `${TIMED}${TIMED_SELECTOR}`, 4],
    ])('%s: count and sum exact, the schema asked for', async (_what, series, schema) => {
      expect(await native.value(`histogram_count(${series})`)).toBe(SECONDS.length);
      expect(await native.value(`histogram_sum(${series})`)).toBe(SUM);
      const sample = await nativeSample(native, series);
      expect({ count: Number(sample.histogram[1].count), sum: Number(sample.histogram[1].sum) }).toEqual({
        count: SECONDS.length,
        sum: SUM,
      });
      expect(schemaOf(sample)).toBe(schema);
      // Every observation is in a bucket, none in the zero bucket (all ≥ 1 ms).
      const buckets = sample.histogram[1].buckets ?? [];
      expect(buckets.reduce((n, [, , , count]) => n + Number(count), 0)).toBe(SECONDS.length);
      expect(Math.min(...buckets.map(([, lower]) => Number(lower)))).toBeGreaterThan(0);
    });

    it.each([
      ['the catalog histogram', `veza_http_request_duration_seconds${HTTP_SELECTOR}`, 3],
      ['the @Timed histogram', `${TIMED}${TIMED_SELECTOR}`, 4],
    ])(
      '%s: histogram_quantile(0.5 | 0.9 | 0.99) within the schema bound of the exact quantile',
      async (_what, series, schema) => {
        const bound = schemaBound(schema);
        for (const q of [0.5, 0.9, 0.99]) {
          const exact = exactQuantile(q, SECONDS);
          for (const promql of [
            `histogram_quantile(${q}, ${series})`,
            // As the dashboard asks: summed by labels (here one series), over the native series.
            `histogram_quantile(${q}, sum by (job) (${series}))`,
          ]) {
            const estimate = await native.value(promql);
            const error = Math.abs(estimate - exact) / exact;
            expect({ promql, estimate, exact, withinBound: error <= bound }).toEqual({
              promql,
              estimate,
              exact,
              withinBound: true,
            });
          }
        }
      },
    );

    it('keeps the classic buckets in the text exposition, the seed buckets, for a Prometheus without the flag', async () => {
      const exposed = parseExposition(await scrape(started.url))
        .get('veza_http_request_duration_seconds')!
        .samples.filter((s) => s.name.endsWith('_bucket') && s.labels.endpoint === ENDPOINT);
      const expected = Object.fromEntries(
        [...HTTP_BUCKETS, Infinity].map((le) => [String(le), SECONDS.filter((v) => v <= le).length]),
      );
      expect(
        Object.fromEntries(
          exposed.map((s) => [String(s.labels.le === '+Inf' ? Infinity : Number(s.labels.le)), s.value]),
        ),
      ).toEqual(expected);
      // The Prometheus that scrapes text stores them, and answers the dashboard's classic quantile.
      const stored = await classic.vector(`veza_http_request_duration_seconds_bucket${HTTP_SELECTOR}`);
      expect(
        Object.fromEntries(
          stored.map((s) => [String(s.metric.le === '+Inf' ? Infinity : Number(s.metric.le)), s.value]),
        ),
      ).toEqual(expected);
      expect(await classic.value(`sum(veza_http_request_duration_seconds_count${HTTP_SELECTOR})`)).toBe(
        SECONDS.length,
      );
      const p50 = await classic.value(
        `histogram_quantile(0.5, sum by (le) (veza_http_request_duration_seconds_bucket${HTTP_SELECTOR}))`,
      );
      expect(p50).toBeGreaterThan(0.05);
      expect(p50).toBeLessThanOrEqual(0.5);
      // No native series there: without the flag, Prometheus neither asks for protobuf nor stores them.
      expect(
        (await classic.query(`histogram_count(veza_http_request_duration_seconds${HTTP_SELECTOR})`)).data
          ?.result,
      ).toEqual([]);
    });

    it('Prometheus 2.42 with the flag keeps only the native series of a histogram with a native part (no scrape_classic_histograms before 2.45)', async () => {
      const version = prometheusVersion(prometheusBinary);
      if (!dropsClassicOfNative(version)) {
        process.stdout.write(
          `NOTICE: prometheus ${version.join('.')}: keeping the classic series is scrape_classic_histograms' (always_scrape_classic_histograms' in 3.x) choice; not checked here.\n`,
        );
        return;
      }
      for (const suffix of ['_bucket', '_count', '_sum'])
        expect({
          suffix,
          result: (await native.query(`veza_http_request_duration_seconds${suffix}${HTTP_SELECTOR}`)).data
            ?.result,
        }).toEqual({ suffix, result: [] });
      // The whole family is native: the app's own HTTP requests' series too.
      expect(await native.vector(`count(veza_http_request_duration_seconds_bucket{job="${JOB}"})`)).toEqual(
        [],
      );
    });

    it('passes promtool check metrics on the text exposition with native histograms on: no finding but the seed names documented in catalog.md', async () => {
      const text = await scrape(started.url);
      expect(text).toContain('# TYPE veza_http_request_duration_seconds histogram');
      expect(text).toContain(`# TYPE ${TIMED} histogram`);
      const { status, findings } = promtoolCheckMetrics(promtool!, text);
      expect(status === 0 || status === 3).toBe(true);
      expect(findings.filter((f) => !SEED_FINDINGS.includes(f))).toEqual([]);
    });
  },
);
