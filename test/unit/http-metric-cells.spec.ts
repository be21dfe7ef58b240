import { Counter, Histogram, Registry } from 'prom-client';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { CounterCell, HistogramCell } from '../../src/http/metric-cells';
import { SeriesTable } from '../../src/http/route-series';

const BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

function pair(exemplars = false) {
  const registry = new Registry();
  const make = (name: string) =>
    exemplars
      ? new Histogram({
          name,
          help: name,
          labelNames: ['method', 'endpoint'],
          buckets: BUCKETS,
          registers: [],
          enableExemplars: true,
        })
      : new Histogram({
          name,
          help: name,
          labelNames: ['method', 'endpoint'],
          buckets: BUCKETS,
          registers: [registry],
        });
  const ours = make('ours');
  const theirs = make('theirs');
  if (exemplars) for (const h of [ours, theirs]) registry.registerMetric(h);
  return { registry, ours, theirs };
}

/** The exposition lines of metric `name`, renamed, so that two metrics can be compared line by line. */
async function lines(registry: Registry, name: string): Promise<string[]> {
  const text = await registry.metrics();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}_`) || l.startsWith(`${name}{`))
    .map((l) => l.replace(name, 'metric'));
}

describe('HistogramCell', () => {
  it.each([false, true])(
    'renders exactly what prom-client renders for the same observations (exemplars: %s)',
    async (exemplars) => {
      const { registry, ours, theirs } = pair(exemplars);
      const labels = { method: 'GET', endpoint: '/tracks/:id' };
      const cell = new HistogramCell(ours, labels);
      // Bounds themselves, values between, beyond the last bound, zero, tiny and long fractions.
      const values = [
        0, 0.001, 0.0010001, 0.005, 0.00499, 0.05, 0.3, 1, 4.99, 5, 5.01, 120, 1e-9, 0.123456789,
      ];
      for (let i = 0; i < 200; i++) {
        const v = values[i % values.length];
        cell.observe(v);
        if (exemplars) theirs.observe({ labels, value: v });
        else theirs.observe(labels, v);
      }
      expect(await lines(registry, 'ours')).toEqual(await lines(registry, 'theirs'));
      expect((await lines(registry, 'ours')).find((l) => l.startsWith('metric_count'))).toBe(
        'metric_count{method="GET",endpoint="/tracks/:id"} 200',
      );
    },
  );

  it('follows reset() and remove() of the histogram: counts restart, none is lost or doubled', async () => {
    const { registry, ours } = pair();
    const labels = { method: 'GET', endpoint: '/x' };
    const cell = new HistogramCell(ours, labels);
    cell.observe(0.2);
    cell.observe(0.2);
    ours.reset();
    cell.observe(0.02);
    expect((await ours.get()).values.find((v) => v.metricName === 'ours_count')?.value).toBe(1);
    ours.remove(labels);
    cell.observe(3);
    cell.observe(3);
    const values = (await ours.get()).values;
    expect(values.find((v) => v.metricName === 'ours_count')?.value).toBe(2);
    expect(values.find((v) => v.metricName === 'ours_sum')?.value).toBe(6);
    expect(await registry.getSingleMetricAsString('ours')).toContain(
      'ours_bucket{le="5",method="GET",endpoint="/x"} 2',
    );
  });
});

describe('CounterCell', () => {
  it('adds 1 per inc() in the series prom-client renders, across reset() and remove()', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'c',
      help: 'c',
      labelNames: ['method', 'endpoint', 'status'],
      registers: [registry],
    });
    const labels = { method: 'GET', endpoint: '/x', status: '2xx' };
    const cell = new CounterCell(counter, labels);
    for (let i = 0; i < 5; i++) cell.inc();
    counter.inc(labels, 10);
    cell.inc();
    expect(await registry.getSingleMetricAsString('c')).toContain(
      'c{method="GET",endpoint="/x",status="2xx"} 16',
    );
    counter.reset();
    cell.inc();
    expect(await registry.getSingleMetricAsString('c')).toContain(
      'c{method="GET",endpoint="/x",status="2xx"} 1',
    );
    counter.remove(labels);
    cell.inc();
    cell.inc();
    expect(await registry.getSingleMetricAsString('c')).toContain(
      'c{method="GET",endpoint="/x",status="2xx"} 2',
    );
  });

  it('works on a counter with exemplars enabled (prom-client then takes one object argument)', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'e',
      help: 'e',
      labelNames: ['type'],
      registers: [],
      enableExemplars: true,
    });
    registry.registerMetric(counter);
    const cell = new CounterCell(counter, { type: 'x' });
    for (let i = 0; i < 3; i++) cell.inc();
    expect(await registry.getSingleMetricAsString('e')).toContain('e{type="x"} 3');
  });
});

/** Bytes allocated on the JS heap by `n` calls of `fn`, after `n` warm-up calls (GCs accounted for). */
function allocatedPerCall(fn: (i: number) => void, n = 200_000): number {
  for (let i = 0; i < n; i++) fn(i);
  const profiler = new GCProfiler();
  const start = getHeapStatistics().used_heap_size;
  profiler.start();
  for (let i = 0; i < n; i++) fn(i);
  const end = getHeapStatistics().used_heap_size;
  let allocated = 0;
  let previous = start;
  for (const gc of profiler.stop().statistics) {
    allocated += gc.beforeGC.heapStatistics.usedHeapSize - previous;
    previous = gc.afterGC.heapStatistics.usedHeapSize;
  }
  return (allocated + end - previous) / n;
}

describe('the recording path', () => {
  it('allocates nothing per response once its series is resolved, where prom-client calls allocate', () => {
    const registry = new Registry();
    const requests = new Counter({
      name: 'r',
      help: 'r',
      labelNames: ['method', 'endpoint', 'status'],
      registers: [registry],
    });
    const duration = new Histogram({
      name: 'd',
      help: 'd',
      labelNames: ['method', 'endpoint'],
      buckets: BUCKETS,
      registers: [registry],
    });
    const table = new SeriesTable(requests, duration, false, { paths: new Set(), routes: new Set() });
    const endpoints = ['/tracks/:id', '/albums', '<unmatched>'];
    const statuses = [200, 201, 404, 500, 302];
    const record = (i: number): void => {
      const durationMs = (i % 97) * 0.731;
      const series = table.get('GET', endpoints[i % 3]);
      if (series.excluded) return;
      series.duration.observe(durationMs * 0.001);
      series.count(statuses[i % 5]);
    };
    const ours = allocatedPerCall(record);
    const labels = [{ method: 'GET', endpoint: '/tracks/:id', status: '2xx' }];
    const theirs = allocatedPerCall((i) => {
      requests.inc(labels[0] as never, 1);
      duration.observe({ method: 'GET', endpoint: '/tracks/:id' }, i * 1e-4);
    });
    // The smallest thing a call could allocate, a boxed double, takes 12 bytes: under 4 B on average
    // means no call allocates (what remains is the JIT's own, amortised), where prom-client's calls take dozens.
    expect(ours).toBeLessThan(4);
    expect(theirs).toBeGreaterThan(50);
  });
});
