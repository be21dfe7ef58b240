/**
 * Issue #25, remote write: the `WriteRequest` built from the protobuf exposition
 * (src/push/remote-write-encoder.ts), decoded with protobufjs and test/fixtures/remote-write.proto:
 * one series per sample of the text exposition (same names, labels and values), labels sorted by
 * name with `__name__`, empty values left out, one timestamp; summaries and classic histograms as
 * their text samples; a native part also as a native `Histogram`; NUL and lone surrogates in values.
 */
import * as PC from 'prom-client';
import { metricsOf, layoutOf } from '../../src/compat/metrics-client';
import { renderExposition } from '../../src/exposition/render-exposition';
import { ProtoWriter } from '../../src/exposition/protobuf-writer';
import {
  attachNativeSnapshot,
  resolveNativeConfig,
  setNativeConfig,
} from '../../src/native/native-histogram';
import { encodeWriteRequest } from '../../src/push/remote-write-encoder';
import { snappyCompress } from '../../src/push/snappy';
import {
  decodeCompressedWriteRequest,
  decodeWriteRequest,
  seriesLines,
  type DecodedSeries,
} from '../utils/remote-write';

const NOW = 1_765_000_000_123;

/** The exposition as the render writes it: a list of chunks. */
function renderParts(
  registry: PC.Registry,
  format: 'text' | 'protobuf',
  defaultLabels = {},
): Promise<Buffer[]> {
  return renderExposition(metricsOf(registry), {
    format,
    defaultLabels,
    collectTimeoutMs: 1_000,
    deadline: performance.now() + 10_000,
    sliceMs: 5,
    onCollectFailure: () => undefined,
  });
}

async function render(
  registry: PC.Registry,
  format: 'text' | 'protobuf',
  defaultLabels = {},
): Promise<Buffer> {
  return Buffer.concat(await renderParts(registry, format, defaultLabels));
}

async function encode(parts: readonly Buffer[]): Promise<Buffer> {
  const writer = new ProtoWriter();
  await encodeWriteRequest(writer, parts, NOW, () => Promise.resolve());
  return Buffer.concat(writer.finish());
}

async function writeRequest(registry: PC.Registry, defaultLabels = {}): Promise<Buffer> {
  return encode(await renderParts(registry, 'protobuf', defaultLabels));
}

/** `body` cut at `cuts` (offsets), with an empty part at each cut too. */
function cutAt(body: Buffer, cuts: readonly number[]): Buffer[] {
  const parts: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    parts.push(body.subarray(from, cut), Buffer.alloc(0));
    from = cut;
  }
  parts.push(body.subarray(from));
  return parts;
}

/** The text exposition's samples as `name{labels sorted, empty left out} value` lines. */
function textLines(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([^{ ]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparsed: ${line}`);
    const labels = [...(match[2] ?? '').matchAll(/([^=,]+)="((?:[^"\\]|\\.)*)"/g)]
      .map((m) => [m[1], m[2]] as const)
      .filter(([, v]) => v !== '')
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const rest = labels.map(([n, v]) => `${n}="${v}"`).join(',');
    const value =
      match[3] === '+Inf' ? 'Infinity' : match[3] === '-Inf' ? '-Infinity' : `${Number(match[3])}`;
    out.push(`${match[1]}${rest ? `{${rest}}` : ''} ${value}`);
  }
  return out;
}

function expectSorted(series: readonly DecodedSeries[]): void {
  for (const s of series) {
    const names = s.labels.map((l) => l.name);
    expect(names).toEqual([...names].sort());
    expect(names).toContain('__name__');
    expect(s.labels.every((l) => l.value !== '')).toBe(true);
  }
}

describe('remote write: WriteRequest from the exposition', () => {
  it('carries every sample of the text exposition, labels sorted with __name__, one timestamp', async () => {
    const registry = new PC.Registry();
    const counter = new PC.Counter({
      name: 'jobs_done_total',
      help: 'Jobs',
      labelNames: ['zeta', 'alpha', 'Upper', 'empty'],
      registers: [registry],
    });
    counter.inc({ zeta: 'z', alpha: 'a', Upper: 'U', empty: '' }, 3);
    counter.inc({ zeta: 'y', alpha: 'b', Upper: 'V', empty: 'set' });
    new PC.Gauge({ name: 'queue_depth', help: 'Depth', registers: [registry] }).set(-2.5);
    const histogram = new PC.Histogram({
      name: 'work_seconds',
      help: 'Work',
      labelNames: ['kind'],
      buckets: [0.1, 1],
      registers: [registry],
    });
    histogram.observe({ kind: 'x' }, 0.05);
    histogram.observe({ kind: 'x' }, 5);
    const summary = new PC.Summary({
      name: 'size_bytes',
      help: 'Size',
      percentiles: [0.5, 0.99],
      registers: [registry],
    });
    summary.observe(10);
    summary.observe(20);
    const defaults = { env: 'prod' };
    const series = decodeWriteRequest(await writeRequest(registry, defaults));
    const text = (await render(registry, 'text', defaults)).toString('utf8');
    expect(seriesLines(series)).toEqual(textLines(text));
    expectSorted(series);
    // Uppercase names sort before __name__ (bytes), as Prometheus sorts them.
    expect(series[0].labels.map((l) => l.name)).toEqual(['Upper', '__name__', 'alpha', 'env', 'zeta']);
    expect(series.every((s) => s.samples.length === 1 && s.samples[0].timestamp === NOW)).toBe(true);
    expect(series.every((s) => s.histograms.length === 0)).toBe(true);
    expect(seriesLines(series)).toEqual(
      expect.arrayContaining([
        'work_seconds_bucket{env="prod",kind="x",le="0.1"} 1',
        'work_seconds_bucket{env="prod",kind="x",le="+Inf"} 2',
        'work_seconds_count{env="prod",kind="x"} 2',
        'size_bytes{env="prod",quantile="0.99"} 20',
        'size_bytes_count{env="prod"} 2',
        'queue_depth{env="prod"} -2.5',
      ]),
    );
  });

  it('sends a native part as a native Histogram too, beside the classic series', async () => {
    const registry = new PC.Registry();
    const histogram = new PC.Histogram({
      name: 'native_seconds',
      help: 'Native',
      labelNames: ['route'],
      buckets: [1],
      registers: [registry],
    });
    setNativeConfig(histogram, resolveNativeConfig({}));
    histogram.observe({ route: '/x' }, 0.5);
    histogram.observe({ route: '/x' }, 3);
    const [entry] = layoutOf(histogram)?.entries(histogram) ?? [];
    attachNativeSnapshot(entry, {
      schema: 3,
      zeroThreshold: 2 ** -128,
      zeroCount: 1,
      positiveSpans: [
        { offset: -8, length: 1 },
        { offset: 20, length: 2 },
      ],
      positiveDeltas: [1, 1, -1],
      negativeSpans: [{ offset: 3, length: 1 }],
      negativeDeltas: [-2],
    });
    const series = decodeWriteRequest(await writeRequest(registry));
    expectSorted(series);
    expect(seriesLines(series)).toEqual([
      'native_seconds_bucket{le="1",route="/x"} 1',
      'native_seconds_bucket{le="+Inf",route="/x"} 2',
      'native_seconds_sum{route="/x"} 3.5',
      'native_seconds_count{route="/x"} 2',
    ]);
    const native = series.filter((s) => s.histograms.length > 0);
    expect(native).toHaveLength(1);
    expect(native[0].labels).toEqual([
      { name: '__name__', value: 'native_seconds' },
      { name: 'route', value: '/x' },
    ]);
    expect(native[0].samples).toEqual([]);
    expect(native[0].histograms[0]).toMatchObject({
      countInt: 2,
      count: 'countInt',
      sum: 3.5,
      schema: 3,
      zeroThreshold: 2 ** -128,
      zeroCountInt: 1,
      positiveSpans: [
        { offset: -8, length: 1 },
        { offset: 20, length: 2 },
      ],
      positiveDeltas: [1, 1, -1],
      negativeSpans: [{ offset: 3, length: 1 }],
      negativeDeltas: [-2],
      resetHint: 0,
      timestamp: NOW,
    });
  });

  it('keeps NUL, writes a lone surrogate as U+FFFD, and round-trips through snappy', async () => {
    const registry = new PC.Registry();
    const counter = new PC.Counter({
      name: 'odd_total',
      help: 'Odd',
      labelNames: ['v'],
      registers: [registry],
    });
    counter.inc({ v: 'a\u0000b' });
    counter.inc({ v: 'x\ud800y' });
    counter.inc({ v: 'line\nbreak "quoted" \\' });
    const body = await writeRequest(registry);
    const series = decodeCompressedWriteRequest(snappyCompress(body));
    expect(series.map((s) => s.labels.find((l) => l.name === 'v')?.value)).toEqual([
      'a\u0000b',
      'x\ufffdy',
      'line\nbreak "quoted" \\',
    ]);
  });

  it('reads the exposition in the parts it was rendered in, never joined: the same WriteRequest wherever they are cut', async () => {
    const registry = new PC.Registry();
    const histogram = new PC.Histogram({
      name: 'work_seconds',
      help: 'Work',
      labelNames: ['kind'],
      buckets: [0.1, 1],
      registers: [registry],
    });
    const counter = new PC.Counter({
      name: 'jobs_total',
      help: 'Jobs',
      labelNames: ['queue'],
      registers: [registry],
    });
    for (let i = 0; i < 3; i++) {
      histogram.observe({ kind: `k${i}` }, i / 2);
      counter.inc({ queue: `q${i}` }, i + 1);
    }
    const body = await render(registry, 'protobuf');
    const expected = await encode([body]);
    expect(decodeWriteRequest(expected).length).toBe(3 * 5 + 3);
    // Every single cut (through a varint, a family's length, a series, a double), every pair of
    // neighbouring cuts, and one-byte parts.
    for (let cut = 0; cut <= body.length; cut++) {
      expect(await encode(cutAt(body, [cut]))).toEqual(expected);
      if (cut + 1 < body.length) expect(await encode(cutAt(body, [cut, cut + 1]))).toEqual(expected);
    }
    const bytes = [...body].map((_, i) => body.subarray(i, i + 1));
    expect(await encode(bytes)).toEqual(expected);
  });

  it('refuses an exposition cut inside a family, wherever (never a wrong sample)', async () => {
    const registry = new PC.Registry();
    new PC.Counter({ name: 'a_total', help: 'A', labelNames: ['x'], registers: [registry] }).inc({ x: 'y' });
    new PC.Gauge({ name: 'b', help: 'B', registers: [registry] }).set(2);
    const body = await render(registry, 'protobuf');
    // Cut at the end of a family, the rest is a whole exposition: only a cut inside one is refused.
    const ends: number[] = [];
    for (let at = 0; at < body.length;) {
      let length = 0;
      let scale = 1;
      for (;;) {
        const byte = body[at++];
        length += (byte & 0x7f) * scale;
        scale *= 128;
        if (byte < 0x80) break;
      }
      at += length;
      ends.push(at);
    }
    for (let end = 1; end < body.length; end++) {
      if (ends.includes(end)) continue;
      await expect(encode(cutAt(body.subarray(0, end), [Math.floor(end / 2)]))).rejects.toThrow(
        /truncated exposition|bad varint/,
      );
    }
  });

  it('writes nothing for an empty registry (an empty WriteRequest)', async () => {
    expect((await writeRequest(new PC.Registry())).length).toBe(0);
  });
});
