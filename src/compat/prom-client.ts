/**
 * What this library assumes of prom-client's internals (checked against 15.1.3; each assumption has
 * a contract test in test/unit/compat-prom-client.spec.ts that names it and the installed version):
 *
 * A1. `collectDefaultMetrics()` starts its event-loop monitor by calling
 *     `require('perf_hooks').monitorEventLoopDelay()` during the call, and nothing else stops it.
 * A2. It starts its GC observer with `new (require('perf_hooks').PerformanceObserver)()` during the
 *     call, and nothing else disconnects it.
 * A3. Nothing else it starts outlives the call: every other default metric reads at collect time.
 * A4. A metric keys its series by `name:value,` for each label, names sorted, values as given
 *     (lib/util.js `hashObject(labels, sortedLabelNames)`): two label sets that key alike share one
 *     series, shown with the labels of the first.
 *
 * Fallbacks, so that a prom-client that breaks one stays exact where it matters:
 * - A1/A2: when the first call does not catch exactly one monitor and one observer, what it started
 *   is kept running and shared: every later registry with the same prefix gets those same metric
 *   objects (their values are the process's, whoever reads them), so monitors stay at one per
 *   prefix for the life of the process instead of one per application.
 * - A4: the series guard keys label sets injectively on its own (see `seriesKey`), so its cap stays
 *   exact; only the detection of two label sets prom-client would merge is lost.
 */
import { readFileSync } from 'node:fs';
import perfHooks from 'node:perf_hooks';
import { collectDefaultMetrics, type Metric, type Registry } from 'prom-client';

/** Stops what `startDefaultMetrics` started. */
export interface DefaultMetricsHandle {
  /** Names of the metrics it registered (to take them out of a registry the application brought). */
  readonly names: readonly string[];
  /** Disables the event-loop monitor and disconnects the GC observer; safe to call twice. */
  stop(): void;
  /** True when the metrics are those a first registry started (the A1/A2 fallback): nothing to stop. */
  readonly shared: boolean;
  /** How many monitors and observers were seen started (1 and 1 while A1 and A2 hold). */
  readonly started: { readonly monitors: number; readonly observers: number };
}

type Mutable = { monitorEventLoopDelay: typeof perfHooks.monitorEventLoopDelay; PerformanceObserver: typeof perfHooks.PerformanceObserver };

/**
 * `collectDefaultMetrics({ register, prefix })`, with the event-loop monitor and the GC observer it
 * starts caught on their way out, so that they can be stopped when the application closes
 * (prom-client has no public way to). The catch lasts the synchronous call only.
 */
export function startDefaultMetrics(register: Registry, prefix: string): DefaultMetricsHandle {
  const reused = catchWorks === false ? shared.get(prefix) : undefined;
  if (reused) {
    for (const [name, metric] of reused) if (!register.getSingleMetric(name)) register.registerMetric(metric);
    return { names: [...reused.keys()], shared: true, started: { monitors: 0, observers: 0 }, stop: () => undefined };
  }
  const before = new Set(register.getMetricsAsArray().map((m) => m.name));
  const { monitors, observers } = catchStarted(() => collectDefaultMetrics({ register, prefix }));
  const names = register
    .getMetricsAsArray()
    .map((m) => m.name)
    .filter((n) => !before.has(n));
  if (catchWorks === undefined) catchWorks = monitors.length === 1 && observers.length === 1;
  // Bound: one entry per distinct `defaultMetrics.prefix` of the process's configuration.
  if (!catchWorks)
    shared.set(
      prefix,
      new Map(
        names.flatMap((n): [string, Metric][] => {
          const metric = register.getSingleMetric(n);
          return metric ? [[n, metric]] : [];
        }),
      ),
    );
  let stopped = false;
  return {
    names,
    shared: false,
    started: { monitors: monitors.length, observers: observers.length },
    stop() {
      if (stopped || !catchWorks) return;
      stopped = true;
      for (const histogram of monitors) histogram.disable();
      for (const observer of observers) observer.disconnect();
    },
  };
}

/** Whether A1 and A2 held on the first call (`undefined` before it). */
let catchWorks: boolean | undefined;
const shared = new Map<string, Map<string, Metric>>();

/** Runs `start`, catching the event-loop monitors and performance observers it creates (A1, A2). */
export function catchStarted(start: () => void): { monitors: perfHooks.IntervalHistogram[]; observers: perfHooks.PerformanceObserver[] } {
  const perf = perfHooks as unknown as Mutable;
  const monitors: perfHooks.IntervalHistogram[] = [];
  const observers: perfHooks.PerformanceObserver[] = [];
  const monitor = perf.monitorEventLoopDelay;
  const Observer = perf.PerformanceObserver;
  try {
    perf.monitorEventLoopDelay = function caughtMonitor(options?: perfHooks.EventLoopMonitorOptions) {
      const histogram = monitor(options);
      monitors.push(histogram);
      return histogram;
    };
    perf.PerformanceObserver = class CaughtObserver extends Observer {
      constructor(callback: perfHooks.PerformanceObserverCallback) {
        super(callback);
        observers.push(this);
      }
    };
    start();
  } finally {
    // A read-only perf_hooks (another runtime) leaves nothing caught: the A1/A2 fallback applies.
    if (perf.monitorEventLoopDelay !== monitor) perf.monitorEventLoopDelay = monitor;
    if (perf.PerformanceObserver !== Observer) perf.PerformanceObserver = Observer;
  }
  return { monitors, observers };
}

/**
 * prom-client's key of the series of `labels` (A4): every name of `sortedLabelNames` present in
 * `labels`, as `name:value,`.
 */
export function promClientSeriesKey(sortedLabelNames: readonly string[], labels: Readonly<Record<string, string>>): string {
  let key = '';
  for (const name of sortedLabelNames) {
    const value = labels[name];
    if (value !== undefined) key += `${name}:${value},`;
  }
  return key;
}

/** The installed prom-client's version, for messages about its internals. */
export function promClientVersion(): string {
  try {
    return (JSON.parse(readFileSync(require.resolve('prom-client/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '(unknown version)';
  }
}
