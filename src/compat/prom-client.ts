/**
 * What this library assumes of prom-client's internals (checked against 15.1.3; each assumption has
 * a contract test in test/unit/compat-prom-client.spec.ts that names it and the installed version).
 * The successor, `@prometheus-io/client`, has its own file (prometheus-io-client.ts); both implement
 * `ClientSeam` (metrics-client.ts) and `SeriesLayout` (series-storage.ts).
 *
 * A1. `collectDefaultMetrics()` starts its event-loop monitor by calling
 *     `require('perf_hooks').monitorEventLoopDelay()` during the call, and nothing else stops it.
 * A2. It starts its GC observer with `new (require('perf_hooks').PerformanceObserver)()` during the
 *     call, and nothing else disconnects it.
 * A3. Nothing else it starts outlives the call: every other default metric reads at collect time.
 * A4. A metric keys its series by `name:value,` for each label, names sorted, values as given
 *     (lib/util.js `hashObject(labels, sortedLabelNames)`): two label sets that key alike share one
 *     series, shown with the labels of the first.
 * A5. A counter, gauge or histogram keeps its series in `metric.hashMap`, a plain object, under the
 *     A4 key; an entry is `{ labels, value }` or `{ labels, bucketValues, sum, count }`, buckets per
 *     bound (not cumulative), keyed by the bound; `get()` renders exactly those entries.
 * A6. An entry stops being its series' own only by being replaced or deleted under its key
 *     (`gauge.set`, `histogram.zero`, `remove`), or by `reset()` replacing `hashMap`: an entry still
 *     under its key in the current `hashMap` is the series'.
 * A7. A registry keeps its default labels in `_defaultLabels`; its metrics in `_metrics`, a plain
 *     object; its class has no static `aggregate` (the successor's has: how the two are told apart).
 *
 * Fallbacks, so that a prom-client that breaks one stays exact where it matters (each logged once):
 * - A1/A2: when the first call does not catch exactly one monitor and one observer, what it started
 *   is kept running and shared: every later registry with the same prefix gets those same metric
 *   objects (their values are the process's, whoever reads them), so monitors stay at one per
 *   prefix for the life of the process instead of one per application.
 * - A4: the series guard keys label sets injectively on its own (see `seriesKey`), so its cap stays
 *   exact; only the detection of two label sets prom-client would merge is lost.
 * - A5/A6: `layoutOf` (metrics-client.ts) checks the layout once per process against the public API
 *   on throw-away metrics; when it differs, or a metric has no `hashMap`, every write goes through
 *   `inc`/`observe` and rendering through `get()`: slower, exact.
 * - A7: the module's own `defaultLabels` option; a registry of unknown shape is refused at start-up.
 */
import perfHooks from 'node:perf_hooks';
import type { ClientClasses, ClientSeam, DefaultMetricsHandle } from './client-seam';
import type { AnyMetric, MetricsRegistry } from './client-types';
import { versionForMessages } from './installed-version';
import { loadOptionalPeer } from './optional-peers';
import {
  bucketKeysOf,
  fileObservation,
  holdsExactly,
  type BucketKeys,
  type CounterSlot,
  type HistogramSlot,
  type Labels,
  type SeriesEntry,
  type SeriesLayout,
} from './series-storage';
import { NativeFiler } from '../native/native-filing';
import { nativeConfigOf } from '../native/native-histogram';

/** What a client's default metrics start: `intervals` timers (then stopped at once), feeding only the `dropped` metrics. */
export interface DefaultsOf {
  readonly name: string;
  readonly intervals: number;
  readonly dropped: readonly string[];
}

/** A client's `collectDefaultMetrics`. */
export type CollectDefaults = (config: { register: MetricsRegistry; prefix: string }) => void;

type Mutable = {
  monitorEventLoopDelay: typeof perfHooks.monitorEventLoopDelay;
  PerformanceObserver: typeof perfHooks.PerformanceObserver;
};

/**
 * `collectDefaultMetrics({ register, prefix })`, with the event-loop monitor and the GC observer it
 * starts caught on their way out, so that they can be stopped when the application closes
 * (prom-client has no public way to). The catch lasts the synchronous call only.
 */
export function startDefaultMetrics(
  register: MetricsRegistry,
  prefix: string,
  collect: CollectDefaults = (config) => loadPromClient()?.collectDefaultMetrics(config),
  client: DefaultsOf = { name: 'prom-client', intervals: 0, dropped: [] },
): DefaultMetricsHandle {
  const state = catchState(client.name);
  const reused = state.works === false ? state.shared.get(prefix) : undefined;
  if (reused) {
    for (const [name, metric] of reused) if (!register.getSingleMetric(name)) register.registerMetric(metric);
    return {
      names: [...reused.keys()],
      shared: true,
      started: { monitors: 0, observers: 0 },
      stop: () => undefined,
    };
  }
  const namesOf = (): string[] => (register.getMetricsAsArray() as { name: string }[]).map((m) => m.name);
  const before = new Set(namesOf());
  const { monitors, observers, intervals } = catchStarted(() => collect({ register, prefix }));
  const works = monitors.length === 1 && observers.length === 1 && intervals.length === client.intervals;
  if (works && client.dropped.length > 0) {
    // The successor's intervals feed only the metrics left out (B5): stopped at once, with them.
    for (const interval of intervals.splice(0)) clearInterval(interval);
    for (const name of client.dropped) register.removeSingleMetric(`${prefix}${name}`);
  }
  const names = namesOf().filter((n) => !before.has(n));
  if (state.works === undefined) state.works = works;
  // Bound: one entry per distinct `defaultMetrics.prefix` of the process's configuration.
  if (!state.works)
    state.shared.set(
      prefix,
      new Map(
        names.flatMap((n): [string, AnyMetric][] => {
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
      if (stopped || !state.works) return;
      stopped = true;
      for (const histogram of monitors) histogram.disable();
      for (const observer of observers) observer.disconnect();
      for (const interval of intervals) clearInterval(interval);
    },
  };
}

/** Per client (its `collectDefaultMetrics`): whether A1 and A2 held on the first call, and the metrics shared otherwise. */
interface CatchState {
  works: boolean | undefined;
  readonly shared: Map<string, Map<string, AnyMetric>>;
}
/** Bound: one entry per client. */
const catchStates = new Map<string, CatchState>();
function catchState(client: string): CatchState {
  let state = catchStates.get(client);
  if (!state) catchStates.set(client, (state = { works: undefined, shared: new Map() }));
  return state;
}

/**
 * Runs `start`, catching the event-loop monitors, performance observers (A1, A2) and intervals
 * (the successor's B5) it creates.
 */
export function catchStarted(start: () => void): {
  monitors: perfHooks.IntervalHistogram[];
  observers: perfHooks.PerformanceObserver[];
  intervals: NodeJS.Timeout[];
} {
  const perf = perfHooks as unknown as Mutable;
  const monitors: perfHooks.IntervalHistogram[] = [];
  const observers: perfHooks.PerformanceObserver[] = [];
  const intervals: NodeJS.Timeout[] = [];
  const monitor = perf.monitorEventLoopDelay;
  const Observer = perf.PerformanceObserver;
  const timers = globalThis as unknown as { setInterval: typeof setInterval };
  const interval = timers.setInterval;
  try {
    timers.setInterval = function caughtInterval(this: unknown, ...args: Parameters<typeof setInterval>) {
      const timer = interval(...args);
      intervals.push(timer);
      return timer;
    };
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
    timers.setInterval = interval;
  }
  return { monitors, observers, intervals };
}

/**
 * prom-client's key of the series of `labels` (A4): every name of `sortedLabelNames` present in
 * `labels`, as `name:value,`.
 */
export function promClientSeriesKey(
  sortedLabelNames: readonly string[],
  labels: Readonly<Record<string, string>>,
): string {
  let key = '';
  for (const name of sortedLabelNames) {
    const value = labels[name];
    if (value !== undefined) key += `${name}:${value},`;
  }
  return key;
}

/** The installed prom-client's version (`(unknown version)` when unreadable), for messages. */
export const promClientVersion = (): string => versionForMessages('prom-client');

/** What is used of the module (a type of our own: the emitted .d.ts must not need prom-client's). */
type PromClientModule = ClientClasses & {
  readonly AggregatorRegistry: unknown;
  collectDefaultMetrics(config: { register: MetricsRegistry; prefix: string }): void;
};

/** prom-client 15's module shape: `AggregatorRegistry`, and no `ClusterRegistry` (the successor's). */
const isPromClientModule = (module: unknown): module is PromClientModule =>
  typeof module === 'object' &&
  module !== null &&
  typeof (module as PromClientModule).Registry === 'function' &&
  typeof (module as PromClientModule).AggregatorRegistry === 'function' &&
  !('ClusterRegistry' in module);

let loaded: PromClientModule | null | undefined;
/** The installed prom-client, or `undefined`: loaded once, on first need. */
export function loadPromClient(): PromClientModule | undefined {
  if (loaded === undefined) {
    const module = loadOptionalPeer('prom-client');
    loaded = isPromClientModule(module) ? module : null;
  }
  return loaded ?? undefined;
}

/** The base class of a registry: the last constructor of its chain with `PROMETHEUS_CONTENT_TYPE` (A7). */
export function baseRegistryClass(registry: object): { aggregate?: unknown } | undefined {
  let base: { aggregate?: unknown } | undefined;
  for (
    let p = Object.getPrototypeOf(registry) as object | null;
    p && p !== Object.prototype;
    p = Object.getPrototypeOf(p) as object | null
  ) {
    const ctor = (p as { constructor?: { PROMETHEUS_CONTENT_TYPE?: unknown } }).constructor;
    if (typeof ctor?.PROMETHEUS_CONTENT_TYPE === 'string') base = ctor as { aggregate?: unknown };
  }
  return base;
}

const REGISTRY_METHODS = [
  'registerMetric',
  'getSingleMetric',
  'getMetricsAsArray',
  'metrics',
  'removeSingleMetric',
  'setDefaultLabels',
  'clear',
];
/** Whether `registry` has a Registry's public methods. */
export const hasRegistryMethods = (registry: object): boolean =>
  REGISTRY_METHODS.every((m) => typeof (registry as Record<string, unknown>)[m] === 'function');

/** A5: a metric with a plain-object `hashMap`. */
const hashMapOf = (metric: object): Record<string, SeriesEntry | undefined> | undefined => {
  const map = (metric as { hashMap?: unknown }).hashMap;
  return typeof map === 'object' && map !== null && !(map instanceof Map)
    ? (map as Record<string, SeriesEntry | undefined>)
    : undefined;
};
const sortedNamesOf = (metric: object): readonly string[] =>
  (metric as { sortedLabelNames?: readonly string[] }).sortedLabelNames ??
  [...((metric as { labelNames?: string[] }).labelNames ?? [])].sort();

/** A6: the entry is the series' while it is still under its key in the current map. */
class HashMapCounterSlot implements CounterSlot {
  constructor(
    private readonly metric: { hashMap: Record<string, SeriesEntry | undefined> },
    private readonly key: string,
    private readonly entry: SeriesEntry & { value: number },
  ) {}

  add(delta: number): boolean {
    if (this.metric.hashMap[this.key] !== this.entry) return false;
    this.entry.value += delta;
    return true;
  }
}

class HashMapHistogramSlot implements HistogramSlot {
  /** The native part's filing, when the metric has one (read once: it is set when the metric is created). */
  private readonly native: NativeFiler | undefined;
  constructor(
    private readonly metric: { hashMap: Record<string, SeriesEntry | undefined> },
    private readonly key: string,
    private readonly entry: SeriesEntry,
    private readonly buckets: BucketKeys,
  ) {
    const config = nativeConfigOf(metric);
    this.native = config && new NativeFiler(config);
  }

  observe(value: number): boolean {
    if (this.metric.hashMap[this.key] !== this.entry) return false;
    fileObservation(this.entry, this.buckets, value);
    if (this.native !== undefined) this.native.file(this.entry, this.buckets, value);
    return true;
  }
}

/** prom-client 15's series storage (A4-A6). */
export const hashMapLayout: SeriesLayout = {
  client: 'prom-client',
  holds: (metric) => hashMapOf(metric) !== undefined,
  counterSlot(metric, labels) {
    const key = promClientSeriesKey(sortedNamesOf(metric), labels as Record<string, string>);
    const entry = hashMapOf(metric)?.[key];
    if (!holdsExactly(entry, labels) || typeof entry.value !== 'number') return undefined;
    return new HashMapCounterSlot(metric as never, key, entry as SeriesEntry & { value: number });
  },
  histogramSlot(metric, labels) {
    const key = promClientSeriesKey(sortedNamesOf(metric), labels as Record<string, string>);
    const entry = hashMapOf(metric)?.[key];
    const buckets = holdsExactly(entry, labels)
      ? bucketKeysOf((metric as { upperBounds?: unknown }).upperBounds, entry)
      : undefined;
    return buckets && new HashMapHistogramSlot(metric as never, key, entry as SeriesEntry, buckets);
  },
  entryOf: (metric, labels) =>
    hashMapOf(metric)?.[promClientSeriesKey(sortedNamesOf(metric), labels as Record<string, string>)],
  entries: (metric) => Object.values(hashMapOf(metric) ?? {}) as SeriesEntry[],
  seriesKey(metric) {
    const names = sortedNamesOf(metric);
    return { key: (labels) => promClientSeriesKey(names, labels), injective: false };
  },
};

/** The prom-client seam. */
export const promClientSeam: ClientSeam = {
  name: 'prom-client',
  get version() {
    return promClientVersion();
  },
  classes: loadPromClient,
  isModule: isPromClientModule,
  ownsRegistry(registry) {
    const client = loadPromClient();
    if (client && registry instanceof client.Registry) return true;
    if (!hasRegistryMethods(registry)) return false;
    const base = baseRegistryClass(registry);
    const metrics = (registry as { _metrics?: unknown })._metrics;
    return (
      base !== undefined &&
      typeof base.aggregate !== 'function' &&
      typeof metrics === 'object' &&
      metrics !== null &&
      !(metrics instanceof Map)
    );
  },
  startDefaultMetrics: (registry, prefix) => startDefaultMetrics(registry, prefix),
  nonConformingDefaults: [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ],
  defaultLabelsOf: (registry) => (registry as { _defaultLabels?: Record<string, string> })._defaultLabels,
  unsupportedHere: () => undefined,
};

export type { DefaultMetricsHandle, Labels };
