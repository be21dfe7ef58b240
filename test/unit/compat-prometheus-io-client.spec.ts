import * as PI from '@prometheus-io/client';
import * as PC from 'prom-client';
import { versionForMessages } from '../../src/compat/installed-version';
import { layoutOf, seamOfRegistry, selectClient } from '../../src/compat/metrics-client';
import { catchStarted } from '../../src/compat/prom-client';
import { ELU_METRICS, prometheusIoSeam, storeLayout } from '../../src/compat/prometheus-io-client';
import { guardMetric } from '../../src/registry/series-guard';

/** Fails with the assumption's name and the installed @prometheus-io/client's version. */
function holds(assumption: string, ok: boolean, detail: string): void {
  if (!ok)
    throw new Error(
      `@prometheus-io/client ${versionForMessages('@prometheus-io/client')} no longer meets ${assumption} of src/compat/prometheus-io-client.ts: ${detail}`,
    );
}

interface Store {
  entry(labels: object): { labels: object; value?: number; bucketValues?: object } | undefined;
  values(): IterableIterator<object>;
  keyFrom(labels?: object): string;
  remove(labels: object): void;
  clear(): void;
}
const storeOf = (metric: object): Store => (metric as { store: Store }).store;

describe('src/compat/prometheus-io-client.ts: what we assume of @prometheus-io/client', () => {
  it('B1: series live in metric.store, a LabelMap whose entries are the ones get() renders', async () => {
    const counter = new PI.Counter({ name: 'c_total', help: 'c', labelNames: ['a'], registers: [] });
    const histogram = new PI.Histogram({
      name: 'h',
      help: 'h',
      labelNames: ['a'],
      buckets: [1, 2],
      registers: [],
    });
    const store = storeOf(counter);
    const methods = ['entry', 'values', 'remove', 'clear', 'keyFrom'].filter(
      (m) => typeof (store as unknown as Record<string, unknown>)[m] !== 'function',
    );
    holds('B1 (store methods)', methods.length === 0, `missing ${methods.join(', ')}`);
    holds(
      'B1 (no entry before the first write)',
      store.entry({ a: 'x' }) === undefined,
      'an entry exists before any write',
    );
    counter.inc({ a: 'x' }, 2);
    histogram.observe({ a: 'x' }, 1.5);
    const entry = store.entry({ a: 'x' });
    holds(
      'B1 (counter entry { labels, value })',
      entry?.value === 2 && JSON.stringify(entry.labels) === '{"a":"x"}',
      JSON.stringify(entry),
    );
    const h = storeOf(histogram).entry({ a: 'x' }) as unknown as {
      bucketValues: Record<string, number>;
      sum: number;
      count: number;
    };
    holds(
      'B1 (histogram entry, buckets per bound)',
      JSON.stringify(h.bucketValues) === '{"1":0,"2":1}' && h.sum === 1.5 && h.count === 1,
      JSON.stringify(h),
    );
    entry!.value = 7;
    const rendered = (await counter.get()).values[0]?.value;
    holds(
      'B1 (get() renders the entry)',
      rendered === 7,
      `get() gave ${String(rendered)} after the entry was set to 7`,
    );
  });

  it("B2: every store operation keys through this.keyFrom, and the client's own key merges values holding |", () => {
    const plain = new PI.Counter({
      name: 'p_total',
      help: 'p',
      labelNames: ['method', 'endpoint'],
      registers: [],
    });
    plain.inc({ method: 'GET', endpoint: '/y|' });
    plain.inc({ method: '|GET', endpoint: '/y' });
    const merged = [...storeOf(plain).values()].length;
    holds(
      'B2 (its own key joins values with |)',
      merged === 1,
      `${merged} series for two label sets keyed alike`,
    );

    const counter = new PI.Counter({ name: 'k_total', help: 'k', labelNames: ['a'], registers: [] });
    const seen: object[] = [];
    const store = storeOf(counter);
    const own = store.keyFrom.bind(store);
    store.keyFrom = (labels?: object) => {
      if (labels) seen.push(labels);
      return own(labels);
    };
    counter.inc({ a: 'x' });
    void counter.get();
    counter.remove({ a: 'x' });
    holds('B2 (inc and remove key through keyFrom)', seen.length >= 2, `keyFrom called ${seen.length} times`);
  });

  it('B2: the injective key keeps | values and missing-vs-empty apart, also after reset()', async () => {
    const counter = new PI.Counter({
      name: 'i_total',
      help: 'i',
      labelNames: ['method', 'endpoint'],
      registers: [],
    });
    const { injective } = storeLayout.seriesKey(counter);
    holds('B2 (keyFrom can be set)', injective, 'the injective key could not be installed');
    const record = (): void => {
      counter.inc({ method: 'GET', endpoint: '/y|' });
      counter.inc({ method: '|GET', endpoint: '/y' });
      counter.inc({ method: 'GET', endpoint: '' });
      counter.inc({ method: 'GET' });
    };
    record();
    expect((await counter.get()).values.map((v) => v.value)).toEqual([1, 1, 1, 1]);
    counter.reset();
    record();
    expect((await counter.get()).values).toHaveLength(4);
  });

  it('B3: reset() replaces the store; set() and zero() keep the entry object; remove() deletes it', () => {
    const gauge = new PI.Gauge({ name: 'g', help: 'g', labelNames: ['a'], registers: [] });
    gauge.set({ a: 'x' }, 1);
    const entry = storeOf(gauge).entry({ a: 'x' });
    gauge.set({ a: 'x' }, 2);
    holds(
      'B3 (set() writes in place)',
      storeOf(gauge).entry({ a: 'x' }) === entry,
      'set() replaced the entry',
    );
    const histogram = new PI.Histogram({
      name: 'h',
      help: 'h',
      labelNames: ['a'],
      buckets: [1],
      registers: [],
    });
    histogram.observe({ a: 'x' }, 1);
    const hEntry = storeOf(histogram).entry({ a: 'x' });
    histogram.zero({ a: 'x' });
    holds(
      'B3 (zero() keeps the entry)',
      storeOf(histogram).entry({ a: 'x' }) === hEntry,
      'zero() replaced the entry',
    );
    const before = storeOf(gauge);
    gauge.reset();
    holds('B3 (reset() replaces the store)', storeOf(gauge) !== before, 'reset() kept the store');
    gauge.set({ a: 'y' }, 1);
    gauge.remove({ a: 'y' });
    holds(
      'B3 (remove() deletes the entry)',
      storeOf(gauge).entry({ a: 'y' }) === undefined,
      'remove() left the entry',
    );
  });

  it('B1/B3: slots write exactly what the public API would, and stop after remove() and reset()', () => {
    const [a, b] = [0, 1].map(
      () =>
        new PI.Histogram({ name: 'h', help: 'h', labelNames: ['x'], buckets: [0.5, 1, 1024], registers: [] }),
    );
    const labels = { x: 'y' };
    a.observe(labels, 0);
    b.observe(labels, 0);
    const slot = storeLayout.histogramSlot(b, labels);
    expect(slot).toBeDefined();
    for (const v of [0.1, 0.5, 0.7, 1, 5, 2048]) {
      a.observe(labels, v);
      expect(slot!.observe(v)).toBe(true);
    }
    expect(JSON.stringify(storeLayout.entries(b))).toBe(JSON.stringify(storeLayout.entries(a)));
    b.remove(labels);
    expect(slot!.observe(1)).toBe(false);
    const c = new PI.Counter({ name: 'c_total', help: 'c', registers: [] });
    c.inc();
    const counterSlot = storeLayout.counterSlot(c, {});
    expect(counterSlot!.add(1)).toBe(true);
    c.reset();
    expect(counterSlot!.add(1)).toBe(false);
    expect(layoutOf(c)).toBe(storeLayout);
  });

  it('B4: collectDefaultMetrics starts one monitor, one observer and one interval, which feeds only the two metrics left out', async () => {
    const registry = new PI.Registry();
    const { monitors, observers, intervals } = catchStarted(() =>
      PI.collectDefaultMetrics({ register: registry }),
    );
    try {
      holds(
        'B4 (one monitor, one observer, one interval)',
        [monitors.length, observers.length, intervals.length].join() === '1,1,1',
        `${monitors.length}, ${observers.length}, ${intervals.length}`,
      );
      const names = (registry.getMetricsAsArray() as unknown as { name: string }[]).map((m) => m.name);
      holds(
        'B4 (the two utilisation metrics)',
        ELU_METRICS.every((n) => names.includes(n)),
        names.join(', '),
      );
      for (const i of intervals) clearInterval(i);
      const count = async (): Promise<number> =>
        (await registry.getSingleMetric('nodejs_eventloop_utilization_summary')!.get()).values.find((v) =>
          (v as { metricName?: string }).metricName?.endsWith('_count'),
        )?.value ?? 0;
      const before = await count();
      await new Promise((resolve) => setTimeout(resolve, 250));
      holds(
        'B4 (the interval is what feeds them)',
        (await count()) === before,
        'the summary moved with its interval stopped',
      );
    } finally {
      for (const m of monitors) m.disable();
      for (const o of observers) o.disconnect();
      for (const i of intervals) clearInterval(i);
    }
  });

  it('B4: our default metrics leave the utilisation metrics out and stop everything on close', () => {
    const types = (): string => process.getActiveResourcesInfo().sort().join();
    const before = types();
    const registry = new PI.Registry();
    const handle = prometheusIoSeam.startDefaultMetrics(registry, '');
    const names = (registry.getMetricsAsArray() as unknown as { name: string }[]).map((m) => m.name);
    expect(names.filter((n) => n.startsWith('nodejs_eventloop_utilization'))).toEqual([]);
    expect(handle.started).toEqual({ monitors: 1, observers: 1 });
    handle.stop();
    expect(types()).toBe(before);
  });

  it('B5: registries are told apart by shape, copies of a package included', () => {
    let copy: typeof PI | undefined;
    jest.isolateModules(() => {
      copy = jest.requireActual<typeof PI>('@prometheus-io/client');
    });
    const second = new copy!.Registry();
    expect(second instanceof PI.Registry).toBe(false);
    // Under VEZA_TEST_CLIENT=prometheus-io, 'prom-client' is the successor too (jest.config.js).
    const promClient = 'AggregatorRegistry' in PC && !('ClusterRegistry' in PC);
    for (const [registry, client] of [
      [new PI.Registry(), '@prometheus-io/client'],
      [PI.register, '@prometheus-io/client'],
      [second, '@prometheus-io/client'],
      ...(promClient
        ? ([
            [new PC.Registry(), 'prom-client'],
            [new PC.AggregatorRegistry(), 'prom-client'],
          ] as const)
        : []),
    ] as const) {
      holds(
        `B5 (a ${client} registry)`,
        seamOfRegistry(registry)?.name === client,
        `told as ${seamOfRegistry(registry)?.name ?? 'none'}`,
      );
    }
    expect(seamOfRegistry({})).toBeUndefined();
    const registry = new PI.Registry();
    registry.setDefaultLabels({ app: 'a' });
    holds(
      'B5 (_defaultLabels)',
      prometheusIoSeam.defaultLabelsOf(registry)?.app === 'a',
      'no _defaultLabels',
    );
  });

  it('B6: on Node < 22 the start-up fails with a sentence that says why', () => {
    expect(prometheusIoSeam.unsupportedHere('20.19.0')).toMatch(
      /@prometheus-io\/client \S+ needs Node 22 or newer \(it uses the iterator helpers of Node 22, which Node 20\.19\.0 lacks/,
    );
    expect(() => selectClient(new PI.Registry(), '20.19.0')).toThrow(/needs Node 22 or newer/);
    const helpers = typeof (new Map().values() as unknown as { map?: unknown }).map === 'function';
    expect(prometheusIoSeam.unsupportedHere(process.versions.node) === undefined).toBe(helpers);
  });

  it('the series guard keeps label sets apart whatever they hold (its cap stays exact)', async () => {
    const counter = new PI.Counter({
      name: 'g_total',
      help: 'g',
      labelNames: ['method', 'endpoint'],
      registers: [],
    });
    const overflows: string[] = [];
    guardMetric(counter, 10, {
      onOverflow: (_m, reason) => overflows.push(reason),
      onError: () => undefined,
    });
    counter.inc({ method: 'GET', endpoint: '/y|' });
    counter.inc({ method: '|GET', endpoint: '/y' });
    counter.inc({ method: 'GET', endpoint: '' });
    expect((await counter.get()).values.map((v) => [v.labels, v.value])).toEqual([
      [{ method: 'GET', endpoint: '/y|' }, 1],
      [{ method: '|GET', endpoint: '/y' }, 1],
      [{ method: 'GET', endpoint: '' }, 1],
    ]);
    expect(overflows).toEqual([]);
  });
});
