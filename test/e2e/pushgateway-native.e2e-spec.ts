import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { spawn, type ChildProcess } from 'node:child_process';
import { NativeHistogram, resolveNativeConfig } from '../../src/native/native-histogram';
import { MetricsPusher, VezaMetricsModule, VezaMetricsRegistry, type PushgatewayOptions } from '../../src';
import { sampleValue } from '../utils/exposition';
import { freePort } from '../utils/prometheus';
import { decodeFamilies, type DecodedFamily } from '../utils/protobuf';
import { findTool } from '../utils/tools';

const binary = findTool('prometheus-pushgateway', 'prometheus-pushgateway');
const describeWithPushgateway = binary ? describe : describe.skip;
const PROTOBUF =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';
const HISTOGRAM = 'veza_database_query_duration_seconds';
const LABELS = { operation: 'insert', table: 'tracks' };
const VALUES = [0.0007, 0.003, 0.003, 0.02, 0.2, 0.45, 1.5, 0];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A real Pushgateway (the Debian package's binary, 1.5.1) on loopback, in memory only. */
async function startPushgateway(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    binary as string,
    [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file='],
    {
      stdio: 'ignore',
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      await res.text();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`prometheus-pushgateway was not ready on ${url}`);
    await sleep(50);
  }
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The counts of a native part by bucket key (`+k`, `-k`, `zero`), from decoded message fields. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function countsOf(h: Record<string, any>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [prefix, spans, deltas] of [
    ['+', h.positiveSpan ?? [], h.positiveDelta ?? []],
    ['-', h.negativeSpan ?? [], h.negativeDelta ?? []],
  ] as const) {
    let key = 0;
    let count = 0;
    let d = 0;
    for (const span of spans as { offset?: number; length?: number }[]) {
      key += span.offset ?? 0;
      for (let i = 0; i < (span.length ?? 0); i++, key++) {
        count += (deltas as number[])[d++];
        if (count !== 0) out[`${prefix}${key}`] = count;
      }
    }
  }
  if (h.zeroCount) out.zero = h.zeroCount;
  return out;
}

/** A job with native histograms (option `nativeHistograms`), its catalog histogram fed VALUES. */
async function job(pushgateway: PushgatewayOptions): Promise<INestApplicationContext> {
  @Module({ imports: [VezaMetricsModule.forRoot({ pushgateway, nativeHistograms: true })] })
  class JobModule {}
  const app = await NestFactory.createApplicationContext(JobModule, { logger: false });
  await app.init();
  const histogram = app.get(VezaMetricsRegistry).get(HISTOGRAM);
  for (const value of VALUES) histogram.observe(LABELS, value);
  return app;
}

/** The Pushgateway's /metrics in protobuf: the pushed series of `jobName`. */
async function pushedSeries(url: string, jobName: string): Promise<DecodedFamily> {
  const res = await fetch(`${url}/metrics`, { headers: { accept: PROTOBUF } });
  expect(res.headers.get('content-type')).toBe(PROTOBUF);
  const families = decodeFamilies(new Uint8Array(await res.arrayBuffer()));
  const family = families.find((f) => f.name === HISTOGRAM);
  const metric = family?.metric?.find((m: { label: { name: string; value: string }[] }) =>
    m.label.some((l) => l.name === 'job' && l.value === jobName),
  );
  if (!metric) throw new Error(`no ${HISTOGRAM} of job ${jobName} on the Pushgateway`);
  return metric.histogram;
}

/**
 * Issue #24, item 2: with `pushgateway.format: 'protobuf'`, a push carries the native part of each
 * histogram series, which the Pushgateway (1.5.0 on; the Debian package's 1.5.1 here) keeps and
 * serves to Prometheus' protobuf scrapes; the text push (the default) carries the classic part only.
 */
describeWithPushgateway('Pushgateway: native histograms pushed in protobuf', () => {
  let pgw: { url: string; stop(): Promise<void> };

  beforeAll(async () => {
    pgw = await startPushgateway();
  }, 30_000);

  afterAll(async () => {
    await pgw?.stop();
  }, 15_000);

  it('pushes the native part in protobuf; the Pushgateway serves it back exactly, classic buckets beside', async () => {
    const app = await job({
      url: pgw.url,
      jobName: 'native-import',
      format: 'protobuf',
      pushOnShutdown: false,
    });
    try {
      expect(await app.get(MetricsPusher).push()).toBe(true);
    } finally {
      await app.close();
    }
    const h = await pushedSeries(pgw.url, 'native-import');
    expect(h.sampleCount).toBe(VALUES.length);
    expect(h.sampleSum).toBeCloseTo(
      VALUES.reduce((a, b) => a + b, 0),
      12,
    );
    expect(h.schema).toBe(3);
    const reference = new NativeHistogram(resolveNativeConfig(), undefined);
    for (const v of VALUES) reference.observe(v);
    const r = reference.snapshot();
    expect(countsOf(h)).toEqual(
      countsOf({
        zeroCount: r.zeroCount,
        positiveSpan: r.positiveSpans,
        positiveDelta: r.positiveDeltas,
        negativeSpan: r.negativeSpans,
        negativeDelta: r.negativeDeltas,
      }),
    );
    // The classic buckets, the seed's, as the text format gives them (the Pushgateway's own text /metrics).
    const text = await (await fetch(`${pgw.url}/metrics`)).text();
    const labels = { ...LABELS, job: 'native-import', instance: '' };
    expect(sampleValue(text, `${HISTOGRAM}_bucket`, { ...labels, le: '0.005' })).toBe(
      VALUES.filter((v) => v <= 0.005).length,
    );
    expect(sampleValue(text, `${HISTOGRAM}_count`, labels)).toBe(VALUES.length);
  }, 60_000);

  it('pushes text by default: the classic part only (the native part needs format "protobuf")', async () => {
    const app = await job({ url: pgw.url, jobName: 'text-import', pushOnShutdown: false });
    try {
      expect(await app.get(MetricsPusher).push()).toBe(true);
    } finally {
      await app.close();
    }
    const h = await pushedSeries(pgw.url, 'text-import');
    expect(h.sampleCount).toBe(VALUES.length);
    expect(h.schema).toBeUndefined();
    expect(h.positiveSpan ?? []).toEqual([]);
    expect(h.bucket.length).toBeGreaterThan(0);
  }, 60_000);
});
