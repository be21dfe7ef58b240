/**
 * Decoding of the protobuf exposition in tests, with protobufjs and test/fixtures/metrics.proto
 * (the wire schema of Prometheus' metrics.proto), and its comparison with the text exposition: a
 * decoded family is turned into the samples the text format shows for it (`_bucket` with `le`,
 * `_sum`, `_count`, `quantile`), labels in the text format's order.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import * as protobuf from 'protobufjs';
import { parseExposition, type Family, type Sample } from './exposition';

const root = protobuf.loadSync(join(__dirname, '..', 'fixtures', 'metrics.proto'));
const MetricFamily = root.lookupType('io.prometheus.client.MetricFamily');
const TYPES = ['counter', 'gauge', 'summary', 'untyped', 'histogram', 'gaugehistogram'];

/* eslint-disable @typescript-eslint/no-explicit-any */
/** One decoded `MetricFamily`, as plain objects (int64 as numbers, enums as numbers, defaults filled). */
export type DecodedFamily = Record<string, any>;

/** The length-delimited `MetricFamily` messages of a body, in order; throws on any byte left over. */
export function decodeFamilies(body: Uint8Array): DecodedFamily[] {
  const reader = protobuf.Reader.create(body);
  const out: DecodedFamily[] = [];
  while (reader.pos < reader.len) {
    const message = MetricFamily.decodeDelimited(reader);
    out.push(MetricFamily.toObject(message, { longs: Number, enums: Number, defaults: false, arrays: true }));
  }
  return out;
}

const formatBound = (bound: number): string =>
  bound === Infinity ? '+Inf' : bound === -Infinity ? '-Inf' : Number.isNaN(bound) ? 'NaN' : `${bound}`;

function labelsOf(pairs: Array<{ name?: string; value?: string }> | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs ?? []) labels[pair.name ?? ''] = pair.value ?? '';
  return labels;
}

/** A decoded family as the text format shows it (see the file's comment). */
export function asTextFamily(decoded: DecodedFamily): Family {
  const name: string = decoded.name;
  const type = TYPES[decoded.type ?? 0];
  const samples: Sample[] = [];
  for (const metric of decoded.metric ?? []) {
    const labels = labelsOf(metric.label);
    if (type === 'histogram') {
      const h = metric.histogram;
      const count = h.sampleCountFloat ?? h.sampleCount ?? 0;
      for (const b of h.bucket ?? [])
        samples.push({
          name: `${name}_bucket`,
          labels: { le: formatBound(b.upperBound), ...labels },
          value: b.cumulativeCountFloat ?? b.cumulativeCount ?? 0,
        });
      samples.push({ name: `${name}_sum`, labels, value: h.sampleSum ?? 0 });
      samples.push({ name: `${name}_count`, labels, value: count });
    } else if (type === 'summary') {
      const s = metric.summary;
      for (const q of s.quantile ?? [])
        samples.push({ name, labels: { quantile: `${q.quantile}`, ...labels }, value: q.value });
      samples.push({ name: `${name}_sum`, labels, value: s.sampleSum ?? 0 });
      samples.push({ name: `${name}_count`, labels, value: s.sampleCount ?? 0 });
    } else {
      const value = (metric.counter ?? metric.gauge ?? metric.untyped ?? {}).value ?? 0;
      samples.push({ name, labels, value });
    }
  }
  return { name, help: decoded.help ?? '', type, samples };
}

/** A family's samples with labels as ordered pairs: comparing them compares label order too. */
export function ordered(family: Family): unknown {
  return {
    ...family,
    samples: family.samples.map((s) => ({ ...s, labels: Object.entries(s.labels) })),
  };
}

/** An exemplar as compared between OpenMetrics and protobuf: `sample name|labels` → labels, value, timestamp in ms. */
export type ExemplarMap = Map<string, { labels: Record<string, string>; value: number; ms: number }>;

const key = (sample: string, labels: Record<string, string>): string =>
  `${sample}|${JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;

const OM_EXEMPLAR = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*?)\})? \S+ # \{(.*)\} (\S+) (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const unescape = (value: string): string => value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const l of (text ?? '').matchAll(LABEL)) labels[l[1]] = unescape(l[2]);
  return labels;
}

/** The exemplars of an OpenMetrics exposition (counters' `_total` named as in the text format). */
export function openMetricsExemplars(text: string): ExemplarMap {
  const out: ExemplarMap = new Map();
  for (const line of text.split('\n')) {
    const m = OM_EXEMPLAR.exec(line);
    if (!m) continue;
    out.set(key(m[1], parseLabels(m[2])), {
      labels: parseLabels(m[3]),
      value: Number(m[4]),
      ms: Math.round(Number(m[5]) * 1000),
    });
  }
  return out;
}

/** The exemplars of decoded families, keyed as {@link openMetricsExemplars}. */
export function protobufExemplars(families: DecodedFamily[]): ExemplarMap {
  const out: ExemplarMap = new Map();
  const put = (sample: string, labels: Record<string, string>, e: any): void => {
    if (!e) return;
    const ts = e.timestamp ?? {};
    out.set(key(sample, labels), {
      labels: labelsOf(e.label),
      value: e.value ?? 0,
      ms: (ts.seconds ?? 0) * 1000 + Math.round((ts.nanos ?? 0) / 1e6),
    });
  };
  for (const f of families) {
    for (const metric of f.metric ?? []) {
      const labels = labelsOf(metric.label);
      put(f.name, labels, metric.counter?.exemplar);
      for (const b of metric.histogram?.bucket ?? [])
        put(`${f.name}_bucket`, { le: formatBound(b.upperBound), ...labels }, b.exemplar);
    }
  }
  return out;
}

/** Prometheus 2.42's `Accept` with `--enable-feature=native-histograms` (scrape/scrape.go). */
export const PROMETHEUS_PROTOBUF_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/** The Content-Type of the protobuf exposition (client_golang's). */
export const PROTOBUF_CONTENT_TYPE =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

/** A GET on a connection of its own, its body as bytes (the protobuf exposition is binary). */
export function getBytes(
  baseUrl: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port: Number(port), path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error(`no answer to GET ${path} in 20 s`)));
    req.end();
  });
}

const shape = (family: Family): unknown => ({
  ...family,
  samples: family.samples.map((s) => ({ name: s.name, labels: Object.entries(s.labels) })),
});

const header = (family: Family): unknown => ({ name: family.name, help: family.help, type: family.type });

/**
 * Families whose series come and go from one collection to the next (the default metrics' active
 * resources and handles, the event loop's, the garbage collector's): they are compared by name,
 * help and type, and by their values only when unchanged between the two text scrapes.
 */
const VOLATILE = /^(process_|nodejs_)/;

/**
 * Scrapes `path` in text, OpenMetrics, protobuf (Prometheus 2.42's `Accept`) and text again, and
 * expects the protobuf scrape to decode, family by family and in the same order, to the text one
 * exactly (labels in order, values, classic buckets) when the two text scrapes agree on it, in its
 * series when the scrapes themselves moved it (the library's scrape metrics), and in name, help and
 * type only for the default metrics' families (CPU, memory, event loop, active handles: they change
 * with every collection); exemplars as the OpenMetrics scrape's. Returns the decoded families.
 */
export async function expectProtobufMatchesText(
  baseUrl: string,
  path = '/metrics',
  headers: Record<string, string> = {},
): Promise<DecodedFamily[]> {
  const text = async (accept?: string): Promise<string> => {
    const res = await getBytes(baseUrl, path, accept ? { ...headers, accept } : headers);
    if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}`);
    return res.body.toString('utf8');
  };
  const before = parseExposition(await text());
  const om = await text('application/openmetrics-text; version=1.0.0');
  const res = await getBytes(baseUrl, path, { ...headers, accept: PROMETHEUS_PROTOBUF_ACCEPT });
  if (res.status !== 200) throw new Error(`GET ${path} (protobuf) answered ${res.status}`);
  if (res.headers['content-type'] !== PROTOBUF_CONTENT_TYPE)
    throw new Error(`protobuf answered as ${String(res.headers['content-type'])}`);
  const after = parseExposition(await text());
  const decoded = decodeFamilies(res.body);
  // Same families, same order.
  if (JSON.stringify(decoded.map((f) => f.name)) !== JSON.stringify([...before.keys()]))
    throw new Error(
      `families differ:\n${decoded.map((f) => f.name).join(',')}\n${[...before.keys()].join(',')}`,
    );
  for (const family of decoded) {
    const mine = asTextFamily(family);
    const was = before.get(mine.name) as Family;
    const now = after.get(mine.name) as Family;
    if (VOLATILE.test(mine.name)) expect(header(mine)).toEqual(header(was));
    else if (JSON.stringify(ordered(was)) === JSON.stringify(ordered(now)))
      expect(ordered(mine)).toEqual(ordered(was));
    else {
      // Moved by the scrapes themselves (the library's own scrape metrics): the same series.
      const seen = JSON.stringify(shape(mine));
      if (seen !== JSON.stringify(shape(was)) && seen !== JSON.stringify(shape(now)))
        expect(shape(mine)).toEqual(shape(was));
    }
  }
  expect(protobufExemplars(decoded)).toEqual(openMetricsExemplars(om));
  return decoded;
}
