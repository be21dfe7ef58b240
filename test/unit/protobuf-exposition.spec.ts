/**
 * Issue #24: the protobuf exposition (src/exposition/protobuf-exposition.ts) decodes, with
 * protobufjs and test/fixtures/metrics.proto, to the samples of the text exposition of the same
 * state, family by family (names, help, types, labels in the same order, values, classic buckets),
 * with the exemplars of the OpenMetrics one; summaries and metrics of unknown layout (from `get()`)
 * too; the native part of a histogram from its entries and from data.
 */
import * as PC from 'prom-client';
import { renderExposition, type ExpositionFormat } from '../../src/exposition/render-exposition';
import {
  attachNativeSnapshot,
  setNativeConfig,
  resolveNativeConfig,
} from '../../src/native/native-histogram';
import { metricsOf, layoutOf } from '../../src/compat/metrics-client';
import { CHUNK_BYTES } from '../../src/exposition/chunk-pool';
import { recycleChunks } from '../../src/exposition/render-exposition';
import { parseExposition } from '../utils/exposition';
import { collector } from '../utils/memory';
import {
  asTextFamily,
  decodeFamilies,
  openMetricsExemplars,
  ordered,
  protobufExemplars,
} from '../utils/protobuf';

const renderChunks = (
  registry: PC.Registry,
  format: ExpositionFormat,
  defaultLabels: Record<string, string> = {},
): Promise<Buffer[]> =>
  renderExposition(metricsOf(registry), {
    format,
    defaultLabels,
    collectTimeoutMs: 1_000,
    deadline: performance.now() + 10_000,
    sliceMs: 5,
    onCollectFailure: () => undefined,
  });

async function render(
  registry: PC.Registry,
  format: ExpositionFormat,
  defaultLabels: Record<string, string> = {},
): Promise<Buffer> {
  return Buffer.concat(await renderChunks(registry, format, defaultLabels));
}

/** Renders `registry` in the three formats and compares protobuf with text (and OpenMetrics' exemplars). */
async function expectSameAsText(registry: PC.Registry, defaultLabels: Record<string, string> = {}) {
  const text = (await render(registry, 'text', defaultLabels)).toString('utf8');
  const om = (await render(registry, 'openmetrics', defaultLabels)).toString('utf8');
  const decoded = decodeFamilies(await render(registry, 'protobuf', defaultLabels));
  const fromText = [...parseExposition(text).values()].map(ordered);
  expect(decoded.map((f) => ordered(asTextFamily(f)))).toEqual(fromText);
  expect(protobufExemplars(decoded)).toEqual(openMetricsExemplars(om));
  return { text, decoded };
}

function hostileRegistry(): PC.Registry {
  // Exemplars need a registry of OpenMetrics' content type (either client).
  const OpenMetricsRegistry = PC.Registry as unknown as new (contentType: string) => PC.Registry;
  const registry = new OpenMetricsRegistry(PC.Registry.OPENMETRICS_CONTENT_TYPE);
  const counter = new PC.Counter({
    name: 'app_jobs_total',
    help: 'Jobs\\done\nsecond line "quoted" é',
    labelNames: ['queue', 'kind'],
    registers: [registry],
    enableExemplars: true,
  });
  counter.inc({
    labels: { queue: 'a"b\\c\nd', kind: 'é日本😀' },
    value: 3,
    exemplarLabels: { trace_id: 'abc' },
  } as never);
  counter.inc({ labels: { queue: 'lone\ud800', kind: '\u0000\u007f' }, value: 2.5 });
  const gauge = new PC.Gauge({ name: 'app_temp', help: 'Temp', labelNames: ['room'], registers: [registry] });
  gauge.set({ room: 'x' }, -1.5e-300);
  gauge.set({ room: 'inf' }, Infinity);
  gauge.set({ room: 'nan' }, NaN);
  new PC.Gauge({ name: 'app_empty', help: 'No series', labelNames: ['a'], registers: [registry] });
  const histogram = new PC.Histogram({
    name: 'app_duration_seconds',
    help: 'Durations',
    labelNames: ['route'],
    buckets: [0.1, 0.5, 2.5],
    registers: [registry],
    enableExemplars: true,
  });
  histogram.observe({ labels: { route: '/a' }, value: 0.3, exemplarLabels: { trace_id: 't1' } } as never);
  histogram.observe({ labels: { route: '/a' }, value: 7, exemplarLabels: { trace_id: 't2' } } as never);
  histogram.observe({ labels: { route: '/b' }, value: 0.05 });
  const summary = new PC.Summary({
    name: 'app_size_bytes',
    help: 'Sizes',
    labelNames: ['kind'],
    percentiles: [0.5, 0.9],
    registers: [registry],
  });
  summary.observe({ kind: 'k' }, 10);
  summary.observe({ kind: 'k' }, 20);
  summary.observe({ kind: 'j' }, 5);
  return registry;
}

describe('the protobuf exposition', () => {
  it('decodes family by family to the text exposition’s samples, exemplars as OpenMetrics’', async () => {
    const registry = hostileRegistry();
    const { decoded } = await expectSameAsText(registry);
    expect(decoded.map((f) => [f.name, f.type])).toEqual([
      ['app_jobs_total', 0],
      ['app_temp', 1],
      ['app_empty', 1],
      ['app_duration_seconds', 4],
      ['app_size_bytes', 2],
    ]);
    // An exemplar with its timestamp in milliseconds (both clients keep seconds).
    const counter = decoded[0].metric[0].counter;
    expect(counter.exemplar.label).toEqual([{ name: 'trace_id', value: 'abc' }]);
    expect(counter.exemplar.value).toBe(3);
    expect(Math.abs(counter.exemplar.timestamp.seconds * 1000 - Date.now())).toBeLessThan(60_000);
  });

  it('with default labels: merged and ordered as the text render does', async () => {
    const registry = hostileRegistry();
    await expectSameAsText(registry, { service: 'svc', queue: 'default-loses' });
  });

  it('a metric of unknown layout (its get()) and untyped samples: one Metric per sample', async () => {
    const registry = new PC.Registry();
    const odd = {
      name: 'app_odd',
      help: 'Odd',
      type: 'untyped',
      aggregator: 'sum',
      get: () =>
        Promise.resolve({
          name: 'app_odd',
          help: 'Odd',
          type: 'untyped',
          values: [
            { labels: { a: '1' }, value: 1 },
            { labels: { a: '2' }, value: 2 },
          ],
        }),
      reset: () => undefined,
    };
    registry.registerMetric(odd as never);
    const decoded = decodeFamilies(await render(registry, 'protobuf'));
    expect(decoded).toHaveLength(1);
    expect(decoded[0].type).toBe(3);
    expect(decoded[0].metric.map((m: { untyped: { value: number } }) => m.untyped.value)).toEqual([1, 2]);
    await expectSameAsText(registry);
  });

  it('carries a histogram’s native part beside its classic buckets (entries and data)', async () => {
    const registry = new PC.Registry();
    const histogram = new PC.Histogram({
      name: 'app_native_seconds',
      help: 'Native',
      labelNames: ['route'],
      buckets: [1],
      registers: [registry],
    });
    setNativeConfig(histogram, resolveNativeConfig({}));
    histogram.observe({ route: '/x' }, 0.5);
    histogram.observe({ route: '/x' }, 3);
    histogram.observe({ route: '/y' }, 0.5);
    histogram.observe({ route: '/z' }, 0.5);
    const entries = layoutOf(histogram)?.entries(histogram) ?? [];
    // Hand-built snapshots (as the cluster attaches them), one of each shape.
    attachNativeSnapshot(entries[0], {
      schema: 3,
      zeroThreshold: 2 ** -128,
      zeroCount: 0,
      positiveSpans: [
        { offset: -8, length: 1 },
        { offset: 20, length: 2 },
      ],
      positiveDeltas: [1, 1, -1],
      negativeSpans: [{ offset: 3, length: 1 }],
      negativeDeltas: [2],
    });
    attachNativeSnapshot(entries[1], {
      schema: -4,
      zeroThreshold: 0,
      zeroCount: 0,
      positiveSpans: [],
      positiveDeltas: [],
      negativeSpans: [],
      negativeDeltas: [],
    });
    const decoded = decodeFamilies(await render(registry, 'protobuf'));
    const [x, y, z] = decoded[0].metric.map((m: { histogram: unknown }) => m.histogram);
    expect(x).toMatchObject({
      sampleCount: 2,
      sampleSum: 3.5,
      schema: 3,
      zeroThreshold: 2 ** -128,
      zeroCount: 0,
      positiveSpan: [
        { offset: -8, length: 1 },
        { offset: 20, length: 2 },
      ],
      positiveDelta: [1, 1, -1],
      negativeSpan: [{ offset: 3, length: 1 }],
      negativeDelta: [2],
    });
    expect(x.bucket.map((b: { upperBound: number }) => b.upperBound)).toEqual([1, Infinity]);
    // Empty, with no zero bucket: the span client_golang adds so that Prometheus sees a native histogram.
    expect(y).toMatchObject({ schema: -4, zeroThreshold: 0, positiveSpan: [{ offset: 0, length: 0 }] });
    // Observed natively by the module (H1's hooks) or not: the classic part is always there.
    expect(z.bucket.map((b: { cumulativeCount: number }) => b.cumulativeCount)).toEqual([1, 1]);
    await expectSameAsText(registry);
  });

  it('groups a histogram that comes as data by its labels, its _count sample’s native part included', async () => {
    const registry = new PC.Registry();
    const native = {
      schema: 0,
      zeroThreshold: 0.001,
      zeroCount: 1,
      positiveSpans: [{ offset: 1, length: 2 }],
      positiveDeltas: [1, 0],
      negativeSpans: [],
      negativeDeltas: [],
    };
    const data = {
      name: 'merged_seconds',
      help: 'From workers',
      type: 'histogram',
      values: [
        { metricName: 'merged_seconds_bucket', labels: { le: 1 }, sharedLabels: { w: 'a' }, value: 1 },
        { metricName: 'merged_seconds_bucket', labels: { le: '+Inf' }, sharedLabels: { w: 'a' }, value: 3 },
        { metricName: 'merged_seconds_sum', labels: {}, sharedLabels: { w: 'a' }, value: 4.5 },
        { metricName: 'merged_seconds_count', labels: {}, sharedLabels: { w: 'a' }, value: 3, native },
        { metricName: 'merged_seconds_bucket', labels: { le: 1 }, sharedLabels: { w: 'b' }, value: 0 },
        { metricName: 'merged_seconds_bucket', labels: { le: '+Inf' }, sharedLabels: { w: 'b' }, value: 0 },
        { metricName: 'merged_seconds_sum', labels: {}, sharedLabels: { w: 'b' }, value: 0 },
        { metricName: 'merged_seconds_count', labels: {}, sharedLabels: { w: 'b' }, value: 0 },
      ],
    };
    registry.registerMetric({
      name: 'merged_seconds',
      help: '',
      type: 'histogram',
      get: () => Promise.resolve(data),
      reset: () => undefined,
    } as never);
    const decoded = decodeFamilies(await render(registry, 'protobuf'));
    expect(decoded[0].metric).toHaveLength(2);
    expect(decoded[0].metric[0].label).toEqual([{ name: 'w', value: 'a' }]);
    expect(decoded[0].metric[0].histogram).toMatchObject({
      sampleCount: 3,
      zeroCount: 1,
      schema: 0,
      positiveDelta: [1, 0],
    });
    expect(decoded[0].metric[1].histogram.schema).toBeUndefined();
    await expectSameAsText(registry);
  });

  it('writes a count that is not a safe non-negative integer in the _float field', async () => {
    const registry = new PC.Registry();
    const data = {
      name: 'odd_seconds',
      help: 'x',
      type: 'histogram',
      values: [
        { metricName: 'odd_seconds_bucket', labels: { le: '+Inf' }, value: 2.5 },
        { metricName: 'odd_seconds_sum', labels: {}, value: 1 },
        { metricName: 'odd_seconds_count', labels: {}, value: 2.5 },
      ],
    };
    registry.registerMetric({
      name: 'odd_seconds',
      help: '',
      type: 'histogram',
      get: () => Promise.resolve(data),
      reset: () => undefined,
    } as never);
    const [family] = decodeFamilies(await render(registry, 'protobuf'));
    expect(family.metric[0].histogram).toMatchObject({
      sampleCountFloat: 2.5,
      bucket: [{ cumulativeCountFloat: 2.5 }],
    });
    expect(family.metric[0].histogram.sampleCount).toBeUndefined();
  });

  describe('the attacker’s pass', () => {
    it('label values of every UTF-16 code unit class and a 1 MB help string decode as the text render writes them', async () => {
      const registry = new PC.Registry();
      const gauge = new PC.Gauge({
        name: 'app_bytes',
        help: `${'h\\e\nl"p é 😀 '.repeat(80_000)}\ud800`,
        labelNames: ['v'],
        registers: [registry],
      });
      // Every code unit below 0x800 (one and two bytes of UTF-8), the edges of three and four bytes, lone surrogates.
      const units = [...Array.from({ length: 0x800 }, (_, i) => i), 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff];
      for (let i = 0; i < units.length; i += 64)
        gauge.set({ v: String.fromCharCode(...units.slice(i, i + 64)) }, i);
      gauge.set({ v: '\ud83d\ude00 pair, \ud83d lone high, \ude00 lone low' }, -1);
      gauge.set({ v: 'x'.repeat(CHUNK_BYTES + 1) }, 1);
      await expectSameAsText(registry);
    });

    it('gives each chunk back once: a chunk’s memory starts one part; the next render takes no new chunk', async () => {
      const registry = new PC.Registry();
      const gauge = new PC.Gauge({
        name: 'app_many',
        help: 'Many',
        labelNames: ['k', 'l'],
        registers: [registry],
      });
      new PC.Gauge({ name: 'app_none', help: 'No series', registers: [registry] });
      for (let i = 0; i < 6_000; i++) gauge.set({ k: `key-${i}`, l: 'x'.repeat(i % 90) }, i);
      const first = await renderChunks(registry, 'protobuf');
      const starts = first.filter((part) => part.byteOffset === 0 && part.buffer.byteLength === CHUNK_BYTES);
      const memories = new Set(first.map((part) => part.buffer).filter((m) => m.byteLength === CHUNK_BYTES));
      expect(starts.length).toBeGreaterThanOrEqual(5);
      expect(new Set(starts.map((part) => part.buffer)).size).toBe(starts.length);
      expect(starts.length).toBe(memories.size);
      const expected = Buffer.concat(first);
      recycleChunks(first);
      recycleChunks(first); // a second call gives nothing twice
      const second = await renderChunks(registry, 'protobuf');
      const reused = new Set(second.map((part) => part.buffer));
      expect([...memories].filter((m) => reused.has(m)).length).toBe(memories.size);
      expect(Buffer.concat(second).equals(expected)).toBe(true);
      // Two renders at once while the spares are shared: neither sees the other's bytes.
      recycleChunks(second);
      const [a, b] = await Promise.all([
        renderChunks(registry, 'protobuf'),
        renderChunks(registry, 'protobuf'),
      ]);
      const inA = new Set(a.map((part) => part.buffer));
      expect(b.some((part) => inA.has(part.buffer))).toBe(false);
      expect(Buffer.concat(a).equals(expected)).toBe(true);
      expect(Buffer.concat(b).equals(expected)).toBe(true);
    });

    it('renders 100,000 series holding nothing beside the body’s chunks (no copy of a family)', async () => {
      const gc = collector();
      const registry = new PC.Registry();
      const gauge = new PC.Gauge({
        name: 'app_flood',
        help: 'Flood',
        labelNames: ['k'],
        registers: [registry],
      });
      for (let i = 0; i < 100_000; i++) gauge.set({ k: `series-${i}-${'y'.repeat(40)}` }, i);
      gc();
      gc();
      const before = process.memoryUsage();
      const chunks = await renderChunks(registry, 'protobuf');
      const after = process.memoryUsage();
      const body = chunks.reduce((sum, c) => sum + c.length, 0);
      expect(body).toBeGreaterThan(6_000_000);
      // Off-heap: the body's chunks and at most one chunk more.
      expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(body + 2 * CHUNK_BYTES);
      expect(decodeFamilies(Buffer.concat(chunks))[0].metric).toHaveLength(100_000);
    });
  });
});
