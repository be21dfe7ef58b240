import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import {
  catchStarted,
  promClientSeriesKey,
  promClientVersion,
  startDefaultMetrics,
} from '../../src/compat/prom-client';
import { collector } from '../utils/memory';

/** Fails with the assumption's name and the installed prom-client's version. */
function holds(assumption: string, ok: boolean, detail: string): void {
  if (!ok)
    throw new Error(
      `prom-client ${promClientVersion()} no longer meets ${assumption} of src/compat/prom-client.ts: ${detail}`,
    );
}

const gc = collector();

const gcCount = async (registry: Registry): Promise<number> => {
  const metric = registry.getSingleMetric('nodejs_gc_duration_seconds') as Metric;
  const values = ((await metric.get()).values as { metricName?: string; value: number }[]).filter(
    (v) => v.metricName === 'nodejs_gc_duration_seconds_count',
  );
  return values.reduce((sum, v) => sum + v.value, 0);
};

/** Collects until `registry`'s GC histogram has counted a collection: the observers have been called. */
async function untilGcSeen(registry: Registry): Promise<void> {
  const before = await gcCount(registry);
  while ((await gcCount(registry)) === before) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('src/compat/prom-client.ts: what we assume of prom-client', () => {
  it('A1, A2: collectDefaultMetrics starts one event-loop monitor and one GC observer, through perf_hooks, during the call', () => {
    const { monitors, observers } = catchStarted(() => collectDefaultMetrics({ register: new Registry() }));
    for (const m of monitors) m.disable();
    for (const o of observers) o.disconnect();
    holds('A1 (one monitorEventLoopDelay per call)', monitors.length === 1, `${monitors.length} caught`);
    holds('A2 (one PerformanceObserver per call)', observers.length === 1, `${observers.length} caught`);
  });

  it('A3: nothing else it starts outlives the call (no timer, no handle)', () => {
    const types = (): string[] => process.getActiveResourcesInfo().sort();
    const before = types();
    const handle = startDefaultMetrics(new Registry(), '');
    handle.stop();
    holds(
      'A3 (no timer or handle left)',
      JSON.stringify(types()) === JSON.stringify(before),
      `${before.join(',')} became ${types().join(',')}`,
    );
  });

  it('A4: a series is keyed name:value, per label in sorted order, and two label sets keyed alike share it', () => {
    const registry = new Registry();
    const common = { labelNames: ['zeta', 'alpha'], registers: [registry] };
    const counter = new Counter({ name: 'c_total', help: 'c', ...common });
    const gauge = new Gauge({ name: 'g', help: 'g', ...common });
    const histogram = new Histogram({ name: 'h', help: 'h', buckets: [1], ...common });
    const labels = { zeta: 'z,v', alpha: 'a:b' };
    counter.inc(labels);
    gauge.set(labels, 1);
    histogram.observe(labels, 1);
    const key = promClientSeriesKey(['alpha', 'zeta'], labels);
    for (const metric of [counter, gauge, histogram] as unknown as {
      name: string;
      hashMap: Record<string, unknown>;
    }[]) {
      const keys = Object.keys(metric.hashMap);
      holds(
        `A4 (the key of ${metric.name})`,
        keys.includes(key),
        `keys ${JSON.stringify(keys)}, expected ${JSON.stringify(key)}`,
      );
    }
    counter.inc({ alpha: 'p,zeta:q', zeta: '' });
    counter.inc({ alpha: 'p', zeta: 'q,zeta:' });
    const merged = Object.keys((counter as unknown as { hashMap: Record<string, unknown> }).hashMap).length;
    holds(
      'A4 (label sets keyed alike share one series)',
      merged === 2,
      `${merged} series for 2 label sets, of which 2 keyed alike`,
    );
  });

  it('stop() stops the monitor and the observer it caught: their metrics stop moving', async () => {
    const stopped = new Registry();
    const handle = startDefaultMetrics(stopped, '');
    expect(handle.started).toEqual({ monitors: 1, observers: 1 });
    expect(handle.names).toContain('nodejs_gc_duration_seconds');
    expect(handle.names).toContain('nodejs_eventloop_lag_max_seconds');
    handle.stop();
    handle.stop();
    const live = new Registry();
    const control = startDefaultMetrics(live, '');
    try {
      const before = await gcCount(stopped);
      await untilGcSeen(live);
      expect(await gcCount(stopped)).toBe(before);
      // The monitor: once read (and so reset), a stopped one records no delay any more.
      const lag = stopped.getSingleMetric('nodejs_eventloop_lag_seconds') as Metric;
      await lag.get();
      await new Promise((resolve) => setTimeout(resolve, 100));
      await lag.get();
      const max = (await (stopped.getSingleMetric('nodejs_eventloop_lag_max_seconds') as Metric).get())
        .values[0]?.value;
      expect(max).toBe(0);
    } finally {
      control.stop();
    }
  });
});
