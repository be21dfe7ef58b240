import { request } from 'node:http';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { compileLibrary, get, FixturePrimary } from '../utils/cluster-fixture';
import { sampleValue } from '../utils/exposition';
import { decodeFamilies, type DecodedFamily } from '../utils/protobuf';
import {
  NativeHistogram,
  resolveNativeConfig,
  type NativeHistogramSnapshot,
} from '../../src/native/native-histogram';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE = path.join(ROOT, 'test/fixtures/cluster/cluster-native-app.js');
const HISTOGRAM = 'veza_database_query_duration_seconds';
const PROTOBUF =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

interface FixtureMessage {
  fixture: 'ready' | 'observed' | 'hostile' | 'exit' | 'forked';
  metricsUrl?: string;
  workers?: { id: number; pid: number }[];
  worker?: number;
  schema?: number;
  count?: number;
}

/** Durations of worker 1 (schema 3, 160 buckets) and worker 2 (8 buckets: its schema goes down). */
const VALUES_1 = [0.0004, 0.002, 0.002, 0.013, 0.07, 0.3, 0.3, 0.31, 1.2, 4];
const VALUES_2 = [0.0009, 0.004, 0.03, 0.05, 0.2, 0.8, 2.5, 9, 30, 0];
const VALUES_3 = [0.006, 0.6, 6];

/** GET with an Accept header; the body's bytes. */
function fetchBytes(url: string, accept: string): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type']),
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    req.setTimeout(120_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The counts of a native part by bucket key (`+k`, `-k`, `zero`), from snapshot or decoded message fields. */
function countsOf(h: {
  zeroCount?: number;
  positiveSpan?: { offset?: number; length?: number }[];
  positiveDelta?: number[];
  negativeSpan?: { offset?: number; length?: number }[];
  negativeDelta?: number[];
}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [prefix, spans, deltas] of [
    ['+', h.positiveSpan ?? [], h.positiveDelta ?? []],
    ['-', h.negativeSpan ?? [], h.negativeDelta ?? []],
  ] as const) {
    let key = 0;
    let count = 0;
    let d = 0;
    for (const span of spans) {
      key += span.offset ?? 0;
      for (let i = 0; i < (span.length ?? 0); i++, key++) {
        count += deltas[d++];
        if (count !== 0) out[`${prefix}${key}`] = count;
      }
    }
  }
  if (h.zeroCount) out.zero = h.zeroCount;
  return out;
}

const asFields = (s: NativeHistogramSnapshot) => ({
  zeroCount: s.zeroCount,
  positiveSpan: [...s.positiveSpans],
  positiveDelta: [...s.positiveDeltas],
  negativeSpan: [...s.negativeSpans],
  negativeDelta: [...s.negativeDeltas],
});

/** One histogram fed every value at `schema` (budget wide enough never to lower it). */
function reference(values: readonly number[], schema: number): Record<string, number> {
  const native = new NativeHistogram({ ...resolveNativeConfig(), schema, maxBuckets: 10_000 }, undefined);
  for (const v of values) native.observe(v);
  return countsOf(asFields(native.snapshot()));
}

/** The decoded `Histogram` message of the series the workers observe into. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function seriesOf(families: DecodedFamily[]): Record<string, any> {
  const family = families.find((f) => f.name === HISTOGRAM);
  const metric = family?.metric?.find((m: { label: { name: string; value: string }[] }) =>
    m.label.some((l) => l.name === 'table' && l.value === 'users'),
  );
  if (!metric) throw new Error(`no ${HISTOGRAM} series in the answer`);
  return metric.histogram;
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

/**
 * Issue #24, item 2: the cluster's primary merges its workers' native histograms exactly (same
 * schema: buckets added; different: brought to the lower one), serves them in protobuf, keeps an
 * exited worker's part so that the sum never goes back, and drops a malformed part without harm.
 */
describe('Node cluster with native histograms: the primary merges the workers’ native parts', () => {
  const out = path.join(ROOT, '.tmp', `cluster-native-lib-${process.pid}`);
  let primary: FixturePrimary<FixtureMessage> | undefined;
  let metricsUrl = '';
  let workers: number[] = [];
  /** Every value observed by any worker, alive or not: what the sum holds. */
  const observed: number[] = [];
  const next = (match: (m: FixtureMessage) => boolean, timeoutMs = 60_000): Promise<FixtureMessage> =>
    (primary as FixturePrimary<FixtureMessage>).next(match, timeoutMs);

  async function observe(worker: number, values: number[]): Promise<FixtureMessage> {
    primary?.send({ cmd: 'observe', worker, values });
    const done = await next((m) => m.fixture === 'observed' && m.worker === worker);
    observed.push(...values);
    return done;
  }

  async function scrapeProtobuf(): Promise<DecodedFamily[]> {
    const { status, type, body } = await fetchBytes(metricsUrl, PROTOBUF);
    if (status !== 200)
      throw new Error(`GET ${metricsUrl} answered ${status}: ${body.toString().slice(0, 200)}`);
    expect(type).toBe(PROTOBUF);
    return decodeFamilies(body);
  }

  async function scrapeText(): Promise<string> {
    const { status, body } = await get(metricsUrl);
    if (status !== 200) throw new Error(`GET ${metricsUrl} answered ${status}: ${body.slice(0, 200)}`);
    return body;
  }

  /** The merged series: count, sum and native buckets exactly those of one histogram fed every value at its schema. */
  function expectExactSum(h: Record<string, unknown>): void {
    expect(h.sampleCount).toBe(observed.length);
    expect(h.sampleSum).toBeCloseTo(sum(observed), 12);
    expect(typeof h.schema).toBe('number');
    expect(countsOf(h)).toEqual(reference(observed, h.schema as number));
  }

  beforeAll(async () => {
    primary = new FixturePrimary<FixtureMessage>(FIXTURE, {
      VEZA_METRICS_LIB: compileLibrary(out),
      WORKERS: '2',
    });
    const ready = await next((m) => m.fixture === 'ready', 90_000);
    metricsUrl = ready.metricsUrl as string;
    workers = (ready.workers ?? []).map((w) => w.id);
  }, 120_000);

  afterAll(async () => {
    await primary?.stop();
    rmSync(out, { recursive: true, force: true });
  }, 15_000);

  it('answers protobuf with the exact sum of two workers at different schemas (the lower one), count and sum exact', async () => {
    expect(workers).toEqual([1, 2]);
    const one = await observe(1, VALUES_1);
    const two = await observe(2, VALUES_2);
    // Worker 2's budget of 8 buckets lowered its schema; worker 1 kept schema 3.
    expect(one.schema).toBe(3);
    expect(two.schema).toBeLessThan(3);
    const h = seriesOf(await scrapeProtobuf());
    expect(h.schema).toBe(two.schema);
    expectExactSum(h);
    expect(h.zeroCount).toBe(1);
    // The classic buckets beside it, as the text exposition has them.
    const text = await scrapeText();
    const labels = { operation: 'select', table: 'users' };
    expect(sampleValue(text, `${HISTOGRAM}_count`, labels)).toBe(observed.length);
    expect(sampleValue(text, `${HISTOGRAM}_bucket`, { ...labels, le: '0.01' })).toBe(
      observed.filter((v) => v <= 0.01).length,
    );
    const buckets = (h.bucket as { upperBound: number; cumulativeCount: number }[]).map((b) => [
      b.upperBound,
      b.cumulativeCount,
    ]);
    expect(buckets).toContainEqual([0.01, observed.filter((v) => v <= 0.01).length]);
    expect(text).not.toContain('schema');
    expect(sampleValue(text, 'veza_metrics_cluster_worker_errors_total')).toBe(0);
  }, 90_000);

  it('keeps a killed worker’s native part: the sum never goes back, while scraped during its restart', async () => {
    const before = seriesOf(await scrapeProtobuf());
    // Worker 2 is killed as soon as worker 1 has answered a scrape: that scrape waits for worker 2 until its exit.
    primary?.send({ cmd: 'killWhen', worker: 2, answered: 1 });
    const during = seriesOf(await scrapeProtobuf());
    await next((m) => m.fixture === 'exit' && m.worker === 2);
    expectExactSum(during);
    expect(countsOf(during)).toEqual(countsOf(before));
    // Scraped while its replacement starts and observes.
    primary?.send({ cmd: 'fork' });
    const scrapes: Record<string, unknown>[] = [];
    const forked = next((m) => m.fixture === 'forked');
    for (let i = 0; i < 3; i++) scrapes.push(seriesOf(await scrapeProtobuf()));
    const fresh = (await forked).worker as number;
    await observe(fresh, VALUES_3);
    scrapes.push(seriesOf(await scrapeProtobuf()));
    let previous = before.sampleCount as number;
    for (const h of scrapes) {
      expect(h.sampleCount).toBeGreaterThanOrEqual(previous);
      previous = h.sampleCount as number;
      // Never a native part that disagrees with the count.
      expect(sum(Object.values(countsOf(h)))).toBe(h.sampleCount);
    }
    expectExactSum(scrapes[scrapes.length - 1]);
    workers = [1, fresh];
  }, 120_000);

  it.each([
    ['schema 99', { schema: 99 }],
    ['NaN deltas (null once sent as JSON)', { positiveDeltas: [NaN, NaN] }],
    ['a negative span length', { positiveSpans: [{ offset: 0, length: -5 }] }],
    ['counts past 2^53', { zeroCount: 2 ** 53 + 10 }],
    ['20,000 spans', { spans: 20_000 }],
  ])(
    'drops a hostile worker’s native part (%s): that series classic only, the primary fine',
    async (_, native) => {
      const hostile = workers[1];
      const errors = sampleValue(await scrapeText(), 'veza_metrics_cluster_worker_errors_total') as number;
      primary?.send({ cmd: 'hostile', worker: hostile, native });
      await next((m) => m.fixture === 'hostile' && m.worker === hostile);
      const h = seriesOf(await scrapeProtobuf());
      // The classic part of every worker is summed; the native part, no longer the sum of all, is left out.
      expect(h.sampleCount).toBe(observed.length);
      expect(h.schema).toBeUndefined();
      expect(h.positiveSpan ?? []).toEqual([]);
      const text = await scrapeText();
      expect(sampleValue(text, 'veza_metrics_cluster_worker_errors_total')).toBeGreaterThan(errors);
      expect(sampleValue(text, 'veza_metrics_cluster_worker_up', { worker: '2' })).toBe(1);
      primary?.send({ cmd: 'hostile', worker: hostile, native: null });
      await next((m) => m.fixture === 'hostile' && m.worker === hostile);
      expectExactSum(seriesOf(await scrapeProtobuf()));
    },
    90_000,
  );
});
