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
 */
import { Logger } from '@nestjs/common';
import type {
  AnyMetric,
  CounterMetric,
  GaugeMetric,
  HistogramMetric,
  MetricAggregator,
  MetricsRegistry,
  SummaryMetric,
} from './client-types';
import { clientNotLoadable, fastPathOff, noPrometheusClient } from '../veza-metrics.messages';
import { hashMapLayout, promClientSeam, type DefaultMetricsHandle } from './prom-client';
import { prometheusIoSeam, storeLayout } from './prometheus-io-client';
import type { SeriesLayout } from './series-storage';

export type ClientName = 'prom-client' | '@prometheus-io/client';

/** What a metric's constructor takes (the options both clients share). */
export interface MetricConfig {
  name: string;
  help: string;
  labelNames?: string[];
  registers?: MetricsRegistry[];
  buckets?: number[];
  enableExemplars?: boolean;
  aggregator?: MetricAggregator;
  collect?: (this: never) => void | Promise<void>;
}

/** The public classes of a client, as this library uses them. */
export interface ClientClasses {
  readonly Registry: { new (): MetricsRegistry; readonly PROMETHEUS_CONTENT_TYPE: string };
  readonly Counter: new (config: MetricConfig) => CounterMetric;
  readonly Gauge: new (config: MetricConfig) => GaugeMetric;
  readonly Histogram: new (config: MetricConfig) => HistogramMetric;
  readonly Summary: new (config: MetricConfig) => SummaryMetric;
  /** The client's global registry (`register`). */
  readonly register: MetricsRegistry;
}

/** One client's seam: the only code that knows its internals. */
export interface ClientSeam {
  readonly name: ClientName;
  /** The installed version (`(unknown version)` when unreadable), for messages. */
  readonly version: string;
  /** The loaded client, or `undefined` when it is not installed. */
  classes(): ClientClasses | undefined;
  /** Whether `module` (what loading a package name gave) is this client. */
  isModule(module: unknown): boolean;
  /** Whether `registry` is a Registry of this client (any copy of it). */
  ownsRegistry(registry: object): boolean;
  /** `collectDefaultMetrics` into `registry`, with what it starts caught so that `stop()` ends it. */
  startDefaultMetrics(registry: MetricsRegistry, prefix: string): DefaultMetricsHandle;
  /** Default metrics whose names break Prometheus' naming rules: left out of our default metrics. */
  readonly nonConformingDefaults: readonly string[];
  /** The default labels set on a registry of this client. */
  defaultLabelsOf(registry: MetricsRegistry): Readonly<Record<string, string>> | undefined;
  /** Why this client cannot run here (a sentence), or `undefined`. */
  unsupportedHere(nodeVersion: string): string | undefined;
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
  const identical =
    writes &&
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
