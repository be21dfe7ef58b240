/**
 * What this library assumes of `@prometheus-io/client`'s internals (prom-client's successor;
 * checked against 0.16.1; each assumption has a contract test in
 * test/unit/compat-prometheus-io-client.spec.ts that names it and the installed version). It
 * implements the same interfaces as prom-client.ts: `ClientSeam` and `SeriesLayout`.
 *
 * B1. A counter, gauge, histogram or summary keeps its series in `metric.store`, a `LabelMap` with
 *     `entry(labels)` (the raw entry, `undefined` before the first write), `values()` (the live
 *     entries, in insertion order: what `get()` renders), `remove(labels)`, `clear()` and
 *     `keyFrom(labels)`; entries are `{ labels, value }` or `{ labels, bucketValues, sum, count }` as
 *     prom-client's (A5), buckets per bound, keyed by the bound.
 * B2. Every `LabelMap` operation keys a label set through `this.keyFrom(labels)`, so a `keyFrom` set
 *     on the store instance replaces the key for all of them. Its own key joins the values of the
 *     sorted names with `|`, a missing value as `''` (`{a:"x|",b:"y"}` and `{a:"x",b:"|y"}` share
 *     one series): an injective key is set on every store (and again after `reset()`).
 * B3. Only `store.remove()` and `store.clear()` delete an entry, and only `reset()` replaces
 *     `metric.store`; every other write changes the entry object in place (`zero()` replaces its
 *     `bucketValues`). So an entry is its series' while the store is the same and nothing was
 *     deleted from it since: a deletion count kept by wrapping the store's two deleting methods.
 * B4. `collectDefaultMetrics()` starts what prom-client's does (A1, A2) plus one `setInterval`
 *     feeding only `nodejs_eventloop_utilization_{histogram,summary}`, whose names break
 *     Prometheus' naming rules (promtool: "metric name should not include type"): both are left out
 *     of our default metrics and the interval stopped at once.
 * B5. A registry keeps its default labels in `_defaultLabels` and its metrics in `_metrics`, a Map;
 *     its class has a static `aggregate` (prom-client's has not).
 * B6. It needs Node 22: `getMetricsAsJSON('sum')` and the cluster classes' `shutdown()` use the
 *     iterator helpers (`Map#values().map`) that Node 20 lacks. Checked at start-up.
 *
 * Fallbacks (each logged once): B1/B3 as prom-client's A5/A6 (checked once per process on
 * throw-away metrics; otherwise the public API, exact); B2: when `keyFrom` cannot be set, the
 * series guard keys label sets with the client's own key and folds a second label set under a key
 * already taken into the overflow series, so no two ever share one; B4: when the call starts
 * something else, its metrics are shared by every application of the process (as A1/A2); B5: the
 * module's `defaultLabels` option.
 */
import type { ClientClasses, ClientSeam } from './client-seam';
import type { MetricsRegistry } from './client-types';
import { versionForMessages } from './installed-version';
import { loadOptionalPeer } from './optional-peers';
import { baseRegistryClass, hasRegistryMethods, startDefaultMetrics } from './prom-client';
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
import { successorNeedsNode22 } from '../veza-metrics.messages';

const NAME = '@prometheus-io/client';
/** What is used of the module (a type of our own: the emitted .d.ts must not need the successor's). */
type Module = ClientClasses & {
  readonly ClusterRegistry: unknown;
  collectDefaultMetrics(config: { register: MetricsRegistry; prefix: string }): void;
};

/** The successor's module shape: `ClusterRegistry`, and `aggregate` on `Registry`. */
const isModule = (module: unknown): module is Module =>
  typeof module === 'object' &&
  module !== null &&
  typeof (module as Module).ClusterRegistry === 'function' &&
  typeof (module as { Registry?: { aggregate?: unknown } }).Registry?.aggregate === 'function';

let loaded: Module | null | undefined;
/** The installed successor (also under an npm alias named prom-client), or `undefined`. */
export function loadPrometheusIo(): Module | undefined {
  if (loaded === undefined) {
    const own = loadOptionalPeer(NAME);
    const alias = isModule(own) ? own : loadOptionalPeer('prom-client');
    loaded = isModule(own) ? own : isModule(alias) ? alias : null;
  }
  return loaded ?? undefined;
}

/** B1: the store of a metric, when it has the successor's. */
interface Store {
  entry(labels: Labels): SeriesEntry | undefined;
  values(): IterableIterator<SeriesEntry>;
  remove(labels: Labels): void;
  clear(): void;
  keyFrom(labels?: Labels): string;
  [DELETIONS]?: number;
}
const DELETIONS = Symbol('vezaDeletions');
const storeOf = (metric: object): Store | undefined => {
  const store = (metric as { store?: Partial<Store> }).store;
  return store &&
    typeof store.entry === 'function' &&
    typeof store.values === 'function' &&
    typeof store.keyFrom === 'function'
    ? (store as Store)
    : undefined;
};

/** B3: counts deletions on `store`, once per store. */
function counted(store: Store): number {
  if (store[DELETIONS] === undefined) {
    store[DELETIONS] = 0;
    const remove = store.remove.bind(store);
    const clear = store.clear.bind(store);
    store.remove = (labels: Labels): void => {
      store[DELETIONS] = (store[DELETIONS] ?? 0) + 1;
      remove(labels);
    };
    store.clear = (): void => {
      store[DELETIONS] = (store[DELETIONS] ?? 0) + 1;
      clear();
    };
  }
  return store[DELETIONS];
}

class StoreCounterSlot implements CounterSlot {
  private readonly deletions: number;
  constructor(
    private readonly metric: { store: Store },
    private readonly store: Store,
    private readonly entry: SeriesEntry & { value: number },
  ) {
    this.deletions = counted(store);
  }

  add(delta: number): boolean {
    const store = this.metric.store;
    if (store !== this.store || store[DELETIONS] !== this.deletions) return false;
    this.entry.value += delta;
    return true;
  }
}

class StoreHistogramSlot implements HistogramSlot {
  private readonly deletions: number;
  /** The native part's filing, when the metric has one (read once: it is set when the metric is created). */
  private readonly native: NativeFiler | undefined;
  constructor(
    private readonly metric: { store: Store },
    private readonly store: Store,
    private readonly entry: SeriesEntry,
    private readonly buckets: BucketKeys,
  ) {
    this.deletions = counted(store);
    const config = nativeConfigOf(metric);
    this.native = config && new NativeFiler(config);
  }

  observe(value: number): boolean {
    const store = this.metric.store;
    if (store !== this.store || store[DELETIONS] !== this.deletions) return false;
    fileObservation(this.entry, this.buckets, value);
    if (this.native !== undefined) this.native.file(this.entry, this.buckets, value);
    return true;
  }
}

/**
 * An injective key (B2): each value with `\` and `|` escaped by a `\`, then `|`; a missing value is
 * `\0|`, which no escaped value can produce (there every `\` is followed by `\` or `|`).
 */
function injectiveKey(names: readonly string[], labels: Labels): string {
  let key = '';
  for (const name of names) {
    const value = labels[name];
    if (value === undefined) key += '\\0|';
    else {
      // The series guard hands strings; anything else as the client would print it.
      const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
      key += (/[\\|]/.test(text) ? text.replace(/[\\|]/g, (c) => `\\${c}`) : text) + '|';
    }
  }
  return key;
}
const INJECTIVE = Symbol('vezaInjectiveKeys');
const sortedNamesOf = (metric: object): readonly string[] =>
  [...((metric as { labelNames?: string[] }).labelNames ?? [])].sort();

/** Sets the injective key on the metric's store, now and after every `reset()`; false when B2 does not hold. */
function makeKeysInjective(metric: object): boolean {
  const m = metric as { store?: Store; reset?: () => void; [INJECTIVE]?: boolean };
  if (m[INJECTIVE]) return true;
  const names = sortedNamesOf(metric);
  const install = (): boolean => {
    const store = storeOf(metric);
    if (!store) return false;
    // As the client's own: no labels, one key (`''`).
    store.keyFrom = (labels: Labels = {}) =>
      Object.keys(labels).length === 0 ? '' : injectiveKey(names, labels);
    return true;
  };
  const store = storeOf(metric);
  if (!store || typeof m.reset !== 'function') return false;
  // Only before the first write: entries already keyed the client's way would not be found again.
  for (const entry of store.values()) if (Object.keys(entry.labels ?? {}).length > 0) return false;
  install();
  const reset = m.reset;
  m.reset = function injectiveReset(this: unknown): void {
    reset.call(this);
    install();
  };
  Object.defineProperty(m, INJECTIVE, { value: true });
  return true;
}

/** The client's own key (B2), for the guard when the injective one cannot be set. */
function clientKey(names: readonly string[], labels: Readonly<Record<string, string>>): string {
  if (Object.keys(labels).length === 0) return '';
  let key = '';
  for (const name of names) key += `${labels[name] ?? ''}|`;
  return key;
}

/** The successor's series storage (B1-B3). */
export const storeLayout: SeriesLayout = {
  client: NAME,
  holds: (metric) => storeOf(metric) !== undefined,
  counterSlot(metric, labels) {
    const store = storeOf(metric);
    const entry = store?.entry(labels);
    if (!store || !holdsExactly(entry, labels) || typeof entry.value !== 'number') return undefined;
    return new StoreCounterSlot(metric as { store: Store }, store, entry as SeriesEntry & { value: number });
  },
  histogramSlot(metric, labels) {
    const store = storeOf(metric);
    const entry = store?.entry(labels);
    const buckets =
      store && holdsExactly(entry, labels)
        ? bucketKeysOf((metric as { upperBounds?: unknown }).upperBounds, entry)
        : undefined;
    return (
      buckets &&
      store &&
      new StoreHistogramSlot(metric as { store: Store }, store, entry as SeriesEntry, buckets)
    );
  },
  entryOf: (metric, labels) => storeOf(metric)?.entry(labels),
  entries: (metric) => Array.from(storeOf(metric)?.values() ?? []),
  seriesKey(metric) {
    const names = sortedNamesOf(metric);
    if (makeKeysInjective(metric)) return { key: (labels) => injectiveKey(names, labels), injective: true };
    return { key: (labels) => clientKey(names, labels), injective: false };
  },
};

/** B4: the two default metrics left out, by name. */
export const ELU_METRICS = ['nodejs_eventloop_utilization_histogram', 'nodejs_eventloop_utilization_summary'];

/** The successor's seam. */
export const prometheusIoSeam: ClientSeam = {
  name: NAME,
  get version() {
    return versionForMessages(NAME);
  },
  classes: loadPrometheusIo,
  isModule,
  ownsRegistry(registry) {
    const client = loadPrometheusIo();
    if (client && registry instanceof client.Registry) return true;
    if (!hasRegistryMethods(registry)) return false;
    const base = baseRegistryClass(registry);
    return (
      base !== undefined &&
      typeof base.aggregate === 'function' &&
      (registry as { _metrics?: unknown })._metrics instanceof Map
    );
  },
  startDefaultMetrics: (registry, prefix) =>
    startDefaultMetrics(registry, prefix, (config) => loadPrometheusIo()?.collectDefaultMetrics(config), {
      name: NAME,
      intervals: 1,
      dropped: ELU_METRICS,
    }),
  nonConformingDefaults: [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
    ...ELU_METRICS,
  ],
  defaultLabelsOf: (registry) => (registry as { _defaultLabels?: Record<string, string> })._defaultLabels,
  unsupportedHere(nodeVersion) {
    // B6, checked by what it needs rather than by number alone.
    const helpers = typeof (new Map().values() as unknown as { map?: unknown }).map === 'function';
    return Number(nodeVersion.split('.')[0]) < 22 || !helpers
      ? successorNeedsNode22(nodeVersion, this.version)
      : undefined;
  },
};
