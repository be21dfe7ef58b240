import cluster, { type Worker } from 'node:cluster';
import { ClusterMetricsAggregator } from '../../src/cluster/cluster-aggregator';
import {
  COLLECT_PART,
  COLLECT_RESPONSE,
  type CollectPart,
  type CollectRequest,
  type CollectResponse,
  type PartMetric,
} from '../../src/cluster/cluster-protocol';
import { sampleValue } from '../utils/exposition';
import { collector, heapAfterGc } from '../utils/memory';
import { fakeWorker, type Answerer as MessagesOf } from '../utils/fake-workers';

type Answerer = MessagesOf<Message>;

type Message = CollectPart | CollectResponse | Record<string, unknown>;

const workers = cluster.workers as Record<number, Worker | undefined>;

const counter = (value: number, registry = 0): PartMetric => ({
  registry,
  name: 'jobs_total',
  help: 'Jobs',
  type: 'counter',
  values: [{ value, labels: { queue: 'a' } }],
});

/** An honest answer: `metrics` split into parts of `perPart` metrics, then the end. */
function* honest(request: CollectRequest, metrics: PartMetric[], perPart = 1): Iterable<Message> {
  let parts = 0;
  for (let i = 0; i < metrics.length; i += perPart) {
    parts++;
    yield { type: COLLECT_PART, id: request.id, metrics: metrics.slice(i, i + perPart) };
  }
  yield {
    type: COLLECT_RESPONSE,
    id: request.id,
    parts,
    registries: 1 + Math.max(0, ...metrics.map((m) => m.registry)),
  };
}

describe('ClusterMetricsAggregator: a worker answer received in parts', () => {
  let aggregator: ClusterMetricsAggregator | undefined;
  afterEach(() => {
    aggregator?.close();
    aggregator = undefined;
    for (const id of Object.keys(workers)) delete workers[Number(id)];
  });

  it('appends the parts of a metric in the order they come, registry by registry, and merges workers exactly', async () => {
    aggregator = new ClusterMetricsAggregator({ timeoutMs: 60_000 });
    const bucket = (le: string, value: number) => ({
      value,
      labels: { le, route: '/a' },
      metricName: 'latency_seconds_bucket',
    });
    const histogram = (values: PartMetric['values']): PartMetric => ({
      registry: 1,
      name: 'latency_seconds',
      help: 'Latency',
      type: 'histogram',
      values,
    });
    const answer: Answerer = (request) =>
      honest(request, [
        counter(2),
        histogram([bucket('0.1', 1), bucket('1', 3)]),
        histogram([bucket('+Inf', 4)]),
        histogram([
          { value: 2.5, labels: { route: '/a' }, metricName: 'latency_seconds_sum' },
          { value: 4, labels: { route: '/a' }, metricName: 'latency_seconds_count' },
        ]),
        { ...counter(3), values: [{ value: 3, labels: { queue: 'b' } }] },
      ]);
    fakeWorker(1, { current: answer });
    fakeWorker(2, { current: answer });
    const text = await aggregator.metrics();
    expect(sampleValue(text, 'jobs_total', { queue: 'a' })).toBe(4);
    expect(sampleValue(text, 'jobs_total', { queue: 'b' })).toBe(6);
    expect(sampleValue(text, 'latency_seconds_bucket', { le: '1', route: '/a' })).toBe(6);
    expect(sampleValue(text, 'latency_seconds_bucket', { le: '+Inf', route: '/a' })).toBe(8);
    expect(sampleValue(text, 'latency_seconds_sum', { route: '/a' })).toBe(5);
    expect(text).toContain(
      '# TYPE latency_seconds histogram\nlatency_seconds_bucket{le="0.1",route="/a"} 2\n',
    );
    expect(sampleValue(text, 'veza_metrics_cluster_worker_errors_total')).toBe(0);
  });

  it('keeps at most maxWorkerSamples of an answer: a flood is dropped as it comes, its last answer stands', async () => {
    const gc = collector();
    aggregator = new ClusterMetricsAggregator({ timeoutMs: 60_000, maxWorkerSamples: 1_000 });
    const answerer: { current: Answerer } = { current: (request) => honest(request, [counter(5)]) };
    fakeWorker(1, answerer);
    expect(sampleValue(await aggregator.metrics(), 'jobs_total', { queue: 'a' })).toBe(5);

    // 200 parts of 2,048 samples of 100-character labels: 400,000 samples, some 100 MB if kept.
    const label = 'x'.repeat(100);
    let sent = 0;
    let ended = false;
    answerer.current = function* (request) {
      for (let part = 0; part < 200; part++) {
        const values = Array.from({ length: 2_048 }, (_, i) => ({
          value: 1,
          labels: { queue: `${label}${part}-${i}` },
        }));
        sent += values.length;
        yield { type: COLLECT_PART, id: request.id, metrics: [{ ...counter(1), values }] };
      }
      yield { type: COLLECT_RESPONSE, id: request.id, parts: 200, registries: 1 };
      ended = true;
    };
    const before = heapAfterGc(gc);
    const text = await aggregator.metrics();
    // Let the rest of the flood arrive (it is ignored), then measure what the primary still holds.
    await new Promise<void>((resolve) => {
      const wait = (): void => (ended ? resolve() : void setImmediate(wait));
      wait();
    });
    const after = heapAfterGc(gc);
    // What it holds for the worker: its last answer, nothing of the flood.
    expect((after - before) / 2 ** 20).toBeLessThan(4);
    expect(sent).toBe(409_600);
    expect(sampleValue(text, 'jobs_total', { queue: 'a' })).toBe(5);
    expect(text).not.toContain(label);
    expect(sampleValue(text, 'veza_metrics_cluster_worker_errors_total')).toBe(1);
    expect(sampleValue(text, 'veza_metrics_cluster_worker_up', { worker: '1' })).toBe(0);

    // Its next honest answer is taken again.
    answerer.current = (request) => honest(request, [counter(7)]);
    const next = await aggregator.metrics();
    expect(sampleValue(next, 'jobs_total', { queue: 'a' })).toBe(7);
    expect(sampleValue(next, 'veza_metrics_cluster_worker_up', { worker: '1' })).toBe(1);
  }, 60_000);

  it('expands series sent as labels and numbers into the samples get() gives: le first, default labels filled in', async () => {
    aggregator = new ClusterMetricsAggregator({ timeoutMs: 60_000 });
    // Each metric its own arrays, as each message parsed from the channel.
    const head = { registry: 0, help: 'Latency', type: 'histogram', values: [] };
    const defaults = { service: 'api', route: 'default' };
    // Worker 1: two series of a histogram split across parts, and a counter, as series.
    fakeWorker(1, {
      current: (request) =>
        honest(request, [
          {
            ...head,
            values: [],
            name: 'latency_seconds',
            bounds: [0.1, 1],
            defaults,
            labels: [{ route: '/a' }],
            numbers: [1, 3, 4, 2.5],
          },
          {
            ...head,
            values: [],
            name: 'latency_seconds',
            bounds: [0.1, 1],
            defaults,
            labels: [{ route: '' }],
            numbers: [0, 0, 1, 7],
          },
          {
            ...head,
            values: [],
            name: 'jobs_total',
            help: 'Jobs',
            type: 'counter',
            defaults,
            labels: [{ queue: 'a' }],
            numbers: [2],
          },
        ]),
    });
    // Worker 2: the same series as samples.
    const bucket = (le: string | number, value: number, route = '/a') => ({
      value,
      labels: { le, route, service: 'api' },
      metricName: 'latency_seconds_bucket',
    });
    fakeWorker(2, {
      current: (request) =>
        honest(request, [
          {
            ...head,
            name: 'latency_seconds',
            values: [
              bucket(0.1, 1),
              bucket(1, 1),
              bucket('+Inf', 1),
              { value: 0.5, labels: { route: '/a', service: 'api' }, metricName: 'latency_seconds_sum' },
              { value: 1, labels: { route: '/a', service: 'api' }, metricName: 'latency_seconds_count' },
            ],
          },
          {
            ...counter(3),
            values: [{ value: 3, labels: { queue: 'a', service: 'api', route: 'default' } }],
          },
        ]),
    });
    const text = await aggregator.metrics();
    expect(text).toContain(
      '# TYPE latency_seconds histogram\n' +
        'latency_seconds_bucket{le="0.1",route="/a",service="api"} 2\n' +
        'latency_seconds_bucket{le="1",route="/a",service="api"} 4\n' +
        'latency_seconds_bucket{le="+Inf",route="/a",service="api"} 5\n' +
        'latency_seconds_sum{route="/a",service="api"} 3\n' +
        'latency_seconds_count{route="/a",service="api"} 5\n' +
        // An empty label takes the default, as prom-client's getMetricsAsJSON() fills it.
        'latency_seconds_bucket{le="0.1",route="default",service="api"} 0\n',
    );
    expect(sampleValue(text, 'latency_seconds_sum', { route: 'default', service: 'api' })).toBe(7);
    expect(sampleValue(text, 'jobs_total', { queue: 'a', service: 'api', route: 'default' })).toBe(5);
    expect(sampleValue(text, 'veza_metrics_cluster_worker_errors_total')).toBe(0);
  });

  it('counts the samples series expand into against maxWorkerSamples before expanding them, and refuses malformed series', async () => {
    aggregator = new ClusterMetricsAggregator({ timeoutMs: 60_000, maxWorkerSamples: 1_000 });
    const answerer: { current: Answerer } = { current: (request) => honest(request, [counter(5)]) };
    fakeWorker(1, answerer);
    expect(sampleValue(await aggregator.metrics(), 'jobs_total', { queue: 'a' })).toBe(5);
    const histogram = { registry: 0, name: 'latency_seconds', help: 'L', type: 'histogram', values: [] };
    const bounds = Array.from({ length: 400 }, (_, i) => i);
    const label = 'x'.repeat(100);
    const refused: PartMetric[][] = [
      // 3 series of 400 buckets: 1,209 samples, from 1,206 numbers.
      [
        {
          ...histogram,
          values: [],
          bounds,
          labels: [{}, {}, {}],
          numbers: new Array<number>(3 * 402).fill(1),
        },
      ],
      // 150 series of 200 characters of labels: 750 samples (under the bound), but each carries the
      // labels: some 180,000 characters, past 128 per sample.
      [
        {
          ...histogram,
          values: [],
          bounds: [1, 2, 3],
          labels: Array.from({ length: 150 }, (_, i) => ({ a: `${label}${label}${i}` })),
          numbers: new Array<number>(150 * 5).fill(1),
        },
      ],
      // Numbers that do not match the series, series that are not label sets, no bounds.
      [{ ...counter(1), values: [], labels: [{ queue: 'a' }], numbers: [1, 2] }],
      [{ ...counter(1), values: [], labels: ['queue'] as never, numbers: [1] }],
      [{ ...histogram, values: [], labels: [{}], numbers: [1, 2] }],
    ];
    let errors = 0;
    for (const metrics of refused) {
      answerer.current = (request) => honest(request, metrics);
      const text = await aggregator.metrics();
      expect(sampleValue(text, 'jobs_total', { queue: 'a' })).toBe(5);
      expect(text).not.toContain('latency_seconds');
      expect(sampleValue(text, 'veza_metrics_cluster_worker_errors_total')).toBe(++errors);
    }
    answerer.current = (request) =>
      honest(request, [{ ...counter(0), values: [], labels: [{ queue: 'a' }], numbers: [6] }]);
    expect(sampleValue(await aggregator.metrics(), 'jobs_total', { queue: 'a' })).toBe(6);
  });

  it('keeps no part of a request it never sent, nor an answer whose parts did not all come', async () => {
    aggregator = new ClusterMetricsAggregator({ timeoutMs: 60_000 });
    const answerer: { current: Answerer } = { current: (request) => honest(request, [counter(5)]) };
    fakeWorker(1, answerer);
    expect(sampleValue(await aggregator.metrics(), 'jobs_total', { queue: 'a' })).toBe(5);

    answerer.current = function* (request) {
      // Parts of a request not sent yet, then an answer that says two parts when one came.
      yield { type: COLLECT_PART, id: request.id + 1, metrics: [counter(1_000)] };
      yield { type: COLLECT_PART, id: request.id, metrics: [counter(9)] };
      yield { type: COLLECT_RESPONSE, id: request.id, parts: 2, registries: 1 };
    };
    const text = await aggregator.metrics();
    expect(sampleValue(text, 'jobs_total', { queue: 'a' })).toBe(5);
    expect(sampleValue(text, 'veza_metrics_cluster_worker_errors_total')).toBe(1);

    answerer.current = function* (request) {
      // Not metrics, and a registry out of range: an error, not a crash.
      yield { type: COLLECT_PART, id: request.id, metrics: [{ ...counter(9), registry: 1e9 }] };
      yield { type: COLLECT_RESPONSE, id: request.id, parts: 1, registries: 1 };
    };
    const bad = await aggregator.metrics();
    expect(sampleValue(bad, 'jobs_total', { queue: 'a' })).toBe(5);
    expect(sampleValue(bad, 'veza_metrics_cluster_worker_errors_total')).toBe(2);

    answerer.current = (request) => honest(request, [counter(6)]);
    expect(sampleValue(await aggregator.metrics(), 'jobs_total', { queue: 'a' })).toBe(6);
  });
});
