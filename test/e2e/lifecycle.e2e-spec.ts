import { Registry, type Metric } from 'prom-client';
import { VezaMetricsModule, VezaMetricsRegistry } from '../../src';
import { ADAPTERS, scrape, startApp } from '../utils/app';
import { collector } from '../utils/memory';

const gc = collector();

/** Observations of the GC histogram of `registry` (moves only while its GC observer is connected). */
async function gcCount(registry: Registry | Metric): Promise<number> {
  const metric =
    'getSingleMetric' in registry
      ? (registry.getSingleMetric('nodejs_gc_duration_seconds') as Metric)
      : registry;
  const values = (await metric.get()).values as { metricName?: string; value: number }[];
  return values
    .filter((v) => v.metricName === 'nodejs_gc_duration_seconds_count')
    .reduce((sum, v) => sum + v.value, 0);
}

/** The largest event-loop delay recorded since the last read (0 once its monitor is disabled). */
async function lagMax(lag: Metric, max: Metric): Promise<number> {
  await lag.get();
  return (await max.get()).values[0]?.value ?? 0;
}

interface Closed {
  gc: Metric;
  gcAtClose: number;
  lag: Metric;
  lagMax: Metric;
}

describe('closed applications leave nothing running', () => {
  it('200 applications created and closed (both adapters) leave no handle, no event-loop monitor and no GC observer', async () => {
    // Requests of the file system and immediates come and go with Jest itself.
    const resources = (): string[] =>
      process
        .getActiveResourcesInfo()
        .filter((r) => r !== 'FSReqCallback' && r !== 'Immediate')
        .sort();
    const before = resources();
    const closed: Closed[] = [];
    for (let i = 0; i < 200; i++) {
      const { app, url } = await startApp(ADAPTERS[i % 2], { imports: [VezaMetricsModule.forRoot()] });
      if (i < 2) expect(await scrape(url)).toContain('nodejs_eventloop_lag_p99_seconds');
      const registry = app.get(VezaMetricsRegistry).registry;
      const get = (name: string): Metric => registry.getSingleMetric(name) as Metric;
      const gcMetric = get('nodejs_gc_duration_seconds');
      const lag = get('nodejs_eventloop_lag_seconds');
      const max = get('nodejs_eventloop_lag_max_seconds');
      await app.close();
      closed.push({ gc: gcMetric, gcAtClose: await gcCount(gcMetric), lag, lagMax: max });
    }
    // Nothing the applications opened is left: not a timer, not a socket, not a server. Only what is
    // left beyond `before` counts: handles an earlier spec file left in this process (a child and its
    // sockets) may end meanwhile (Node 24, in the whole suite).
    // A closed handle leaves the list once libuv has run its close callback: a few loop turns.
    const added = (): string[] => {
      const rest = [...before];
      return resources().filter((r) => {
        const at = rest.indexOf(r);
        if (at === -1) return true;
        rest.splice(at, 1);
        return false;
      });
    };
    for (let turn = 0; turn < 100 && added().length > 0; turn++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(added()).toEqual([]);

    // A live application is the control: once its GC observer and its monitor have seen work, a
    // closed application's would have seen it too, were they still running.
    const { app } = await startApp('express', { imports: [VezaMetricsModule.forRoot()] });
    try {
      const live = app.get(VezaMetricsRegistry).registry as Registry;
      for (const c of closed) await lagMax(c.lag, c.lagMax);
      const seen = await gcCount(live);
      while ((await gcCount(live)) === seen) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const liveLag = live.getSingleMetric('nodejs_eventloop_lag_seconds') as Metric;
      const liveMax = live.getSingleMetric('nodejs_eventloop_lag_max_seconds') as Metric;
      await lagMax(liveLag, liveMax);
      while ((await lagMax(liveLag, liveMax)) === 0) await new Promise((resolve) => setTimeout(resolve, 20));

      const observing = [];
      const monitoring = [];
      for (const [i, c] of closed.entries()) {
        if ((await gcCount(c.gc)) !== c.gcAtClose) observing.push(i);
        if ((await lagMax(c.lag, c.lagMax)) !== 0) monitoring.push(i);
      }
      expect({ observing, monitoring }).toEqual({ observing: [], monitoring: [] });
    } finally {
      await app.close();
    }
  }, 300_000);

  it('a registry the application brought gets live default metrics again in the next application', async () => {
    const shared = new Registry();
    for (let round = 0; round < 2; round++) {
      const { app, url } = await startApp('fastify', {
        imports: [VezaMetricsModule.forRoot({ registry: shared })],
      });
      expect(await scrape(url)).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
      await app.close();
      // Closed: the stopped monitor's metrics are taken out of the registry, not left stale in it.
      expect(shared.getSingleMetric('nodejs_eventloop_lag_p99_seconds')).toBeUndefined();
    }
  }, 60_000);
});
