/**
 * Which Prometheus client this library works with, and the one typed interface (`ClientSeam`) that
 * both clients' seams implement: `src/compat/prom-client.ts` (prom-client 15) and
 * `src/compat/prometheus-io-client.ts` (`@prometheus-io/client` 0.16, its successor). Every read of
 * a client's internals is in one of those two files, listed at its top with a contract test; the
 * rest of `src/` goes through this file and the structural types of `client-types.ts`.
 *
 * The rule, when several are installed (docs/internals.md, README "Compatibility"):
 * 1. the `registry` option given: that Registry's client (told by shape, not `instanceof`, so that a
 *    second copy of a package is recognised);
 * 2. else prom-client when it is installed (`@willsoto/nestjs-prometheus` requires it, so an app that
 *    chose the successor and uses willsoto has both, and its willsoto metrics are prom-client's);
 * 3. else `@prometheus-io/client`;
 * 4. neither: the start-up fails naming both. The successor on Node < 22: the start-up fails saying why.
 * Whatever the choice, the global registry of every installed client reaches `/metrics`.
 *
 * A client is loaded by name when first needed, and identified by the shape of what loads (an npm
 * alias `"prom-client": "npm:@prometheus-io/client"` is the successor).
 *
 * What this file assumes of both clients' metric objects (neither documents these fields; contract
 * test: test/unit/compat-metrics-client.spec.ts, run on both clients, which names the assumption and
 * the installed version; verified on prom-client 15.1.3 and @prometheus-io/client 0.16.1):
 *
 * C1. A metric keeps what it was created with in own fields: `name`, `help`, `type` (`'counter'`,
 *     `'gauge'`, `'histogram'`, `'summary'`), `labelNames` (as given), a histogram's bounds in
 *     `upperBounds` (as given, without `+Inf`), a summary's in `percentiles`, and `enableExemplars`.
 *     Why: tell a clash of definitions in a shared registry, render and aggregate without `get()`.
 *     Fallback: a field missing reads as unknown (`type` `'unknown'`, `help` `''`, no labels, no
 *     bounds): the metric clashes with the catalog's (start-up says so), and is rendered and
 *     aggregated through `get()` (exact).
 * C2. Its recording methods (`inc`, `dec`, `set`, `setToCurrentTime`, `observe`, `zero`, `labels`,
 *     `remove`, `startTimer`, `reset`) are read off the metric object at each call: the children
 *     `labels()` returns bind the metric's `inc`/`dec`/`set`/`observe`/`setToCurrentTime` when
 *     `labels()` runs, and a timer's end calls the metric's `observe` (or `set`). So an own property
 *     set on the metric replaces a method for every caller. One exception, in both clients: a
 *     histogram's (and a summary's) child `observe` records without the metric's `observe` (it
 *     threw a `TypeError` for `NaN` past the guard): {@link routeChild} sends it through the metric's.
 *     Why: the series guard (cap, sanitised values, nothing thrown) applies to every path that
 *     records, code that injected a metric too. Fallback: none at run time (the guard cannot be
 *     bypassed silently: C2's contract test fails first, on both clients).
 */
import { Logger } from '@nestjs/common';
import type { AnyMetric, MetricsRegistry } from './client-types';
import type { ClientClasses, ClientSeam } from './client-seam';
import { clientNotLoadable, fastPathOff, noPrometheusClient } from '../veza-metrics.messages';
import { hashMapLayout, promClientSeam } from './prom-client';
import { prometheusIoSeam, storeLayout } from './prometheus-io-client';
import type { SeriesLayout } from './series-storage';

export type { ClientClasses, ClientName, ClientSeam, MetricConfig } from './client-seam';

/** What a metric says of itself (C1): read off its own fields, never copied. */
export interface MetricFields {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** A histogram's bounds (without `+Inf`). */
  readonly buckets?: readonly number[];
  /** A summary's quantiles (its `percentiles`). */
  readonly quantiles?: readonly number[];
  /** Whether it was created with exemplars on (its methods then take `{ labels, value, exemplarLabels }`). */
  readonly exemplars: boolean;
}

interface OwnFields {
  name?: unknown;
  type?: unknown;
  help?: unknown;
  labelNames?: unknown;
  upperBounds?: unknown;
  percentiles?: unknown;
  enableExemplars?: unknown;
}
const numbers = (value: unknown): readonly number[] | undefined =>
  Array.isArray(value) ? (value as number[]) : undefined;

/** The fields of a metric of either client (C1), `'unknown'` / empty where one is missing. */
export function metricFields(metric: object): MetricFields {
  const m = metric as OwnFields;
  const buckets = numbers(m.upperBounds);
  const quantiles = numbers(m.percentiles);
  return {
    name: typeof m.name === 'string' ? m.name : '',
    type: typeof m.type === 'string' ? m.type : 'unknown',
    help: typeof m.help === 'string' ? m.help : '',
    labelNames: Array.isArray(m.labelNames) ? (m.labelNames as string[]) : [],
    ...(buckets ? { buckets } : {}),
    ...(quantiles ? { quantiles } : {}),
    exemplars: exemplarsOn(metric),
  };
}

/** Whether a metric was created with exemplars on (C1): its methods then take `{ labels, value, exemplarLabels }`. */
export const exemplarsOn = (metric: object): boolean => (metric as OwnFields).enableExemplars === true;

/** A histogram's bounds (C1), the very array the metric keeps (never written here), or `undefined`. */
export const bucketsOf = (metric: object): readonly number[] | undefined =>
  numbers((metric as OwnFields).upperBounds);

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

/** What the series guard puts in place of a metric's recording methods (C2), one function per role. */
export interface RecordingWrappers {
  /** `inc`, `dec`, `set`, `observe`: `(labels?, value?)`, or `({ labels, value, exemplarLabels })`. */
  valued(original: AnyFn, allowNegative: boolean): AnyFn;
  /** `setToCurrentTime`, `zero` (`'record'`), `labels` (`'child'`), `remove` (`'release'`): labels only. */
  labelled(original: AnyFn, role: 'record' | 'child' | 'release'): AnyFn;
  /** `startTimer(labels?)`; `record` is the (already replaced) method its end records through. */
  startTimer(record: AnyFn): AnyFn;
  /** `reset()`. */
  reset(original: AnyFn): AnyFn;
}

/** The value-taking methods of each type, with whether they take a negative value. */
const VALUED: Readonly<Record<string, ReadonlyArray<readonly [string, boolean]>>> = {
  counter: [['inc', false]],
  gauge: [
    ['inc', true],
    ['dec', true],
    ['set', true],
  ],
  histogram: [['observe', true]],
  summary: [['observe', true]],
};
const LABELLED: Readonly<Record<string, readonly string[]>> = {
  gauge: ['setToCurrentTime'],
  histogram: ['zero'],
  summary: ['zero'],
};

/**
 * Replaces the recording methods of `metric` (either client) with what `wrappers` makes of each
 * (C2), as own properties: every caller, children of `labels()` and timers included, then records
 * through them. A method the metric does not have is left out.
 */
export function replaceRecordingMethods(metric: object, wrappers: RecordingWrappers): void {
  const m = metric as Record<string, unknown>;
  const type = metricFields(metric).type;
  const replace = (name: string, make: (original: AnyFn) => AnyFn): void => {
    const original = m[name];
    if (typeof original === 'function') m[name] = make(original as AnyFn);
  };
  for (const [name, allowNegative] of VALUED[type] ?? VALUED.histogram)
    replace(name, (original) => wrappers.valued(original, allowNegative));
  for (const name of LABELLED[type] ?? LABELLED.histogram)
    replace(name, (original) => wrappers.labelled(original, 'record'));
  replace('labels', (original) => wrappers.labelled(original, 'child'));
  replace('remove', (original) => wrappers.labelled(original, 'release'));
  const record = m[type === 'gauge' ? 'set' : 'observe'];
  if (typeof record === 'function') replace('startTimer', () => wrappers.startTimer(record as AnyFn));
  replace('reset', (original) => wrappers.reset(original));
}

/** The methods of a child that do not go through the metric's own (C2's exception). */
const UNROUTED_CHILD_METHODS = ['observe'] as const;

/**
 * Makes a child `labels()` returned record through the metric's own methods (C2's exception: a
 * histogram child's `observe`), with `labels`, the very object the child was made for. Returns it.
 */
export function routeChild<T>(metric: object, child: T, labels: object): T {
  if (typeof child !== 'object' || child === null) return child;
  const m = metric as Record<string, unknown>;
  const c = child as Record<string, unknown>;
  for (const name of UNROUTED_CHILD_METHODS) {
    if (typeof c[name] !== 'function' || typeof m[name] !== 'function') continue;
    c[name] = (value?: unknown): unknown => (m[name] as AnyFn).call(metric, labels, value);
  }
  return child;
}

/** The client of an application: its seam and classes. */
export interface MetricsClient extends ClientClasses {
  readonly seam: ClientSeam;
}

/** In the order of the rule: prom-client first. */
const seams: readonly ClientSeam[] = [promClientSeam, prometheusIoSeam];
const layouts: readonly { layout: SeriesLayout; seam: ClientSeam }[] = [
  { layout: hashMapLayout, seam: promClientSeam },
  { layout: storeLayout, seam: prometheusIoSeam },
];

const clientOf = (seam: ClientSeam): MetricsClient | undefined => {
  const classes = seam.classes();
  return classes && { ...classes, seam };
};

/** The seam of the client a registry belongs to, or `undefined` for anything else. */
export function seamOfRegistry(registry: unknown): ClientSeam | undefined {
  if (registry === null || typeof registry !== 'object') return undefined;
  return seams.find((seam) => seam.ownsRegistry(registry));
}

/**
 * The client an application works with (see the rule above). Throws one sentence when the registry
 * is no client's, when no client is installed, or when the chosen client cannot run on this Node.
 */
export function selectClient(registry?: unknown, nodeVersion: string = process.versions.node): MetricsClient {
  let client: MetricsClient | undefined;
  if (registry !== undefined) {
    const seam = seamOfRegistry(registry);
    if (!seam) throw new TypeError('not a Registry of prom-client or @prometheus-io/client');
    client = clientOf(seam);
    if (!client) throw new Error(clientNotLoadable(seam.name));
  } else {
    for (const seam of seams) if ((client = clientOf(seam))) break;
    if (!client) throw new Error(noPrometheusClient());
  }
  const why = client.seam.unsupportedHere(nodeVersion);
  if (why) throw new Error(why);
  return client;
}

/** {@link selectClient} with the default rule, once per process (the cluster primary, testing helpers). */
export function defaultClient(): MetricsClient {
  return selectClient();
}

/** The global registries of every installed client, the chosen one's first. */
export function globalRegistries(first?: MetricsClient): MetricsRegistry[] {
  const out: MetricsRegistry[] = first ? [first.register] : [];
  for (const seam of seams) {
    const register = seam.classes()?.register;
    if (register && !out.includes(register)) out.push(register);
  }
  return out;
}

/** Whether `registry` is the global registry of an installed client. */
export const isGlobalRegistry = (registry: MetricsRegistry): boolean => globalRegistries().includes(registry);

/** The metrics of a registry, read as metrics. */
export const metricsOf = (registry: MetricsRegistry): AnyMetric[] =>
  registry.getMetricsAsArray() as AnyMetric[];

const logger = new Logger('VezaMetrics');
/** Fallbacks already logged: one per layout and one for metrics of no known layout. */
const logged = new Set<string>();
function logOnce(key: string, message: () => string): void {
  if (logged.has(key)) return;
  logged.add(key);
  logger.warn(message());
}
const versions = (): string =>
  seams.map((seam) => `${seam.name} ${seam.classes() ? seam.version : 'not installed'}`).join(', ');

/** Per layout: whether it passed its check on this process's client (`undefined` before the first use). */
const verified = new Map<SeriesLayout, boolean>();

/**
 * How `metric` keeps its series, for writing and rendering in place; `undefined` when it is no
 * known layout, or when its layout failed the once-per-process check against the public API
 * (both logged once): the caller then goes through the public API, exactly.
 */
export function layoutOf(metric: object): SeriesLayout | undefined {
  for (const { layout, seam } of layouts) {
    if (!layout.holds(metric)) continue;
    let ok = verified.get(layout);
    if (ok === undefined) {
      const classes = seam.classes();
      try {
        ok = classes ? selfCheck(classes, layout) : true;
      } catch {
        ok = false;
      }
      verified.set(layout, ok);
    }
    if (!ok)
      logOnce(layout.client, () =>
        fastPathOff(
          `${seam.name} ${seam.version} keeps series otherwise than src/compat/ expects`,
          versions(),
        ),
      );
    return ok ? layout : undefined;
  }
  const type = (metric as { type?: unknown }).type;
  if (type === 'counter' || type === 'gauge' || type === 'histogram')
    logOnce('unknown', () =>
      fastPathOff(
        `metric "${String((metric as { name?: unknown }).name)}" keeps its series in neither prom-client's hashMap nor the successor's store`,
        versions(),
      ),
    );
  return undefined;
}

/**
 * The same operations through the public API and through the layout's slots, on throw-away
 * metrics, must leave identical series (and a removed series must stop its slot).
 */
function selfCheck(classes: ClientClasses, layout: SeriesLayout): boolean {
  const labelNames = ['b', 'a'];
  const labels = { a: 'x', b: 'y' };
  const pair = <M extends AnyMetric>(make: () => M): [M, M] => [make(), make()];
  const [c1, c2] = pair(() => new classes.Counter({ name: 'c', help: 'c', labelNames, registers: [] }));
  const [g1, g2] = pair(() => new classes.Gauge({ name: 'g', help: 'g', labelNames, registers: [] }));
  const [h1, h2] = pair(
    () => new classes.Histogram({ name: 'h', help: 'h', labelNames, buckets: [0.5, 1, 1024], registers: [] }),
  );
  const [u1, u2] = pair(() => new classes.Histogram({ name: 'u', help: 'u', buckets: [1], registers: [] }));
  c1.inc(labels, 1);
  c2.inc(labels, 1);
  g1.inc(labels, 1);
  g2.inc(labels, 1);
  h1.observe(labels, 0);
  h2.observe(labels, 0);
  u1.observe(0);
  u2.observe(0);
  const slots = [layout.counterSlot(c2, labels), layout.counterSlot(g2, labels)];
  const histograms = [layout.histogramSlot(h2, labels), layout.histogramSlot(u2, {})];
  if (slots.some((s) => s === undefined) || histograms.some((s) => s === undefined)) return false;
  let writes = true;
  for (let i = 0; i < 2; i++) {
    c1.inc(labels, 1);
    g1.inc(labels, 1);
    writes &&= slots[0]!.add(1) && slots[1]!.add(1);
  }
  g1.dec(labels, 1);
  writes &&= slots[1]!.add(-1);
  for (const v of [0.1, 0.5, 0.7, 1, 5, 2048]) {
    h1.observe(labels, v);
    u1.observe(v);
    writes &&= histograms[0]!.observe(v) && histograms[1]!.observe(v);
  }
  const same = (a: AnyMetric, b: AnyMetric): boolean =>
    JSON.stringify(layout.entries(a)) === JSON.stringify(layout.entries(b));
  // The guard files a histogram's native part into the entry `entryOf` finds.
  const found =
    layout.entryOf(h2, labels) === layout.entries(h2)[0] && layout.entryOf(u2, {}) === layout.entries(u2)[0];
  const identical =
    writes &&
    found &&
    same(c1, c2) &&
    same(g1, g2) &&
    same(h1, h2) &&
    same(u1, u2) &&
    layout.entries(c2)[0]?.value === 3;
  // A removed series and a reset metric stop their slots (A6, B3).
  c2.remove(labels);
  const removedStops = !slots[0]!.add(1);
  u2.reset();
  const resetStops = !histograms[1]!.observe(1);
  return identical && removedStops && resetStops;
}
